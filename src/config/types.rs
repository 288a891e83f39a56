//! Scalar types shared by the Istio and Kubernetes mirrors: durations, percentages, ports,
//! string matches, and Kubernetes' int-or-string.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// A duration as Istio accepts it: Go syntax (`1s`, `250ms`, `1.5s`, `1m30s`, `0s`), stored in
/// nanoseconds so that arithmetic on it is exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    /// Nanoseconds.
    pub nanos: u64,
}

impl Duration {
    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration {
            nanos: ms * 1_000_000,
        }
    }
    /// From whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        Duration {
            nanos: s * 1_000_000_000,
        }
    }
    /// Whole milliseconds (truncated).
    pub const fn as_millis(self) -> u64 {
        self.nanos / 1_000_000
    }

    /// Parses Go's duration syntax (what `kubectl apply` of an Istio resource accepts).
    /// Negative durations are rejected: no Istio field takes one.
    ///
    /// ```
    /// use meshsim::config::Duration;
    /// assert_eq!(Duration::parse("1.5s").unwrap(), Duration::from_millis(1500));
    /// assert_eq!(Duration::parse("1m30s").unwrap(), Duration::from_secs(90));
    /// assert!(Duration::parse("10").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, String> {
        let orig = s;
        let s = s.trim();
        if s.is_empty() {
            return Err("empty duration".into());
        }
        if s.starts_with('-') {
            return Err(format!("negative duration `{orig}`"));
        }
        let mut rest = s.strip_prefix('+').unwrap_or(s);
        if rest == "0" {
            return Ok(Duration { nanos: 0 });
        }
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let num_end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            if num_end == 0 {
                return Err(format!(
                    "invalid duration `{orig}`: expected a number, e.g. `1s`, `250ms`, `1.5s`"
                ));
            }
            let num = &rest[..num_end];
            rest = &rest[num_end..];
            let unit_end = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = &rest[..unit_end];
            rest = &rest[unit_end..];
            let scale: u128 = match unit {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                "" => {
                    return Err(format!(
                        "invalid duration `{orig}`: missing unit (use ns, us, ms, s, m or h, e.g. `{num}s`)"
                    ));
                }
                u => {
                    return Err(format!(
                        "invalid duration `{orig}`: unknown unit `{u}` (use ns, us, ms, s, m or h)"
                    ));
                }
            };
            let (int, frac) = match num.split_once('.') {
                Some((i, f)) => (i, f),
                None => (num, ""),
            };
            if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
                return Err(format!("invalid duration `{orig}`"));
            }
            let int_v: u128 = if int.is_empty() {
                0
            } else {
                int.parse()
                    .map_err(|_| format!("invalid duration `{orig}`: number too large"))?
            };
            let mut value = int_v.saturating_mul(scale);
            let mut div: u128 = 1;
            for c in frac.chars().take(18) {
                div *= 10;
                value += (c as u128 - '0' as u128) * scale / div;
            }
            total = total.saturating_add(value);
        }
        if total > u64::MAX as u128 {
            return Err(format!("duration `{orig}` is too large"));
        }
        Ok(Duration {
            nanos: total as u64,
        })
    }
}

impl fmt::Display for Duration {
    /// The shortest exact Go-style form: `1.5s`, `250ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.nanos;
        if n == 0 {
            return f.write_str("0s");
        }
        if n.is_multiple_of(1_000_000_000) {
            return write!(f, "{}s", n / 1_000_000_000);
        }
        if n >= 1_000_000_000 {
            let s = format!("{:.9}", n as f64 / 1e9);
            let s = s.trim_end_matches('0');
            return write!(f, "{s}s");
        }
        if n.is_multiple_of(1_000_000) {
            return write!(f, "{}ms", n / 1_000_000);
        }
        if n.is_multiple_of(1_000) {
            return write!(f, "{}us", n / 1_000);
        }
        write!(f, "{n}ns")
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `1s`, `250ms` or `1.5s`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                if v == 0 {
                    Ok(Duration { nanos: 0 })
                } else {
                    Err(E::custom(format!(
                        "invalid duration `{v}`: missing unit (use ns, us, ms, s, m or h, e.g. `{v}s`)"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                if v < 0 {
                    Err(E::custom(format!("negative duration `{v}`")))
                } else {
                    self.visit_u64(v as u64)
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Istio's `Percent` message: `{value: 12.5}` means 12.5%.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Percent {
    /// The percentage, 0 to 100.
    #[serde(default)]
    pub value: f64,
}

/// Istio's `PortSelector`: `{number: 80}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortSelector {
    /// The port number.
    #[serde(default)]
    pub number: u32,
}

/// Istio's `StringMatch`: exactly one of `exact`, `prefix`, `regex`; `{}` (none) means "present"
/// when used on headers and query parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StringMatch {
    /// Exact, case-sensitive match.
    pub exact: Option<String>,
    /// Prefix match.
    pub prefix: Option<String>,
    /// RE2 regex, matched against the whole value.
    pub regex: Option<String>,
}

/// Kubernetes' `IntOrString` (a Service's `targetPort`: `8080` or `http`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IntOrString {
    /// A number.
    Int(i64),
    /// A name.
    String(String),
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port number or a port name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(match v.parse::<i64>() {
                    Ok(n) => IntOrString::Int(n),
                    Err(_) => IntOrString::String(v.to_string()),
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i64::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::custom("port number out of range"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
                Ok(IntOrString::Int(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Labels and annotations: sorted, so that every iteration is deterministic.
pub type StringMap = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_istio_writes_them() {
        let ms = |s: &str| Duration::parse(s).map(|d| d.nanos);
        assert_eq!(ms("1s"), Ok(1_000_000_000));
        assert_eq!(ms("250ms"), Ok(250_000_000));
        assert_eq!(ms("1.5s"), Ok(1_500_000_000));
        assert_eq!(ms("0.001s"), Ok(1_000_000));
        assert_eq!(ms("1h2m3s"), Ok(3_723_000_000_000));
        assert_eq!(ms("0s"), Ok(0));
        assert_eq!(ms("0"), Ok(0));
        assert_eq!(ms("10us"), Ok(10_000));
        for bad in ["", "10", "-1s", "1x", "s", "1..5s", "1.5.5s"] {
            assert!(ms(bad).is_err(), "{bad}");
        }
        for s in ["1.5s", "250ms", "0s", "90s", "10us"] {
            assert_eq!(Duration::parse(s).unwrap().to_string(), s);
        }
    }
}
