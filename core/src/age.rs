//! Age: what is kept of a member's date of birth, and the age bands the rules use.
//!
//! Sign-up asks for a full date of birth (`YYYY-MM-DD`) and decides the under-13 refusal on it;
//! only the birth **year and month** are kept ([`BirthMonth`], column `users.birth_month`,
//! `YYYY-MM`). Every later decision (teen or adult) reads the month and assumes the birthday falls
//! on its **last day**, so a member is never taken for older than they are: a member born in
//! December 2008 is a teen until 1 January 2027, at most a month longer than their real birthday.
//! Members who joined before age checks existed, or on a deployment that turns them off, have no
//! birth month and count as adults (they were admitted under the old terms).
//!
//! [`Clock`] is the time the rules read where a test must move it (daily limits, quiet hours,
//! birthdays); everything else reads `Utc::now()`.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// The youngest age at which anyone may join.
pub const MIN_AGE: u32 = 13;
/// The age from which a member is an adult.
pub const ADULT_AGE: u32 = 18;

/// A birth year and month: all that is kept of a date of birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct BirthMonth {
    year: i32,
    month: u32,
}

/// Why a typed date of birth is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BirthDateError {
    /// Not `YYYY-MM-DD`, or no such day.
    Malformed,
    /// After today, or more than 120 years ago.
    Implausible,
}

impl BirthMonth {
    /// The month of a date.
    pub fn of(date: NaiveDate) -> Self {
        BirthMonth { year: date.year(), month: date.month() }
    }

    /// Reads the stored spelling `YYYY-MM`.
    pub fn parse(s: &str) -> Option<Self> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let year: i32 = y.parse().ok()?;
        let month: u32 = m.parse().ok()?;
        (1..=12).contains(&month).then_some(BirthMonth { year, month })
    }

    /// The stored spelling, `YYYY-MM`.
    pub fn as_string(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// Age in whole years on `today`, taking the birthday to be the last day of the month.
    pub fn age_on(self, today: NaiveDate) -> u32 {
        let years = today.year() - self.year;
        // Before the end of the birth month this year: the birthday may not have come yet.
        let had_birthday = today.month() > self.month;
        let age = if had_birthday { years } else { years - 1 };
        u32::try_from(age).unwrap_or(0)
    }

    /// Whether a member born this month is 13 to 17 on `today`.
    pub fn is_teen_on(self, today: NaiveDate) -> bool {
        self.age_on(today) < ADULT_AGE
    }

    /// The latest birth month of an adult on `today` (for queries that compare stored months:
    /// an owner whose month is after it is a teen).
    pub fn adult_cutoff(today: NaiveDate) -> Self {
        // Adult on `today` ⇔ the last day of the birth month plus 18 years is on or before today
        // ⇔ the birth month is at least 18 years and one month before this month.
        let total = today.year() * 12 + i32::try_from(today.month()).unwrap_or(1) - 1 - 12 * ADULT_AGE as i32 - 1;
        BirthMonth { year: total.div_euclid(12), month: u32::try_from(total.rem_euclid(12)).unwrap_or(0) + 1 }
    }
}

/// Reads a typed date of birth (`YYYY-MM-DD`) and gives the age on `today` (exact, by the day).
pub fn parse_birth_date(s: &str, today: NaiveDate) -> Result<(BirthMonth, u32), BirthDateError> {
    let date = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| BirthDateError::Malformed)?;
    if date > today {
        return Err(BirthDateError::Implausible);
    }
    let mut age = today.year() - date.year();
    if (today.month(), today.day()) < (date.month(), date.day()) {
        age -= 1;
    }
    let age = u32::try_from(age).map_err(|_| BirthDateError::Implausible)?;
    if age > 120 {
        return Err(BirthDateError::Implausible);
    }
    Ok((BirthMonth::of(date), age))
}

/// The time the rules read.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock a test sets and moves.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(std::sync::Mutex::new(at))
    }

    /// Moves it by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }

    /// Sets it to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut t) = self.0.lock() {
            *t = at;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|t| *t).unwrap_or_else(|e| *e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn exact_age_at_sign_up() {
        let today = day("2026-12-05");
        assert_eq!(parse_birth_date("2013-12-05", today).unwrap().1, 13);
        assert_eq!(parse_birth_date("2013-12-06", today).unwrap().1, 12);
        assert_eq!(parse_birth_date("2008-12-05", today).unwrap().1, 18);
        assert_eq!(parse_birth_date("2013-12-06", today).unwrap().0.as_string(), "2013-12");
        assert_eq!(parse_birth_date("2013-13-01", today), Err(BirthDateError::Malformed));
        assert_eq!(parse_birth_date("05/12/2013", today), Err(BirthDateError::Malformed));
        assert_eq!(parse_birth_date("2027-01-01", today), Err(BirthDateError::Implausible));
        assert_eq!(parse_birth_date("1890-01-01", today), Err(BirthDateError::Implausible));
    }

    #[test]
    fn the_month_reads_as_its_last_day() {
        let dec_2008 = BirthMonth::parse("2008-12").unwrap();
        assert!(dec_2008.is_teen_on(day("2026-12-31")), "the 18th birthday may be the 31st");
        assert!(!dec_2008.is_teen_on(day("2027-01-01")));
        let nov_2008 = BirthMonth::parse("2008-11").unwrap();
        assert!(!nov_2008.is_teen_on(day("2026-12-01")));
        assert_eq!(BirthMonth::adult_cutoff(day("2026-12-05")).as_string(), "2008-11");
        assert_eq!(BirthMonth::adult_cutoff(day("2027-01-01")).as_string(), "2008-12");
        assert_eq!(BirthMonth::adult_cutoff(day("2026-02-10")).as_string(), "2008-01");
        // The cut-off and the per-member rule agree on every month around it.
        for s in ["2008-10", "2008-11", "2008-12", "2009-01"] {
            let m = BirthMonth::parse(s).unwrap();
            let today = day("2026-12-05");
            assert_eq!(m > BirthMonth::adult_cutoff(today), m.is_teen_on(today), "{s}");
        }
        assert_eq!(BirthMonth::parse("2008-00"), None);
        assert_eq!(BirthMonth::parse("08-11"), None);
    }

    #[test]
    fn manual_clock_moves() {
        let t = Utc::now();
        let c = ManualClock::new(t);
        c.advance(chrono::Duration::minutes(5));
        assert_eq!(c.now(), t + chrono::Duration::minutes(5));
    }
}
