"""``seas generate``: image + mask pairs from a finished run (docs/method.md §2.9).

Image ``n`` of a folder uses the reference normal image ``n mod M`` and the seed ``base_seed + n``;
the M references are the sorted normals stage 1 trained on (the first ``--num-normals``) or, with
``--reference-pool all``, every normal training image. A pair rejected by the mask-fraction filter is
redrawn with the seed ``base_seed + n + k·RETRY_STRIDE`` for attempt ``k``, and every rejection is recorded;
so is a defect pair whose mask is empty and any pair whose image is one flat colour (a diverged model's
output), whatever the filter says.
Indices are sharded over processes (``n mod world == rank``) when started with ``accelerate launch``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import torch
from accelerate import PartialState

from seas.config import DataConfig, GenerateConfig, config_to_dict, write_run_record
from seas.data.catalog import ProductData, data_folders
from seas.data.split import DataSplit
from seas.errors import ConfigError, SeasError, flag
from seas.files import atomic_write_json, check_replaceable
from seas.generate.outputs import PairFolder, export_anomalib, recorded_generate_settings
from seas.generate.pipeline import Job, MaskedSampler, Result
from seas.generate.placed_masks import pick_training_mask
from seas.ownership import check_pair_tree, mark_pair_tree, refuse_overlap, remove_owned
from seas.progress import Progress
from seas.records import read_json
from seas.run_folder import RunFolder, RunRecord, checkpoint_ids, read_run, read_stage1_configs, read_token_map
from seas.stage1.artifacts import load_generator
from seas.stage1.tokens import TokenMap
from seas.stage2.artifacts import load_rmp
from seas.training import warn_if_emulated_bf16

__all__ = ["RETRY_STRIDE", "check_generate_folders", "generate", "job_seed", "precheck_folders", "rejection"]

logger = logging.getLogger(__name__)
RETRY_STRIDE = 10_000_019  # a prime above any realistic count, so retry seeds never meet first seeds


def job_seed(base_seed: int, index: int, attempt: int) -> int:
    """Seed of attempt ``attempt`` at image ``index``."""
    return base_seed + index + attempt * RETRY_STRIDE


def _job(
    base_seed: int,
    prompt: str,
    references: list[Path],
    with_mask: bool,
    pool: dict[Path, Path],
    resolution: int,
    turn: str,
    defect_start: bool,
    index: int,
    attempt: int,
) -> Job:
    """Attempt ``attempt`` at image ``index``.

    With a pool (``--mask-source train``: mask -> its image) the job has a placed mask, turned about ``turn``
    (``--placed-turn``), and with ``defect_start`` (``--placed-start defect``) the training image it came from.
    """
    seed, reference = job_seed(base_seed, index, attempt), references[index % len(references)]
    if not pool:
        return Job(index, attempt, seed, prompt, reference, with_mask)
    mask, origin = pick_training_mask(list(pool), seed, resolution, turn)
    if defect_start:
        origin["image"] = str(pool[Path(origin["mask"])])
    return Job(index, attempt, seed, prompt, reference, True, mask, origin)


def _groups(cfg: GenerateConfig, token_map: TokenMap) -> list[tuple[str, list[str] | None, int]]:
    """(folder name, defect types or None for normal images, count) to generate."""
    known = list(token_map.defect_types)
    wanted = list(cfg.defect_type) if cfg.defect_type else known
    combos = [item.split("+") for item in cfg.combine]
    unknown = sorted({t for t in wanted + [t for c in combos for t in c] if t not in known})
    if unknown:
        raise ConfigError(
            flag("defect_type"), f"unknown defect type(s) {', '.join(unknown)}", f"known: {', '.join(known)}"
        )
    groups: list[tuple[str, list[str] | None, int]] = [(t, [t], cfg.num_per_type) for t in wanted]
    groups += [("+".join(c), c, cfg.num_per_type) for c in combos]
    if cfg.normals:
        groups.append(("good", None, cfg.normals))
    return groups


def _dtype(cfg: GenerateConfig, device: torch.device) -> torch.dtype:
    name = cfg.mixed_precision if cfg.mixed_precision != "auto" else ("fp16" if device.type == "cuda" else "no")
    warn_if_emulated_bf16(name, on_cuda=device.type == "cuda")
    return {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[name]


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
    if cfg.export_anomalib is None:
        return
    export = cfg.export_anomalib / product
    elsewhere = "choose an --export-anomalib folder apart from the data, the run and the pairs"
    refuse_overlap("--export-anomalib", export, "the pairs' folder", product_out, elsewhere)
    refuse_overlap("--export-anomalib", export, "the run folder", run_dir, elsewhere, inside=False)
    for folder in data_folders(data_cfg):
        refuse_overlap("--export-anomalib", cfg.export_anomalib, "the data set", folder, elsewhere, contains=False)
        refuse_overlap("--export-anomalib", export, "the data set", folder, elsewhere)


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


def rejection(image: Any, fraction: float | None, cfg: GenerateConfig) -> str | None:  # Any: uint8 HWC array
    """Why a drawn pair is not written (None: it is kept): a flat image, an empty mask, or the mask-fraction filter."""
    if int(image.max()) == int(image.min()):
        return "flat image"
    if fraction is None:
        return None
    if fraction == 0:
        return "empty mask"
    if not cfg.min_mask_fraction <= fraction <= cfg.max_mask_fraction:
        return "mask fraction outside the filter"
    return None


def _make_jobs(
    cfg: GenerateConfig,
    split: DataSplit,
    token_map: TokenMap,
    references: list[Path],
    resolution: int,
    types: list[str] | None,
) -> Callable[[int, int], Job]:
    """One folder's job maker, ``(index, attempt) -> Job``: its prompt and, with placed masks, its mask pool."""
    # --mask-source train: the pool of the types' training masks, in the split's (sorted) order
    train = [pair for t in types for pair in split.types[t].train] if types and cfg.mask_source == "train" else []
    pool = {mask: image for image, mask in train}
    return partial(
        _job,
        cfg.seed,
        token_map.prompt(types),
        references,
        types is not None,
        pool,
        resolution,
        cfg.placed_turn,
        cfg.placed_start == "defect",
    )


def draw(
    sampler: MaskedSampler,
    cfg: GenerateConfig,
    make_job: Callable[[int, int], Job],
    indices: list[int],
    where: Path | str,
) -> Iterator[tuple[Result, list[dict[str, Any]]]]:  # Any: JSON
    """Draw the pairs ``indices`` in batches, redrawing rejected ones; yields each kept pair with its rejections.

    Raises:
        SeasError: A pair was rejected in all ``--max-attempts`` attempts (``where`` names its folder).
    """
    queue = deque(make_job(n, 0) for n in indices)
    rejected: dict[int, list[dict[str, Any]]] = {}
    while queue:
        batch = [queue.popleft() for _ in range(min(cfg.batch_size, len(queue)))]
        for result in sampler.run(batch):
            job, fraction = result.job, result.mask_fraction
            reason = rejection(result.image, fraction, cfg)
            if reason is None:
                yield result, rejected.pop(job.index, [])
                continue
            draw = {"attempt": job.attempt, "seed": job.seed, "mask_fraction": fraction, "reason": reason}
            rejected.setdefault(job.index, []).append(draw)
            if job.attempt + 1 >= cfg.max_attempts:
                reasons = sorted({r["reason"] for r in rejected[job.index]})
                msg = (
                    f"{where}: image {job.index} was rejected in all {cfg.max_attempts} attempts "
                    f"({', '.join(reasons)})"
                )
                msg += (
                    "; an empty mask or a flat image means the model draws no defect: check its training "
                    "(seas report), widen --min/--max-mask-fraction or raise --max-attempts"
                )
                raise SeasError(msg)
            queue.append(make_job(job.index, job.attempt + 1))


def _references(cfg: GenerateConfig, run: RunRecord) -> list[Path]:
    return list(run.split.normals) if cfg.reference_pool == "train" else run.data.train_normals


def _sampler(cfg: GenerateConfig, run_dir: Path, resolution: int, state: PartialState) -> MaskedSampler:
    parts, _ = load_generator(run_dir)
    return MaskedSampler(parts, load_rmp(run_dir), cfg, resolution, state.device, _dtype(cfg, state.device))


def sample(cfg: GenerateConfig, data: ProductData | None = None) -> Iterator[tuple[str, Result]]:
    """Draw the pairs ``seas generate`` would write, in the same order with the same seeds, without writing a file.

    Yields ``(folder name, result)``: the folder is the defect type (``a+b`` for a combination, ``good``
    for a normal image). One process only; ``--output-dir``, ``--overwrite`` and ``--export-anomalib``
    play no part.
    """
    run = read_run(cfg.run_dir, data)
    token_map = read_token_map(cfg.run_dir)
    groups = _groups(cfg, token_map)
    state = PartialState(cpu=cfg.cpu or not torch.cuda.is_available())
    sampler = _sampler(cfg, cfg.run_dir, run.model_cfg.resolution, state)
    references = _references(cfg, run)
    for name, types, count in groups:
        make_job = _make_jobs(cfg, run.split, token_map, references, run.model_cfg.resolution, types)
        for result, _rejections in draw(sampler, cfg, make_job, list(range(count)), name):
            yield name, result


def generate(cfg: GenerateConfig, data: ProductData | None = None) -> dict[str, Any]:  # Any: JSON summary
    """Generate every requested folder; returns ``{folder: pairs on disk}`` and the output root."""
    run_dir = cfg.run_dir
    run = read_run(run_dir, data)  # ``data``: the product's listing when the caller already made it
    split, model_cfg = run.split, run.model_cfg
    check_generate_folders(run.data_cfg, run_dir, cfg, split.product)
    product_out = RunFolder(cfg.run_dir).generated(split.product, cfg.output_dir)
    if cfg.overwrite and product_out.exists():
        logger.warning("--overwrite: deleting the earlier pairs in %s", product_out)
        remove_owned(product_out, "pairs", "choose another --output-dir, or move your files out of it first")
    token_map = read_token_map(run_dir)
    groups = _groups(cfg, token_map)
    ids = checkpoint_ids(run_dir)
    check_pair_tree(product_out)  # all before any weights load
    if cfg.export_anomalib is not None:
        check_replaceable(cfg.export_anomalib / split.product, "anomalib-export")
    check_same_settings(product_out, cfg, ids)
    check_counts(product_out, groups)
    state = PartialState(cpu=cfg.cpu or not torch.cuda.is_available())
    sampler = _sampler(cfg, run_dir, model_cfg.resolution, state)
    if state.is_main_process:
        mark_pair_tree(product_out)
        write_run_record(product_out, [cfg], sampler.parts.identity, "generate")
        atomic_write_json(RunFolder(run_dir).weight_ids, ids)  # for the report
    references = _references(cfg, run)
    # Each pair records its pixel settings (the negative prompt and dtype are recorded apart, retries as rejections).
    sampler_keys = set(PIXEL_SETTINGS) - {"negative_prompt", "max_attempts", "mixed_precision"}
    settings = {k: v for k, v in config_to_dict(cfg).items() if k in sampler_keys}
    settings.update(
        {
            "scheduler": "DPMSolverMultistep dpmsolver++ order 2 midpoint sigma_min",
            "dtype": str(_dtype(cfg, state.device)),
            "resolution": model_cfg.resolution,
        }
    )
    summary: dict[str, Any] = {"out": str(product_out)}
    for name, types, count in groups:
        folder = PairFolder(product_out / name, with_masks=types is not None)
        make_job = _make_jobs(cfg, split, token_map, references, model_cfg.resolution, types)
        mine = [n for n in range(count) if n % state.num_processes == state.process_index and not folder.is_done(n)]
        bar = Progress(len(mine), f"generate {name}", unit="pair", enabled=state.is_main_process)
        try:  # the bar closes first, so an error line starts on a line of its own
            for result, rejections in draw(sampler, cfg, make_job, mine, folder.root):
                job = result.job
                record = {
                    "seed": job.seed,
                    "attempt": job.attempt,
                    "prompt": job.prompt,
                    "negative_prompt": cfg.negative_prompt,
                    "defect_types": types or [],
                    "reference": str(job.reference),
                    "checkpoint": ids,
                    "settings": settings,
                    "mask_fraction": result.mask_fraction,
                    "rejections": rejections,
                }
                if job.mask_origin is not None:
                    record["mask_from"] = job.mask_origin
                folder.write(job.index, result.image, result.mask, record)
                bar.update(1)
        finally:
            bar.close()
        state.wait_for_everyone()
        if state.is_main_process:
            summary[name] = folder.finalize(count)
    if cfg.export_anomalib is not None and state.is_main_process:
        wanted = {name: count for name, types, count in groups if types is not None}
        normal_count = next((count for name, types, count in groups if types is None), 0)
        summary["anomalib"] = export_anomalib(
            product_out, cfg.export_anomalib / split.product, wanted, normal_count, references
        )
    return summary
