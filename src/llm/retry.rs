//! When to try again: which failures are retried, how long to wait (Retry-After in its three
//! forms, else exponential backoff with full jitter).

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::HeaderMap;

/// Backoff base: the first retry waits up to this long.
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Backoff cap.
pub const BACKOFF_CAP: Duration = Duration::from_secs(8);
/// The longest single wait a server may ask for: asked for more, the section fails at once
/// with the wait named, instead of sitting silent.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The most one section waits between its attempts in all.
pub const MAX_TOTAL_WAIT: Duration = Duration::from_secs(180);

/// Full-jitter exponential backoff before attempt `next` (2 for the first retry): a random wait
/// in `[0, min(cap, base * 2^(next - 2))]`.
pub fn backoff(next: u32) -> Duration {
    let ceiling = backoff_ceiling(next);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=millis))
}

/// The upper bound of [`backoff`] before attempt `next`.
pub fn backoff_ceiling(next: u32) -> Duration {
    let exp = next.saturating_sub(2).min(16);
    BACKOFF_BASE.saturating_mul(1 << exp).min(BACKOFF_CAP)
}

/// The wait a response asks for: `retry-after-ms` (milliseconds), else `Retry-After` as seconds
/// or as an HTTP date (relative to `now`). A date in the past asks for nothing (the normal
/// backoff applies). Not capped: the caller decides whether to wait that long.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    let wait = if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        duration_secs(ms / 1000.0)?
    } else {
        let v = text("retry-after")?;
        match v.parse::<f64>() {
            Ok(secs) => duration_secs(secs)?,
            Err(_) => httpdate::parse_http_date(v)
                .ok()?
                .duration_since(now)
                .ok()?,
        }
    };
    Some(wait)
}

fn duration_secs(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e6)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_in_all_three_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "1500")]), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "3")]), now),
            Some(Duration::from_secs(3))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(7))
        );
        // ms wins over seconds; a date in the past or garbage asks for nothing.
        assert_eq!(
            retry_after(
                &headers(&[("retry-after-ms", "20"), ("retry-after", "9")]),
                now
            ),
            Some(Duration::from_millis(20))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(retry_after(&headers(&[("retry-after", &past)]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-1")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "99999")]), now),
            Some(Duration::from_secs(99999))
        );
    }

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_capped_ceiling() {
        assert_eq!(backoff_ceiling(2), Duration::from_millis(500));
        assert_eq!(backoff_ceiling(3), Duration::from_secs(1));
        assert_eq!(backoff_ceiling(5), Duration::from_secs(4));
        assert_eq!(backoff_ceiling(6), BACKOFF_CAP);
        assert_eq!(backoff_ceiling(60), BACKOFF_CAP);
        let waits: Vec<Duration> = (0..200).map(|_| backoff(4)).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(2)));
        assert!(
            waits.iter().any(|w| *w < Duration::from_millis(500)),
            "jitter reaches low"
        );
        assert!(
            waits.iter().any(|w| *w > Duration::from_millis(1500)),
            "and high"
        );
    }
}
