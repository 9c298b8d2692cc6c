"""What ``seas generate`` refuses before it draws: overlapping folders, changed settings, shrunk counts."""

from __future__ import annotations

from pathlib import Path

from seas.config import DataConfig, GenerateConfig, config_to_dict
from seas.data.catalog import data_folders
from seas.errors import ConfigError, flag
from seas.generate.outputs import recorded_generate_settings
from seas.ownership import refuse_overlap
from seas.records import read_json
from seas.run_folder import RunFolder, read_stage1_configs

__all__ = [
    "EXPORTS",
    "PIXEL_SETTINGS",
    "check_counts",
    "check_generate_folders",
    "check_same_settings",
    "precheck_folders",
]

# The exports of the pairs: option name -> the ownership kind of the folder it writes.
EXPORTS = {"export_anomalib": "anomalib-export", "export_coco": "coco-export", "export_yolo": "yolo-export"}

# Settings that decide a pair's pixels: pairs made with other values must never share a folder.
PIXEL_SETTINGS = (
    "seed",
    "steps",
    "guidance",
    "negative_prompt",
    "start",
    "strength",
    "reference_pool",
    "extended_steps",
    "timestep_spacing",
    "mask_steps",
    "mask_threshold",
    "rmp_bn",
    "min_mask_fraction",
    "max_mask_fraction",
    "max_attempts",
    "keep",
    "best_of",
    "best_by",
    "mask_source",
    "mask_margin",
    "placed_background",
    "placed_start",
    "placed_turn",
    "mixed_precision",
)


def check_same_settings(product_out: Path, cfg: GenerateConfig, ids: dict[str, str] | None = None) -> None:
    """Refuse to add pairs to a folder whose existing pairs were made with other pixel settings or weights.

    Raises:
        ConfigError: Names every differing flag (old -> new), or the weights that changed.
    """
    has_pairs = any(product_out.glob("*/manifest.jsonl")) or any(product_out.glob("*/.records/*.json"))
    if not (has_pairs and (product_out / "config.json").is_file()):
        return
    old = recorded_generate_settings(product_out)
    new = config_to_dict(cfg)
    changed = [f"{flag(k)} {old[k]!r} -> {new[k]!r}" for k in PIXEL_SETTINGS if k in old and old[k] != new[k]]
    # The model is compared by its weights, not its path: a moved or respelled run folder is the same model.
    made_with = _weights_of_pairs(product_out)
    if ids is not None and made_with is not None and made_with != ids:
        changed += [
            f"{key} weights {made_with.get(key)} -> {ids.get(key)} (retrained)"
            for key in sorted(ids)
            if made_with.get(key) != ids.get(key)
        ]
    if changed:
        raise ConfigError(
            product_out,
            f"holds pairs made with other settings ({'; '.join(changed)})",
            "rerun with the same settings to add pairs, choose another --output-dir, or pass --overwrite "
            "to delete them first",
        )


def _weights_of_pairs(product_out: Path) -> dict[str, str] | None:
    """The weight identities recorded with one finished pair of the folder (all share them), or None."""
    for record in sorted(product_out.glob("*/.records/*.json"))[:1]:
        fix = f"delete {record} (its pair is drawn again) and rerun"
        return read_json(record, fix, lambda r: r.get("checkpoint"))  # type: ignore[no-any-return]
    return None


def precheck_folders(cfg: GenerateConfig) -> None:
    """:func:`check_generate_folders` from the run's records alone (before a writer lock is taken).

    Raises:
        ConfigError: Overlapping folders.
        ModelLoadError: No run folder.
    """
    data_cfg = read_stage1_configs(cfg.run_dir)[0]
    split_file = RunFolder(cfg.run_dir).split
    product = read_json(
        split_file, f"rerun seas train --run-dir {cfg.run_dir} (same flags)", lambda r: str(r["product"])
    )
    check_generate_folders(data_cfg, cfg.run_dir, cfg, product)


def check_generate_folders(data_cfg: DataConfig, run_dir: Path, cfg: GenerateConfig, product: str) -> None:
    """Refuse an output or export folder that overlaps the data, the run folder or each other (before any work).

    Raises:
        ConfigError: One line naming the two folders.
    """
    run = RunFolder(run_dir)
    out_root = cfg.output_dir if cfg.output_dir is not None else run.generated_out
    product_out = run.generated(product, cfg.output_dir)
    away = "choose an --output-dir folder outside it"
    for folder in data_folders(data_cfg):
        refuse_overlap("--output-dir", out_root, "the data set", folder, away, contains=False)
        refuse_overlap("--output-dir", product_out, "the data set", folder, away)
    refuse_overlap("--output-dir", product_out, "the run folder", run_dir, away, inside=False)
    parents = product_out.resolve().parents
    if run_dir.resolve() in parents and run.generated_out.resolve() not in parents:  # only RUN/generated/ inside
        subject = f"--output-dir {out_root}"
        problem = f"is inside the run folder {run_dir}; nothing was written"
        raise ConfigError(
            subject, problem, "leave --output-dir out to use RUN/generated, or choose a folder outside the run"
        )
    exports = {name: getattr(cfg, name) for name in EXPORTS if getattr(cfg, name) is not None}
    for name, root in exports.items():
        option, export = flag(name), root / product
        elsewhere = f"choose an {option} folder apart from the data, the run, the pairs and the other exports"
        refuse_overlap(option, export, "the pairs' folder", product_out, elsewhere)
        refuse_overlap(option, export, "the run folder", run_dir, elsewhere, inside=False)
        for folder in data_folders(data_cfg):
            refuse_overlap(option, root, "the data set", folder, elsewhere, contains=False)
            refuse_overlap(option, export, "the data set", folder, elsewhere)
        for other, other_root in exports.items():
            if other < name:  # each pair of exports once
                refuse_overlap(option, export, f"the {flag(other)} folder", other_root / product, elsewhere)


def check_counts(product_out: Path, groups: list[tuple[str, list[str] | None, int]]) -> None:
    """Refuse a count below the pairs already finished in a folder (the summary would disagree with the files).

    Raises:
        ConfigError: Names the folder, what it holds and the ways out.
    """
    for name, _types, count in groups:
        done = [int(p.stem) for p in (product_out / name / ".records").glob("*.json") if p.stem.isdigit()]
        if done and max(done) >= count:
            option = "--normals" if name == "good" else "--num-per-type"
            raise ConfigError(
                product_out / name,
                f"holds {len(done)} finished pairs, more than {option} {count}",
                f"pass {option} {max(done) + 1} or more to keep them (and add pairs), choose another "
                "--output-dir, or pass --overwrite to delete them first",
            )
