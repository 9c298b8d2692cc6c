"""Generation metrics (docs/method.md §2.10): IC-LPIPS (DFMGAN definition) and Inception Score.

The feature networks are injected: ``distance(a, b)`` returns one LPIPS distance per image pair
(``[N, 3, H, W]`` images in [-1, 1]) and ``classify(x)`` returns class probabilities ``[N, C]``.
The real networks (LPIPS AlexNet/VGG, torch-fidelity's Inception-v3) need optional packages and
local weights; :func:`load_lpips` and :func:`load_inception` fail with one line saying what is
needed. The core package never imports torchvision, lpips or torch-fidelity.

Deliberate differences from the authors' script (pitfall 19): both image sets are resized to the
same size and scaled to [-1, 1]; generated images are taken in file-name order (or a seeded
permutation), never by hard-coded names; the network and cap are explicit (``alex``/200 default,
``vgg``/140 approximates the reference) and recorded with every result.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from seas.config import package_versions
from seas.data.imageio import read_rgb
from seas.errors import ModelLoadError

__all__ = ["evaluate_generation", "ic_lpips", "inception_score", "load_images", "load_inception", "load_lpips"]

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Classifier = Callable[[torch.Tensor], torch.Tensor]


def load_images(paths: list[Path], size: int) -> torch.Tensor:
    """``[N, 3, size, size]`` float in [-1, 1] (bilinear resize, both real and generated sets alike)."""
    arrays = [np.asarray(Image.fromarray(read_rgb(p)).resize((size, size), Image.Resampling.BILINEAR)) for p in paths]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def _pair_chunks(members: list[int], size: int) -> Iterator[tuple[list[int], list[int]]]:
    """The ordered pairs ``(i, j), i != j`` of ``members``, ``size`` at a time (never all at once)."""
    pairs = ((i, j) for i in members for j in members if i != j)
    while chunk := list(itertools.islice(pairs, size)):
        yield [i for i, _ in chunk], [j for _, j in chunk]


def ic_lpips(
    generated: torch.Tensor,
    reals: torch.Tensor,
    distance: Distance,
    cap: int = 200,
    seed: int | None = None,
    batch_size: int = 64,
) -> dict[str, Any]:  # Any: JSON values
    """Intra-cluster LPIPS: diversity of generated images around each real image.

    Each generated image (file order, or a permutation seeded by ``seed``) joins the cluster of its
    LPIPS-nearest real image if that cluster holds fewer than ``cap``, else it is dropped. Per cluster:
    mean LPIPS over ordered pairs ``Σ/(n(n−1))`` (0 for ``n ≤ 1``). Result: mean over all clusters,
    empty ones included, and the mean over non-empty ones.

    Pairs go to ``distance`` ``batch_size`` at a time and are summed in float64, so memory stays fixed
    however large a cluster is (a cluster of 200 has 39,800 ordered pairs: 31 GB per operand at 256²
    if materialised at once).

    Args:
        generated: ``[G, 3, H, W]`` in [-1, 1] (may stay on the CPU: chunks are moved by ``distance``).
        reals: ``[R, 3, H, W]`` in [-1, 1].
        distance: Pairwise LPIPS of two equally long batches -> ``[N]``.
        cap: Largest cluster.
        seed: Optional order permutation.
        batch_size: Pairs per ``distance`` call.
    """
    order = list(range(len(generated)))
    if seed is not None:
        order = [int(i) for i in np.random.default_rng(seed).permutation(len(generated))]
    clusters: list[list[int]] = [[] for _ in range(len(reals))]
    dropped = 0
    for g in order:
        d = torch.cat(
            [
                distance(generated[g : g + 1].expand(len(part), -1, -1, -1), part).cpu()
                for part in torch.split(reals, batch_size)
            ]
        )
        nearest = int(torch.argmin(d))
        if len(clusters[nearest]) < cap:
            clusters[nearest].append(g)
        else:
            dropped += 1
    values = []
    for members in clusters:
        if len(members) <= 1:
            values.append(0.0)
            continue
        total = sum(
            float(distance(generated[a], generated[b]).double().sum()) for a, b in _pair_chunks(members, batch_size)
        )
        values.append(total / (len(members) * (len(members) - 1)))
    nonzero = [v for v, m in zip(values, clusters, strict=True) if len(m) > 1]
    nonzero_mean = float(np.mean(nonzero)) if nonzero else 0.0
    return {
        "ic_lpips": float(np.mean(values)),
        "ic_lpips_nonzero_clusters": nonzero_mean,
        "cluster_sizes": [len(m) for m in clusters],
        "dropped": dropped,
        "cap": cap,
        "seed": seed,
        "generated": len(generated),
        "reals": len(reals),
    }


def inception_score(
    images: torch.Tensor, classify: Classifier, splits: int = 10, batch_size: int = 64
) -> dict[str, float]:
    """Inception Score ``exp(E_x KL(p(y|x) || p(y)))`` over ``splits`` equal parts: mean and std.

    ``classify`` sees at most ``batch_size`` images per call.
    """
    probs = torch.cat([classify(part).cpu() for part in torch.split(images, batch_size)])
    probs = probs.double().clamp_min(1e-12)  # [N, C]
    scores = []
    for part in torch.tensor_split(probs, splits):
        marginal = part.mean(dim=0, keepdim=True)
        kl = (part * (part.log() - marginal.log())).sum(dim=1).mean()
        scores.append(float(kl.exp()))
    return {"is_mean": float(np.mean(scores)), "is_std": float(np.std(scores)), "splits": splits}


BACKBONE_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}  # torchvision's file names


def load_lpips(net: str, torch_home: Path | None = None, device: str = "cpu") -> Distance:
    """The LPIPS distance (``alex`` or ``vgg``) from the optional ``lpips`` package.

    Args:
        net: Backbone.
        torch_home: Folder holding ``hub/checkpoints/<backbone file>`` (default: ``$TORCH_HOME``).
        device: Where the network runs; inputs are moved there, distances come back on the CPU.

    Raises:
        ModelLoadError: The packages or the backbone weights are missing (one line saying what to install/place).
    """
    missing = [m for m in ("lpips", "torchvision") if importlib.util.find_spec(m) is None]
    if missing:
        subject = "IC-LPIPS"
        raise ModelLoadError(
            subject,
            f"needs the optional package(s) {', '.join(missing)}",
            "pip install lpips torchvision (matching your torch build) to compute it",
        )
    root = torch_home or Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
    weights = root / "hub" / "checkpoints" / BACKBONE_FILES[net]
    if not weights.is_file():
        fix = "copy torchvision's file there (no download is attempted) or pass --torch-home"
        raise ModelLoadError(weights, f"LPIPS {net} backbone weights not found", fix)
    os.environ["TORCH_HOME"] = str(root)  # torchvision reads the backbone from here instead of downloading
    import lpips

    model = lpips.LPIPS(net=net, verbose=False).eval().to(device)
    return lambda a, b: model(a.to(device), b.to(device)).flatten().cpu()


def load_inception(weights: Path | None = None, device: str = "cpu") -> Classifier:
    """torch-fidelity's Inception-v3 classifier (``SEAS_INCEPTION_WEIGHTS`` or ``weights``: its .pth file).

    The network runs on ``device``; probabilities come back on the CPU.

    Raises:
        ModelLoadError: The package or the weights file is missing.
    """
    if importlib.util.find_spec("torch_fidelity") is None:
        subject = "Inception Score"
        raise ModelLoadError(
            subject, "needs the optional package torch-fidelity", "pip install torch-fidelity to compute it"
        )
    path = weights or (Path(os.environ["SEAS_INCEPTION_WEIGHTS"]) if "SEAS_INCEPTION_WEIGHTS" in os.environ else None)
    if path is None or not path.is_file():
        raise ModelLoadError(
            path or "SEAS_INCEPTION_WEIGHTS",
            "Inception-v3 weights file not found",
            "download weights-inception-2015-12-05-6726825d.pth once and point to it",
        )
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    model = FeatureExtractorInceptionV3(
        "inception-v3-compat", ["logits_unbiased"], feature_extractor_weights_path=str(path)
    )
    model.eval().to(device)

    def classify(x: torch.Tensor) -> torch.Tensor:
        uint8 = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
        return model(uint8.to(device))[0].softmax(dim=1).cpu()

    return classify


def describe(net: str, resolution: int) -> dict[str, Any]:  # Any: JSON values
    """What every result records besides the numbers."""
    return {"net": net, "resolution": resolution, "versions": package_versions()}


def evaluate_generation(cfg: Any) -> dict[str, Any]:  # Any: GenerationMetricsConfig / JSON results
    """IC-LPIPS and IS per defect type of a generated tree; writes ``<run>/evaluation/generation.json``."""
    from seas.evaluate.inputs import evaluation_inputs
    from seas.files import atomic_write_json
    from seas.run_folder import RunFolder, read_run

    device = "cuda" if torch.cuda.is_available() and not cfg.cpu else "cpu"
    distance = load_lpips(cfg.net, cfg.torch_home, device)
    classify = load_inception(cfg.inception_weights, device)
    split = read_run(cfg.run_dir).split
    tree = RunFolder(cfg.run_dir).generated(split.product, cfg.generated)
    results: dict[str, Any] = {
        **describe(cfg.net, cfg.metric_resolution),
        "real_set": cfg.real_set,
        "types": {},
        "generated": str(tree),
        "inputs": evaluation_inputs(cfg.run_dir, tree),
    }
    for t, entry in sorted(split.types.items()):
        real_paths = {"all": entry.train + entry.heldout, "train": entry.train, "holdout": entry.heldout}[cfg.real_set]
        generated = load_images(sorted((tree / t / "image").glob("*.png")), cfg.metric_resolution)
        reals = load_images([p for p, _ in real_paths], cfg.metric_resolution)
        with torch.no_grad():
            results["types"][t] = {
                **ic_lpips(generated, reals, distance, cfg.cap, cfg.order_seed, cfg.metric_batch_size),
                **inception_score(generated, classify, cfg.splits, cfg.metric_batch_size),
            }
    for key in ("ic_lpips", "is_mean"):
        results[f"mean_{key}"] = float(np.mean([v[key] for v in results["types"].values()]))
    atomic_write_json(RunFolder(cfg.run_dir).evaluation / "generation.json", results)
    return results
