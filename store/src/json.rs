//! JSON kept in text columns (`cameos.reference`, `videos.frame_scores`, `generation_jobs.shots`,
//! `moderation_cases.reasons` and `.scores`, `feed_preferences.weights`). Every read goes through
//! [`read`]: a value that does not parse as the expected type is an internal error naming the
//! table, the column and the row, never a silent default that would change behaviour (empty
//! likeness features, no scores, no reasons).

use serde::Serialize;
use serde::de::DeserializeOwned;

use app_core::error::{AppError, AppResult};

/// Parses the JSON in `table.column` of the row `row`.
pub(crate) fn read<T: DeserializeOwned>(
    table: &str,
    column: &str,
    row: impl std::fmt::Display,
    raw: &str,
) -> AppResult<T> {
    serde_json::from_str(raw)
        .map_err(|e| AppError::internal(&format!("corrupt JSON in {table}.{column} of row {row}"), e))
}

/// Writes a value for a JSON column.
pub(crate) fn write<T: Serialize + ?Sized>(table: &str, column: &str, value: &T) -> AppResult<String> {
    serde_json::to_string(value).map_err(|e| AppError::internal(&format!("JSON for {table}.{column}"), e))
}
