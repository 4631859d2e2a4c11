"""A training run on real shards, for the resume tests: `python -m tests.training.resume_run DIR STEPS
[--kill-at K]` trains RadRotator with PairDataModule, checkpointing every STEPS // 2 steps into
DIR/checkpoints and resuming from DIR/checkpoints/last.ckpt when it exists; with --kill-at it
SIGKILLs itself when step K begins (after the checkpoint of step K is written), or with
--signal SIGTERM asks itself to stop there. On a clean end it
saves the weights to DIR/weights.pt."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import lightning as L
import torch

from components.data.datamodule import PairDataModule
from components.training.module import RadRotatorModule
from components.training.trainer import LAST, checkpoints, fit, make_trainer
from tests.conftest import TINY_UNET
from tests.params import optim


class KillAt(L.Callback):
    def __init__(self, step: int, signal_name: str = "SIGKILL") -> None:
        self.step, self.signal = step, getattr(signal, signal_name)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            # SIGKILL: no cleanup, no final checkpoint, a crash. SIGTERM: a polite stop (docker stop).
            os.kill(os.getpid(), self.signal)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("steps", type=int)
    parser.add_argument("--kill-at", type=int)
    parser.add_argument("--signal", default="SIGKILL", choices=["SIGKILL", "SIGTERM"])
    args = parser.parse_args(argv)
    folder = Path(args.dir)
    torch.set_num_threads(1)
    L.seed_everything(0, workers=True)
    data = PairDataModule(os.environ["SHARDS"], os.environ["FOLDS"], [1, 2, 3], [4], batch_size=2, histogram="match",
                          seed=0, max_val_pairs=4)
    module = RadRotatorModule(dict(TINY_UNET), optim(lr=1e-3, ema_decay=0.9))
    callbacks = checkpoints(folder / "checkpoints", args.steps // 2) + ([KillAt(args.kill_at, args.signal)] if args.kill_at else [])
    trainer = make_trainer(args.steps, callbacks=callbacks, accelerator="cpu", gradient_clip=1.0, progress_bar=False,
                           limit_val_batches=1, log_every_n_steps=1, val_check_interval=args.steps // 2,
                           check_val_every_n_epoch=None)
    last = folder / "checkpoints" / LAST
    fit(trainer, module, data, last if last.exists() else None)
    torch.save({k: v.detach().clone() for k, v in module.state_dict().items()}, folder / "weights.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
