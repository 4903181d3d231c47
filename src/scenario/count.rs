//! Counts typed with SI suffixes: `300e9`, `300B`, `1.4T`, `2M`, `500k`.

use serde::{Deserialize, Deserializer, Serialize};

/// A count given as a number (`300e9`) or a string with a suffix (`300B`,
/// `1.4T`, `2M`, `500k`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Count(pub f64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            I(i64),
            N(f64),
            S(String),
        }
        let v = match Raw::deserialize(d)? {
            Raw::I(n) => n as f64,
            Raw::N(n) => n,
            Raw::S(s) => return parse_count(&s).map(Count).map_err(serde::de::Error::custom),
        };
        if !v.is_finite() || v < 0.0 {
            return Err(serde::de::Error::custom(format!("`{v}` must be a finite, non-negative number")));
        }
        Ok(Count(v))
    }
}

/// Parses `300e9`, `300B`, `1.4T`, `2M`, `500k`, `1_000`.
///
/// # Errors
/// Text that is not a finite non-negative number with an optional suffix.
pub fn parse_count(s: &str) -> Result<f64, String> {
    let t = s.trim().replace('_', "");
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('M' | 'm') => (&t[..t.len() - 1], 1e6),
        Some('B' | 'b' | 'G' | 'g') => (&t[..t.len() - 1], 1e9),
        Some('T' | 't') => (&t[..t.len() - 1], 1e12),
        Some('P' | 'p') => (&t[..t.len() - 1], 1e15),
        _ => (t.as_str(), 1.0),
    };
    let v: f64 = num.trim().parse().map_err(|_| format!("`{s}` is not a number; write e.g. 300e9, 300B or 1.4T"))?;
    let v = v * mult;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("`{s}` must be a finite, non-negative number"));
    }
    Ok(v)
}

/// clap value parser for a [`Count`].
///
/// # Errors
/// As [`parse_count`].
pub fn count_arg(s: &str) -> Result<Count, String> {
    parse_count(s).map(Count)
}
