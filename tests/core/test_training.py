"""PanoRank training: data augmentation, losses, tiny overfit, resume equivalence, CLI.

Budget: about 30 s on one CPU core. The data is a handful of 64×128 panoramas drawn here
with OpenCV (one object always straddles the seam), ranked by area, written with the
project's own dataset writer, so these tests need nothing from the other pipeline stages.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from foir360_core.io import ImageRecord, write_dataset
from foir360_core.io.images import write_image
from foir360_core.models import build_model
from foir360_core.models.checkpoint import load_checkpoint, load_training_state
from foir360_core.models.config import load_config
from foir360_core.structures import PanoInstances
from foir360_core.structures.instances import ranks_from_scores
from foir360_core.training import trainer as trainer_module
from foir360_core.training.data import RankedPanoramas
from foir360_core.training.losses import Criterion, point_sample_wrap
from foir360_core.training.trainer import train

CONFIG = Path(__file__).resolve().parents[2] / "training" / "configs" / "tiny_cpu.yaml"
H, W = 64, 128
COLORS = [(230, 40, 40), (40, 200, 60), (50, 80, 230), (240, 220, 40)]


def make_panorama(rng: np.random.Generator) -> tuple[np.ndarray, PanoInstances]:
    """Gradient background, 3-4 coloured shapes, the first one across the seam."""
    image = np.zeros((H, W, 3), np.uint8)
    image[:] = np.linspace(60, 120, W, dtype=np.uint8)[None, :, None]
    masks = []
    n = int(rng.integers(3, 5))
    for i in range(n):
        canvas = np.zeros((H, W), np.uint8)
        cx = 0 if i == 0 else int(rng.integers(16, W - 16))
        cy = int(rng.integers(14, H - 14))
        axes = (int(rng.integers(5, 14)), int(rng.integers(4, 10)))
        cv2.ellipse(canvas, (cx, cy), axes, 0, 0, 360, 1, -1)
        if i == 0:  # wrap the part left of column 0 onto the right edge
            cv2.ellipse(canvas, (cx + W, cy), axes, 0, 0, 360, 1, -1)
        mask = canvas.astype(bool)
        for earlier in masks:
            mask &= ~earlier
        masks.append(mask)
        image[mask] = COLORS[i % len(COLORS)]
    masks_arr = np.stack(masks)
    ranks = ranks_from_scores(masks_arr.reshape(n, -1).sum(1).astype(float))
    return image, PanoInstances(masks=masks_arr, ranks=ranks)


@pytest.fixture(scope="module")
def ranked_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ranked")
    rng = np.random.default_rng(7)
    entries = []
    for i in range(6):
        image, inst = make_panorama(rng)
        name = f"pano_{i}.png"
        write_image(root / name, image)
        entries.append((ImageRecord(i + 1, name, W, H, {}), inst))
    return write_dataset(root / "labels.json", entries)


def tiny_config(**train) -> dict:
    config = load_config(CONFIG)
    config["data"]["val_fraction"] = 0.0
    config["train"].update(train)
    config["val"]["profiles"] = []
    return config


def test_point_sampling_wraps_across_the_seam():
    maps = torch.zeros(1, 4, 8)
    maps[0, :, 0] = 1.0  # only the first column is on
    # a point exactly on the seam is half first column, half last column
    on_seam = torch.tensor([[0.0, 0.5]])
    assert point_sample_wrap(maps, on_seam).item() == pytest.approx(0.5)
    inside = torch.tensor([[1.0 / 16.0, 0.5]])  # centre of column 0
    assert point_sample_wrap(maps, inside).item() == pytest.approx(1.0)


def test_yaw_roll_and_flip_augmentation_is_exact(ranked_dataset):
    from foir360_core.io import Dataset

    ds = Dataset.load(ranked_dataset)
    plain = RankedPanoramas(ds, [1], input_size=(H, W), class_names=["object"])[0]
    aug = RankedPanoramas(
        ds, [1], input_size=(H, W), class_names=["object"], augment={"yaw_roll": True, "hflip": 1.0}
    )[0]
    # the augmented image is a flipped, rolled copy: undo both and compare exactly
    for shift in range(W):
        undone = torch.roll(aug.image.flip(-1), shifts=shift, dims=-1)
        if torch.equal(undone, plain.image):
            assert torch.equal(torch.roll(aug.masks.flip(-1), shift, -1), plain.masks)
            break
    else:
        pytest.fail("augmented image is not an exact roll/flip of the original")
    assert torch.equal(aug.ranks, plain.ranks)


def test_tiny_overfit_loss_decreases(ranked_dataset):
    from foir360_core.io import Dataset

    torch.manual_seed(0)
    config = tiny_config()
    model = build_model(config)
    ds = Dataset.load(ranked_dataset)
    data = RankedPanoramas(ds, [1, 2], input_size=(H, W), class_names=["object"])
    samples = [data[0], data[1]]
    images = torch.stack([s.image for s in samples])
    criterion = Criterion(model, config["train"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(0)
    losses, ranks = [], []
    for _ in range(30):
        total, parts = criterion(model, model(images), samples, 7.0, gen)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        losses.append(parts["total"])
        ranks.append(parts["rank"])
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    assert np.mean(ranks[-5:]) < np.mean(ranks[:5])


def test_resume_matches_an_uninterrupted_run(ranked_dataset, tmp_path, monkeypatch):
    config = tiny_config(epochs=2)
    straight = train(config, data=str(ranked_dataset), out=tmp_path / "a", progress=False)

    class CrashInSecondEpoch(Criterion):
        calls = 0

        def __call__(self, *args, **kwargs):
            CrashInSecondEpoch.calls += 1
            if CrashInSecondEpoch.calls == 4:  # 3 steps per epoch: first step of epoch 2
                raise KeyboardInterrupt
            return super().__call__(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "Criterion", CrashInSecondEpoch)
    with pytest.raises(KeyboardInterrupt):
        train(config, data=str(ranked_dataset), out=tmp_path / "b", progress=False)
    monkeypatch.undo()
    resumed = train(
        config, data=str(ranked_dataset), out=tmp_path / "b", resume=True, progress=False
    )
    assert straight.steps == resumed.steps == 6
    a = load_training_state(tmp_path / "a" / "train_state.pt")["model"]
    b = load_training_state(tmp_path / "b" / "train_state.pt")["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
    rows = (tmp_path / "b" / "log.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + one row per epoch, across the resume
    model, meta = load_checkpoint(resumed.last_model)
    assert meta["epoch"] == 2 and model.input_size == (H, W)


def test_resume_refuses_a_different_model_config(ranked_dataset, tmp_path):
    from foir360_core.models.config import ConfigError

    train(tiny_config(epochs=1), data=str(ranked_dataset), out=tmp_path, progress=False)
    other = tiny_config(epochs=2)
    other["model"]["num_queries"] = 10
    with pytest.raises(ConfigError, match="another model config"):
        train(other, data=str(ranked_dataset), out=tmp_path, resume=True, progress=False)


def test_cli_trains_validates_and_reports_bad_config(ranked_dataset, tmp_path, capsys):
    from foir360_core.cli.main import main

    out = tmp_path / "run"
    code = main(
        [
            "train",
            str(CONFIG),
            "--data",
            str(ranked_dataset),
            "--out",
            str(out),
            "--no-progress",
            "--set",
            "train.epochs=1",
            "--set",
            "data.val_fraction=0.34",
            "--set",
            "val.profiles=[]",
        ]
    )
    assert code == 0
    header, row = (out / "log.csv").read_text().strip().splitlines()
    figures = dict(zip(header.split(","), row.split(","), strict=True))
    assert float(figures["val_images"]) == 2.0
    assert 0.0 <= float(figures["instance_recall"]) <= 1.0
    assert (out / "model_last.safetensors").is_file()
    assert (
        main(["train", str(CONFIG), "--data", str(ranked_dataset), "--set", "train.epoch=1"]) == 2
    )


def test_csv_log_widens_when_a_figure_first_appears(tmp_path):
    import csv

    logger = trainer_module._Logger(tmp_path, resume=False)
    logger.write({"epoch": 1, "step": 3, "loss": 2.0})
    logger.write({"epoch": 2, "step": 6, "loss": 1.0, "foir360/sor": 0.7})
    with (tmp_path / "log.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["loss"] for r in rows] == ["2.0", "1.0"]
    assert rows[0]["foir360/sor"] == "" and rows[1]["foir360/sor"] == "0.7"


@pytest.mark.parametrize("content", ["garbage", "empty", "truncated", "foreign"])
def test_a_bad_training_state_is_one_line_and_exit_2(ranked_dataset, tmp_path, capsys,
                                                      content):
    from foir360_core.cli.main import main

    state = tmp_path / "run" / "train_state.pt"
    state.parent.mkdir()
    if content in ("truncated", "foreign"):
        torch.save({"model": {"w": torch.zeros(1000)}}, state)  # a torch file, not ours
        if content == "truncated":
            state.write_bytes(state.read_bytes()[:300])
    else:
        state.write_bytes(b"" if content == "empty" else b"not a torch file")
    code = main(["train", str(CONFIG), "--data", str(ranked_dataset), "--out",
                 str(state.parent), "--resume", "--no-progress", "--set", "train.epochs=1",
                 "--set", "val.profiles=[]"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and str(state) in err and "without --resume" in err


def test_a_crafted_checkpoint_is_one_line_and_exit_2(tmp_path, capsys):
    import json

    from safetensors.torch import save_file

    from foir360_core.cli.main import main
    from foir360_core.models.checkpoint import FORMAT, META_KEY
    from tests.logs import captured

    crafted = tmp_path / "crafted.safetensors"
    for meta in ("{not json", json.dumps({"format": FORMAT}),
                 json.dumps({"format": FORMAT, "config": {"model": 3}, "config_hash": "x"})):
        save_file({"w": torch.zeros(2)}, str(crafted), metadata={META_KEY: meta})
        with captured("foir360.export") as logged:  # export reports through its logger
            code = main(["export", str(crafted), "--out", str(tmp_path / "m.onnx")])
        lines = capsys.readouterr().err.splitlines() + logged
        assert code != 0 and len(lines) == 1 and str(crafted) in lines[0], lines
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.slow
def test_torchrun_two_process_gloo_ddp_agrees_and_resumes(ranked_dataset, tmp_path):
    """Two CPU processes (gloo, loopback only): the same weights on both ranks, one set of
    files written by rank 0, and --resume continues the run. BatchNorm running statistics
    stay per process (DDP broadcasts rank 0's before each forward); rank 0's are saved."""
    import os
    import shutil
    import signal
    import subprocess

    from safetensors.torch import load_file

    from tests.ddp_train import weights_digest

    torchrun = shutil.which("torchrun") or pytest.skip("torchrun is not installed")
    out = tmp_path / "run"
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    driver = Path(__file__).resolve().parents[1] / "ddp_train.py"

    def run(epochs: int, *extra: str) -> list[list[str]]:
        proc = subprocess.Popen(
            [torchrun, "--standalone", "--nproc-per-node=2", str(driver), str(CONFIG),
             str(ranked_dataset), str(out), str(epochs), *extra],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            cwd=Path(__file__).resolve().parents[2], start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both workers
            output = proc.communicate()[0] + "\n(killed after 300 s)"
        assert proc.returncode == 0, output[-3000:]
        return [(out / f"rank{r}.sha256").read_text().split() for r in (0, 1)]

    def saved() -> tuple[str, str]:
        state = load_file(out / "model_last.safetensors")
        model = trainer_module.build_model(tiny_config())
        params = {k for k, _ in model.named_parameters()}
        return (weights_digest({k: v for k, v in state.items() if k in params}),
                weights_digest({k: v for k, v in state.items() if k not in params}))

    (params0, buffers0, steps0), (params1, _, steps1) = run(1)
    assert params0 == params1 and steps0 == steps1 == "2"  # 6 images, 3 per rank, batch 2
    assert saved() == (params0, buffers0)  # the checkpoint is rank 0's model
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith("rank"))
    assert files == ["log.csv", "model_last.safetensors", "train_state.pt"]
    assert len((out / "log.csv").read_text().strip().splitlines()) == 2  # one writer

    (params0, buffers0, steps0), (params1, _, steps1) = run(2, "--resume")
    assert params0 == params1 and steps0 == steps1 == "4"
    assert saved() == (params0, buffers0)
    assert len((out / "log.csv").read_text().strip().splitlines()) == 3
