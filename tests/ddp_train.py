"""Run under ``torchrun``: train the tiny config, then record this rank's weight digest.

``python tests/ddp_train.py CONFIG DATA OUT EPOCHS [--resume]``. Each process writes
``OUT/rank<R>.sha256``, a digest of the weights it ended with, so a test can check that
DistributedDataParallel kept the processes' models identical (each saw other images).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import torch

from foir360_core.models.config import load_config
from foir360_core.training import trainer


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def main() -> None:
    config_path, data, out, epochs = sys.argv[1:5]
    config = load_config(config_path, [f"train.epochs={epochs}", "data.val_fraction=0.0",
                                       "val.profiles=[]", "train.fp16_weights=false"])
    built = []
    build = trainer.build_model
    trainer.build_model = lambda cfg: built.append(build(cfg)) or built[-1]
    result = trainer.train(config, data=data, out=out, resume="--resume" in sys.argv,
                           progress=False)
    model = built[0]
    params = dict(model.named_parameters())
    buffers = {k: v for k, v in model.state_dict().items() if k not in params}
    Path(out, f"rank{os.environ['RANK']}.sha256").write_text(
        f"{weights_digest(params)} {weights_digest(buffers)} {result.steps}\n")


if __name__ == "__main__":
    main()
