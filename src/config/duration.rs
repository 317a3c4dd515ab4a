//! Prometheus-style durations (`250ms`, `5s`, `1m`, `1h30m`) in the YAML config.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration written Prometheus-style in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    /// Parses `250ms`, `5s`, `1m`, `1h30m`, `0s`, `0`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "0" {
            return Ok(ConfigDuration(Duration::ZERO));
        }
        // humantime accepts "1M" as a month and spaces between parts; Prometheus does neither.
        let well_formed = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || "msuhdwy".contains(c))
            && text.chars().next().is_some_and(|c| c.is_ascii_digit());
        if !well_formed {
            return Err(format!(
                "invalid duration {text:?}: expected a number and a unit, such as 250ms, 5s, 1m or 1h30m"
            ));
        }
        humantime::parse_duration(text).map(ConfigDuration).map_err(|e| {
            format!("invalid duration {text:?} ({e}): expected a number and a unit, such as 250ms, 5s, 1m or 1h30m")
        })
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ConfigDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(
            ConfigDuration::parse("250ms").unwrap().0,
            Duration::from_millis(250)
        );
        assert_eq!(
            ConfigDuration::parse("5s").unwrap().0,
            Duration::from_secs(5)
        );
        assert_eq!(
            ConfigDuration::parse("1m").unwrap().0,
            Duration::from_secs(60)
        );
        assert_eq!(
            ConfigDuration::parse("1h30m").unwrap().0,
            Duration::from_secs(5400)
        );
        assert_eq!(ConfigDuration::parse("0").unwrap().0, Duration::ZERO);
    }

    #[test]
    fn rejects_bad_durations() {
        for bad in ["", "5", "five", "5 s", "1M", "-1s", "s5"] {
            assert!(
                ConfigDuration::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
