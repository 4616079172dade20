"""A tuning set: garment emoji and icons from design teams that are not in the outside set.

    .venv/bin/python -m bench.tuning_set      # build the set (cached) into data/tuning/, list it, draw a contact sheet

The outside set (bench/outside_set.py: Noto, Twemoji, OpenMoji, Fluent, Phosphor) is only ever
reported, never tuned on. Image preprocessing choices (cropping, padding, inversion, thresholds)
that need pictures unlike Fashion-MNIST's are made on this set instead, drawn by other teams:

| source | package (installed by this script when missing) | licence |
|---|---|---|
| Apple's emoji | npm `emoji-datasource-apple@16.0.0` (64x64 PNGs, the largest single files it ships) | package MIT; images (c) Apple, not licensed for commercial use |
| Facebook's emoji | npm `emoji-datasource-facebook@16.0.0` (64x64 PNGs) | package MIT; images (c) Facebook, no clear licence |
| EmojiOne 2 (as kept by Emojitwo) | npm `@iconify-json/emojione@1.2.3` | CC-BY 4.0 |
| EmojiOne 1 | npm `@iconify-json/emojione-v1@1.2.3` | CC-BY-SA 4.0 |
| Mozilla's FxEmoji (Firefox OS) | npm `@iconify-json/fxemoji@1.2.2` | CC-BY 4.0 (artwork), Apache 2.0 (code) |
| Streamline Emojis | npm `@iconify-json/streamline-emojis@1.2.4` | CC-BY 4.0 |
| Material Design Icons (Pictogrammers) | npm `@mdi/svg@7.4.47` | Apache 2.0 |
| Font Awesome Free, solid | npm `@fortawesome/fontawesome-free@7.3.1` | CC-BY 4.0 (icons) |
| Game-icons.net | npm `@iconify-json/game-icons@1.2.4` | CC-BY 3.0 |

Nothing here is committed: the images are built into data/tuning/ (git-ignored) from the packages,
for local use only. SVGs (and Iconify JSON icons, wrapped as SVGs) are rendered with `rsvg-convert`
(Debian `librsvg2-bin`) as 256x256 transparent PNGs; Apple's and Facebook's PNGs are copied as they are.
Emoji sets use garment_sets.EMOJI's code points (the sets drawn before 2017 lack the newer ones:
coat, lab coat, thong sandal, hiking boot). Icons are mapped to a Fashion-MNIST class by their
names (and the package's own aliases), decided before any model saw them (tables below); names that
fit no class or two (high heels, ballet shoes, suitcases, hangers) are left out. Not looked for:
Tossface (not on npm), JoyPixels/EmojiOne 3+ (`emojione-assets`, a licence of its own).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bench.garment_sets import BAG, BOOT, COAT, DRESS, EMOJI, SANDAL, SNEAKER, TROUSER, Item, T, npm_install, svg_to_png
from fmnist_lib import CLASSES

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "data" / "tuning"
SHEET = Path("/tmp/tuning_sheet.png")
NPM_PACKAGES = (
    "emoji-datasource-apple@16.0.0",
    "emoji-datasource-facebook@16.0.0",
    "@iconify-json/emojione@1.2.3",
    "@iconify-json/emojione-v1@1.2.3",
    "@iconify-json/fxemoji@1.2.2",
    "@iconify-json/streamline-emojis@1.2.4",
    "@mdi/svg@7.4.47",
    "@fortawesome/fontawesome-free@7.3.1",
    "@iconify-json/game-icons@1.2.4",
)
PULLOVER, SHIRT = 2, 6

# Iconify emoji sets: source -> package folder. EmojiOne and Streamline name their icons as
# Fluent's file names in EMOJI; FxEmoji has names of its own (code point -> name, from its
# files u1F455-mansshirt.svg, ...; it has no running shoe, purse or clutch).
EMOJI_SETS = {
    "EmojiOne 2": "emojione",
    "EmojiOne 1": "emojione-v1",
    "Streamline Emojis": "streamline-emojis",
    "FxEmoji": "fxemoji",
}
FXEMOJI_NAMES = {
    "1f455": "mansshirt",
    "1f3bd": "runningshirt",
    "1f456": "jeans",
    "1f457": "dress",
    "1f461": "sandals",
    "1f45c": "handbag",
    "1f462": "boot",
}
# Material Design Icons, filled (not the -outline variants).
MDI_ICONS = (
    ("tshirt-crew", T),
    ("tshirt-v", T),
    ("shoe-sneaker", SNEAKER),
    ("purse", BAG),
    ("bag-personal", BAG),  # alias "backpack"
)
# Font Awesome Free, solid.
FA_ICONS = (
    ("shirt", T),  # aliases t-shirt, tshirt; code point 1f455
    ("bag-shopping", BAG),
)
# Game-icons.net, filled silhouettes. "shirt" next to the set's own "t-shirt" is a shirt.
GAME_ICONS = (
    ("t-shirt", T),
    ("tank-top", T),
    ("sleeveless-top", T),
    ("polo-shirt", T),  # Zalando files polos with T-shirts
    ("trousers", TROUSER),
    ("hoodie", PULLOVER),
    ("dress", DRESS),
    ("ample-dress", DRESS),
    ("large-dress", DRESS),
    ("lab-coat", COAT),
    ("moncler-jacket", COAT),
    ("sandal", SANDAL),
    ("shirt", SHIRT),
    ("running-shoe", SNEAKER),
    ("converse-shoe", SNEAKER),
    ("hand-bag", BAG),
    ("shoulder-bag", BAG),
    ("shiny-purse", BAG),
    ("backpack", BAG),
    ("boots", BOOT),
    ("chelsea-boot", BOOT),
    ("walking-boot", BOOT),
    ("leather-boot", BOOT),
)


def install(npm_dir: Path) -> Path:
    """npm-install the packages into npm_dir when any is missing; return its node_modules."""
    if shutil.which("rsvg-convert") is None:
        raise SystemExit("Install Debian's librsvg2-bin first: apt-get install librsvg2-bin")
    return npm_install(npm_dir, NPM_PACKAGES)


def iconify_svg(icon_set: dict, name: str) -> bytes:
    """One icon of an Iconify JSON set as a standalone SVG."""
    icon = icon_set["icons"][name]
    box = [icon.get(k, icon_set.get(k, d)) for k, d in (("left", 0), ("top", 0), ("width", 16), ("height", 16))]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'viewBox="{" ".join(map(str, box))}">{icon["body"]}</svg>'
    ).encode()


def _folder(out_dir: Path, source: str) -> Path:
    folder = out_dir / source.lower().replace(" ", "-").replace(".", "")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def build(out_dir: Path = OUT_DIR) -> list[Item]:
    """Make every picture once into out_dir/<source>/ (kept between runs); return the set."""
    modules = install(out_dir / "npm")
    items = []
    for source, vendor in (("Apple", "apple"), ("Facebook", "facebook")):
        folder = _folder(out_dir, source)
        for cp, name, label in EMOJI:
            png = folder / f"{name}.png"
            if not png.exists():
                shutil.copyfile(modules / f"emoji-datasource-{vendor}/img/{vendor}/64/{cp}.png", png)
            items.append(Item(png, label, source))
    for source, package in EMOJI_SETS.items():
        icon_set = json.loads((modules / "@iconify-json" / package / "icons.json").read_text())
        folder = _folder(out_dir, source)
        for cp, name, label in EMOJI:
            own_name = FXEMOJI_NAMES.get(cp) if package == "fxemoji" else name
            if own_name not in icon_set["icons"]:
                continue
            png = folder / f"{name}.png"
            if not png.exists():
                svg_to_png(iconify_svg(icon_set, own_name), png)
            items.append(Item(png, label, source))
    svg_icons = (
        ("Material Design Icons", modules / "@mdi/svg/svg", MDI_ICONS),
        ("Font Awesome (solid)", modules / "@fortawesome/fontawesome-free/svgs/solid", FA_ICONS),
    )
    for source, svg_dir, table in svg_icons:
        folder = _folder(out_dir, source.replace("(", "").replace(")", ""))
        for name, label in table:
            png = folder / f"{name}.png"
            if not png.exists():
                svg_to_png((svg_dir / f"{name}.svg").read_bytes(), png)
            items.append(Item(png, label, source))
    icon_set = json.loads((modules / "@iconify-json/game-icons/icons.json").read_text())
    folder = _folder(out_dir, "Game-icons")
    for name, label in GAME_ICONS:
        png = folder / f"{name}.png"
        if not png.exists():
            svg_to_png(iconify_svg(icon_set, name), png)
        items.append(Item(png, label, "Game-icons.net"))
    return items


def contact_sheet(items: list[Item], path: Path, cell: int = 64, per_row: int = 12) -> None:
    """Each picture on white, scaled to fit cell x cell, its class beneath; a row of headers per source."""
    font = ImageFont.load_default()
    pad, text_h = 6, 14
    rows: list[str | list[Item]] = []
    for source in dict.fromkeys(it.source for it in items):
        group = [it for it in items if it.source == source]
        rows.append(source)
        rows += [group[i : i + per_row] for i in range(0, len(group), per_row)]
    width = per_row * (cell + pad) + pad
    height = sum(text_h + 4 if isinstance(r, str) else cell + text_h + pad for r in rows) + pad
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    y = pad
    for row in rows:
        if isinstance(row, str):
            draw.text((pad, y), row, fill=(180, 0, 0), font=font)
            y += text_h + 4
            continue
        for i, it in enumerate(row):
            img = Image.open(it.path).convert("RGBA")
            flat = Image.new("RGBA", img.size, "white")
            flat.alpha_composite(img)
            flat.thumbnail((cell, cell), Image.LANCZOS)
            x = pad + i * (cell + pad)
            sheet.paste(flat.convert("RGB"), (x + (cell - flat.width) // 2, y + (cell - flat.height) // 2))
            draw.text((x, y + cell + 1), CLASSES[it.label], fill="black", font=font)
        y += cell + text_h + pad
    sheet.save(path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=OUT_DIR, help="where the pictures are built (default data/tuning)")
    p.add_argument("--sheet", type=Path, default=SHEET, help="the contact sheet PNG (default /tmp/tuning_sheet.png)")
    args = p.parse_args(argv)
    items = build(args.out)
    sources: dict[str, int] = {}
    for it in items:
        sources[it.source] = sources.get(it.source, 0) + 1
    print(f"{len(items)} images: " + ", ".join(f"{s} {n}" for s, n in sources.items()))
    print("classes: " + ", ".join(f"{c} {sum(it.label == i for it in items)}" for i, c in enumerate(CLASSES)))
    for it in items:
        print(
            f"{it.source:22s} {CLASSES[it.label]:12s} {it.path.relative_to(ROOT) if it.path.is_relative_to(ROOT) else it.path}"
        )
    contact_sheet(items, args.sheet)
    print(f"contact sheet: {args.sheet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
