"""sha256 records of written weights: a missing, truncated or overwritten file is named on load."""

from __future__ import annotations

from pathlib import Path

import pytest

from seas.errors import ModelLoadError
from seas.integrity import combined_id, record_weights, recorded_hashes, verify_weights


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "unet"
    (folder / "sub").mkdir(parents=True)
    (folder / "diffusion_pytorch_model.safetensors").write_bytes(bytes(range(256)) * 400)
    (folder / "sub" / "rows.safetensors").write_bytes(b"rows" * 10)
    (folder / "config.json").write_text("{}")  # not a weights file: not listed
    return folder


def test_record_lists_every_weights_file_and_verifies(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    assert verify_weights(folder, None) is False  # no record yet: loads unverified
    hashes = record_weights(folder)
    assert sorted(hashes) == ["diffusion_pytorch_model.safetensors", "sub/rows.safetensors"]
    assert recorded_hashes(folder) == hashes
    assert verify_weights(folder, None) is True


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ("zero", "damaged: its sha256 differs from the one recorded when it was written"),
        ("truncate", "damaged: its sha256 differs"),
        ("delete", "missing (listed in the folder's sha256.json)"),
    ],
)
def test_damage_is_named_with_the_fix(tmp_path: Path, damage: str, problem: str) -> None:
    folder = _folder(tmp_path)
    record_weights(folder)
    weights = folder / "diffusion_pytorch_model.safetensors"
    data = weights.read_bytes()
    if damage == "zero":
        weights.write_bytes(data[:1000] + bytes(5000) + data[6000:])
    elif damage == "truncate":
        weights.write_bytes(data[:5000])
    else:
        weights.unlink()
    with pytest.raises(ModelLoadError) as caught:
        verify_weights(folder, "rerun seas train")
    assert str(caught.value).startswith(f"{weights}: {problem}")
    assert str(caught.value).endswith("; rerun seas train")


def test_identity_follows_the_files(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    first = combined_id(record_weights(folder))
    assert combined_id(record_weights(folder)) == first  # same bytes, same identity
    (folder / "sub" / "rows.safetensors").write_bytes(b"other")
    assert combined_id(record_weights(folder)) != first
    assert len(first) == 16
