//! Media: turns RGB frames (and a sound track, as Opus) into a streamable H.264 MP4 and JPEG
//! thumbnails, reads MP4s back
//! (probe and full decode), rewrites browser recordings (fragmented MP4) into plain MP4s, and
//! keeps media bytes in a `MediaStore` (local disk or S3/MinIO).
//!
//! Architecture invariant: this crate owns pixels, codecs, containers and object keys, nothing
//! more. It knows nothing of HTTP, GraphQL, SQL or ONNX: callers hand it frames and keys, and it
//! hands back bytes, facts about those bytes, and a `MediaError`.

#![warn(missing_docs)]

mod audio;
mod encode;
mod error;
pub mod ingest;
mod normalize;
mod read;
mod store;
mod thumbnail;

pub use audio::{AUDIO_RATE, OpusPackets, Pcm, SoundTrack, decode_opus, read_opus};
pub use encode::{EncodeOptions, EncodeTimings, EncodedVideo, H264Stream, MAX_SIDE, encode_mp4, encode_mp4_with_audio};
pub use error::MediaError;
pub use normalize::normalize_mp4;
pub use read::{Mp4Info, decode_mp4, decode_mp4_each, decode_mp4_prefix, is_faststart, probe_mp4};
pub use store::{Listing, MediaStore, StoredObject};
pub use thumbnail::{strip_jpeg, thumbnail_jpeg};
