//! Watermarks drawn into generated clips before they are encoded.
//!
//! Two marks, both applied to packed RGB frames (3 bytes per pixel, row-major):
//! - [`draw_visible`]: the app's logo and `@username`, semi-transparent, hopping between corners
//!   every two seconds so that cropping one corner does not remove it.
//! - [`embed`] / [`detect`]: an invisible 64-bit payload, spread over a key-seeded grid of smooth
//!   luma bumps, protected by a CRC-16 and a rate-1/2 convolutional code, and read back from the
//!   decoded video at its original size or after downscaling.
//!
//! Architecture invariant: pure functions over frame buffers; no I/O, no codec, no clock.

mod ecc;
mod font;
mod invisible;
mod visible;

pub use invisible::{
    CODED_BITS, Detection, GRID_COLS, GRID_ROWS, MIN_CONFIDENCE, PEAK_AMPLITUDE, coded_bits,
    decode_soft_bits, detect, embed,
};
pub use visible::{CORNER_PERIOD_SECONDS, Corner, corner_at, draw_visible, label_size};

/// Why a watermark could not be drawn, embedded or read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WatermarkError {
    /// Width or height is zero, too small for the mark, or the area overflows.
    #[error("frame size {width}x{height} is not supported (at least {min}x{min} needed)")]
    InvalidDimensions {
        /// Frame width in pixels.
        width: usize,
        /// Frame height in pixels.
        height: usize,
        /// Smallest side accepted.
        min: usize,
    },
    /// A frame buffer does not hold `width * height * 3` bytes.
    #[error("frame {index} holds {actual} bytes, expected {expected}")]
    FrameSize {
        /// Position of the offending frame.
        index: usize,
        /// `width * height * 3`.
        expected: usize,
        /// Bytes actually present.
        actual: usize,
    },
    /// No frames were given.
    #[error("no frames")]
    NoFrames,
    /// Frames per second must be positive.
    #[error("fps must be positive")]
    InvalidFps,
}

/// Checks that every frame is `width * height * 3` bytes and the size is at least `min` per side.
fn check_frames<F: AsRef<[u8]>>(
    frames: &[F],
    width: usize,
    height: usize,
    min: usize,
) -> Result<(), WatermarkError> {
    let expected = width
        .checked_mul(height)
        .and_then(|area| area.checked_mul(3));
    let Some(expected) = expected.filter(|_| width >= min && height >= min) else {
        return Err(WatermarkError::InvalidDimensions { width, height, min });
    };
    if frames.is_empty() {
        return Err(WatermarkError::NoFrames);
    }
    match frames
        .iter()
        .enumerate()
        .find(|(_, frame)| frame.as_ref().len() != expected)
    {
        Some((index, frame)) => Err(WatermarkError::FrameSize {
            index,
            expected,
            actual: frame.as_ref().len(),
        }),
        None => Ok(()),
    }
}
