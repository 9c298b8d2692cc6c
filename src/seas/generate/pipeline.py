"""Batched sampling of (image, mask) pairs: the UA prompt, CFG, DPM-Solver++, RMP on the last steps.

Every image has its own seeded generator (its reference VAE sample and start noise), its
reference image is encoded alone, and with ``rmp_bn: eval`` the mask head uses running
statistics, so an image and its mask do not depend on the batch they were made in (up to the
rounding of batched kernels).

Memory: the work at full image resolution (the VAE decoder's features, the RMP head's 192-channel
activations, the final decode) runs one image at a time, so peak memory does not grow with
``--batch-size`` beyond the U-Net's latents (at 256² with ``tiny``, 5.7 GB for a batch of 8 when it
was batched). The exception is ``rmp_bn: batch``, whose statistics are the whole batch's by definition.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seas.config import GenerateConfig
from seas.data.augment import from_training_rgb, to_training_rgb
from seas.data.imageio import read_rgb
from seas.generate.placed_masks import defect_start_rgb, known_latents, latent_mask, placed_pixels
from seas.generate.sampler import make_scheduler, start_latents
from seas.models.loading import SDComponents
from seas.stage1.prompts import tokenize
from seas.stage2.features import unet_features, vae_decoder_features
from seas.stage2.rmp import RMPHead

__all__ = ["Job", "MaskedSampler", "Result"]


@dataclass(frozen=True)
class Job:
    """One image to make: its index, seed, prompt, reference image and placed mask (``--mask-source train``)."""

    index: int
    attempt: int
    seed: int
    prompt: str
    reference: Path | None
    with_mask: bool
    mask: np.ndarray | None = field(default=None, compare=False)
    # Any: JSON, the draw's record; with --placed-start defect its "image" is the training image that starts the mask
    mask_origin: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Result:
    """A generated image ``[H, W, 3]`` uint8 and mask ``[H, W]`` bool (None without RMP), with the mask's fraction."""

    job: Job
    image: np.ndarray
    mask: np.ndarray | None
    mask_fraction: float | None


class MaskedSampler:
    """Holds the models on their device and turns batches of jobs into results."""

    def __init__(
        self,
        parts: SDComponents,
        rmp: RMPHead | None,
        cfg: GenerateConfig,
        resolution: int,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.parts, self.cfg, self.resolution, self.device, self.dtype = parts, cfg, resolution, device, dtype
        for module in (parts.unet, parts.vae, parts.text_encoder):
            module.to(device)
            if dtype != torch.float32:
                module.to(dtype=dtype)
            module.eval()
        if rmp is not None and cfg.rmp_bn == "eval":
            rmp = rmp.fused_for_inference()  # running statistics: BatchNorm folds into the convolutions
        elif rmp is not None:
            rmp.train()  # batch: the reference's batch statistics, masks depend on batch-mates (pitfall 15)
        self.rmp = rmp.to(device) if rmp is not None else None
        self.scale = parts.scaling_factor
        self._hidden: dict[str, torch.Tensor] = {}
        self._posteriors: dict[Path, tuple[torch.Tensor, torch.Tensor]] = {}
        # References at the resolution in [-1, 1], kept only where a placed mask needs the picture itself:
        # --placed-start defect pastes into it, --placed-background photo shows it beyond the mask.
        self._keep_rgb = cfg.places_masks and (cfg.placed_start == "defect" or cfg.placed_background == "photo")
        self._rgb: dict[Path, np.ndarray] = {}

    def _encode(self, prompt: str) -> torch.Tensor:
        """``[T, D]`` text context of one prompt (cached: prompts repeat for every image)."""
        if prompt not in self._hidden:
            ids = tokenize(self.parts.tokenizer, prompt)[None].to(self.device)  # [1, T]
            with torch.no_grad():
                self._hidden[prompt] = self.parts.text_encoder(ids)[0][0]
        return self._hidden[prompt]

    def _posterior(self, rgb: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """VAE posterior mean and std of one ``[3, R, R]`` picture in [-1, 1]."""
        image = torch.from_numpy(rgb)[None].to(self.device, self.dtype)
        dist = self.parts.vae.encode(image).latent_dist  # one image at a time
        return dist.mean.float(), dist.std.float()

    def _reference_latents(
        self, jobs: list[Job], generators: list[torch.Generator]
    ) -> tuple[torch.Tensor, torch.Tensor, list[np.ndarray | None]] | None:
        """Unscaled ``z / s`` of each job's start picture and of its reference, and the defect starts' pictures.

        The start is the reference without a defect start; each picture is ``[3, R, R]`` in [-1, 1] (None
        without a defect start).
        """
        if self.cfg.start == "noise":
            return None
        starts, references, pictures = [], [], []
        for job, generator in zip(jobs, generators, strict=True):
            assert job.reference is not None
            if job.reference not in self._posteriors:  # references repeat: their posterior is computed once
                rgb = to_training_rgb(read_rgb(job.reference), self.resolution, "crop")
                if self._keep_rgb:
                    self._rgb[job.reference] = rgb
                self._posteriors[job.reference] = self._posterior(rgb)
            mean, std = self._posteriors[job.reference]
            eps = torch.randn(mean.shape, generator=generator, device=self.device, dtype=torch.float32)
            references.append(mean + std * eps)  # unscaled z / s, as the reference uses
            picture = None
            if job.mask_origin is not None and "image" in job.mask_origin:
                assert job.mask is not None
                picture = defect_start_rgb(
                    self._rgb[job.reference],
                    Path(job.mask_origin["image"]),
                    job.mask_origin,
                    job.mask,
                    self.cfg.mask_margin,
                )
                mean, std = self._posterior(picture)  # the same draw of the posterior noise
            starts.append(mean + std * eps)
            pictures.append(picture)
        return torch.cat(starts), torch.cat(references), pictures

    @torch.no_grad()
    def run(self, jobs: list[Job]) -> list[Result]:
        """Generate one batch."""
        cfg, device = self.cfg, self.device
        generators = [torch.Generator(device=device).manual_seed(job.seed) for job in jobs]
        latents = self._reference_latents(jobs, generators)
        start, raw, pictures = latents if latents is not None else (None, None, [None] * len(jobs))
        latent = self.resolution // 8
        noise = torch.cat([torch.randn((1, 4, latent, latent), generator=g, device=device) for g in generators])
        scheduler = make_scheduler(self.parts.scheduler.config, self.parts.prediction_type, cfg.timestep_spacing)
        scheduler.set_timesteps(cfg.steps, device=device)
        x, timesteps = start_latents(cfg.start, start, noise, scheduler, self.scale, cfg.strength, cfg.extended_steps)
        use_cfg = cfg.guidance > 1
        cond = torch.stack([self._encode(job.prompt) for job in jobs])
        hidden = torch.cat([self._encode(cfg.negative_prompt).expand_as(cond), cond]) if use_cfg else cond
        placed = [job.mask for job in jobs if job.mask is not None]
        if placed and (len(placed) != len(jobs) or raw is None):
            msg = "placed masks need every job of the batch to have one, and a reference start"
            raise ValueError(msg)
        free = latent_mask(placed, device) if placed else None  # where the picture may change
        known = raw * self.scale if placed and raw is not None else None  # the reference latent, model units
        with_mask = self.rmp is not None and all(job.with_mask for job in jobs) and not placed
        probs = torch.zeros((len(jobs), self.resolution, self.resolution), device=device)
        # A strength start can run fewer steps than --mask-steps: average over the steps that ran.
        mask_steps = min(cfg.mask_steps, len(timesteps))
        for i, t in enumerate(timesteps):
            is_mask_step = with_mask and i >= len(timesteps) - mask_steps
            model_in = torch.cat([x, x]) if use_cfg else x
            taps = unet_features(self.parts.unet) if is_mask_step else nullcontext([])
            with taps as feats:  # type: ignore[attr-defined]
                eps = self.parts.unet(model_in.to(self.dtype), t, hidden).sample.float()
            if use_cfg:
                eps_u, eps_c = eps.chunk(2)
                eps = eps_u + cfg.guidance * (eps_c - eps_u)
            if is_mask_step:
                probs += self._mask_probability(feats, x, len(jobs), use_cfg)
            x = scheduler.step(eps, t, x).prev_sample
            if free is not None and known is not None:
                after = int(timesteps[i + 1]) if i + 1 < len(timesteps) else None
                alpha_bar = None if after is None else scheduler.alphas_cumprod[after].to(device)
                x = free * x + (1 - free) * known_latents(known, noise, alpha_bar)
        pixels = self._decode(x / self.scale)
        results = []
        for k, job in enumerate(jobs):
            if job.mask is not None:
                assert raw is not None
                assert start is not None
                assert job.reference is not None
                photo: np.ndarray | None = None  # without one: the decoded reference beyond the mask
                base = raw
                if cfg.placed_background == "photo":
                    # The photo is the picture the sampler started from. Under a defect start that is the pasted
                    # training defect, whose fine detail (a 3 px bead) the VAE drops: the generator's change from
                    # that start is added to it, so the detail stays where the generator leaves it.
                    picture = pictures[k]
                    rgb: np.ndarray = self._rgb[job.reference] if picture is None else picture
                    base = raw if picture is None else start
                    photo = from_training_rgb(rgb)
                decoded = self._decode(base[k : k + 1])[0]  # the picture the change is measured from, as decoded
                image = placed_pixels(pixels[k], decoded, job.mask, cfg.mask_margin, photo)
                results.append(Result(job, image, job.mask, float(job.mask.mean())))
            elif with_mask:
                mask = (probs[k] / mask_steps > cfg.mask_threshold).cpu().numpy()
                results.append(Result(job, pixels[k], mask, float(mask.mean())))
            else:
                results.append(Result(job, pixels[k], None, None))
        return results

    def _decode(self, latents: torch.Tensor) -> np.ndarray:
        """``[B, R, R, 3]`` uint8 pictures of unscaled latents ``z / s``, decoded one at a time."""
        images = torch.cat([self.parts.vae.decode(z.to(self.dtype)).sample.float() for z in latents.split(1)])
        return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

    def _mask_probability(self, feats: list[torch.Tensor], x: torch.Tensor, batch: int, use_cfg: bool) -> torch.Tensor:
        """Defect probability ``[B, R, R]`` from the step's conditional U-Net features and ``x_t``'s VAE features."""
        assert self.rmp is not None
        u32, u64 = (f[batch:] if use_cfg else f for f in feats)  # conditional half
        chunk = batch if self.rmp.training else 1  # batch statistics need the batch; else one image at a time
        probs = []
        for k in range(0, batch, chunk):
            vae_feats = vae_decoder_features(self.parts.vae, x[k : k + chunk] / self.scale)
            with torch.autocast(self.device.type, enabled=self.dtype != torch.float32, dtype=self.dtype):
                out = self.rmp(u32[k : k + chunk].float(), u64[k : k + chunk].float(), [v.float() for v in vae_feats])
            probs.append(out[:, 1].float())
        return torch.cat(probs)
