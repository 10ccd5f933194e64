//! `CronSchedule`: next occurrences in UTC and across DST changes, and errors that name the field.
#![cfg(feature = "cron")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runner_ticker::cron::{CronError, CronField, CronSchedule};

/// A UTC wall clock time as a `SystemTime` (proleptic Gregorian, years from 1970).
fn utc(year: u64, month: u64, day: u64, hour: u64, minute: u64, second: u64) -> SystemTime {
    // Days from 1970-01-01 to `year-month-day` (H. Hinnant's days_from_civil, for year >= 1970).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y % 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    UNIX_EPOCH + Duration::from_secs(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// The next `n` occurrences after `after`, each found from the previous one.
fn next_n(schedule: &CronSchedule, mut after: SystemTime, n: usize) -> Vec<SystemTime> {
    let mut found = Vec::with_capacity(n);
    for _ in 0..n {
        match schedule.next_after(after) {
            Some(next) => {
                found.push(next);
                after = next;
            }
            None => break,
        }
    }
    found
}

fn field_error(expression: &str) -> (CronField, String) {
    match CronSchedule::parse_utc(expression) {
        Err(CronError::InvalidField { field, reason }) => (field, reason),
        other => panic!("{expression}: expected InvalidField, got {other:?}"),
    }
}

#[test]
fn utc_helper_matches_known_timestamps() {
    assert_eq!(utc(1970, 1, 1, 0, 0, 0), UNIX_EPOCH);
    // 2026-03-08T07:00:00Z
    assert_eq!(
        utc(2026, 3, 8, 7, 0, 0),
        UNIX_EPOCH + Duration::from_secs(1_772_953_200)
    );
    // 2028-02-29T00:00:00Z
    assert_eq!(
        utc(2028, 2, 29, 0, 0, 0),
        UNIX_EPOCH + Duration::from_secs(1_835_395_200)
    );
}

#[test]
fn every_fifteen_minutes() {
    let schedule = CronSchedule::parse_utc("*/15 * * * *").unwrap();
    assert_eq!(
        next_n(&schedule, utc(2026, 1, 1, 23, 7, 30), 4),
        [
            utc(2026, 1, 1, 23, 15, 0),
            utc(2026, 1, 1, 23, 30, 0),
            utc(2026, 1, 1, 23, 45, 0),
            utc(2026, 1, 2, 0, 0, 0),
        ]
    );
}

#[test]
fn next_is_strictly_after_even_on_an_occurrence() {
    let schedule = CronSchedule::parse_utc("*/15 * * * *").unwrap();
    let on_the_dot = utc(2026, 1, 1, 10, 15, 0);
    assert_eq!(
        schedule.next_after(on_the_dot),
        Some(utc(2026, 1, 1, 10, 30, 0))
    );
    // Just before an occurrence: that occurrence.
    let just_before = on_the_dot - Duration::from_nanos(1);
    assert_eq!(schedule.next_after(just_before), Some(on_the_dot));
}

#[test]
fn weekdays_at_nine_utc() {
    let schedule = CronSchedule::parse_utc("0 9 * * MON-FRI").unwrap();
    // Friday 2026-03-06 09:00 -> Monday 09:00, Tuesday 09:00.
    assert_eq!(
        next_n(&schedule, utc(2026, 3, 6, 9, 0, 0), 2),
        [utc(2026, 3, 9, 9, 0, 0), utc(2026, 3, 10, 9, 0, 0)]
    );
}

#[test]
fn weekdays_at_nine_new_york_across_spring_forward() {
    let schedule = CronSchedule::parse("0 9 * * MON-FRI", "America/New_York").unwrap();
    // Friday 09:00 EST is 14:00 UTC; after the 2026-03-08 change, Monday 09:00 EDT is 13:00 UTC.
    assert_eq!(
        next_n(&schedule, utc(2026, 3, 5, 14, 0, 0), 2),
        [utc(2026, 3, 6, 14, 0, 0), utc(2026, 3, 9, 13, 0, 0)]
    );
}

#[test]
fn fixed_time_in_the_spring_forward_gap_runs_when_the_gap_ends() {
    // On 2026-03-08 New York goes from 01:59:59 EST to 03:00:00 EDT: 02:30 does not exist.
    // croner runs a fixed-time job at the first instant after the gap, 03:00 EDT (07:00 UTC),
    // not 03:30 and not the day after; the next day it is 02:30 EDT again.
    let schedule = CronSchedule::parse("30 2 * * *", "America/New_York").unwrap();
    assert_eq!(
        next_n(&schedule, utc(2026, 3, 7, 7, 30, 0), 3),
        [
            utc(2026, 3, 8, 7, 0, 0),
            utc(2026, 3, 9, 6, 30, 0),
            utc(2026, 3, 10, 6, 30, 0),
        ]
    );
}

#[test]
fn interval_times_in_the_spring_forward_gap_are_skipped() {
    let every_half_hour = CronSchedule::parse("*/30 * * * *", "America/New_York").unwrap();
    // 01:30 EST (06:30 UTC), then 03:00 EDT (07:00 UTC): 02:00 and 02:30 do not exist.
    assert_eq!(
        next_n(&every_half_hour, utc(2026, 3, 8, 6, 0, 0), 2),
        [utc(2026, 3, 8, 6, 30, 0), utc(2026, 3, 8, 7, 0, 0)]
    );
    // Two values in the minute field make it an interval job too: no run on 2026-03-08.
    let twice_at_two = CronSchedule::parse("0,30 2 * * *", "America/New_York").unwrap();
    assert_eq!(
        next_n(&twice_at_two, utc(2026, 3, 7, 8, 0, 0), 2),
        [utc(2026, 3, 9, 6, 0, 0), utc(2026, 3, 9, 6, 30, 0)]
    );
}

#[test]
fn fall_back_runs_fixed_time_once_and_intervals_on_both_passes() {
    // On 2026-11-01 New York goes from 01:59:59 EDT back to 01:00:00 EST: 01:30 happens twice,
    // at 05:30 UTC and at 06:30 UTC.
    let fixed = CronSchedule::parse("30 1 * * *", "America/New_York").unwrap();
    assert_eq!(
        next_n(&fixed, utc(2026, 10, 31, 12, 0, 0), 2),
        [utc(2026, 11, 1, 5, 30, 0), utc(2026, 11, 2, 6, 30, 0)]
    );
    let interval = CronSchedule::parse("0,30 1 * * *", "America/New_York").unwrap();
    assert_eq!(
        next_n(&interval, utc(2026, 11, 1, 4, 45, 0), 5),
        [
            utc(2026, 11, 1, 5, 0, 0),  // 01:00 EDT
            utc(2026, 11, 1, 5, 30, 0), // 01:30 EDT
            utc(2026, 11, 1, 6, 0, 0),  // 01:00 EST
            utc(2026, 11, 1, 6, 30, 0), // 01:30 EST
            utc(2026, 11, 2, 6, 0, 0),  // next day, 01:00 EST
        ]
    );
}

#[test]
fn other_zones_use_their_own_rules() {
    // Europe/Paris changes on 2026-03-29; 09:00 is 08:00 UTC before, 07:00 UTC after.
    let schedule = CronSchedule::parse("0 9 * * *", "Europe/Paris").unwrap();
    assert_eq!(
        next_n(&schedule, utc(2026, 3, 28, 0, 0, 0), 2),
        [utc(2026, 3, 28, 8, 0, 0), utc(2026, 3, 29, 7, 0, 0)]
    );
    // A zone without DST, east of UTC.
    let tokyo = CronSchedule::parse("0 9 * * *", "Asia/Tokyo").unwrap();
    assert_eq!(
        tokyo.next_after(utc(2026, 1, 1, 0, 0, 0)),
        Some(utc(2026, 1, 2, 0, 0, 0))
    );
}

#[test]
fn six_fields_with_seconds() {
    let schedule = CronSchedule::parse_utc("*/20 * * * * *").unwrap();
    assert_eq!(
        next_n(&schedule, utc(2026, 1, 1, 0, 0, 5), 3),
        [
            utc(2026, 1, 1, 0, 0, 20),
            utc(2026, 1, 1, 0, 0, 40),
            utc(2026, 1, 1, 0, 1, 0),
        ]
    );
    let schedule = CronSchedule::parse_utc("30 15 10 * * *").unwrap();
    assert_eq!(
        schedule.next_after(utc(2026, 1, 1, 10, 15, 30)),
        Some(utc(2026, 1, 2, 10, 15, 30))
    );
}

#[test]
fn sub_second_parts_of_after_count() {
    let every_second = CronSchedule::parse_utc("* * * * * *").unwrap();
    let half_past = utc(2026, 1, 1, 12, 0, 0) + Duration::from_millis(500);
    assert_eq!(
        every_second.next_after(half_past),
        Some(utc(2026, 1, 1, 12, 0, 1))
    );
}

#[test]
fn five_fields_run_at_second_zero() {
    let schedule = CronSchedule::parse_utc("* * * * *").unwrap();
    assert_eq!(
        schedule.next_after(utc(2026, 1, 1, 12, 0, 1)),
        Some(utc(2026, 1, 1, 12, 1, 0))
    );
}

/// A schedule that can never fire used to build, start, stay `Healthy` and never run: it is
/// now refused when parsed, naming the expression.
#[test]
fn impossible_dates_are_refused_when_parsed() {
    for expression in [
        "0 0 30 2 *",
        "0 0 31 4 *",
        "0 0 31 2,4,6,9,11 *",
        "0 0 0 30 2 *",
    ] {
        assert_eq!(
            CronSchedule::parse_utc(expression).unwrap_err(),
            CronError::NeverFires(expression.to_owned()),
        );
        assert_eq!(
            CronSchedule::parse(expression, "Europe/Paris")
                .unwrap_err()
                .to_string(),
            format!("cron expression `{expression}` never fires: no date matches all its fields"),
        );
    }
}

#[test]
fn february_29th_comes_every_four_years() {
    let schedule = CronSchedule::parse_utc("0 0 29 2 *").unwrap();
    assert_eq!(
        next_n(&schedule, utc(2026, 1, 1, 0, 0, 0), 2),
        [utc(2028, 2, 29, 0, 0, 0), utc(2032, 2, 29, 0, 0, 0)]
    );
}

#[test]
fn day_of_month_or_day_of_week_when_both_are_restricted() {
    // Vixie cron: the 1st of the month OR any Monday. 2026-06-01 is a Monday.
    let schedule = CronSchedule::parse_utc("0 0 1 * MON").unwrap();
    assert_eq!(
        next_n(&schedule, utc(2026, 5, 24, 0, 0, 0), 3),
        [
            utc(2026, 5, 25, 0, 0, 0),
            utc(2026, 6, 1, 0, 0, 0),
            utc(2026, 6, 8, 0, 0, 0)
        ]
    );
}

#[test]
fn sunday_is_0_or_7_and_names_are_case_insensitive() {
    let after = utc(2026, 1, 1, 0, 0, 0); // a Thursday
    let first_sunday = Some(utc(2026, 1, 4, 0, 0, 0));
    for expression in [
        "0 0 * * 0",
        "0 0 * * 7",
        "0 0 * * SUN",
        "0 0 * * sun",
        "0 0 ? jan Sun",
    ] {
        let schedule = CronSchedule::parse_utc(expression).unwrap();
        assert_eq!(schedule.next_after(after), first_sunday, "{expression}");
    }
    // SAT-SUN is Saturday and Sunday (6-7), not a backwards range.
    let weekend = CronSchedule::parse_utc("0 0 * * SAT-SUN").unwrap();
    assert_eq!(
        next_n(&weekend, after, 2),
        [utc(2026, 1, 3, 0, 0, 0), utc(2026, 1, 4, 0, 0, 0)]
    );
}

#[test]
fn ranges_steps_and_lists() {
    let schedule = CronSchedule::parse_utc("0-30/15,59 8-9 * JAN-MAR/2 *").unwrap();
    assert_eq!(
        next_n(&schedule, utc(2026, 1, 31, 9, 50, 0), 5),
        [
            utc(2026, 1, 31, 9, 59, 0),
            utc(2026, 3, 1, 8, 0, 0), // February is not in JAN-MAR/2
            utc(2026, 3, 1, 8, 15, 0),
            utc(2026, 3, 1, 8, 30, 0),
            utc(2026, 3, 1, 8, 59, 0),
        ]
    );
}

#[test]
fn far_future_and_unrepresentable_times_have_no_next_occurrence() {
    let schedule = CronSchedule::parse_utc("* * * * *").unwrap();
    let year_6000 = utc(6000, 1, 1, 0, 0, 0);
    assert_eq!(schedule.next_after(year_6000), None);
    let beyond_jiff = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
    assert_eq!(schedule.next_after(beyond_jiff), None);
}

#[test]
fn before_1970_works() {
    let schedule = CronSchedule::parse_utc("* * * * * *").unwrap();
    // 1969-12-31T23:59:58.5Z -> 23:59:59, not 1970-01-01T00:00:00.
    let before_epoch = UNIX_EPOCH - Duration::from_millis(1500);
    assert_eq!(
        schedule.next_after(before_epoch),
        Some(UNIX_EPOCH - Duration::from_secs(1))
    );
}

#[test]
fn accessors_return_what_was_given() {
    let schedule = CronSchedule::parse(" 0  9 * * mon-fri ", "Europe/Paris").unwrap();
    assert_eq!(schedule.expression(), " 0  9 * * mon-fri ");
    assert_eq!(schedule.zone(), "Europe/Paris");
    let utc = CronSchedule::parse_utc("0 9 * * *").unwrap();
    assert_eq!(utc.zone(), "UTC");
    let cloned = schedule.clone();
    assert_eq!(cloned.expression(), schedule.expression());
    assert!(format!("{schedule:?}").contains("CronSchedule"));
}

#[test]
fn one_error_per_field_names_that_field() {
    assert_eq!(
        field_error("61 * * * *"),
        (CronField::Minute, "`61` is out of range 0-59".to_owned())
    );
    assert_eq!(
        field_error("* 24 * * *"),
        (CronField::Hour, "`24` is out of range 0-23".to_owned())
    );
    assert_eq!(
        field_error("* * 32 * *"),
        (
            CronField::DayOfMonth,
            "`32` is out of range 1-31".to_owned()
        )
    );
    assert_eq!(
        field_error("* * * 13 *"),
        (CronField::Month, "`13` is out of range 1-12".to_owned())
    );
    assert_eq!(
        field_error("* * * * 8"),
        (
            CronField::DayOfWeek,
            "`8` is out of range 0-7 (0 and 7 are Sunday)".to_owned()
        )
    );
    assert_eq!(
        field_error("60 * * * * *"),
        (CronField::Seconds, "`60` is out of range 0-59".to_owned())
    );
}

#[test]
fn error_messages_read_well() {
    let error = CronSchedule::parse_utc("* 24 * * *").unwrap_err();
    assert_eq!(
        error.to_string(),
        "cron field `hour` is invalid: `24` is out of range 0-23"
    );
    let error = CronSchedule::parse_utc("60 * * * * *").unwrap_err();
    assert_eq!(
        error.to_string(),
        "cron field `seconds` is invalid: `60` is out of range 0-59"
    );
}

#[test]
fn the_field_is_named_in_lists_ranges_and_steps() {
    let cases = [
        (
            "0,15,61 * * * *",
            CronField::Minute,
            "`61` is out of range 0-59",
        ),
        ("* 1-24 * * *", CronField::Hour, "`24` is out of range 0-23"),
        (
            "* * 0 * *",
            CronField::DayOfMonth,
            "`0` is out of range 1-31",
        ),
        (
            "* * * 1-13/2 *",
            CronField::Month,
            "`13` is out of range 1-12",
        ),
        (
            "* * * * */0",
            CronField::DayOfWeek,
            "step `0` is out of range 1-7",
        ),
        (
            "*/x * * * * *",
            CronField::Seconds,
            "step `x` is not a number",
        ),
        (
            "* */24 * * *",
            CronField::Hour,
            "step `24` is out of range 1-23",
        ),
        (
            "99999999999 * * * *",
            CronField::Minute,
            "`99999999999` is out of range 0-59",
        ),
    ];
    for (expression, field, reason) in cases {
        assert_eq!(
            field_error(expression),
            (field, reason.to_owned()),
            "{expression}"
        );
    }
}

#[test]
fn syntax_errors_name_the_field() {
    let cases = [
        // Names only where they belong.
        ("* * * MON *", CronField::Month),
        ("* * JAN * *", CronField::DayOfMonth),
        ("* * * * JAN", CronField::DayOfWeek),
        ("FOO * * * *", CronField::Minute),
        // `?` only as a whole day field.
        ("? * * * *", CronField::Minute),
        ("* * ?,1 * *", CronField::DayOfMonth),
        // Backwards ranges, steps without a range, malformed ranges and lists.
        ("* * * * FRI-MON", CronField::DayOfWeek),
        ("* 5-1 * * *", CronField::Hour),
        ("5/15 * * * *", CronField::Minute),
        ("* * * 1-2-3 *", CronField::Month),
        ("* * -5 * *", CronField::DayOfMonth),
        ("1,,2 * * * * *", CronField::Seconds),
        ("1, * * * *", CronField::Minute),
        ("+5 * * * *", CronField::Minute),
        // Extensions of other crons.
        ("* * L * *", CronField::DayOfMonth),
        ("* * 15W * *", CronField::DayOfMonth),
        ("* * * * 5#2", CronField::DayOfWeek),
        ("* * * * 5L", CronField::DayOfWeek),
        ("0 0 1 * +MON", CronField::DayOfWeek),
    ];
    for (expression, field) in cases {
        assert_eq!(field_error(expression).0, field, "{expression}");
    }
}

#[test]
fn the_first_wrong_field_from_the_left_is_named() {
    assert_eq!(field_error("61 24 * * *").0, CronField::Minute);
    assert_eq!(field_error("* 24 32 * *").0, CronField::Hour);
}

#[test]
fn extensions_and_names_explain_themselves() {
    assert_eq!(
        field_error("* * L * *").1,
        "`L` is not standard cron (`L`, `W`, `#` and `+` are not supported)"
    );
    assert_eq!(
        field_error("* * * FOO *").1,
        "`FOO` is not a number in 1-12 or a name JAN-DEC"
    );
    assert_eq!(
        field_error("* * * * FRI-MON").1,
        "range `FRI-MON` goes backwards (5 is after 1); split it in two"
    );
    assert_eq!(
        field_error("5/15 * * * *").1,
        "`5/15` has a step without a range; write `*/15` or `5-59/15`"
    );
}

#[test]
fn field_count_errors() {
    for (expression, found) in [
        ("", 0),
        ("   ", 0),
        ("@daily", 1),
        ("* * * *", 4),
        ("0 0 0 * * * 2026", 7),
    ] {
        assert_eq!(
            CronSchedule::parse_utc(expression).unwrap_err(),
            CronError::FieldCount { found },
            "{expression:?}"
        );
    }
    assert_eq!(
        CronError::FieldCount { found: 4 }.to_string(),
        "cron expression has 4 fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (with leading seconds)"
    );
}

#[test]
fn unknown_zone() {
    for zone in ["Mars/Olympus_Mons", "", "Europe/", "../etc/passwd"] {
        assert_eq!(
            CronSchedule::parse("* * * * *", zone).unwrap_err(),
            CronError::UnknownZone(zone.to_owned()),
            "{zone:?}"
        );
    }
    assert_eq!(
        CronError::UnknownZone("Mars/Olympus_Mons".to_owned()).to_string(),
        "unknown time zone `Mars/Olympus_Mons`"
    );
    // The expression is checked first.
    assert_eq!(
        CronSchedule::parse("* * * *", "Mars/Olympus_Mons").unwrap_err(),
        CronError::FieldCount { found: 4 }
    );
}

#[test]
fn utc_by_name_is_the_same_as_parse_utc() {
    let by_name = CronSchedule::parse("0 9 * * *", "UTC").unwrap();
    let utc_schedule = CronSchedule::parse_utc("0 9 * * *").unwrap();
    let after = utc(2026, 7, 1, 12, 0, 0);
    assert_eq!(by_name.next_after(after), utc_schedule.next_after(after));
    assert_eq!(by_name.next_after(after), Some(utc(2026, 7, 2, 9, 0, 0)));
}

#[test]
fn field_display_names() {
    let names = [
        CronField::Seconds,
        CronField::Minute,
        CronField::Hour,
        CronField::DayOfMonth,
        CronField::Month,
        CronField::DayOfWeek,
    ]
    .map(|field| field.to_string());
    assert_eq!(
        names,
        [
            "seconds",
            "minute",
            "hour",
            "day-of-month",
            "month",
            "day-of-week"
        ]
    );
}
