"""Masks placed from the training defects (--mask-source train): the draw, the latent cells, the paste."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from seas.data.augment import rotate_flip
from seas.generate.placed_masks import known_latents, latent_mask, pick_training_mask, placed_pixels


def _mask_file(path: Path, mask: np.ndarray) -> Path:
    Image.fromarray(mask.astype(np.uint8) * 255).save(path)
    return path


def test_the_draw_is_seeded_and_is_a_turned_and_flipped_training_mask(tmp_path: Path) -> None:
    lshape = np.zeros((32, 32), dtype=bool)
    lshape[2:12, 2:5] = lshape[9:12, 2:10] = True  # an L: every turn and flip gives another mask
    pool = [_mask_file(tmp_path / "a.png", lshape), _mask_file(tmp_path / "b.png", np.roll(lshape, 12, axis=0))]
    first, origin = pick_training_mask(pool, seed=5, resolution=32)
    again, same_origin = pick_training_mask(pool, seed=5, resolution=32)
    assert np.array_equal(first, again)
    assert origin == same_origin
    source = lshape if origin["mask"].endswith("a.png") else np.roll(lshape, 12, axis=0)
    assert np.array_equal(first, rotate_flip(source, origin["turns"], origin["flip"]))  # same size: no resize
    draws = {tuple(pick_training_mask(pool, seed, 32)[0].ravel()) for seed in range(40)}
    assert len(draws) > 8  # files, turns and flips all vary with the seed


def test_a_defect_smaller_than_a_pixel_after_the_resize_is_kept(tmp_path: Path) -> None:
    tiny = np.zeros((256, 256), dtype=bool)
    tiny[100:102, 100:102] = True  # 2 px at 256 -> a quarter pixel at 64
    mask, _ = pick_training_mask([_mask_file(tmp_path / "t.png", tiny)], seed=0, resolution=64)
    assert mask.shape == (64, 64)
    assert 1 <= mask.sum() <= 4


def test_latent_cells_are_free_wherever_a_mask_pixel_falls() -> None:
    mask = np.zeros((32, 32), dtype=bool)
    mask[9, 9] = mask[31, 0] = True
    free = latent_mask([mask], torch.device("cpu"))
    assert free.shape == (1, 1, 4, 4)
    assert free[0, 0].nonzero().tolist() == [[1, 1], [3, 0]]


def test_known_latents_follow_the_noise_schedule_and_end_clean() -> None:
    reference, noise = torch.full((1, 4, 2, 2), 2.0), torch.ones((1, 4, 2, 2))
    assert torch.equal(known_latents(reference, noise, None), reference)
    noised = known_latents(reference, noise, torch.tensor(0.64))
    assert torch.allclose(noised, torch.full_like(reference, 0.8 * 2 + 0.6))


@pytest.mark.parametrize("margin", [0, 2])
@pytest.mark.parametrize("with_photo", [False, True])
def test_the_picture_is_the_reference_beyond_the_margin(margin: int, with_photo: bool) -> None:
    rng = np.random.default_rng(0)
    generated, decoded, photo = (rng.integers(40, 216, (32, 32, 3), dtype=np.uint8) for _ in range(3))
    mask = np.zeros((32, 32), dtype=bool)
    mask[10:14, 12:20] = True
    out = placed_pixels(generated, decoded, mask, margin, photo if with_photo else None)
    base = photo if with_photo else decoded
    # On the mask: the base plus the generator's whole change (the generated picture itself on a decoded base)
    expected = np.clip(base.astype(np.int16) + generated.astype(np.int16) - decoded.astype(np.int16), 0, 255)
    assert np.array_equal(out[mask], expected[mask])
    far = np.ones_like(mask)
    far[10 - 2 * margin : 14 + 2 * margin, 12 - 2 * margin : 20 + 2 * margin] = False
    assert np.array_equal(out[far], base[far])
    near = ~mask & ~far
    if margin:  # the margin fades between the two
        assert not np.array_equal(out[near], base[near])
    else:
        assert np.array_equal(out[near], base[near])


def test_a_defect_turned_about_its_centre_stays_where_it_was(tmp_path: Path) -> None:
    from seas.data.augment import to_training_mask

    lshape = np.zeros((40, 24), dtype=bool)  # not square: turning the whole picture would change its shape
    lshape[15:21, 18:20] = lshape[19:21, 18:23] = True  # an L at the right edge, bounding box centre (17, 20)
    path = _mask_file(tmp_path / "l.png", lshape)
    moved = 0
    for seed in range(12):
        mask, origin = pick_training_mask([path], seed=seed, resolution=24, about="defect")
        assert origin["centre"] == [17, 20]
        full = np.zeros_like(lshape)  # the L turned and flipped as drawn inside a square about its centre
        full[14:21, 17:24] = rotate_flip(lshape[14:21, 17:24], origin["turns"], origin["flip"])
        assert np.array_equal(mask, to_training_mask(full, 24, "crop")[0] > 0.5)  # the crop keeps rows 8-31
        whole, _ = pick_training_mask([path], seed=seed, resolution=24)  # about the picture's middle
        moved += not np.array_equal(whole, mask)
    assert moved > 6  # the training augmentation moves it; turning about the defect does not


@pytest.mark.parametrize("about", ["image", "defect"])
def test_the_defect_start_puts_the_training_defect_under_its_placed_mask(tmp_path: Path, about: str) -> None:
    from seas.generate.placed_masks import defect_start_rgb

    lshape = np.zeros((32, 32), dtype=bool)
    lshape[2:12, 2:5] = lshape[9:12, 2:10] = True
    mask_path = _mask_file(tmp_path / "d_mask.png", lshape)
    photo = np.full((32, 32, 3), 40, dtype=np.uint8)
    photo[lshape] = (250, 200, 10)  # the defect: an orange L where the mask is
    photo[20:, 20:] = 90  # texture elsewhere in the defect photo, which must not reach the start
    Image.fromarray(photo).save(tmp_path / "d.png")
    reference = np.full((3, 32, 32), -0.5, dtype=np.float32)
    for seed in range(6):
        mask, origin = pick_training_mask([mask_path], seed=seed, resolution=32, about=about)
        start = defect_start_rgb(reference, tmp_path / "d.png", origin, mask, margin=1)
        orange = np.array([250, 200, 10], dtype=np.float32)[:, None] / 127.5 - 1
        assert np.allclose(start[:, mask], orange)  # the turned, flipped defect lies exactly under the turned mask
        grown = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(7))) > 0
        assert np.array_equal(start[:, ~grown], reference[:, ~grown])  # the reference beyond the fading margin
