//! The prompt policy (being written).
