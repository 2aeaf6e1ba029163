//! Text that members write (prompts, captions, comments, notes): the shape checks every such
//! field passes before any rule reads it, and the mapping of the content policy's findings to
//! `POLICY_VIOLATION`.
//!
//! Invariant: a text reaches the policy, the store or a model only through [`clean_text`]
//! (trimmed, 1 to `max` characters, no control characters but newlines).

use app_core::error::{AppError, AppResult};

/// Trims `text` and checks it has 1 to `max` characters and no control characters but newlines.
pub fn clean_text(field: &'static str, text: &str, max: usize, what: &str) -> AppResult<String> {
    let t = text.trim();
    let n = t.chars().count();
    if n == 0 || n > max {
        return Err(AppError::bad_input(field, format!("{what} must have 1 to {max} characters")));
    }
    if t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AppError::bad_input(field, format!("{what} may not contain control characters")));
    }
    Ok(t.to_owned())
}

/// `POLICY_VIOLATION` with one reason per broken rule, or Ok when there are none.
pub fn refuse_violations(violations: Vec<moderation::policy::Violation>) -> AppResult<()> {
    if violations.is_empty() {
        Ok(())
    } else {
        Err(AppError::PolicyViolation { reasons: violations.into_iter().map(|v| v.reason).collect() })
    }
}
