"""Milliseconds to load one VAE-adaptation batch: every PNG read each step versus decoded files kept.

A batch is 4 training defects + 4 normals, augmented, at --resolution (seas.stage1.sampling.DecodedFiles).

Usage: python docs/research/scripts/vae_adapt_loading.py [DATA_ROOT] [--resolution 128]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from seas.config import DataConfig
from seas.data.catalog import load_product
from seas.data.split import make_split
from seas.stage1.sampling import DecodedFiles
from seas.stage1.vae_adapt import _batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", type=Path, default=Path("../shared/data/mvtec3d_tire"))
    parser.add_argument("--resolution", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_product(DataConfig(data=args.data, product="tire", layout="mvtec"))
    split = make_split(data, DataConfig().train_ratio)
    device = torch.device("cpu")
    for name, decoded in (("read every step", DecodedFiles(budget=0)), ("decoded files kept", DecodedFiles())):
        for step in range(40):  # warm-up: fills the kept files
            _batch(split, 0, step, 4, args.resolution, "crop", "rot90_flip", device, decoded)
        start = time.perf_counter()
        for step in range(40, 140):
            _batch(split, 0, step, 4, args.resolution, "crop", "rot90_flip", device, decoded)
        per_batch = (time.perf_counter() - start) / 100 * 1000
        print(f"{name}: {per_batch:.1f} ms per batch, {decoded.used / 2**20:.0f} MiB kept")


if __name__ == "__main__":
    main()
