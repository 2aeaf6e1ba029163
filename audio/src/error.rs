//! What can go wrong while mixing a sound track, in words a person understands.
//!
//! Invariant: no variant carries a library's own error type or wording; each says what was
//! wrong with the input or which step failed.

/// Why a sound track could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AudioError {
    /// A mix setting is not a usable number (NaN, infinite or out of its range).
    #[error("the mix setting `{setting}` is {value}, which is not usable: {expected}")]
    InvalidSetting {
        /// The setting's name.
        setting: &'static str,
        /// The value given, as text.
        value: String,
        /// What a usable value looks like.
        expected: &'static str,
    },
    /// A speech line's start time is not a finite number of seconds.
    #[error("spoken line {line} starts at {start}, which is not a time on the track")]
    InvalidPlacement {
        /// The line's position in the list (1-based).
        line: usize,
        /// The start time given, as text.
        start: String,
    },
    /// The loudness meter could not measure the track.
    #[error("the track's loudness could not be measured ({step})")]
    Measurement {
        /// Which step of the measurement failed, in words.
        step: &'static str,
    },
}
