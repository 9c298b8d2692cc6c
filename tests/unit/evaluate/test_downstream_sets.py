"""The downstream training sets: uint8 stacks filled lazily, synthetic sets seeded per kind."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seas.evaluate.downstream import Placement, stack_pairs, synthetic_pairs
from seas.evaluate.finished_segmenters import FinishedSegmenters
from seas.evaluate.segmenter import SegmenterTraining, defect_probabilities, train_segmenter


def _normals(n: int = 4, size: int = 32) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), np.zeros((size, size), bool)) for _ in range(n)]


def test_stack_pairs_fills_uint8_from_an_iterator_as_from_a_list() -> None:
    items = _normals(5)
    consumed = []

    def lazy():  # type: ignore[no-untyped-def]
        for k, item in enumerate(items):
            consumed.append(k)
            yield item

    images, masks = stack_pairs(lazy(), len(items))
    listed = stack_pairs(items)
    assert images.dtype == torch.uint8
    assert images.shape == (5, 3, 32, 32)
    assert masks.dtype == torch.bool
    assert consumed == [0, 1, 2, 3, 4]
    assert torch.equal(images, listed[0])  # uint8 pixels, copied not computed
    assert torch.equal(images[2].permute(1, 2, 0), torch.from_numpy(items[2][0]))  # uint8 pixels, copied not computed
    assert stack_pairs([])[0].shape[0] == 0


def test_synthetic_sets_are_seeded_per_kind_and_uint8() -> None:
    normals = _normals()
    cut = list(synthetic_pairs("cutpaste-textbook", normals, 6, seed=3))
    again = list(synthetic_pairs("cutpaste-textbook", normals, 6, seed=3))
    perlin = list(synthetic_pairs("perlin-textbook", normals, 6, seed=3))
    assert all(i.dtype == np.uint8 and m.any() for i, m in cut + perlin)
    # exact: uint8 images and masks from the same seeded draws
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(cut, again, strict=True))
    other = list(synthetic_pairs("cutpaste-textbook", normals, 6, seed=4))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(cut, other, strict=True))  # uint8 masks
    outside = ~cut[0][1]
    # exact: uint8 pixels outside the pasted patch are copied
    base_matches = [np.array_equal(cut[0][0][outside], n[0][outside]) for n in normals]
    assert any(base_matches)  # outside its mask a CutPaste image is one of the normals, unchanged


def test_on_object_baselines_put_defect_sized_regions_on_the_object() -> None:
    normals = _normals(size=48)
    allowed = np.zeros((48, 48), bool)
    allowed[10:30, 14:40] = True  # the object
    placement = Placement(allowed, np.asarray([6, 12, 20]))
    for kind in ("perlin", "cutpaste"):
        pairs = list(synthetic_pairs(kind, normals, 12, seed=0, placement=placement))
        for image, mask in pairs:
            assert mask.any()
            assert not (mask & ~allowed).any()  # every defect pixel lies on the object
            assert mask.sum() <= 2 * 20  # sized like the training regions, not a fifth of the picture
            changed = np.any(image != np.stack([n[0] for n in normals])[:, None], axis=-1)
            assert not all((c & ~mask).any() for c in changed[:, 0])  # one normal is unchanged outside the mask
        if kind == "perlin":
            assert {int(m.sum()) for _, m in pairs} <= {6, 12, 20}  # exactly a training region's area
    with pytest.raises(ValueError, match="needs a placement"):
        next(synthetic_pairs("perlin", normals, 1, seed=0))


def test_segmenter_on_uint8_equals_float_input() -> None:
    items = _normals(4)
    items[1][1][8:16, 8:16] = True
    images, masks = stack_pairs(items)
    recipe = SegmenterTraining(epochs=1, batch_size=2, lr=1e-3, seed=0)
    a = train_segmenter(images, masks, recipe, torch.device("cpu"))
    b = train_segmenter(images.float() / 255.0, masks, recipe, torch.device("cpu"))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)  # same machine: one computation, two batchings
    probs = defect_probabilities(a, images, torch.device("cpu"), batch=3)
    assert probs.shape == (4, 32, 32)
    # exact: same machine: the same float computation from uint8 or float input
    assert np.array_equal(probs, defect_probabilities(b, images.float() / 255.0, torch.device("cpu"), batch=3))


def test_repeated_segmenters_report_each_run_their_mean_and_spread(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from seas.config import DownstreamConfig
    from seas.evaluate.downstream import METRICS, _variant_metrics, format_table

    rng = np.random.default_rng(1)
    pairs = []
    for k in range(6):  # a bright square is the defect; half the images have one
        image = rng.integers(0, 60, (32, 32, 3), dtype=np.uint8)
        mask = np.zeros((32, 32), bool)
        if k % 2 == 0:
            mask[8:14, 10:16] = True
            image[mask] = 230
        pairs.append((image, mask))
    test = {"spot": stack_pairs(pairs[:4])}
    device = torch.device("cpu")
    one_cfg = DownstreamConfig(seg_epochs=1, seg_batch_size=2, seg_repeats=1)
    one = _variant_metrics(one_cfg, "real", (pairs, iter(()), 0), test, device, FinishedSegmenters(tmp_path / "a", {}))
    finished = FinishedSegmenters(tmp_path / "b.jsonl", {"settings": 1})
    three_cfg = DownstreamConfig(seg_epochs=1, seg_batch_size=2, seg_repeats=3)
    three = _variant_metrics(three_cfg, "real", (pairs, iter(()), 0), test, device, finished)
    assert len(one["runs"]) == 1
    assert "spread" not in one
    assert len(three["runs"]) == 3
    for k in METRICS:
        assert three["runs"][0][k] == one["mean"][k]  # the first run uses --seed itself (same machine)
        values = [run[k] for run in three["runs"]]
        assert abs(three["mean"][k] - np.mean(values)) < 1e-12
        assert abs(three["spread"][k] - np.std(values, ddof=1)) < 1e-12
    assert len({run["pixel_ap"] for run in three["runs"]}) > 1  # other seeds, other segmenters
    row = next(line for line in format_table({"variants": {"real": three}}).splitlines() if line.startswith("| real"))
    assert row.count("±") == len(METRICS)
    assert "±" not in format_table({"variants": {"real": one}})

    # A rerun takes the recorded segmenters: nothing is trained again, and the numbers are the same.
    import seas.evaluate.downstream as downstream

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a recorded segmenter was trained again")

    monkeypatch.setattr(downstream, "train_segmenter", refuse)
    again = _variant_metrics(
        three_cfg, "real", (pairs, iter(()), 0), test, device, FinishedSegmenters(finished.path, {"settings": 1})
    )
    assert again["runs"] == three["runs"]
    with pytest.raises(AssertionError, match="trained again"):  # other settings: other keys
        _variant_metrics(
            three_cfg, "real", (pairs, iter(()), 0), test, device, FinishedSegmenters(finished.path, {"settings": 2})
        )
