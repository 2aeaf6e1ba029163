//! Moderation: the prompt policy and watermarks. The frame classifier, C2PA signing and the
//! publish gate arrive with the rest of the Moderation issue.
//!
//! Architecture invariant: a library; knows nothing of HTTP, GraphQL, SQL or the backend.

pub mod frames;
pub mod policy;
pub mod provenance;
pub mod watermark;
