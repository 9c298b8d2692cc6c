"""Sampler and stage-2 DDPM step against the authors' own outputs (reference_step/inference_start)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import DDPMScheduler
from safetensors.torch import load_file

from seas.generate.sampler import extended_alpha_bar, make_scheduler, start_latents
from seas.stage2.train import ddpm_previous
from tests.conftest import REFERENCE_STEP

FIXTURE = Path(REFERENCE_STEP)


def _sched_config() -> dict[str, object]:
    return json.loads((FIXTURE / "scheduler_sd14" / "scheduler_config.json").read_text())


def test_settings_are_pinned() -> None:
    s = make_scheduler(_sched_config(), "epsilon")
    c = s.config
    assert (c.algorithm_type, c.solver_order, c.solver_type) == ("dpmsolver++", 2, "midpoint")
    assert (c.lower_order_final, c.final_sigmas_type, c.use_karras_sigmas) == (True, "sigma_min", False)
    assert c.timestep_spacing == "linspace"


def test_reference_start_and_25_step_trajectory() -> None:
    S = load_file(str(FIXTURE / "inference_start.safetensors"))
    assert abs(extended_alpha_bar(0.00085, 0.012, 1500) - 3.18296e-4) < 1e-8
    s = make_scheduler(_sched_config(), "epsilon")
    s.set_timesteps(25)
    assert s.timesteps.tolist() == S["timesteps_linspace_25"].tolist()
    x, timesteps = start_latents("reference", S["ref_latents"], S["noise"], s, 0.18215)
    assert torch.allclose(x, S["x_T"], atol=1e-6)
    for i, t in enumerate(timesteps):
        eps = 0.5 * x + (t / 1000) * S["traj_E"]  # the fixture's synthetic model
        x = s.step(eps, t, x).prev_sample
        assert torch.allclose(x, S["traj_latents"][i], atol=1e-4), i
    leading = make_scheduler(_sched_config(), "epsilon", "leading")
    leading.set_timesteps(25)
    assert leading.timesteps.tolist() == S["timesteps_leading_25"].tolist()


def test_strength_start_is_standard_img2img() -> None:
    s = make_scheduler(_sched_config(), "epsilon")
    s.set_timesteps(25)
    z, eps = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    x, timesteps = start_latents("strength", z / 0.18215, eps, s, 0.18215, strength=1.0)
    assert timesteps[0].item() == 999
    a = s.alphas_cumprod[999]
    assert torch.allclose(x, a.sqrt() * z + (1 - a).sqrt() * eps, atol=1e-6)
    assert abs(a.sqrt().item() - 0.0683) < 1e-3
    s.set_timesteps(25)
    _, kept = start_latents("strength", z, eps, s, 0.18215, strength=0.5)
    assert len(kept) == 12


def test_stage2_ddpm_step_matches_reference() -> None:
    step = load_file(str(FIXTURE / "seas_step.safetensors"))
    S = load_file(str(FIXTURE / "inference_start.safetensors"))
    sched = DDPMScheduler.from_config(_sched_config())
    prev = ddpm_previous(
        sched,
        step["model_pred"][:2],
        step["timesteps"][:2],
        step["noisy_latents"][:2],
        torch.Generator().manual_seed(5),
    )
    assert torch.allclose(prev, S["ddpm_step/prev_sample"], atol=1e-5)
