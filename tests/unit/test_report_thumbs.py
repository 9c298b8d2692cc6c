"""Report thumbnails: the zoom shows a small defect large and untouched, framed by the mask's outline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from seas.report.build import THUMB, _thumb


def _pair(tmp_path: Path, top: int, left: int, size: int = 6) -> tuple[Path, Path]:
    image = np.full((128, 128, 3), 40, dtype=np.uint8)
    image[top : top + size, left : left + size] = (200, 180, 20)  # a 0.2 % defect: 6 x 6 of 128 x 128
    mask = np.zeros((128, 128), dtype=np.uint8)
    mask[top : top + size, left : left + size] = 255
    Image.fromarray(image).save(tmp_path / "image.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return tmp_path / "image.png", tmp_path / "mask.png"


def test_zoom_magnifies_the_defect_and_leaves_its_pixels_untinted(tmp_path: Path) -> None:
    image, mask = _pair(tmp_path, 100, 10)
    _thumb(image, tmp_path / "zoom.png", "zoom", mask)
    _thumb(image, tmp_path / "overlay.png", "overlay", mask)
    zoom = np.asarray(Image.open(tmp_path / "zoom.png"))
    assert zoom.shape == (THUMB, THUMB, 3)
    defect = np.all(zoom == (200, 180, 20), axis=-1)
    overlay_defect = np.all(np.asarray(Image.open(tmp_path / "overlay.png")) == (200, 180, 20), axis=-1)
    assert overlay_defect.sum() == 0  # the overlay tints the defect: it cannot be judged there
    assert defect.mean() > 0.02  # 6 x 6 px of 128 fill > 2 % of the zoom (0.2 % of the image)
    assert defect.mean() > 8 * np.mean(
        np.all(np.asarray(Image.open(image).resize((THUMB, THUMB))) == (200, 180, 20), axis=-1)
    )
    red = np.all(zoom == (255, 40, 40), axis=-1)
    assert red.any()
    assert not (red & defect).any()  # the outline lies outside the mask
    rows, cols = np.nonzero(defect)
    assert rows.min() > 0  # near the image corner the crop still holds the whole defect
    assert cols.min() > 0


def test_zoom_of_an_empty_mask_shows_the_centre(tmp_path: Path) -> None:
    image, mask = _pair(tmp_path, 60, 60)
    Image.fromarray(np.zeros((128, 128), dtype=np.uint8)).save(mask)
    _thumb(image, tmp_path / "zoom.png", "zoom", mask)
    zoom = np.asarray(Image.open(tmp_path / "zoom.png"))
    assert np.all(zoom == (200, 180, 20), axis=-1).any()  # the centre quarter holds the (unmasked) square
    assert not np.all(zoom == (255, 40, 40), axis=-1).any()


def test_placed_masks_say_how_they_were_made_and_rmp_masks_say_nothing() -> None:
    from seas.report.build import _placed_note

    settings = {"placed_start": "defect", "placed_turn": "defect", "start": "strength", "strength": 0.7}
    note = _placed_note([{"mask_from": {"mask": "002_mask.png"}, "settings": settings}])
    assert "turned and flipped about the defect's centre" in note
    assert "start: the training defect pasted under it, noised to strength 0.7" in note
    plain = _placed_note([{"mask_from": {"mask": "m.png"}, "settings": {"start": "reference"}}])
    assert "with the picture" in plain
    assert "start: the normal reference, noised to the start step" in plain
    assert _placed_note([{"mask": "mask/0000.png", "settings": settings}]) == ""  # an RMP mask


def test_each_type_says_why_draws_were_dropped_and_its_median_scores() -> None:
    from seas.report.build import _rejections_line, _scores_line

    records = [
        {"scores": {"on_object": 1.0, "change_ratio": 12.0}, "rejections": [{"reason": "--keep on_object>=0.75"}]},
        {
            "scores": {"on_object": 0.8, "change_ratio": 4.0},
            "rejections": [{"reason": "--keep on_object>=0.75"}, {"reason": "--best-of 3: lower change_ratio"}],
        },
        {"scores": {"on_object": 0.9, "change_ratio": 8.0}, "rejections": []},
    ]
    assert _rejections_line(records) == (
        "3 rejected draws (1 --best-of 3: lower change_ratio, 2 --keep on_object&gt;=0.75)"
    )
    assert _scores_line(records) == "; median scores: on object 0.90, change in/out 8.00 (docs/usage.md)"
    assert _rejections_line([{"rejections": []}]) == "0 rejected draws"
    assert _scores_line([{"mask_fraction": 0.1}]) == ""  # pairs made before scores existed
