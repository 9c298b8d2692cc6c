"""Building the report folder from a run folder: thumbnails, tables, charts, configs, one index.html.

Reads only files: ``config.json``, ``split.json``, ``logs.jsonl``, ``stage2/logs.jsonl``,
``checkpoint_ids.json``, ``generated/<product>/<type>/manifest.jsonl`` and the images they name,
``evaluation/*.json``. Every thumbnail links to its full-size file.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from seas.errors import ConfigError
from seas.evaluate.inputs import stale_note
from seas.evaluate.paired import format_paired
from seas.evaluate.reconstruction import outline, zoom_box
from seas.evaluate.segmentation import METRICS, VARIANTS
from seas.files import atomic_write_text
from seas.generate.outputs import read_manifest
from seas.models.builtin import prior_dir
from seas.records import read_json, read_jsonl
from seas.report.charts import histogram_svg, line_chart_svg
from seas.review.decisions import REVIEW_FILE, accepted, read_decisions
from seas.run_folder import RunFolder

__all__ = ["build_report"]

# Scores under each pair and in each type's medians (all are in the manifest): where the mask is, what changed in it.
SHOWN_SCORES = (("on_object", "on object"), ("change_ratio", "change in/out"))
THUMB = 256  # px stored (shown at 150 px); the zoom column magnifies the mask region 4-8x
STYLE = """body{font-family:sans-serif;margin:24px;color:#222}h1{margin-bottom:4px}table{border-collapse:collapse;
margin:8px 0}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th:first-child,td:first-child{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:10px}.pair{border:1px solid #ddd;padding:4px;font-size:11px}
.pair img{width:150px;height:150px;image-rendering:pixelated;margin-right:2px}
.wide img{max-width:100%;image-rendering:pixelated}.note{color:#777}.stale{color:#a00;font-weight:600}
pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:320px;font-size:11px}figure{display:inline-block}"""
CHECK_SCRIPT = """<script>
window.__errors=[];window.addEventListener('error',e=>window.__errors.push(String(e.message||e)));
const origError=console.error;console.error=(...a)=>{window.__errors.push(a.join(' '));origError(...a)};
window.addEventListener('load',()=>{const imgs=[...document.images];
document.body.dataset.images=imgs.length;
document.body.dataset.imagesLoaded=imgs.filter(i=>i.complete&&i.naturalWidth>0).length;
document.body.dataset.errors=window.__errors.length;});
</script>"""


def _read_log(path: Path) -> list[dict[str, Any]]:
    """A loss log's lines; a line cut off by a kill is passed over (training truncates it on resume)."""
    return read_jsonl(path, "delete the damaged line", skip_damaged=True)


def _result(path: Path, run: Path) -> dict[str, Any] | None:  # Any: JSON
    """An evaluation result of ``run/evaluation`` (None when there is none)."""
    if not path.is_file():
        return None
    fix = f"delete it and rerun seas evaluate {path.stem} --run-dir {run}"
    return read_json(path, fix, lambda r: dict(r))


def _inputs_note(result: dict[str, Any], run: Path, tree: Path, command: str) -> str:  # Any: JSON
    """The fingerprint a table was measured on, and a warning when it differs from the pairs and weights shown."""
    inputs = result.get("inputs") or {}
    stale = stale_note(result, run, tree)  # against the pairs this report shows
    shown = (
        f"measured on pairs {escape(str(inputs.get('pairs')))}, weights {escape(json.dumps(inputs.get('weights')))}"
    )
    if stale is None:
        return f"<p class='note inputs'>{shown}</p>"
    return (
        f"<p class='stale'><b>Stale:</b> {escape(stale)}; {shown}. Rerun <code>{escape(command)}</code> "
        "to measure the current pairs.</p>"
    )


def _square(image: Image.Image, size: int | None = THUMB) -> Image.Image:
    """Centre crop to a square, as training and generation crop, then resize to ``size`` (None: keep)."""
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    square = image.crop((left, top, left + side, top + side))
    return square if size is None else square.resize((size, size), Image.Resampling.NEAREST)


def _thumb(source: Path, target: Path, kind: str, mask: Path | None = None) -> None:
    """Write a THUMB-px PNG of ``kind``: image, mask, overlay or zoom.

    ``overlay`` tints the mask red and outlines it; ``zoom`` magnifies a crop around the mask with only
    an outline, so the pixels inside show as they are (a 0.2 % defect fills a good part of it).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    red = np.array([255, 40, 40], dtype=np.uint8)
    if kind == "zoom" and mask is not None:
        full = _square(Image.open(source).convert("RGB"), None)
        m = np.asarray(_square(Image.open(mask).convert("L"), full.size[0])) > 127
        box = zoom_box(m)
        crop = full.crop(box).resize((THUMB, THUMB), Image.Resampling.NEAREST)
        zm = np.asarray(Image.fromarray(m).crop(box).resize((THUMB, THUMB), Image.Resampling.NEAREST))
        arr = np.asarray(crop).copy()
        arr[outline(zm, 1)] = red
        Image.fromarray(arr).save(target)
        return
    image = _square(Image.open(source).convert("RGB"))
    if kind == "overlay" and mask is not None:
        m = np.asarray(_square(Image.open(mask).convert("L"))) > 127
        arr = np.asarray(image).copy()
        arr[m] = (0.5 * arr[m] + 0.5 * np.array([255, 0, 0])).astype(np.uint8)
        arr[outline(m, 2)] = red  # 2-px outline: small defects stay visible on a dark product
        image = Image.fromarray(arr)
    image.save(target)


def _link(path: Path, report_dir: Path) -> str:
    return escape(os.path.relpath(path.resolve(), report_dir.resolve()))


def _loss_section(run: Path) -> str:
    parts = []
    folder = RunFolder(run)
    curves = (
        ("Stage 1 losses", folder.logs, ("total", "anomaly_mse", "na", "da_32", "da_16")),
        ("Stage 2 losses", folder.stage2 / "logs.jsonl", ("total", "focal_512", "focal_64")),
    )
    for title, path, keys in curves:
        rows = _read_log(path)
        series = {k: [float(r[k]) for r in rows] for k in keys if rows and k in rows[0]}
        parts.append(line_chart_svg(title, [float(r["step"]) for r in rows], series))
    return "<h2>Training</h2>" + "".join(parts)


def _metrics_section(run: Path, tree: Path, report: Path) -> str:
    out = ["<h2>Metrics</h2>"]
    data = _result(RunFolder(run).evaluation / "segmentation.json", run)
    if data is not None:
        present = next(iter(data["variants"].values()))["mean"]
        metrics = [m for m in METRICS if m in present] + sorted(set(present) - set(METRICS))
        order = [v for v in VARIANTS if v in data["variants"]] + sorted(set(data["variants"]) - set(VARIANTS))
        head = "".join(f"<th>{escape(m)}</th>" for m in metrics)
        variants = data["variants"]

        def cell(name: str, metric: str) -> str:
            spread = variants[name].get("spread", {})
            value = f"{100 * variants[name]['mean'][metric]:.2f}"
            return f"<td>{value}" + (f" ± {100 * spread[metric]:.2f}" if metric in spread else "") + "</td>"

        rows = "".join(
            f"<tr data-variant='{escape(name)}'><td>{escape(VARIANTS.get(name) or str(name))}</td>"
            + "".join(cell(name, m) for m in metrics)
            + "</tr>"
            for name in order
        )
        split, counts = data.get("split", {}).get("name", "all"), data.get("counts", {})
        seeds = len(next(iter(data["variants"].values())).get("runs", [None]))
        out.append(
            f"<p>Downstream segmentation ({escape(data['recipe'])}), mean over defect types, percent, "
            f"± the standard deviation over {seeds} segmenter seed(s); tested on the <b>{escape(str(split))}</b> "
            f"part of the held-out images ({counts.get('test_defect', '?')} defect, {counts.get('test_good', '?')} "
            f"good; choose settings on val, claim test):</p>"
            f"<table id='segmentation'><tr><th>training set</th>{head}</tr>{rows}</table>"
        )
        paired = format_paired(data)
        if paired:
            out.append(f"<div id='paired'>{_markdown_tables(chr(10).join(paired))}</div>")
        sets = RunFolder(run).evaluation / "training_sets.png"
        if sets.is_file():
            out.append(
                "<p>What each training set adds (first pairs; whole image with the mask outlined, and magnified):</p>"
                f"<div class='wide'><img src='{_link(sets, report)}' alt='training sets'></div>"
            )
        out.append(_inputs_note(data, run, tree, f"seas evaluate segmentation --run-dir {run}"))
    data = _result(RunFolder(run).evaluation / "generation.json", run)
    if data is not None:
        rows = "".join(
            f"<tr><td>{escape(t)}</td><td>{v['ic_lpips']:.4f}</td><td>{v['is_mean']:.4f}</td></tr>"
            for t, v in data["types"].items()
        )
        out.append(
            f"<table id='generation'><tr><th>defect type</th><th>IC-LPIPS ({escape(data['net'])})</th>"
            f"<th>IS</th></tr>{rows}</table>"
        )
        out.append(_inputs_note(data, run, tree, f"seas evaluate generation --run-dir {run}"))
    if len(out) == 1:
        out.append("<p class='note'>No evaluation yet: run seas evaluate segmentation / generation.</p>")
    return "".join(out)


def _markdown_tables(text: str) -> str:
    """HTML for the Markdown written by ``format_quality``: paragraphs and pipe tables."""
    out: list[str] = []
    rows: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            if not set(line) <= set("|-"):
                tag = "th" if not rows else "td"
                rows.append(
                    "<tr>" + "".join(f"<{tag}>{escape(c.strip())}</{tag}>" for c in line.strip("|").split("|"))
                )
            continue
        if rows:
            out.append("<table class='quality'>" + "".join(r + "</tr>" for r in rows) + "</table>")
            rows = []
        if line.strip():
            out.append(f"<p>{escape(line)}</p>")
    return "".join(out)


def _prior_samples(config: dict[str, Any]) -> Path | None:
    """The base model's own sample grid: a shipped prior's ``samples.png`` or a seas pretrain folder's latest."""
    base = config.get("base_model") or {}
    if base.get("kind") == "builtin-prior":
        try:
            path = prior_dir(str(base.get("name"))) / "samples.png"
        except (ConfigError, KeyError):  # no demo folder here, or a prior this version does not ship
            return None
        return path if path.is_file() else None
    if base.get("kind") == "folder":
        grids = sorted(
            (Path(base["path"]) / "unet_train" / "samples").glob("step-*.png"), key=lambda p: int(p.stem.split("-")[1])
        )
        return grids[-1] if grids else None
    return None


def _quality_section(run: Path, report: Path, config: dict[str, Any], tree: Path) -> str:
    """Reconstruction strip, the prior's samples and the pair-quality tables of ``seas evaluate quality``."""
    out = ["<h2>Pair quality</h2>"]
    prior = _prior_samples(config)
    if prior is not None:
        out.append(
            f'<p>Base model samples ("a photo of a &lt;product&gt;", from noise):</p>'
            f"<div class='wide'><a href='{_link(prior, report)}'><img src='{_link(prior, report)}' "
            f"alt='prior samples'></a></div>"
        )
    strip = RunFolder(run).evaluation / "reconstruction.png"
    if strip.is_file():
        out.append(
            f"<p>VAE: originals (top; test/good, then one held-out defect per type) over reconstructions:</p>"
            f"<div class='wide'><img src='{_link(strip, report)}' alt='reconstruction strip'>"
            "</div>"
        )
    zoom = RunFolder(run).evaluation / "reconstruction_defects.png"
    if zoom.is_file():
        out.append(
            f"<p>VAE on held-out defects, magnified around each mask (originals over reconstructions): "
            f"a defect the VAE paints over is one no generator on it can draw:</p>"
            f"<div class='wide'><img src='{_link(zoom, report)}' alt='defect reconstruction strip'>"
            "</div>"
        )
    quality = RunFolder(run).evaluation / "quality.md"
    if quality.is_file():
        out.append(f"<div id='quality'>{_markdown_tables(quality.read_text(encoding='utf-8'))}</div>")
        record = _result(quality.with_suffix(".json"), run) or {}
        out.append(_inputs_note(record, run, tree, f"seas evaluate quality --run-dir {run}"))
    if len(out) == 1:
        out.append("<p class='note'>No quality evaluation yet: run seas evaluate quality.</p>")
    return "".join(out)


def _placed_note(records: list[dict[str, Any]]) -> str:  # Any: JSON
    """How the masks were made, when they were placed from the training defects (``--mask-source train``)."""
    placed = [r for r in records if "mask_from" in r]
    if not placed:
        return ""
    settings = placed[0].get("settings", {})
    start = (
        "the training defect pasted under it" if settings.get("placed_start") == "defect" else "the normal reference"
    )
    noised = f"strength {settings.get('strength')}" if settings.get("start") == "strength" else "the start step"
    about = "about the defect's centre" if settings.get("placed_turn") == "defect" else "with the picture"
    return (
        f"; masks: training masks of the type, turned and flipped {about} (--mask-source train), the picture "
        f"changed inside only; start: {start}, noised to {noised} and redrawn"
    )


def _type_section(name: str, folder: Path, reals: list[tuple[Path, Path]], report: Path, per_type: int) -> str:
    records = accepted(folder.parent, name, read_manifest(folder))  # after seas review: the accepted pairs
    cells = []
    for r in records[:per_type]:
        stem = f"{name}_{r['index']:04d}"
        image, mask = folder / r["image"], folder / r["mask"] if "mask" in r else None
        shown = [("image", image, None)]
        shown += [("mask", mask, None), ("overlay", image, mask), ("zoom", image, mask)] if mask else []
        imgs = []
        for kind, src, msk in shown:
            thumb = report / "thumbs" / f"{stem}_{kind}.png"
            _thumb(src, thumb, kind, msk)
            imgs.append(f"<a href='{_link(src, report)}'><img src='thumbs/{thumb.name}' alt='{kind} {stem}'></a>")
        fraction = f"{r['mask_fraction']:.2%}" if r.get("mask_fraction") is not None else "–"
        source = f" from {escape(Path(r['mask_from']['mask']).name)}" if "mask_from" in r else ""
        scores = r.get("scores", {})
        scored = "".join(
            f"<br>{label} {scores[key]:.2f}" for key, label in SHOWN_SCORES if isinstance(scores.get(key), float)
        )
        cells.append(
            f"<div class='pair'>{''.join(imgs)}<br>#{r['index']} seed {r['seed']} mask {fraction}{source}"
            f"{scored}</div>"
        )
    real_cells = []
    for k, (path, mask) in enumerate(reals[:per_type]):
        imgs = []
        for kind, src, msk in (
            ("image", path, None),
            ("mask", mask, None),
            ("overlay", path, mask),
            ("zoom", path, mask),
        ):
            thumb = report / "thumbs" / f"{name}_real_{k}_{kind}.png"
            _thumb(src, thumb, kind, msk)
            imgs.append(f"<a href='{_link(src, report)}'><img src='thumbs/{thumb.name}' alt='real {kind} {k}'></a>")
        real_cells.append(f"<div class='pair'>{''.join(imgs)}<br>{escape(path.name)}</div>")
    fractions = [float(r["mask_fraction"]) for r in records if r.get("mask_fraction") is not None]
    stats = (
        f"<p>{len(records)} pairs, {_rejections_line(records)}, mean mask coverage "
        f"{(np.mean(fractions) if fractions else 0):.2%}{_placed_note(records)}{_scores_line(records)}</p>"
    )
    return (
        f"<h3 id='type-{escape(name)}'>{escape(name)}</h3>{stats}{histogram_svg('mask coverage', fractions)}"
        f"<p>generated image | mask | overlay | zoom (around the mask, outline only)</p>"
        f"<div class='grid'>{''.join(cells)}</div>"
        f"<p>real training examples: image | mask | overlay | zoom</p>"
        f"<div class='grid'>{''.join(real_cells)}</div>"
    )


def _rejections_line(records: list[dict[str, Any]]) -> str:  # Any: JSON
    """How many draws were dropped, and why (mask filter, --keep rule, --best-of), e.g. '3 rejected draws (...)'."""
    reasons = Counter(str(d.get("reason", "?")) for r in records for d in r.get("rejections", []))
    total = sum(reasons.values())
    why = ", ".join(f"{n} {escape(reason)}" for reason, n in sorted(reasons.items()))
    return f"{total} rejected draws" + (f" ({why})" if why else "")


def _scores_line(records: list[dict[str, Any]]) -> str:  # Any: JSON
    """The kept pairs' median scores (seas.generate.pair_scores; '' for pairs made before scores existed)."""
    medians = []
    for key, label in SHOWN_SCORES:
        values = [r["scores"][key] for r in records if isinstance(r.get("scores", {}).get(key), float)]
        if values:
            medians.append(f"{label} {float(np.median(values)):.2f}")
    return f"; median scores: {', '.join(medians)} (docs/usage.md)" if medians else ""


def _review_line(tree: Path) -> str:
    """A line saying the pairs were reviewed and only the accepted ones are shown and used ('' without a review)."""
    decisions = read_decisions(tree)
    if decisions is None:
        return ""
    kept = sum(v == "accept" for v in decisions.values())
    dropped = sum(v == "reject" for v in decisions.values())
    return (
        f"<p id='review'>Reviewed with seas review ({escape(str(tree / REVIEW_FILE))}): {kept} accepted, "
        f"{dropped} rejected; only the accepted pairs are shown here and used by the evaluation and the exports.</p>"
    )


def build_report(run: Path, out: Path | None = None, generated: Path | None = None, per_type: int = 8) -> Path:
    """Write ``<out>/index.html`` (default ``<run>/report``) and its thumbnails; returns the html path."""
    folder = RunFolder(run)
    report = out or folder.report
    (report / "thumbs").mkdir(parents=True, exist_ok=True)
    fix = f"rerun the stage that wrote it into {run} (seas train, or seas generate for {folder.weight_ids.name})"
    config, split, ids = (
        read_json(p, fix, lambda r: dict(r)) if p.is_file() else {}
        for p in (folder.record, folder.split, folder.weight_ids)
    )
    product = split.get("product", "?")
    root = Path(split.get("root", "."))
    tree = folder.generated(product, generated)
    sections = []
    for name in sorted(split.get("types", {})):
        reals = [(root / p["image"], root / p["mask"]) for p in split["types"][name]["train"]]
        if (tree / name / "manifest.jsonl").is_file():
            sections.append(_type_section(name, tree / name, reals, report, per_type))
    html = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>SeaS report: {escape(product)}</title>"
        f"<style>{STYLE}</style>{CHECK_SCRIPT}</head><body><h1>SeaS report: {escape(product)}</h1>"
        f"<p>run <code>{escape(str(run))}</code>; checkpoints {escape(json.dumps(ids))}</p>"
        f"{_metrics_section(run, tree, report)}{_quality_section(run, report, config, tree)}"
        f"<h2>Generated pairs</h2>{_review_line(tree)}{''.join(sections) or '<p class=note>none</p>'}"
        f"{_loss_section(run)}<h2>Configuration</h2><pre>{escape(json.dumps(config, indent=2))}</pre>"
        f"</body></html>"
    )
    index = report / "index.html"
    atomic_write_text(index, html)
    return index
