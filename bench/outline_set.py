"""An outline check set: garments drawn as thin strokes, read with and without the fill step.

    .venv/bin/python -m bench.outline_set                 # build (cached), load or train the two default models, report
    .venv/bin/python -m bench.outline_set --build         # only build the set and draw a contact sheet
    .venv/bin/python -m bench.outline_set --cost 3000     # instead: Fashion-MNIST and the photo variants, step on / off

A hollow outline is something no Fashion-MNIST image looks like (issue 24): this set measures what the fill
step (fmnist_lib/images/outline.py) does for such drawings. Four sources, all black strokes on white, 256x256 PNGs
built into data/outline/ (git-ignored), every picture mapped to its class by construction or by its name:

* **Fashion-MNIST traced**: the edge of each garment's mask (test images, PER_CLASS per class, seed 0), at
  three stroke widths (1.5%, 3%, 5% of 256 px): an outline of exactly what the model was trained on.
* **Phosphor (regular)**: the regular (outline) weight of the same icons bench/outside_set.py uses filled,
  npm `@phosphor-icons/core@2.1.1` (MIT).
* **Emoji outlines**: the emoji of bench/outside_set.py (Twemoji, OpenMoji, Fluent flat) traced as the edge of
  their shape at a 2.5% stroke, plus the packages' own line versions: OpenMoji's black set and Fluent's
  high-contrast style (npm `@twemoji/svg@15.0.0`, `openmoji@17.0.0`, `fluentui-emoji@1.3.0`).
* **Hand-drawn (synthetic)**: a rough template of each class (HAND_TEMPLATES), its points jittered, each
  segment drawn at a random, uneven width, with one stroke left slightly open; SKETCHES per class, seed 0.

No other icon or emoji set is used: a held-out set of outline drawings by other design teams is kept for the
check. The models are the two defaults `python -m fmnist_lib predict` is used with (the tutorial's softmax
and the CNN default), read as predict reads them (mirror step on). Writes bench/results/outline.md.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from bench.garment_sets import EMOJI, MODEL_DIR, ROOT, SIZE, npm_install, set_paths, svg_to_png
from bench.outside_set import ICONS
from fmnist_lib import CLASSES, default_config, fit_or_load, load_fashion_mnist
from fmnist_lib.images.outline import dilate
from fmnist_lib.images.outline import label as label_regions
from fmnist_lib.images.preprocess import preprocess_image

OUT_DIR, NPM_DIR = set_paths("outline")
RESULTS = ROOT / "bench" / "results" / "outline.md"
COST_RESULTS = ROOT / "bench" / "results" / "outline_cost.md"
SHEET = Path("/tmp/outline_sheet.png")
NPM_PACKAGES = ("@phosphor-icons/core@2.1.1", "@twemoji/svg@15.0.0", "openmoji@17.0.0", "fluentui-emoji@1.3.0")
PER_CLASS = 12  # Fashion-MNIST test images traced per class
TRACE_WIDTHS = (0.015, 0.03, 0.05)  # stroke width as a fraction of SIZE
EMOJI_WIDTH = 0.025
HOLE_MIN = 0.03  # a traced garment keeps holes in its mask of at least this fraction of its area
SKETCHES = 8  # synthetic hand drawings per class

# Rough garments in a 100x100 box, each a list of strokes (polylines); drawn as a person sketches them.
HAND_TEMPLATES: dict[int, list[list[tuple[float, float]]]] = {
    0: [
        [
            (30, 10),
            (42, 8),
            (50, 16),
            (58, 8),
            (70, 10),
            (95, 30),
            (84, 44),
            (74, 36),
            (74, 92),
            (26, 92),
            (26, 36),
            (16, 44),
            (5, 30),
            (30, 10),
        ]
    ],  # fmt: skip
    1: [[(28, 4), (72, 4), (80, 96), (58, 96), (50, 30), (42, 96), (20, 96), (28, 4)]],
    2: [
        [
            (30, 8),
            (42, 6),
            (50, 12),
            (58, 6),
            (70, 8),
            (84, 20),
            (94, 88),
            (80, 90),
            (74, 40),
            (74, 94),
            (26, 94),
            (26, 40),
            (20, 90),
            (6, 88),
            (16, 20),
            (30, 8),
        ]
    ],  # fmt: skip
    3: [
        [
            (38, 4),
            (44, 4),
            (50, 10),
            (56, 4),
            (62, 4),
            (66, 28),
            (60, 40),
            (82, 96),
            (18, 96),
            (40, 40),
            (34, 28),
            (38, 4),
        ]
    ],  # fmt: skip
    4: [
        [
            (30, 6),
            (50, 14),
            (70, 6),
            (86, 16),
            (96, 94),
            (82, 96),
            (76, 44),
            (76, 96),
            (24, 96),
            (24, 44),
            (18, 96),
            (4, 94),
            (14, 16),
            (30, 6),
        ],
        [(50, 14), (50, 96)],
    ],  # fmt: skip
    5: [
        [(4, 70), (96, 70), (96, 82), (4, 82), (4, 70)],
        [(20, 70), (40, 48), (60, 70)],
        [(50, 70), (70, 40), (88, 70)],
    ],
    6: [
        [
            (30, 8),
            (40, 4),
            (50, 14),
            (60, 4),
            (70, 8),
            (86, 20),
            (94, 90),
            (80, 92),
            (74, 40),
            (74, 96),
            (26, 96),
            (26, 40),
            (20, 92),
            (6, 90),
            (14, 20),
            (30, 8),
        ],
        [(50, 14), (50, 96)],
    ],  # fmt: skip
    7: [[(4, 60), (30, 44), (50, 40), (64, 46), (92, 56), (96, 72), (4, 72), (4, 60)]],
    8: [[(8, 40), (92, 40), (88, 94), (12, 94), (8, 40)], [(30, 40), (34, 14), (66, 14), (70, 40)]],
    9: [[(40, 4), (76, 4), (74, 58), (96, 74), (96, 90), (40, 90), (40, 4)]],
}


@dataclass(frozen=True)
class Item:
    path: Path
    label: int
    source: str


def _strokes_of(mask: np.ndarray, width: int) -> Image.Image:
    """The edge of a bool mask [H, W] (its outer contour and the contours of its holes), width px wide,
    black on white."""
    eroded = ~dilate(~mask, width)
    edge = mask & ~eroded
    return Image.fromarray(np.where(edge, 0, 255).astype(np.uint8), "L")


def _fmnist_mask(px: np.ndarray) -> np.ndarray:
    """A 28x28 garment's mask at SIZE px: smooth upscale, then the garment's pixels (above a faint level)."""
    big = Image.fromarray(px, "L").resize((SIZE - 32, SIZE - 32), Image.Resampling.BICUBIC)
    canvas = np.zeros((SIZE, SIZE), dtype=np.uint8)
    canvas[16:-16, 16:-16] = np.asarray(big)
    mask = canvas > 20
    # Dark spots of its texture (a print, a shadow) are not holes a designer would draw: fill holes
    # smaller than HOLE_MIN of the garment (a bag's handle hole stays).
    holes, n = label_regions(~mask)
    sizes = np.bincount(holes.ravel(), minlength=n + 1)
    small = (sizes < HOLE_MIN * mask.sum()) & (np.arange(n + 1) > 0)
    small[np.unique(np.concatenate([holes[0], holes[-1], holes[:, 0], holes[:, -1]]))] = False
    return mask | small[holes]


def _alpha_mask(png: Path) -> np.ndarray:
    img = Image.open(png).convert("RGBA")
    return np.asarray(img)[:, :, 3] > 127


def _on_white(png: Path) -> Image.Image:
    """A transparent PNG flattened on white, in grey."""
    img = Image.open(png).convert("RGBA")
    white = Image.new("RGBA", img.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, img).convert("L")


def _sketch(strokes: list[list[tuple[float, float]]], rng: np.random.Generator) -> Image.Image:
    """One template drawn by hand: jittered points, uneven widths, the first stroke stopping a little short."""
    img = Image.new("L", (SIZE, SIZE), 255)
    d = ImageDraw.Draw(img)
    scale, off = (SIZE - 40) / 100, 20
    for k, stroke in enumerate(strokes):
        pts = np.array(stroke, dtype=float) * scale + off + rng.normal(0, 2.5, (len(stroke), 2))
        if k == 0 and len(pts) > 3:  # slightly open: the last segment ends 2-5% of the size short
            v = pts[-1] - pts[-2]
            pts[-1] = pts[-2] + v * max(0.0, 1 - rng.uniform(0.02, 0.05) * SIZE / max(np.hypot(*v), 1))
        for a, b in zip(pts[:-1], pts[1:], strict=True):
            # each segment in a few pieces of their own width, as a pen pressed unevenly
            for t0 in np.linspace(0, 1, 4)[:-1]:
                p, q = a + (b - a) * t0, a + (b - a) * (t0 + 1 / 3)
                d.line([tuple(p), tuple(q)], fill=0, width=int(rng.integers(2, 8)), joint="curve")
    return img


def build() -> list[Item]:
    """Draw every picture once into data/outline/<source>/ (kept between runs); return the set."""
    modules = npm_install(NPM_DIR, NPM_PACKAGES)
    items: list[Item] = []

    def keep(img_or_none, path: Path, label: int, source: str) -> None:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            img_or_none().save(path)
        items.append(Item(path, label, source))

    data = load_fashion_mnist(download=False)
    rng = np.random.default_rng(0)
    labels = data.test_labels.numpy()
    for c in range(10):
        for i in rng.choice(np.nonzero(labels == c)[0], PER_CLASS, replace=False):
            px = data.test_images[int(i)].numpy()
            for wf in TRACE_WIDTHS:
                width = max(1, round(wf * SIZE))
                keep(lambda px=px, width=width: _strokes_of(_fmnist_mask(px), width),
                     OUT_DIR / "fmnist" / f"{int(i)}-w{width}.png", c, "Fashion-MNIST traced")  # fmt: skip
    for name, label in ICONS:
        svg = modules / "@phosphor-icons/core/assets/regular" / f"{name}.svg"
        keep(lambda svg=svg: _render(svg), OUT_DIR / "phosphor" / f"{name}.png", label, "Phosphor (regular)")
    emoji_svgs = {
        "Twemoji": lambda cp, name: modules / "@twemoji/svg" / f"{cp}.svg",
        "OpenMoji": lambda cp, name: modules / "openmoji/color/svg" / f"{cp.upper()}.svg",
        "Fluent (flat)": lambda cp, name: modules / "fluentui-emoji/icons/flat" / f"{name}.svg",
    }
    width = round(EMOJI_WIDTH * SIZE)
    for source, svg_of in emoji_svgs.items():
        for cp, name, label in EMOJI:
            folder = OUT_DIR / "emoji-traced" / source.lower().replace(" ", "-").replace("(", "").replace(")", "")
            svg = svg_of(cp, name)
            keep(lambda svg=svg: _strokes_of(_alpha_mask_of(svg), width),
                 folder / f"{name}.png", label, "emoji traced")  # fmt: skip
    lines = {
        "OpenMoji (black)": lambda cp, name: modules / "openmoji/black/svg" / f"{cp.upper()}.svg",
        "Fluent (high contrast)": lambda cp, name: modules / "fluentui-emoji/icons/high-contrast" / f"{name}.svg",
    }
    for source, svg_of in lines.items():
        for cp, name, label in EMOJI:
            folder = OUT_DIR / source.lower().replace(" ", "-").replace("(", "").replace(")", "")
            svg = svg_of(cp, name)
            keep(lambda svg=svg: _render(svg), folder / f"{name}.png", label, "emoji line sets")
    rng = np.random.default_rng(0)
    for c, strokes in HAND_TEMPLATES.items():
        for k in range(SKETCHES):
            sub = np.random.default_rng([0, c, k])  # one stream per drawing: the same set whatever is cached
            keep(lambda sub=sub, strokes=strokes: _sketch(strokes, sub),
                 OUT_DIR / "hand" / f"{c}-{k}.png", c, "hand-drawn (synthetic)")  # fmt: skip
    return items


def _render(svg: Path) -> Image.Image:
    tmp = OUT_DIR / "tmp.png"
    svg_to_png(svg.read_bytes(), tmp, SIZE)
    return _on_white(tmp)


def _alpha_mask_of(svg: Path) -> np.ndarray:
    tmp = OUT_DIR / "tmp.png"
    svg_to_png(svg.read_bytes(), tmp, SIZE)
    mask = _alpha_mask(tmp)
    pad = np.zeros((SIZE + 32, SIZE + 32), dtype=bool)  # room around it, so its edge is not the image's
    pad[16:-16, 16:-16] = mask
    return pad


def contact_sheet(items: list[Item], path: Path = SHEET, per_row: int = 16, cell: int = 64) -> None:
    rows = (len(items) + per_row - 1) // per_row
    sheet = Image.new("L", (per_row * cell, rows * cell), 128)
    for i, it in enumerate(items):
        sheet.paste(
            Image.open(it.path).convert("L").resize((cell - 2, cell - 2)), ((i % per_row) * cell, (i // per_row) * cell)
        )
    sheet.save(path)


MODELS = {"tutorial's softmax": default_config("softmax"), "CNN default": default_config("cnn")}


def inputs(items: list[Item], fill_outlines: bool) -> torch.Tensor:
    """The 28x28 uint8 inputs [N, 28, 28] of our pipeline, as predict makes them."""
    return torch.stack(
        [torch.from_numpy(preprocess_image(it.path, fill_outlines=fill_outlines).pixels) for it in items]
    )


def _answers(clf, x: torch.Tensor) -> torch.Tensor:
    return clf.predict(x, mirror=True).probs.argmax(1)  # predict's path: the mirror step on


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", action="store_true", help="only build the set and draw a contact sheet")
    p.add_argument("--cost", type=int, default=0, help="instead: the step's cost on N Fashion-MNIST test "
                   f"images and N renders per photo variant (writes {COST_RESULTS.name})")  # fmt: skip
    p.add_argument("--jobs", type=int, default=2, help="processes rendering and preprocessing for --cost")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    if args.cost:
        return main_cost(args.cost, args.jobs, t0)
    items = build()
    contact_sheet(items)
    sources: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        sources.setdefault(it.source, []).append(i)
    print(f"{len(items)} images: " + ", ".join(f"{s} {len(v)}" for s, v in sources.items()), f"(sheet: {SHEET})")
    if args.build:
        return 0
    data = load_fashion_mnist(download=False)
    runs = {name: fit_or_load(c, data, MODEL_DIR, test_every_epoch=False).run for name, c in MODELS.items()}
    y = torch.tensor([it.label for it in items])
    x = {True: inputs(items, True), False: inputs(items, False)}
    fired = sum(
        any(s.name == "Filled outline" for s in preprocess_image(it.path).stages) for it in items
    )  # how often the step recognised an outline
    answers = {(m, f): _answers(r.classifier(), x[f]) for m, r in runs.items() for f in (False, True)}

    def acc(a: torch.Tensor, idx=None) -> float:
        sel = slice(None) if idx is None else torch.as_tensor(idx)
        return float((a[sel] == y[sel]).float().mean())

    lines = [
        "# Outline drawings: the two default models with and without the fill step (bench/outline_set.py)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')}. {len(items)} outline drawings, black strokes on white: "
        + ", ".join(f"{s} {len(v)}" for s, v in sources.items())
        + f". The fill step recognised {fired} of them as outlines. Top-1 through our pipeline and the mirror "
        "step, as `python -m fmnist_lib predict` reads an image.",
        "",
        "| model | fill step | all | " + " | ".join(sources) + " | most frequent answer (share) |",
        "|---|---|---:|" + "---:|" * len(sources) + "---|",
    ]
    for (m, f), a in answers.items():
        top = torch.bincount(a, minlength=10)
        share = f"{CLASSES[int(top.argmax())]} ({float(top.max()) / len(a):.0%})"
        cells = " | ".join(f"{acc(a, v):.0%}" for v in sources.values())
        on = "**on**" if f else "off"
        lines.append(f"| {m} | {on} | {'**' if f else ''}{acc(a):.1%}{'**' if f else ''} | {cells} | {share} |")
    lines += ["", "Per class (top-1; answers given to the class in brackets):", ""]
    lines += ["| class | n | " + " | ".join(f"{m}, fill {'on' if f else 'off'}" for m, f in answers) + " |"]
    lines += ["|---|---:|" + "---:|" * len(answers)]
    for c in range(10):
        idx = torch.nonzero(y == c).flatten().tolist()
        cells = " | ".join(f"{acc(a, idx):.0%} ({int((a == c).sum())})" for a in answers.values())
        lines.append(f"| {CLASSES[c]} | {len(idx)} | {cells} |")
    lines += ["", f"The step's cost on photos: [{COST_RESULTS.name}]({COST_RESULTS.name}) (`--cost N`)."]
    lines += ["", f"({time.perf_counter() - t0:.0f} s)", ""]
    text = "\n".join(lines)
    RESULTS.write_text(text)
    print(text)
    return 0


def main_cost(n: int, jobs: int, t0: float) -> int:
    """--cost: the fill step on and off over photos and Fashion-MNIST's own images; writes COST_RESULTS."""
    data = load_fashion_mnist(download=False)
    runs = {name: fit_or_load(c, data, MODEL_DIR, test_every_epoch=False).run for name, c in MODELS.items()}
    load = os.getloadavg()[0]
    lines = [
        "# The fill step on photos: accuracy with and without it (bench/outline_set.py --cost)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} (`--cost {n} --jobs {jobs}`; load average {load:.1f} at the "
        "start, the cores shared with other work). Top-1 of the two default models through our pipeline and the "
        "mirror step, as `predict` reads an image. Where the step does not fire it returns the garment untouched, "
        f"so the pipeline's output is the same bit for bit: it is run without the step only where it fired and on "
        f"the first {CHECKED} images of each set, which are checked to come out identical.",
        "",
        *cost(n, data, runs, jobs),
    ]
    lines += ["", f"({time.perf_counter() - t0:.0f} s)", ""]
    COST_RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


FMNIST_ON_WHITE = "Fashion-MNIST test images on white (10x)"
CHECKED = 20  # per render set: images also run with the step off, to check they come out bit for bit the same


def _render(job) -> bytes:
    """One test image as a file: on white, or as a photo variant (photo_variants' renders, its seeds)."""
    from bench.photo_variants import VARIANTS
    from tests.support.images import on_white

    name, vi, index, px = job[:4]
    if name == FMNIST_ON_WHITE:
        return on_white(px, 10)
    return VARIANTS[name][1](px, np.random.default_rng([0, vi, index]))


def _with_and_without(job) -> tuple[np.ndarray, np.ndarray, bool]:
    """(28x28 with the fill step, without it, whether it fired). Where the step does not fire it returns
    the garment untouched, so the pipeline's output is the same: run without it only where it fired, and
    on the first CHECKED images of each set, to check that."""
    data = _render(job)
    on = preprocess_image(data)
    fired = any(s.name == "Filled outline" for s in on.stages)
    if not fired and job[4] >= CHECKED:
        return on.pixels, on.pixels, False
    off = preprocess_image(data, fill_outlines=False).pixels
    if not fired and not np.array_equal(off, on.pixels):
        raise AssertionError(f"{job[0]} #{job[2]}: the step did not fire, yet the 28x28 differs")
    return on.pixels, off, fired


def _worker_init() -> None:
    torch.set_num_threads(1)


def cost(n: int, data, runs, jobs: int) -> list[str]:
    """Fashion-MNIST test images on white and every photo variant, with and without the fill step.

    The same n test images as `python -m bench.photo_variants --n n --seed 0` and the same renders (each
    image's own random stream), in `jobs` processes.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from bench.photo_variants import VARIANTS

    idx = np.sort(np.random.default_rng(0).choice(len(data.test_labels), n, replace=False))
    y = data.test_labels[idx]
    sets = {FMNIST_ON_WHITE: -1, **{name: vi for vi, name in enumerate(VARIANTS)}}
    lines = [
        f"## The step's cost: {n} Fashion-MNIST test images (seed 0) as they are and as each photo variant "
        "(bench/photo_variants.py's renders, same seeds and sample)",
        "",
        "| images | step fired | " + " | ".join(f"{m}: off → on" for m in runs) + " |",
        "|---|---:|" + "---:|" * len(runs),
    ]
    ctx = multiprocessing.get_context("spawn")  # torch is loaded here: fresh workers, not forks
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init) as pool:
        for name, vi in sets.items():
            t = time.perf_counter()
            work = [(name, vi, int(i), data.test_images[int(i)].numpy(), k) for k, i in enumerate(idx)]
            done = list(pool.map(_with_and_without, work, chunksize=8))
            on = torch.stack([torch.from_numpy(d[0]) for d in done])
            off = torch.stack([torch.from_numpy(d[1]) for d in done])
            fired = sum(d[2] for d in done)
            cells = []
            for r in runs.values():
                clf = r.classifier()
                a_off = float((_answers(clf, off) == y).float().mean())
                a_on = float((_answers(clf, on) == y).float().mean())
                cells.append(f"{a_off:.1%} → {a_on:.1%} ({100 * (a_on - a_off):+.1f})")
            lines.append(f"| {name} | {fired} | " + " | ".join(cells) + " |")
            print(lines[-1], f"({time.perf_counter() - t:.0f} s)", flush=True)
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
