#!/usr/bin/env python3
"""Prompt-adherence evaluation of generated clips: does the video show what the prompt asked for?

    python training/evaluate.py prompts --n 240 --seed 2026 --out eval/prompts.jsonl [--cameo]
    python training/evaluate.py check --prompts eval/prompts.jsonl --videos out/ [--report report.json]
    python training/evaluate.py calibrate --n 240 [--seed 2026] [--out DIR]
    python training/evaluate.py strips --prompts eval/prompts.jsonl --videos out/ --ids p000,p001 --out strips.png

`prompts` writes held-out prompts (world.caption(..., held_out=True): paraphrases the model never
saw in training) with the scene that each one describes ("truth"). The colours and settings are
drawn in shuffled cycles, so each appears equally often; the four directed motions (left, right,
up, down) get 8 of every 14 prompts, bounce, spin and still the rest; shape, weather and camera
are drawn as world.random_scene draws them; about 60% of the clips are SQUARE, 20% PORTRAIT and
20% LANDSCAPE.

`prompts --cameo` writes the same scenes as cameo jobs: the prompt names only the subject ("me",
"my toy"…) and the job carries the reference vector of a clip of the object, so the colour can
come only from the reference.

`check` looks at nothing but the decoded MP4 (PyAV) when it predicts: the prompt text and the
truth are read only afterwards, to score. Three attributes are predicted:

  setting    The clip's row profile: the median colour of every pixel row (median over x, so the
             object, stars, the moon and weather particles drop out), medianed over time and
             averaged into 16 horizontal bands from the top of the sky to the bottom of the ground.
             It is matched to the nearest of 90 centroids, one per (setting, weather, camera) of
             the world, computed at start-up from world.render clips (deterministic, fixed seeds,
             64x64, 12 frames; about 4 s). The setting of the nearest centroid is the prediction;
             its weather tells whether the clip is foggy (used below), and the per-channel gain
             from that centroid's colours to the clip's (within 0.8-1.25, bright settings only)
             white-balances the object's colour, as a viewer would judge it against the scene.
  object     Frames are box-downscaled to about 128 px on the shorter side, and every frame is
             compared with its own per-row median colour: the world's backgrounds are horizontal
             bands (sky gradient, horizon, ground), so a pixel far from its row's median (RGB
             distance over 0.16; 0.16 x 0.55 in fog) is the object, or a small distractor: a star,
             a snowflake, a rain streak, a wave crest. A 5x5 erosion removes those thin or tiny
             distractors; the moon (night) and the planet (space) are big, and are masked out where
             the world draws them (under each camera move). The largest remaining connected region
             of the frame is the object (a frame whose region is under 6% of the world's object
             area counts as no detection). This works for still and spinning objects as well as
             moving ones, and is indifferent to a pan or zoom, which move the background sideways or
             scale it but keep its rows (the per-frame median follows a zoom's moving horizon).
  colour     Every object pixel votes for the palette colour (world.COLOURS) that explains it best
             as palette colour times a brightness factor (the renderer shades the object between
             0.46x and 1.1x, stripes at 0.65x); in fog the pixels are first un-fogged (the world
             blends 45% grey over everything). Sunset tints and night skies do not change the
             object's colour in this world. The most voted colour is the prediction; with no
             object found in any frame the colour is None (wrong).
  direction  A robust straight-line fit of the object's centroid (x over width, y over height)
             against time; the axis with the larger travel over the clip, if it is at least 0.25
             of the frame, gives left/right/up/down, anything less is "none". Object motion is in
             screen space in this world, so a pan does not make a still object look moving.

Watermarks: the bottom-right corner (15% of the width and height) is ignored, and so are the
strips along the top and bottom edges (30 px of a 256 px side) where the app's visible mark
(moderation/src/watermark/visible.rs: 18 px tall, 8 px from the edge, as wide as the name, moving
top-left, top-right, bottom-right, bottom-left every 2 s) is drawn; erosion removes the rest.
Scores: colour and setting accuracy over all prompts, direction accuracy over the prompts whose
motion is left, right, up or down. A missing or unreadable video counts as wrong.

`calibrate` measures the checker itself: it renders the prompts' ground-truth clips with
world.render (48 frames = 4 s at 12 fps, the prompt's resolution), encodes them to H.264 MP4
(yuv420p, crf 23, BT.601 limited range as the app's encoder writes) and checks them.

Measured (calibrate --n 240 --seed 2026, ground truth): colour 100.0% (240/240), setting 100.0%
(240/240), direction 100.0% (138/138); bounce/spin/still all read as "none" (largest travel 0.011
against at least 0.608 for the directed motions). The same clips still score 100% on all three
with a full-width stand-in of the visible mark drawn in every corner, and when each frame is
blurred like the model's decoder (box-downscaled x4, bilinear back up), with noise (sigma 0.04)
and a per-channel colour cast (about 5%) on top.
Limits: the checker knows this world only (its palette, settings, fog colour, moon and planet
places); it scores the largest salient region, so a clip with a second strong object, or an object
fainter than 0.16 from its background in every frame, may be misread; fog halves every contrast,
so foggy yellow/orange and white/pink are the closest calls under a colour cast; the direction is
the centroid's net travel, so an object that moves and comes back reads as "none".

`strips` draws, for the README, a PNG with one row of evenly spaced frames per video under its
prompt.
"""

import argparse
import collections
import json
import os
import sys
import tempfile
import textwrap
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402

ASPECTS = {"SQUARE": (256, 256), "PORTRAIT": (448, 256), "LANDSCAPE": (256, 448)}  # (height, width)
FPS = 12
SECONDS = 4
DIRECTIONS = ["left", "right", "up", "down"]
COLOUR_NAMES = list(world.COLOURS)
PALETTE = np.array([world.COLOURS[c] for c in COLOUR_NAMES], dtype=np.float32)

WATERMARK = 0.15  # fraction of width and height at the bottom-right corner that is ignored
# The app's visible mark (moderation/src/watermark/visible.rs) is 18 px tall, 8 px from the edge, up
# to the frame's width, and moves corner to corner every 2 s (top-left, top-right, bottom-right, ...).
# Rows this close to the top or bottom (as a fraction of the shorter side: 30 px of 256) are ignored.
WATERMARK_ROWS = 30 / 256
BANDS = 16  # horizontal bands of the setting profile
WORK_SIZE = 128  # frames are box-downscaled until their shorter side is about this
OBJECT_THRESHOLD = 0.16  # RGB distance from the row's median colour that marks an object pixel
FOG_ALPHA = 0.55  # world.render: img * 0.55 + 0.45 * FOG_GREY
FOG_GREY = np.array([0.78, 0.80, 0.82], dtype=np.float32)
ERODE = 2  # erosion radius (working pixels)
MIN_AREA = 0.06  # of the expected object area, for a frame's detection to count
GAIN_LIMIT = 1.25  # most white-balance correction per channel
TRAVEL = 0.25  # least travel over the clip (fraction of the frame) that is a direction


# ---- prompts ----------------------------------------------------------------------------------


def _cycle(items, n, rng):
    """`n` items from shuffled passes over `items`: every item equally often (up to one pass)."""
    out = []
    while len(out) < n:
        out += [str(x) for x in rng.permutation(np.array(items, dtype=object))]
    return out[:n]


def make_prompts(n, seed):
    rng = np.random.default_rng(seed)
    colours = _cycle(COLOUR_NAMES, n, rng)
    settings = _cycle(world.SETTINGS, n, rng)
    motions = _cycle(DIRECTIONS * 2 + ["bounce", "spin", "still"] * 2, n, rng)
    aspects = _cycle(["SQUARE"] * 3 + ["PORTRAIT", "LANDSCAPE"], n, rng)
    out = []
    for i in range(n):
        # Weather and camera exactly as world.random_scene draws them.
        weather = "none" if rng.random() < 0.5 else str(rng.choice(world.WEATHERS[1:]))
        if weather == "sunset" and rng.random() < 0.5:
            weather = "none"
        camera = "static" if rng.random() < 0.6 else str(rng.choice(world.CAMERAS[1:]))
        scene = world.Scene(shape=str(rng.choice(world.SHAPES)), colour=colours[i], motion=motions[i],
                            setting=settings[i], weather=weather, camera=camera, seed=int(rng.integers(0, 2**31)))
        out.append({
            "id": f"p{i:03d}",
            "prompt": world.caption(scene, rng, held_out=True),
            "seconds": SECONDS,
            "aspect_ratio": aspects[i],
            "seed": scene.seed,
            "truth": {k: getattr(scene, k) for k in ("shape", "colour", "motion", "setting", "weather", "camera")},
        })
    return out


CAMEO_WHO = ["me", "my friend", "my toy", "my pet"]


def make_cameo_prompts(n, seed):
    """Cameo prompts: the scenes of make_prompts(n, seed), but the prompt names the subject only
    ("me heading leftward across a meadow", held-out wording) and the job carries the reference
    vector of a clip of the object (world.subject_clip, as jobs::reference::from_frames computes
    it). The object's colour can only come from the reference: how well the model takes a cameo's
    likeness."""
    from text import reference_vector

    rng = np.random.default_rng(seed + 1)
    out = []
    for item in make_prompts(n, seed):
        scene = scene_of(item)
        motion = str(rng.choice(world.HELD_OUT_WORDS.get(scene.motion) or world.TRAIN_WORDS[scene.motion]))
        setting = str(rng.choice(world.HELD_OUT_WORDS[scene.setting]))
        who = str(rng.choice(CAMEO_WHO))
        truth = {**item["truth"], "weather": "none", "camera": "static"}  # the prompt names neither
        out.append({**item, "id": "c" + item["id"][1:], "prompt": f"{who} {motion} {setting}", "truth": truth,
                    "reference": [round(float(x), 6) for x in reference_vector(world.subject_clip(scene))]})
    return out


def scene_of(item):
    t = item["truth"]
    return world.Scene(shape=t["shape"], colour=t["colour"], motion=t["motion"], setting=t["setting"],
                       weather=t["weather"], camera=t["camera"], seed=int(item["seed"]))


def read_prompts(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_prompts(items, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        for item in items:
            f.write(json.dumps(item) + "\n")


# ---- video I/O --------------------------------------------------------------------------------


def read_video(path):
    """Decoded frames as float32 [T, H, W, 3] in [0, 1]."""
    import av

    with av.open(path) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if not frames:
        raise ValueError(f"{path}: no frames")
    return np.stack(frames).astype(np.float32) / 255.0


def write_video(frames, path, fps=FPS, crf=23):
    """float [T, H, W, 3] in [0, 1] -> H.264 MP4, yuv420p (BT.601 limited range, as openh264 writes)."""
    import av

    u8 = (np.clip(frames, 0, 1) * 255 + 0.5).astype(np.uint8)
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": "medium"})
        stream.width, stream.height = u8.shape[2], u8.shape[1]
        stream.pix_fmt = "yuv420p"
        for frame in u8:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


# ---- analysis -----------------------------------------------------------------------------------


def downscale(frames):
    """Box-average so that the shorter side is about WORK_SIZE (never upscales)."""
    k = max(1, min(frames.shape[1], frames.shape[2]) // WORK_SIZE)
    if k == 1:
        return frames
    t, h, w, c = frames.shape
    h2, w2 = h // k, w // k
    return frames[:, : h2 * k, : w2 * k].reshape(t, h2, k, w2, k, c).mean(axis=(2, 4))


def valid_mask(h, w):
    """False where a watermark may be: the bottom-right corner, and the strips along the top and
    bottom edges where the app's moving mark is drawn."""
    ys = (np.arange(h) + 0.5) / h
    xs = (np.arange(w) + 0.5) / w
    strip = WATERMARK_ROWS * min(h, w)
    rows = np.arange(h) + 0.5
    edge = (rows < strip) | (rows > h - strip)
    return ~((ys[:, None] > 1 - WATERMARK) & (xs[None, :] > 1 - WATERMARK)) & ~edge[:, None]


def row_medians(frames, valid):
    """Per-frame median colour of every row over its valid pixels: [T, H, 3] (NaN: no valid pixel)."""
    out = np.full((frames.shape[0], frames.shape[1], 3), np.nan, dtype=np.float32)
    full = valid.all(axis=1)
    out[:, full] = np.median(frames[:, full], axis=2)
    for y in np.nonzero(~full & valid.any(axis=1))[0]:
        out[:, y] = np.median(frames[:, y, valid[y]], axis=1)
    return out


def setting_features(rows):
    """[T, H, 3] row medians -> [BANDS * 3]: time median of each row, averaged into bands (NaN where
    a band has no valid row)."""
    profile = np.median(rows, axis=0)
    h = profile.shape[0]
    ys = (np.arange(h) + 0.5) / h
    band = np.minimum((ys * BANDS).astype(int), BANDS - 1)
    ok = np.isfinite(profile).all(axis=1)
    feats = [profile[(band == b) & ok].mean(axis=0) if ((band == b) & ok).any() else np.full(3, np.nan)
             for b in range(BANDS)]
    return np.stack(feats).reshape(-1)


_CENTROIDS = None


def centroids():
    """One setting profile per (setting, weather, camera), from small deterministic world renders."""
    global _CENTROIDS
    if _CENTROIDS is None:
        labels, feats = [], []
        k = 0
        for setting in world.SETTINGS:
            for weather in world.WEATHERS:
                for camera in world.CAMERAS:
                    scene = world.Scene(shape="ball", colour=COLOUR_NAMES[k % len(COLOUR_NAMES)], motion="still",
                                        setting=setting, weather=weather, camera=camera, seed=1000 + k)
                    clip = world.render(scene, 12, 64, 64)
                    feats.append(setting_features(row_medians(clip, valid_mask(64, 64))))
                    labels.append((setting, weather, camera))
                    k += 1
        _CENTROIDS = (labels, np.stack(feats))
    return _CENTROIDS


def classify_setting(feature):
    labels, feats = centroids()
    diff = feats - feature[None]
    d = np.where(np.isfinite(diff), diff, 0.0) ** 2
    d = d.sum(axis=1) / max(np.isfinite(diff).all(axis=0).sum(), 1) * diff.shape[1]
    order = np.argsort(d)
    best = labels[order[0]]
    # Margin: distance to the nearest centroid of another setting over the best one's.
    other = next(i for i in order if labels[i][0] != best[0])
    # White balance: per-channel gain from the expected background to the observed one.
    exp_, obs = feats[order[0]].reshape(-1, 3), feature.reshape(-1, 3)
    ok = np.isfinite(obs).all(axis=1)
    gain = np.ones(3, dtype=np.float32)
    energy = (exp_[ok] ** 2).sum(axis=0)
    for c in range(3):
        if energy[c] > 0.5:  # dark backgrounds (night, space) say too little about the balance
            gain[c] = np.clip((exp_[ok, c] * obs[ok, c]).sum() / energy[c], 1 / GAIN_LIMIT, GAIN_LIMIT)
    return best, float(d[other] / max(d[order[0]], 1e-9)), gain


def distractor_mask(setting, t, h, w):
    """Where the moon (night) or the planet (space) may be at normalised time t, under any camera."""
    if setting == "night":
        (cx, cy), r = (0.8, 0.15), float(np.sqrt(0.0045))
    elif setting == "space":
        (cx, cy), r = (0.18, 0.22), float(np.sqrt(0.012))
    else:
        return np.zeros((h, w), bool)
    ys = ((np.arange(h) + 0.5) / h)[:, None]
    xs = ((np.arange(w) + 0.5) / w)[None, :]
    z = 1.0 - 0.3 * t
    places = [(cx, cy, r), (cx - 0.25 * (t - 0.5), cy, r), (0.5 + (cx - 0.5) / z, 0.5 + (cy - 0.5) / z, r / z)]
    out = np.zeros((h, w), bool)
    for px, py, pr in places:
        out |= (xs - px) ** 2 + (ys - py) ** 2 < (pr * 1.3 + 0.02) ** 2
    return out


def erode(mask, r):
    """Binary erosion of [..., H, W] with a (2r+1) square (outside counts as False)."""
    out = mask.copy()
    for axis in (-2, -1):
        acc = out.copy()
        for s in range(1, r + 1):
            for sign in (1, -1):
                shifted = np.roll(out, sign * s, axis=axis)
                idx = [slice(None)] * out.ndim
                idx[axis] = slice(0, s) if sign > 0 else slice(-s, None)
                shifted[tuple(idx)] = False
                acc &= shifted
        out = acc
    return out


def label(mask):
    """4-connected component labels of [T, H, W] (0 = background), by max-label propagation."""
    t, h, w = mask.shape
    lab = np.where(mask, np.arange(1, mask.size + 1).reshape(mask.shape), 0)
    for _ in range(4 * (h + w)):
        new = lab.copy()
        np.maximum(new[:, 1:], lab[:, :-1], out=new[:, 1:])
        np.maximum(new[:, :-1], lab[:, 1:], out=new[:, :-1])
        np.maximum(new[:, :, 1:], lab[:, :, :-1], out=new[:, :, 1:])
        np.maximum(new[:, :, :-1], lab[:, :, 1:], out=new[:, :, :-1])
        new *= mask
        if np.array_equal(new, lab):
            break
        lab = new
    return lab


def unfog(pixels):
    return np.clip((pixels - (1 - FOG_ALPHA) * FOG_GREY) / FOG_ALPHA, 0, 1)


def colour_votes(pixels):
    """Per pixel, the palette colour that best explains it as colour * brightness: [N] indices."""
    dot = pixels @ PALETTE.T  # [N, 8]
    k = np.clip(dot / (PALETTE**2).sum(axis=1)[None], 0.3, 1.25)
    resid = ((pixels[:, None, :] - k[..., None] * PALETTE[None]) ** 2).sum(axis=-1)
    return resid.argmin(axis=1)


def robust_line(ts, vs):
    """Slope of v against t, least squares with two rounds of outlier rejection."""
    keep = np.ones(len(ts), bool)
    slope = 0.0
    for _ in range(3):
        if keep.sum() < 3:
            break
        slope, icpt = np.polyfit(ts[keep], vs[keep], 1)
        res = np.abs(vs - (slope * ts + icpt))
        scale = max(1.4826 * np.median(res[keep]), 0.01)
        keep = res < 3 * scale
    return float(slope)


def analyse(frames):
    """Predictions for one clip (float [T, H, W, 3] in [0, 1]): setting, colour, direction, details."""
    frames = downscale(frames)
    t, h, w, _ = frames.shape
    valid = valid_mask(h, w)
    rows = row_medians(frames, valid)
    (setting, weather, camera), margin, gain = classify_setting(setting_features(rows))
    fog = weather == "fog"

    dev = np.sqrt(((frames - np.nan_to_num(rows)[:, :, None, :]) ** 2).sum(axis=-1))
    mask = (dev > OBJECT_THRESHOLD * (FOG_ALPHA if fog else 1.0)) & valid[None]
    taus = np.linspace(0, 1, t) if t > 1 else np.zeros(1)
    if setting in ("night", "space"):
        for i, tau in enumerate(taus):
            mask[i] &= ~distractor_mask(setting, tau, h, w)
    mask = erode(mask, ERODE)
    lab = label(mask)

    expected = np.pi * (world.OBJECT_RADIUS * min(h, w)) ** 2
    ys, xs = np.mgrid[0:h, 0:w]
    cxs, cys, tts, pix, areas = [], [], [], [], []
    for i in range(t):
        ids, counts = np.unique(lab[i][lab[i] > 0], return_counts=True)
        if len(ids) == 0:
            areas.append(0)
            continue
        j = ids[counts.argmax()]
        area = int(counts.max())
        areas.append(area)
        if area < MIN_AREA * expected:
            continue
        sel = lab[i] == j
        cxs.append((xs[sel].mean() + 0.5) / w)
        cys.append((ys[sel].mean() + 0.5) / h)
        tts.append(taus[i])
        pix.append(frames[i][sel])

    details = {"weather": weather, "camera": camera, "setting_margin": round(margin, 2),
               "gain": [round(float(g), 3) for g in gain], "detected_frames": len(tts), "frames": t,
               "median_area": round(float(np.median(areas)) / expected, 3)}
    if not pix:
        return {"setting": setting, "colour": None, "direction": "none", "details": details}
    pixels = np.clip(np.concatenate(pix) / gain, 0, 1)
    if fog:
        pixels = unfog(pixels)
    votes = np.bincount(colour_votes(pixels), minlength=len(COLOUR_NAMES))
    colour = COLOUR_NAMES[int(votes.argmax())]
    details["colour_share"] = round(float(votes.max() / votes.sum()), 3)
    details["median_rgb"] = [round(float(v), 3) for v in np.median(pixels, axis=0)]

    direction = "none"
    if len(tts) >= 4:
        tt = np.array(tts)
        dx, dy = robust_line(tt, np.array(cxs)), robust_line(tt, np.array(cys))
        details["travel"] = [round(dx, 3), round(dy, 3)]
        if max(abs(dx), abs(dy)) >= TRAVEL:
            if abs(dx) >= abs(dy):
                direction = "right" if dx > 0 else "left"
            else:
                direction = "down" if dy > 0 else "up"
    return {"setting": setting, "colour": colour, "direction": direction, "details": details}


def analyse_file(path):
    return analyse(read_video(path))


# ---- scoring ----------------------------------------------------------------------------------


def expected_direction(motion):
    return motion if motion in DIRECTIONS else "none"


def score(items, videos, report=None, quiet=False):
    """Checks every prompt's video; prints the table; returns the summary dict."""
    rows = []
    t0 = time.time()
    for n, item in enumerate(items):
        path = os.path.join(videos, f"{item['id']}.mp4")
        try:
            pred = analyse_file(path)
            error = None
        except Exception as e:  # missing or unreadable video: every attribute is wrong
            pred = {"setting": None, "colour": None, "direction": None, "details": {}}
            error = f"{type(e).__name__}: {e}"
        truth = item["truth"]
        row = {
            "id": item["id"], "prompt": item["prompt"], "aspect_ratio": item.get("aspect_ratio"), "truth": truth,
            "pred": {k: pred[k] for k in ("setting", "colour", "direction")}, "details": pred["details"],
            "correct": {
                "setting": pred["setting"] == truth["setting"],
                "colour": pred["colour"] == truth["colour"],
                "direction": (pred["direction"] == truth["motion"]) if truth["motion"] in DIRECTIONS else None,
            },
        }
        if error:
            row["error"] = error
        rows.append(row)
        if not quiet and (n + 1) % 20 == 0:
            print(f"  checked {n + 1}/{len(items)} ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)

    summary, per_class, confusions = {}, {}, {}
    for attr, truth_key in (("colour", "colour"), ("setting", "setting"), ("direction", "motion")):
        scored = [r for r in rows if r["correct"][attr] is not None]
        ok = sum(r["correct"][attr] for r in scored)
        summary[attr] = {"correct": ok, "total": len(scored), "accuracy": ok / len(scored) if scored else 0.0}
        classes = collections.defaultdict(lambda: [0, 0])
        errors = collections.Counter()
        for r in scored:
            c = r["truth"][truth_key]
            classes[c][1] += 1
            classes[c][0] += r["correct"][attr]
            if not r["correct"][attr]:
                errors[(c, str(r["pred"][attr]))] += 1
        per_class[attr] = {c: {"correct": v[0], "total": v[1]} for c, v in sorted(classes.items())}
        confusions[attr] = [{"truth": a, "pred": b, "count": k} for (a, b), k in errors.most_common()]

    if report:
        os.makedirs(os.path.dirname(os.path.abspath(report)), exist_ok=True)
        with open(report, "w") as f:
            json.dump({"videos": os.path.abspath(videos), "summary": summary, "per_class": per_class,
                       "confusions": confusions, "items": rows}, f, indent=1)
    if quiet:
        return summary
    print(f"{'attribute':<10} {'class':<8} {'accuracy':>9}  n")
    for attr in summary:
        for c, v in per_class[attr].items():
            acc = 100.0 * v["correct"] / v["total"] if v["total"] else 0.0
            print(f"{attr:<10} {c:<8} {acc:8.1f}%  {v['correct']}/{v['total']}")
    print("most common errors (truth -> predicted):")
    listed = 0
    for attr in summary:
        for e in confusions[attr][:6]:
            print(f"  {attr:<10} {e['truth']} -> {e['pred']}: {e['count']}")
            listed += 1
    if not listed:
        print("  none")
    for attr, s in summary.items():
        print(f"{attr} {100.0 * s['accuracy']:.1f}% ({s['correct']}/{s['total']})")
    if report:
        print(f"report: {report}")
    return summary


# ---- strips -----------------------------------------------------------------------------------


def strips(items, videos, ids, out, n_frames=6, height=128):
    from PIL import Image, ImageDraw, ImageFont

    by_id = {item["id"]: item for item in items}
    try:
        font = ImageFont.load_default(size=14)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        font = ImageFont.load_default()
    rows = []
    for vid in ids:
        frames = read_video(os.path.join(videos, f"{vid}.mp4"))
        picks = np.linspace(0, len(frames) - 1, n_frames).round().astype(int)
        tiles = []
        for i in picks:
            img = Image.fromarray((frames[i] * 255 + 0.5).astype(np.uint8))
            tiles.append(img.resize((max(1, round(img.width * height / img.height)), height), Image.BILINEAR))
        strip = Image.new("RGB", (sum(t.width for t in tiles) + 2 * (len(tiles) - 1), height), "white")
        x = 0
        for tile in tiles:
            strip.paste(tile, (x, 0))
            x += tile.width + 2
        rows.append((f"{vid}: {by_id[vid]['prompt'] if vid in by_id else ''}", strip))
    width = max(768, max(s.width for _, s in rows)) + 8
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    char_w = max(1.0, measure.textlength("abcdefghijklmnopqrstuvwxyz", font=font) / 26)
    line_h = 18
    blocks = [(textwrap.wrap(text, max(20, int((width - 8) / char_w))) or [""], s) for text, s in rows]
    total_h = sum(len(lines) * line_h + 6 + s.height + 8 for lines, s in blocks)
    canvas = Image.new("RGB", (width, total_h), "white")
    draw = ImageDraw.Draw(canvas)
    y = 0
    for lines, s in blocks:
        for line in lines:
            draw.text((4, y + 2), line, fill="black", font=font)
            y += line_h
        y += 6
        canvas.paste(s, (4, y))
        y += s.height + 8
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    canvas.save(out)
    return out


# ---- ground truth -----------------------------------------------------------------------------


def render_truth(item, frames=FPS * SECONDS):
    h, w = ASPECTS[item["aspect_ratio"]]
    return world.render(scene_of(item), frames, h, w)


def calibrate(n, seed, out, reuse=False, report=None):
    os.makedirs(out, exist_ok=True)
    items = make_prompts(n, seed)
    write_prompts(items, os.path.join(out, "prompts.jsonl"))
    t0 = time.time()
    for k, item in enumerate(items):
        path = os.path.join(out, f"{item['id']}.mp4")
        if reuse and os.path.exists(path):
            continue
        tmp = path + ".tmp.mp4"
        write_video(render_truth(item), tmp)
        os.replace(tmp, path)
        if (k + 1) % 20 == 0:
            print(f"  rendered {k + 1}/{len(items)} ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    print(f"ground truth: {len(items)} clips in {out}")
    return score(items, out, report=report or os.path.join(out, "report.json"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prompts", help="write held-out evaluation prompts")
    p.add_argument("--n", type=int, default=240)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--out", required=True)
    p.add_argument("--cameo", action="store_true", help="subject-only prompts with a reference vector")
    c = sub.add_parser("check", help="score generated videos against their prompts")
    c.add_argument("--prompts", required=True)
    c.add_argument("--videos", required=True)
    c.add_argument("--report")
    k = sub.add_parser("calibrate", help="check ground-truth renders: the checker's own accuracy")
    k.add_argument("--n", type=int, default=240)
    k.add_argument("--seed", type=int, default=2026)
    k.add_argument("--out", help="directory for the clips (default: a new temporary directory)")
    k.add_argument("--reuse", action="store_true", help="keep clips already rendered in --out")
    k.add_argument("--report")
    s = sub.add_parser("strips", help="PNG of evenly spaced frames per video, for the README")
    s.add_argument("--prompts", required=True)
    s.add_argument("--videos", required=True)
    s.add_argument("--ids", required=True, help="comma-separated prompt ids")
    s.add_argument("--out", required=True)
    s.add_argument("--frames", type=int, default=6)
    a = ap.parse_args(argv)

    if a.cmd == "prompts":
        items = (make_cameo_prompts if a.cameo else make_prompts)(a.n, a.seed)
        write_prompts(items, a.out)
        print(f"{len(items)} prompts -> {a.out}")
    elif a.cmd == "check":
        score(read_prompts(a.prompts), a.videos, report=a.report)
    elif a.cmd == "calibrate":
        calibrate(a.n, a.seed, a.out or tempfile.mkdtemp(prefix="evaluate-truth-"), reuse=a.reuse, report=a.report)
    else:
        ids = [x.strip() for x in a.ids.split(",") if x.strip()]
        print(strips(read_prompts(a.prompts), a.videos, ids, a.out, n_frames=a.frames))


if __name__ == "__main__":
    main()
