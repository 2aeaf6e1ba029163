//! Tuning knobs shared by both queue engines.

use std::time::Duration;

use crate::QueueError;

/// How long a backoff may grow: `retry_backoff * 2^MAX_BACKOFF_DOUBLINGS`.
const MAX_BACKOFF_DOUBLINGS: u32 = 16;

/// How deliveries are retried, reclaimed and given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// Deliveries a job gets before it is dead-lettered and reported failed (default 3).
    pub max_deliveries: u32,
    /// A delivery neither acked nor kept alive for this long belongs to a dead worker and is
    /// handed to the next consumer that asks (default 60 s).
    pub reclaim_idle: Duration,
    /// Delay before a `retry_later` job is delivered again; doubles per attempt, and never
    /// exceeds `reclaim_idle` (default 2 s).
    pub retry_backoff: Duration,
    /// How long a worker told to stop may keep working on the job in hand before it hands the
    /// job back (`JobQueue::requeue`, no attempt counted) for another worker (default 240 s).
    pub stop_grace: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            max_deliveries: 3,
            reclaim_idle: Duration::from_secs(60),
            retry_backoff: Duration::from_secs(2),
            stop_grace: Duration::from_secs(240),
        }
    }
}

impl QueueSettings {
    /// Checks the values at start; the error names the offending field.
    pub fn validate(&self) -> Result<(), QueueError> {
        if self.max_deliveries == 0 {
            return Err(QueueError::InvalidSettings("max_deliveries must be at least 1"));
        }
        if self.reclaim_idle < Duration::from_millis(1) {
            return Err(QueueError::InvalidSettings("reclaim_idle must be at least 1 ms"));
        }
        Ok(())
    }

    /// Delay before a job that failed its `attempt`-th delivery is offered again:
    /// `retry_backoff * 2^(attempt-1)`, capped at `reclaim_idle`.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(MAX_BACKOFF_DOUBLINGS);
        self.retry_backoff.saturating_mul(1 << doublings).min(self.reclaim_idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_per_attempt_and_stops_at_reclaim_idle() {
        let s = QueueSettings {
            max_deliveries: 5,
            reclaim_idle: Duration::from_secs(10),
            retry_backoff: Duration::from_secs(2),
            ..QueueSettings::default()
        };
        let delays: Vec<u64> = (1..=5).map(|a| s.retry_delay(a).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 10, 10]);
        assert_eq!(s.retry_delay(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn validate_names_the_bad_field() {
        assert!(QueueSettings::default().validate().is_ok());
        let zero = QueueSettings { max_deliveries: 0, ..QueueSettings::default() };
        assert!(zero.validate().unwrap_err().to_string().contains("max_deliveries"));
        let idle = QueueSettings { reclaim_idle: Duration::ZERO, ..QueueSettings::default() };
        assert!(idle.validate().unwrap_err().to_string().contains("reclaim_idle"));
    }
}
