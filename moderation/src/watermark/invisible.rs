//! The invisible mark: a 64-bit payload spread over a key-seeded grid of smooth luma bumps.
//!
//! The frame is split into a fixed grid of [`GRID_COLS`] × [`GRID_ROWS`] cells in *normalised*
//! coordinates, so the same grid lands on the same picture content at any resolution; that is
//! what makes detection work after a downscale without knowing the original size. Each cell
//! carries one chip: a half-sine bump (zero at the cell border, peak in the middle) whose sign is
//! `key sign × channel bit`. The bump is low-frequency enough to survive H.264 quantisation and
//! 2:1 resampling, and its smooth border avoids a visible block pattern.
//!
//! Detection averages each cell's bump-weighted luma over all frames (the mark is static while
//! content moves), subtracts the mean of the neighbouring cells to cancel the picture's own
//! low-frequency content, multiplies by the key's chip sign and sums the chips of each channel
//! bit. The soft channel bits go through a Viterbi decoder; the payload is only reported when the
//! CRC matches and the soft bits agree with the re-encoded codeword well enough.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

use super::ecc::{self, CODED_BITS as ECC_CODED_BITS};
use super::{WatermarkError, check_frames};

/// Cells across the frame, whatever its width.
pub const GRID_COLS: usize = 32;
/// Cells down the frame, whatever its height.
pub const GRID_ROWS: usize = 32;
/// Luma change at the centre of a cell, in 8-bit levels; the RMS change is half of this.
pub const PEAK_AMPLITUDE: f32 = 5.0;
/// Smallest agreement between soft bits and the decoded codeword for a payload to be reported.
pub const MIN_CONFIDENCE: f64 = 0.7;
/// Channel bits carried per clip (payload, CRC-16 and code tail after rate-1/2 coding).
pub const CODED_BITS: usize = ECC_CODED_BITS;

/// Total cells in the grid.
const CELLS: usize = GRID_COLS * GRID_ROWS;
/// Smallest side accepted: two pixels per cell.
const MIN_SIDE: usize = 2 * if GRID_COLS > GRID_ROWS { GRID_COLS } else { GRID_ROWS };
/// Domain separation for the key schedule, so the same key used elsewhere gives other patterns.
const KEY_CONTEXT: &[u8] = b"moderation.watermark.invisible.v1";
/// Residuals further than this many median deviations from zero are clipped (edges, text).
const OUTLIER_CLIP: f32 = 3.0;

/// What [`detect`] read from a clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The payload, only when the CRC matched and `confidence >= MIN_CONFIDENCE`.
    pub payload: Option<u64>,
    /// Normalised correlation (−1…1) between the soft bits and the decoded codeword.
    pub confidence: f64,
    /// Soft channel bits (length [`CODED_BITS`]), unit RMS; positive means 1.
    pub bits: Vec<f32>,
    /// The decoder's best payload even when the checks fail (for measuring bit accuracy).
    pub best_guess: u64,
    /// Whether the decoded CRC matched the decoded payload.
    pub crc_ok: bool,
}

/// The channel bits that [`embed`] writes for a payload (for measuring raw bit accuracy).
pub fn coded_bits(payload: u64) -> Vec<bool> {
    ecc::encode(payload)
}

/// The key-dependent layout: each cell's chip sign and the channel bit it carries.
struct Layout {
    sign: Vec<f32>,
    bit_of: Vec<usize>,
}

impl Layout {
    fn new(key: &[u8]) -> Self {
        let seed: [u8; 32] = Sha256::new().chain_update(KEY_CONTEXT).chain_update(key).finalize().into();
        let mut rng = ChaCha20Rng::from_seed(seed);
        // A random permutation scatters each bit's cells over the frame, so a corner overlay or
        // one busy region cannot wipe out a bit.
        let mut order: Vec<usize> = (0..CELLS).collect();
        order.shuffle(&mut rng);
        let mut bit_of = vec![0; CELLS];
        for (rank, &cell) in order.iter().enumerate() {
            if let Some(slot) = bit_of.get_mut(cell) {
                *slot = rank % CODED_BITS;
            }
        }
        let sign = (0..CELLS).map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 }).collect();
        Self { sign, bit_of }
    }
}

/// For one axis: the cell each pixel falls in and the bump weight at that pixel.
struct Axis {
    cell: Vec<usize>,
    weight: Vec<f32>,
}

impl Axis {
    fn new(pixels: usize, cells: usize) -> Self {
        let scale = cells as f64 / pixels as f64;
        let (cell, weight) = (0..pixels)
            .map(|p| {
                // Pixel centres, so a 2:1 downscale maps onto the same positions.
                let pos = (p as f64 + 0.5) * scale;
                let index = (pos.floor() as usize).min(cells - 1);
                let frac = pos - index as f64;
                (index, (std::f64::consts::PI * frac).sin() as f32)
            })
            .unzip();
        Self { cell, weight }
    }
}

/// Embeds `payload` into every frame under `key`; changes luma only, by at most
/// [`PEAK_AMPLITUDE`] levels.
pub fn embed(
    frames: &mut [Vec<u8>],
    width: usize,
    height: usize,
    payload: u64,
    key: &[u8],
) -> Result<(), WatermarkError> {
    check_frames(frames, width, height, MIN_SIDE)?;
    let layout = Layout::new(key);
    let coded = ecc::encode(payload);
    let chips: Vec<f32> = layout
        .sign
        .iter()
        .zip(&layout.bit_of)
        .map(|(&sign, &bit)| {
            let value = if coded.get(bit).copied().unwrap_or(false) { 1.0 } else { -1.0 };
            sign * value * PEAK_AMPLITUDE
        })
        .collect();
    let delta = pattern(&chips, width, height);
    for frame in frames.iter_mut() {
        for (pixel, &d) in frame.chunks_exact_mut(3).zip(&delta) {
            // The same offset on R, G and B moves luma by `d` and leaves chroma alone.
            for channel in pixel {
                *channel = (f32::from(*channel) + d).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Ok(())
}

/// The per-pixel luma offset for the given chip amplitudes.
fn pattern(chips: &[f32], width: usize, height: usize) -> Vec<f32> {
    let cols = Axis::new(width, GRID_COLS);
    let rows = Axis::new(height, GRID_ROWS);
    let mut delta = Vec::with_capacity(width * height);
    for (&row_cell, &row_weight) in rows.cell.iter().zip(&rows.weight) {
        let row_chips = chips.get(row_cell * GRID_COLS..(row_cell + 1) * GRID_COLS).unwrap_or(&[]);
        delta.extend(
            cols.cell
                .iter()
                .zip(&cols.weight)
                .map(|(&col_cell, &w)| row_chips.get(col_cell).copied().unwrap_or(0.0) * w * row_weight),
        );
    }
    delta
}

/// Reads the mark from decoded frames of any size (original or resampled) under `key`.
pub fn detect(frames: &[Vec<u8>], width: usize, height: usize, key: &[u8]) -> Result<Detection, WatermarkError> {
    check_frames(frames, width, height, MIN_SIDE)?;
    let layout = Layout::new(key);
    let means = cell_means(frames, width, height);
    let residuals = neighbour_residuals(&means);
    let mut soft = vec![0.0f32; CODED_BITS];
    for ((&residual, &sign), &bit) in residuals.iter().zip(&layout.sign).zip(&layout.bit_of) {
        if let Some(slot) = soft.get_mut(bit) {
            *slot += residual * sign;
        }
    }
    Ok(decode_soft_bits(&soft))
}

/// Bump-weighted mean luma of every cell, averaged over all frames.
fn cell_means(frames: &[Vec<u8>], width: usize, height: usize) -> Vec<f32> {
    let cols = Axis::new(width, GRID_COLS);
    let rows = Axis::new(height, GRID_ROWS);
    let mut sums = vec![0.0f64; CELLS];
    let mut row_sums = vec![0.0f64; GRID_COLS];
    for frame in frames {
        for ((row, &row_cell), &row_weight) in frame.chunks_exact(width * 3).zip(&rows.cell).zip(&rows.weight) {
            // Accumulate the row in f32 per cell first; f64 only across rows and frames.
            let mut acc = [0.0f32; GRID_COLS];
            for ((pixel, &col_cell), &w) in row.chunks_exact(3).zip(&cols.cell).zip(&cols.weight) {
                if let ([r, g, b], Some(slot)) = (pixel, acc.get_mut(col_cell)) {
                    let luma = 0.299 * f32::from(*r) + 0.587 * f32::from(*g) + 0.114 * f32::from(*b);
                    *slot += w * luma;
                }
            }
            for (total, value) in row_sums.iter_mut().zip(acc) {
                *total = f64::from(value) * f64::from(row_weight);
            }
            if let Some(cells) = sums.get_mut(row_cell * GRID_COLS..(row_cell + 1) * GRID_COLS) {
                for (cell, add) in cells.iter_mut().zip(&row_sums) {
                    *cell += add;
                }
            }
        }
    }
    // Divide by the total weight each cell saw, so unequal cell sizes compare fairly.
    let col_weight = per_cell_weight(&cols, GRID_COLS);
    let row_weight = per_cell_weight(&rows, GRID_ROWS);
    let frames = frames.len() as f64;
    sums.iter()
        .enumerate()
        .map(|(cell, &sum)| {
            let w = row_weight.get(cell / GRID_COLS).copied().unwrap_or(0.0)
                * col_weight.get(cell % GRID_COLS).copied().unwrap_or(0.0)
                * frames;
            if w > 0.0 { (sum / w) as f32 } else { 0.0 }
        })
        .collect()
}

/// Sum of bump weights per cell along one axis.
fn per_cell_weight(axis: &Axis, cells: usize) -> Vec<f64> {
    let mut totals = vec![0.0f64; cells];
    for (&cell, &w) in axis.cell.iter().zip(&axis.weight) {
        if let Some(total) = totals.get_mut(cell) {
            *total += f64::from(w);
        }
    }
    totals
}

/// Each cell's mean minus the mean of its (up to eight) neighbours, with outliers clipped.
///
/// The picture's own brightness varies smoothly across neighbouring cells while the chips are
/// independent random signs, so this cancels most of the content and keeps most of the mark.
fn neighbour_residuals(means: &[f32]) -> Vec<f32> {
    let at = |col: usize, row: usize| means.get(row * GRID_COLS + col).copied();
    let mut residuals: Vec<f32> = (0..CELLS)
        .map(|cell| {
            let (col, row) = (cell % GRID_COLS, cell / GRID_COLS);
            let mut total = 0.0;
            let mut count = 0.0;
            for dy in [-1isize, 0, 1] {
                for dx in [-1isize, 0, 1] {
                    if dx == 0 && dy == 0 {
                        continue;
                    }
                    let neighbour = col
                        .checked_add_signed(dx)
                        .filter(|&c| c < GRID_COLS)
                        .zip(row.checked_add_signed(dy).filter(|&r| r < GRID_ROWS))
                        .and_then(|(c, r)| at(c, r));
                    if let Some(value) = neighbour {
                        total += value;
                        count += 1.0;
                    }
                }
            }
            at(col, row).unwrap_or(0.0) - total / count
        })
        .collect();
    // Strong edges and overlays produce residuals far above the mark's; clip them so one busy
    // cell cannot outvote the others carrying the same bit.
    let mut magnitudes: Vec<f32> = residuals.iter().map(|r| r.abs()).collect();
    magnitudes.sort_by(f32::total_cmp);
    let median = magnitudes.get(magnitudes.len() / 2).copied().unwrap_or(0.0);
    let limit = OUTLIER_CLIP * median.max(f32::EPSILON);
    for residual in &mut residuals {
        *residual = residual.clamp(-limit, limit);
    }
    residuals
}

/// Decodes soft channel bits (positive = 1, any scale) into a [`Detection`].
pub fn decode_soft_bits(soft: &[f32]) -> Detection {
    let energy: f64 = soft.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (energy / soft.len().max(1) as f64).sqrt();
    let bits: Vec<f32> =
        if rms > 0.0 { soft.iter().map(|&s| (f64::from(s) / rms) as f32).collect() } else { vec![0.0; soft.len()] };
    let decoded = ecc::decode(&bits);
    let codeword = ecc::encode(decoded.payload);
    let agreement: f64 = bits.iter().zip(&codeword).map(|(&s, &c)| if c { f64::from(s) } else { -f64::from(s) }).sum();
    let confidence = if rms > 0.0 { agreement / bits.len() as f64 } else { 0.0 };
    Detection {
        payload: (decoded.crc_ok && confidence >= MIN_CONFIDENCE).then_some(decoded.payload),
        confidence,
        bits,
        best_guess: decoded.payload,
        crc_ok: decoded.crc_ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Noise decodes to *some* codeword; its agreement must stay clear of the threshold, so the
    /// threshold (not only the 1-in-65536 CRC) keeps unmarked clips out.
    #[test]
    fn random_soft_bits_stay_below_the_confidence_threshold() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let worst = (0..2000)
            .map(|_| {
                let soft: Vec<f32> =
                    (0..CODED_BITS).map(|_| rng.random_range(-1.0f32..1.0) + rng.random_range(-1.0f32..1.0)).collect();
                decode_soft_bits(&soft).confidence
            })
            .fold(f64::MIN, f64::max);
        assert!(worst < MIN_CONFIDENCE - 0.03, "worst {worst}");
    }

    #[test]
    fn axis_maps_pixel_centres_to_the_same_cells_at_half_size() {
        let full = Axis::new(640, GRID_COLS);
        let half = Axis::new(320, GRID_COLS);
        for (x, &cell) in half.cell.iter().enumerate() {
            assert_eq!(full.cell.get(2 * x), Some(&cell));
        }
        assert!(full.weight.iter().all(|w| (0.0..=1.0).contains(w)));
    }
}
