// Turns the fragmented MP4 that a browser's MediaRecorder writes (`moov` with empty sample
// tables, then `moof`/`mdat` pairs) into a plain MP4 (full sample tables in `moov`, then the
// `mdat`s), and puts `avcC` first in the `avc1` sample entry. The server's MP4 reader needs
// both: it reads the length and the samples from `moov` only, and looks for `avcC` as the first
// child of `avc1` (Chromium writes `pasp` and `btrt` before it). No sample data is re-encoded.
//
// `defragment(ArrayBuffer) → Uint8Array`. A file without fragments comes back with only the
// `avcC` order fixed, or as it was when nothing needs fixing. Throws an Error on a file it
// cannot read.

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'edts', 'dinf']);
const TABLES = new Set(['stts', 'ctts', 'stsc', 'stsz', 'stz2', 'stco', 'co64', 'stss', 'sdtp']);

function type(u8, at) {
  return String.fromCharCode(u8[at], u8[at + 1], u8[at + 2], u8[at + 3]);
}

/** The boxes between `start` and `end`: `{ type, start, end, body }` (body: first byte after the header). */
function boxes(u8, dv, start, end) {
  const out = [];
  let at = start;
  while (at + 8 <= end) {
    let size = dv.getUint32(at);
    let header = 8;
    if (size === 1) {
      size = Number(dv.getBigUint64(at + 8));
      header = 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < header || at + size > end) throw new Error('the recording is not a readable MP4');
    out.push({ type: type(u8, at + 4), start: at, end: at + size, body: at + header });
    at += size;
  }
  return out;
}

/** Every box called `name` inside the containers of `u8`, in file order. */
function findAll(u8, dv, name, start = 0, end = u8.length) {
  const out = [];
  for (const b of boxes(u8, dv, start, end)) {
    if (b.type === name) out.push(b);
    if (CONTAINERS.has(b.type)) out.push(...findAll(u8, dv, name, b.body, b.end));
  }
  return out;
}

function child(u8, dv, box, name) {
  return boxes(u8, dv, box.body, box.end).find((b) => b.type === name);
}

/** Bytes of a box of `name` around `payload` (Uint8Array parts). */
function makeBox(name, ...parts) {
  const size = 8 + parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, size);
  for (let i = 0; i < 4; i += 1) out[4 + i] = name.charCodeAt(i);
  let at = 8;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A full box's version/flags and u32 fields. */
function fullBox(name, version, words) {
  const body = new Uint8Array(4 + words.length * 4);
  const dv = new DataView(body.buffer);
  dv.setUint32(0, (version << 24) >>> 0);
  words.forEach((w, i) => dv.setUint32(4 + i * 4, w >>> 0));
  return makeBox(name, body);
}

/** Run-length entries [count, value] of a list. */
function runs(values) {
  const out = [];
  for (const v of values) {
    const last = out[out.length - 1];
    if (last && last[1] === v) last[0] += 1;
    else out.push([1, v]);
  }
  return out;
}

/** Reads every sample of every track from the `moof`s: offset, size, duration, sync, cts. */
function readFragments(u8, dv, top, moov) {
  const defaults = new Map();
  const mvex = child(u8, dv, moov, 'mvex');
  for (const trex of mvex ? boxes(u8, dv, mvex.body, mvex.end).filter((b) => b.type === 'trex') : []) {
    const p = trex.body + 4;
    defaults.set(dv.getUint32(p), { duration: dv.getUint32(p + 8), size: dv.getUint32(p + 12), flags: dv.getUint32(p + 16) });
  }
  const samples = new Map();
  for (const moof of top.filter((b) => b.type === 'moof')) {
    for (const traf of boxes(u8, dv, moof.body, moof.end).filter((b) => b.type === 'traf')) {
      const tfhd = child(u8, dv, traf, 'tfhd');
      let p = tfhd.body;
      const tfFlags = dv.getUint32(p) & 0xffffff;
      const trackId = dv.getUint32(p + 4);
      p += 8;
      const d = { ...(defaults.get(trackId) || { duration: 0, size: 0, flags: 0 }) };
      let base = moof.start; // default-base-is-moof, and what Chromium and Firefox write
      if (tfFlags & 0x1) {
        base = Number(dv.getBigUint64(p));
        p += 8;
      }
      if (tfFlags & 0x2) p += 4;
      if (tfFlags & 0x8) (d.duration = dv.getUint32(p)), (p += 4);
      if (tfFlags & 0x10) (d.size = dv.getUint32(p)), (p += 4);
      if (tfFlags & 0x20) (d.flags = dv.getUint32(p)), (p += 4);
      const list = samples.get(trackId) || [];
      samples.set(trackId, list);
      for (const trun of boxes(u8, dv, traf.body, traf.end).filter((b) => b.type === 'trun')) {
        let q = trun.body;
        const version = u8[q];
        const flags = dv.getUint32(q) & 0xffffff;
        const count = dv.getUint32(q + 4);
        q += 8;
        let offset = base;
        if (flags & 0x1) (offset = base + dv.getInt32(q)), (q += 4);
        let firstFlags = null;
        if (flags & 0x4) (firstFlags = dv.getUint32(q)), (q += 4);
        for (let i = 0; i < count; i += 1) {
          const s = { duration: d.duration, size: d.size, flags: i === 0 && firstFlags !== null ? firstFlags : d.flags, cts: 0 };
          if (flags & 0x100) (s.duration = dv.getUint32(q)), (q += 4);
          if (flags & 0x200) (s.size = dv.getUint32(q)), (q += 4);
          if (flags & 0x400) (s.flags = dv.getUint32(q)), (q += 4);
          if (flags & 0x800) (s.cts = version ? dv.getInt32(q) : dv.getUint32(q)), (q += 4);
          s.offset = offset;
          s.sync = !(s.flags & 0x10000);
          offset += s.size;
          list.push(s);
        }
      }
    }
  }
  return samples;
}

/** New sample tables for one track (each sample its own chunk; `stco` offsets set later). */
function sampleTables(list) {
  const tables = [];
  const stts = runs(list.map((s) => s.duration));
  tables.push(fullBox('stts', 0, [stts.length, ...stts.flat()]));
  if (list.some((s) => s.cts !== 0)) {
    const ctts = runs(list.map((s) => s.cts));
    tables.push(fullBox('ctts', 1, [ctts.length, ...ctts.flat()]));
  }
  if (!list.every((s) => s.sync)) {
    const sync = list.map((s, i) => (s.sync ? i + 1 : 0)).filter(Boolean);
    tables.push(fullBox('stss', 0, [sync.length, ...sync]));
  }
  tables.push(fullBox('stsc', 0, [1, 1, 1, 1]));
  tables.push(fullBox('stsz', 0, [0, list.length, ...list.map((s) => s.size)]));
  tables.push(fullBox('stco', 0, [list.length, ...list.map(() => 0)])); // offsets: set once laid out
  return tables;
}

/** `avc1` / `avc3` with `avcC` moved to be its first child. */
function sampleEntry(u8, dv, box) {
  const fixed = u8.subarray(box.body, box.body + 78);
  const kids = boxes(u8, dv, box.body + 78, box.end);
  kids.sort((a, b) => (a.type === 'avcC' ? -1 : b.type === 'avcC' ? 1 : 0));
  return makeBox(box.type, fixed, ...kids.map((k) => u8.subarray(k.start, k.end)));
}

export function defragment(buffer) {
  const u8 = new Uint8Array(buffer);
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const top = boxes(u8, dv, 0, u8.length);
  const moov = top.find((b) => b.type === 'moov');
  if (!moov) throw new Error('the recording has no movie header');
  const fragmented = top.some((b) => b.type === 'moof');
  const entries = findAll(u8, dv, 'stsd').flatMap((b) => boxes(u8, dv, b.body + 8, b.end)).filter((e) => e.type === 'avc1' || e.type === 'avc3');
  const avcFirst = entries.every((e) => boxes(u8, dv, e.body + 78, e.end)[0]?.type === 'avcC');
  if (!fragmented && avcFirst) return u8; // already what the server reads
  const samples = fragmented ? readFragments(u8, dv, top, moov) : new Map();

  const mvhd = child(u8, dv, moov, 'mvhd');
  const movieScale = dv.getUint32(mvhd.body + (u8[mvhd.body] === 1 ? 20 : 12));
  let movieDuration = 0;
  const patches = []; // per rebuilt track, in order: { list } of samples whose offsets go in its stco

  // Rebuilds a box: containers recursively, sample tables replaced, durations set.
  const rebuild = (box, track) => {
    const raw = u8.subarray(box.start, box.end);
    if (box.type === 'mvex' && fragmented) return null;
    if (box.type === 'stsd') {
      const head = u8.subarray(box.body, box.body + 8);
      const entries = boxes(u8, dv, box.body + 8, box.end).map((e) => (e.type === 'avc1' || e.type === 'avc3' ? sampleEntry(u8, dv, e) : u8.subarray(e.start, e.end)));
      return makeBox('stsd', head, ...entries);
    }
    if (!CONTAINERS.has(box.type)) {
      if (!fragmented || !track) return raw;
      if (box.type === 'mdhd' || box.type === 'tkhd') {
        const copy = raw.slice();
        const cdv = new DataView(copy.buffer);
        const v1 = copy[8] === 1;
        const total = track.list.reduce((n, s) => n + s.duration, 0);
        const value = box.type === 'mdhd' ? total : Math.round((total * movieScale) / track.scale);
        // mdhd: version, flags, created, modified, timescale, duration; tkhd: …, track id, reserved, duration.
        const at = box.type === 'mdhd' ? (v1 ? 32 : 24) : v1 ? 36 : 28;
        if (v1) cdv.setBigUint64(at, BigInt(value));
        else cdv.setUint32(at, value);
        return copy;
      }
      return raw;
    }
    const kids = boxes(u8, dv, box.body, box.end);
    let t = track;
    if (box.type === 'trak' && fragmented) {
      const tkhd = kids.find((k) => k.type === 'tkhd');
      const id = dv.getUint32(tkhd.body + (u8[tkhd.body] === 1 ? 20 : 12));
      const mdia = kids.find((k) => k.type === 'mdia');
      const mdhd = child(u8, dv, mdia, 'mdhd');
      const scale = dv.getUint32(mdhd.body + (u8[mdhd.body] === 1 ? 20 : 12));
      t = { list: samples.get(id) || [], scale };
      movieDuration = Math.max(movieDuration, Math.round((t.list.reduce((n, s) => n + s.duration, 0) * movieScale) / scale));
    }
    const parts = [];
    for (const k of kids) {
      if (box.type === 'stbl' && fragmented && TABLES.has(k.type)) continue;
      const b = rebuild(k, t);
      if (b) parts.push(b);
    }
    if (box.type === 'stbl' && fragmented) {
      parts.push(...sampleTables(t.list));
      patches.push({ list: t.list });
    }
    return makeBox(box.type, ...parts);
  };

  const nu8 = rebuild(moov, null);
  const ndv = new DataView(nu8.buffer);
  if (fragmented) {
    const mvhdNew = findAll(nu8, ndv, 'mvhd')[0];
    const v1 = nu8[mvhdNew.body] === 1;
    if (v1) ndv.setBigUint64(mvhdNew.body + 24, BigInt(movieDuration));
    else ndv.setUint32(mvhdNew.body + 16, movieDuration);
  }

  // Layout: everything before moov, the new moov, then the mdats (moofs dropped) in order.
  const head = top.filter((b) => b.start < moov.start).map((b) => u8.subarray(b.start, b.end));
  const rest = top.filter((b) => b.start > moov.start && !(fragmented && b.type === 'moof'));
  let at = head.reduce((n, p) => n + p.length, 0) + nu8.length;
  const moved = rest.map((b) => {
    const place = { from: b.start, to: at, end: b.end };
    at += b.end - b.start;
    return place;
  });
  // Each sample's new offset: where its mdat moved to, plus its place inside it.
  // The new stco boxes come in the same order as the tracks were rebuilt.
  const stcos = findAll(nu8, ndv, 'stco');
  patches.forEach(({ list }, t) => {
    const table = stcos[t];
    list.forEach((s, i) => {
      const m = moved.find((p) => s.offset >= p.from && s.offset < p.end);
      if (!m) throw new Error('a sample lies outside the media data');
      ndv.setUint32(table.body + 8 + i * 4, s.offset - m.from + m.to);
    });
  });
  const out = new Uint8Array(at);
  let w = 0;
  for (const p of [...head, nu8, ...rest.map((b) => u8.subarray(b.start, b.end))]) {
    out.set(p, w);
    w += p.length;
  }
  return out;
}
