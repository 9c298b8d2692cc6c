"""The paired t-test against a value computed by hand, and the comparison table built from it."""

from __future__ import annotations

import math

from seas.evaluate.paired import paired_tests, paired_ttest


def test_paired_ttest_matches_the_closed_form_for_four_degrees_of_freedom() -> None:
    values, reference = [1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 0.0, 0.0, 0.0]
    result = paired_ttest(values, reference)
    t = 3.0 / (math.sqrt(2.5) / math.sqrt(5))  # mean difference over its standard error: 3 sqrt(2)
    # Student's t CDF with 4 degrees of freedom in closed form.
    u = t / math.sqrt(1 + t * t / 4)
    cdf = 0.5 + 3 / 8 * u * (1 - t * t / (12 * (1 + t * t / 4)))
    assert result["n"] == 5
    assert result["diff"] == 3.0
    assert abs(result["t"] - t) < 1e-12
    assert abs(result["p"] - 2 * (1 - cdf)) < 1e-12
    assert abs(result["p"] - 0.013236) < 1e-5
    assert paired_ttest([1.0, 2.0], [0.0, 1.0])["p"] is None  # every difference the same: undefined
    assert paired_ttest([1.0], [0.0])["p"] is None  # one pair: undefined


def test_every_set_is_compared_with_real_only_and_the_paste_seed_by_seed() -> None:
    def runs(*pixel_ap: float) -> dict:  # type: ignore[type-arg]
        return {"runs": [{"image_auroc": 0.5, "pixel_ap": v, "aupro_0.3": v} for v in pixel_ap]}

    variants = {"real": runs(0.1, 0.2, 0.3), "paste": runs(0.2, 0.3, 0.5), "seas": runs(0.3, 0.3, 0.6)}
    tests = paired_tests(variants)
    assert set(tests) == {"paste", "seas", "real"}
    assert set(tests["seas"]) == {"real", "paste"}
    assert set(tests["real"]) == {"paste"}
    assert abs(tests["seas"]["real"]["pixel_ap"]["diff"] - 0.2) < 1e-12
    assert tests["seas"]["real"]["image_auroc"]["p"] is None  # no difference at all
