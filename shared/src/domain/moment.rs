//! The one home of time as text: RFC 3339 in UTC to the second for what is stored and
//! exchanged (JSON, the table), and `2026-11-23 09:00:00 UTC` for people (every report).

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
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
    let at = at.to_offset(UtcOffset::UTC);
    let f = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    format!("{} UTC", at.format(&f).unwrap_or_else(|_| at.unix_timestamp().to_string()))
}

/// A stored RFC 3339 time shown for people; text that is not one is shown as it is (or "—"
/// when empty).
pub fn text_for_people(stored: &str) -> String {
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
    }
}
