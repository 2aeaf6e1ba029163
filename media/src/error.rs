//! The one error type of the crate.

/// Everything that can go wrong while encoding, reading or storing media.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Width or height is zero, odd, or larger than the crate accepts.
    #[error("invalid frame size {width}x{height}: both sides must be even and between 2 and {max}")]
    InvalidDimensions {
        /// Requested width in pixels.
        width: usize,
        /// Requested height in pixels.
        height: usize,
        /// Largest side accepted.
        max: usize,
    },
    /// No frames were given to encode.
    #[error("no frames to encode")]
    NoFrames,
    /// A frame buffer does not hold exactly width × height × 3 bytes.
    #[error("frame {index} has {actual} bytes, expected {expected} (RGB, 3 bytes per pixel)")]
    FrameSize {
        /// Position of the offending frame.
        index: usize,
        /// Bytes expected for the declared size.
        expected: usize,
        /// Bytes actually given.
        actual: usize,
    },
    /// An encode option is out of range.
    #[error("invalid encode option {name}: {reason}")]
    InvalidOption {
        /// Name of the option.
        name: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The H.264 encoder failed.
    #[error("H.264 encoder failed: {0}")]
    Encode(#[source] openh264::Error),
    /// The H.264 decoder failed.
    #[error("H.264 decoder failed at sample {sample}: {source}")]
    Decode {
        /// 1-based MP4 sample number being decoded.
        sample: u32,
        /// The decoder's own error.
        #[source]
        source: openh264::Error,
    },
    /// The sound track could not be encoded or read (the message says why, in plain words).
    #[error("sound track: {0}")]
    Audio(String),
    /// The MP4 writer refused the stream.
    #[error("MP4 muxing failed: {0}")]
    Mux(#[from] muxide::api::MuxerError),
    /// The MP4 reader could not parse the file.
    #[error("MP4 parsing failed: {0}")]
    Mp4(#[from] mp4::Error),
    /// The MP4 parses but is not something this crate can read (no H.264 track, bad lengths…).
    #[error("unsupported MP4: {0}")]
    UnsupportedMp4(&'static str),
    /// Image encoding (thumbnail) failed.
    #[error("image encoding failed: {0}")]
    Image(#[from] image::ImageError),
    /// An object key is empty, escapes its folder, or has characters outside `[A-Za-z0-9/_.-]`.
    #[error("bad object key {key:?}: {reason}")]
    BadKey {
        /// The refused key.
        key: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A byte range is empty or reversed.
    #[error("bad byte range {start}..{end}: start must be below end")]
    BadRange {
        /// First byte requested.
        start: u64,
        /// One past the last byte requested.
        end: u64,
    },
    /// No object is stored under this key.
    #[error("no object under key {key:?}")]
    NotFound {
        /// The missing key.
        key: String,
    },
    /// The object store failed for another reason (I/O, network, credentials…).
    #[error("object store failed: {0}")]
    Store(#[source] object_store::Error),
    /// A local I/O operation failed (creating the store folder).
    #[error("I/O failed: {0}")]
    Io(#[from] std::io::Error),
}
