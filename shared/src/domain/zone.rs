//! Time zones: a building's IANA zone, and the local hour an invite date means there.
//!
//! The zone database is compiled in (jiff's bundled tzdb), so converting reads no file and a
//! zone name means the same on every machine.

use time::{Date, OffsetDateTime};

/// A zone name as IANA writes it (`America/New_York`), from any case; `None` for an unknown one.
pub(crate) fn parse_zone(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 64 {
        return None;
    }
    let zone = jiff::tz::TimeZone::get(raw).ok()?;
    Some(zone.iana_name().unwrap_or(raw).to_string())
}

fn zone(name: Option<&str>) -> jiff::tz::TimeZone {
    name.and_then(|n| jiff::tz::TimeZone::get(n).ok()).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// The instant `date` at `hour`:00 in `zone` (UTC when none or unknown). A local time that
/// does not exist (a spring-forward gap) moves forward; an ambiguous one takes the earlier.
pub fn local_instant(date: Date, hour: u8, zone_name: Option<&str>) -> OffsetDateTime {
    let civil = jiff::civil::date(date.year() as i16, date.month() as i8, date.day() as i8).at(hour.min(23) as i8, 0, 0, 0);
    let seconds = zone(zone_name).to_ambiguous_zoned(civil).compatible().map(|z| z.timestamp().as_second());
    match seconds.ok().and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok()) {
        Some(at) => at,
        None => date.with_hms(hour.min(23), 0, 0).map(|d| d.assume_utc()).unwrap_or(OffsetDateTime::UNIX_EPOCH),
    }
}

/// `at` as a person in `zone` reads it: `2026-11-24 09:00 America/New_York` (`… UTC` when none).
pub(crate) fn local_text(at: OffsetDateTime, zone_name: Option<&str>) -> String {
    let tz = zone(zone_name);
    let label = zone_name.filter(|_| tz != jiff::tz::TimeZone::UTC || zone_name == Some("UTC")).unwrap_or("UTC");
    match jiff::Timestamp::from_second(at.unix_timestamp()) {
        Ok(ts) => format!("{} {label}", ts.to_zoned(tz).strftime("%Y-%m-%d %H:%M")),
        Err(_) => crate::moment::for_people(at),
    }
}

/// The local calendar day and hour of `at` in `zone`.
pub(crate) fn local_date_hour(at: OffsetDateTime, zone_name: Option<&str>) -> Option<(Date, u8)> {
    let zoned = jiff::Timestamp::from_second(at.unix_timestamp()).ok()?.to_zoned(zone(zone_name));
    let month = time::Month::try_from(zoned.month() as u8).ok()?;
    Some((Date::from_calendar_date(zoned.year() as i32, month, zoned.day() as u8).ok()?, zoned.hour() as u8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn zones_are_iana_names_in_any_case() {
        assert_eq!(parse_zone("America/New_York").as_deref(), Some("America/New_York"));
        assert_eq!(parse_zone(" europe/london ").as_deref(), Some("Europe/London"));
        assert_eq!(parse_zone("UTC").as_deref(), Some("UTC"));
        for bad in ["", "Mars/Olympus_Mons", "EST5EDT; drop table", "America/"] {
            assert_eq!(parse_zone(bad), None, "{bad}");
        }
    }

    #[test]
    fn nine_in_the_morning_is_a_different_instant_in_each_zone() {
        let day = date!(2026 - 11 - 24);
        assert_eq!(local_instant(day, 9, Some("America/New_York")), datetime!(2026-11-24 14:00 UTC));
        assert_eq!(local_instant(day, 9, Some("Asia/Tokyo")), datetime!(2026-11-24 00:00 UTC));
        assert_eq!(local_instant(day, 9, Some("Pacific/Auckland")), datetime!(2026-11-23 20:00 UTC), "the day before in UTC");
        assert_eq!(local_instant(day, 9, None), datetime!(2026-11-24 09:00 UTC));
        // Summer time: New York is UTC-4 in July.
        assert_eq!(local_instant(date!(2026 - 07 - 01), 9, Some("America/New_York")), datetime!(2026-07-01 13:00 UTC));
        // 02:30 does not exist on 2026-03-08 in New York: it moves forward.
        assert_eq!(local_instant(date!(2026 - 03 - 08), 2, Some("America/New_York")), datetime!(2026-03-08 07:00 UTC));
    }

    #[test]
    fn people_read_local_times_with_the_zone() {
        assert_eq!(local_text(datetime!(2026-11-24 14:00 UTC), Some("America/New_York")), "2026-11-24 09:00 America/New_York");
        assert_eq!(local_text(datetime!(2026-11-24 14:00 UTC), None), "2026-11-24 14:00 UTC");
        assert_eq!(local_date_hour(datetime!(2026-11-23 20:00 UTC), Some("Pacific/Auckland")), Some((date!(2026 - 11 - 24), 9)));
    }
}
