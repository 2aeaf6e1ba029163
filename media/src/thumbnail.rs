//! JPEG thumbnails from an RGB frame.

use image::codecs::jpeg::JpegEncoder;
use image::imageops::{self, FilterType};
use image::{ExtendedColorType, ImageEncoder, RgbImage};

use crate::MediaError;

/// JPEG quality of thumbnails: small files without visible blocking.
const JPEG_QUALITY: u8 = 85;

/// Scales `(width, height)` down to fit in `max_side`, keeping the aspect ratio; never up.
fn fitted_size(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= max_side {
        return (width, height);
    }
    let scale = |side: u32| {
        let scaled = u64::from(side) * u64::from(max_side) / u64::from(longest);
        u32::try_from(scaled).unwrap_or(max_side).max(1)
    };
    (scale(width), scale(height))
}

/// Encodes an RGB frame (3 bytes per pixel) as a JPEG whose longer side is at most `max_side`.
pub fn thumbnail_jpeg(
    width: usize,
    height: usize,
    rgb: &[u8],
    max_side: u32,
) -> Result<Vec<u8>, MediaError> {
    let bad_size = || MediaError::InvalidDimensions {
        width,
        height,
        max: u16::MAX as usize,
    };
    // JPEG itself stops at 65535 pixels a side.
    if width == 0 || height == 0 || width > usize::from(u16::MAX) || height > usize::from(u16::MAX)
    {
        return Err(bad_size());
    }
    if max_side == 0 {
        return Err(MediaError::InvalidOption {
            name: "max_side",
            reason: "must be at least 1",
        });
    }
    let expected = width * height * 3;
    if rgb.len() != expected {
        return Err(MediaError::FrameSize {
            index: 0,
            expected,
            actual: rgb.len(),
        });
    }
    let w = u32::try_from(width).map_err(|_| bad_size())?;
    let h = u32::try_from(height).map_err(|_| bad_size())?;
    let image = RgbImage::from_raw(w, h, rgb.to_vec()).ok_or_else(bad_size)?;
    let (tw, th) = fitted_size(w, h, max_side);
    let image = if (tw, th) == (w, h) {
        image
    } else {
        imageops::resize(&image, tw, th, FilterType::Triangle)
    };

    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY).write_image(
        image.as_raw(),
        tw,
        th,
        ExtendedColorType::Rgb8,
    )?;
    Ok(jpeg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_keeps_aspect_and_never_upscales() {
        assert_eq!(fitted_size(512, 512, 256), (256, 256));
        assert_eq!(fitted_size(1080, 1920, 480), (270, 480));
        assert_eq!(fitted_size(100, 50, 480), (100, 50));
        assert_eq!(fitted_size(4000, 2, 100), (100, 1));
    }
}
