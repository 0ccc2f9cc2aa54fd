"""The PanoRank training loop: one CPU process, or many GPUs/nodes under ``torchrun``.

``train(config, data=..., out=...)`` reads a ranked dataset (the output of
``foir360 label``), trains with Hungarian-matched set losses and the rank loss, validates
each ``val.every`` epochs with the runtime's own pre/post-processing and the project's
metrics, and writes to ``out``:

* ``model_last.safetensors`` / ``model_best.safetensors``: self-describing model files
  (``models.checkpoint``), the second chosen by ``val.select``;
* ``train_state.pt``: everything needed to resume (``--resume``), tensors and plain
  containers only, loaded with ``weights_only=True``;
* ``log.csv`` always, TensorBoard events when ``tensorboard`` is installed.

Distributed: when ``WORLD_SIZE`` > 1 (set by torchrun) the process group is initialised
(NCCL on CUDA, Gloo on CPU), data is sharded with ``DistributedSampler`` and the model is
wrapped in ``DistributedDataParallel``; rank 0 alone validates and writes files.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from foir360_core.io import Dataset
from foir360_core.models.checkpoint import (
    CheckpointError,
    load_training_state,
    save_checkpoint,
    save_training_state,
)
from foir360_core.models.config import ConfigError, config_hash
from foir360_core.models.panorank import PanoRank, build_model
from foir360_core.training.data import RankedPanoramas, collate, split_ids
from foir360_core.training.init import freeze_backbone_blocks, init_from
from foir360_core.training.losses import Criterion
from foir360_core.training.validate import validate, validation_settings

log = logging.getLogger(__name__)

STATE_FILE = "train_state.pt"
LAST_MODEL = "model_last.safetensors"
BEST_MODEL = "model_best.safetensors"


@dataclass
class TrainResult:
    """What a finished (or time-capped) run produced."""

    out_dir: Path
    last_model: Path
    best_model: Path | None
    epochs_done: int
    steps: int
    minutes: float
    stopped_early: bool
    skipped_batches: int
    history: list[dict] = field(default_factory=list)


@dataclass
class _Dist:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def _setup_distributed(device_name: str) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = torch.cuda.is_available() and device_name in {"auto", "cuda"}
    if device_name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device=cuda but no CUDA device is visible; use auto or cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    return _Dist(rank, world, device)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _param_groups(model: PanoRank, cfg: dict) -> list[dict]:
    backbone = [p for p in model.backbone.parameters() if p.requires_grad]
    ids = {id(p) for p in backbone}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    lr = float(cfg["lr"])
    return [
        {"params": backbone, "lr": lr * float(cfg["backbone_lr_mult"])},
        {"params": rest, "lr": lr},
    ]


def _schedule(total: int, warmup: int):
    """Linear warm-up, then cosine decay to 10 % (a function of the step, for LambdaLR)."""

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


class _Logger:
    """CSV always; TensorBoard when installed."""

    def __init__(self, out: Path, resume: bool) -> None:
        self.path = out / "log.csv"
        self.header: list[str] | None = None
        if resume and self.path.is_file():
            with self.path.open() as handle:
                self.header = next(csv.reader(handle), None)
        elif self.path.exists():
            self.path.unlink()
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tensorboard"))
        except ImportError:
            self.tb = None

    def write(self, row: dict) -> None:
        if self.header is None or not set(row) <= set(self.header):
            # a figure appeared (metrics report some only once they apply): widen the file
            old_rows = []
            if self.header is not None:
                with self.path.open(newline="") as handle:
                    old_rows = list(csv.DictReader(handle))
            self.header = (self.header or []) + [k for k in row if k not in (self.header or [])]
            with self.path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, self.header)
                writer.writeheader()
                writer.writerows(old_rows)
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, self.header).writerow(row)
        if self.tb is not None:
            for key, value in row.items():
                if isinstance(value, int | float) and key not in {"epoch", "step"}:
                    self.tb.add_scalar(key, value, row["step"])
            self.tb.flush()


def _load_data(
    config: dict, data: str | None, val: str | None
) -> tuple[Dataset, list, Dataset, list]:
    data = data or config["data"].get("train")
    if not data:
        raise ConfigError("no training data: pass --data LABELS.json or set data.train")
    train_ds = Dataset.load(data)
    val = val or config["data"].get("val")
    seed = int(config["train"]["seed"])
    if val:
        val_ds = Dataset.load(val)
        return (
            train_ds,
            sorted(r.id for r in train_ds.images),
            val_ds,
            sorted(r.id for r in val_ds.images),
        )
    train_ids, val_ids = split_ids(train_ds, float(config["data"]["val_fraction"]), seed)
    return train_ds, train_ids, train_ds, [i for i in val_ids if train_ds.has_ranks(i)]


@dataclass
class _Run:
    """Everything one training run carries from step to step (built by ``_setup``)."""

    config: dict
    ctx: _Dist
    out: Path
    core: PanoRank
    model: torch.nn.Module  # ``core``, or its DistributedDataParallel wrapper
    train_set: RankedPanoramas
    sampler: DistributedSampler
    loader: DataLoader
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    criterion: Criterion
    generator: torch.Generator
    logger: _Logger | None
    val_ds: Dataset
    val_ids: list
    started: float
    start_epoch: int = 0
    step: int = 0
    best: float = -math.inf
    best_path: Path | None = None
    skipped: int = 0
    stopped_early: bool = False
    history: list[dict] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return int(self.config["train"]["epochs"])

    def minutes(self) -> float:
        return (time.monotonic() - self.started) / 60.0


def train(
    config: dict,
    *,
    data: str | None = None,
    val: str | None = None,
    out: str | Path = "runs/panorank",
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train PanoRank as configured (see the module docstring)."""
    run = _setup(config, data, val, Path(out), resume)
    epoch = run.start_epoch - 1
    for epoch in range(run.start_epoch, run.epochs):
        row = _train_epoch(run, epoch, progress)
        if run.ctx.main:
            if _validation_due(run, epoch) and run.val_ids:
                row.update(validate(
                    run.core, run.val_ds, run.val_ids, config["val"], run.ctx.device,
                    progress=progress, min_fraction=float(config["data"]["min_object_fraction"])))
            _save_checkpoints(run, epoch, row)
            assert run.logger is not None
            run.logger.write(row)
            log.info("epoch %d: %s", epoch + 1, _fmt(row))
        run.history.append(row)
        if run.stopped_early:
            log.warning("train.max_minutes=%s reached: stopped after epoch %d",
                        config["train"].get("max_minutes"), epoch + 1)
            break
    if run.ctx.world > 1:
        dist.barrier()
    return TrainResult(
        out_dir=run.out,
        last_model=run.out / LAST_MODEL,
        best_model=run.best_path,
        epochs_done=epoch + 1,
        steps=run.step,
        minutes=run.minutes(),
        stopped_early=run.stopped_early,
        skipped_batches=run.skipped,
        history=run.history,
    )


def _setup(config: dict, data: str | None, val: str | None, out: Path, resume: bool) -> _Run:
    """Processes, data, model, optimiser and schedule; restored from ``out`` on resume."""
    tcfg = config["train"]
    validation_settings(config["val"])  # a bad threshold fails now, not per image later
    ctx = _setup_distributed(str(tcfg["device"]))
    seed = int(tcfg["seed"])
    seed_everything(seed + ctx.rank)
    if ctx.main:
        out.mkdir(parents=True, exist_ok=True)
    train_ds, train_ids, val_ds, val_ids = _load_data(config, data, val)
    core = build_model(config)
    if tcfg.get("init_from"):
        init_from(core, tcfg["init_from"])
    freeze_backbone_blocks(core, int(tcfg.get("freeze_backbone_blocks") or 0))
    core = core.to(ctx.device)
    train_set, sampler, loader = _data_loader(config, ctx, train_ds, train_ids, core)
    optimizer = torch.optim.AdamW(
        _param_groups(core, tcfg), weight_decay=float(tcfg["weight_decay"])
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _schedule(int(tcfg["epochs"]) * len(loader), int(tcfg["warmup_steps"]))
    )
    run = _Run(
        config=config, ctx=ctx, out=out, core=core, model=core, train_set=train_set,
        sampler=sampler, loader=loader, optimizer=optimizer, scheduler=scheduler,
        criterion=Criterion(core, tcfg),
        generator=torch.Generator().manual_seed(seed * 1000 + ctx.rank),
        logger=_Logger(out, resume) if ctx.main else None,
        val_ds=val_ds, val_ids=val_ids, started=time.monotonic(),
        best_path=out / BEST_MODEL if (out / BEST_MODEL).is_file() else None,
    )
    if resume:
        _restore(run)
    if ctx.world > 1:
        run.model = torch.nn.parallel.DistributedDataParallel(
            core, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None
        )
    return run


def _data_loader(
    config: dict, ctx: _Dist, train_ds: Dataset, train_ids: list, core: PanoRank
) -> tuple[RankedPanoramas, DistributedSampler, DataLoader]:
    """The augmented training set, sharded over processes by a ``DistributedSampler``."""
    seed = int(config["train"]["seed"])
    train_set = RankedPanoramas(
        train_ds,
        train_ids,
        input_size=core.input_size,
        class_names=core.class_names,
        augment=config["data"],
        seed=seed,
        cache=bool(config["data"].get("cache")),
        min_object_fraction=float(config["data"]["min_object_fraction"]),
    )
    if len(train_set) == 0:
        raise ConfigError(f"{train_ds.path} holds no ranked images to train on")
    sampler = DistributedSampler(
        train_set, num_replicas=ctx.world, rank=ctx.rank, shuffle=True, seed=seed, drop_last=False
    )
    loader = DataLoader(
        train_set,
        batch_size=int(config["train"]["batch_size"]),
        sampler=sampler,
        num_workers=int(config["data"]["num_workers"]),
        collate_fn=collate,
    )
    return train_set, sampler, loader


def _restore(run: _Run) -> None:
    """Continue from ``train_state.pt``: weights, optimiser, schedule, counters, RNG."""
    path = run.out / STATE_FILE
    state = load_training_state(path)
    if not isinstance(state, dict) or "config_hash" not in state:
        raise CheckpointError(f"{path} is not a foir360 training state; delete it, or train "
                              "without --resume to start over")
    wanted = config_hash(run.config)
    if state["config_hash"] != wanted:
        raise ConfigError(
            f"{path} was written for another model config "
            f"({state['config_hash']} vs {wanted}); resume with the same config"
        )
    try:
        run.core.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.scheduler.load_state_dict(state["scheduler"])
        run.start_epoch, run.step = int(state["epoch"]) + 1, int(state["step"])
        run.best = float(state["best"])
        torch.set_rng_state(state["rng_torch"])
        run.generator.set_state(state["rng_points"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is damaged ({exc!r:.120}); delete it, or train without "
                              "--resume to start over") from None
    log.info("resuming from %s at epoch %d, step %d", path, run.start_epoch, run.step)


def _train_epoch(run: _Run, epoch: int, progress: bool) -> dict:
    """One pass over the training set; returns the epoch's log row (mean loss parts)."""
    tcfg = run.config["train"]
    limit = tcfg.get("max_minutes")
    run.sampler.set_epoch(epoch)
    run.train_set.set_epoch(epoch)
    run.model.train()
    sums: dict[str, float] = {}
    count = 0
    bar = tqdm(run.loader, desc=f"epoch {epoch + 1}/{run.epochs}",
               disable=not (progress and run.ctx.main))
    for batch in bar:
        if batch is None:
            run.skipped += 1
            continue
        parts = _train_step(run, batch)
        count += 1
        for key, value in parts.items():
            sums[key] = sums.get(key, 0.0) + value
        bar.set_postfix(loss=f"{parts['total']:.3f}", rank=f"{parts['rank']:.3f}")
        if limit and run.minutes() > float(limit):
            run.stopped_early = True
            break
    row = {"epoch": epoch + 1, "step": run.step, "lr": run.scheduler.get_last_lr()[-1]}
    row.update({f"train/{k}": v / max(count, 1) for k, v in sums.items()})
    row["minutes"] = run.minutes()
    return row


def _train_step(run: _Run, batch: tuple) -> dict[str, float]:
    """Forward, loss, backward, clipped optimiser and schedule step on one batch."""
    images, samples = batch
    outputs = run.model(images.to(run.ctx.device))
    num_objects = _global_mean(float(sum(len(s.ranks) for s in samples)), run.ctx)
    loss, parts = run.criterion(run.core, outputs, samples, max(num_objects, 1.0), run.generator)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    clip = run.config["train"].get("grad_clip")
    if clip:
        torch.nn.utils.clip_grad_norm_(run.core.parameters(), float(clip))
    run.optimizer.step()
    run.scheduler.step()
    run.step += 1
    return parts


def _validation_due(run: _Run, epoch: int) -> bool:
    every = int(run.config["val"]["every"])
    return (epoch + 1) % every == 0 or epoch + 1 == run.epochs or run.stopped_early


def _save_checkpoints(run: _Run, epoch: int, row: dict) -> None:
    """``model_last``, ``model_best`` when ``val.select`` improved, and the resume state."""
    config, tcfg = run.config, run.config["train"]
    meta = {"epoch": epoch + 1, "step": run.step, "train_images": len(run.train_set)}
    meta["validation"] = {
        k: v for k, v in row.items() if "/" in k or k.startswith("val") or k == "instance_recall"
    }
    fp16 = bool(tcfg["fp16_weights"])
    save_checkpoint(run.out / LAST_MODEL, run.core, config, meta, fp16=fp16)
    score = row.get(str(config["val"].get("select", "instance_recall")))
    if score is not None and score > run.best:
        run.best = float(score)
        run.best_path = save_checkpoint(run.out / BEST_MODEL, run.core, config, meta, fp16=fp16)
    save_training_state(
        run.out / STATE_FILE,
        {
            "model": run.core.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "epoch": epoch,
            "step": run.step,
            "best": run.best,
            "config_hash": config_hash(config),
            "rng_torch": torch.get_rng_state(),
            "rng_points": run.generator.get_state(),
        },
    )


def _global_mean(value: float, ctx: _Dist) -> float:
    """Mean of ``value`` over processes (the per-process object count normaliser)."""
    if ctx.world == 1:
        return value
    tensor = torch.tensor([value], device=ctx.device)
    dist.all_reduce(tensor)
    return float(tensor.item()) / ctx.world


def _fmt(row: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
