"""Convert a finished `seas pretrain` folder into a shipped built-in prior (fp16, no tokenizer copy).

Usage: python scripts/ship_prior.py RUN_DIR DEST --name NAME [--seconds S]

Writes DEST/{unet,vae,text_encoder,scheduler}/ (weights in fp16 safetensors), model_index.json,
provenance.json (settings, image count, final losses, build time, file hashes) and the licence and
attribution files of the data the prior was derived from (CC BY-NC-SA 4.0).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextModel

from seas.files import atomic_write_dir
from seas.integrity import record_weights

LICENCE_NOTE = """# Built-in prior `{name}`: derived from MVTec 3D-AD (CC BY-NC-SA 4.0)

A small Stable-Diffusion-architecture model (`tiny-slim`: 8x, 4-channel VAE; SD 1.x U-Net layout) trained
from scratch by `seas pretrain` on the 80 defect-free training images (`train/good`) of the MVTec 3D-AD
"tire" category (RGB, downscaled), never on its test images. Rebuild: `bash scripts/build_tiny_tire.sh`;
settings, losses, time and file hashes are in `provenance.json`. Weights are stored in fp16 and upcast
to float32 when loaded; the tokenizer is the bundled CLIP vocabulary (`seas/assets/clip_tokenizer`).

Licence: the weights are derived from the MVTec 3D-AD images and carry their licence, CC BY-NC-SA 4.0
(https://creativecommons.org/licenses/by-nc-sa/4.0/), (c) 2021 MVTec Software GmbH: non-commercial use
only; derivatives, including images generated with this prior, must carry the same licence. Changes:
images downscaled and cropped to 128 px; the model is a learned derivative. Cite: Bergmann, Jin,
Sattlegger, Steger, 'The MVTec 3D-AD Dataset for Unsupervised 3D Anomaly Detection and Localization',
VISAPP 2022. Full licence text: LICENSE_MVTec3D-AD.txt.
"""


def _last_log(path: Path) -> dict[str, float]:
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return json.loads(lines[-1]) if lines else {}


def main() -> None:
    """Parse the arguments, convert, and print the size of what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--seconds", type=int, default=None, help="Build time to record.")
    args = parser.parse_args()
    run: Path = args.run
    if not (run / "pretrain_complete.json").is_file():
        msg = f"error: {run}: not a finished seas pretrain folder; run seas pretrain first"
        raise SystemExit(msg)
    record = json.loads((run / "config.json").read_text(encoding="utf-8"))
    licence = Path(__file__).resolve().parents[1] / "demo/sample_data/SOURCE_LICENSE_MVTec3D-AD.txt"

    def fill(folder: Path) -> None:
        UNet2DConditionModel.from_pretrained(run / "unet").half().save_pretrained(folder / "unet")
        AutoencoderKL.from_pretrained(run / "vae").half().save_pretrained(folder / "vae")
        CLIPTextModel.from_pretrained(run / "text_encoder").half().save_pretrained(folder / "text_encoder")
        DDPMScheduler.from_pretrained(run / "scheduler").save_pretrained(folder / "scheduler")
        index = json.loads((run / "model_index.json").read_text(encoding="utf-8"))
        index.pop("tokenizer", None)
        (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
        shutil.copyfile(licence, folder / "LICENSE_MVTec3D-AD.txt")
        # The final sample grid of each kind, shown by the report; the decoder phase's strip, when it ran, shows
        # the VAE as shipped.
        for phases, name in (
            (("unet_train",), "samples.png"),
            (("vae_decoder_train", "vae_train"), "reconstructions.png"),
        ):
            for phase in phases:
                grids = sorted((run / phase / "samples").glob("step-*.png"), key=lambda p: int(p.stem.split("-")[1]))
                if grids:
                    shutil.copyfile(grids[-1], folder / name)
                    break
        (folder / "README.md").write_text(LICENCE_NOTE.format(name=args.name), encoding="utf-8")
        hashes = {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.safetensors"))
        }
        provenance = {
            "name": args.name,
            "config": record["config"],
            "versions": record["versions"],
            "complete": json.loads((run / "pretrain_complete.json").read_text(encoding="utf-8")),
            "final_vae_log": _last_log(run / "vae_train" / "logs.jsonl"),
            "final_vae_decoder_log": _last_log(run / "vae_decoder_train" / "logs.jsonl"),
            "final_unet_log": _last_log(run / "unet_train" / "logs.jsonl"),
            "build_seconds": args.seconds,
            "sha256": hashes,
        }
        (folder / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
        record_weights(folder)  # sha256.json: checked each time the prior loads

    atomic_write_dir(args.dest, fill, "prior")
    size = sum(p.stat().st_size for p in args.dest.rglob("*") if p.is_file())
    print(f"shipped {args.name}: {args.dest} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
