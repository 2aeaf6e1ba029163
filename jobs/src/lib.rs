//! Wire types and the job queue (being written).
