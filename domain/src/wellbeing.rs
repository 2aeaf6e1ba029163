//! Wellbeing: how long a member has been in the feed, today and without a pause; a daily limit
//! (a teen's, set by their parent or the deployment's default, and anyone's own), after which
//! `feed` answers `LIMIT_REACHED` with the time it resets; and a take-a-break card after
//! `break_after` of continuous use (`feedItems`), for every member.
//!
//! # Counting
//!
//! Each feed page a member asks for is a tick ([`Meter::tick`]). The time since their previous
//! tick counts as feed time when it is at most [`GAP`] (5 minutes: scrolling, watching); a longer
//! pause starts a new session and counts nothing. A day is the member's calendar day in their
//! time zone (`users.time_zone`, UTC when unset); the limit resets at their midnight.
//!
//! # Where the counts live, and how stale they may be
//!
//! Each API node keeps a member's state in memory (one entry per member who used the feed in the
//! last 26 hours) and adds what it counted to the member's shared total in the feed cache (Redis
//! in production) at most every [`SYNC_EVERY`] (30 s), and at once when the limit is reached. So
//! with several nodes a member is counted within 30 s per node, and a limit holds to within that.
//! A member's limits (their age band, the parent's minutes, their own limit and time zone) are read
//! at most once a minute per node ([`LIMITS_TTL`]; from the member the request loaded, so only a
//! teen's controls cost a statement): a parent's change applies within a minute (at once on the
//! node that made it). The read-modify-write of the shared total is not atomic: two nodes syncing the
//! same member in the same instant can lose one node's last 30 s.
//!
//! Invariant: the meter never fails a feed request: when the feed cache does not answer, the
//! node's own count decides.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::Deps;
use app_core::error::AppResult;
use app_core::model::User;
use app_core::types::UserId;

/// A pause longer than this ends a session; shorter ones count as feed time.
pub const GAP: Duration = Duration::from_secs(300);
/// How often a node adds what it counted to a member's shared total.
pub const SYNC_EVERY: Duration = Duration::from_secs(30);
/// How long a node reuses a member's limits.
pub const LIMITS_TTL: Duration = Duration::from_secs(60);
/// How long a member's state is kept after their last tick.
const KEEP: Duration = Duration::from_secs(26 * 3600);

/// What the feed does with this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Serve it.
    Go,
    /// Serve it with a take-a-break card first: this many minutes without a pause.
    TakeABreak {
        /// Minutes of continuous use.
        minutes: u32,
    },
    /// The daily limit is used up: no feed until `resets_at`.
    LimitReached {
        /// The member's next midnight.
        resets_at: DateTime<Utc>,
        /// The limit, in minutes.
        minutes: u32,
    },
}

/// A member's limits as the meter uses them.
#[derive(Debug, Clone)]
struct Limits {
    daily_minutes: Option<u32>,
    tz: Tz,
    read_at: DateTime<Utc>,
}

/// A member's state on this node.
#[derive(Debug)]
struct State {
    day: Option<NaiveDate>,
    synced_secs: u64,
    unsynced_secs: u64,
    last_seen: Option<DateTime<Utc>>,
    session_start: DateTime<Utc>,
    last_sync: Option<DateTime<Utc>>,
    break_shown_at: Option<DateTime<Utc>>,
}

/// The shared total of one member's day.
#[derive(Debug, Serialize, Deserialize)]
struct Shared {
    day: NaiveDate,
    secs: u64,
}

/// Reads a member's time zone (`None` when unset or unknown: UTC).
pub fn time_zone(name: Option<&str>) -> Tz {
    name.and_then(|n| n.parse::<Tz>().ok()).unwrap_or(Tz::UTC)
}

/// The next midnight after `now` in `tz`, in UTC (a midnight skipped by a clock change: the first
/// moment of that day).
pub fn next_midnight(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let today = now.with_timezone(&tz).date_naive();
    let tomorrow = today.succ_opt().unwrap_or(today);
    let mut t = tomorrow.and_time(chrono::NaiveTime::MIN);
    for _ in 0..4 {
        if let Some(at) = tz.from_local_datetime(&t).earliest() {
            return at.with_timezone(&Utc);
        }
        t += chrono::Duration::minutes(30);
    }
    now + chrono::Duration::hours(24)
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn secs(d: chrono::Duration) -> u64 {
    u64::try_from(d.num_seconds()).unwrap_or(0)
}

/// The feed-time meter of one API node.
#[derive(Clone)]
pub struct Meter {
    deps: Arc<Deps>,
    break_after: Duration,
    states: moka::sync::Cache<UserId, Arc<Mutex<State>>>,
    limits: moka::sync::Cache<UserId, Limits>,
}

impl Meter {
    /// A meter that offers a break after `break_after` of continuous use.
    pub fn new(deps: Arc<Deps>, break_after: Duration) -> Self {
        Meter {
            deps,
            break_after,
            states: moka::sync::Cache::builder().max_capacity(1_000_000).time_to_idle(KEEP).build(),
            limits: moka::sync::Cache::builder().max_capacity(1_000_000).time_to_live(LIMITS_TTL).build(),
        }
    }

    /// Forgets what this node knows of `user`'s limits (they changed here).
    pub fn limits_changed(&self, user: UserId) {
        self.limits.invalidate(&user);
    }

    /// The member's limits: this node's copy while fresh, else read (from `known`, the member
    /// as this request loaded them, when given: then only a teen's controls are read).
    async fn limits(&self, user: UserId, known: Option<&User>, now: DateTime<Utc>) -> AppResult<Limits> {
        if let Some(l) = self.limits.get(&user)
            && now - l.read_at < chrono::Duration::from_std(LIMITS_TTL).unwrap_or_default()
        {
            return Ok(l);
        }
        let store = &self.deps.store;
        let loaded = match known {
            Some(u) => Some(u.clone()),
            None => store.user(user).await?,
        };
        let Some(u) = loaded else {
            return Ok(Limits { daily_minutes: None, tz: Tz::UTC, read_at: now });
        };
        let (tz, own) = (u.time_zone.clone(), u.daily_feed_minutes);
        let teen = self.deps.is_teen(&u);
        let parent = if teen {
            let c = store.teen_controls(user).await?;
            Some(c.daily_feed_minutes.unwrap_or(self.deps.rules.teen_daily_feed_minutes))
        } else {
            None
        };
        let daily_minutes = match (parent, own) {
            (Some(p), Some(o)) => Some(p.min(o)),
            (p, o) => p.or(o),
        };
        let l = Limits { daily_minutes, tz: time_zone(tz.as_deref()), read_at: now };
        self.limits.insert(user, l.clone());
        Ok(l)
    }

    /// Counts this feed request of `user` and says what to do with it. `known`: the member as
    /// this request loaded them (saves reading them). `show_break`: the caller can show a
    /// take-a-break card (one is then due again only after another `break_after`).
    pub async fn tick(&self, user: UserId, known: Option<&User>, show_break: bool) -> AppResult<Decision> {
        let now = self.deps.clock.now();
        let limits = self.limits(user, known, now).await?;
        let today = now.with_timezone(&limits.tz).date_naive();
        let cell = self.states.get_with(user, || {
            Arc::new(Mutex::new(State {
                day: None,
                synced_secs: 0,
                unsynced_secs: 0,
                last_seen: None,
                session_start: now,
                last_sync: None,
                break_shown_at: None,
            }))
        });
        let gap = chrono::Duration::from_std(GAP).unwrap_or_default();
        let sync_every = chrono::Duration::from_std(SYNC_EVERY).unwrap_or_default();
        let limit_secs = limits.daily_minutes.map(|m| u64::from(m) * 60);
        let flush = {
            let mut s = lock(&cell);
            if s.day != Some(today) {
                s.day = Some(today);
                s.synced_secs = 0;
                s.unsynced_secs = 0;
                s.last_sync = None;
            }
            match s.last_seen {
                Some(t) if now >= t && now - t <= gap => s.unsynced_secs += secs(now - t),
                _ => {
                    s.session_start = now;
                    s.break_shown_at = None;
                }
            }
            s.last_seen = Some(now);
            let used = s.synced_secs + s.unsynced_secs;
            let due = s.last_sync.is_none_or(|t| now - t >= sync_every) || limit_secs.is_some_and(|l| used >= l);
            due.then(|| {
                let d = s.unsynced_secs;
                s.unsynced_secs = 0;
                s.last_sync = Some(now);
                d
            })
        };
        if let Some(delta) = flush {
            match self.sync(user, today, delta).await {
                Some(total) => lock(&cell).synced_secs = total,
                // The feed cache did not answer: keep counting here.
                None => lock(&cell).synced_secs += delta,
            }
        }
        let mut s = lock(&cell);
        let used = s.synced_secs + s.unsynced_secs;
        if let (Some(l), Some(m)) = (limit_secs, limits.daily_minutes)
            && used >= l
        {
            return Ok(Decision::LimitReached { resets_at: next_midnight(now, limits.tz), minutes: m });
        }
        let after = chrono::Duration::from_std(self.break_after).unwrap_or_default();
        let continuous = now - s.session_start;
        if show_break && continuous >= after && s.break_shown_at.is_none_or(|t| now - t >= after) {
            s.break_shown_at = Some(now);
            return Ok(Decision::TakeABreak { minutes: u32::try_from(continuous.num_minutes()).unwrap_or(u32::MAX) });
        }
        Ok(Decision::Go)
    }

    /// Minutes of feed `user` used today, as this node knows it.
    pub async fn minutes_today(&self, user: UserId) -> AppResult<u32> {
        let now = self.deps.clock.now();
        let limits = self.limits(user, None, now).await?;
        let today = now.with_timezone(&limits.tz).date_naive();
        let local = self.states.get(&user).map(|c| {
            let s = lock(&c);
            if s.day == Some(today) { s.synced_secs + s.unsynced_secs } else { 0 }
        });
        Ok(u32::try_from(local.unwrap_or(0) / 60).unwrap_or(u32::MAX))
    }

    /// Adds `delta` seconds to the member's shared total for `day`; the new total, or none when
    /// the feed cache did not answer.
    async fn sync(&self, user: UserId, day: NaiveDate, delta: u64) -> Option<u64> {
        let key = format!("scroll:{}", user.0.simple());
        let cache = &self.deps.feed_cache;
        let before = match cache.get(&key).await {
            Ok(b) => {
                b.and_then(|b| serde_json::from_slice::<Shared>(&b).ok()).filter(|s| s.day == day).map_or(0, |s| s.secs)
            }
            Err(e) => {
                tracing::debug!(error = %e, "feed time not shared: the feed cache does not answer");
                return None;
            }
        };
        let total = before + delta;
        let bytes = serde_json::to_vec(&Shared { day, secs: total }).ok()?;
        if let Err(e) = cache.set(&key, &bytes, KEEP).await {
            tracing::debug!(error = %e, "feed time not shared: the feed cache does not answer");
            return None;
        }
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midnight_in_a_time_zone() {
        let now = Utc.with_ymd_and_hms(2026, 12, 5, 23, 30, 0).unwrap();
        assert_eq!(next_midnight(now, Tz::UTC), Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0).unwrap());
        // 23:30 UTC is 18:30 in New York (UTC-5): its midnight is 05:00 UTC.
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(next_midnight(now, ny), Utc.with_ymd_and_hms(2026, 12, 6, 5, 0, 0).unwrap());
        // Already the next day in Tokyo (08:30 on the 6th): midnight of the 7th, 15:00 UTC on the 6th.
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        assert_eq!(next_midnight(now, tokyo), Utc.with_ymd_and_hms(2026, 12, 6, 15, 0, 0).unwrap());
        assert_eq!(time_zone(Some("Mars/Olympus")), Tz::UTC);
    }
}
