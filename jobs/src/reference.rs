//! A cameo's reference vector: a person's clip summarised into the `embed_dim` floats the
//! denoiser takes as its `reference` input ((the generator's `pipeline::GenerationRequest::reference`); the backend computes it when a
//! cameo is verified, the generator for remix sources, so it lives with the job's wire types).
//!
//! [`from_frames`] is deterministic and depends only on what the clip shows, not on its pixel
//! size: it takes up to [`MAX_FRAMES`] evenly spaced frames; in each, a centred square crop
//! ([`CROP`] of the shorter side, where a cameo's subject stands) divided into a
//! [`GRID`]×[`GRID`] grid; per cell the mean luma and chroma (BT.601 Y, Cb, Cr, centred on mid
//! grey) averaged over the frames. Those `3 × GRID²` features are mixed into `dim` values by a
//! fixed ±1 projection (a hash of the output and feature indices, so every value sees the whole
//! picture and any `dim` works), then made zero-mean with a standard deviation of
//! [`REFERENCE_STD`] — the spread of the tiny model's mean-pooled text embeddings (0.12–0.30,
//! values within ±0.7), so neither conditioning input drowns the other. Values that are all
//! equal (always so when `dim` is 1) give all zeros, the same as no reference. Being normalised
//! per vector, the result keeps the picture's layout and colours but not its overall contrast:
//! any flat single-colour clip gives one of a few vectors.

/// Why a reference vector cannot be made from the given clip.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReferenceError(pub String);

type Result<T> = std::result::Result<T, ReferenceError>;

/// At most this many frames are read, evenly spaced over the clip.
pub const MAX_FRAMES: usize = 16;
/// Cells per side of the grid over the crop.
pub const GRID: usize = 8;
/// The centred square crop's side, as a fraction of the frame's shorter side.
pub const CROP: f64 = 0.8;
/// The standard deviation of a reference vector's values (its mean is zero).
pub const REFERENCE_STD: f32 = 0.2;

/// Seed of the fixed projection from grid features to `dim` values.
const PROJECTION_SEED: u64 = 0x6361_6d65_6f5f_7265; // "cameo_re"

/// Summarises a clip of RGB frames (`width * height * 3` bytes each, row-major) into `dim`
/// values (see the module documentation). Errors when there are no frames, a size is zero or
/// does not match a frame's length, or `dim` is zero.
pub fn from_frames(frames: &[Vec<u8>], width: usize, height: usize, dim: usize) -> Result<Vec<f32>> {
    if dim == 0 {
        return Err(ReferenceError("reference dimension must be at least 1".into()));
    }
    if frames.is_empty() {
        return Err(ReferenceError("reference clip has no frames".into()));
    }
    if width == 0 || height == 0 {
        return Err(ReferenceError(format!("reference clip size {width}x{height} is empty")));
    }
    let expected = width
        .checked_mul(height)
        .and_then(|p| p.checked_mul(3))
        .ok_or_else(|| ReferenceError(format!("reference clip size {width}x{height} is too large")))?;
    if let Some((i, f)) = frames.iter().enumerate().find(|(_, f)| f.len() != expected) {
        return Err(ReferenceError(format!(
            "reference frame {i} has {} bytes, expected {expected} for {width}x{height} RGB",
            f.len()
        )));
    }

    let features = grid_features(frames, width, height);
    Ok(project(&features, dim))
}

/// The frames read: up to [`MAX_FRAMES`], at the middles of equal stretches of the clip.
fn sampled(n: usize) -> impl Iterator<Item = usize> {
    let k = n.min(MAX_FRAMES);
    (0..k).map(move |i| ((2 * i + 1) * n) / (2 * k))
}

/// A cell's pixel range along one axis: `[start, end)` inside `offset..offset + side`, never
/// empty.
fn cell_span(offset: usize, side: usize, cell: usize) -> (usize, usize) {
    let start = offset + cell * side / GRID;
    let end = (offset + (cell + 1) * side / GRID).max(start + 1);
    (start, end)
}

/// Mean Y, Cb, Cr per grid cell over the sampled frames: `[Y cells…, Cb cells…, Cr cells…]`,
/// each in about -0.5..0.5 with mid grey at zero.
fn grid_features(frames: &[Vec<u8>], width: usize, height: usize) -> Vec<f64> {
    let cells = GRID * GRID;
    let side = ((width.min(height) as f64 * CROP).round() as usize).clamp(1, width.min(height));
    let (x0, y0) = ((width - side) / 2, (height - side) / 2);
    let mut sums = vec![0f64; 3 * cells];
    let mut counts = vec![0f64; cells];
    for index in sampled(frames.len()) {
        let Some(frame) = frames.get(index) else { continue };
        for gy in 0..GRID {
            let (ys, ye) = cell_span(y0, side, gy);
            for gx in 0..GRID {
                let (xs, xe) = cell_span(x0, side, gx);
                let cell = gy * GRID + gx;
                let (mut y_sum, mut cb_sum, mut cr_sum, mut n) = (0f64, 0f64, 0f64, 0f64);
                for row in ys..ye.min(height) {
                    let start = (row * width + xs) * 3;
                    let end = (row * width + xe.min(width)) * 3;
                    let Some(pixels) = frame.get(start..end) else { continue };
                    for px in pixels.chunks_exact(3) {
                        let &[r, g, b] = px else { continue };
                        let (r, g, b) = (f64::from(r), f64::from(g), f64::from(b));
                        y_sum += 0.299 * r + 0.587 * g + 0.114 * b;
                        cb_sum += -0.168_736 * r - 0.331_264 * g + 0.5 * b;
                        cr_sum += 0.5 * r - 0.418_688 * g - 0.081_312 * b;
                        n += 1.0;
                    }
                }
                if n > 0.0 {
                    for (channel, sum) in [y_sum, cb_sum, cr_sum].into_iter().enumerate() {
                        if let Some(s) = sums.get_mut(channel * cells + cell) {
                            *s += sum / n;
                        }
                    }
                    if let Some(c) = counts.get_mut(cell) {
                        *c += 1.0;
                    }
                }
            }
        }
    }
    sums.iter()
        .enumerate()
        .map(|(i, s)| {
            let n = counts.get(i % cells).copied().unwrap_or(0.0).max(1.0);
            let mean = s / n / 255.0;
            // Luma is centred on mid grey; chroma already is.
            if i < cells { mean - 0.5 } else { mean }
        })
        .collect()
}

/// SplitMix64: a fixed, well-mixed hash of one integer.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mixes `features` into `dim` values with the fixed ±1 projection, then shifts and scales them
/// to mean 0 and standard deviation [`REFERENCE_STD`] (all zeros when they are all equal).
fn project(features: &[f64], dim: usize) -> Vec<f32> {
    let p = features.len() as u64;
    let raw: Vec<f64> = (0..dim as u64)
        .map(|i| {
            features
                .iter()
                .enumerate()
                .map(|(j, f)| {
                    let sign = splitmix64(PROJECTION_SEED ^ i.wrapping_mul(p).wrapping_add(j as u64)) & 1;
                    if sign == 0 { *f } else { -*f }
                })
                .sum()
        })
        .collect();
    let n = raw.len() as f64;
    let mean = raw.iter().sum::<f64>() / n;
    let std = (raw.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    if std < 1e-9 {
        return vec![0.0; dim];
    }
    raw.iter().map(|v| ((v - mean) / std) as f32 * REFERENCE_STD).collect()
}

/// The element-wise mean of several reference vectors (a request with several cameos). `None`
/// when `refs` is empty or the vectors differ in length (they come from different models, and
/// no mean of them makes sense).
pub fn combine(refs: &[Vec<f32>]) -> Option<Vec<f32>> {
    let first = refs.first()?;
    if refs.iter().any(|r| r.len() != first.len()) {
        return None;
    }
    let n = refs.len() as f32;
    let mut out = vec![0f32; first.len()];
    for r in refs {
        for (o, v) in out.iter_mut().zip(r) {
            *o += v;
        }
    }
    out.iter_mut().for_each(|o| *o /= n);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    /// A clip drawn from a function of relative position (0..1), time and frame size.
    fn clip(width: usize, height: usize, frames: usize, paint: impl Fn(f64, f64, usize) -> [u8; 3]) -> Vec<Vec<u8>> {
        (0..frames)
            .map(|t| {
                let mut buf = Vec::with_capacity(width * height * 3);
                for y in 0..height {
                    for x in 0..width {
                        let (u, v) = ((x as f64 + 0.5) / width as f64, (y as f64 + 0.5) / height as f64);
                        buf.extend(paint(u, v, t));
                    }
                }
                buf
            })
            .collect()
    }

    /// A person-like figure: a warm face disc over a blue shirt on a green background.
    fn person(u: f64, v: f64, t: usize) -> [u8; 3] {
        let sway = (t as f64 * 0.3).sin() * 0.02;
        let (du, dv) = (u - 0.5 - sway, v - 0.38);
        if du * du + dv * dv < 0.02 {
            [224, 172, 140]
        } else if v > 0.6 && (u - 0.5).abs() < 0.25 {
            [40, 60, 180]
        } else {
            [90, 160, 90]
        }
    }

    /// Another clip: a dark figure on a bright sky-over-sand split.
    fn other(u: f64, v: f64, _t: usize) -> [u8; 3] {
        if (u - 0.35).abs() < 0.12 && v > 0.25 {
            [30, 25, 20]
        } else if v < 0.5 {
            [150, 200, 250]
        } else {
            [230, 210, 160]
        }
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (na * nb)
    }

    #[test]
    fn the_vector_is_deterministic_and_dim_long_with_the_text_embedding_spread() {
        let frames = clip(64, 48, 20, person);
        for dim in [2, 7, 32, 300] {
            let a = from_frames(&frames, 64, 48, dim).unwrap();
            assert_eq!(a.len(), dim);
            assert_eq!(a, from_frames(&frames, 64, 48, dim).unwrap());
        }
        let v = from_frames(&frames, 64, 48, 32).unwrap();
        let mean = v.iter().sum::<f32>() / 32.0;
        let std = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / 32.0).sqrt();
        assert!(mean.abs() < 1e-5, "{mean}");
        assert!((std - REFERENCE_STD).abs() < 1e-4, "{std}");
        assert!(v.iter().all(|x| x.abs() < 1.0), "{v:?}");
    }

    #[test]
    fn different_clips_give_clearly_different_vectors() {
        let a = from_frames(&clip(64, 48, 8, person), 64, 48, 32).unwrap();
        let b = from_frames(&clip(64, 48, 8, other), 64, 48, 32).unwrap();
        let c = cosine(&a, &b);
        assert!(c < 0.5, "cosine {c}");
    }

    #[test]
    fn the_same_content_at_another_size_gives_a_similar_vector() {
        let small = from_frames(&clip(64, 48, 8, person), 64, 48, 32).unwrap();
        let large = from_frames(&clip(320, 240, 8, person), 320, 240, 32).unwrap();
        let c = cosine(&small, &large);
        assert!(c > 0.9, "cosine {c}");
        // More frames of the same scene change little either.
        let longer = from_frames(&clip(64, 48, 40, person), 64, 48, 32).unwrap();
        assert!(cosine(&small, &longer) > 0.9);
    }

    #[test]
    fn only_sixteen_evenly_spaced_frames_are_read() {
        assert_eq!(sampled(3).collect::<Vec<_>>(), [0, 1, 2]);
        let many: Vec<usize> = sampled(160).collect();
        assert_eq!(many.len(), MAX_FRAMES);
        assert_eq!((many[0], many[15]), (5, 155));
        assert!(many.windows(2).all(|w| w[1] - w[0] == 10));
    }

    #[test]
    fn tiny_and_flat_clips_work() {
        assert_eq!(from_frames(&[vec![200, 10, 10]], 1, 1, 4).unwrap().len(), 4);
        assert_eq!(from_frames(&clip(3, 5, 1, other), 3, 5, 32).unwrap().len(), 32);
        let grey = from_frames(&[vec![128; 16 * 16 * 3]], 16, 16, 8).unwrap();
        assert!(grey.iter().all(|x| x.is_finite()), "{grey:?}");
        assert_eq!(from_frames(&clip(16, 16, 3, person), 16, 16, 1).unwrap(), [0.0]);
    }

    #[test]
    fn bad_input_is_refused() {
        let frames = clip(8, 8, 2, person);
        let bad = |r: Result<Vec<f32>>| r.is_err();
        assert!(bad(from_frames(&[], 8, 8, 32)));
        assert!(bad(from_frames(&frames, 8, 8, 0)));
        assert!(bad(from_frames(&frames, 0, 8, 32)));
        assert!(bad(from_frames(&frames, 8, 0, 32)));
        assert!(bad(from_frames(&frames, 8, 7, 32)));
        assert!(bad(from_frames(&[vec![0; 192], vec![0; 191]], 8, 8, 32)));
        assert!(bad(from_frames(&frames, usize::MAX, 2, 32)));
    }

    #[test]
    fn combine_averages_equal_lengths() {
        assert_eq!(combine(&[]), None);
        assert_eq!(combine(&[vec![1.0, 2.0]]), Some(vec![1.0, 2.0]));
        assert_eq!(combine(&[vec![1.0, 2.0], vec![3.0, -2.0]]), Some(vec![2.0, 0.0]));
        assert_eq!(combine(&[vec![1.0, 2.0], vec![3.0]]), None);
    }
}
