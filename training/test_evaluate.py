"""Tests of training/evaluate.py: the checker gets ground-truth clips right, and can fail.

    /work/train-venv/bin/python -m pytest training/test_evaluate.py   (where pytest is installed)
    /work/train-venv/bin/python training/test_evaluate.py
"""

import collections
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402
import world  # noqa: E402

FRAMES = 24  # 2 s at 12 fps: positions depend on normalised time, so this is a shorter 4 s clip


def item(i, colour, motion, setting, weather="none", camera="static", aspect="SQUARE", shape="ball", seed=None):
    scene = world.Scene(shape=shape, colour=colour, motion=motion, setting=setting, weather=weather, camera=camera,
                        seed=seed if seed is not None else 100 + i)
    return {"id": f"t{i:03d}", "prompt": world.caption(scene, np.random.default_rng(i), held_out=True), "seconds": 4,
            "aspect_ratio": aspect, "seed": scene.seed,
            "truth": {k: getattr(scene, k) for k in ("shape", "colour", "motion", "setting", "weather", "camera")}}


TRUTH = [
    item(0, "red", "left", "grass"),
    item(1, "blue", "up", "sea", weather="fog", aspect="PORTRAIT", shape="cube"),
    item(2, "white", "still", "snow", camera="zoom", aspect="LANDSCAPE", shape="star"),
    item(3, "yellow", "down", "desert", weather="rain", camera="pan"),
    item(4, "purple", "right", "space", weather="snow", camera="pan", aspect="LANDSCAPE", shape="cube"),
    item(5, "orange", "spin", "night", weather="fog", shape="star"),
]


def encode(frames, directory, vid):
    path = os.path.join(directory, f"{vid}.mp4")
    evaluate.write_video(frames, path)
    return path


def truth_clip(it, **change):
    scene = evaluate.scene_of(it)
    if change:
        scene = world.Scene(**{**scene.__dict__, **change})
    h, w = evaluate.ASPECTS[it["aspect_ratio"]]
    return world.render(scene, FRAMES, h, w)


def test_prompts_are_balanced_and_deterministic():
    a = evaluate.make_prompts(240, 2026)
    assert a == evaluate.make_prompts(240, 2026)
    assert len({p["id"] for p in a}) == 240
    colours = collections.Counter(p["truth"]["colour"] for p in a)
    settings = collections.Counter(p["truth"]["setting"] for p in a)
    motions = collections.Counter(p["truth"]["motion"] for p in a)
    aspects = collections.Counter(p["aspect_ratio"] for p in a)
    assert set(colours) == set(world.COLOURS) and set(colours.values()) == {30}
    assert set(settings) == set(world.SETTINGS) and set(settings.values()) == {40}
    assert set(motions) == set(world.MOTIONS)
    assert sum(motions[m] for m in evaluate.DIRECTIONS) >= 120
    assert 0.55 <= aspects["SQUARE"] / 240 <= 0.65 and set(aspects) == set(evaluate.ASPECTS)
    for p in a:
        assert p["seconds"] == 4 and isinstance(p["seed"], int) and p["prompt"]
        assert set(p["truth"]) == {"shape", "colour", "motion", "setting", "weather", "camera"}
        json.dumps(p)


def test_ground_truth_clips_are_scored_correct():
    with tempfile.TemporaryDirectory() as d:
        for it in TRUTH:
            encode(truth_clip(it), d, it["id"])
        report = os.path.join(d, "report.json")
        summary = evaluate.score(TRUTH, d, report=report, quiet=True)
        rows = json.load(open(report))["items"]
        wrong = [(r["id"], r["truth"], r["pred"]) for r in rows
                 if not all(v in (True, None) for v in r["correct"].values())]
        assert not wrong, wrong
        assert summary["colour"]["accuracy"] == 1.0 and summary["setting"]["accuracy"] == 1.0
        assert summary["direction"] == {"correct": 4, "total": 4, "accuracy": 1.0}


def test_wrong_clips_are_not_scored_correct():
    prompts = [item(10, "red", "left", "grass"), item(11, "green", "right", "desert", aspect="PORTRAIT"),
               item(12, "pink", "up", "sea"), item(13, "yellow", "down", "snow")]
    with tempfile.TemporaryDirectory() as d:
        # Uniform noise instead of the clip.
        noise = np.random.default_rng(0).random((FRAMES, 256, 256, 3), dtype=np.float32)
        encode(noise, d, "t010")
        # The right scene with the wrong colour.
        encode(truth_clip(prompts[1], colour="blue"), d, "t011")
        # The right scene moving the other way.
        encode(truth_clip(prompts[2], motion="down"), d, "t012")
        # t013 is missing.
        report = os.path.join(d, "report.json")
        summary = evaluate.score(prompts, d, report=report, quiet=True)
        rows = {r["id"]: r for r in json.load(open(report))["items"]}

    noise_row = rows["t010"]
    assert not all(noise_row["correct"].values()), noise_row
    assert noise_row["pred"]["direction"] == "none", noise_row
    assert noise_row["pred"]["setting"] != "grass", noise_row
    assert rows["t011"]["pred"]["colour"] == "blue" and not rows["t011"]["correct"]["colour"]
    assert rows["t011"]["correct"]["setting"] and rows["t011"]["correct"]["direction"]
    assert rows["t012"]["pred"]["direction"] == "down" and not rows["t012"]["correct"]["direction"]
    assert rows["t012"]["correct"]["colour"] and rows["t012"]["correct"]["setting"]
    assert "error" in rows["t013"] and not any(rows["t013"]["correct"].values())
    assert summary["direction"]["correct"] <= 1 and summary["colour"]["correct"] <= 2


def test_a_frame_of_a_different_setting_is_not_that_setting():
    # Every setting's ground truth is told apart from every other (static camera, no weather).
    for k, setting in enumerate(world.SETTINGS):
        clip = world.render(world.Scene("ball", "white", "still", setting, seed=7 + k), 6, 64, 64)
        got = evaluate.analyse(clip)
        assert got["setting"] == setting, (setting, got)


def visible_mark(frames, chars=20, period=6):
    """A stand-in for the app's visible mark (moderation/src/watermark/visible.rs): 5x7 glyphs at
    2x, white fill (205/256) with a dark outline (166/256), 8 px from the edge, cut to the frame
    width, moving top-left, top-right, bottom-right, bottom-left every `period` frames."""
    t, h, w, _ = frames.shape
    rng = np.random.default_rng(5)
    glyphs = rng.integers(0, 2, (min(chars + 3, (w - 16) // 2 // 6), 7, 5)).astype(bool)
    glyphs[0] = True  # the logo is a solid block
    fill = np.zeros((9, glyphs.shape[0] * 6 + 1), bool)
    for i, g in enumerate(glyphs):
        fill[1:8, 1 + 6 * i: 6 + 6 * i] = g
    pad = np.pad(fill, 1)
    near = np.zeros_like(fill)
    for dy in range(3):
        for dx in range(3):
            near |= pad[dy: dy + fill.shape[0], dx: dx + fill.shape[1]]
    fill = np.kron(fill, np.ones((2, 2), bool))
    outline = np.kron(near, np.ones((2, 2), bool)) & ~fill
    lh, lw = fill.shape
    out = frames.copy()
    for f in range(t):
        corner = (f // period) % 4
        left = 8 if corner in (0, 3) else w - 8 - lw
        top = 8 if corner in (0, 1) else h - 8 - lh
        region = out[f, top: top + lh, left: left + lw]
        region[fill] += (1 - region[fill]) * 205 / 256
        region[outline] *= 1 - 166 / 256
    return out


def test_the_visible_mark_does_not_change_predictions():
    for it in (TRUTH[0], TRUTH[2], TRUTH[4]):
        got = evaluate.analyse(visible_mark(truth_clip(it)))
        t = it["truth"]
        assert got["colour"] == t["colour"] and got["setting"] == t["setting"], (t, got)
        assert got["direction"] == evaluate.expected_direction(t["motion"]), (t, got)


def test_a_clip_without_the_object_has_no_colour():
    clip = truth_clip(TRUTH[0])
    rows = np.median(clip, axis=2, keepdims=True)  # every row its median: the background, no object
    got = evaluate.analyse(np.broadcast_to(rows, clip.shape).copy())
    assert got["colour"] is None and got["direction"] == "none", got
    assert got["setting"] == "grass", got


def test_strips_png():
    from PIL import Image

    with tempfile.TemporaryDirectory() as d:
        its = [TRUTH[0], TRUTH[1]]
        for it in its:
            h, w = evaluate.ASPECTS[it["aspect_ratio"]]
            encode(world.render(evaluate.scene_of(it), 6, h, w), d, it["id"])
        out = evaluate.strips(its, d, [it["id"] for it in its], os.path.join(d, "strips.png"), n_frames=3)
        img = Image.open(out)
        assert img.height > 2 * 128 and img.width >= 3 * 128


def words_of(phrases):
    return {w for p in phrases for w in p.replace(",", " ").replace(":", " ").split()}


def test_the_planner_vocabulary_keeps_the_paraphrases_unseen():
    held_out = [p for ps in world.HELD_OUT_WORDS.values() for p in ps]
    planner = [p for ps in world.PLANNER_WORDS.values() for p in ps]
    # The held-out words the denoiser's vocabulary never uses ("crimson", "ascending", "leftward"…)
    # (function words aside).
    unseen = words_of(held_out) - words_of(p for ps in world.TRAIN_WORDS.values() for p in ps)
    unseen -= {"of", "through", "across", "beneath", "towards"}
    assert {"crimson", "ascending", "leftward", "cosmos", "meadow"} <= unseen
    for phrase in planner + [t.format(colour="", shape="", motion="", setting="") for t in world.PLANNER_TEMPLATES]:
        assert phrase not in held_out, phrase
        assert not any(h in phrase for h in held_out), phrase
        used = {w for w in words_of([phrase]) if any(w.startswith(u) for u in unseen)}
        assert not used, (phrase, used)
    for template in world.PLANNER_TEMPLATES:  # the plainest one is shared by all three lists
        assert template not in world.HELD_OUT_TEMPLATES or template in world.TRAIN_TEMPLATES, template
    assert set(world.PLANNER_WORDS) <= set(world.TRAIN_WORDS)


def test_the_glossary_script_knows_the_colours_of_the_world():
    import make_glossary

    assert make_glossary.COLOURS == list(world.COLOURS)


if __name__ == "__main__":
    failed = 0
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
    for name, fn in tests:
        try:
            fn()
            print(f"PASS {name}")
        except Exception as e:  # report every test, then exit non-zero
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
    print(f"{len(tests) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
