"""Generated patch pairs back in their full photos (``seas paste``).

A run trained on ``seas patches`` generates patch-sized pairs, each started from a normal patch (the
record's ``reference``). ``patches.json`` knows which photo that patch was cut from and where, so the
generated image can be put back in its place: the result is a full-size photo with a new defect and a
full-size mask that is zero outside the patch. Segmenters trained on whole photos can use these directly.

The pasted region fades into the photo over ``feather`` px (no seam at the patch border), but never
inside the generated mask, so the mask stays exact. ``region="mask"`` replaces only the mask and a
``feather``-px margin around it, keeping the real product everywhere else.

Each output pair is written atomically with a record naming the generated record it came from; a rerun
skips pairs whose generated record and paste settings are unchanged and redoes the others.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from seas.config import PasteConfig, write_run_record
from seas.data.imageio import read_mask, read_rgb
from seas.errors import DatasetLayoutError, InputFileError
from seas.generate.outputs import PairFolder, read_manifest
from seas.ownership import mark_pair_tree
from seas.records import read_json

__all__ = ["near_mask_weight", "paste_pairs", "paste_weight"]


def paste_weight(size: int, mask: np.ndarray | None, region: str, feather: int) -> np.ndarray:
    """Per-pixel share (0-1, float32) of a ``size``-px generated patch that replaces the photo.

    It rises from ``1 / feather`` at the patch border to 1 at ``feather`` px inside; with ``region="mask"`` it
    is also 0 farther than about ``2 * feather`` px from the mask. Wherever the mask is on it is exactly 1.
    """
    side = np.arange(size)
    edge = np.minimum(side, size - 1 - side)
    distance = np.minimum(edge[:, None], edge[None, :]).astype(np.float32)
    weight = np.clip((distance + 1) / feather, 0, 1) if feather else np.ones((size, size), np.float32)
    if region == "mask" and mask is not None:
        weight = weight * near_mask_weight(mask, feather)
    if mask is not None:
        weight = np.where(mask, 1.0, weight).astype(np.float32)
    return weight


def near_mask_weight(mask: np.ndarray, feather: int) -> np.ndarray:
    """``[H, W]`` float32: 1 on the mask, fading to 0 about ``2 * feather`` px from it (0 feather: the mask itself)."""
    near = Image.fromarray(mask.astype(np.uint8) * 255)
    if feather:  # grow by feather px, then soften the new edge over about feather px
        near = near.filter(ImageFilter.MaxFilter(2 * feather + 1)).filter(ImageFilter.BoxBlur(feather))
    return np.where(mask, 1.0, np.asarray(near, dtype=np.float32) / 255).astype(np.float32)


def _record_key(line: str, cfg: PasteConfig) -> str:
    """What a pasted pair depends on: its generated record and how it is pasted (not where the photos live)."""
    return hashlib.sha256(f"{line}\n{cfg.region}\n{cfg.feather}".encode()).hexdigest()[:16]


def _photo(cfg: PasteConfig, record: dict[str, Any], source: str, sizes: dict[str, int]) -> np.ndarray:
    root = cfg.photos if cfg.photos is not None else Path(record.get("data_root", "."))
    path = root / source
    if not path.is_file():
        raise InputFileError(path, "is missing", "pass --photos, the dataset root that seas patches cut from")
    if source in sizes and path.stat().st_size != sizes[source]:
        raise InputFileError(path, "changed since seas patches cut it", "cut the patches again (seas patches)")
    return read_rgb(path)


def _patch_key(reference: str | None, patches: Path, manifest: Path, table: dict[str, Any]) -> str:
    if not reference:
        raise InputFileError(manifest, "a pair records no start image", "generate it again with this version")
    ref = Path(reference)
    for base in (Path.cwd(), manifest.parent):
        candidate = (ref if ref.is_absolute() else base / ref).resolve()
        try:
            key = candidate.relative_to(patches.resolve()).as_posix()
        except ValueError:
            continue
        if key in table:
            return key
    raise InputFileError(
        manifest,
        f"its start image {reference} is not a patch of {patches / 'patches.json'}",
        "pass --patches, the seas patches folder this run trained on",
    )


def _paste_one(
    cfg: PasteConfig, folder: Path, entry: dict[str, Any], place: dict[str, Any], photo: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray | None]:
    generated = Image.open(folder / entry["image"]).convert("RGB")
    mask = None
    if entry.get("mask"):
        mask = read_mask(folder / entry["mask"])
        if mask.shape != (size, size):  # generated at another resolution than the patch size
            mask = (
                np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((size, size), Image.Resampling.NEAREST))
                > 127
            )
    if generated.size != (size, size):
        generated = generated.resize((size, size), Image.Resampling.BICUBIC)
    x, y = place["xy"]
    if y + size > photo.shape[0] or x + size > photo.shape[1]:
        raise InputFileError(
            place["source"], f"is smaller than its recorded patch at {x}, {y}", "cut the patches again (seas patches)"
        )
    weight = paste_weight(size, mask, cfg.region, cfg.feather)[..., None]
    out = photo.copy()
    window = out[y : y + size, x : x + size].astype(np.float32)
    out[y : y + size, x : x + size] = np.rint(window * (1 - weight) + np.asarray(generated, np.float32) * weight)
    full_mask = None
    if mask is not None:
        full_mask = np.zeros(photo.shape[:2], dtype=bool)
        full_mask[y : y + size, x : x + size] = mask
    return out, full_mask


def paste_pairs(cfg: PasteConfig) -> dict[str, int]:
    """Paste every generated pair of ``cfg.generated`` into its photo; returns pasted pairs per defect type."""
    table_path = cfg.patches / "patches.json"
    if not table_path.is_file():
        raise DatasetLayoutError(table_path, "is missing", "pass --patches, the seas patches folder the run used")
    record = read_json(table_path, "rerun seas patches with the same flags to write it again", lambda r: dict(r))
    table, size = record["patches"], int(record["settings"]["size"])
    sizes = {name: int(n) for name, n in record.get("sources", [])}
    manifests = sorted(cfg.generated.glob("*/manifest.jsonl"))
    if not manifests:
        raise DatasetLayoutError(
            cfg.generated,
            "holds no <type>/manifest.jsonl",
            "pass --generated, a generated product folder (<out>/<product>)",
        )
    out_root = cfg.output_dir / cfg.generated.name
    out_root.mkdir(parents=True, exist_ok=True)
    mark_pair_tree(out_root)
    write_run_record(out_root, [cfg], None, "paste")
    counts: dict[str, int] = {}
    for manifest in manifests:
        read_manifest(manifest.parent)  # one line naming a damaged manifest before any pair is pasted
        lines = [line for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
        target = PairFolder(out_root / manifest.parent.name, with_masks=True)
        count = 0
        for line in lines:
            entry = json.loads(line)
            index, key = int(entry["index"]), _record_key(line, cfg)
            count = max(count, index + 1)
            done = target.records / f"{index:04d}.json"
            again = f"delete {done} (the pair is pasted again) and rerun"
            if done.is_file() and read_json(done, again, lambda r: r.get("from")) == key:
                continue
            patch = _patch_key(entry.get("reference"), cfg.patches, manifest, table)
            place = table[patch]
            photo = _photo(cfg, record, place["source"], sizes)
            image, mask = _paste_one(cfg, manifest.parent, entry, place, photo, size)
            extra = {
                "from": key,
                "generated": f"{manifest.parent.name}/{entry['image']}",
                "patch": patch,
                "photo": place["source"],
                "xy": place["xy"],
            }
            kept = {k: v for k, v in entry.items() if k not in ("index", "image", "mask")}
            if mask is not None:  # the share of the full photo now; the patch's share is kept beside it
                extra |= {"mask_fraction": float(mask.mean()), "patch_mask_fraction": entry.get("mask_fraction")}
            target.write(index, image, mask, {**kept, **extra})
        counts[manifest.parent.name] = target.finalize(count)
    return counts
