//! Jobs: the wire types the backend and the generator exchange (`JobSpec`, `JobEvent`,
//! `JobOutput`) and the durable job queue with its event channel (`JobQueue`), run either
//! in-process or on Redis Streams with consumer groups; and the conditioning contract between
//! them, a cameo's reference vector ([`reference`]).
//!
//! Architecture invariant: this crate owns message shapes, delivery, retry, reclaim,
//! dead-lettering and cancellation, nothing more. It knows nothing of HTTP, GraphQL, SQL or
//! ONNX: what a job *means* (video rows, pipelines, users) belongs to its callers. A job is
//! delivered at least once; callers make its effect exactly-once by keying on `job_id`.

mod error;
mod queue;
pub mod reference;
mod settings;
mod wire;

/// A prompt's dialogue (`Script`), as the backend checks it and the generator speaks it.
pub use app_core::dialogue;
/// A video's id (`ShotSource` names videos by it).
pub use app_core::types::VideoId;
pub use error::QueueError;
pub use queue::{DeadLetter, Delivery, JobQueue, MemoryQueue, RedisQueue, ShotWork};
pub use settings::QueueSettings;
pub use wire::{
    AspectRatio, AudioMode, CameoRef, DialogueLine, JobEvent, JobOutput, JobSpec, PartRef, RemixRef, Shot, ShotSource,
    StageMillis, Transition, kept_shots_folder,
};
