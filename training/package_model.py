"""Name a training run's checkpoint for shipping: fp16 weights with a name, version and
description, plus its parity-checked ONNX copy beside it (``foir360 export``).

A run's ``model_last`` / ``model_best`` carries the config's generic name ("panorank") and
version "0"; a shipped model is asked for by its own name (``models.SHIPPED_MODELS``) and
says in its metadata what it is, so ``ranked_instances`` messages and logs name it. Usage::

    python training/package_model.py runs/real03_384/model_last.safetensors \\
        --name panorank-real360 --version 0.3.0 \\
        --description "PanoRank trained on real panoramas ..." \\
        --out foir360_core/assets/panorank_real360.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

from foir360_core.models.checkpoint import load_checkpoint, save_checkpoint
from foir360_core.runtime.export import export_onnx

# Training facts kept from the run's metadata (what the model card quotes).
KEPT = ("epoch", "step", "train_images", "validation")


def package(checkpoint: Path, out: Path, name: str, version: str, description: str) -> Path:
    """Write the named fp16 checkpoint at ``out`` and its ONNX export beside it."""
    model, meta = load_checkpoint(checkpoint)
    extra = {key: meta[key] for key in KEPT if key in meta}
    extra.update(name=name, version=version, description=description)
    save_checkpoint(out, model, meta["config"], extra, fp16=True)
    export_onnx(out, out.with_suffix(".onnx"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a run's .safetensors checkpoint")
    parser.add_argument("--out", type=Path, required=True, help="packaged .safetensors path")
    parser.add_argument("--name", required=True, help="the shipped name, e.g. panorank-real360")
    parser.add_argument("--version", required=True, help="semantic version, e.g. 0.3.0")
    parser.add_argument("--description", required=True, help="one sentence: what it is")
    args = parser.parse_args()
    out = package(args.checkpoint, args.out, args.name, args.version, args.description)
    print(f"wrote {out} and {out.with_suffix('.onnx')}")


if __name__ == "__main__":
    main()
