//! Moderation: the prompt policy ([`policy`]), the frame classifier ([`frames`]), the visible and
//! invisible watermarks ([`watermark`]) and C2PA signing and verification ([`provenance`]).
//!
//! Architecture invariant: a library; knows nothing of HTTP, GraphQL, SQL or the service. It
//! provides the checks; combining them into decisions is its callers' job: the generator's
//! finishing stages (frame check, marks, signing of every clip), and the domain's publish gate,
//! `verifyProvenance` and cameo clip check (`domain::moderation`, `domain::gate`), which read the
//! stored file and the database this crate must not know. ONNX Runtime allows one environment per
//! process: [`policy::environment`] makes one for a process that has none (tests, examples); the
//! service passes the generator's to `PromptPolicy::load_with` and `FrameClassifier::load_with`.

pub mod frames;
pub mod policy;
pub mod provenance;
pub mod watermark;
