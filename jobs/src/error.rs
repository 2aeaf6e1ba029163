//! The crate's one error type.

use std::time::Duration;

/// Why a queue or event-channel operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis refused the command or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A message could not be written as JSON.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// Redis did not answer a blocking read within its block time plus a margin.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis answered with a shape this crate does not expect.
    #[error("unexpected reply from redis: {0}")]
    UnexpectedReply(String),
    /// A `QueueSettings` value is unusable; the message names the field.
    #[error("invalid queue setting: {0}")]
    InvalidSettings(&'static str),
}
