//! Wall-clock timestamps in RFC 3339 (UTC), without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Now, as `2026-11-28T14:30:39Z`.
pub fn now_rfc3339() -> String {
    rfc3339(now_unix())
}

/// Seconds since the Unix epoch as RFC 3339 UTC (the signer's own conversion).
pub fn rfc3339(secs: u64) -> String {
    presign_signer::sign::SigningTime { unix: secs }.rfc3339()
}

/// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the epoch of a UTC date and time, if every field is in range.
fn unix_from_parts(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<u64> {
    let in_range = (1970..=9999).contains(&y)
        && (1..=12).contains(&mo)
        && (1..=31).contains(&d)
        && (0..24).contains(&h)
        && (0..60).contains(&mi)
        && (0..=60).contains(&s);
    if !in_range {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
    u64::try_from(secs).ok()
}

/// Digits at `range` of `s` as a number; `None` unless all are ASCII digits.
fn digits(s: &str, range: std::ops::Range<usize>) -> Option<i64> {
    let part = s.get(range)?;
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// SigV4's `X-Amz-Date` (`20261128T143039Z`) as seconds since the epoch.
pub fn parse_amz_date(s: &str) -> Option<u64> {
    if s.len() != 16 || s.as_bytes().get(8) != Some(&b'T') || !s.ends_with('Z') {
        return None;
    }
    unix_from_parts(
        digits(s, 0..4)?,
        digits(s, 4..6)?,
        digits(s, 6..8)?,
        digits(s, 9..11)?,
        digits(s, 11..13)?,
        digits(s, 13..15)?,
    )
}

/// An RFC 3339 UTC instant (`2026-11-28T14:30:39Z`) as seconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let shape = s.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b't')
        && b[13] == b':'
        && b[16] == b':'
        && (b[19] == b'Z' || b[19] == b'z');
    if !shape {
        return None;
    }
    unix_from_parts(
        digits(s, 0..4)?,
        digits(s, 5..7)?,
        digits(s, 8..10)?,
        digits(s, 11..13)?,
        digits(s, 14..16)?,
        digits(s, 17..19)?,
    )
}

/// A duration for people: `45s`, `12m 5s`, `3h 20m`, `2d 4h`.
pub fn human_duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m {}s", secs / 60, secs % 60),
        3600..=86_399 => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_876_239), "2026-11-28T14:30:39Z");
    }

    #[test]
    fn parses_what_it_formats() {
        for secs in [0, 951_782_400, 1_795_876_239, 4_102_444_799] {
            let text = super::rfc3339(secs);
            assert_eq!(super::parse_rfc3339(&text), Some(secs), "{text}");
            let amz: String = text.chars().filter(|c| *c != '-' && *c != ':').collect();
            assert_eq!(super::parse_amz_date(&amz), Some(secs), "{amz}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-11-28 14:30:39Z",
            "2026-11-28T14:30:39+01:00",
            "x026-11-28T14:30:39Z",
            "2026-11-28T24:00:00Z",
            "20261128T14303Z",
            "2026112xT143039Z",
            "20261128T143039",
            "é026-11-28T14:30:39Z",
        ] {
            assert_eq!(super::parse_rfc3339(bad), None, "{bad}");
            assert_eq!(super::parse_amz_date(bad), None, "{bad}");
        }
    }
}
