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

from components.training.module import PairDataModule

LAST = "last.ckpt"


def pair_data(shard_dir: str, folds_csv: str, train_folds: list[int], val_folds: list[int], cfg: dict,
              val_shard_dir: str | None = None) -> PairDataModule:
    """The training folds' pairs (with cfg's histogram transform) and the validation fold's (from
    `val_shard_dir` when given: the radiograph-style shards), set up."""
    data = PairDataModule(shard_dir, folds_csv, list(train_folds), list(val_folds),
                          batch_size=int(cfg["batch_size"]), histogram=cfg["histogram_transform"],
                          seed=int(cfg["seed"]), max_val_pairs=int(cfg["val_pairs"]), val_shard_dir=val_shard_dir)
    data.setup()
    return data


def world_size(cfg: dict) -> int:
    devices = cfg.get("devices", 1)
    return (devices if isinstance(devices, int) else 1) * int(cfg.get("num_nodes", 1))


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


def make_trainer(cfg: dict, logger, callbacks: list, **options) -> L.Trainer:
    """A Lightning Trainer from params `train`: devices, strategy (ddp across GPUs and nodes) and
    bf16 on GPU; `options` for what the caller decides (validation cadence)."""
    gpu = torch.cuda.is_available() if cfg.get("accelerator", "auto") == "auto" else cfg["accelerator"] == "gpu"
    return L.Trainer(max_steps=int(cfg["max_steps"]), accelerator="gpu" if gpu else "cpu",
                     devices=cfg.get("devices", 1), num_nodes=int(cfg.get("num_nodes", 1)),
                     strategy=cfg.get("strategy", "auto"),
                     precision="bf16-mixed" if gpu and cfg.get("bf16", True) else "32-true",
                     gradient_clip_val=float(cfg["gradient_clip"]), logger=logger, callbacks=callbacks,
                     limit_val_batches=int(cfg["val_batches"]), log_every_n_steps=int(cfg["log_every"]),
                     enable_progress_bar=cfg.get("progress_bar", True), enable_model_summary=False,
                     deterministic=False, **options)
