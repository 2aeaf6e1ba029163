#!/usr/bin/env python3
"""Build the tiny ONNX models of the test video-generation pipeline.

These models are stand-ins: they have the same inputs, outputs and shapes as
the real pipeline's models, but a few thousand random weights each, so tests
and local runs can exercise the whole path (tokenize -> encode -> denoise loop
-> decode) in milliseconds on a CPU. They produce noise-like frames, not video.
A deployment swaps in real exported models by pointing the model manifest
(models/tiny/manifest.toml is this set's manifest) at other files and names;
nothing in the Rust code depends on these particular weights.

Dimensions: B batch ("batch"), T tokens ("tokens"), D = 32 embedding size,
C = 4 latent channels, F latent frames ("frames"), h x w latent height and
width ("height", "width"), V = 4096 vocabulary size, spatial compression 8.

text_encoder.onnx
    input_ids int64 [B, T] -> last_hidden_state float32 [B, T, D]
    Tanh(Gather(E[V, D], input_ids) @ W[D, D] + b). The caller pools over T.

denoiser.onnx
    latents float32 [B, C, F, h, w], timestep float32 [B] (sigma in [0, 1]),
    text_embeds float32 [B, D] (pooled prompt), reference float32 [B, D]
    (embedding of a cameo's reference frames, zeros when none)
    -> velocity float32 [B, C, F, h, w]
    h1 = Conv3d(latents, W1[C, C, 3, 3, 3], pads 1)
    cond = text_embeds @ Wt + reference @ Wr + timestep[:, None] * wtime,
           unsqueezed to [B, C, 1, 1, 1]
    velocity = Conv3d(Tanh(h1 + cond), W2[C, C, 1, 1, 1]) - 0.5 * latents
    The output depends on all four inputs (the script checks it).

decoder.onnx
    latents float32 [B, C, F, h, w] -> frames float32 [B, 3, F, 8h, 8w] in [0, 1]
    Sigmoid(Conv3d_1x1x1(Resize(latents, scales [1, 1, 1, 8, 8]), W[3, C], b))

encoder.onnx, denoiser_source.onnx (manifest models/tiny/source.toml)
    A remix's source frames [B, 3, F, 8h, 8w] -> latents [B, C, F, h, w]
    (AveragePool 8x8, then a 1x1x1 convolution), and a denoiser like the
    one above with a fifth input, source_latents [B, C, F, h, w], added to
    its first convolution through a 1x1x1 convolution of its own.

Opset 17, IR version 9 (loadable by ONNX Runtime 1.31). Weights come from
numpy RandomState(SEED), so the output files are the same on every run.

Usage: python scripts/make_tiny_models.py [OUTDIR]
OUTDIR defaults to models/tiny under the repository root. The script checks
each model with onnx.checker and, when onnxruntime is importable, runs each
once on sample inputs and prints the output shapes.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20261125
OPSET = 17
IR_VERSION = 9

D = 32  # embedding size
C = 4  # latent channels
V = 4096  # vocabulary size
SPATIAL = 8  # spatial compression of the decoder
RGB = 3

FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64


def init(name, array):
    """An initializer from a numpy array (float32 unless it is already int64)."""
    if array.dtype != np.int64:
        array = array.astype(np.float32)
    return numpy_helper.from_array(array, name=name)


def finish(graph, doc):
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="make_tiny_models.py",
        producer_version="1",
        doc_string=doc,
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def text_encoder(rng):
    emb = rng.normal(0.0, 0.5, size=(V, D))
    w = rng.normal(0.0, 1.0 / np.sqrt(D), size=(D, D))
    b = rng.normal(0.0, 0.05, size=(D,))
    nodes = [
        helper.make_node("Gather", ["embedding", "input_ids"], ["tok"], axis=0),
        helper.make_node("MatMul", ["tok", "proj_w"], ["proj"]),
        helper.make_node("Add", ["proj", "proj_b"], ["pre"]),
        helper.make_node("Tanh", ["pre"], ["last_hidden_state"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_text_encoder",
        [helper.make_tensor_value_info("input_ids", INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("last_hidden_state", FLOAT, ["batch", "tokens", D])],
        initializer=[init("embedding", emb), init("proj_w", w), init("proj_b", b)],
    )
    return finish(graph, "Tiny test text encoder: input_ids [B,T] -> last_hidden_state [B,T,32].")


def denoiser(rng, source=False):
    w1 = rng.normal(0.0, 1.0 / np.sqrt(C * 27), size=(C, C, 3, 3, 3))
    wt = rng.normal(0.0, 1.0 / np.sqrt(D), size=(D, C))
    wr = rng.normal(0.0, 1.0 / np.sqrt(D), size=(D, C))
    wtime = rng.normal(0.0, 0.5, size=(1, C))
    w2 = rng.normal(0.0, 1.0 / np.sqrt(C), size=(C, C, 1, 1, 1))
    lat = ["batch", C, "frames", "height", "width"]
    # With `source`, a remix's source latents (zeros when there is none) add to the first
    # convolution: h1 = Conv3d(latents, W1) + Conv3d_1x1x1(source_latents, Ws).
    first = "h1_lat" if source else "h1"
    nodes = [
        helper.make_node("Conv", ["latents", "conv1_w"], [first], kernel_shape=[3, 3, 3], pads=[1] * 6),
        helper.make_node("MatMul", ["text_embeds", "text_w"], ["c_text"]),
        helper.make_node("MatMul", ["reference", "ref_w"], ["c_ref"]),
        helper.make_node("Unsqueeze", ["timestep", "axes_1"], ["t_col"]),
        helper.make_node("Mul", ["t_col", "time_w"], ["c_time"]),
        helper.make_node("Add", ["c_text", "c_ref"], ["c_tr"]),
        helper.make_node("Add", ["c_tr", "c_time"], ["cond"]),
        helper.make_node("Unsqueeze", ["cond", "axes_234"], ["cond5"]),
        helper.make_node("Add", ["h1", "cond5"], ["h1c"]),
        helper.make_node("Tanh", ["h1c"], ["h2"]),
        helper.make_node("Conv", ["h2", "conv2_w"], ["h3"], kernel_shape=[1, 1, 1]),
        helper.make_node("Mul", ["latents", "half"], ["half_lat"]),
        helper.make_node("Sub", ["h3", "half_lat"], ["velocity"]),
    ]
    inputs = [
        helper.make_tensor_value_info("latents", FLOAT, lat),
        helper.make_tensor_value_info("timestep", FLOAT, ["batch"]),
        helper.make_tensor_value_info("text_embeds", FLOAT, ["batch", D]),
        helper.make_tensor_value_info("reference", FLOAT, ["batch", D]),
    ]
    initializer = [
        init("conv1_w", w1),
        init("text_w", wt),
        init("ref_w", wr),
        init("time_w", wtime),
        init("conv2_w", w2),
        init("half", np.array(0.5)),
        init("axes_1", np.array([1], dtype=np.int64)),
        init("axes_234", np.array([2, 3, 4], dtype=np.int64)),
    ]
    doc = ("Tiny test denoiser: (latents [B,4,F,h,w], timestep [B], text_embeds [B,32], "
           "reference [B,32]) -> velocity [B,4,F,h,w].")
    if source:
        ws = rng.normal(0.0, 1.0, size=(C, C, 1, 1, 1))
        nodes[:0] = [
            helper.make_node("Conv", ["source_latents", "source_w"], ["h1_src"], kernel_shape=[1, 1, 1]),
        ]
        nodes.insert(2, helper.make_node("Add", ["h1_lat", "h1_src"], ["h1"]))
        inputs.append(helper.make_tensor_value_info("source_latents", FLOAT, lat))
        initializer.append(init("source_w", ws))
        doc = doc.replace("reference [B,32])", "reference [B,32], source_latents [B,4,F,h,w])")
    graph = helper.make_graph(nodes, "tiny_denoiser_source" if source else "tiny_denoiser", inputs,
                              [helper.make_tensor_value_info("velocity", FLOAT, lat)], initializer=initializer)
    return finish(graph, doc)


def encoder(rng):
    """Frames [B,3,F,8h,8w] in [0,1] -> latents [B,4,F,h,w]: an 8x8 average, then a 1x1x1
    convolution. The remix source's encoder of the source-latent test model."""
    w = rng.normal(0.0, 1.0, size=(C, RGB, 1, 1, 1))
    b = rng.normal(0.0, 0.1, size=(C,))
    nodes = [
        helper.make_node("AveragePool", ["frames"], ["pooled"], kernel_shape=[1, SPATIAL, SPATIAL],
                         strides=[1, SPATIAL, SPATIAL]),
        helper.make_node("Conv", ["pooled", "enc_w", "enc_b"], ["latents"], kernel_shape=[1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_encoder",
        [helper.make_tensor_value_info("frames", FLOAT, ["batch", RGB, "frames", "pixel_height", "pixel_width"])],
        [helper.make_tensor_value_info("latents", FLOAT, ["batch", C, "frames", "height", "width"])],
        initializer=[init("enc_w", w), init("enc_b", b)],
    )
    return finish(graph, "Tiny test encoder: frames [B,3,F,8h,8w] in [0,1] -> latents [B,4,F,h,w].")


def decoder(rng):
    w = rng.normal(0.0, 1.0 / np.sqrt(C), size=(RGB, C, 1, 1, 1))
    b = rng.normal(0.0, 0.1, size=(RGB,))
    nodes = [
        # roi is the omitted optional input "", scales is given.
        helper.make_node(
            "Resize",
            ["latents", "", "scales"],
            ["up"],
            mode="linear",
            coordinate_transformation_mode="half_pixel",
        ),
        helper.make_node("Conv", ["up", "rgb_w", "rgb_b"], ["rgb"], kernel_shape=[1, 1, 1]),
        helper.make_node("Sigmoid", ["rgb"], ["frames"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_decoder",
        [helper.make_tensor_value_info("latents", FLOAT, ["batch", C, "frames", "height", "width"])],
        [helper.make_tensor_value_info("frames", FLOAT, ["batch", RGB, "frames", "pixel_height", "pixel_width"])],
        initializer=[
            init("scales", np.array([1.0, 1.0, 1.0, SPATIAL, SPATIAL], dtype=np.float32)),
            init("rgb_w", w),
            init("rgb_b", b),
        ],
    )
    return finish(graph, "Tiny test decoder: latents [B,4,F,h,w] -> frames [B,3,F,8h,8w] in [0,1].")


def half_io(model, doc):
    """The same model taking and giving float16 tensors (weights and arithmetic stay float32):
    what a model exported in half precision looks like from outside, for the seam's fp16 path."""
    g = model.graph
    nodes, inputs, outputs = [], [], []
    for i in g.input:
        if i.type.tensor_type.elem_type == FLOAT:
            dims = [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            inputs.append(helper.make_tensor_value_info(i.name + "_fp16", TensorProto.FLOAT16, dims))
            nodes.append(helper.make_node("Cast", [i.name + "_fp16"], [i.name], to=FLOAT))
        else:
            inputs.append(i)
    for o in g.output:
        dims = [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
        outputs.append(helper.make_tensor_value_info(o.name + "_fp16", TensorProto.FLOAT16, dims))
    tail = [helper.make_node("Cast", [o.name], [o.name + "_fp16"], to=TensorProto.FLOAT16) for o in g.output]
    graph = helper.make_graph(nodes + list(g.node) + tail, g.name + "_fp16", inputs, outputs,
                              initializer=list(g.initializer))
    return finish(graph, doc)


def smoke_test(outdir):
    """Run each model once in onnxruntime; check shapes, ranges and input dependence."""
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not importable; skipped the run check")
        return
    print(f"onnxruntime {ort.__version__}")
    B, T, F, h, w = 2, 7, 3, 4, 5
    rng = np.random.RandomState(1)

    def session(name):
        return ort.InferenceSession(os.path.join(outdir, name), providers=["CPUExecutionProvider"])

    ids = rng.randint(0, V, size=(B, T)).astype(np.int64)
    (hidden,) = session("text_encoder.onnx").run(None, {"input_ids": ids})
    print(f"text_encoder.onnx: last_hidden_state {list(hidden.shape)}")
    assert hidden.shape == (B, T, D) and hidden.dtype == np.float32

    feeds = {
        "latents": rng.normal(size=(B, C, F, h, w)).astype(np.float32),
        "timestep": np.array([0.9, 0.3], dtype=np.float32),
        "text_embeds": hidden.mean(axis=1),
        "reference": rng.normal(0.0, 0.5, size=(B, D)).astype(np.float32),
    }
    den = session("denoiser.onnx")
    (vel,) = den.run(None, feeds)
    print(f"denoiser.onnx: velocity {list(vel.shape)}, range [{vel.min():.3f}, {vel.max():.3f}]")
    assert vel.shape == (B, C, F, h, w) and np.all(np.isfinite(vel))
    for name in feeds:
        changed = dict(feeds)
        changed[name] = feeds[name] + np.float32(0.25)
        (other,) = den.run(None, changed)
        assert np.abs(other - vel).max() > 1e-4, f"denoiser output does not depend on {name}"
    zero_ref = dict(feeds, reference=np.zeros((B, D), dtype=np.float32))
    (vel0,) = den.run(None, zero_ref)
    assert np.abs(vel0 - vel).max() > 1e-4

    (frames,) = session("decoder.onnx").run(None, {"latents": feeds["latents"]})
    print(f"decoder.onnx: frames {list(frames.shape)}, range [{frames.min():.3f}, {frames.max():.3f}]")
    assert frames.shape == (B, RGB, F, SPATIAL * h, SPATIAL * w)
    assert frames.min() >= 0.0 and frames.max() <= 1.0

    (source,) = session("encoder.onnx").run(None, {"frames": frames})
    print(f"encoder.onnx: latents {list(source.shape)}")
    assert source.shape == (B, C, F, h, w)
    den_src = session("denoiser_source.onnx")
    (with_src,) = den_src.run(None, dict(feeds, source_latents=source))
    (without,) = den_src.run(None, dict(feeds, source_latents=np.zeros_like(source)))
    assert with_src.shape == (B, C, F, h, w)
    assert np.abs(with_src - without).max() > 1e-3, "denoiser_source output does not depend on the source"


def save(model, path):
    """Writes the model, checks it with the full ONNX checker, and says so."""
    onnx.save_model(model, path)
    onnx.checker.check_model(path, full_check=True)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if len(argv) > 2:
        sys.exit("usage: python scripts/make_tiny_models.py [OUTDIR]")
    outdir = argv[1] if len(argv) > 1 else os.path.join(root, "models", "tiny")
    os.makedirs(outdir, exist_ok=True)

    rng = np.random.RandomState(SEED)
    # Build in a fixed order so every model's weights are the same on every run.
    for name, build in (
        ("text_encoder.onnx", text_encoder),
        ("denoiser.onnx", denoiser),
        ("decoder.onnx", decoder),
    ):
        save(build(rng), os.path.join(outdir, name))

    # Half-precision variants (manifest models/tiny/fp16.toml): inputs and outputs renamed with
    # an `_fp16` suffix, so the manifest must name them.
    for name in ("denoiser", "decoder"):
        src = onnx.load(os.path.join(outdir, name + ".onnx"))
        save(half_io(src, f"Tiny test {name} with float16 inputs and outputs."),
             os.path.join(outdir, name + "_fp16.onnx"))

    # The source-latent variant (manifest models/tiny/source.toml), built last so the files above
    # keep their weights: a denoiser with a `source_latents` input and the encoder that makes them.
    for name, build in (
        ("denoiser_source.onnx", lambda r: denoiser(r, source=True)),
        ("encoder.onnx", encoder),
    ):
        save(build(rng), os.path.join(outdir, name))

    smoke_test(outdir)


if __name__ == "__main__":
    main(sys.argv)
