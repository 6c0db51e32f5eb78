//! Times as the user reads them: in the local time zone (`TZ`, else the system's), with the
//! offset beside a time the clock showed twice (the hour repeated when summer time ends), and
//! the zone named once per view ([`zone_name`]). The store keeps milliseconds since the Unix
//! epoch; JSON gets RFC 3339 with the local offset ([`Stamp::rfc3339`]), so a time read back
//! elsewhere is the same instant.

use std::sync::OnceLock;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The zone times are shown in: `TZ` when set (an IANA name or a POSIX rule), else the
/// system's (`/etc/localtime`), else UTC. Read once per process. Unit tests are always in UTC,
/// so their screens do not depend on the machine that runs them.
fn local() -> &'static TimeZone {
    static LOCAL: OnceLock<TimeZone> = OnceLock::new();
    LOCAL.get_or_init(|| {
        if cfg!(test) {
            TimeZone::UTC
        } else {
            TimeZone::try_system().unwrap_or(TimeZone::UTC)
        }
    })
}

/// The local zone's name for a view's heading: its IANA name (`Europe/Paris`), `UTC`, or for a
/// zone given as a rule (`TZ=EST5EDT,M3.2.0,M11.1.0`) its offset now (`UTC-05:00`).
pub fn zone_name() -> String {
    name_of(local())
}

fn name_of(tz: &TimeZone) -> String {
    match tz.iana_name() {
        Some("UTC" | "Etc/UTC" | "Etc/Universal" | "Etc/Zulu" | "Universal" | "Zulu") => {
            "UTC".to_owned()
        }
        Some(name) if name != "Etc/Unknown" => name.to_owned(),
        Some(_) => "UTC".to_owned(),
        None => format!(
            "UTC{}",
            offset_text(tz.to_offset(Timestamp::now()).seconds())
        ),
    }
}

/// One moment, as the local clock showed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    ms: i64,
    /// The local offset from UTC at that moment, in seconds.
    offset: i32,
    /// The local clock showed this time twice (the repeated hour when summer time ends).
    repeated: bool,
    /// Local date and time: year, month, day, hour, minute, second.
    civil: (i16, i8, i8, i8, i8, i8),
}

impl Stamp {
    /// `ms` since the Unix epoch, in the local zone.
    pub fn at(ms: i64) -> Self {
        Self::in_zone(ms, local())
    }

    /// `ms` since the Unix epoch, in UTC: for names that must not depend on where they were
    /// made (a kept key's file name).
    pub fn utc(ms: i64) -> Self {
        Self::in_zone(ms, &TimeZone::UTC)
    }

    /// `ms` since the Unix epoch, in `tz`. Out-of-range times (far beyond year 9999) are
    /// clamped to the nearest one jiff can represent.
    pub fn in_zone(ms: i64, tz: &TimeZone) -> Self {
        let ts = Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        });
        let zoned = ts.to_zoned(tz.clone());
        let dt = zoned.datetime();
        let repeated = tz.to_ambiguous_timestamp(dt).is_ambiguous();
        Self {
            ms,
            offset: zoned.offset().seconds(),
            repeated,
            civil: (
                dt.year(),
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second(),
            ),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn ms(self) -> i64 {
        self.ms
    }

    /// RFC 3339 with the local offset, to the second: `2026-12-08T09:05:00+01:00`, or `…Z` in
    /// UTC.
    pub fn rfc3339(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil;
        let offset = if self.offset == 0 {
            "Z".to_owned()
        } else {
            offset_text(self.offset)
        };
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{offset}")
    }

    /// For people, to the minute: `2026-12-08 09:05`, with the offset after a time the clock
    /// showed twice (`2026-10-25 02:30 +02:00`).
    pub fn shown(self) -> String {
        let (y, mo, d, h, mi, _) = self.civil;
        let mut out = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}");
        if self.repeated {
            out.push(' ');
            out.push_str(&offset_text(self.offset));
        }
        out
    }

    /// The local date: `2026-12-08`.
    pub fn date(self) -> String {
        let (y, mo, d, ..) = self.civil;
        format!("{y:04}-{mo:02}-{d:02}")
    }

    /// The local month: `2026-12`.
    pub fn month(self) -> String {
        let (y, mo, ..) = self.civil;
        format!("{y:04}-{mo:02}")
    }
}

impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Stamp {
    /// An RFC 3339 time with its offset, as [`Stamp::rfc3339`] writes it; the instant keeps the
    /// offset it was written with.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(
                "not an RFC 3339 time with an offset (2026-12-08T09:05:00+01:00)",
            )
        })
    }
}

impl Stamp {
    /// An RFC 3339 time with its offset (`…Z` or `…+01:00`), in that offset.
    pub fn parse(text: &str) -> Option<Self> {
        let at: Timestamp = text.parse().ok()?;
        let offset = if text.ends_with(['Z', 'z']) {
            0
        } else {
            let (sign, hm) = text.get(text.len().checked_sub(6)?..)?.split_at(1);
            let (h, m) = hm.split_once(':')?;
            let seconds = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
            if sign == "-" { -seconds } else { seconds }
        };
        let tz = TimeZone::fixed(jiff::tz::Offset::from_seconds(offset).ok()?);
        Some(Self::in_zone(at.as_millisecond(), &tz))
    }
}

/// Milliseconds since the epoch, when there are any, as JSON has times: RFC 3339 with the local
/// offset (for `#[serde(serialize_with = "…")]`).
pub fn ms_as_rfc3339<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => Stamp::at(*ms).serialize(s),
        None => s.serialize_none(),
    }
}

/// `+01:00`, `-05:00`, `+05:45`, `+00:00`.
fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// New York's rule, given as TZ can give it (no tz database needed).
    fn new_york() -> TimeZone {
        TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap()
    }

    #[test]
    fn utc_times_end_in_z_and_show_without_an_offset() {
        let s = Stamp::in_zone(1_709_251_199_999, &TimeZone::UTC);
        assert_eq!(s.rfc3339(), "2024-02-29T23:59:59Z");
        assert_eq!(s.shown(), "2024-02-29 23:59");
        assert_eq!(s.date(), "2024-02-29");
        assert_eq!(s.month(), "2024-02");
        for (ms, at) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400_000, "2000-02-29T00:00:00Z"),
            (4_102_444_800_000, "2100-01-01T00:00:00Z"),
        ] {
            assert_eq!(Stamp::in_zone(ms, &TimeZone::UTC).rfc3339(), at);
        }
    }

    #[test]
    fn a_local_time_carries_its_offset_in_json_and_its_local_date() {
        // 2024-03-01 03:30 UTC is still the 29th of February in New York, and 09:15 in Kathmandu.
        let ms = 1_709_263_800_000;
        let ny = Stamp::in_zone(ms, &new_york());
        assert_eq!(ny.rfc3339(), "2024-02-29T22:30:00-05:00");
        assert_eq!(ny.shown(), "2024-02-29 22:30");
        assert_eq!(ny.date(), "2024-02-29");
        let nepal = Stamp::in_zone(ms, &TimeZone::posix("<+0545>-5:45").unwrap());
        assert_eq!(nepal.rfc3339(), "2024-03-01T09:15:00+05:45");
        assert_eq!(nepal.month(), "2024-03");
        // Both name the same instant.
        assert_eq!(ny.ms(), nepal.ms());
    }

    #[test]
    fn a_time_the_clock_showed_twice_carries_its_offset() {
        // 2024-11-03 in New York: 01:30 comes once in summer time (05:30 UTC), then again in
        // winter time (06:30 UTC).
        let first = Stamp::in_zone(1_730_611_800_000, &new_york());
        let second = Stamp::in_zone(1_730_615_400_000, &new_york());
        assert_eq!(first.shown(), "2024-11-03 01:30 -04:00");
        assert_eq!(second.shown(), "2024-11-03 01:30 -05:00");
        assert_ne!(first.rfc3339(), second.rfc3339());
        // An hour later there is no doubt, and no offset.
        let later = Stamp::in_zone(1_730_619_000_000, &new_york());
        assert_eq!(later.shown(), "2024-11-03 02:30");
    }

    #[test]
    fn a_time_written_to_json_reads_back_as_the_same_instant_and_offset() {
        let ms = 1_709_263_800_000;
        for tz in [
            TimeZone::UTC,
            new_york(),
            TimeZone::posix("<+0545>-5:45").unwrap(),
        ] {
            let s = Stamp::in_zone(ms, &tz);
            let json = serde_json::to_string(&s).unwrap();
            let back: Stamp = serde_json::from_str(&json).unwrap();
            assert_eq!((back.ms(), back.rfc3339()), (ms, s.rfc3339()), "{json}");
        }
        assert!(serde_json::from_str::<Stamp>("\"yesterday\"").is_err());
        assert!(
            Stamp::parse("2024-02-29T22:30:00").is_none(),
            "no offset, no instant"
        );
    }

    #[test]
    fn zones_are_named_for_a_heading() {
        assert_eq!(name_of(&TimeZone::UTC), "UTC");
        let rule = name_of(&TimeZone::posix("<+0545>-5:45").unwrap());
        assert_eq!(rule, "UTC+05:45");
        assert_eq!(zone_name(), "UTC", "unit tests run in UTC");
    }

    #[test]
    fn times_beyond_the_calendar_are_clamped_not_a_panic() {
        let far = Stamp::in_zone(i64::MAX, &TimeZone::UTC);
        assert!(far.rfc3339().starts_with("9999-12-3"), "{}", far.rfc3339());
        let before = Stamp::in_zone(i64::MIN, &TimeZone::UTC);
        assert!(
            before.rfc3339().starts_with("-9999"),
            "{}",
            before.rfc3339()
        );
    }
}
