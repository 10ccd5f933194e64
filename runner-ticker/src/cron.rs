//! Cron expressions in a time zone: [`CronSchedule`].
//!
//! A [`CronSchedule`] is a standard cron expression plus the IANA time zone its wall clock times
//! are read in. [`CronSchedule::next_after`] answers the one question a scheduler asks: when is
//! the next run, strictly after this instant?
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use runner_ticker::cron::CronSchedule;
//!
//! // 09:00 on weekdays, Paris time.
//! let schedule = CronSchedule::parse("0 9 * * MON-FRI", "Europe/Paris")?;
//! // Friday 2026-01-02 12:00 UTC: the next run is Monday 09:00 in Paris, 08:00 UTC.
//! let friday_noon = UNIX_EPOCH + Duration::from_secs(1_767_355_200);
//! let next = schedule.next_after(friday_noon);
//! assert_eq!(next, Some(UNIX_EPOCH + Duration::from_secs(1_767_600_000)));
//! # Ok::<(), runner_ticker::cron::CronError>(())
//! ```
//!
//! # Syntax
//!
//! Five fields, or six with a leading seconds field, separated by whitespace:
//!
//! | field        | values                       | names     |
//! |--------------|------------------------------|-----------|
//! | seconds      | 0-59 (6-field form only)     |           |
//! | minute       | 0-59                         |           |
//! | hour         | 0-23                         |           |
//! | day-of-month | 1-31, or `?` for the field   |           |
//! | month        | 1-12                         | `JAN`-`DEC` |
//! | day-of-week  | 0-7 (0 and 7 are Sunday), or `?` for the field | `SUN`-`SAT` |
//!
//! Each field is `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, or a comma-separated
//! list of those. Names are case-insensitive and may appear in ranges (`MON-FRI`). A range
//! must not go backwards (`FRI-MON` is an error: write `FRI-SAT,SUN-MON`), and a step needs a
//! `*` or a range before it (`5/15` is an error: write `5-59/15`). `?` stands alone in the
//! day-of-month or day-of-week field and means `*`. When both day fields are restricted (neither
//! is `*` or `?`), a day matches if *either* matches, as in Vixie cron: `0 0 1 * MON` runs on
//! the 1st and on every Monday.
//!
//! Not accepted, so that an expression means the same thing in any cron: nicknames
//! (`@daily`), a year field, and the `L`, `W`, `#` and `+` extensions.
//!
//! Every error names the field that is wrong ([`CronError::InvalidField`]).
//!
//! # Time zones and daylight saving time
//!
//! The zone is an IANA name (`"UTC"`, `"Europe/Paris"`, `"America/New_York"`), looked up in the
//! system's time zone database (`/usr/share/zoneinfo`), or, where the system has none, in a copy
//! compiled into the binary. The expression is matched against the wall clock of that zone, and
//! the result is an instant ([`SystemTime`]):
//!
//! - **Spring forward** (a wall clock hour does not exist, e.g. 02:00-03:00 in New York on
//!   2026-03-08). A *fixed-time* expression (one value in each of seconds, minute and hour, e.g.
//!   `30 2 * * *`) whose time falls in the gap runs once, at the first instant after the gap
//!   (03:00 EDT, not 03:30), so a daily job is not skipped for the day. Any other expression
//!   (`*/15 * * * *`, `0,30 2 * * *`) skips the times that do not exist.
//! - **Fall back** (a wall clock hour happens twice, e.g. 01:00-02:00 in New York on
//!   2026-11-01). A fixed-time expression runs once, on the first pass (01:30 EDT); any other
//!   expression runs on both passes (`*/30 * * * *` at 01:00 and 01:30 EDT, then 01:00 and
//!   01:30 EST).
//!
//! These are the rules of Vixie cron and of the crate that evaluates the schedule, croner.
//!
//! # Why croner
//!
//! croner is maintained (4.0.3, 2026), accepts the standard 5-field form and the 6-field form
//! with seconds using POSIX weekday numbers (0 or 7 is Sunday), and documents and tests the DST
//! rules above. Each alternative misses one of these: `cron` requires a seconds field, numbers
//! weekdays 1-7 from Sunday (Quartz) and drops a day whose time falls in a DST gap;
//! `cron-parser` has no seconds field; `saffron` has no time zones and no release since 2021.
//! croner's parse errors do not say which field is wrong, so this module checks each field
//! itself and hands croner a normalized expression (six fields, numbers only). Time zones come
//! from jiff (the system database first, a bundled copy as fallback), which builds in about the
//! time chrono and chrono-tz take together; neither crate's types appear in this API.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use croner::Cron;
use croner::parser::{CronParser, Seconds};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A parsed cron schedule in a time zone.
///
/// Immutable, pointer-sized and cheap to clone (the parsed schedule is shared): build it once
/// with [`parse`](CronSchedule::parse) and ask [`next_after`](CronSchedule::next_after) as often
/// as needed. See the [module documentation](self) for the syntax and the daylight saving time
/// rules.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use runner_ticker::cron::CronSchedule;
///
/// let every_quarter_hour = CronSchedule::parse_utc("*/15 * * * *")?;
/// let t = UNIX_EPOCH + Duration::from_secs(60); // 00:01:00
/// assert_eq!(every_quarter_hour.next_after(t), Some(UNIX_EPOCH + Duration::from_secs(15 * 60)));
/// # Ok::<(), runner_ticker::cron::CronError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CronSchedule {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    expression: String,
    zone: String,
    cron: Cron,
    tz: TimeZone,
}

impl CronSchedule {
    /// Parses a standard 5-field cron expression (minute hour day-of-month month day-of-week),
    /// or a 6-field one with leading seconds, evaluated in `zone` (an IANA name like
    /// `"Europe/Paris"` or `"UTC"`).
    ///
    /// # Errors
    ///
    /// - [`CronError::FieldCount`] if the expression does not have 5 or 6 fields;
    /// - [`CronError::InvalidField`] naming the first field (from the left) that is wrong;
    /// - [`CronError::UnknownZone`] if the expression is valid but the zone is not in the time
    ///   zone database;
    /// - [`CronError::NeverFires`] if every field is valid but no date matches them all
    ///   (`0 0 30 2 *`, February 30th): a ticker on it would never run.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_ticker::cron::{CronError, CronField, CronSchedule};
    ///
    /// let schedule = CronSchedule::parse("30 2 * * *", "America/New_York")?;
    /// assert_eq!(schedule.zone(), "America/New_York");
    ///
    /// let error = CronSchedule::parse("0 25 * * *", "UTC").unwrap_err();
    /// assert!(matches!(error, CronError::InvalidField { field: CronField::Hour, .. }));
    /// assert_eq!(error.to_string(), "cron field `hour` is invalid: `25` is out of range 0-23");
    /// # Ok::<(), CronError>(())
    /// ```
    pub fn parse(expression: &str, zone: &str) -> Result<CronSchedule, CronError> {
        let cron = parse_expression(expression)?;
        let tz = TimeZone::get(zone).map_err(|_| CronError::UnknownZone(zone.to_owned()))?;
        CronSchedule::new(expression, zone, cron, tz).fires()
    }

    /// Same as [`parse`](CronSchedule::parse), in UTC. It needs no time zone database.
    ///
    /// # Errors
    ///
    /// [`CronError::FieldCount`], [`CronError::InvalidField`] or [`CronError::NeverFires`], as
    /// for [`parse`](CronSchedule::parse).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_ticker::cron::CronSchedule;
    ///
    /// // Every 10 seconds: the 6-field form.
    /// let schedule = CronSchedule::parse_utc("*/10 * * * * *")?;
    /// assert_eq!(schedule.zone(), "UTC");
    /// assert_eq!(schedule.expression(), "*/10 * * * * *");
    /// # Ok::<(), runner_ticker::cron::CronError>(())
    /// ```
    pub fn parse_utc(expression: &str) -> Result<CronSchedule, CronError> {
        let cron = parse_expression(expression)?;
        CronSchedule::new(expression, "UTC", cron, TimeZone::UTC).fires()
    }

    /// The schedule, if it ever fires. A cron expression has no year field, so its occurrences
    /// repeat at least every 400 years (the Gregorian cycle): if there is one after a fixed
    /// reference date, there is one after any date. The answer does not depend on the clock.
    fn fires(self) -> Result<CronSchedule, CronError> {
        // 2000-01-01T00:00:00Z: any fixed date works; this one keeps the search short.
        let reference = UNIX_EPOCH + Duration::from_secs(946_684_800);
        match self.next_after(reference) {
            Some(_) => Ok(self),
            None => Err(CronError::NeverFires(self.inner.expression.clone())),
        }
    }

    /// The first occurrence strictly after `after`, or `None` if there is none (e.g. Feb 30).
    ///
    /// Also `None` when there is no occurrence before the year 5000 (the search stops there)
    /// or when `after` is outside the years -9999 to 9999. Sub-second parts of `after` count:
    /// with `* * * * * *`, the next occurrence after 12:00:00.5 is 12:00:01. To walk a
    /// schedule, pass each result back in; across a repeated fall-back hour this visits both
    /// passes in order, as described in the [module documentation](self).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use runner_ticker::cron::CronSchedule;
    ///
    /// let hourly = CronSchedule::parse_utc("0 * * * *")?;
    /// let one_am = UNIX_EPOCH + Duration::from_secs(3600);
    /// // Strictly after: an occurrence at `after` itself is not returned.
    /// assert_eq!(hourly.next_after(one_am), Some(one_am + Duration::from_secs(3600)));
    ///
    /// // February 29th: every fourth year or so, but it fires.
    /// let leap = CronSchedule::parse_utc("0 0 29 2 *")?;
    /// assert!(leap.next_after(one_am).is_some());
    /// # Ok::<(), runner_ticker::cron::CronError>(())
    /// ```
    #[must_use]
    pub fn next_after(&self, after: SystemTime) -> Option<SystemTime> {
        let after_ts = Timestamp::try_from(after).ok()?;
        // croner works in whole seconds and, when not inclusive, starts one second after its
        // start. Flooring (not truncating toward zero, which differs before 1970) keeps every
        // result strictly after `after` without skipping the next whole second.
        let floor = after_ts.as_second() - i64::from(after_ts.subsec_nanosecond() < 0);
        let start = Timestamp::from_second(floor)
            .ok()?
            .to_zoned(self.inner.tz.clone());
        let next = self.inner.cron.find_next_occurrence(&start, false).ok()?;
        // croner guarantees a later instant; should it not, end the schedule rather than hand a
        // ticker a time that is already past, over and over.
        Some(SystemTime::from(next.timestamp())).filter(|next| *next > after)
    }

    /// The expression as given.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_ticker::cron::CronSchedule;
    ///
    /// let schedule = CronSchedule::parse("0 9 * * mon-fri", "Europe/Paris")?;
    /// assert_eq!(schedule.expression(), "0 9 * * mon-fri");
    /// # Ok::<(), runner_ticker::cron::CronError>(())
    /// ```
    #[must_use]
    pub fn expression(&self) -> &str {
        &self.inner.expression
    }

    /// The zone name, as given to [`parse`](CronSchedule::parse) (`"UTC"` after
    /// [`parse_utc`](CronSchedule::parse_utc)).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_ticker::cron::CronSchedule;
    ///
    /// let schedule = CronSchedule::parse("0 9 * * *", "Asia/Tokyo")?;
    /// assert_eq!(schedule.zone(), "Asia/Tokyo");
    /// # Ok::<(), runner_ticker::cron::CronError>(())
    /// ```
    #[must_use]
    pub fn zone(&self) -> &str {
        &self.inner.zone
    }

    fn new(expression: &str, zone: &str, cron: Cron, tz: TimeZone) -> CronSchedule {
        CronSchedule {
            inner: Arc::new(Inner {
                expression: expression.to_owned(),
                zone: zone.to_owned(),
                cron,
                tz,
            }),
        }
    }
}

/// Error returned by [`CronSchedule::parse`] and [`CronSchedule::parse_utc`]: names the field
/// that is wrong.
///
/// # Examples
///
/// ```
/// use runner_ticker::cron::{CronError, CronField, CronSchedule};
///
/// assert_eq!(
///     CronSchedule::parse_utc("* * * 13 *").unwrap_err(),
///     CronError::InvalidField { field: CronField::Month, reason: "`13` is out of range 1-12".into() },
/// );
/// assert_eq!(
///     CronSchedule::parse_utc("@daily").unwrap_err(),
///     CronError::FieldCount { found: 1 },
/// );
/// assert_eq!(
///     CronSchedule::parse("* * * * *", "Mars/Olympus_Mons").unwrap_err().to_string(),
///     "unknown time zone `Mars/Olympus_Mons`",
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CronError {
    /// A field is not valid, e.g. "cron field `hour` is invalid: `25` is out of range 0-23".
    #[error("cron field `{field}` is invalid: {reason}")]
    InvalidField {
        /// The field that is wrong (the first from the left, if several are).
        field: CronField,
        /// What is wrong with it, quoting the offending part.
        reason: String,
    },
    /// The expression does not have 5 or 6 whitespace-separated fields.
    #[error(
        "cron expression has {found} fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (with leading seconds)"
    )]
    FieldCount {
        /// How many fields it has.
        found: usize,
    },
    /// The time zone name is not in the time zone database.
    #[error("unknown time zone `{0}`")]
    UnknownZone(String),
    /// Every field is valid, but no date ever matches them all (February 30th, April 31st): a
    /// ticker on it would never run.
    #[error("cron expression `{0}` never fires: no date matches all its fields")]
    NeverFires(String),
}

/// A field of a cron expression, named by [`CronError::InvalidField`].
///
/// Displays as `seconds`, `minute`, `hour`, `day-of-month`, `month` or `day-of-week`.
///
/// # Examples
///
/// ```
/// use runner_ticker::cron::CronField;
///
/// assert_eq!(CronField::DayOfMonth.to_string(), "day-of-month");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CronField {
    /// Seconds, 0-59: the first field of the 6-field form.
    Seconds,
    /// Minute, 0-59.
    Minute,
    /// Hour, 0-23.
    Hour,
    /// Day of the month, 1-31.
    DayOfMonth,
    /// Month, 1-12 or `JAN`-`DEC`.
    Month,
    /// Day of the week, 0-7 (0 and 7 are Sunday) or `SUN`-`SAT`.
    DayOfWeek,
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Seconds => "seconds",
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
        })
    }
}

/// What one field accepts.
struct FieldSpec {
    field: CronField,
    min: u32,
    max: u32,
    /// Names for the values `names_from`, `names_from + 1`, ...
    names: &'static [&'static str],
    names_from: u32,
    /// Whether `?` (alone) is accepted, meaning `*`.
    question_mark: bool,
}

const SECONDS: FieldSpec = FieldSpec::numeric(CronField::Seconds, 0, 59);
const MINUTE: FieldSpec = FieldSpec::numeric(CronField::Minute, 0, 59);
const HOUR: FieldSpec = FieldSpec::numeric(CronField::Hour, 0, 23);
const DAY_OF_MONTH: FieldSpec = FieldSpec {
    question_mark: true,
    ..FieldSpec::numeric(CronField::DayOfMonth, 1, 31)
};
const MONTH: FieldSpec = FieldSpec {
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
    names_from: 1,
    ..FieldSpec::numeric(CronField::Month, 1, 12)
};
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    names_from: 0,
    question_mark: true,
    ..FieldSpec::numeric(CronField::DayOfWeek, 0, 7)
};

const FIVE_FIELDS: [&FieldSpec; 5] = [&MINUTE, &HOUR, &DAY_OF_MONTH, &MONTH, &DAY_OF_WEEK];
const SIX_FIELDS: [&FieldSpec; 6] = [
    &SECONDS,
    &MINUTE,
    &HOUR,
    &DAY_OF_MONTH,
    &MONTH,
    &DAY_OF_WEEK,
];

impl FieldSpec {
    const fn numeric(field: CronField, min: u32, max: u32) -> FieldSpec {
        FieldSpec {
            field,
            min,
            max,
            names: &[],
            names_from: 0,
            question_mark: false,
        }
    }

    fn invalid(&self, reason: String) -> CronError {
        CronError::InvalidField {
            field: self.field,
            reason,
        }
    }

    /// Checks one field and rewrites it with numbers only (`?` becomes `*`), so the engine
    /// never sees a name or a `?`.
    fn normalize(&self, text: &str) -> Result<String, String> {
        if text == "?" {
            return if self.question_mark {
                Ok("*".to_owned())
            } else {
                Err("`?` is only allowed in day-of-month and day-of-week".to_owned())
            };
        }
        let mut normalized = String::with_capacity(text.len());
        for (index, element) in text.split(',').enumerate() {
            if index > 0 {
                normalized.push(',');
            }
            if element.is_empty() {
                return Err(format!("`{text}` has an empty list element"));
            }
            self.normalize_element(element, &mut normalized)?;
        }
        Ok(normalized)
    }

    /// One element of a list: `*`, `a`, `a-b`, `*/n` or `a-b/n`.
    fn normalize_element(&self, element: &str, out: &mut String) -> Result<(), String> {
        let (base, step) = match element.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (element, None),
        };
        if base == "*" {
            out.push('*');
        } else if let Some((start, end)) = base.split_once('-') {
            if start.is_empty() || end.is_empty() || end.contains('-') {
                return Err(format!("`{base}` is not a range `a-b`"));
            }
            let (first, mut last) = (self.value(start)?, self.value(end)?);
            if self.field == CronField::DayOfWeek && first > 0 && end.eq_ignore_ascii_case("SUN") {
                // `SAT-SUN` ends on Sunday counted as day 7, as in Vixie cron.
                last = 7;
            }
            if first > last {
                return Err(format!(
                    "range `{base}` goes backwards ({first} is after {last}); split it in two"
                ));
            }
            out.push_str(&format!("{first}-{last}"));
        } else if let Some(step) = step {
            return Err(format!(
                "`{element}` has a step without a range; write `*/{step}` or `{base}-{}/{step}`",
                self.max
            ));
        } else {
            out.push_str(&self.value(base)?.to_string());
        }
        if let Some(step) = step {
            let n = number(step).ok_or_else(|| format!("step `{step}` is not a number"))?;
            if !(1..=self.max).contains(&n) {
                return Err(format!("step `{step}` is out of range 1-{}", self.max));
            }
            out.push_str(&format!("/{n}"));
        }
        Ok(())
    }

    /// A single value: a number in range, or a name.
    fn value(&self, token: &str) -> Result<u32, String> {
        if let Some(n) = number(token) {
            return if (self.min..=self.max).contains(&n) {
                Ok(n)
            } else {
                Err(self.out_of_range(token))
            };
        }
        if token.bytes().all(|b| b.is_ascii_digit()) && !token.is_empty() {
            // Too many digits for a u32: out of range all the same.
            return Err(self.out_of_range(token));
        }
        if let Some(value) = (self.names_from..)
            .zip(self.names)
            .find_map(|(value, name)| name.eq_ignore_ascii_case(token).then_some(value))
        {
            return Ok(value);
        }
        if token.contains('?') {
            return Err(if self.question_mark {
                "`?` must be the whole field".to_owned()
            } else {
                "`?` is only allowed in day-of-month and day-of-week".to_owned()
            });
        }
        if is_extension(token) {
            return Err(format!(
                "`{token}` is not standard cron (`L`, `W`, `#` and `+` are not supported)"
            ));
        }
        Err(match (self.names.first(), self.names.last()) {
            (Some(first), Some(last)) => format!(
                "`{token}` is not a number in {}-{} or a name {first}-{last}",
                self.min, self.max
            ),
            _ => format!("`{token}` is not a number in {}-{}", self.min, self.max),
        })
    }

    fn out_of_range(&self, token: &str) -> String {
        let sunday = if self.field == CronField::DayOfWeek {
            " (0 and 7 are Sunday)"
        } else {
            ""
        };
        format!(
            "`{token}` is out of range {}-{}{sunday}",
            self.min, self.max
        )
    }
}

/// ASCII digits only (no sign, no spaces) that fit a `u32`.
fn number(token: &str) -> Option<u32> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

/// `L`, `5L`, `15W`, `LW`, `5#2`, `+MON`: extensions some crons accept and this module does not.
fn is_extension(token: &str) -> bool {
    let upper = token.to_ascii_uppercase();
    let stem = upper.trim_end_matches(['L', 'W']);
    upper.contains('#')
        || upper.starts_with('+')
        || (stem.len() < upper.len() && stem.bytes().all(|b| b.is_ascii_digit()))
}

/// Validates every field, then hands croner the normalized 6-field expression.
fn parse_expression(expression: &str) -> Result<Cron, CronError> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    let specs: &[&FieldSpec] = match fields.len() {
        5 => &FIVE_FIELDS,
        6 => &SIX_FIELDS,
        found => return Err(CronError::FieldCount { found }),
    };
    let mut normalized = Vec::with_capacity(6);
    if fields.len() == 5 {
        normalized.push("0".to_owned());
    }
    for (spec, field) in specs.iter().zip(&fields) {
        normalized.push(
            spec.normalize(field)
                .map_err(|reason| spec.invalid(reason))?,
        );
    }
    engine_parse(&normalized.join(" ")).map_err(|engine_error| {
        // Unreachable unless the checks above accept something croner rejects: find the field
        // croner objects to by trying each one alone, so the error still names a field.
        let blame = blame_field(&normalized).unwrap_or(&DAY_OF_MONTH);
        blame.invalid(format!(
            "rejected by the cron engine: {}",
            tidy(&engine_error)
        ))
    })
}

fn engine_parse(six_fields: &str) -> Result<Cron, croner::errors::CronError> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .build()
        .parse(six_fields)
}

/// The first field that croner rejects on its own, with every other field set to a valid value.
fn blame_field(normalized: &[String]) -> Option<&'static FieldSpec> {
    const VALID: [&str; 6] = ["0", "0", "0", "1", "1", "*"];
    SIX_FIELDS
        .iter()
        .zip(normalized)
        .enumerate()
        .find_map(|(index, (spec, field))| {
            let mut probe = VALID;
            probe[index] = field;
            engine_parse(&probe.join(" ")).is_err().then_some(*spec)
        })
}

/// croner's messages start with a capital and end with a period; ours do neither.
fn tidy(error: &croner::errors::CronError) -> String {
    let message = error.to_string();
    let message = message.trim_end_matches('.');
    let mut chars = message.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(expression: &str) -> String {
        let fields: Vec<&str> = expression.split_whitespace().collect();
        let specs: &[&FieldSpec] = if fields.len() == 5 {
            &FIVE_FIELDS
        } else {
            &SIX_FIELDS
        };
        specs
            .iter()
            .zip(&fields)
            .map(|(spec, field)| spec.normalize(field).unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn schedule_is_pointer_sized_send_and_sync() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<CronSchedule>();
        send_sync::<CronError>();
        assert_eq!(size_of::<CronSchedule>(), size_of::<usize>());
    }

    #[test]
    fn names_and_question_marks_become_numbers_and_stars() {
        assert_eq!(normalized("0 9 ? jan-Mar,DEC mon-fri"), "0 9 * 1-3,12 1-5");
        assert_eq!(normalized("0 0 1 * ?"), "0 0 1 * *");
        assert_eq!(normalized("00 05 * * SAT-SUN"), "0 5 * * 6-7");
        assert_eq!(normalized("0 0 * * SUN-SUN"), "0 0 * * 0-0");
    }

    #[test]
    fn steps_and_lists_are_kept() {
        assert_eq!(
            normalized("*/10 0-30/5 1,2,3 */2 * 1-7/2"),
            "*/10 0-30/5 1,2,3 */2 * 1-7/2"
        );
    }

    #[test]
    fn extensions_are_recognized() {
        for token in ["L", "l", "5L", "15W", "LW", "5#2", "MON#1", "+MON"] {
            assert!(is_extension(token), "{token}");
        }
        for token in ["JUL", "W1", "5", "FOO", ""] {
            assert!(!is_extension(token), "{token}");
        }
    }

    #[test]
    fn every_normalized_field_is_accepted_by_croner() {
        // The validator and croner must agree, or `blame_field` would be reachable.
        for expression in [
            "*/15 * * * *",
            "0 9 * * MON-FRI",
            "30 2 * * *",
            "0 0 30 2 *",
            "0 0 * * 7",
            "0 0 * * 0-7/2",
            "0 0 ? * SUN",
            "59 23 31 12 SAT-SUN",
            "1-59/59 0-23/23 1-31/31 1-12/12 0-7/7",
            "0,30 1,2 1,15 JAN,jul MON,fri",
        ] {
            assert!(
                parse_expression(expression).is_ok(),
                "{expression}: {:?}",
                parse_expression(expression)
            );
        }
    }

    #[test]
    fn blame_finds_the_field_croner_rejects() {
        // Something only croner rejects (the checks above never let it through): a nth weekday
        // out of range in day-of-week.
        let fields = ["0", "0", "0", "1", "1", "5#9"].map(str::to_owned);
        let spec = blame_field(&fields).map(|spec| spec.field);
        assert_eq!(spec, Some(CronField::DayOfWeek));
        let fields = ["0", "0", "0", "1", "1", "*"].map(str::to_owned);
        assert!(blame_field(&fields).is_none());
    }

    #[test]
    fn engine_messages_are_tidied() {
        let error = engine_parse("0 0 0 1 1 5#9").unwrap_err();
        let tidy = tidy(&error);
        assert!(tidy.starts_with("component error"), "{tidy}");
        assert!(!tidy.ends_with('.'), "{tidy}");
    }
}
