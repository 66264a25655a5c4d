//! Civil dates in Asia/Shanghai (contract Part A4).
//!
//! Every date the rules see is an ISO `YYYY-MM-DD` string; timestamps are
//! RFC 3339 and are turned into the Shanghai civil date before any comparison.
//! Nothing here reads a clock.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, UtcOffset, format_description::well_known::Rfc3339, macros::format_description};

/// UTC+8, the civil time of every form (China has no daylight saving time).
const SHANGHAI: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("+08:00 is a valid offset"),
};

/// Parses a strict ISO calendar date (`2024-10-08`).
#[must_use]
pub fn parse_date(s: &str) -> Option<Date> {
    let bytes = s.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year: i32 = s.get(0..4)?.parse().ok()?;
    let month: u8 = s.get(5..7)?.parse().ok()?;
    let day: u8 = s.get(8..10)?.parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

/// The Shanghai civil date of a timestamp or date.
///
/// Accepts `YYYY-MM-DD`, an RFC 3339 timestamp with an offset (converted to
/// +08:00), or a timestamp without an offset (read as Shanghai local time).
#[must_use]
pub fn civil_date(s: &str) -> Option<Date> {
    let s = s.trim();
    if let Some(d) = parse_date(s) {
        return Some(d);
    }
    if let Ok(ts) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(ts.to_offset(SHANGHAI).date());
    }
    let local = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let local_space = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(s, &local)
        .or_else(|_| PrimitiveDateTime::parse(s, &local_space))
        .ok()
        .map(PrimitiveDateTime::date)
}

/// Formats a date as `YYYY-MM-DD`.
#[must_use]
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Inclusive day count from `a` to `b` (`days(2024-10-08, 2024-10-14) = 7`).
/// Negative or zero when `b` is before `a`.
#[must_use]
pub fn days_inclusive(a: Date, b: Date) -> i64 {
    i64::from(b.to_julian_day() - a.to_julian_day()) + 1
}

/// Signed difference `b - a` in days.
#[must_use]
pub fn days_between(a: Date, b: Date) -> i64 {
    i64::from(b.to_julian_day() - a.to_julian_day())
}

/// Adds `n` days.
#[must_use]
pub fn add_days(d: Date, n: i64) -> Option<Date> {
    let jd = i64::from(d.to_julian_day()).checked_add(n)?;
    Date::from_julian_day(i32::try_from(jd).ok()?).ok()
}

/// The ISO week of a date, as `2024-W41`.
#[must_use]
pub fn iso_week(d: Date) -> String {
    let (year, week, _) = d.to_iso_week_date();
    format!("{year:04}-W{week:02}")
}

/// The month bucket of a date, as `2024-10`.
#[must_use]
pub fn month_bucket(d: Date) -> String {
    format!("{:04}-{:02}", d.year(), u8::from(d.month()))
}

/// Months from `(y0, m0)` to the month of `d` (same month = 0).
#[must_use]
pub fn months_since(start: Date, d: Date) -> i64 {
    (i64::from(d.year()) - i64::from(start.year())) * 12 + i64::from(u8::from(d.month())) - i64::from(u8::from(start.month()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    #[test]
    fn dates_parse_strictly() {
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2023-02-29").is_none());
        assert!(parse_date("2024-2-9").is_none());
        assert!(parse_date("2024/02/09").is_none());
        assert!(parse_date("").is_none());
        assert!(parse_date("２０２４-02-09").is_none());
    }

    #[test]
    fn dates_inclusive_day_counts() {
        assert_eq!(days_inclusive(d("2024-10-08"), d("2024-10-14")), 7);
        assert_eq!(days_inclusive(d("2024-10-15"), d("2024-10-28")), 14);
        assert_eq!(days_inclusive(d("2024-10-15"), d("2024-10-15")), 1);
        assert_eq!(days_inclusive(d("2024-10-15"), d("2024-10-14")), 0);
        assert_eq!(days_inclusive(d("2024-02-28"), d("2024-03-01")), 3);
        assert_eq!(days_between(d("2013-10-19"), d("2013-10-26")), 7);
    }

    #[test]
    fn dates_civil_date_in_shanghai() {
        assert_eq!(civil_date("2024-09-30T23:59:59+08:00"), Some(d("2024-09-30")));
        // 16:30 UTC on the 30th is 00:30 on 1 October in Shanghai.
        assert_eq!(civil_date("2024-09-30T16:30:00Z"), Some(d("2024-10-01")));
        assert_eq!(civil_date("2024-09-30T15:59:59Z"), Some(d("2024-09-30")));
        assert_eq!(civil_date("2024-09-30T12:00:00"), Some(d("2024-09-30")));
        assert_eq!(civil_date("2024-09-30"), Some(d("2024-09-30")));
        assert_eq!(civil_date("yesterday"), None);
    }

    #[test]
    fn dates_iso_weeks_and_months() {
        assert_eq!(iso_week(d("2024-10-08")), "2024-W41");
        assert_eq!(iso_week(d("2021-01-03")), "2020-W53");
        assert_eq!(iso_week(d("2024-12-30")), "2025-W01");
        assert_eq!(month_bucket(d("2022-09-06")), "2022-09");
        assert_eq!(months_since(d("2019-10-11"), d("2020-01-02")), 3);
        assert_eq!(add_days(d("2013-10-19"), 7), Some(d("2013-10-26")));
        assert_eq!(format_date(d("2013-01-05")), "2013-01-05");
    }
}
