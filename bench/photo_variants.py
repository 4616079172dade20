"""Accuracy on Fashion-MNIST test images rendered as product photos, per variant and pipeline.

    .venv/bin/python -m bench.photo_variants [--n 3000] [--seed 0] [--jobs 2] [--no-cnn]

Renders the same seeded sample of test images as photo-like files (random scale
6-15x and placement with margins; white, grey and gradient backgrounds with a
soft shadow; tinted garments; camera noise; JPEG at qualities 40-95; transparent
PNGs; EXIF-rotated phone JPEGs; garments at slight angles), runs every pipeline
on the encoded bytes and reports the accuracy beside the clean accuracy of the
same model on the same images. Writes bench/results/photo_variants.md. Every
image has its own random stream (seed, variant, test index), so the renders do
not depend on how the work is split between the --jobs processes.

The pipeline's settings (e.g. how a garment lying at an angle is straightened)
were chosen on renders from other seeds of this renderer (--seed 1 and 2), never
on the default seed 0 that the reported table uses.

Pipelines:
  * "tutorial (as written)": the tutorial's section-9 function verbatim, its
    mean/std-normalised tensor fed straight to the model (which for softmax was
    trained on [0, 1] pixels: the mismatch is part of what is measured);
  * "tutorial steps, our scaling": preprocess_image(..., "tutorial") through Classifier;
  * "ours": preprocess_image(..., "ours") through Classifier;
  * "ours, mirror-aware": the same, then the mirror step the Upload page takes by default
    (Classifier.predict(..., mirror=True): for the tutorial's softmax the garment read facing
    Fashion-MNIST's way, for a model trained on mirror images both views averaged).

Models: the tutorial's softmax (default_config("softmax"), ~1 s to train) and the
small CNN (default_config("cnn"), trained with mirror augmentation; also with mirror, shift and
rescale, and without augmentation);
each trained once and kept in data/models (model_cache.fit_or_load), reused when present.
"""

from __future__ import annotations

import argparse
import io
import math
import multiprocessing
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, ImageStat

from fmnist_lib import (
    TrainingRun,
    default_config,
    fit_or_load,
    load_fashion_mnist,
)
from fmnist_lib.images.decode import ImageError
from fmnist_lib.images.preprocess import preprocess_image
from tests.support.images import encode, exif_jpeg, render_photo

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "photo_variants.md"
MODEL_DIR = ROOT / "data" / "models"


# ---------------------------------------------------------------------------------------------
# The variants: each renders with tests/support/images.render_photo and encodes its own way
# ---------------------------------------------------------------------------------------------


def variant_white_png(px, rng):
    rgb, _ = render_photo(px, rng, background="white")
    return encode(Image.fromarray(rgb), "PNG")


def variant_grey_jpeg(px, rng):
    rgb, _ = render_photo(px, rng, background="grey")
    return encode(Image.fromarray(rgb), "JPEG", quality=int(rng.integers(40, 96)))


def variant_gradient_jpeg(px, rng):
    rgb, _ = render_photo(px, rng, background="gradient")
    return encode(Image.fromarray(rgb), "JPEG", quality=int(rng.integers(40, 96)))


def variant_low_quality_jpeg(px, rng):
    rgb, _ = render_photo(px, rng, background=str(rng.choice(["white", "grey", "gradient"])))
    return encode(Image.fromarray(rgb), "JPEG", quality=int(rng.integers(40, 56)))


def variant_transparent_png(px, rng):
    rgb, alpha = render_photo(px, rng, background="white", shadow=False)
    rgba = np.dstack([rgb, alpha])
    rgba[alpha == 0, :3] = 0  # what many editors store under full transparency: black
    return encode(Image.fromarray(rgba, "RGBA"), "PNG")


def variant_exif_phone(px, rng):
    rgb, _ = render_photo(px, rng, background=str(rng.choice(["white", "grey", "gradient"])), scale_range=(30, 45))
    quality = int(rng.integers(70, 96))
    return exif_jpeg(Image.fromarray(rgb), int(rng.choice([3, 6, 8])), quality, make="BenchPhone")


def variant_slight_angle(px, rng):
    rgb, _ = render_photo(px, rng, background=str(rng.choice(["white", "grey"])), angle=float(rng.uniform(-8, 8)))
    return encode(Image.fromarray(rgb), "JPEG", quality=int(rng.integers(60, 96)))


def variant_mixed(px, rng):
    """Everything at once: any background, shadow or not, angle up to 8 degrees, JPEG 40-95 or PNG."""
    rgb, _ = render_photo(
        px,
        rng,
        background=str(rng.choice(["white", "grey", "gradient"])),
        angle=float(rng.uniform(-8, 8)) if rng.random() < 0.5 else 0.0,
        shadow=bool(rng.random() < 0.7),
    )
    img = Image.fromarray(rgb)
    if rng.random() < 0.3:
        return encode(img, "PNG")
    return encode(img, "JPEG", quality=int(rng.integers(40, 96)))


VARIANTS: dict[str, tuple[str, Callable]] = {
    "white-png": ("white background, soft shadow, PNG", variant_white_png),
    "grey-jpeg": ("grey background, JPEG q40-95", variant_grey_jpeg),
    "gradient-jpeg": ("gradient background (uneven light), JPEG q40-95", variant_gradient_jpeg),
    "jpeg-q40-55": ("any background, JPEG q40-55", variant_low_quality_jpeg),
    "transparent-png": ("transparent PNG (RGBA, black under transparency)", variant_transparent_png),
    "exif-phone": ("EXIF-rotated phone JPEG (~1000-1600 px)", variant_exif_phone),
    "slight-angle": ("garment at -8 to 8 degrees, JPEG", variant_slight_angle),
    "mixed": ("all of the above mixed", variant_mixed),
}


# ---------------------------------------------------------------------------------------------
# The tutorial's section 9, verbatim (only the path became a file object)
# ---------------------------------------------------------------------------------------------


def tutorial_preprocess_to_fmnist(path):
    img = Image.open(path).convert("L")  # Grayscale
    # Invert if background is bright
    mean_val = ImageStat.Stat(img).mean[0] / 255.0
    if mean_val > 0.5:
        img = ImageOps.invert(img)

    # Auto-contrast
    img = ImageOps.autocontrast(img)

    # Resize with aspect ratio preserved: longest side = 20px, center on 28×28 black background
    max_side = 20
    w, h = img.size
    scale = max_side / max(w, h)
    new_w, new_h = max(1, int(w * scale)), max(1, int(h * scale))
    img_small = img.resize((new_w, new_h), resample=Image.BILINEAR)

    canvas = Image.new("L", (28, 28), 0)
    left = (28 - new_w) // 2
    top = (28 - new_h) // 2
    canvas.paste(img_small, (left, top))

    # Convert to tensor and normalize using FMNIST stats
    x = torch.from_numpy(np.array(canvas)).float() / 255.0
    mean, std = 0.2860, 0.3530
    x = (x - mean) / std
    x = x.unsqueeze(0).unsqueeze(0)  # [1,1,28,28]
    return canvas, x


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


MODEL_TITLES = {
    "softmax": "Softmax regression (the tutorial's model and settings)",
    "cnn": "Small CNN (its default: trained on mirror images too)",
    "cnn-shift": "Small CNN, its default with mirror, shift and rescale augmentation",
    "cnn-no-aug": "Small CNN, its default without augmentation",
}


def train_models(data, with_cnn: bool) -> dict[str, TrainingRun]:
    """The models, each trained once and kept in data/models (fit_or_load), loaded on later runs."""
    configs = {"softmax": default_config("softmax")}
    if with_cnn:
        configs["cnn"] = default_config("cnn")
        configs["cnn-shift"] = default_config("cnn", augment="mirror+shift")
        configs["cnn-no-aug"] = default_config("cnn", augment="off")
    runs = {}
    for name, config in configs.items():
        t = time.perf_counter()
        run, path, trained_now = fit_or_load(config, data, MODEL_DIR, test_every_epoch=False)
        how = f"trained in {time.perf_counter() - t:.0f} s" if trained_now else f"loaded from {path.name}"
        print(f"{name}: {how}, clean test accuracy {run.test_acc:.4f}", flush=True)
        runs[name] = run
    return runs


PIPELINE_NAMES = ("tutorial (as written)", "tutorial steps, our scaling", "ours")
MIRROR_AWARE = "ours, mirror-aware"  # as the Upload page predicts by default (Classifier.view_weights)
COLUMNS = (*PIPELINE_NAMES, MIRROR_AWARE)


def _worker_init() -> None:
    torch.set_num_threads(1)


def render_and_preprocess(job) -> tuple[torch.Tensor, np.ndarray, np.ndarray, float, str | None]:
    """Render one test image as the variant's photo file and run every pipeline on its bytes.

    Each image has its own random stream, seeded by (seed, variant number, test index), so a
    render does not depend on which process made it or on the other images in the sample.
    Returns (the tutorial's tensor as written, tutorial-steps pixels, our pixels, our seconds, error,
    whether ours straightened it).
    """
    name, seed, vi, index, px = job
    data = VARIANTS[name][1](px, np.random.default_rng([seed, vi, index]))
    _, x = tutorial_preprocess_to_fmnist(io.BytesIO(data))
    steps = preprocess_image(data, "tutorial").pixels
    t = time.perf_counter()
    error, turned = None, False
    try:
        pre = preprocess_image(data, "ours")
        ours, turned = pre.pixels, any(s.name == "Straightened" for s in pre.stages)
    except ImageError as e:
        error = str(e)
        ours = np.zeros((28, 28), np.uint8)
    return x, steps, ours, time.perf_counter() - t, error, turned


def score_variant(done: list, labels: np.ndarray, runs: dict[str, TrainingRun]) -> dict:
    """Accuracy of every (model, pipeline) on one variant's preprocessed images, plus timings and failures."""
    tut_written = [d[0] for d in done]
    tut_steps = [d[1] for d in done]
    ours = [d[2] for d in done]
    errors = [d[4] for d in done if d[4] is not None]
    for e in errors:
        print("  ImageError:", e)
    y = torch.as_tensor(labels)
    out = {
        "errors": len(errors),
        "ms_per_image": 1000 * sum(d[3] for d in done) / len(done),
        "turned": sum(d[5] for d in done) / len(done),  # share of renders our pipeline straightened
    }
    for kind, run in runs.items():
        clf = run.classifier()
        model = run.model.eval()
        with torch.no_grad():
            written_pred = model(torch.cat(tut_written)).argmax(1)
        out[(kind, PIPELINE_NAMES[0])] = float((written_pred == y).float().mean())
        out[(kind, PIPELINE_NAMES[1])] = clf.accuracy(np.stack(tut_steps), y)
        out[(kind, PIPELINE_NAMES[2])] = clf.accuracy(np.stack(ours), y)
        mirror_aware = clf.predict(np.stack(ours), mirror=True).probs.argmax(1)
        out[(kind, MIRROR_AWARE)] = float((mirror_aware == y).float().mean())
    return out


def time_large_photo(data) -> tuple[float, tuple[int, int]]:
    """Seconds for our pipeline on a 12 MP (4000x3000) JPEG photo, best of 3."""
    rng = np.random.default_rng(123)
    rgb, _ = render_photo(data.test_images[0].numpy(), rng, background="gradient", scale_range=(100, 100))
    img = Image.fromarray(rgb).resize((4000, 3000), Image.Resampling.BILINEAR)
    jpeg = encode(img, "JPEG", quality=90)
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        preprocess_image(jpeg, "ours")
        best = min(best, time.perf_counter() - t)
    return best, img.size


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--n", type=int, default=3000, help="images per variant (default 3000: about half an hour in 2 processes)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-cnn", action="store_true", help="softmax only (skips the CNN's ~80 s of training)")
    ap.add_argument("--jobs", type=int, default=2, help="processes rendering and preprocessing (default 2)")
    ap.add_argument("--variants", nargs="*", choices=list(VARIANTS), help="default: all")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results/photo_variants.md")
    args = ap.parse_args(argv)

    data = load_fashion_mnist()
    runs = train_models(data, with_cnn=not args.no_cnn)
    rng = np.random.default_rng(args.seed)
    idx = np.sort(rng.choice(len(data.test_labels), size=args.n, replace=False))
    images = data.test_images[idx].numpy()
    labels = data.test_labels[idx].numpy()
    clean = {k: r.classifier().accuracy(torch.as_tensor(images), torch.as_tensor(labels)) for k, r in runs.items()}
    full = {
        k: r.test_acc if r.test_acc is not None else r.classifier().accuracy(data.test_images, data.test_labels)
        for k, r in runs.items()
    }

    start = time.perf_counter()
    results = {}
    ctx = multiprocessing.get_context("spawn")  # torch is loaded here: fresh workers, not forks
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx, initializer=_worker_init) as pool:
        for vi, name in enumerate(VARIANTS):
            if args.variants and name not in args.variants:
                continue
            t = time.perf_counter()
            jobs = [(name, args.seed, vi, int(i), px) for i, px in zip(idx, images, strict=True)]
            done = list(pool.map(render_and_preprocess, jobs, chunksize=8))
            results[name] = score_variant(done, labels, runs)
            r = results[name]
            accs = "  ".join(
                f"{k}/{p.split(' ')[0][:4]}{'*' if 'as' in p else ''}={r[(k, p)]:.3f}"
                for k in runs
                for p in PIPELINE_NAMES
            )
            print(
                f"{name:16s} {time.perf_counter() - t:5.1f}s  ours {r['ms_per_image']:.1f} ms/img  turned {r['turned']:.1%}  {accs}",
                flush=True,
            )
    bench_s = time.perf_counter() - start
    large_s, large_size = time_large_photo(data)
    print(f"12 MP JPEG through 'ours': {large_s * 1000:.0f} ms; variants took {bench_s:.0f} s")

    if not args.no_write:
        write_report(args, runs, clean, full, results, large_s, large_size, bench_s)
    return 0


def write_report(args, runs, clean, full, results, large_s, large_size, bench_s) -> None:
    lines = [
        "# Photo-like renders of Fashion-MNIST test images: accuracy per variant",
        "",
        f"Written by `python -m bench.photo_variants --n {args.n} --seed {args.seed} --jobs {args.jobs}` "
        f"({platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}).",
        f"The same {args.n} test images (seeded sample) are rendered for every variant; "
        'see the module docstring for the rendering and the three pipelines. "Ours, mirror-aware" is what '
        "the Upload page shows by default: our pipeline, then the mirror step (Classifier.predict(mirror=True): "
        "the garment read facing Fashion-MNIST's way by a model never shown a mirror image, both views "
        "averaged by one trained on mirror images).",
        "The pipeline's settings were chosen on renders from other seeds of the same renderer (1 and 2), "
        "not on seed 0, the default reported here.",
        "",
    ]
    for kind in runs:
        title = MODEL_TITLES[kind]
        lines += [
            f"## {title}",
            "",
            f"Clean accuracy: {clean[kind]:.1%} on these {args.n} images ({full[kind]:.1%} on all 10,000).",
            "",
            "| variant | " + " | ".join(COLUMNS) + " | mirror-aware − clean |",
            "|---|" + "---:|" * (len(COLUMNS) + 1),
        ]
        for name, r in results.items():
            cells = [f"{r[(kind, p)]:.1%}" for p in COLUMNS]
            gap = (r[(kind, MIRROR_AWARE)] - clean[kind]) * 100
            lines.append(f"| {VARIANTS[name][0]} | " + " | ".join(cells) + f" | {gap:+.1f} pts |")
        lines.append("")
    lines += [
        "## Speed",
        "",
        f"* Our pipeline on a {large_size[0]}×{large_size[1]} ({large_size[0] * large_size[1] / 1e6:.0f} MP) JPEG: "
        f"{large_s * 1000:.0f} ms (best of 3; decoded reduced with `Image.draft`).",
        "* Mean per rendered photo (decode + all steps): "
        + ", ".join(f"{n} {r['ms_per_image']:.0f} ms" for n, r in results.items())
        + ".",
        f"* Rendering and running all variants took {bench_s:.0f} s in {args.jobs} processes (excluding training).",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    raise SystemExit(main())
