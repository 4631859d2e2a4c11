"""Stage `train`: DRR pairs of the training folds → the RadRotator model, tracked in MLflow.

    python -m flows.train [--params params.yaml] [--section train_no_rhs]

Writes models/radrotator/ (EMA weights + config), models/train_metrics.json, an
MLflow run (params, losses, validation grids) and a new registered version of
`radrotator` with the alias `challenger`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import lightning as L
import mlflow
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import MLFlowLogger
from prefect import flow

from components.atomic_write import atomic_path
from components.models.diffusion import sampling_scheduler
from components.params import load_params
from flows.stage import stage_main
from components.registry import tracking
from components.registry.export import export_model
from components.sampling.guided import guided_sample, initial_noise
from components.training.module import PairDataModule, RadRotatorModule
from flows import PROJECT_ROOT


def validation_grid(module: RadRotatorModule, data: PairDataModule, n: int, steps: int, guidance: float) -> np.ndarray:
    """Rows of source | target | generated (EMA weights) for the first n validation pairs."""
    batch = next(iter(torch.utils.data.DataLoader(data.val_set, batch_size=n)))
    model = module.ema.module.eval()
    size = batch["source"].shape[-1]
    noise = initial_noise((1, 1, size, size), 0).expand(len(batch["source"]), -1, -1, -1)
    generated = guided_sample(model, sampling_scheduler(module.train_config.timesteps), batch["source"],
                              batch["angles"], noise, steps, guidance)
    rows = [torch.cat([s[0], t[0], g[0]], dim=1) for s, t, g in zip(batch["source"], batch["target"], generated)]
    return ((torch.cat(rows, dim=0).clamp(-1, 1) + 1) / 2).numpy()


def pair_data(params: dict, cfg: dict) -> PairDataModule:
    """The training folds' pairs (with cfg's histogram transform) and the validation fold's, set up."""
    data = PairDataModule(params["drrs"]["out"], str(Path(params["folds"]["out"]) / "folds.csv"),
                          list(params["folds"]["train"]), [int(params["folds"]["val"])],
                          batch_size=int(cfg["batch_size"]), histogram=cfg["histogram_transform"],
                          seed=int(cfg["seed"]), max_val_pairs=int(cfg["val_pairs"]))
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
                     enable_progress_bar=cfg.get("progress_bar", True), deterministic=False, **options)


@flow(name="train", log_prints=True)
def train(params_path: str = "params.yaml", section: str | None = None) -> dict:
    """Train with params `train`, overridden by params[section] when given (an ablation)."""
    params = load_params(params_path)
    cfg = {**params["train"], **(params[section] if section else {})}
    L.seed_everything(int(cfg["seed"]), workers=True)
    data = pair_data(params, cfg)
    print(f"{len(data.train_set)} training pairs, {len(data.val_set)} validation pairs")
    module = RadRotatorModule(cfg["unet"], cfg["optim"])
    out_dir = Path(cfg["out"])
    val_every = min(int(cfg["val_every"]), len(data.train_dataloader()) // world_size(cfg))
    resume = out_dir / "checkpoints" / "last.ckpt"

    def fit(logger) -> L.Trainer:
        checkpoints = ModelCheckpoint(dirpath=out_dir / "checkpoints", save_last=True, save_top_k=0)
        trainer = make_trainer(cfg, logger, [checkpoints], val_check_interval=val_every, check_val_every_n_epoch=None)
        trainer.fit(module, datamodule=data, ckpt_path=str(resume) if cfg.get("resume") and resume.exists() else None)
        return trainer

    if worker_rank():  # a DDP worker: it trains; rank 0 alone tracks, exports and registers
        trainer = fit(logger=False)
        return {"rank": trainer.global_rank, "steps": int(trainer.global_step)}
    uri = tracking.configure(PROJECT_ROOT, cfg["experiment"])
    with mlflow.start_run(run_name=cfg.get("run_name")) as run:
        mlflow.log_params(tracking.flatten(params))
        mlflow.set_tags(tracking.lineage(PROJECT_ROOT))
        trainer = fit(MLFlowLogger(experiment_name=cfg["experiment"], tracking_uri=uri, run_id=run.info.run_id))
        grid = validation_grid(module, data, int(cfg["grid_pairs"]), int(cfg["grid_steps"]), float(cfg["guidance"]))
        mlflow.log_image(grid, "validation/source_target_generated.png")
        model_dir = export_model(module.ema.module, module.unet_config, out_dir / "radrotator",
                                 {"train": module.train_config.to_dict(), "schedule": "cosine_zero_snr",
                                  "prediction": "v", "mlflow_run_id": run.info.run_id})
        mlflow.log_artifacts(str(model_dir), "ema")
        model_uri, version = (tracking.log_and_register(model_dir, alias="challenger")
                              if cfg.get("register", True) else (None, None))
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        summary = {"run_id": run.info.run_id, "model_uri": model_uri, "registered_version": version,
                   "steps": int(trainer.global_step), "train_pairs": len(data.train_set),
                   "world_size": trainer.world_size, **metrics}
    with atomic_path(out_dir / "train_metrics.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"registered {tracking.MODEL_NAME} v{version} as challenger (run {summary['run_id']})" if version
          else f"trained {section or 'train'} (run {summary['run_id']}), not registered")
    return summary


def main(argv: list[str] | None = None) -> int:
    return stage_main("train", __doc__, train, argv, options=("section",))


if __name__ == "__main__":
    sys.exit(main())
