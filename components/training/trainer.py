"""The Lightning Trainer every RadRotator training builds, and its checkpoints.

One factory for the train stage, its ablation and the sweep: devices, strategy
(DDP across GPUs and nodes), bf16 on GPU, gradient clipping, and checkpoints
written every `checkpoint_every` steps and on SIGTERM so that a killed or
stopped run resumes. A resumed
run continues exactly: the checkpoint holds the weights, the optimiser, the EMA,
the global RNG states (RadRotatorModule), and the loader's sampler position and
transform random states (PairDataModule's StatefulDataLoader).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from components.config import Train

LAST = "last.ckpt"


def world_size(cfg: Train) -> int:
    return (cfg.devices if isinstance(cfg.devices, int) else 1) * cfg.num_nodes


def worker_rank() -> int:
    """This process's global DDP rank as its launcher set it: torchrun (RANK), SLURM (SLURM_PROCID),
    or Lightning's own launcher (non-zero LOCAL_RANK beside rank 0, NODE_RANK on other nodes)."""
    for key in ("RANK", "SLURM_PROCID"):
        if key in os.environ:
            return int(os.environ[key])
    return int(os.environ.get("LOCAL_RANK", 0)) + int(os.environ.get("NODE_RANK", 0))


def checkpoints(folder: str | Path, every: int | None) -> list[L.Callback]:
    """`folder/last.ckpt`, rewritten every `every` training steps, at the end of training, and when
    the run is told to stop (SIGTERM: docker stop, systemd, a scheduler's pre-emption). Lightning
    writes each through a temporary file (an fsspec transaction), so a kill mid-write leaves the
    previous checkpoint."""
    return [ModelCheckpoint(dirpath=folder, save_last=True, save_top_k=0,
                            every_n_train_steps=int(every) if every else None), SaveOnTerminate(folder)]


class SaveOnTerminate(L.Callback):
    """On SIGTERM Lightning finishes the step it is in and raises SIGTERMException: save there."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / LAST

    def on_exception(self, trainer: L.Trainer, pl_module, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException):
            trainer.save_checkpoint(self.path)
            print(f"SIGTERM at step {trainer.global_step}: saved {self.path}; run again to resume")


def fit(trainer: L.Trainer, module: L.LightningModule, data, ckpt_path: str | Path | None) -> None:
    """trainer.fit, but a run stopped by SIGTERM exits 143 (128 + SIGTERM), not 0: Lightning's
    SIGTERMException is a bare SystemExit, which a pipeline would read as success."""
    try:
        trainer.fit(module, datamodule=data, ckpt_path=str(ckpt_path) if ckpt_path else None)
    except SIGTERMException:
        raise SystemExit(128 + signal.SIGTERM) from None


def resume_point(folder: str | Path, key: str, resume: bool) -> Path | None:
    """`folder/last.ckpt` when `resume` is asked and it was made by the run keyed `key` (same data,
    code and configuration), else None. Any other checkpoint there belongs to a run this one
    replaces: it is removed, so that it is never resumed into this run and Lightning does not
    version the new one beside it (last-v1.ckpt), and `key` is recorded for a later resume."""
    folder = Path(folder)
    last, stamp = folder / LAST, folder / "key.json"
    if resume and last.exists() and stamp.exists() and json.loads(stamp.read_text()).get("key") == key:
        return last
    for stale in sorted(folder.glob("last*.ckpt")):
        print(f"{stale}: " + ("made by a different run (key mismatch), not resumed" if resume
                              else "from an earlier run, replaced (train.resume is false)"))
        stale.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"key": key}) + "\n")
    return None


def make_trainer(max_steps: int, *, logger=False, callbacks: list | tuple = (), accelerator: str = "auto",
                 devices: int | str = 1, num_nodes: int = 1, strategy: str = "auto", bf16: bool = True,
                 gradient_clip: float | None = None, progress_bar: bool = True, **options) -> L.Trainer:
    """The one Lightning Trainer factory (the rotator, its ablation, the sweep, the pose regressor, the
    Cycle-GAN): the accelerator (auto: GPU when present), devices and strategy (DDP across GPUs and
    nodes), bf16 on GPU; `options` for what the caller decides (validation cadence, checkpointing)."""
    gpu = torch.cuda.is_available() if accelerator == "auto" else accelerator == "gpu"
    return L.Trainer(max_steps=max_steps, accelerator="gpu" if gpu else "cpu", devices=devices, num_nodes=num_nodes,
                     strategy=strategy, precision="bf16-mixed" if gpu and bf16 else "32-true",
                     gradient_clip_val=gradient_clip, logger=logger, callbacks=list(callbacks),
                     enable_progress_bar=progress_bar, enable_model_summary=False, deterministic=False, **options)


def rotator_trainer(cfg: Train, logger, callbacks: list, **options) -> L.Trainer:
    """The trainer of params `train` (or an ablation's, or a sweep trial's)."""
    return make_trainer(cfg.max_steps, logger=logger, callbacks=callbacks, accelerator=cfg.accelerator,
                        devices=cfg.devices, num_nodes=cfg.num_nodes, strategy=cfg.strategy, bf16=cfg.bf16,
                        gradient_clip=float(cfg.gradient_clip), progress_bar=cfg.progress_bar,
                        limit_val_batches=cfg.val_batches, log_every_n_steps=cfg.log_every, **options)
