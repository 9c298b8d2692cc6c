"""A positive control for the pair-quality benchmark: tire images with planted paint spots, two sizes.

The real tire defects are small (0.2-0.5 % of an image, less than one latent cell at 128 px) and subtle.
This builds an MVTec-layout copy of the tire data whose two defect types are easy to learn and easy to
see: an orange paint spot of about 4 % of the training crop (``paint_large``: three latent cells across
at 128 px) and the same spot at the size of a real tire defect (``paint_small``: about 0.25 %). If
``seas run`` cannot draw the large spot inside its mask, the pipeline is at fault; if it draws the large
one and not the small one, the limit is the defect's size at this scale.

Normal images: ``train/good`` 000-039 stay normal; 040-059 get a large spot, 060-079 a small one (the
prior saw all 80, but never a spot); ``test/good`` is copied unchanged for the held-out evaluation. Spots
lie inside the tire's lit band of the centre crop the tool trains on. Seeded; file listings sorted.

Usage: ``python docs/research/scripts/planted_defects.py build SOURCE_ROOT OUT_ROOT`` (e.g. ../shared/data/mvtec3d_tire
runs/planted_data) writes OUT_ROOT/tire/{train,test,ground_truth}; ``python docs/research/scripts/planted_defects.py score
RUN/generated/tire`` prints, per planted type, how orange the generated pairs are (red minus blue, grey levels)
inside their masks, at the same pixels of the normal twin (``--normals``: same seed and start, normal prompt) and
outside the masks: a drawn spot is orange inside its own mask and not in the twin.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from seas.files import atomic_write_dir

# semi-axes in pixels of the 384 x 512 originals (the tool's centre crop is their 384 x 384 middle)
SIZES = {"paint_large": (36, 48), "paint_small": (8, 11)}
FIRST = {"paint_large": 40, "paint_small": 60}
PER_TYPE = 20
BAND = (150, 270, 130, 380)  # x0, x1, y0, y1 of spot centres: the lit tread band, inside the crop
COLOUR = np.array([235.0, 150.0, 40.0])


def _spot(shape: tuple[int, int], rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Soft-edged ellipse, random centre, axes and angle; float in [0, 1]."""
    height, width = shape
    cx, cy = rng.uniform(BAND[0], BAND[1]), rng.uniform(BAND[2], BAND[3])
    a, b = rng.uniform(*size), rng.uniform(*size)
    angle = rng.uniform(0, np.pi)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u = (x - cx) * np.cos(angle) + (y - cy) * np.sin(angle)
    v = -(x - cx) * np.sin(angle) + (y - cy) * np.cos(angle)
    radius = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    return np.clip((1.0 - radius) * min(a, b) / 1.5, 0.0, 1.0)  # 1.5-px soft rim


def _plant(image: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    shade = 0.85 + 0.15 * rng.standard_normal(alpha.shape).clip(-2, 2)  # paint is not flat
    paint = COLOUR[None, None, :] * shade[..., None]
    out = image.astype(np.float64) * (1 - alpha[..., None]) + paint * alpha[..., None]
    return np.clip(out.round(), 0, 255).astype(np.uint8)


def build(source: Path, out: Path, seed: int) -> None:
    """Write the planted copy of ``source``'s tire data under ``out`` (replacing only an earlier planted copy)."""
    src, dst = source / "tire", out / "tire"
    normals = sorted((src / "train" / "good").glob("*.png"))

    def fill(folder: Path) -> None:
        (folder / "train" / "good").mkdir(parents=True)
        for path in normals[: min(FIRST.values())]:
            shutil.copyfile(path, folder / "train" / "good" / path.name)
        shutil.copytree(src / "test" / "good", folder / "test" / "good")
        rng = np.random.default_rng(seed)
        for kind in sorted(SIZES):
            (folder / "test" / kind).mkdir(parents=True)
            (folder / "ground_truth" / kind).mkdir(parents=True)
            for n, path in enumerate(normals[FIRST[kind] : FIRST[kind] + PER_TYPE]):
                image = np.asarray(Image.open(path).convert("RGB"))
                alpha = _spot(image.shape[:2], rng, SIZES[kind])
                Image.fromarray(_plant(image, alpha, rng)).save(folder / "test" / kind / f"{n:03d}.png")
                mask = ((alpha > 0.5) * 255).astype(np.uint8)
                Image.fromarray(mask).save(folder / "ground_truth" / kind / f"{n:03d}_mask.png")

    atomic_write_dir(dst, fill, "planted-data")  # refuses a folder it did not write
    print(f"wrote {dst}: {min(FIRST.values())} normals, {PER_TYPE} images per planted type, test/good copied")


def _orange(path: Path) -> np.ndarray:
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    return rgb[..., 0] - rgb[..., 2]


def score(generated: Path) -> dict[str, dict[str, float | int]]:
    """Mean red minus blue inside the masks, at the twins' same pixels, and outside; empty masks are skipped."""
    result: dict[str, dict[str, float | int]] = {}
    for kind in sorted(SIZES):
        inside, twin, outside, empty = [], [], [], 0
        for line in (generated / kind / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            mask = np.asarray(Image.open(generated / kind / row["mask"])) > 0
            if not mask.any():
                empty += 1
                continue
            image, normal = _orange(generated / kind / row["image"]), _orange(generated / "good" / row["image"])
            inside.append(image[mask].mean())
            twin.append(normal[mask].mean())
            outside.append(image[~mask].mean())
        means = {name: float(np.mean(v)) if v else float("nan") for name, v in
                 (("inside", inside), ("twin", twin), ("outside", outside))}  # fmt: skip
        result[kind] = {"pairs": len(inside), "empty_masks": empty, **means}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="write the planted dataset")
    make.add_argument("source", type=Path)
    make.add_argument("out", type=Path)
    make.add_argument("--seed", type=int, default=0)
    measure = commands.add_parser("score", help="how orange generated pairs are inside their masks")
    measure.add_argument("generated", type=Path)
    args = parser.parse_args()
    if args.command == "build":
        build(args.source, args.out, args.seed)
    else:
        print(json.dumps(score(args.generated), indent=1))


if __name__ == "__main__":
    main()
