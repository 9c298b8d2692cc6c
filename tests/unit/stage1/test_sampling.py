from __future__ import annotations

from pathlib import Path

from seas.stage1.sampling import plan_micro_batch

ANOMALIES = [("cut", Path(f"c{i}.png"), Path(f"c{i}_m.png")) for i in range(3)] + [
    ("hole", Path("h.png"), Path("hm.png"))
]
NORMALS = [Path(f"n{i}.png") for i in range(10)]


def test_streams_cycle_through_every_image_once_per_pass() -> None:
    plans = [plan_micro_batch(0, i, ANOMALIES, NORMALS, 2, 2, "rot90_flip") for i in range(5)]
    normals = [it.image for p in plans for it in p.items[2:]]
    assert sorted(normals) == sorted(NORMALS)  # 5 micro-batches x 2 = one full pass over 10 normals
    anomalies = [it.image for p in plans[:2] for it in p.items[:2]]
    assert sorted(anomalies) == sorted(a[1] for a in ANOMALIES)


def test_plans_are_pure_functions_of_seed_and_index() -> None:
    a = plan_micro_batch(3, 17, ANOMALIES, NORMALS, 2, 2, "rot90_flip")
    assert a == plan_micro_batch(3, 17, ANOMALIES, NORMALS, 2, 2, "rot90_flip")
    assert a != plan_micro_batch(4, 17, ANOMALIES, NORMALS, 2, 2, "rot90_flip")


def test_no_fixed_pairing_and_independent_draws() -> None:
    pairs = set()
    draws = []
    for i in range(200):
        p = plan_micro_batch(0, i, ANOMALIES, NORMALS, 2, 2, "rot90_flip")
        pairs.add((p.items[0].image, p.items[2].image))
        draws += [(it.turns, it.flip) for it in p.items]
    assert len(pairs) > 20  # a given defect image meets many normal images
    assert len(set(draws)) == 12  # all 4 rotations x 3 flips occur
    none = plan_micro_batch(0, 0, ANOMALIES, NORMALS, 2, 2, "none")
    assert all((it.turns, it.flip) == (0, 0) for it in none.items)
