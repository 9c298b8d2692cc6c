"""``seas benchmark generate``: ms per image (and peak memory) for image + mask, next to stock diffusers.

Both sides use the same components, the same pinned DPM-Solver++ with the same number of steps,
classifier-free guidance and batch size: the stock side is ``StableDiffusionImg2ImgPipeline`` at
strength 1.0 (image only); the SeaS side is :class:`~seas.generate.pipeline.MaskedSampler` (image
plus RMP mask on the last steps, reference start). The ratio is the price of the mask.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import Any

import torch
from diffusers import StableDiffusionImg2ImgPipeline
from PIL import Image

from seas.benchmark.timing import time_interleaved
from seas.config import BenchmarkConfig, DataConfig, GenerateConfig, config_to_dict, package_versions
from seas.data.catalog import load_product
from seas.generate.pipeline import Job, MaskedSampler
from seas.generate.sampler import make_scheduler
from seas.models.loading import load_base_model
from seas.stage2.features import rmp_channels
from seas.stage2.rmp import RMPHead

__all__ = ["run_generate_benchmark"]


def run_generate_benchmark(
    base_model: str, resolution: int, bench: BenchmarkConfig, batch: int, steps: int = 25, guidance: float = 8.0
) -> dict[str, Any]:
    """Measure both pipelines; returns times per image, memory, ratio and environment."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    references = list(load_product(DataConfig()).normals)
    parts = load_base_model(base_model, 0, resolution)
    images = [
        Image.open(references[i % len(references)]).convert("RGB").resize((resolution, resolution))
        for i in range(batch)
    ]
    pipe = StableDiffusionImg2ImgPipeline(
        vae=parts.vae,
        text_encoder=parts.text_encoder,
        tokenizer=parts.tokenizer,
        unet=parts.unet,
        scheduler=make_scheduler(parts.scheduler.config, parts.prediction_type),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    ).to(device, dtype)
    pipe.set_progress_bar_config(disable=True)
    unet_ch, vae_ch = rmp_channels(parts.unet, parts.vae)
    cfg = GenerateConfig(steps=steps, guidance=guidance, batch_size=batch)
    jobs = [
        Job(i, 0, i, "a photo of an object with a defect", references[i % len(references)], True) for i in range(batch)
    ]

    def stock() -> Callable[[], object]:
        def call() -> None:
            prompts = ["a photo of an object with a defect"] * batch
            generator = torch.Generator(device).manual_seed(0)
            pipe(
                prompts,
                image=images,
                strength=1.0,
                num_inference_steps=steps,
                guidance_scale=guidance,
                output_type="np",
                generator=generator,
            )

        return call

    def seas() -> Callable[[], object]:  # the same U-Net, VAE and text encoder modules as the stock pipeline
        sampler = MaskedSampler(parts, RMPHead(unet_ch, vae_ch).eval(), cfg, resolution, device, dtype)
        return lambda: sampler.run(jobs)

    results: dict[str, Any] = {
        "base_model": base_model,
        "resolution": resolution,
        "batch": batch,
        "steps": steps,
        "guidance": guidance,
        "device": device.type,
        "dtype": str(dtype),
    }
    timed = time_interleaved(
        {"stock_img2img": stock, "seas_image_and_mask": seas}, max(bench.warmup, 1), bench.steps, device
    )
    results.update(timed["variants"])
    for key in ("stock_img2img", "seas_image_and_mask"):
        results[key]["ms_per_image"] = 1000 * results[key]["median_s"] / batch
    results["seas_over_stock"] = timed["ratio"]["seas_image_and_mask"]["median"]
    results["seas_over_stock_spread"] = timed["ratio"]["seas_image_and_mask"]
    results["hardware"] = torch.cuda.get_device_name() if device.type == "cuda" else platform.machine()
    results["threads"] = torch.get_num_threads()
    results["settings"] = config_to_dict(bench)
    results["versions"] = package_versions()
    return results
