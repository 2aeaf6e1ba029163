//! Media encoding and storage (being written).
