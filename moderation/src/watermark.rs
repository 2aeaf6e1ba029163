//! Visible and invisible watermarks (being written).
