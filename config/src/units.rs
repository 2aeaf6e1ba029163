//! Serde helpers for values whose key names carry their unit (`…_secs`, `…_minutes`,
//! `…_hours`, `…_days`): the file and the environment keep whole numbers in that unit, the
//! program gets a [`Duration`]. Used with `#[serde(deserialize_with = "…")]`.

use std::net::SocketAddr;
use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

fn scaled<'de, D: Deserializer<'de>>(d: D, unit_secs: u64, unit: &str) -> Result<Duration, D::Error> {
    let n = u64::deserialize(d)?;
    n.checked_mul(unit_secs).map(Duration::from_secs).ok_or_else(|| D::Error::custom(format!("{n} {unit} is too long")))
}

/// Whole seconds.
pub fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    scaled(d, 1, "seconds")
}

/// Whole milliseconds.
pub fn millis<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_millis)
}

/// Whole minutes.
pub fn minutes<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    scaled(d, 60, "minutes")
}

/// Whole hours.
pub fn hours<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    scaled(d, 3600, "hours")
}

/// Whole days.
pub fn days<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    scaled(d, 86_400, "days")
}

/// An `ip:port` address, refused with the spelling operators expect.
pub fn socket_addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    s.trim().parse().map_err(|_| D::Error::custom(format!("`{s}` is not an address like 127.0.0.1:8080")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error, StrDeserializer, U64Deserializer};

    fn n(v: u64) -> U64Deserializer<Error> {
        v.into_deserializer()
    }

    #[test]
    fn units_scale_to_durations() {
        assert_eq!(seconds(n(90)).unwrap(), Duration::from_secs(90));
        assert_eq!(minutes(n(30)).unwrap(), Duration::from_secs(1800));
        assert_eq!(hours(n(48)).unwrap(), Duration::from_secs(48 * 3600));
        assert_eq!(days(n(30)).unwrap(), Duration::from_secs(30 * 86_400));
        assert!(days(n(u64::MAX)).unwrap_err().to_string().contains("too long"));
    }

    #[test]
    fn addresses_parse_or_say_what_they_should_look_like() {
        let s: StrDeserializer<Error> = "0.0.0.0:8080".into_deserializer();
        assert_eq!(socket_addr(s).unwrap(), SocketAddr::from(([0, 0, 0, 0], 8080)));
        let s: StrDeserializer<Error> = "localhost".into_deserializer();
        assert_eq!(socket_addr(s).unwrap_err().to_string(), "`localhost` is not an address like 127.0.0.1:8080");
    }
}
