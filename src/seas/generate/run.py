"""``seas generate``: image + mask pairs from a finished run (docs/method.md §2.9).

Image ``n`` of a folder uses the reference normal image ``n mod M`` and the seed ``base_seed + n``;
the M references are the sorted normals stage 1 trained on (the first ``--num-normals``) or, with
``--reference-pool all``, every normal training image. A pair rejected by the mask-fraction filter is
redrawn with the seed ``base_seed + n + k·RETRY_STRIDE`` for attempt ``k``, and every rejection is recorded;
so is a defect pair whose mask is empty, any pair whose image is one flat colour (a diverged model's
output), whatever the filter says, and a pair whose scores (:mod:`seas.generate.pair_scores`, recorded
with every pair) fail a ``--keep`` rule.
Indices are sharded over processes (``n mod world == rank``) when started with ``accelerate launch``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import PartialState

from seas.config import GenerateConfig, config_to_dict, write_run_record
from seas.data.catalog import ProductData
from seas.data.imageio import read_mask
from seas.data.split import DataSplit
from seas.errors import ConfigError, SeasError, flag
from seas.files import atomic_write_json, check_replaceable
from seas.generate.checks import (
    EXPORTS,
    PIXEL_SETTINGS,
    check_counts,
    check_generate_folders,
    check_same_settings,
)
from seas.generate.exports import export_coco, export_yolo
from seas.generate.keep_rules import best_draw, failed_rule
from seas.generate.outputs import PairFolder, export_anomalib
from seas.generate.pair_scores import PairScorer
from seas.generate.pipeline import Job, MaskedSampler, Result
from seas.generate.placed_masks import pick_training_mask
from seas.generate.user_masks import check_user_masks
from seas.ownership import check_pair_tree, mark_pair_tree, remove_owned
from seas.progress import Progress
from seas.run_folder import RunFolder, RunRecord, checkpoint_ids, read_run, read_token_map
from seas.stage1.artifacts import load_generator
from seas.stage1.tokens import TokenMap
from seas.stage2.artifacts import load_rmp
from seas.training import warn_if_emulated_bf16

__all__ = ["RETRY_STRIDE", "JobMaker", "draw", "generate", "job_seed", "rejection", "sample"]

logger = logging.getLogger(__name__)
RETRY_STRIDE = 10_000_019  # a prime above any realistic count, so retry seeds never meet first seeds


def job_seed(base_seed: int, index: int, attempt: int) -> int:
    """Seed of attempt ``attempt`` at image ``index``."""
    return base_seed + index + attempt * RETRY_STRIDE


@dataclass(frozen=True)
class JobMaker:
    """The jobs of one folder: ``maker(index, attempt)`` is attempt ``attempt`` at image ``index``.

    With a pool (``--mask-source train``: mask -> its image) a job has a placed mask, turned about ``turn``
    (``--placed-turn``), and with ``defect_start`` (``--placed-start defect``) the training image it came from.
    With ``user_masks`` (``--mask-source DIR``) job ``n`` has the ``n``-th file's mask as it is.
    """

    base_seed: int
    prompt: str
    references: list[Path]
    with_mask: bool
    resolution: int
    pool: dict[Path, Path] = field(default_factory=dict)
    turn: str = "image"
    defect_start: bool = False
    user_masks: list[Path] = field(default_factory=list)

    def __call__(self, index: int, attempt: int) -> Job:
        """Attempt ``attempt`` at image ``index``."""
        seed, reference = job_seed(self.base_seed, index, attempt), self.references[index % len(self.references)]
        if self.user_masks:  # --mask-source DIR: the n-th file, exactly
            path = self.user_masks[index % len(self.user_masks)]
            return Job(
                index,
                attempt,
                seed,
                self.prompt,
                reference,
                True,
                read_mask(path),
                {"mask": str(path), "source": "user"},
            )
        if not self.pool:
            return Job(index, attempt, seed, self.prompt, reference, self.with_mask)
        mask, origin = pick_training_mask(list(self.pool), seed, self.resolution, self.turn)
        if self.defect_start:
            origin["image"] = str(self.pool[Path(origin["mask"])])
        return Job(index, attempt, seed, self.prompt, reference, True, mask, origin)


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
    user_masks: list[Path] | None = None,
) -> JobMaker:
    """One folder's job maker, ``(index, attempt) -> Job``: its prompt and, with placed masks, its mask pool."""
    # --mask-source train: the pool of the types' training masks, in the split's (sorted) order
    train = [pair for t in types for pair in split.types[t].train] if types and cfg.mask_source == "train" else []
    pool = {mask: image for image, mask in train}
    return JobMaker(
        base_seed=cfg.seed,
        prompt=token_map.prompt(types),
        references=references,
        with_mask=types is not None,
        resolution=resolution,
        pool=pool,
        turn=cfg.placed_turn,
        defect_start=cfg.placed_start == "defect",
        user_masks=user_masks or [],
    )


def draw(
    sampler: MaskedSampler,
    cfg: GenerateConfig,
    make_job: Callable[[int, int], Job],
    indices: list[int],
    where: Path | str,
    score: Callable[[Result], dict[str, float]],
) -> Iterator[tuple[Result, dict[str, float], list[dict[str, Any]]]]:  # Any: JSON
    """Draw the pairs ``indices`` in batches, redrawing rejects; yields each kept pair, its scores and rejections.

    A pair is rejected by :func:`rejection` or by a ``--keep`` rule on its ``score``; with ``--best-of K`` a defect
    pair is drawn until K draws pass (or ``--max-attempts`` is spent) and the best by ``--best-by`` is kept, the
    others recorded among its rejections.

    Raises:
        SeasError: A pair was rejected in all ``--max-attempts`` attempts (``where`` names its folder).
    """
    queue = deque(make_job(n, 0) for n in indices)
    rejected: dict[int, list[dict[str, Any]]] = {}
    passed: dict[int, dict[int, tuple[Result, dict[str, float]]]] = {}  # index -> attempt -> passing draw

    def record(result: Result, reason: str, scores: dict[str, float]) -> None:
        entry: dict[str, Any] = {"attempt": result.job.attempt, "seed": result.job.seed}
        entry.update({"mask_fraction": result.mask_fraction, "reason": reason})
        if scores:
            entry["scores"] = scores
        rejected.setdefault(result.job.index, []).append(entry)

    def kept(index: int) -> tuple[Result, dict[str, float], list[dict[str, Any]]]:
        draws = passed.pop(index)
        best = best_draw([(attempt, scores) for attempt, (_, scores) in draws.items()], cfg.best_by)
        for attempt, (result, scores) in draws.items():
            if attempt != best:
                record(result, f"--best-of {cfg.best_of}: lower {cfg.best_by}", scores)
        result, scores = draws[best]
        return result, scores, sorted(rejected.pop(index, []), key=lambda r: r["attempt"])

    while queue:
        batch = [queue.popleft() for _ in range(min(cfg.batch_size, len(queue)))]
        for result in sampler.run(batch):
            job, fraction = result.job, result.mask_fraction
            reason = rejection(result.image, fraction, cfg)
            scores = score(result) if reason is None else {}
            if reason is None and (rule := failed_rule(scores, cfg.keep)) is not None:
                reason = f"--keep {rule}"
            last = job.attempt + 1 >= cfg.max_attempts
            if reason is None:
                passed.setdefault(job.index, {})[job.attempt] = (result, scores)
                if not job.with_mask or len(passed[job.index]) >= cfg.best_of or last:
                    yield kept(job.index)
                else:
                    queue.append(make_job(job.index, job.attempt + 1))
                continue
            record(result, reason, scores)
            if last and job.index in passed:  # fewer than K draws passed: the best of those
                yield kept(job.index)
            elif last:
                reasons = sorted({r["reason"] for r in rejected[job.index]})
                msg = (
                    f"{where}: image {job.index} was rejected in all {cfg.max_attempts} attempts "
                    f"({', '.join(reasons)})"
                )
                msg += (
                    "; an empty mask or a flat image means the model draws no defect: check its training "
                    "(seas report), widen --min/--max-mask-fraction or --keep, or raise --max-attempts"
                )
                raise SeasError(msg)
            else:
                queue.append(make_job(job.index, job.attempt + 1))


def _user_masks(
    cfg: GenerateConfig, groups: list[tuple[str, list[str] | None, int]], resolution: int
) -> dict[str, list[Path]]:
    """``--mask-source DIR``: every defect folder's mask files, checked ({} for rmp and train)."""
    if cfg.mask_source in ("rmp", "train"):
        return {}
    return check_user_masks(Path(cfg.mask_source), [name for name, types, _ in groups if types], resolution)


def _references(cfg: GenerateConfig, run: RunRecord) -> list[Path]:
    return list(run.split.normals) if cfg.reference_pool == "train" else run.data.train_normals


def _scorer(run: RunRecord, references: list[Path]) -> PairScorer:
    """The pair scorer of a run: its references' object, its training masks' sizes."""
    masks = {t: [m for _, m in s.train] for t, s in run.split.types.items()}
    return PairScorer(run.model_cfg.resolution, references, masks)


def _scores_of(scorer: PairScorer, types: list[str] | None) -> Callable[[Result], dict[str, float]]:
    return lambda result: scorer(result.image, result.mask, Path(str(result.job.reference)), types or [])


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
    user = _user_masks(cfg, groups, run.model_cfg.resolution)  # checked before the weights load
    sampler = _sampler(cfg, cfg.run_dir, run.model_cfg.resolution, state)
    references = _references(cfg, run)
    scorer = _scorer(run, references)
    for name, types, count in groups:
        make_job = _make_jobs(cfg, run.split, token_map, references, run.model_cfg.resolution, types, user.get(name))
        for result, _scores, _rejections in draw(
            sampler, cfg, make_job, list(range(count)), name, _scores_of(scorer, types)
        ):
            yield name, result


def generate(cfg: GenerateConfig, data: ProductData | None = None) -> dict[str, Any]:  # Any: JSON summary
    """Generate every requested folder; returns ``{folder: pairs on disk}``, the output root and export counts."""
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
    for name, kind in EXPORTS.items():
        if getattr(cfg, name) is not None:
            check_replaceable(getattr(cfg, name) / split.product, kind)
    check_same_settings(product_out, cfg, ids)
    check_counts(product_out, groups)
    user = _user_masks(cfg, groups, model_cfg.resolution)  # every file checked before the weights load
    state = PartialState(cpu=cfg.cpu or not torch.cuda.is_available())
    sampler = _sampler(cfg, run_dir, model_cfg.resolution, state)
    if state.is_main_process:
        mark_pair_tree(product_out)
        write_run_record(product_out, [cfg], sampler.parts.identity, "generate")
        atomic_write_json(RunFolder(run_dir).weight_ids, ids)  # for the report
    references = _references(cfg, run)
    scorer = _scorer(run, references)
    # Each pair records its pixel settings (the negative prompt and dtype are recorded apart, retries as rejections).
    sampler_keys = set(PIXEL_SETTINGS) - {"negative_prompt", "max_attempts", "mixed_precision"}
    settings = {k: v for k, v in config_to_dict(cfg).items() if k in sampler_keys}
    settings.update(
        {
            "scheduler": "DPMSolverMultistep dpmsolver++ order 2 midpoint sigma_min",
            "dtype": str(sampler.dtype),
            "resolution": model_cfg.resolution,
        }
    )
    summary: dict[str, Any] = {"out": str(product_out)}
    for name, types, count in groups:
        folder = PairFolder(product_out / name, with_masks=types is not None)
        make_job = _make_jobs(cfg, split, token_map, references, model_cfg.resolution, types, user.get(name))
        mine = [n for n in range(count) if n % state.num_processes == state.process_index and not folder.is_done(n)]
        bar = Progress(len(mine), f"generate {name}", unit="pair", enabled=state.is_main_process)
        try:  # the bar closes first, so an error line starts on a line of its own
            for result, scores, rejections in draw(
                sampler, cfg, make_job, mine, folder.root, _scores_of(scorer, types)
            ):
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
                    "scores": scores,
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
    if state.is_main_process:
        summary["exports"] = _export(cfg, product_out, groups, references)
    return summary


def _export(
    cfg: GenerateConfig, product_out: Path, groups: list[tuple[str, list[str] | None, int]], references: list[Path]
) -> dict[str, dict[str, int]]:
    """Rebuild each requested export from the finished pairs; returns its counts by export name."""
    wanted = {name: count for name, types, count in groups if types is not None}
    done = {}
    if cfg.export_anomalib is not None:
        normal_count = next((count for name, types, count in groups if types is None), 0)
        target = cfg.export_anomalib / product_out.name
        done["anomalib"] = export_anomalib(product_out, target, wanted, normal_count, references)
    if cfg.export_coco is not None:
        done["coco"] = export_coco(product_out, cfg.export_coco / product_out.name, wanted)
    if cfg.export_yolo is not None:
        done["yolo"] = export_yolo(product_out, cfg.export_yolo / product_out.name, wanted)
    return done
