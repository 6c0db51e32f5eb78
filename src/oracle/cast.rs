//! Casting: three coins, yarrow stalks, or six values entered from a physical cast.
//!
//! Casting is pure: the randomness comes from a seeded ChaCha8 generator, so the same seed and
//! method always give the same six lines (and the same coins or stalk counts behind them).

use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::OracleError;

/// How a cast was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Three coins per line: P(6, 7, 8, 9) = 1/8, 3/8, 3/8, 1/8.
    Coins,
    /// Yarrow stalks: P(6, 7, 8, 9) = 1/16, 5/16, 7/16, 3/16.
    Yarrow,
    /// Six values from a physical cast.
    Manual,
}

impl Method {
    /// The lowercase name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Coins => "coins",
            Method::Yarrow => "yarrow",
            Method::Manual => "manual",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = OracleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "coins" | "coin" => Ok(Method::Coins),
            "yarrow" | "stalks" => Ok(Method::Yarrow),
            "manual" => Ok(Method::Manual),
            _ => Err(OracleError::UnknownMethod(s.to_owned())),
        }
    }
}

/// The value of one line: 6 old yin (changing), 7 young yang, 8 young yin, 9 old yang (changing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct LineValue(u8);

impl LineValue {
    /// 7, young yang: an unchanging yang line.
    pub const YOUNG_YANG: LineValue = LineValue(7);

    /// A line value, if `v` is 6, 7, 8 or 9.
    pub fn new(v: u8) -> Option<Self> {
        (6..=9).contains(&v).then_some(Self(v))
    }
    /// The number 6..=9.
    pub fn get(self) -> u8 {
        self.0
    }
    /// 7 and 9 are yang.
    pub fn is_yang(self) -> bool {
        self.0 % 2 == 1
    }
    /// 6 and 9 change.
    pub fn is_changing(self) -> bool {
        self.0 == 6 || self.0 == 9
    }
    /// Yang after the change: 6 turns yang, 9 turns yin.
    pub fn becomes_yang(self) -> bool {
        self.is_yang() != self.is_changing()
    }
    /// "old yin", "young yang", ...
    pub fn describe(self) -> &'static str {
        match self.0 {
            6 => "old yin",
            7 => "young yang",
            8 => "young yin",
            _ => "old yang",
        }
    }
}

impl TryFrom<u8> for LineValue {
    type Error = OracleError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Self::new(v).ok_or(OracleError::BadLineValue {
            position: 0,
            value: v.to_string(),
        })
    }
}

impl From<LineValue> for u8 {
    fn from(v: LineValue) -> u8 {
        v.0
    }
}

/// One face of a coin: heads count 3 (yang), tails 2 (yin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Coin {
    /// Counts 3.
    Heads,
    /// Counts 2.
    Tails,
}

/// What produced one line, so a front end can show the coins or the stalks behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum LineOrigin {
    /// The three coins thrown.
    Coins {
        /// The faces, in throwing order.
        coins: [Coin; 3],
    },
    /// The stalks set aside in the three changes of 49 stalks (5 or 9, then 4 or 8 twice).
    Yarrow {
        /// Stalks set aside at each change.
        set_aside: [u8; 3],
    },
    /// Entered by hand.
    Manual,
}

impl LineOrigin {
    /// A short description: "heads tails tails" or "49 - 5 - 4 - 8 = 32 stalks".
    pub fn describe(&self) -> String {
        match self {
            LineOrigin::Coins { coins } => coins
                .iter()
                .map(|c| match c {
                    Coin::Heads => "heads",
                    Coin::Tails => "tails",
                })
                .collect::<Vec<_>>()
                .join(" "),
            LineOrigin::Yarrow {
                set_aside: [a, b, c],
            } => {
                format!("49 - {a} - {b} - {c} = {} stalks", 49 - a - b - c)
            }
            LineOrigin::Manual => "entered".to_owned(),
        }
    }
}

/// A cast: its method, six lines bottom to top, what produced each, and the seed when one was used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cast {
    /// How it was cast.
    pub method: Method,
    /// Line 1 (bottom) first.
    pub lines: [LineValue; 6],
    /// The coins or stalks behind each line.
    pub origins: [LineOrigin; 6],
    /// The RNG seed, for coins and yarrow.
    pub seed: Option<u64>,
}

impl Cast {
    /// Casts six lines by `method` (coins or yarrow) from `seed`. Manual casts come from
    /// [`Cast::manual`].
    pub fn random(method: Method, seed: u64) -> Result<Self, OracleError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut lines = [LineValue(7); 6];
        let mut origins = [LineOrigin::Manual; 6];
        for (line, origin) in lines.iter_mut().zip(origins.iter_mut()) {
            (*line, *origin) = match method {
                Method::Coins => throw_coins(&mut rng),
                Method::Yarrow => divide_stalks(&mut rng),
                Method::Manual => return Err(OracleError::ManualNeedsLines),
            };
        }
        Ok(Self {
            method,
            lines,
            origins,
            seed: Some(seed),
        })
    }

    /// A cast from six values, line 1 (bottom) first.
    pub fn manual(lines: [LineValue; 6]) -> Self {
        Self {
            method: Method::Manual,
            lines,
            origins: [LineOrigin::Manual; 6],
            seed: None,
        }
    }

    /// Parses "9,8,7,7,6,8" (bottom to top; commas, spaces or nothing between values).
    pub fn parse_lines(text: &str) -> Result<[LineValue; 6], OracleError> {
        let parts: Vec<&str> = if text.contains([',', ' ']) {
            text.split([',', ' ']).filter(|p| !p.is_empty()).collect()
        } else {
            text.trim()
                .char_indices()
                .map(|(i, c)| &text.trim()[i..i + c.len_utf8()])
                .collect()
        };
        if parts.len() != 6 {
            // "9;8;7;7;6;8" is six values with the wrong separator, not eleven values.
            if let Some(c) = text.chars().find(|c| c.is_ascii_punctuation() && *c != ',') {
                return Err(OracleError::BadSeparator(c));
            }
            return Err(OracleError::WrongLineCount(parts.len()));
        }
        let mut lines = [LineValue(7); 6];
        for (i, part) in parts.iter().enumerate() {
            lines[i] = part
                .trim()
                .parse::<u8>()
                .ok()
                .and_then(LineValue::new)
                .ok_or_else(|| OracleError::BadLineValue {
                    position: i + 1,
                    value: (*part).to_owned(),
                })?;
        }
        Ok(lines)
    }
}

fn throw_coins(rng: &mut ChaCha8Rng) -> (LineValue, LineOrigin) {
    let coins: [Coin; 3] = std::array::from_fn(|_| {
        if rng.random_bool(0.5) {
            Coin::Heads
        } else {
            Coin::Tails
        }
    });
    let sum: u8 = coins
        .iter()
        .map(|c| match c {
            Coin::Heads => 3,
            Coin::Tails => 2,
        })
        .sum();
    (LineValue(sum), LineOrigin::Coins { coins })
}

/// The three changes of the yarrow stalks: the first sets aside 5 (p = 3/4) or 9, the second and
/// third 4 or 8 (p = 1/2 each); what remains, divided by four, is the line. This gives exactly
/// P(6, 7, 8, 9) = 1/16, 5/16, 7/16, 3/16.
fn divide_stalks(rng: &mut ChaCha8Rng) -> (LineValue, LineOrigin) {
    let first = if rng.random_range(0..4) < 3 { 5 } else { 9 };
    let second = if rng.random_bool(0.5) { 4 } else { 8 };
    let third = if rng.random_bool(0.5) { 4 } else { 8 };
    let remaining = 49 - first - second - third;
    (
        LineValue(remaining / 4),
        LineOrigin::Yarrow {
            set_aside: [first, second, third],
        },
    )
}
