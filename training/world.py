"""The procedural world the shipped model is trained on: clips and their captions.

A clip is a scene (setting, optional weather or light, camera move) with one main object
(shape, colour, motion). `render(scene, frames, height, width)` draws it with numpy as float32
RGB in [0, 1], shape [frames, height, width, 3]; `caption(scene, rng, held_out)` writes it in
varied natural wording. Positions are functions of the clip's normalised time (0 at the first
frame, 1 at the last), so a "moving left" object crosses the same part of the frame in a 2 s clip
and in an 8 s one.

Wording is split in two: the TRAIN vocabulary and templates, and HELD_OUT synonyms and templates
that only the adherence evaluation uses ("a crimson sphere drifting to the left across a
meadow"), so the evaluation measures paraphrases the model never saw in training.
"""

from dataclasses import dataclass

import numpy as np

SHAPES = ["ball", "cube", "star"]
# The object's radius as a fraction of the frame's shorter side. 0.13 (a 67 px ball in a 256 px
# frame, two latent cells across) rather than the first model's 0.085: a smaller object is under
# one 32x32 latent cell and the autoencoder averages it into the background.
OBJECT_RADIUS = 0.13
COLOURS = {
    "red": (0.90, 0.12, 0.10),
    "green": (0.15, 0.85, 0.25),
    "blue": (0.12, 0.30, 0.95),
    "yellow": (0.98, 0.88, 0.10),
    "white": (0.97, 0.97, 0.97),
    "orange": (1.00, 0.52, 0.05),
    "purple": (0.55, 0.15, 0.80),
    "pink": (1.00, 0.45, 0.75),
}
MOTIONS = ["left", "right", "up", "down", "bounce", "spin", "still"]
SETTINGS = ["grass", "sea", "desert", "snow", "night", "space"]
WEATHERS = ["none", "rain", "snow", "fog", "sunset"]
CAMERAS = ["static", "pan", "zoom"]

# Sky (top, bottom of the gradient) and ground colours per setting; `horizon` is the fraction of
# the height where the ground starts (1.0: no ground).
SETTING_STYLE = {
    "grass": dict(sky=((0.35, 0.60, 0.95), (0.70, 0.85, 1.00)), ground=(0.22, 0.55, 0.18), horizon=0.58),
    "sea": dict(sky=((0.55, 0.75, 0.95), (0.85, 0.92, 1.00)), ground=(0.05, 0.25, 0.55), horizon=0.55),
    "desert": dict(sky=((0.60, 0.78, 0.95), (0.95, 0.90, 0.75)), ground=(0.86, 0.70, 0.42), horizon=0.60),
    "snow": dict(sky=((0.62, 0.68, 0.76), (0.85, 0.88, 0.92)), ground=(0.93, 0.95, 0.98), horizon=0.58),
    "night": dict(sky=((0.02, 0.03, 0.12), (0.08, 0.10, 0.25)), ground=(0.06, 0.12, 0.08), horizon=0.65),
    "space": dict(sky=((0.0, 0.0, 0.02), (0.03, 0.02, 0.08)), ground=None, horizon=1.0),
}


@dataclass(frozen=True)
class Scene:
    shape: str
    colour: str
    motion: str
    setting: str
    weather: str = "none"
    camera: str = "static"
    seed: int = 0


def random_scene(rng: np.random.Generator) -> Scene:
    weather = "none" if rng.random() < 0.5 else str(rng.choice(WEATHERS[1:]))
    if weather == "sunset" and rng.random() < 0.5:
        weather = "none"
    camera = "static" if rng.random() < 0.6 else str(rng.choice(CAMERAS[1:]))
    return Scene(
        shape=str(rng.choice(SHAPES)),
        colour=str(rng.choice(list(COLOURS))),
        motion=str(rng.choice(MOTIONS)),
        setting=str(rng.choice(SETTINGS)),
        weather=weather,
        camera=camera,
        seed=int(rng.integers(0, 2**31)),
    )


def object_path(scene: Scene, tau: np.ndarray, horizon: float):
    """Centre (x, y) in [0, 1] and rotation (radians) of the object at normalised times `tau`."""
    rest_y = min(horizon, 0.9) - 0.02 if horizon < 1.0 else 0.55
    mid = 0.5
    zeros = np.zeros_like(tau)
    if scene.motion == "left":
        return 0.82 - 0.64 * tau, zeros + rest_y - 0.06, zeros
    if scene.motion == "right":
        return 0.18 + 0.64 * tau, zeros + rest_y - 0.06, zeros
    if scene.motion == "up":
        return zeros + mid, 0.85 - 0.68 * tau, zeros
    if scene.motion == "down":
        return zeros + mid, 0.17 + 0.68 * tau, zeros
    if scene.motion == "bounce":
        hop = np.abs(np.sin(np.pi * 2.0 * tau))
        return zeros + mid, rest_y - 0.06 - 0.38 * hop, zeros
    if scene.motion == "spin":
        return zeros + mid, zeros + 0.5, 2.0 * np.pi * 1.5 * tau
    return zeros + mid, zeros + rest_y - 0.06, zeros  # still


def _background(scene: Scene, t: float, yy, xx, rng_static):
    """Background at normalised time t on a grid (yy, xx in [0, 1] in world coordinates)."""
    style = SETTING_STYLE[scene.setting]
    top, bottom = np.array(style["sky"][0]), np.array(style["sky"][1])
    horizon = style["horizon"]
    g = np.clip(yy / max(horizon, 1e-3), 0, 1)[..., None]
    sky = top * (1 - g) + bottom * g
    if scene.weather == "sunset" and scene.setting not in ("space", "night"):
        warm = np.array([1.0, 0.50, 0.22]) * (0.4 + 0.6 * g) + np.array([0.35, 0.18, 0.35]) * (1 - g)
        sky = 0.25 * sky + 0.75 * warm
    img = sky
    if scene.setting in ("night", "space"):
        stars = rng_static["stars"]
        sx, sy = stars[:, 0], stars[:, 1]
        for x0, y0 in zip(sx, sy):
            d = (xx - x0) ** 2 + (yy - y0 * (horizon if horizon < 1 else 1.0)) ** 2
            img = np.maximum(img, (np.exp(-d / 0.00004) * 0.95)[..., None])
        if scene.setting == "night":
            d = (xx - 0.8) ** 2 + (yy - 0.15) ** 2
            moon = np.clip((0.0045 - d) / 0.0015, 0, 1)[..., None]
            img = img * (1 - moon) + np.array([0.95, 0.93, 0.80]) * moon
        else:
            d = (xx - 0.18) ** 2 + (yy - 0.22) ** 2
            planet = np.clip((0.012 - d) / 0.002, 0, 1)[..., None]
            img = img * (1 - planet) + np.array([0.75, 0.45, 0.30]) * planet
    if style["ground"] is not None:
        ground = np.array(style["ground"]) * np.ones_like(img)
        depth = np.clip((yy - horizon) / (1 - horizon), 0, 1)[..., None]
        if scene.setting == "grass":
            ground = ground * (0.85 + 0.3 * depth) + 0.04 * np.sin(xx * 60 + yy * 25)[..., None]
        elif scene.setting == "sea":
            waves = np.sin(xx * 40 + yy * 90 - t * 12.0)
            ground = ground * (0.8 + 0.5 * depth) + 0.10 * (waves > 0.85)[..., None]
        elif scene.setting == "desert":
            dunes = 0.06 * np.sin(xx * 14 + yy * 6)
            ground = ground * (0.92 + 0.15 * depth) + dunes[..., None]
        elif scene.setting == "snow":
            ground = ground * (0.95 + 0.05 * depth) - 0.03 * np.sin(xx * 20)[..., None]
        else:  # night ground
            ground = ground * (0.8 + 0.4 * depth)
        if scene.weather == "sunset" and scene.setting not in ("night",):
            ground = ground * np.array([1.0, 0.78, 0.62])
        edge = np.clip((yy - horizon) * 120, 0, 1)[..., None]
        img = img * (1 - edge) + ground * edge
    return img


def _object_mask(scene: Scene, xx, yy, cx, cy, angle, radius):
    dx, dy = xx - cx, yy - cy
    c, s = np.cos(angle), np.sin(angle)
    rx, ry = c * dx + s * dy, -s * dx + c * dy
    if scene.shape == "ball":
        sdf = np.sqrt(dx**2 + dy**2) - radius
    elif scene.shape == "cube":
        sdf = np.maximum(np.abs(rx), np.abs(ry)) - radius * 0.85
    else:  # five-pointed star: radius modulated by angle
        theta = np.arctan2(ry, rx)
        r = np.sqrt(rx**2 + ry**2)
        k = np.abs(((theta * 5 / (2 * np.pi)) % 1.0) - 0.5) * 2  # 1 at points, 0 between
        sdf = r - radius * (0.55 + 0.65 * k)
    return sdf, rx, ry


def render(scene: Scene, frames: int, height: int, width: int) -> np.ndarray:
    """The clip as float32 [frames, height, width, 3] in [0, 1]."""
    rng = np.random.default_rng(scene.seed)
    static = {"stars": rng.random((40, 2))}
    rain = rng.random((70, 3))
    flakes = rng.random((60, 3))
    aspect = width / height
    ys = (np.arange(height) + 0.5) / height
    xs = (np.arange(width) + 0.5) / width
    yy0, xx0 = np.meshgrid(ys, xs, indexing="ij")
    tau = np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)
    horizon = SETTING_STYLE[scene.setting]["horizon"]
    cxs, cys, angles = object_path(scene, tau, horizon)
    radius = OBJECT_RADIUS * min(1.0, aspect)  # in units of the height
    colour = np.array(COLOURS[scene.colour])
    out = np.empty((frames, height, width, 3), dtype=np.float32)
    for f in range(frames):
        t = float(tau[f])
        # Camera: a pan slides the world sideways; a zoom scales it about the centre.
        xx, yy = xx0, yy0
        if scene.camera == "pan":
            xx = xx0 + 0.25 * (t - 0.5)
        elif scene.camera == "zoom":
            z = 1.0 - 0.3 * t
            xx = 0.5 + (xx0 - 0.5) * z
            yy = 0.5 + (yy0 - 0.5) * z
        img = _background(scene, t, yy, xx, static)
        # The object lives in screen space for motion (so "left" stays left under a pan).
        ox, oy = xx0, yy0
        sdf, rx, ry = _object_mask(scene, (ox - 0.5) * aspect + 0.5, oy, (cxs[f] - 0.5) * aspect + 0.5, cys[f],
                                   angles[f], radius)
        px = 1.0 / height
        cover = np.clip(0.5 - sdf / px, 0, 1)[..., None]
        rim = np.clip(0.5 - np.abs(sdf + 1.2 * px) / px, 0, 1)[..., None]
        shade = 0.78 + 0.32 * np.clip(-(rx + ry) / (2 * radius), -1, 1)[..., None]
        body = np.clip(colour * shade, 0, 1)
        if scene.motion == "spin" or scene.shape != "ball":
            stripe = (np.abs(ry) < radius * 0.18)[..., None] & (sdf < 0)[..., None]
            body = np.where(stripe, body * 0.65, body)
        img = img * (1 - cover) + body * cover
        img = img * (1 - 0.6 * rim)
        if scene.weather == "rain":
            for x0, y0, sp in rain:
                x = (x0 + 0.3 * t * 4) % 1.0
                y = (y0 + t * (5 + 3 * sp)) % 1.0
                d = np.abs((xx0 - x) - 0.25 * (yy0 - y))
                streak = (d < 0.006) & (yy0 > y - 0.07) & (yy0 < y)
                img = np.where(streak[..., None], img * 0.55 + 0.45 * np.array([0.75, 0.80, 0.90]), img)
        elif scene.weather == "snow":
            for x0, y0, sp in flakes:
                x = (x0 + 0.03 * np.sin(6 * t + sp * 6)) % 1.0
                y = (y0 + t * (1.2 + sp)) % 1.0
                d = (xx0 - x) ** 2 + (yy0 - y) ** 2
                img = np.maximum(img, (np.exp(-d / 0.00005) * 0.95)[..., None])
        elif scene.weather == "fog":
            img = img * 0.55 + 0.45 * np.array([0.78, 0.80, 0.82])
        out[f] = np.clip(img, 0, 1)
    return out


def subject_clip(scene: Scene) -> np.ndarray:
    """What a cameo's reference clip of the scene's object looks like, as uint8 [4, 64, 64, 3]: the
    object large and still on grey, like a selfie (train.py computes the reference vector of it,
    as jobs::reference::from_frames does of a cameo's clip)."""
    s = Scene(shape=scene.shape, colour=scene.colour, motion="still", setting="space", seed=scene.seed)
    clip = render(s, 4, 64, 64)
    # Repaint the space backdrop a neutral grey; the object stays.
    bg = render(s, 1, 64, 64)[0]
    grey = np.full_like(clip, 0.55)
    dark = (np.abs(clip - bg[None]).sum(-1, keepdims=True) < 1e-3) & (clip.sum(-1, keepdims=True) < 0.6)
    clip = np.where(dark, grey, clip)
    # Zoom the centre so the subject fills the crop.
    c = clip[:, 16:48, 16:48]
    c = np.repeat(np.repeat(c, 2, axis=1), 2, axis=2)
    return (np.clip(c, 0, 1) * 255).astype(np.uint8)


# ---- captions ---------------------------------------------------------------------------------

TRAIN_WORDS = {
    "ball": ["ball", "ball", "sphere", "round ball", "orb"],
    "cube": ["cube", "cube", "box", "block"],
    "star": ["star", "star", "star shape"],
    "red": ["red"], "green": ["green"], "blue": ["blue"], "yellow": ["yellow"], "white": ["white"],
    "orange": ["orange"], "purple": ["purple", "violet"], "pink": ["pink"],
    "left": ["moving left", "moving to the left", "rolling left", "sliding to the left", "going left"],
    "right": ["moving right", "moving to the right", "rolling right", "sliding to the right", "going right"],
    "up": ["moving up", "rising", "floating upward", "going up"],
    "down": ["moving down", "falling", "dropping down", "sinking downward"],
    "bounce": ["bouncing", "bouncing up and down", "hopping"],
    "spin": ["spinning", "rotating", "turning around"],
    "still": ["standing still", "resting", "sitting still", "not moving"],
    "grass": ["on green grass under a blue sky", "in a grassy field", "on a lawn", "in a park"],
    "sea": ["over the sea", "above the ocean", "at sea", "over ocean waves"],
    "desert": ["in the desert", "over desert sand", "in the sand dunes"],
    "snow": ["in the snow", "on a snowy field", "in a winter landscape"],
    "night": ["at night", "under the night sky", "on a dark night with stars"],
    "space": ["in outer space", "in space among the stars", "floating in space"],
    "rain": ["in the rain", "while it rains", "during a rainstorm"],
    "snowfall": ["with snow falling", "as snowflakes fall", "in a snowfall"],
    "fog": ["in thick fog", "on a foggy day", "in the mist"],
    "sunset": ["at sunset", "in the evening glow", "at dusk with an orange sky"],
    "pan": ["camera panning", "with a panning shot", "the camera pans sideways"],
    "zoom": ["camera zooming in", "with a slow zoom", "the camera zooms in"],
}

HELD_OUT_WORDS = {
    "ball": ["globe", "bubble-like ball", "round sphere"],
    "cube": ["square block", "crate"],
    "star": ["starfish-shaped star", "little star"],
    "red": ["crimson", "scarlet"], "green": ["lime green", "emerald"], "blue": ["navy blue", "azure"],
    "yellow": ["golden yellow", "lemon yellow"], "white": ["snow-white", "pale white"],
    "orange": ["tangerine", "bright orange"], "purple": ["lilac purple", "plum"], "pink": ["rose pink", "hot pink"],
    "left": ["drifting to the left", "heading leftward", "travelling towards the left edge"],
    "right": ["drifting to the right", "heading rightward", "travelling towards the right edge"],
    "up": ["climbing upward", "ascending", "lifting towards the top"],
    "down": ["descending", "plummeting downward", "sinking towards the bottom"],
    "grass": ["across a meadow", "on a green pasture"],
    "sea": ["above the open water", "over the waves of the ocean"],
    "desert": ["across the dunes of a desert", "in an arid sandy desert"],
    "snow": ["across a snowy plain", "in a frozen white landscape"],
    "night": ["beneath a starry night sky", "late at night"],
    "space": ["drifting through the cosmos", "in the void of space"],
}

TRAIN_TEMPLATES = [
    "a {colour} {shape} {motion} {setting}",
    "{colour} {shape} {motion} {setting}",
    "a {colour} {shape} {setting}, {motion}",
    "{setting}, a {colour} {shape} is {motion}",
    "video of a {colour} {shape} {motion} {setting}",
    "a {shape} that is {colour}, {motion} {setting}",
    "the {colour} {shape} {motion} {setting}",
]
HELD_OUT_TEMPLATES = [
    "a {colour} {shape} {motion} {setting}",
    "{setting} there is a {colour} {shape} {motion}",
    "watch a {colour} {shape} {motion} {setting}",
    "cinematic shot: {colour} {shape} {motion} {setting}",
]


# More ways to say the same things, for the planner only (train.py::planner_captions: its captions
# are text, so it can read far more of them than the denoiser sees clips). None of these is a
# held-out phrase or uses a held-out word (test_evaluate.py checks), so the evaluation's
# paraphrases stay unseen. Kept apart from TRAIN_WORDS so that the denoiser's dataset, drawn with
# TRAIN_WORDS, is what it was when the shipped weights were trained.
PLANNER_WORDS = {
    "ball": ["round object", "marble", "small ball", "big ball"],
    "cube": ["cardboard box", "cubic block", "die", "box shape"],
    "star": ["five-pointed star", "star-shaped object", "shiny star"],
    "red": ["vivid red", "deep red", "ruby", "cherry red", "blood red", "tomato red", "fire-engine red"],
    "green": ["vivid green", "jade", "grass green", "forest green", "deep green", "mint green"],
    "blue": ["vivid blue", "sky blue", "cobalt", "sapphire", "royal blue", "deep blue"],
    "yellow": ["vivid yellow", "canary yellow", "sunny yellow", "mustard", "banana yellow"],
    "white": ["pure white", "ivory", "milky white", "clean white", "chalk white"],
    "orange": ["amber", "pumpkin orange", "deep orange", "carrot orange", "orange-coloured"],
    "purple": ["violet", "amethyst", "grape purple", "deep purple", "lavender", "mauve"],
    "pink": ["light pink", "baby pink", "bubblegum pink", "blush pink", "pastel pink", "salmon pink"],
    "left": ["moving toward the left", "floating to the left", "rolling to the left", "gliding left",
             "flying left", "sliding left across the frame", "going to the left side", "sliding along to the left"],
    "right": ["moving toward the right", "floating to the right", "rolling to the right", "gliding right",
              "flying right", "sliding right across the frame", "going to the right side", "sliding along to the right"],
    "up": ["going upward", "flying up", "rising up", "floating up", "moving upwards", "soaring up",
           "rising higher and higher", "shooting up"],
    "down": ["moving downward", "falling down", "dropping", "sinking", "coming down", "going down",
             "moving downwards", "dropping toward the ground"],
    "bounce": ["jumping", "bouncing along", "hopping up and down", "springing up and down"],
    "spin": ["spinning around", "twirling", "rotating in place", "whirling"],
    "still": ["staying still", "motionless", "at rest", "sitting quietly", "staying put", "not moving at all"],
    "grass": ["on a grassy hill", "in a green field", "on the grass", "in a garden", "in the countryside"],
    "sea": ["on the sea surface", "above the sea", "on the ocean", "by the sea", "over the blue sea"],
    "desert": ["on warm sand", "in a wasteland of sand", "among sand dunes", "in the sahara"],
    "snow": ["on snowy ground", "in a snowy landscape", "in the snowy mountains", "on a field of snow"],
    "night": ["in the dark night", "at nighttime", "at midnight", "under the moon"],
    "space": ["in deep space", "among the planets", "in the galaxy", "out in the universe", "in zero gravity"],
}
PLANNER_TEMPLATES = TRAIN_TEMPLATES + [
    "a clip of a {colour} {shape} {motion} {setting}",
    "{colour} {shape}, {motion}, {setting}",
    "look at the {colour} {shape} {motion} {setting}",
    "short video: a {colour} {shape} {motion} {setting}",
    "animation of a {colour} {shape} {motion} {setting}",
    "{setting}: one {colour} {shape}, {motion}",
    "a {colour} {shape} is {motion} {setting}",
]


def planner_caption(scene: Scene, rng: np.random.Generator) -> str:
    """A caption in the planner's wider training vocabulary (TRAIN_WORDS and PLANNER_WORDS)."""

    def pick(key):
        options = TRAIN_WORDS[key] + PLANNER_WORDS.get(key, [])
        return str(rng.choice(options))

    parts = dict(colour=pick(scene.colour), shape=pick(scene.shape), motion=pick(scene.motion),
                 setting=pick(scene.setting))
    return _compose(scene, rng, pick, PLANNER_TEMPLATES, parts)


def caption(scene: Scene, rng: np.random.Generator, held_out: bool = False) -> str:
    words = HELD_OUT_WORDS if held_out else TRAIN_WORDS

    def pick(key):
        options = words.get(key) or TRAIN_WORDS[key]
        return str(rng.choice(options))

    motion = pick(scene.motion)
    parts = dict(colour=pick(scene.colour), shape=pick(scene.shape), motion=motion, setting=pick(scene.setting))
    return _compose(scene, rng, pick, HELD_OUT_TEMPLATES if held_out else TRAIN_TEMPLATES, parts)


def _compose(scene, rng, pick, templates, parts):
    """A template filled with `parts`, then the weather and camera words, drawn with `pick` (the
    random draws in the order every caption has always made them)."""
    text = str(rng.choice(templates)).format(**parts)
    extra = []
    if scene.weather != "none":
        extra.append(pick("snowfall" if scene.weather == "snow" else scene.weather))
    if scene.camera != "static":
        extra.append(pick(scene.camera))
    if extra:
        text += ", " + ", ".join(extra)
    return text
