//! What each casting method's odds predict: the chance of each line value, and from them, by
//! going through all 4,096 casts, the chance of each hexagram as primary and as resulting, and
//! of each number of changing lines. Coins give 6, 7, 8, 9 with 1/8, 3/8, 3/8, 1/8; yarrow
//! stalks with 1/16, 5/16, 7/16, 3/16 (the same for the primary hexagram, but yarrow changes
//! old yang lines more often than old yin ones, so its resulting hexagrams lean to yin).

use super::{Cast, LineValue, Method, Reading};

/// P(6), P(7), P(8), P(9) for a random `method`; `None` for a manual cast.
pub fn line_odds(method: Method) -> Option<[f64; 4]> {
    match method {
        Method::Coins => Some([1.0 / 8.0, 3.0 / 8.0, 3.0 / 8.0, 1.0 / 8.0]),
        Method::Yarrow => Some([1.0 / 16.0, 5.0 / 16.0, 7.0 / 16.0, 3.0 / 16.0]),
        Method::Manual => None,
    }
}

/// The chances of one method's casts.
#[derive(Debug, Clone)]
pub struct Odds {
    /// P(primary = n), index n - 1.
    pub primary: [f64; 64],
    /// P(resulting = n and some line changes), index n - 1.
    pub resulting: [f64; 64],
    /// P(k lines change), k = 0..=6.
    pub changing: [f64; 7],
}

/// The chances of `method`'s casts (`None` for a manual cast, which has no odds).
#[allow(
    clippy::expect_used,
    reason = "6 to 9 are line values: a constant the type cannot express"
)]
pub fn odds(method: Method) -> Option<Odds> {
    let p = line_odds(method)?;
    let mut out = Odds {
        primary: [0.0; 64],
        resulting: [0.0; 64],
        changing: [0.0; 7],
    };
    for combo in 0..4096_u32 {
        let mut values = [LineValue::new(7).expect("7 is a line value"); 6];
        let mut chance = 1.0;
        let mut changing = 0;
        for (i, v) in values.iter_mut().enumerate() {
            let digit = (combo >> (2 * i)) & 3;
            chance *= p[digit as usize];
            let value = 6 + u8::try_from(digit).unwrap_or(0);
            changing += usize::from(value == 6 || value == 9);
            *v = LineValue::new(value).expect("6 to 9 are line values");
        }
        let reading = Reading::new(Cast::manual(values));
        out.primary[usize::from(reading.primary.number - 1)] += chance;
        if let Some(r) = reading.resulting {
            out.resulting[usize::from(r.number - 1)] += chance;
        }
        out.changing[changing] += chance;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_odds_add_up_and_match_the_casts_the_app_makes() {
        for method in [Method::Coins, Method::Yarrow] {
            let o = odds(method).unwrap();
            let sum = |xs: &[f64]| xs.iter().sum::<f64>();
            assert!((sum(&o.primary) - 1.0).abs() < 1e-9);
            assert!((sum(&o.changing) - 1.0).abs() < 1e-9);
            // Resulting exists exactly when a line changes.
            assert!((sum(&o.resulting) - (1.0 - o.changing[0])).abs() < 1e-9);
            // Both methods give every primary hexagram 1/64.
            assert!(o.primary.iter().all(|&x| (x - 1.0 / 64.0).abs() < 1e-12));
            // Lines change with p = 1/4 either way: none change in (3/4)^6 of casts.
            assert!((o.changing[0] - 0.75f64.powi(6)).abs() < 1e-12);
            // The casts the app makes follow the stated line odds (20,000 seeded casts).
            let mut seen = [0u32; 4];
            for seed in 0..20_000 {
                for line in Cast::random(method, seed).unwrap().lines {
                    seen[usize::from(line.get() - 6)] += 1;
                }
            }
            let p = line_odds(method).unwrap();
            for (k, &n) in seen.iter().enumerate() {
                let freq = f64::from(n) / 120_000.0;
                assert!(
                    (freq - p[k]).abs() < 0.01,
                    "{method:?} {k}: {freq} vs {}",
                    p[k]
                );
            }
        }
        // Yarrow's resulting hexagrams lean to yin: 2 (all yin) beats 1 (all yang).
        let y = odds(Method::Yarrow).unwrap();
        assert!(y.resulting[1] > y.resulting[0] * 5.0);
        let c = odds(Method::Coins).unwrap();
        assert!((c.resulting[1] - c.resulting[0]).abs() < 1e-12);
        assert!(odds(Method::Manual).is_none());
    }
}
