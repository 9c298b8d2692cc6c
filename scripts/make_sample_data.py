"""Build the bundled tire sample (demo/sample_data) from the shared MVTec 3D-AD tire data.

Usage: python scripts/make_sample_data.py ../shared/data/mvtec3d_tire

Takes a deterministic subset (all 'combined' images, the first 9 of every other type, the first
12 train/good and 3 test/good images), halves the size to 192x256 (images Lanczos, masks by area
average re-thresholded at 50 %, never emptied) and copies the licence and attribution files.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = (192, 256)  # W x H, half of the 384 x 512 source
PER_TYPE = 9
TRAIN_GOOD = 12
TEST_GOOD = 3


def _save_image(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    Image.open(src).convert("RGB").resize(SIZE, Image.Resampling.LANCZOS).save(dst, optimize=True)


def _save_mask(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fg = (np.asarray(Image.open(src).convert("L")) > 0).astype(np.float32)
    small = np.asarray(Image.fromarray(fg * 255).convert("L").resize(SIZE, Image.Resampling.BOX)) >= 128
    if not small.any():  # keep tiny defects visible rather than emptying the mask
        small = np.asarray(Image.fromarray(fg * 255).convert("L").resize(SIZE, Image.Resampling.BOX)) > 0
    Image.fromarray((small * 255).astype(np.uint8)).save(dst, optimize=True)


def main() -> None:
    """Write the sample folder."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source", type=Path, help="the mvtec3d_tire folder")
    parser.add_argument("--out", type=Path, default=Path("demo/sample_data"))
    args = parser.parse_args()
    src, out = args.source / "tire", args.out / "tire"
    if out.exists():  # never delete a folder here: it may be the committed sample or a user's data
        msg = f"error: {out}: already exists; move it away (or pass another --out) and rerun"
        raise SystemExit(msg)
    for split, count in (("train", TRAIN_GOOD), ("test", TEST_GOOD)):
        for p in sorted((src / split / "good").glob("*.png"))[:count]:
            _save_image(p, out / split / "good" / p.name)
    for type_dir in sorted(d for d in (src / "test").iterdir() if d.is_dir() and d.name != "good"):
        for p in sorted(type_dir.glob("*.png"))[:PER_TYPE]:
            _save_image(p, out / "test" / type_dir.name / p.name)
            _save_mask(
                src / "ground_truth" / type_dir.name / f"{p.stem}_mask.png",
                out / "ground_truth" / type_dir.name / f"{p.stem}_mask.png",
            )
    for name in ("LICENSE_MVTec3D-AD.txt", "README.md"):
        shutil.copyfile(args.source / name, args.out / f"SOURCE_{name}")
    (args.out / "README.md").write_text(
        "# Bundled sample: MVTec 3D-AD tire (subset, downscaled)\n\n"
        "A small subset of the MVTec 3D-AD 'tire' category (RGB only) so that `seas inspect` and `seas run`\n"
        "work with no dataset. Changes: subset (all 'combined' images, the first 9 of each other defect type,\n"
        "12 train/good and 3 test/good images), downscaled to 192x256 with Lanczos, masks binarised and\n"
        "area-resampled. Built by `scripts/make_sample_data.py`.\n\n"
        "Licence: CC BY-NC-SA 4.0 (https://creativecommons.org/licenses/by-nc-sa/4.0/), (c) 2021 MVTec Software\n"
        "GmbH; non-commercial use only; derivatives (including generated images) must carry the same licence.\n"
        "Cite: Bergmann, Jin, Sattlegger, Steger, 'The MVTec 3D-AD Dataset for Unsupervised 3D Anomaly Detection\n"
        "and Localization', VISAPP 2022. See SOURCE_README.md and SOURCE_LICENSE_MVTec3D-AD.txt.\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
