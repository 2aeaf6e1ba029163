//! Turning browser recordings into plain MP4s, without re-encoding.
//!
//! Why: a browser records camera video with `MediaRecorder`, and Chromium (desktop, and the
//! browsers of Android phones) writes it as a *fragmented* MP4: a `moov` whose sample tables are
//! empty, an `mvex` announcing fragments, then `moof` + `mdat` pairs whose `trun` boxes list the
//! samples. It also puts `pasp` and `btrt` before `avcC` inside the `avc1` sample entry. The
//! reader of this crate (the `mp4` crate, see `read.rs`) takes samples and durations from `moov`
//! only, and wants `avcC` as the first child of `avc1`, so it refuses such a file ("avcc not
//! found") or sees a clip with no frames.
//!
//! [`normalize_mp4`] rewrites such a file into the plain form every reader understands:
//! - every `avc1`/`avc3` entry gets `avcC` as its first child (only the order of its children
//!   changes, so its size does not);
//! - when there are fragments, every track's samples are read from the `trun`s (with the
//!   `tfhd` and `trex` defaults) and written as full tables in `stbl` (`stts`, `ctts`, `stss`,
//!   `stsc`, `stsz`, `stco`/`co64`), the durations of `mdhd`, `tkhd` and `mvhd` are set from the
//!   samples, `mvex` is dropped, and the sample bytes are copied, run by run, into one new
//!   `mdat` after `moov`. Each `trun` becomes one chunk, so the recording's interleaving stays.
//!
//! No sample byte is changed. A file that needs neither fix comes back borrowed, untouched.
//!
//! The input is untrusted: every size and count is checked against the bytes that hold it, and
//! no allocation is sized by a count before that count is bounded by the file length. Anything
//! malformed is a [`MediaError::UnsupportedMp4`], never a panic.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use crate::MediaError;

/// A box type, such as `*b"moov"`.
type FourCc = [u8; 4];

/// The per-sample boxes of `stbl`: dropped, and the tables rebuilt from the fragments.
const SAMPLE_TABLES: [&FourCc; 13] = [
    b"stts", b"ctts", b"stsc", b"stsz", b"stz2", b"stco", b"co64", b"stss", b"sdtp", b"sbgp", b"subs", b"saiz", b"saio",
];

/// Top-level boxes that only describe fragments: dropped with them.
const FRAGMENT_BOXES: [&FourCc; 8] = [b"moof", b"mdat", b"mfra", b"sidx", b"ssix", b"styp", b"prft", b"emsg"];

/// Bytes of an `avc1`/`avc3` entry between its header and its child boxes (VisualSampleEntry).
const VISUAL_ENTRY_FIELDS: usize = 78;

// `tfhd` flags.
const TFHD_BASE_DATA_OFFSET: u32 = 0x00_0001;
const TFHD_DESCRIPTION_INDEX: u32 = 0x00_0002;
const TFHD_DEFAULT_DURATION: u32 = 0x00_0008;
const TFHD_DEFAULT_SIZE: u32 = 0x00_0010;
const TFHD_DEFAULT_FLAGS: u32 = 0x00_0020;
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;

// `trun` flags.
const TRUN_DATA_OFFSET: u32 = 0x00_0001;
const TRUN_FIRST_SAMPLE_FLAGS: u32 = 0x00_0004;
const TRUN_DURATION: u32 = 0x00_0100;
const TRUN_SIZE: u32 = 0x00_0200;
const TRUN_FLAGS: u32 = 0x00_0400;
const TRUN_COMPOSITION_OFFSET: u32 = 0x00_0800;

/// Most samples a file may have in all (about 4.8 hours at 60 frames per second), so that a
/// file of small samples cannot make the tables take many times its own size in memory.
const MAX_SAMPLES: usize = 1 << 20;

/// The `sample_is_non_sync_sample` bit of sample flags.
const SAMPLE_IS_NON_SYNC: u32 = 0x1_0000;

/// Rewrites a browser's MP4 recording into a plain MP4 (see the module documentation).
///
/// Returns the input, borrowed and untouched, when it is already a plain MP4 whose `avc1`
/// entries have `avcC` first; otherwise the rewritten file. Malformed input is an error.
pub fn normalize_mp4(bytes: &[u8]) -> Result<Cow<'_, [u8]>, MediaError> {
    let top = boxes(bytes, 0)?;
    // Padding is tolerated inside boxes, but at the top level it is a file cut short.
    if top.last().map_or(0, Mp4Box::end) != bytes.len() {
        return Err(malformed("the file ends inside a box header"));
    }
    let moov = top.iter().find(|b| &b.kind == b"moov").ok_or(malformed("the file has no movie box (moov)"))?;
    let fragmented = top.iter().any(|b| &b.kind == b"moof") || child(moov, b"mvex")?.is_some();
    if fragmented {
        return defragment(bytes, &top, moov).map(Cow::Owned);
    }
    let mut misordered = Vec::new();
    for entry in avc_entries(moov)? {
        if !avcc_first(&entry)? {
            misordered.push(entry);
        }
    }
    if misordered.is_empty() {
        return Ok(Cow::Borrowed(bytes));
    }
    reorder_in_place(bytes, &misordered).map(Cow::Owned)
}

/// A copy of the file with `avcC` moved first in each of `entries`. Reordering children keeps
/// every size, so nothing else in the file moves.
fn reorder_in_place(bytes: &[u8], entries: &[Mp4Box<'_>]) -> Result<Vec<u8>, MediaError> {
    let mut out = bytes.to_vec();
    for entry in entries {
        let mut fixed = Vec::with_capacity(entry.whole.len());
        write_avc_entry(entry, &mut fixed)?;
        out.get_mut(entry.start..entry.end())
            .filter(|slot| slot.len() == fixed.len())
            .ok_or(malformed("a sample entry changed size while being reordered"))?
            .copy_from_slice(&fixed);
    }
    Ok(out)
}

/// The error for anything the file gets wrong.
fn malformed(why: &'static str) -> MediaError {
    MediaError::UnsupportedMp4(why)
}

// ---------------------------------------------------------------------------------------------
// Reading boxes and fields.

/// One box of the file.
#[derive(Debug, Clone, Copy)]
struct Mp4Box<'a> {
    /// Its type.
    kind: FourCc,
    /// Offset of its first byte in the file.
    start: usize,
    /// The whole box, header included.
    whole: &'a [u8],
    /// The payload after the header.
    body: &'a [u8],
}

impl Mp4Box<'_> {
    /// Offset of the first payload byte in the file.
    fn body_start(&self) -> usize {
        self.start + (self.whole.len() - self.body.len())
    }

    /// Offset one past the last byte in the file.
    fn end(&self) -> usize {
        self.start + self.whole.len()
    }
}

/// The boxes that `data` (which starts at `start` in the file) is made of. A box that runs past
/// `data` is an error; fewer than 8 zero bytes at the end are padding and ignored.
fn boxes(data: &[u8], start: usize) -> Result<Vec<Mp4Box<'_>>, MediaError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(rest) = data.get(pos..).filter(|rest| !rest.is_empty()) {
        if rest.len() < 8 && rest.iter().all(|&b| b == 0) {
            break;
        }
        let mut r = Reader::new(rest);
        let size = r.u32()?;
        let kind = r.bytes::<4>()?;
        let (size, header) = match size {
            0 => (rest.len() as u64, 8), // runs to the end of its parent
            1 => (r.u64()?, 16),
            n => (u64::from(n), 8),
        };
        let size = usize::try_from(size).map_err(|_| malformed("a box is larger than memory"))?;
        if size < header {
            return Err(malformed("a box is smaller than its own header"));
        }
        let whole = rest.get(..size).ok_or(malformed("a box runs past the end of its parent"))?;
        let body = whole.get(header..).unwrap_or_default();
        out.push(Mp4Box { kind, start: start + pos, whole, body });
        pos += size;
    }
    Ok(out)
}

/// The children of a container box.
fn children<'a>(parent: &Mp4Box<'a>) -> Result<Vec<Mp4Box<'a>>, MediaError> {
    boxes(parent.body, parent.body_start())
}

/// The first child of `parent` of type `kind`, if any.
fn child<'a>(parent: &Mp4Box<'a>, kind: &FourCc) -> Result<Option<Mp4Box<'a>>, MediaError> {
    Ok(children(parent)?.into_iter().find(|b| &b.kind == kind))
}

/// The first child of `parent` of type `kind`, which must be there.
fn required<'a>(parent: &Mp4Box<'a>, kind: &FourCc, why: &'static str) -> Result<Mp4Box<'a>, MediaError> {
    child(parent, kind)?.ok_or(malformed(why))
}

/// Reads big-endian fields from the front of a byte slice, failing when it runs out.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], MediaError> {
        let (head, rest) = self.data.split_first_chunk::<N>().ok_or(malformed("a box ends before its fields do"))?;
        self.data = rest;
        Ok(*head)
    }

    fn u32(&mut self) -> Result<u32, MediaError> {
        self.bytes().map(u32::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, MediaError> {
        self.bytes().map(i32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, MediaError> {
        self.bytes().map(u64::from_be_bytes)
    }

    fn skip(&mut self, n: usize) -> Result<(), MediaError> {
        self.data = self.data.get(n..).ok_or(malformed("a box ends before its fields do"))?;
        Ok(())
    }

    /// A full box's version and flags.
    fn version_and_flags(&mut self) -> Result<(u8, u32), MediaError> {
        let word = self.u32()?;
        Ok(((word >> 24) as u8, word & 0xff_ffff))
    }

    fn remaining(&self) -> usize {
        self.data.len()
    }
}

/// Where a field of `mvhd`, `mdhd` or `tkhd` sits in the payload: one offset per version.
#[derive(Clone, Copy)]
struct Field {
    v0: usize,
    v1: usize,
}

/// `mvhd` and `mdhd`: version/flags, creation, modification, then timescale and duration.
const TIMESCALE: Field = Field { v0: 12, v1: 20 };
const DURATION: Field = Field { v0: 16, v1: 24 };
/// `tkhd`: version/flags, creation, modification, then track id, a reserved word and duration.
const TRACK_ID: Field = Field { v0: 12, v1: 20 };
const TRACK_DURATION: Field = Field { v0: 20, v1: 28 };

/// The version of a header box, which must be 0 or 1.
fn header_version(b: &Mp4Box<'_>) -> Result<u8, MediaError> {
    match b.body.first() {
        Some(&v) if v <= 1 => Ok(v),
        Some(_) => Err(malformed("a header box has an unknown version")),
        None => Err(malformed("a header box is empty")),
    }
}

/// Offset of `field` in the payload of `b`, by its version.
fn field_offset(b: &Mp4Box<'_>, field: Field) -> Result<usize, MediaError> {
    Ok(if header_version(b)? == 1 { field.v1 } else { field.v0 })
}

/// Reads the 32-bit `field` of a header box.
fn read_u32_field(b: &Mp4Box<'_>, field: Field) -> Result<u32, MediaError> {
    let mut r = Reader::new(b.body);
    r.skip(field_offset(b, field)?)?;
    r.u32()
}

/// A copy of the header box `b` with its duration `field` set to `value` (32 bits in version 0,
/// 64 in version 1).
fn with_duration(b: &Mp4Box<'_>, field: Field, value: u64) -> Result<Vec<u8>, MediaError> {
    let at = b.whole.len() - b.body.len() + field_offset(b, field)?;
    let encoded = if header_version(b)? == 1 {
        value.to_be_bytes().to_vec()
    } else {
        u32::try_from(value)
            .map_err(|_| malformed("a duration does not fit its version-0 header"))?
            .to_be_bytes()
            .to_vec()
    };
    let mut copy = b.whole.to_vec();
    copy.get_mut(at..at + encoded.len())
        .ok_or(malformed("a header box is too short for its duration"))?
        .copy_from_slice(&encoded);
    Ok(copy)
}

// ---------------------------------------------------------------------------------------------
// Sample entries: `avcC` first.

/// Whether `kind` is an H.264 sample entry.
fn is_avc(kind: &FourCc) -> bool {
    kind == b"avc1" || kind == b"avc3"
}

/// The sample entries (children of `stsd`) of `stsd`.
fn stsd_entries<'a>(stsd: &Mp4Box<'a>) -> Result<Vec<Mp4Box<'a>>, MediaError> {
    // Version/flags and the entry count come first; the boxes that follow are the entries.
    let entries = stsd.body.get(8..).ok_or(malformed("the sample description box is too short"))?;
    boxes(entries, stsd.body_start() + 8)
}

/// Every H.264 sample entry of every track of `moov`.
fn avc_entries<'a>(moov: &Mp4Box<'a>) -> Result<Vec<Mp4Box<'a>>, MediaError> {
    let mut out = Vec::new();
    for trak in children(moov)?.iter().filter(|b| &b.kind == b"trak") {
        let mut stsd = Some(*trak);
        for kind in [b"mdia", b"minf", b"stbl", b"stsd"] {
            stsd = match stsd {
                Some(parent) => child(&parent, kind)?,
                None => None,
            };
        }
        if let Some(stsd) = stsd {
            out.extend(stsd_entries(&stsd)?.into_iter().filter(|e| is_avc(&e.kind)));
        }
    }
    Ok(out)
}

/// The fixed fields and the child boxes of an H.264 sample entry.
fn avc_parts<'a>(entry: &Mp4Box<'a>) -> Result<(&'a [u8], Vec<Mp4Box<'a>>), MediaError> {
    let (fields, kids) =
        entry.body.split_at_checked(VISUAL_ENTRY_FIELDS).ok_or(malformed("an avc1 sample entry is too short"))?;
    let kids = boxes(kids, entry.body_start() + VISUAL_ENTRY_FIELDS)?;
    if !kids.iter().any(|k| &k.kind == b"avcC") {
        return Err(malformed("an avc1 sample entry has no avcC box"));
    }
    Ok((fields, kids))
}

/// Whether `avcC` is the first child of the H.264 sample entry.
fn avcc_first(entry: &Mp4Box<'_>) -> Result<bool, MediaError> {
    let (_, kids) = avc_parts(entry)?;
    Ok(kids.first().is_some_and(|k| &k.kind == b"avcC"))
}

/// Writes the H.264 sample entry with `avcC` as its first child, other children in their order.
/// The result has exactly the entry's size.
fn write_avc_entry(entry: &Mp4Box<'_>, out: &mut Vec<u8>) -> Result<(), MediaError> {
    let (fields, kids) = avc_parts(entry)?;
    let header = entry.whole.get(..entry.whole.len() - entry.body.len()).unwrap_or_default();
    out.extend_from_slice(header);
    out.extend_from_slice(fields);
    let (avcc, others): (Vec<_>, Vec<_>) = kids.iter().partition(|k| &k.kind == b"avcC");
    for kid in avcc.into_iter().chain(others) {
        copy_box(kid, out)?;
    }
    Ok(())
}

/// Copies a box; one whose size said "to the end of the parent" gets its real size, since it
/// may not be last any more.
fn copy_box(b: &Mp4Box<'_>, out: &mut Vec<u8>) -> Result<(), MediaError> {
    match b.whole.split_first_chunk::<4>() {
        Some((&[0, 0, 0, 0], rest)) => {
            let size =
                u32::try_from(b.whole.len()).map_err(|_| malformed("a box without a size is too large to move"))?;
            out.extend_from_slice(&size.to_be_bytes());
            out.extend_from_slice(rest);
        }
        _ => out.extend_from_slice(b.whole),
    }
    Ok(())
}

/// Writes `stsd` with every H.264 entry's `avcC` first.
fn write_stsd(stsd: &Mp4Box<'_>, out: &mut Vec<u8>) -> Result<(), MediaError> {
    let head = stsd.body.get(..8).ok_or(malformed("the sample description box is too short"))?;
    write_box(out, b"stsd", |out| {
        out.extend_from_slice(head);
        for entry in stsd_entries(stsd)? {
            if is_avc(&entry.kind) {
                write_avc_entry(&entry, out)?;
            } else {
                copy_box(&entry, out)?;
            }
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Reading the fragments.

/// Per-sample values a fragment leaves out (from `trex`, overridden by `tfhd`).
#[derive(Debug, Clone, Copy)]
struct Defaults {
    description: u32,
    duration: u32,
    size: u32,
    flags: u32,
}

impl Default for Defaults {
    fn default() -> Self {
        Self { description: 1, duration: 0, size: 0, flags: 0 }
    }
}

/// One sample, where it lies in the input.
#[derive(Debug, Clone, Copy)]
struct Sample {
    offset: usize,
    size: u32,
    duration: u32,
    composition_offset: i64,
    sync: bool,
}

/// One `trun`: consecutive samples of one track, which become one chunk.
#[derive(Debug, Clone)]
struct Run {
    track: u32,
    description: u32,
    samples: Range<usize>,
}

/// Every sample of the fragments, by track, and the runs in file order.
#[derive(Debug, Default)]
struct Fragments {
    samples: BTreeMap<u32, Vec<Sample>>,
    runs: Vec<Run>,
    /// Number of samples.
    total: usize,
    /// Sum of their sizes.
    bytes: usize,
}

/// The `trex` defaults of each track.
fn track_defaults(moov: &Mp4Box<'_>) -> Result<BTreeMap<u32, Defaults>, MediaError> {
    let mut out = BTreeMap::new();
    let Some(mvex) = child(moov, b"mvex")? else {
        return Ok(out);
    };
    for trex in children(&mvex)?.iter().filter(|b| &b.kind == b"trex") {
        let mut r = Reader::new(trex.body);
        r.version_and_flags()?;
        let track = r.u32()?;
        let defaults = Defaults { description: r.u32()?, duration: r.u32()?, size: r.u32()?, flags: r.u32()? };
        out.insert(track, defaults);
    }
    Ok(out)
}

/// The payload ranges of the top-level `mdat`s: where samples may lie.
fn media_data(top: &[Mp4Box<'_>]) -> Vec<Range<usize>> {
    top.iter().filter(|b| &b.kind == b"mdat").map(|b| b.body_start()..b.end()).collect()
}

/// Reads every sample of every `moof`, in file order.
fn read_fragments(top: &[Mp4Box<'_>], defaults: &BTreeMap<u32, Defaults>) -> Result<Fragments, MediaError> {
    let mdats = media_data(top);
    let media_bytes = mdats.iter().map(|m| m.end - m.start).sum();
    let mut fragments = Fragments::default();
    for moof in top.iter().filter(|b| &b.kind == b"moof") {
        let mut next_base = moof.start as u64;
        for traf in children(moof)?.iter().filter(|b| &b.kind == b"traf") {
            let tfhd = required(traf, b"tfhd", "a track fragment has no header (tfhd)")?;
            let header = TrackFragment::read(&tfhd, defaults, moof.start as u64, next_base)?;
            let mut data_end = header.base;
            for trun in children(traf)?.iter().filter(|b| &b.kind == b"trun") {
                let run = RunReader { header: &header, mdats: &mdats, media_bytes };
                data_end = run.read(trun, data_end, &mut fragments)?;
            }
            next_base = data_end;
        }
    }
    Ok(fragments)
}

/// What a `tfhd` says about the samples of its track fragment.
#[derive(Debug)]
struct TrackFragment {
    track: u32,
    /// Offset that `trun` data offsets count from.
    base: u64,
    defaults: Defaults,
}

impl TrackFragment {
    /// Reads a `tfhd`. Without an explicit base, the base is the `moof` (when the flag says so,
    /// or for the first track fragment) or the end of the previous track fragment's data.
    fn read(
        tfhd: &Mp4Box<'_>,
        defaults: &BTreeMap<u32, Defaults>,
        moof_start: u64,
        next_base: u64,
    ) -> Result<Self, MediaError> {
        let mut r = Reader::new(tfhd.body);
        let (_, flags) = r.version_and_flags()?;
        let track = r.u32()?;
        let mut d = defaults.get(&track).copied().unwrap_or_default();
        let base = if flags & TFHD_BASE_DATA_OFFSET != 0 {
            r.u64()?
        } else if flags & TFHD_DEFAULT_BASE_IS_MOOF != 0 {
            moof_start
        } else {
            next_base
        };
        if flags & TFHD_DESCRIPTION_INDEX != 0 {
            d.description = r.u32()?;
        }
        if flags & TFHD_DEFAULT_DURATION != 0 {
            d.duration = r.u32()?;
        }
        if flags & TFHD_DEFAULT_SIZE != 0 {
            d.size = r.u32()?;
        }
        if flags & TFHD_DEFAULT_FLAGS != 0 {
            d.flags = r.u32()?;
        }
        Ok(Self { track, base, defaults: d })
    }
}

/// Reads the `trun`s of one track fragment.
struct RunReader<'h> {
    header: &'h TrackFragment,
    mdats: &'h [Range<usize>],
    /// Payload bytes of all `mdat`s together: what the samples' sizes may add up to at most.
    media_bytes: usize,
}

impl RunReader<'_> {
    /// Reads one `trun` into `fragments`; `continue_at` is where its data starts when it gives
    /// no data offset (the end of the previous run). Returns where its data ends.
    fn read(&self, trun: &Mp4Box<'_>, continue_at: u64, fragments: &mut Fragments) -> Result<u64, MediaError> {
        let mut r = Reader::new(trun.body);
        let (version, flags) = r.version_and_flags()?;
        let count = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
        let mut at = if flags & TRUN_DATA_OFFSET != 0 {
            self.header
                .base
                .checked_add_signed(i64::from(r.i32()?))
                .ok_or(malformed("a track run's data offset is out of range"))?
        } else {
            continue_at
        };
        let first_flags = if flags & TRUN_FIRST_SAMPLE_FLAGS != 0 { Some(r.u32()?) } else { None };
        self.check_count(&r, flags, count, fragments)?;
        let track = fragments.samples.entry(self.header.track).or_default();
        let first = track.len();
        track.reserve(count);
        let d = self.header.defaults;
        for i in 0..count {
            let duration = if flags & TRUN_DURATION != 0 { r.u32()? } else { d.duration };
            let size = if flags & TRUN_SIZE != 0 { r.u32()? } else { d.size };
            let sample_flags = match (flags & TRUN_FLAGS != 0, first_flags) {
                (true, _) => r.u32()?,
                (false, Some(f)) if i == 0 => f,
                _ => d.flags,
            };
            let composition_offset = match (flags & TRUN_COMPOSITION_OFFSET != 0, version) {
                (false, _) => 0,
                (true, 0) => i64::from(r.u32()?),
                (true, _) => i64::from(r.i32()?),
            };
            let offset = self.locate(at, size)?;
            // Each sample takes bytes of its own: this bounds the count and what gets copied.
            fragments.bytes += size as usize;
            if fragments.bytes > self.media_bytes {
                return Err(malformed("the samples add up to more bytes than the media data"));
            }
            track.push(Sample {
                offset,
                size,
                duration,
                composition_offset,
                sync: sample_flags & SAMPLE_IS_NON_SYNC == 0,
            });
            at += u64::from(size);
        }
        fragments.total += count;
        if count > 0 {
            let description = d.description;
            fragments.runs.push(Run { track: self.header.track, description, samples: first..first + count });
        }
        Ok(at)
    }

    /// Refuses a sample count that the run's box or the media data could not hold (every
    /// sample has at least one byte), or more than [`MAX_SAMPLES`] in all, before anything is
    /// allocated for it.
    fn check_count(&self, r: &Reader<'_>, flags: u32, count: usize, so_far: &Fragments) -> Result<(), MediaError> {
        let per_sample =
            [TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS, TRUN_COMPOSITION_OFFSET].iter().filter(|&&f| flags & f != 0).count()
                * 4;
        if per_sample > 0 && count > r.remaining() / per_sample {
            return Err(malformed("a track run lists more samples than its box holds"));
        }
        if count > self.media_bytes.saturating_sub(so_far.bytes) {
            return Err(malformed("the fragments list more samples than the media data holds"));
        }
        if count > MAX_SAMPLES.saturating_sub(so_far.total) {
            return Err(malformed("the fragments list too many samples"));
        }
        Ok(())
    }

    /// Checks that the `size` (not zero) bytes at `at` lie inside one `mdat`, and returns `at`
    /// as an offset.
    fn locate(&self, at: u64, size: u32) -> Result<usize, MediaError> {
        if size == 0 {
            return Err(malformed("a sample has no bytes"));
        }
        let start = usize::try_from(at).map_err(|_| malformed("a sample lies outside the media data"))?;
        let end = start.checked_add(size as usize).ok_or(malformed("a sample lies outside the media data"))?;
        if self.mdats.iter().any(|m| m.start <= start && end <= m.end) {
            Ok(start)
        } else {
            Err(malformed("a sample lies outside the media data"))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing the plain file.

/// Writes a box of type `kind` whose payload `body` writes.
fn write_box(
    out: &mut Vec<u8>,
    kind: &FourCc,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), MediaError>,
) -> Result<(), MediaError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(kind);
    body(out)?;
    let size = u32::try_from(out.len() - start).map_err(|_| malformed("a rewritten box exceeds 4 GiB"))?;
    out.get_mut(start..start + 4)
        .ok_or(malformed("a rewritten box lost its header"))?
        .copy_from_slice(&size.to_be_bytes());
    Ok(())
}

/// Writes a full box (version, flags, then 32-bit words).
fn write_full_box(out: &mut Vec<u8>, kind: &FourCc, version: u8, words: &[u32]) -> Result<(), MediaError> {
    write_box(out, kind, |out| {
        out.extend_from_slice(&(u32::from(version) << 24).to_be_bytes());
        for w in words {
            out.extend_from_slice(&w.to_be_bytes());
        }
        Ok(())
    })
}

/// A count for a table header.
fn count_u32(n: usize) -> Result<u32, MediaError> {
    u32::try_from(n).map_err(|_| malformed("a track has more samples than MP4 tables hold"))
}

/// Run-length pairs `(count, value)` of consecutive equal values.
fn runs_of<T: PartialEq + Copy>(values: impl Iterator<Item = T>) -> Vec<(u32, T)> {
    let mut out: Vec<(u32, T)> = Vec::new();
    for v in values {
        match out.last_mut() {
            Some((n, last)) if *last == v && *n < u32::MAX => *n += 1,
            _ => out.push((1, v)),
        }
    }
    out
}

/// One chunk of the new file: a run's samples, contiguous in the new `mdat`.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    /// Offset of its first byte from the start of the new `mdat`'s payload.
    offset: u64,
    samples: u32,
    description: u32,
}

/// Everything the new `moov` says about one track.
#[derive(Debug, Default)]
struct TrackPlan<'f> {
    samples: &'f [Sample],
    chunks: Vec<Chunk>,
    /// Sum of sample durations, in the track's timescale.
    media_duration: u64,
    /// The same length in the movie's timescale.
    movie_duration: u64,
}

/// Where each run's bytes go in the new `mdat`: the chunks of each track, and the payload size.
fn lay_out(fragments: &Fragments) -> Result<(BTreeMap<u32, Vec<Chunk>>, u64), MediaError> {
    let mut chunks: BTreeMap<u32, Vec<Chunk>> = BTreeMap::new();
    let mut offset = 0u64;
    for run in &fragments.runs {
        let samples = fragments.samples.get(&run.track).and_then(|s| s.get(run.samples.clone())).unwrap_or_default();
        chunks.entry(run.track).or_default().push(Chunk {
            offset,
            samples: count_u32(samples.len())?,
            description: run.description,
        });
        offset += samples.iter().map(|s| u64::from(s.size)).sum::<u64>();
    }
    Ok((chunks, offset))
}

/// The plan of every `trak` of `moov`, in order.
fn plan_tracks<'f>(
    moov: &Mp4Box<'_>,
    fragments: &'f Fragments,
    chunks: &mut BTreeMap<u32, Vec<Chunk>>,
    movie_timescale: u32,
) -> Result<Vec<TrackPlan<'f>>, MediaError> {
    let mut plans = Vec::new();
    for trak in children(moov)?.iter().filter(|b| &b.kind == b"trak") {
        let tkhd = required(trak, b"tkhd", "a track has no header (tkhd)")?;
        let mdia = required(trak, b"mdia", "a track has no media box (mdia)")?;
        let mdhd = required(&mdia, b"mdhd", "a track has no media header (mdhd)")?;
        let id = read_u32_field(&tkhd, TRACK_ID)?;
        let timescale = read_u32_field(&mdhd, TIMESCALE)?;
        if timescale == 0 {
            return Err(malformed("a track has a zero timescale"));
        }
        let samples = fragments.samples.get(&id).map(Vec::as_slice).unwrap_or_default();
        let media_duration: u64 = samples.iter().map(|s| u64::from(s.duration)).sum();
        let movie_duration = u128::from(media_duration) * u128::from(movie_timescale) / u128::from(timescale);
        plans.push(TrackPlan {
            samples,
            chunks: chunks.remove(&id).unwrap_or_default(),
            media_duration,
            movie_duration: u64::try_from(movie_duration).map_err(|_| malformed("a track is too long"))?,
        });
    }
    if !chunks.is_empty() {
        return Err(malformed("a fragment belongs to a track that moov does not declare"));
    }
    Ok(plans)
}

/// Writes the new `moov`: `mvex` dropped, durations set, sample tables from the plans, with
/// chunk offsets counted from `data_start` (the file offset of the new `mdat`'s payload).
struct MoovWriter<'p, 'f> {
    plans: &'p [TrackPlan<'f>],
    data_start: u64,
    co64: bool,
}

impl MoovWriter<'_, '_> {
    fn moov(&self, moov: &Mp4Box<'_>, out: &mut Vec<u8>) -> Result<(), MediaError> {
        let movie_duration = self.plans.iter().map(|p| p.movie_duration).max().unwrap_or(0);
        let mut plans = self.plans.iter();
        write_box(out, b"moov", |out| {
            for b in children(moov)? {
                match &b.kind {
                    b"mvex" => {}
                    b"mvhd" => out.extend_from_slice(&with_duration(&b, DURATION, movie_duration)?),
                    b"trak" => {
                        let plan = plans.next().ok_or(malformed("a track changed while being rewritten"))?;
                        self.track_box(&b, plan, out)?;
                    }
                    _ => copy_box(&b, out)?,
                }
            }
            Ok(())
        })
    }

    /// A track's boxes on the way down to its `stbl` (`trak`, `mdia`, `minf`): the header
    /// durations set, `stbl` rebuilt, everything else copied.
    fn track_box(&self, parent: &Mp4Box<'_>, plan: &TrackPlan<'_>, out: &mut Vec<u8>) -> Result<(), MediaError> {
        write_box(out, &parent.kind, |out| {
            for b in children(parent)? {
                match &b.kind {
                    b"tkhd" => out.extend_from_slice(&with_duration(&b, TRACK_DURATION, plan.movie_duration)?),
                    b"mdhd" => out.extend_from_slice(&with_duration(&b, DURATION, plan.media_duration)?),
                    b"mdia" | b"minf" => self.track_box(&b, plan, out)?,
                    b"stbl" => self.stbl(&b, plan, out)?,
                    _ => copy_box(&b, out)?,
                }
            }
            Ok(())
        })
    }

    /// `stsd` (with `avcC` first) and whatever else is not a sample table, then the new tables.
    fn stbl(&self, stbl: &Mp4Box<'_>, plan: &TrackPlan<'_>, out: &mut Vec<u8>) -> Result<(), MediaError> {
        let kids = children(stbl)?;
        if let Some(stsz) = kids.iter().find(|b| &b.kind == b"stsz") {
            // Version/flags, sample size, sample count: samples in moov as well as in fragments
            // would need merging, which no recorder does.
            let mut r = Reader::new(stsz.body);
            r.skip(8)?;
            if r.u32()? != 0 {
                return Err(malformed("samples both in moov and in fragments are not supported"));
            }
        }
        write_box(out, b"stbl", |out| {
            for b in kids.iter().filter(|b| !SAMPLE_TABLES.contains(&&b.kind)) {
                match &b.kind {
                    b"stsd" => write_stsd(b, out)?,
                    _ => copy_box(b, out)?,
                }
            }
            self.sample_tables(plan, out)
        })
    }

    /// `stts`, `ctts` (when any composition offset), `stss` (when not every sample is a sync
    /// sample), `stsc`, `stsz` and `stco`/`co64` for the plan's samples and chunks.
    fn sample_tables(&self, plan: &TrackPlan<'_>, out: &mut Vec<u8>) -> Result<(), MediaError> {
        let samples = plan.samples;
        write_table(out, b"stts", 0, &runs_of(samples.iter().map(|s| s.duration)))?;
        if samples.iter().any(|s| s.composition_offset != 0) {
            write_ctts(out, samples)?;
        }
        if !samples.iter().all(|s| s.sync) {
            let sync: Vec<u32> =
                (1..=count_u32(samples.len())?).zip(samples).filter_map(|(n, s)| s.sync.then_some(n)).collect();
            write_list(out, b"stss", &sync)?;
        }
        // One stsc entry wherever the samples per chunk or the sample description change.
        let mut stsc: Vec<u32> = Vec::new();
        let mut previous = None;
        for (number, chunk) in (1..).zip(&plan.chunks) {
            if previous != Some((chunk.samples, chunk.description)) {
                stsc.extend([number, chunk.samples, chunk.description]);
                previous = Some((chunk.samples, chunk.description));
            }
        }
        write_full_box(out, b"stsc", 0, &[&[count_u32(stsc.len() / 3)?][..], &stsc].concat())?;
        // stsz: no common size (0), the count, then every sample's size.
        let sizes: Vec<u32> = samples.iter().map(|s| s.size).collect();
        write_full_box(out, b"stsz", 0, &[&[0, count_u32(sizes.len())?][..], &sizes].concat())?;
        self.chunk_offsets(plan, out)
    }

    fn chunk_offsets(&self, plan: &TrackPlan<'_>, out: &mut Vec<u8>) -> Result<(), MediaError> {
        let offsets = plan.chunks.iter().map(|c| self.data_start + c.offset);
        let count = count_u32(plan.chunks.len())?;
        if self.co64 {
            write_box(out, b"co64", |out| {
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(&count.to_be_bytes());
                offsets.for_each(|o| out.extend_from_slice(&o.to_be_bytes()));
                Ok(())
            })
        } else {
            let offsets = offsets
                .map(|o| u32::try_from(o).map_err(|_| malformed("a chunk offset needs co64")))
                .collect::<Result<Vec<u32>, _>>()?;
            write_list(out, b"stco", &offsets)
        }
    }
}

/// A full box (version 0) holding the number of entries, then the entries.
fn write_list(out: &mut Vec<u8>, kind: &FourCc, entries: &[u32]) -> Result<(), MediaError> {
    write_full_box(out, kind, 0, &[&[count_u32(entries.len())?], entries].concat())
}

/// A table of `(count, value)` pairs.
fn write_table(out: &mut Vec<u8>, kind: &FourCc, version: u8, pairs: &[(u32, u32)]) -> Result<(), MediaError> {
    let mut words = vec![count_u32(pairs.len())?];
    words.extend(pairs.iter().flat_map(|&(n, v)| [n, v]));
    write_full_box(out, kind, version, &words)
}

/// `ctts`: version 0 with unsigned offsets, or version 1 when some offset is negative.
fn write_ctts(out: &mut Vec<u8>, samples: &[Sample]) -> Result<(), MediaError> {
    let pairs = runs_of(samples.iter().map(|s| s.composition_offset));
    let signed = pairs.iter().any(|&(_, v)| v < 0);
    let pairs = pairs
        .into_iter()
        .map(|(n, v)| {
            let word = if signed { i32::try_from(v).map(|v| v as u32).ok() } else { u32::try_from(v).ok() };
            word.map(|w| (n, w)).ok_or(malformed("a composition offset is out of range"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    write_table(out, b"ctts", u8::from(signed), &pairs)
}

/// Rewrites a fragmented MP4 into a plain one: kept top-level boxes before `moov`, the new
/// `moov`, one `mdat` with every run's samples in file order, then the kept boxes after `moov`.
fn defragment(bytes: &[u8], top: &[Mp4Box<'_>], moov: &Mp4Box<'_>) -> Result<Vec<u8>, MediaError> {
    let fragments = read_fragments(top, &track_defaults(moov)?)?;
    if fragments.total == 0 {
        return Err(malformed("the fragmented MP4 holds no samples"));
    }
    let mvhd = required(moov, b"mvhd", "the movie has no header (mvhd)")?;
    let movie_timescale = read_u32_field(&mvhd, TIMESCALE)?;
    let (mut chunks, payload_len) = lay_out(&fragments)?;
    let plans = plan_tracks(moov, &fragments, &mut chunks, movie_timescale)?;

    let kept = |b: &&Mp4Box<'_>| &b.kind != b"moov" && !FRAGMENT_BOXES.contains(&&b.kind);
    let before: Vec<&Mp4Box<'_>> = top.iter().filter(|b| b.start < moov.start).filter(kept).collect();
    let after: Vec<&Mp4Box<'_>> = top.iter().filter(|b| b.start > moov.start).filter(kept).collect();
    let prefix_len: usize = before.iter().map(|b| b.whole.len()).sum();
    let mdat_header = if payload_len + 8 > u64::from(u32::MAX) { 16 } else { 8 };

    // The offsets depend on the size of moov, and moov's size on whether they need 64 bits.
    let mut new_moov = Vec::new();
    for co64 in [false, true] {
        let sizing = MoovWriter { plans: &plans, data_start: 0, co64 };
        new_moov.clear();
        sizing.moov(moov, &mut new_moov)?;
        let data_start = (prefix_len + new_moov.len()) as u64 + mdat_header;
        if co64 || data_start + payload_len <= u64::from(u32::MAX) {
            new_moov.clear();
            MoovWriter { plans: &plans, data_start, co64 }.moov(moov, &mut new_moov)?;
            break;
        }
    }

    let capacity = usize::try_from(payload_len).unwrap_or(usize::MAX).min(bytes.len());
    let mut out = Vec::with_capacity(prefix_len + new_moov.len() + capacity + 16);
    for b in &before {
        copy_box(b, &mut out)?;
    }
    out.extend_from_slice(&new_moov);
    write_mdat(&mut out, bytes, &fragments, payload_len, mdat_header)?;
    for b in &after {
        copy_box(b, &mut out)?;
    }
    Ok(out)
}

/// Writes the new `mdat`: each run's samples, in the order the runs came in the file.
fn write_mdat(
    out: &mut Vec<u8>,
    bytes: &[u8],
    fragments: &Fragments,
    payload_len: u64,
    header: u64,
) -> Result<(), MediaError> {
    if header == 16 {
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(b"mdat");
        out.extend_from_slice(&(payload_len + 16).to_be_bytes());
    } else {
        out.extend_from_slice(&((payload_len + 8) as u32).to_be_bytes());
        out.extend_from_slice(b"mdat");
    }
    for run in &fragments.runs {
        let samples = fragments.samples.get(&run.track).and_then(|s| s.get(run.samples.clone())).unwrap_or_default();
        for s in samples {
            let data = bytes
                .get(s.offset..s.offset + s.size as usize)
                .ok_or(malformed("a sample lies outside the media data"))?;
            out.extend_from_slice(data);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn boxes_are_read_and_bounded() {
        let file = [boxed(b"ftyp", b"isom"), boxed(b"free", &[])].concat();
        let found = boxes(&file, 0).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(&found[0].kind, b"ftyp");
        assert_eq!(found[0].body, b"isom");
        assert_eq!(found[1].start, 12);

        let mut past = boxed(b"ftyp", b"isom");
        past[3] = 200;
        assert!(boxes(&past, 0).is_err());
        let mut tiny = boxed(b"ftyp", b"isom");
        tiny[3] = 4;
        assert!(boxes(&tiny, 0).is_err());
        // Zero padding after the last box is tolerated, anything else is not.
        assert_eq!(boxes(&[file.clone(), vec![0; 4]].concat(), 0).unwrap().len(), 2);
        assert!(boxes(&[file, vec![0, 0, 0, 9]].concat(), 0).is_err());
    }

    #[test]
    fn runs_collapse_equal_neighbours() {
        assert_eq!(runs_of([5, 5, 5, 7, 5].into_iter()), vec![(3, 5), (1, 7), (1, 5)]);
        assert!(runs_of(std::iter::empty::<u32>()).is_empty());
    }

    #[test]
    fn avcc_moves_first_without_changing_size() {
        let mut body = vec![0u8; VISUAL_ENTRY_FIELDS];
        body.extend(boxed(b"pasp", &[0, 0, 0, 1, 0, 0, 0, 1]));
        // A size of 0 means "to the end": it must get its real size once moved.
        let mut avcc = boxed(b"avcC", &[1, 66, 0, 30]);
        avcc[..4].copy_from_slice(&[0; 4]);
        body.extend(avcc);
        let entry_bytes = boxed(b"avc1", &body);
        let entry = boxes(&entry_bytes, 0).unwrap()[0];
        assert!(!avcc_first(&entry).unwrap());
        let mut fixed = Vec::new();
        write_avc_entry(&entry, &mut fixed).unwrap();
        assert_eq!(fixed.len(), entry_bytes.len());
        let entry = boxes(&fixed, 0).unwrap()[0];
        assert!(avcc_first(&entry).unwrap());
        let (_, kids) = avc_parts(&entry).unwrap();
        assert_eq!(kids.iter().map(|k| k.kind).collect::<Vec<_>>(), [*b"avcC", *b"pasp"]);
        assert_eq!(kids[0].whole.len(), 12);
    }
}
