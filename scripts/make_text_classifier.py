#!/usr/bin/env python3
"""Convert the alt-profanity-check text classifier to ONNX for the moderation crate.

Source: the PyPI package `alt-profanity-check==1.9.1` (MIT licence, Copyright (c) 2018 Victor Zhou
and the alt-profanity-check contributors). Its model is a scikit-learn TF-IDF vectoriser followed
by a calibrated linear SVM; both ship as joblib files inside the wheel, so nothing is fetched from a
model hub. The converted file, models/moderation/text_classifier.onnx, is committed (about 1 MB) and
stays under the same MIT licence; keep this notice with it.

This script installs nothing. It expects, in the project's virtual environment:

    /work/main/.venv/bin/python -m pip install alt-profanity-check==1.9.1 "skl2onnx==1.20.*" \
        scikit-learn==1.9.1 joblib==1.6.0 onnxruntime==1.31.1

(scikit-learn at the version alt-profanity-check pins). Run from the repository root:

    .venv/bin/python scripts/make_text_classifier.py [output path]

The graph takes a string tensor `input` of shape [N, 1] and returns `label` [N] and
`probabilities` [N, 2]; column 1 is the probability that the text is profane. The tokeniser's
StringNormalizer carries a `locale` attribute that skl2onnx fills from the Python locale (often
`en_US.UTF-8`); ONNX Runtime refuses to load the graph when that locale is not installed, so the
script sets it to `C.UTF-8`, which every glibc ships.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import joblib
import numpy as np
import onnx
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import StringTensorType
from sklearn.pipeline import Pipeline

DEFAULT_OUT = Path("models/moderation/text_classifier.onnx")

SAMPLES = [
    "a cat surfing a wave at sunset",
    "you are a fucking idiot",
    "shooting stars over a lake",
    "go to hell you piece of shit",
    "a sextant on a ship's deck",
    "Grape harvest in the Essex countryside",
]


def load_pipeline() -> Pipeline:
    data = resources.files("profanity_check") / "data"
    vectorizer = joblib.load(data / "vectorizer.joblib")
    model = joblib.load(data / "model.joblib")
    return Pipeline([("tfidf", vectorizer), ("svm", model)])


def patch_locale(model: onnx.ModelProto) -> int:
    patched = 0
    for node in model.graph.node:
        if node.op_type != "StringNormalizer":
            continue
        # skl2onnx may leave the attribute out, and ONNX Runtime then defaults to en_US.UTF-8.
        kept = [a for a in node.attribute if a.name != "locale"]
        del node.attribute[:]
        node.attribute.extend(kept)
        node.attribute.append(onnx.helper.make_attribute("locale", "C.UTF-8"))
        patched += 1
    return patched


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    pipeline = load_pipeline()
    onx = convert_sklearn(
        pipeline,
        initial_types=[("input", StringTensorType([None, 1]))],
        options={id(pipeline.steps[-1][1]): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    patched = patch_locale(onx)
    print(f"StringNormalizer locale set to C.UTF-8 on {patched} node(s)")
    onnx.checker.check_model(onx)

    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = np.array(SAMPLES, dtype=object).reshape(-1, 1)
    _labels, probs = session.run(None, {"input": feed})
    expected = pipeline.predict_proba(SAMPLES)[:, 1]
    for text, got, want in zip(SAMPLES, probs[:, 1], expected):
        print(f"{want:.4f} sklearn  {got:.4f} onnx  {text!r}")
    worst = float(np.max(np.abs(probs[:, 1] - expected)))
    if worst > 1e-3:
        print(f"ONNX and scikit-learn disagree by {worst:.5f}", file=sys.stderr)
        return 1

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(onx.SerializeToString())
    print(f"wrote {out} ({out.stat().st_size} bytes); max |onnx - sklearn| = {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
