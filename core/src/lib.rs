//! The kernel shared by every layer of the service: ids and the redacting [`types::Secret`],
//! the domain records and state enums ([`model`]), and the one error type ([`error::AppError`]).
//!
//! Invariant: no I/O and no framework here. Nothing in this crate talks to a database, a cache,
//! HTTP or GraphQL; the optional `db` feature only lets the store turn a database error into
//! [`error::AppError::Unavailable`] (the database does not answer; the cause logged through
//! `tracing`) or [`error::AppError::Internal`].

pub mod age;
pub mod dialogue;
pub mod error;
pub mod model;
pub mod telemetry;
pub mod types;
