//! JPEG thumbnails from an RGB frame, and strips of several frames side by side.

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
pub fn thumbnail_jpeg(width: usize, height: usize, rgb: &[u8], max_side: u32) -> Result<Vec<u8>, MediaError> {
    let bad_size = || MediaError::InvalidDimensions { width, height, max: u16::MAX as usize };
    // JPEG itself stops at 65535 pixels a side.
    if width == 0 || height == 0 || width > usize::from(u16::MAX) || height > usize::from(u16::MAX) {
        return Err(bad_size());
    }
    if max_side == 0 {
        return Err(MediaError::InvalidOption { name: "max_side", reason: "must be at least 1" });
    }
    let expected = width * height * 3;
    if rgb.len() != expected {
        return Err(MediaError::FrameSize { index: 0, expected, actual: rgb.len() });
    }
    let w = u32::try_from(width).map_err(|_| bad_size())?;
    let h = u32::try_from(height).map_err(|_| bad_size())?;
    let image = RgbImage::from_raw(w, h, rgb.to_vec()).ok_or_else(bad_size)?;
    let (tw, th) = fitted_size(w, h, max_side);
    let image = if (tw, th) == (w, h) { image } else { imageops::resize(&image, tw, th, FilterType::Triangle) };

    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY).write_image(
        image.as_raw(),
        tw,
        th,
        ExtendedColorType::Rgb8,
    )?;
    Ok(jpeg)
}

/// Encodes RGB frames (3 bytes per pixel, `width`×`height` each) as one JPEG strip: the frames
/// side by side, left to right in the order given, each scaled to `tile_height` pixels high with
/// its aspect ratio kept (up or down).
pub fn strip_jpeg(width: usize, height: usize, frames: &[&[u8]], tile_height: u32) -> Result<Vec<u8>, MediaError> {
    let bad_size = || MediaError::InvalidDimensions { width, height, max: u16::MAX as usize };
    if width == 0 || height == 0 || width > usize::from(u16::MAX) || height > usize::from(u16::MAX) {
        return Err(bad_size());
    }
    if tile_height == 0 || tile_height > u32::from(u16::MAX) {
        return Err(MediaError::InvalidOption { name: "tile_height", reason: "must be between 1 and 65535" });
    }
    if frames.is_empty() {
        return Err(MediaError::NoFrames);
    }
    let expected = width * height * 3;
    if let Some((index, frame)) = frames.iter().enumerate().find(|(_, f)| f.len() != expected) {
        return Err(MediaError::FrameSize { index, expected, actual: frame.len() });
    }
    let w = u32::try_from(width).map_err(|_| bad_size())?;
    let h = u32::try_from(height).map_err(|_| bad_size())?;
    let tile_width = tile_width(w, h, tile_height);
    // JPEG itself stops at 65535 pixels a side.
    let strip_width = u32::try_from(frames.len())
        .ok()
        .and_then(|n| n.checked_mul(tile_width))
        .filter(|&sw| sw <= u32::from(u16::MAX))
        .ok_or(MediaError::InvalidOption { name: "frames", reason: "the strip would be wider than 65535 pixels" })?;

    let mut strip = RgbImage::new(strip_width, tile_height);
    let mut left = 0i64;
    for frame in frames {
        let image = RgbImage::from_raw(w, h, frame.to_vec()).ok_or_else(bad_size)?;
        let tile = if (tile_width, tile_height) == (w, h) {
            image
        } else {
            imageops::resize(&image, tile_width, tile_height, FilterType::Triangle)
        };
        imageops::replace(&mut strip, &tile, left, 0);
        left += i64::from(tile_width);
    }

    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY).write_image(
        strip.as_raw(),
        strip_width,
        tile_height,
        ExtendedColorType::Rgb8,
    )?;
    Ok(jpeg)
}

/// Width of a `width`×`height` frame scaled to `tile_height` high, rounded, at least 1.
fn tile_width(width: u32, height: u32, tile_height: u32) -> u32 {
    let scaled = (u64::from(width) * u64::from(tile_height) + u64::from(height) / 2) / u64::from(height);
    u32::try_from(scaled).unwrap_or(u32::MAX).max(1)
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

    #[test]
    fn tiles_keep_the_frame_aspect_at_the_strip_height() {
        assert_eq!(tile_width(640, 384, 128), 213);
        assert_eq!(tile_width(384, 640, 128), 77);
        assert_eq!(tile_width(512, 512, 128), 128);
        assert_eq!(tile_width(4000, 2, 1), 2000);
        assert_eq!(tile_width(2, 4000, 128), 1);
    }

    #[test]
    fn strip_puts_scaled_frames_side_by_side_in_order() {
        let (w, h) = (64usize, 32usize);
        // Three flat frames: red, green, blue.
        let colours = [[255u8, 0, 0], [0, 255, 0], [0, 0, 255]];
        let frames: Vec<Vec<u8>> =
            colours.iter().map(|c| c.iter().copied().cycle().take(w * h * 3).collect()).collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let jpeg = strip_jpeg(w, h, &refs, 16).unwrap();
        assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF], "JPEG SOI marker");
        let image = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), (3 * 32, 16));
        for (i, colour) in colours.iter().enumerate() {
            // The centre of each tile carries its frame's colour (JPEG is lossy: a margin).
            let pixel = image.get_pixel(i as u32 * 32 + 16, 8).0;
            for (got, want) in pixel.iter().zip(colour) {
                assert!(got.abs_diff(*want) < 40, "tile {i}: {pixel:?} vs {colour:?}");
            }
        }
    }

    #[test]
    fn strip_refuses_bad_input() {
        let frame = vec![0u8; 8 * 8 * 3];
        let short = vec![0u8; 10];
        assert!(matches!(strip_jpeg(8, 8, &[], 4), Err(MediaError::NoFrames)));
        assert!(matches!(strip_jpeg(0, 8, &[&frame], 4), Err(MediaError::InvalidDimensions { .. })));
        assert!(matches!(strip_jpeg(8, 8, &[&frame], 0), Err(MediaError::InvalidOption { .. })));
        assert!(matches!(
            strip_jpeg(8, 8, &[&frame, &short], 4),
            Err(MediaError::FrameSize { index: 1, actual: 10, .. })
        ));
        // 9000 tiles of 8 pixels: wider than JPEG allows.
        let many = vec![frame.as_slice(); 9000];
        assert!(matches!(strip_jpeg(8, 8, &many, 8), Err(MediaError::InvalidOption { name: "frames", .. })));
    }
}
