"""Not a garment: which score tells a photo of something else from a garment, and where its threshold lies.

    nice .venv/bin/python -m bench.not_garment [--n 40] [--photos 60] [--seed 0] [--sheet /tmp/not_garment.png]

Non-garments are generated here, seeded (one random stream per (seed, kind, i)), as the files a learner
might upload (PNG or JPEG): test patterns (colour bars, checkerboards, gradients), blank and near-blank
pages, text rendered with Pillow, noise, simple synthetic faces, geometric shapes, natural-ish textures and
landscapes. Each goes through the lab's own preprocessing, as Upload does (preprocess_image, "ours", fill
step on: lab_ui/uploads.process). Garments: Fashion-MNIST's 10,000 test images as they are, photos rendered
from its test images (bench/photo_variants.py's eight variants, --photos per variant), and drawings (the
outline set, bench/outline_set.py, and the outside set's emoji and icons, bench/outside_set.py: without Noto's
emoji font, its SVG pictures only), and Fashion-MNIST test images saved as PNG and read back through the pipeline.
The quantiles of the lab's rule are chosen here (fmnist_lib.novelty.ENERGY_QUANTILE, DISTANCE_QUANTILE).

Candidates, each the lower of an image's two views (the mirror step) and each with its threshold at a
quantile of the same 6,000 reference training images (fmnist_lib.novelty.reference_images): the largest
softmax probability, the energy −logsumexp(z), the PCA residual, the pixel distance (probabilistic PCA), the
distance to the nearest reference image, and the lab's rule (energy or pixel distance over its own
threshold). Models: the tutorial's softmax and the CNN default (data/models, fit_or_load).
Writes bench/results/not_garment.md.
"""

from __future__ import annotations

import argparse
import io
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bench import outline_set, outside_set
from bench.common import cpu_model, load_average, write_results
from bench.garment_sets import EMOJI, MODEL_DIR, ROOT, svg_to_png
from bench.photo_variants import VARIANTS
from fmnist_lib import default_config, fit_or_load, load_fashion_mnist
from fmnist_lib.images.decode import ImageError
from fmnist_lib.images.preprocess import preprocess_image
from fmnist_lib.inference import as_uint8_images, mirror_images
from fmnist_lib.novelty import (
    DISTANCE_QUANTILE,
    ENERGY_QUANTILE,
    both_views,
    energy,
    fit_check,
    fit_pixels,
    max_prob_score,
    pixel_distance,
    pixel_residual,
    reference_images,
    threshold,
)
from fmnist_lib.novelty import flags as check_flags

RESULTS = ROOT / "bench" / "results" / "not_garment.md"
FONTS = "/usr/share/fonts/truetype/dejavu"
MODELS = {"tutorial's softmax": default_config("softmax"), "CNN default": default_config("cnn")}
# The lab's rule swept: (energy quantile, distance quantile).
QUANTILES = ((0.95, 0.95), (0.97, 0.97), (0.98, 0.98), (0.985, 0.985), (0.99, 0.99), (0.99, 0.995),
             (0.995, 0.995), (0.99, 0.998), (0.995, 0.998), (0.998, 0.998), (0.995, 0.999))  # fmt: skip
SINGLE_QUANTILE = 0.985  # a single candidate at about the lab's rule's rate on the reference images

# ---------------------------------------------------------------------------------------------
# Non-garments: each kind makes one picture (PIL RGB) from its own random stream
# ---------------------------------------------------------------------------------------------


def _size(rng: np.random.Generator) -> tuple[int, int]:
    return int(rng.integers(240, 800)), int(rng.integers(240, 800))


def _colour(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(lo, hi, 3))


def colour_bars(rng):
    """SMPTE-like bars: seven vertical bars, sometimes a strip of other bars below."""
    w, h = _size(rng)
    bars = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192), (192, 0, 0), (0, 0, 192)]
    if rng.random() < 0.5:
        bars = [tuple(255 if c else 0 for c in b) for b in bars]  # full-intensity bars
    img = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(img)
    split = h if rng.random() < 0.5 else int(h * rng.uniform(0.6, 0.8))
    for i, c in enumerate(bars):
        d.rectangle([i * w / 7, 0, (i + 1) * w / 7, split], fill=c)
    if split < h:
        for i, c in enumerate([(0, 0, 192), (19, 19, 19), (192, 0, 192), (19, 19, 19), (0, 192, 192), (255,) * 3]):
            d.rectangle([i * w / 6, split, (i + 1) * w / 6, h], fill=c)
    return img


def checkerboard(rng):
    w, h = _size(rng)
    sq = int(rng.integers(4, 64))
    yy, xx = np.mgrid[0:h, 0:w]
    on = ((yy // sq) + (xx // sq)) % 2 == 0
    a, b = (_colour(rng, 0, 90), _colour(rng, 160, 256)) if rng.random() < 0.7 else (_colour(rng), _colour(rng))
    return Image.fromarray(np.where(on[..., None], np.array(a), np.array(b)).astype(np.uint8))


def gradient(rng):
    w, h = _size(rng)
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    if rng.random() < 0.5:
        ang = rng.uniform(0, 2 * math.pi)
        t = np.cos(ang) * xx + np.sin(ang) * yy
    else:
        cx, cy = rng.uniform(0, w / max(w, h)), rng.uniform(0, h / max(w, h))
        t = np.hypot(xx - cx, yy - cy)
    t = (t - t.min()) / max(np.ptp(t), 1e-9)
    a, b = np.array(_colour(rng)), np.array(_colour(rng))
    return Image.fromarray((a + (b - a) * t[..., None]).astype(np.uint8))


def blank_page(rng):
    """White, off-white or grey paper, camera noise; sometimes uneven light, a speck or ruled lines."""
    w, h = _size(rng)
    level = rng.uniform(170, 255)
    page = np.full((h, w, 3), level) + rng.uniform(-6, 6, 3)
    if rng.random() < 0.4:  # uneven light across the page
        yy = np.linspace(0, 1, h)[:, None, None]
        page = page - rng.uniform(5, 40) * yy
    page += rng.normal(0, rng.uniform(0.5, 4), page.shape)
    img = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    r = rng.random()
    if r < 0.25:  # a speck of dust
        x, y, s = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h, rng.uniform(1, 4)
        d.ellipse([x - s, y - s, x + s, y + s], fill=_colour(rng, 40, 120))
    elif r < 0.45:  # ruled paper
        step = int(rng.integers(18, 40))
        for y in range(step, h, step):
            d.line([(0, y), (w, y)], fill=(170, 190, 220), width=1)
    return img


WORDS = [
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "lorem", "ipsum", "dolor", "sit", "amet",
    "fashion", "mnist", "softmax", "invoice", "total", "date", "meeting", "notes", "chapter", "one", "page",
    "hello", "world", "learning", "rate",
]  # fmt: skip


def text(rng):
    """A few lines of words, black (or dark) on white (or light), in one of DejaVu's faces."""
    w, h = _size(rng)
    face = str(rng.choice(["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf"]))
    size = int(rng.integers(14, 64))
    font = ImageFont.truetype(f"{FONTS}/{face}", size)
    img = Image.new("RGB", (w, h), _colour(rng, 215, 256))
    d = ImageDraw.Draw(img)
    ink = _colour(rng, 0, 70)
    y = rng.uniform(0.05, 0.3) * h
    for _ in range(int(rng.integers(1, 8))):
        if y > h - size:
            break
        words = " ".join(rng.choice(WORDS, int(rng.integers(1, 7))))
        d.text((rng.uniform(0.03, 0.2) * w, y), words, fill=ink, font=font)
        y += size * rng.uniform(1.2, 1.8)
    return img


def noise(rng):
    w, h = _size(rng)
    kind = rng.integers(4)
    if kind == 0:  # colour noise
        a = rng.integers(0, 256, (h, w, 3))
    elif kind == 1:  # grey Gaussian noise
        a = np.repeat(np.clip(rng.normal(128, 50, (h, w, 1)), 0, 255), 3, axis=2)
    elif kind == 2:  # salt and pepper on grey
        a = np.full((h, w, 3), 128.0)
        m = rng.random((h, w))
        a[m < 0.1], a[m > 0.9] = 0, 255
    else:  # blurred noise (blobs)
        small = rng.integers(0, 256, (max(2, h // 20), max(2, w // 20), 3)).astype(np.uint8)
        return Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
    return Image.fromarray(a.astype(np.uint8))


def face(rng):
    """A head as a child draws it: a skin-toned oval, hair, eyes, a nose and a mouth; sometimes shoulders."""
    w, h = _size(rng)
    bg = _colour(rng, 150, 256) if rng.random() < 0.7 else _colour(rng, 40, 150)
    img = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(img)
    skins = [(241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (255, 219, 172)]
    skin = skins[int(rng.integers(len(skins)))]
    cx, cy = w * rng.uniform(0.4, 0.6), h * rng.uniform(0.4, 0.55)
    rx, ry = min(w, h) * rng.uniform(0.18, 0.3), min(w, h) * rng.uniform(0.24, 0.38)
    if rng.random() < 0.3:  # shoulders
        d.ellipse([cx - 2.6 * rx, cy + 0.8 * ry, cx + 2.6 * rx, cy + 3.5 * ry], fill=_colour(rng, 0, 200))
    hair = _colour(rng, 0, 120)
    d.ellipse([cx - rx * 1.08, cy - ry * 1.12, cx + rx * 1.08, cy + ry * 0.4], fill=hair)
    d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=skin)
    ex, ey, er = rx * 0.38, cy - ry * 0.15, rx * rng.uniform(0.08, 0.16)
    for sx in (-1, 1):
        d.ellipse([cx + sx * ex - er, ey - er, cx + sx * ex + er, ey + er], fill=(255, 255, 255))
        d.ellipse([cx + sx * ex - er / 2, ey - er / 2, cx + sx * ex + er / 2, ey + er / 2], fill=(40, 30, 20))
    d.line([(cx, cy), (cx - rx * 0.08, cy + ry * 0.25), (cx + rx * 0.05, cy + ry * 0.27)], fill=(120, 70, 50), width=2)
    d.arc([cx - rx * 0.4, cy + ry * 0.3, cx + rx * 0.4, cy + ry * 0.6], 20, 160, fill=(150, 40, 40), width=4)
    return img


def shapes(rng):
    """One to four filled geometric shapes (circle, triangle, square, star, polygon) on a light background."""
    w, h = _size(rng)
    img = Image.new("RGB", (w, h), _colour(rng, 200, 256))
    d = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(1, 5))):
        cx, cy, r = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h, rng.uniform(0.08, 0.3) * min(w, h)
        c = _colour(rng, 0, 180)
        kind = rng.integers(5)
        if kind == 0:
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=c)
        elif kind == 1:
            d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=c)
        else:
            n = {2: 3, 3: 10, 4: int(rng.integers(5, 9))}[int(kind)]
            rot = rng.uniform(0, 2 * math.pi)
            rad = [r * (0.45 if kind == 3 and i % 2 else 1.0) for i in range(n)]
            pts = [(cx + rad[i] * math.cos(rot + 2 * math.pi * i / n), cy + rad[i] * math.sin(rot + 2 * math.pi * i / n))
                   for i in range(n)]  # fmt: skip
            d.polygon(pts, fill=c)
    return img


def _octaves(rng, h: int, w: int, octaves: int = 5) -> np.ndarray:
    """Value noise summed over octaves (clouds, stone, bark): float [h, w] in [0, 1]."""
    out = np.zeros((h, w))
    for o in range(octaves):
        cells = 2 ** (o + 2)
        small = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
        out += np.asarray(small.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float64) / 255 / 2**o
    return (out - out.min()) / max(np.ptp(out), 1e-9)


def texture(rng):
    """A natural-ish texture filling the frame: clouds, marble veins or wood rings in two colours."""
    w, h = _size(rng)
    t = _octaves(rng, h, w)
    kind = rng.integers(3)
    if kind == 1:  # marble
        xx = np.mgrid[0:h, 0:w][1] / w
        t = 0.5 + 0.5 * np.sin(2 * math.pi * (xx * rng.uniform(2, 6) + 3 * t))
    elif kind == 2:  # wood
        yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
        t = (np.hypot(xx - rng.uniform(0, 1), yy - rng.uniform(0, 1)) * rng.uniform(8, 20) + 2 * t) % 1
    a, b = np.array(_colour(rng)), np.array(_colour(rng))
    return Image.fromarray((a + (b - a) * t[..., None]).astype(np.uint8))


def landscape(rng):
    """Sky, sometimes a sun, two or three ranges of hills and the ground."""
    w, h = _size(rng)
    yy = np.linspace(0, 1, h)[:, None, None]
    top, low = np.array(_colour(rng, 60, 200)), np.array(_colour(rng, 170, 256))
    img = Image.fromarray(np.broadcast_to(top + (low - top) * yy, (h, w, 3)).astype(np.uint8))
    d = ImageDraw.Draw(img)
    if rng.random() < 0.6:
        sx, sy, sr = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.35) * h, rng.uniform(0.04, 0.1) * min(w, h)
        d.ellipse([sx - sr, sy - sr, sx + sr, sy + sr], fill=(255, 230, 120))
    for k in range(int(rng.integers(2, 4))):
        base = h * (0.45 + 0.15 * k + rng.uniform(-0.05, 0.05))
        xs = np.linspace(0, w, 30)
        ridge = base + np.cumsum(rng.normal(0, h * 0.02, 30))
        d.polygon([(0, h), *zip(xs.tolist(), ridge.tolist(), strict=True), (w, h)], fill=_colour(rng, 20, 140))
    return img.filter(ImageFilter.GaussianBlur(0.8))


KINDS: dict[str, Callable[[np.random.Generator], Image.Image]] = {
    "colour bars": colour_bars,
    "checkerboard": checkerboard,
    "gradient": gradient,
    "blank or near-blank page": blank_page,
    "text": text,
    "noise": noise,
    "face (synthetic)": face,
    "geometric shapes": shapes,
    "texture": texture,
    "landscape (synthetic)": landscape,
}


def encoded(img: Image.Image, rng: np.random.Generator) -> bytes:
    """The picture as an upload: JPEG (quality 60-95) two times in three, else PNG."""
    buf = io.BytesIO()
    if rng.random() < 2 / 3:
        img.save(buf, "JPEG", quality=int(rng.integers(60, 96)))
    else:
        img.save(buf, "PNG")
    return buf.getvalue()


def non_garments(n: int, seed: int) -> dict[str, list[bytes]]:
    """n files of every kind, each from its own stream (seed, kind number, i)."""
    out = {}
    for k, (name, make) in enumerate(KINDS.items()):
        files = []
        for i in range(n):
            rng = np.random.default_rng([seed, k, i])
            files.append(encoded(make(rng), rng))
        out[name] = files
    return out


def preprocessed(files: list, fill: bool = True) -> tuple[torch.Tensor, int]:
    """Our pipeline on each file (bytes or a path), as Upload runs it: (uint8 [N, 28, 28], files refused)."""
    pixels, refused = [], 0
    for f in files:
        try:
            pixels.append(torch.from_numpy(np.asarray(preprocess_image(f, "ours", fill_outlines=fill).pixels)))
        except ImageError:
            refused += 1  # Upload shows its message instead of a Top-3: nothing to caveat
        except Exception as e:  # a pipeline bug: Upload says "could not be processed" (uploads.process)
            print(f"  pipeline failed ({type(e).__name__}: {e})", flush=True)
            refused += 1
    return (torch.stack(pixels) if pixels else torch.zeros(0, 28, 28, dtype=torch.uint8)), refused


# ---------------------------------------------------------------------------------------------
# Garments
# ---------------------------------------------------------------------------------------------


def garment_photos(data, per_variant: int, seed: int) -> list[bytes]:
    """per_variant photos of each of photo_variants' variants, from a seeded sample of test images."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(data.test_labels), size=per_variant, replace=False))
    files = []
    for vi, (_, make) in enumerate(VARIANTS.values()):
        for i in idx:
            files.append(make(data.test_images[int(i)].numpy(), np.random.default_rng([seed, vi, int(i)])))
    return files


PNGS = 1000  # Fashion-MNIST test images saved as 28x28 PNGs and read back through the pipeline


def png_of(pixels: np.ndarray) -> bytes:
    """A 28x28 uint8 image as a PNG file: what a learner uploads after saving a Fashion-MNIST image."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


OUTLINE_SET = "outline drawings (bench/outline_set.py)"
OUTSIDE_SET = "emoji and icons (bench/outside_set.py)"


def drawings() -> dict[str, list]:
    """The outline set's and the outside set's pictures (paths), each when it can be built here."""
    out = {}
    for name, build in (
        (OUTLINE_SET, lambda: [it.path for it in outline_set.build()]),
        (OUTSIDE_SET, outside_pictures),
    ):
        try:
            out[name] = build()
        except (SystemExit, Exception) as e:  # npm, rsvg-convert or a font missing: reported, not fatal
            print(f"{name}: not built ({type(e).__name__}: {e})")
    return out


def outside_pictures() -> list[Path]:
    """The outside set (bench/outside_set.py); without Noto's emoji font, its 66 SVG pictures alone (Twemoji,
    OpenMoji, Fluent flat and colour, Phosphor fill), rendered from the outline set's npm packages (the same
    versions) into data/not_garment/outside/."""
    try:
        return [it.path for it in outside_set.build()]
    except SystemExit as e:
        print(f"outside set: {e}; its SVG pictures only")
    modules = outline_set.NPM_DIR / "node_modules"
    outline_set.npm_install(outline_set.NPM_DIR, outline_set.NPM_PACKAGES)
    svg_of = {
        "twemoji": lambda cp, name: modules / "@twemoji/svg" / f"{cp}.svg",
        "openmoji": lambda cp, name: modules / "openmoji/color/svg" / f"{cp.upper()}.svg",
        "fluent-flat": lambda cp, name: modules / "fluentui-emoji/icons/flat" / f"{name}.svg",
        "fluent-colour": lambda cp, name: modules / "fluentui-emoji/icons/modern" / f"{name}.svg",
    }
    out_dir = ROOT / "data" / "not_garment" / "outside"
    jobs = [(out_dir / src / f"{name}.png", of(cp, name)) for src, of in svg_of.items() for cp, name, _ in EMOJI]
    fill = modules / "@phosphor-icons/core/assets/fill"
    jobs += [(out_dir / "phosphor" / f"{name}.png", fill / f"{name}-fill.svg") for name, _ in outside_set.ICONS]
    for png, svg in jobs:
        if not png.exists():
            png.parent.mkdir(parents=True, exist_ok=True)
            svg_to_png(svg.read_bytes(), png)
    return [png for png, _ in jobs]


# ---------------------------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------------------------


def nearest_distance(references: torch.Tensor, images: torch.Tensor, exclude_self: bool = False) -> torch.Tensor:
    """RMS pixel (0-1) distance of each image to its nearest reference image: [N]."""
    ref = references.reshape(len(references), -1).to(torch.float32) / 255
    x = as_uint8_images(images).reshape(-1, 784).to(torch.float32) / 255
    out = []
    for s in range(0, len(x), 500):
        d = torch.cdist(x[s : s + 500], ref).square()  # [b, R]
        if exclude_self:
            d[torch.arange(len(d)), torch.arange(s, s + len(d))] = math.inf
        out.append(d.min(1).values)
    return (torch.cat(out).clamp(min=0) / 784).sqrt().to(torch.float64) if out else torch.zeros(0)


def candidates(clf, pm, references) -> dict[str, Callable[[torch.Tensor, bool], torch.Tensor]]:
    """Each candidate score as f(images, are_the_references) -> [N], the lower of the two views."""

    def logit_score(f):
        return lambda x, _ref: both_views(lambda v: f(clf.logits(v)), x)

    def knn(x, is_ref):
        own = nearest_distance(references, x, exclude_self=is_ref)
        return torch.minimum(own, nearest_distance(references, mirror_images(as_uint8_images(x))))

    return {
        "largest probability (1 − max p)": logit_score(max_prob_score),
        "energy −logsumexp(z)": logit_score(energy),
        "PCA residual": lambda x, _ref: both_views(lambda v: pixel_residual(pm, v), x),
        "pixel distance (PPCA)": lambda x, _ref: both_views(lambda v: pixel_distance(pm, v), x),
        "nearest training image": knn,
    }


ENERGY, DISTANCE = "energy −logsumexp(z)", "pixel distance (PPCA)"
LAB_RULE = "**the lab's rule: energy or pixel distance**"


def lab_flags(ref_scores: dict, scores: dict, qe: float, qd: float) -> dict[str, torch.Tensor]:
    """The lab's rule at quantiles (qe, qd): flagged when the energy or the pixel distance is above its threshold."""
    te, td = threshold(ref_scores[ENERGY], qe), threshold(ref_scores[DISTANCE], qd)
    return {s: (scores[ENERGY][s] > te) | (scores[DISTANCE][s] > td) for s in scores[ENERGY]}


def rate(flags: torch.Tensor) -> str:
    return f"{float(flags.float().mean()):.1%}" if len(flags) else "–"


def all_inputs(data, args) -> tuple[dict[str, torch.Tensor], dict[str, int], list[str]]:
    """Every set's 28x28 inputs (name -> uint8 [N, 28, 28]), the files refused per set, the non-garment kinds;
    kept in args.inputs (a .pt file) when given, so a rerun skips the preprocessing."""
    if args.inputs and Path(args.inputs).exists():
        kept = torch.load(args.inputs, weights_only=True)
        sets, refused, kinds = kept["sets"], kept["refused"], kept["kinds"]
    else:
        sets, refused, kinds = build_inputs(data, args)
        if args.inputs:
            torch.save({"sets": sets, "refused": refused, "kinds": kinds}, args.inputs)
    if OUTSIDE_SET not in sets:  # kept inputs from before the outside set could be built
        for name, files in drawings().items():
            if name not in sets:
                sets[name], refused[name] = preprocessed(files)
    png_name = f"Fashion-MNIST test images as PNG files ({PNGS}, through the pipeline)"
    if png_name not in sets:  # quick (small files): made on every run
        sets[png_name], refused[png_name] = preprocessed([png_of(px) for px in data.test_images[:PNGS].numpy()])
    return sets, refused, kinds


def build_inputs(data, args) -> tuple[dict[str, torch.Tensor], dict[str, int], list[str]]:
    """Preprocess every set's files (a few minutes): see all_inputs."""
    sets: dict[str, torch.Tensor] = {}
    refused: dict[str, int] = {}
    for kind, files in non_garments(args.n, args.seed).items():
        sets[kind], refused[kind] = preprocessed(files)
    kinds = list(sets)
    sets["Fashion-MNIST test images"] = as_uint8_images(data.test_images)
    photo_name = f"garment photos ({args.photos} × 8 photo variants)"
    sets[photo_name], refused[photo_name] = preprocessed(garment_photos(data, args.photos, args.seed))
    for name, files in drawings().items():
        sets[name], refused[name] = preprocessed(files)
    return sets, refused, kinds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=40, help="non-garments per kind (default 40)")
    ap.add_argument("--photos", type=int, default=60, help="garment photos per photo variant (default 60)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sheet", default="", help="also save a contact sheet of the non-garments' 28x28 inputs here")
    ap.add_argument("--inputs", default="", help="keep the preprocessed inputs in this .pt file (reused if present)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    data = load_fashion_mnist(download=False)
    runs = {name: fit_or_load(c, data, MODEL_DIR, test_every_epoch=False).run for name, c in MODELS.items()}
    references = reference_images(data.train_images)
    pm = fit_pixels(references)

    sets, refused, non_garment_kinds = all_inputs(data, args)
    if args.sheet:
        contact_sheet([sets[k] for k in non_garment_kinds], args.sheet)
    garment_sets = [s for s in sets if s not in non_garment_kinds]
    print(f"garments preprocessed ({time.perf_counter() - t0:.0f} s)", flush=True)

    lines = [
        "# Not a garment: scores and thresholds (bench/not_garment.py)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {cpu_model()} (load {load_average()}), 1 torch thread. "
        f"Non-garments: {args.n} generated files of each of {len(KINDS)} kinds (seed {args.seed}), through "
        "Upload's preprocessing (our pipeline, fill step on). Garments: "
        + "; ".join(f"{s} {len(sets[s])}" for s in garment_sets)
        + ". Files the pipeline refused (Upload shows its message, no Top-3): "
        + (", ".join(f"{k} {v}" for k, v in refused.items() if v) or "none")
        + ".",
        "",
        f"Every threshold is a quantile of the score on {len(references):,} reference training images "
        "(every 10th); every score is the lower of an image's two views (the mirror step). A single candidate "
        f"is shown at its {SINGLE_QUANTILE:.1%} quantile; the lab's rule (fmnist_lib.novelty, its own code path "
        f"here) flags when the energy is above its {ENERGY_QUANTILE:.1%} quantile or the pixel distance above "
        f"its {DISTANCE_QUANTILE:.1%} quantile (together about as many reference images).",
        "",
    ]
    sweep_lines = []
    for model_name, run in runs.items():
        clf = run.classifier()
        cands = candidates(clf, pm, references)
        ref_scores = {c: f(references, True) for c, f in cands.items()}
        scores = {c: {s: f(x, False) for s, x in sets.items()} for c, f in cands.items()}
        flags = {}
        for c in cands:
            t = threshold(ref_scores[c], SINGLE_QUANTILE)
            flags[c] = {s: v > t for s, v in scores[c].items()}
        check = fit_check(clf, references, pm)
        flags[LAB_RULE] = {s: check_flags(check, clf, x) for s, x in sets.items()}
        lines += [
            f"## {model_name} (test accuracy {run.test_acc:.2%})",
            "",
            "Share flagged as not a garment. Non-garments: higher is better; garments: lower is better.",
            "",
            "| candidate | all non-garments | " + " | ".join(non_garment_kinds) + " | "
            + " | ".join(garment_sets) + " |",
            "|---|---:|" + "---:|" * (len(non_garment_kinds) + len(garment_sets)),
        ]  # fmt: skip
        for c, f in flags.items():
            all_non = torch.cat([f[k] for k in non_garment_kinds])
            lines.append(
                f"| {c} | **{rate(all_non)}** | "
                + " | ".join(rate(f[k]) for k in non_garment_kinds)
                + " | "
                + " | ".join(rate(f[s]) for s in garment_sets)
                + " |"
            )
        lines.append("")
        sweep_lines += [
            f"| {model_name} | {q[0]:.1%} / {q[1]:.1%} | "
            + f"{threshold(ref_scores[ENERGY], q[0]):.2f} | {threshold(ref_scores[DISTANCE], q[1]):.2f} | "
            + f"{rate(lab_flags(ref_scores, {c: {'ref': ref_scores[c]} for c in ref_scores}, *q)['ref'])} | "
            + f"{rate(torch.cat([lab_flags(ref_scores, scores, *q)[k] for k in non_garment_kinds]))} | "
            + " | ".join(rate(lab_flags(ref_scores, scores, *q)[s]) for s in garment_sets)
            + " |"
            for q in QUANTILES
        ]
        sweep_lines[-len(QUANTILES) :] = [
            line.replace(
                f"| {model_name} | {q[0]:.1%} / {q[1]:.1%} |", f"| {model_name} | **{q[0]:.1%} / {q[1]:.1%}** |"
            )
            if q == (ENERGY_QUANTILE, DISTANCE_QUANTILE)
            else line
            for line, q in zip(sweep_lines[-len(QUANTILES) :], QUANTILES, strict=True)
        ]
    lines += [
        "## Choosing the quantile of the lab's rule",
        "",
        "| model | quantiles: energy / distance | energy threshold | distance threshold | reference images | "
        "all non-garments | " + " | ".join(garment_sets) + " |",
        "|---|---:|---:|---:|---:|---:|" + "---:|" * len(garment_sets),
        *sweep_lines,
        "",
        f"**Chosen: energy above its {ENERGY_QUANTILE:.1%} quantile or pixel distance above its "
        f"{DISTANCE_QUANTILE:.1%} quantile** (the bold rows; fmnist_lib.novelty). Why: the aim was that a learner's "
        "garments are rarely called odd, at most 5% of Fashion-MNIST's test images and at most 5% of the garment "
        "photos for both models, and then as many non-garments flagged as possible. Rows with lower quantiles flag "
        "more non-garments but too many garments (at 99.5% / 99.5% 7% of the CNN's photos and over a third of the "
        "emoji); the 99.9% distance lets more non-garments through. Neither score is enough alone: the energy "
        "misses text, faces and shapes (the model is confident about them), the distance misses blank pages and "
        "textures (the pipeline makes them nearly empty, which is near an average training image in pixels). "
        "Drawings stay the hardest garments: flat emoji and icons lie far from Fashion-MNIST's photos in pixels.",
        "",
        f"({time.perf_counter() - t0:.0f} s)",
    ]  # fmt: skip
    print("\n".join(lines))
    if not args.no_write:
        write_results(RESULTS, lines, "nice .venv/bin/python -m bench.not_garment")
    return 0


def contact_sheet(groups: list[torch.Tensor], path: str, per_row: int = 40, cell: int = 30) -> None:
    """One row per group of 28x28 inputs (at most per_row each), for looking at what the pipeline made."""
    sheet = Image.new("L", (per_row * cell, len(groups) * cell), 80)
    for r, g in enumerate(groups):
        for i, px in enumerate(g[:per_row]):
            sheet.paste(Image.fromarray(px.numpy()), (i * cell + 1, r * cell + 1))
    sheet.save(path)


if __name__ == "__main__":
    raise SystemExit(main())
