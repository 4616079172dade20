"""The garment pictures the outside set and the tuning set share: Fashion-MNIST's class of each emoji code
point, and how both builders fetch npm packages and render SVGs (so their PNGs are the same, byte for byte).

bench/outside_set.py and bench/tuning_set.py both import this; neither imports the other's builder.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SIZE = 256  # every SVG is rendered as a SIZE x SIZE transparent PNG
ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "data" / "models"  # the default models the set builders load (trained once, fit_or_load)


def set_paths(name: str) -> tuple[Path, Path]:
    """Where a garment set builds its pictures (data/NAME, git-ignored) and fetches its npm packages."""
    out = ROOT / "data" / name
    return out, out / "npm"


T, TROUSER, DRESS, COAT, SANDAL, SNEAKER, BAG, BOOT = 0, 1, 3, 4, 5, 7, 8, 9
# Fluent's emoji of each class: (code point, Fluent's file name), in class order.
EMOJI_OF_CLASS = {
    T: (("1f455", "t-shirt"), ("1f3bd", "running-shirt")),  # running-shirt, a tank top: Fashion-MNIST's "T-shirt/top"
    TROUSER: (("1f456", "jeans"),),
    DRESS: (("1f457", "dress"),),
    COAT: (("1f9e5", "coat"), ("1f97c", "lab-coat")),
    SANDAL: (("1f461", "womans-sandal"), ("1fa74", "thong-sandal")),
    SNEAKER: (("1f45f", "running-shoe"),),
    BAG: (("1f45c", "handbag"), ("1f45b", "purse"), ("1f45d", "clutch-bag")),
    BOOT: (("1f462", "womans-boot"), ("1f97e", "hiking-boot")),
}
# (code point, Fluent's file name, Fashion-MNIST class), class by class: the order the sets are built in
EMOJI = tuple((cp, name, label) for label, emoji in EMOJI_OF_CLASS.items() for cp, name in emoji)


@dataclass(frozen=True)
class Item:
    path: Path
    label: int
    source: str


def npm_install(folder: Path, packages: tuple[str, ...]) -> Path:
    """npm-install the pinned packages into folder when any is missing; return its node_modules."""
    modules = folder / "node_modules"
    if not all((modules / p.rsplit("@", 1)[0]).is_dir() for p in packages):
        if shutil.which("npm") is None:
            raise SystemExit("npm is needed to fetch the emoji and icon packages (Debian's npm).")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text(f'{{"name": "{folder.parent.name}-set", "private": true}}\n')
        cmd = ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact", *packages]
        subprocess.run(cmd, cwd=folder, check=True)
    return modules


def has_rsvg() -> bool:
    return shutil.which("rsvg-convert") is not None


def svg_to_png(svg: bytes, png: Path, size: int = SIZE) -> None:
    """An SVG document rendered as a size x size transparent PNG (rsvg-convert keeps its aspect ratio)."""
    cmd = ["rsvg-convert", "-w", str(size), "-h", str(size), "-a", "-f", "png", "-o", str(png)]
    subprocess.run(cmd, input=svg, check=True)
