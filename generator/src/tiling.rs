//! Decoding a clip's latents in tiles, so the decoder's memory stays bounded as clips grow.
//!
//! Temporal tiles of `frames` latent frames overlap their neighbours by `frame_overlap`; spatial
//! tiles (for large frames) of `cells × cells` latent cells overlap by `cell_overlap`. In an
//! overlap the two tiles' outputs are blended with linear ramps that sum to one, so there is no
//! seam where a decoder with temporal or spatial context sees different neighbours. Finished
//! frames leave as RGB bytes as soon as no later tile touches them: at any time only one
//! temporal tile's output is held in floats, whatever the clip's length.
//!
//! [`decode_tiled`] is pure: it takes the decoder as a function, so the blending is tested here
//! without a model, and the pipeline passes its ONNX decoder.

use std::collections::VecDeque;

use crate::GenResult;
use crate::manifest::LatentShape;

/// Tile sizes, in latent units (0: no tiling along that dimension).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tiling {
    /// Latent frames per temporal tile.
    pub frames: usize,
    /// Latent frames shared by neighbouring temporal tiles.
    pub frame_overlap: usize,
    /// Latent cells per side of a spatial tile.
    pub cells: usize,
    /// Cells shared by neighbouring spatial tiles.
    pub cell_overlap: usize,
}

/// How latents map to pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Video frames per latent frame.
    pub temporal: usize,
    /// Pixels per latent cell along each side.
    pub spatial: usize,
}

/// The `[start, end)` ranges of tiles of `tile` units overlapping by `overlap` over `n` units.
pub fn spans(n: usize, tile: usize, overlap: usize) -> Vec<(usize, usize)> {
    if tile == 0 || tile >= n {
        return vec![(0, n)];
    }
    let mut out = vec![];
    let mut a = 0;
    loop {
        let b = (a + tile).min(n);
        out.push((a, b));
        if b == n {
            return out;
        }
        a = b - overlap;
    }
}

/// Blend weights along one axis for a tile of `len` output units whose first `lead` units
/// overlap the previous tile and last `trail` units the next one.
fn ramp(len: usize, lead: usize, trail: usize) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let mut w = 1.0f32;
            if i < lead {
                w = w.min((i as f32 + 0.5) / lead as f32);
            }
            if len - i <= trail {
                w = w.min(((len - i) as f32 - 0.5) / trail as f32);
            }
            w
        })
        .collect()
}

/// Copies the latents of frames `[f0, f1)`, rows `[y0, y1)`, columns `[x0, x1)` out of a clip's
/// `[channels, frames, h, w]` latents.
fn crop(
    latents: &[f32],
    shape: LatentShape,
    (f0, f1): (usize, usize),
    (y0, y1): (usize, usize),
    (x0, x1): (usize, usize),
) -> Vec<f32> {
    let mut out = Vec::with_capacity(shape.channels * (f1 - f0) * (y1 - y0) * (x1 - x0));
    let plane = shape.height * shape.width;
    for c in 0..shape.channels {
        for f in f0..f1 {
            for y in y0..y1 {
                let start = (c * shape.frames + f) * plane + y * shape.width;
                if let Some(row) = latents.get(start + x0..start + x1) {
                    out.extend_from_slice(row);
                }
            }
        }
    }
    out
}

/// Interleaved RGB bytes of one planar `[3, H, W]` frame in [0, 1].
fn to_rgb(planar: &[f32], pixels: usize) -> Vec<u8> {
    let mut buf = vec![0u8; pixels * 3];
    for (ch, plane) in planar.chunks_exact(pixels).take(3).enumerate() {
        for (px, v) in buf.chunks_exact_mut(3).zip(plane) {
            if let Some(slot) = px.get_mut(ch) {
                *slot = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
    }
    buf
}

/// Decodes one clip's latents (`[channels, frames, h, w]`) tile by tile.
///
/// `decode(latents, shape)` runs the decoder on one tile and returns planar
/// `[3, frames × temporal, h × spatial, w × spatial]` values in [0, 1]; `emit` receives the
/// finished frames in order, as RGB bytes. Returns the number of frames emitted.
pub fn decode_tiled(
    latents: &[f32],
    shape: LatentShape,
    scale: Scale,
    tiling: Tiling,
    decode: &mut dyn FnMut(Vec<f32>, LatentShape) -> GenResult<Vec<f32>>,
    emit: &mut dyn FnMut(Vec<u8>),
) -> GenResult<usize> {
    let (height, width) = (shape.height * scale.spatial, shape.width * scale.spatial);
    let pixels = height * width;
    let t_spans = spans(shape.frames, tiling.frames, tiling.frame_overlap);
    let y_spans = spans(shape.height, tiling.cells, tiling.cell_overlap);
    let x_spans = spans(shape.width, tiling.cells, tiling.cell_overlap);
    // Frames not yet finished: (index of the first, planar accumulators).
    let mut pending: VecDeque<Vec<f32>> = VecDeque::new();
    let mut first_pending = 0usize;
    let mut emitted = 0usize;
    for (ti, &(f0, f1)) in t_spans.iter().enumerate() {
        let lead = if ti > 0 { tiling.frame_overlap * scale.temporal } else { 0 };
        let last = ti + 1 == t_spans.len();
        let trail = if last { 0 } else { tiling.frame_overlap * scale.temporal };
        let out_frames = (f1 - f0) * scale.temporal;
        let t_weights = ramp(out_frames, lead, trail);
        // This tile's frames, blended over its spatial tiles.
        let mut tile = vec![0f32; 3 * out_frames * pixels];
        for (yi, &(y0, y1)) in y_spans.iter().enumerate() {
            for (xi, &(x0, x1)) in x_spans.iter().enumerate() {
                let sub = LatentShape { channels: shape.channels, frames: f1 - f0, height: y1 - y0, width: x1 - x0 };
                let out = decode(crop(latents, shape, (f0, f1), (y0, y1), (x0, x1)), sub)?;
                let (th, tw) = (sub.height * scale.spatial, sub.width * scale.spatial);
                if out.len() != 3 * out_frames * th * tw {
                    return Err(crate::GenError::Model {
                        model: "decoder",
                        message: format!(
                            "a tile of {} latent frames at {}x{} cells gave {} values, expected 3 × {out_frames} × {th} × {tw}",
                            sub.frames,
                            sub.width,
                            sub.height,
                            out.len()
                        ),
                    });
                }
                let o = tiling.cell_overlap * scale.spatial;
                let wy = ramp(th, if yi > 0 { o } else { 0 }, if yi + 1 < y_spans.len() { o } else { 0 });
                let wx = ramp(tw, if xi > 0 { o } else { 0 }, if xi + 1 < x_spans.len() { o } else { 0 });
                let (py, px) = (y0 * scale.spatial, x0 * scale.spatial);
                for (plane_index, src_plane) in out.chunks_exact(th * tw).enumerate() {
                    let Some(dst_plane) = tile.get_mut(plane_index * pixels..(plane_index + 1) * pixels) else {
                        continue;
                    };
                    for ((src_row, w_row), y) in src_plane.chunks_exact(tw).zip(&wy).zip(py..) {
                        let Some(dst_row) = dst_plane.get_mut(y * width + px..y * width + px + tw) else { continue };
                        for ((d, s), w_col) in dst_row.iter_mut().zip(src_row).zip(&wx) {
                            *d += s * w_row * w_col;
                        }
                    }
                }
            }
        }
        // Blend into the pending frames (planar [3, frames, H, W] → per frame [3, H, W]).
        let tile_first = f0 * scale.temporal;
        for (k, w) in t_weights.iter().enumerate() {
            let index = tile_first + k;
            while first_pending + pending.len() <= index {
                pending.push_back(vec![0f32; 3 * pixels]);
            }
            let Some(acc) = pending.get_mut(index - first_pending) else { continue };
            for ch in 0..3 {
                let src_start = (ch * out_frames + k) * pixels;
                let (Some(dst), Some(src)) =
                    (acc.get_mut(ch * pixels..(ch + 1) * pixels), tile.get(src_start..src_start + pixels))
                else {
                    continue;
                };
                for (d, s) in dst.iter_mut().zip(src) {
                    *d += s * w;
                }
            }
        }
        // Frames no later tile touches are finished.
        let done_before = if last { tile_first + out_frames } else { (f1 - tiling.frame_overlap) * scale.temporal };
        while first_pending < done_before {
            let Some(frame) = pending.pop_front() else { break };
            emit(to_rgb(&frame, pixels));
            first_pending += 1;
            emitted += 1;
        }
    }
    Ok(emitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_with_the_given_overlap() {
        assert_eq!(spans(10, 0, 0), vec![(0, 10)]);
        assert_eq!(spans(10, 12, 2), vec![(0, 10)]);
        assert_eq!(spans(10, 4, 1), vec![(0, 4), (3, 7), (6, 10)]);
        assert_eq!(spans(24, 8, 2), vec![(0, 8), (6, 14), (12, 20), (18, 24)]);
    }

    #[test]
    fn ramps_sum_to_one_in_overlaps() {
        let a = ramp(8, 0, 4);
        let b = ramp(8, 4, 0);
        for i in 0..4 {
            assert!((a[4 + i] + b[i] - 1.0).abs() < 1e-6);
        }
        assert_eq!(&a[..4], &[1.0; 4]);
    }

    fn clip(shape: LatentShape) -> Vec<f32> {
        (0..shape.len()).map(|i| ((i * 37 % 101) as f32) / 101.0).collect()
    }

    /// A decoder whose output at a pixel depends only on its own latent value (per channel 0):
    /// every tiling must give exactly the untiled frames.
    fn pointwise(scale: Scale) -> impl FnMut(Vec<f32>, LatentShape) -> GenResult<Vec<f32>> {
        move |lat, s| {
            let (f, h, w) = (s.frames * scale.temporal, s.height * scale.spatial, s.width * scale.spatial);
            let mut out = vec![0f32; 3 * f * h * w];
            for ch in 0..3 {
                for t in 0..f {
                    for y in 0..h {
                        for x in 0..w {
                            let v = lat
                                [((t / scale.temporal) * s.height + y / scale.spatial) * s.width + x / scale.spatial];
                            out[((ch * f + t) * h + y) * w + x] = (v + ch as f32 * 0.1).min(1.0);
                        }
                    }
                }
            }
            Ok(out)
        }
    }

    /// A decoder with context: each latent frame's output is the mean of it and its neighbours
    /// (clamped at the tile's edge), so tiles see different neighbours at their borders.
    fn smoothing(scale: Scale) -> impl FnMut(Vec<f32>, LatentShape) -> GenResult<Vec<f32>> {
        let mut inner = pointwise(scale);
        move |lat, s| {
            let plane = s.height * s.width;
            let mut smooth = lat.clone();
            for c in 0..s.channels {
                for f in 0..s.frames {
                    let prev = f.saturating_sub(1);
                    let next = (f + 1).min(s.frames - 1);
                    for p in 0..plane {
                        let at = |k: usize| lat[(c * s.frames + k) * plane + p];
                        smooth[(c * s.frames + f) * plane + p] = (at(prev) + at(f) + at(next)) / 3.0;
                    }
                }
            }
            inner(smooth, s)
        }
    }

    type TileDecoder = Box<dyn FnMut(Vec<f32>, LatentShape) -> GenResult<Vec<f32>>>;

    fn run(shape: LatentShape, scale: Scale, tiling: Tiling, smooth: bool) -> (Vec<Vec<u8>>, usize) {
        let lat = clip(shape);
        let mut frames = vec![];
        let mut biggest = 0usize;
        let mut dec: TileDecoder = if smooth { Box::new(smoothing(scale)) } else { Box::new(pointwise(scale)) };
        let mut counting = |l: Vec<f32>, s: LatentShape| {
            biggest = biggest.max(s.len());
            dec(l, s)
        };
        let n = decode_tiled(&lat, shape, scale, tiling, &mut counting, &mut |f| frames.push(f)).unwrap();
        assert_eq!(n, frames.len());
        (frames, biggest)
    }

    #[test]
    fn tiled_decoding_of_a_pointwise_decoder_is_exact() {
        let shape = LatentShape { channels: 2, frames: 12, height: 6, width: 10 };
        let scale = Scale { temporal: 4, spatial: 3 };
        let (whole, whole_tile) = run(shape, scale, Tiling::default(), false);
        assert_eq!(whole.len(), 48);
        let tiling = Tiling { frames: 4, frame_overlap: 1, cells: 4, cell_overlap: 1 };
        let (tiled, biggest) = run(shape, scale, tiling, false);
        assert_eq!(whole.len(), tiled.len());
        for (a, b) in whole.iter().zip(&tiled) {
            let worst = a.iter().zip(b).map(|(x, y)| (i16::from(*x) - i16::from(*y)).abs()).max().unwrap();
            assert!(worst <= 1, "off by {worst}");
        }
        assert!(biggest * 4 <= whole_tile, "a tile is a fraction of the clip: {biggest} vs {whole_tile}");
    }

    #[test]
    fn overlap_blending_keeps_a_context_decoder_close_to_untiled() {
        let shape = LatentShape { channels: 1, frames: 24, height: 2, width: 2 };
        let scale = Scale { temporal: 4, spatial: 2 };
        let (whole, _) = run(shape, scale, Tiling::default(), true);
        let err = |tiling: Tiling| {
            let (tiled, _) = run(shape, scale, tiling, true);
            whole
                .iter()
                .zip(&tiled)
                .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| f64::from((i16::from(*x) - i16::from(*y)).abs())))
                .sum::<f64>()
                / (whole.len() * whole[0].len()) as f64
        };
        let hard = err(Tiling { frames: 6, frame_overlap: 0, ..Tiling::default() });
        let blended = err(Tiling { frames: 6, frame_overlap: 2, ..Tiling::default() });
        assert!(blended < hard, "blending reduces the seam: {blended} vs {hard}");
    }
}
