//! The one home of time as text: RFC 3339 in UTC to the second for what is stored and
//! exchanged (JSON, the table), and `2026-11-23 09:00:00 UTC` for people (every report).

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// `2026-11-23T09:00:00Z`: UTC, whole seconds.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC).replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// Reads RFC 3339 (any offset, any fraction).
pub fn parse(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// `2026-11-23 09:00:00 UTC`: to the second, with its zone named.
pub fn for_people(at: OffsetDateTime) -> String {
    // The stored form with a space for the `T` and the zone named (one formatter for both).
    rfc3339(at).replacen('T', " ", 1).replace('Z', " UTC")
}

/// Stored text as a time: RFC 3339, or the Unix epoch when it is not one (an unreadable time
/// counts as long ago: a lease it dated has run out).
pub fn parse_or_epoch(text: &str) -> OffsetDateTime {
    parse(text).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Serde for a time field: [`rfc3339`] out, [`parse`] in (`#[serde(with = "moment::serde_rfc3339")]`).
pub mod serde_rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::rfc3339(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text}")))
    }

    /// The same for an optional time.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use time::OffsetDateTime;

        pub fn serialize<S: Serializer>(at: &Option<OffsetDateTime>, serializer: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => serializer.serialize_some(&super::super::rfc3339(*at)),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<OffsetDateTime>, D::Error> {
            match Option::<String>::deserialize(deserializer)? {
                None => Ok(None),
                Some(text) => {
                    super::super::parse(&text).map(Some).ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text}")))
                }
            }
        }
    }
}

/// A stored RFC 3339 time shown for people; text that is not one is shown as it is (or "—"
/// when empty).
pub(crate) fn text_for_people(stored: &str) -> String {
    match parse(stored) {
        Some(at) => for_people(at),
        None if stored.is_empty() => "—".into(),
        None => stored.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn stored_times_are_utc_to_the_second_and_people_see_the_zone() {
        let at = datetime!(2026-11-23 10:00:00.987654 +01:00);
        assert_eq!(rfc3339(at), "2026-11-23T09:00:00Z");
        assert_eq!(parse("2026-11-23T09:00:00Z"), Some(datetime!(2026-11-23 09:00:00 UTC)));
        assert_eq!(for_people(at), "2026-11-23 09:00:00 UTC");
        assert_eq!(text_for_people("2026-11-23T04:00:00-05:00"), "2026-11-23 09:00:00 UTC");
        assert_eq!(text_for_people(""), "—");
        assert_eq!(text_for_people("yesterday"), "yesterday");
        // Due keys sort as they read: the stored form, whatever the offset or fraction.
        assert_eq!(crate::invite::instant_key(datetime!(2026-11-23 04:15:02.75 -05:00)), "2026-11-23T09:15:02Z");
    }
}
