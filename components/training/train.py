"""The train stage's work: DRR pairs of the training folds → the RadRotator model, tracked in MLflow.

`train_rotator` trains (resuming from a checkpoint of the same run when asked),
exports the EMA weights with their configuration and inference defaults to the
model folder, and registers a new version with the alias `challenger`; run and
version carry the tag `model_sha256`, the weights' hash, by which later stages
find them. flows/train.py runs it as a Prefect flow.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import mlflow
import numpy as np
import torch
from lightning.pytorch.loggers import MLFlowLogger

from components.config import Params, Train
from components.data.datamodule import PairDataModule, pair_data
from components.fingerprint import cache_key, file_sha256, source_fingerprint
from components.models.unet import unet_params
from components.registry import tracking
from components.registry.export import InferenceDefaults, export_model, model_sha256
from components.sampling.guided import guided_sample, initial_noise
from components.sampling.samplers import make_sampler
from components.training.module import RadRotatorModule
from components.training.trainer import checkpoints, fit, resume_point, rotator_trainer, worker_rank, world_size


def run_key(params: Params, cfg: Train) -> str:
    """What a resumable checkpoint must have been made by: this configuration, these pairs and folds,
    this training code."""
    return cache_key(cfg=cfg.to_dict(), pixels=params.drrs.geometry.pixels,
                     index=file_sha256(Path(params.drrs.out) / "index.csv"), folds=file_sha256(params.folds.csv),
                     code=source_fingerprint("training", "models", "data"))


def guard_folder(params: Params) -> Path | None:
    """The pose regressor's folder when it holds an input guard (the train stage depends on it)."""
    folder = Path(params.pose_regressor.out)
    if (folder / "guard.safetensors").exists():
        return folder
    print(f"note: {folder} holds no input guard (run `dvc repro pose_regressor`); the model folder will carry none")
    return None


def validation_grid(module: RadRotatorModule, data: PairDataModule, n: int, inference: InferenceDefaults) -> np.ndarray:
    """Rows of source | target | generated (EMA weights) for the first n validation pairs."""
    batch = next(iter(torch.utils.data.DataLoader(data.val_set, batch_size=n)))
    model = module.ema.module.eval()
    size = batch["source"].shape[-1]
    noise = initial_noise((1, 1, size, size), 0).expand(len(batch["source"]), -1, -1, -1)
    generated = guided_sample(model, make_sampler(inference.sampler, module.train_config.timesteps), batch["source"],
                              batch["angles"], noise, inference.steps, inference.guidance)
    rows = [torch.cat([s[0], t[0], g[0]], dim=1) for s, t, g in zip(batch["source"], batch["target"], generated)]
    return ((torch.cat(rows, dim=0).clamp(-1, 1) + 1) / 2).numpy()


def train_rotator(params: Params, project_root: Path, section: str | None = None) -> dict:
    """Train with params `train` (overridden by `section`, an ablation); returns what train_metrics.json holds
    (on a DDP worker: its rank and steps; rank 0 alone tracks, exports and registers)."""
    cfg = params.train_section(section)
    L.seed_everything(cfg.seed, workers=True)
    data = pair_data(params, cfg)
    print(f"{len(data.train_set)} training pairs, {len(data.val_set)} validation pairs")
    module = RadRotatorModule(unet_params(params, cfg), cfg.optim.to_dict(), cfg.max_steps)
    inference = InferenceDefaults(**cfg.inference.to_dict())
    out_dir = Path(cfg.out)
    val_every = min(cfg.val_every, len(data.train_dataloader()) // world_size(cfg))

    def run(logger) -> L.Trainer:
        folder = out_dir / "checkpoints"
        resume = resume_point(folder, run_key(params, cfg), cfg.resume)
        trainer = rotator_trainer(cfg, logger, checkpoints(folder, cfg.checkpoint_every),
                                  val_check_interval=val_every, check_val_every_n_epoch=None)
        fit(trainer, module, data, resume)
        return trainer

    if worker_rank():
        trainer = run(logger=False)
        return {"rank": trainer.global_rank, "steps": int(trainer.global_step)}
    uri = tracking.configure(project_root, cfg.experiment)
    with mlflow.start_run(run_name=cfg.run_name) as mlflow_run:
        mlflow.log_params(tracking.flatten(params.to_dict()))
        mlflow.set_tags(tracking.lineage(project_root))
        trainer = run(MLFlowLogger(experiment_name=cfg.experiment, tracking_uri=uri, run_id=mlflow_run.info.run_id))
        mlflow.log_image(validation_grid(module, data, cfg.grid_pairs, inference),
                         "validation/source_target_generated.png")
        model_dir = export_model(module.ema.module, module.unet_config, cfg.model_dir,
                                 {"train": module.train_config.to_dict()},
                                 inference, module.train_config.timesteps, guard_folder(params))
        mlflow.log_artifacts(str(model_dir), "ema")
        sha256 = model_sha256(model_dir)
        mlflow.set_tag(tracking.MODEL_TAG, sha256)
        model_uri, version = (tracking.log_and_register(model_dir, alias="challenger", sha256=sha256)
                              if cfg.register_model else (None, None))
    print(f"registered {tracking.MODEL_NAME} v{version} as challenger (run {mlflow_run.info.run_id}, {model_uri})"
          if version else f"trained {section or 'train'} (run {mlflow_run.info.run_id}), not registered")
    # What the data and code determine, and nothing else: no run id, no registry version,
    # so that a rerun reproduces train_metrics.json (they are in MLflow, tagged with model_sha256).
    return {"model_sha256": sha256, "steps": int(trainer.global_step), "train_pairs": len(data.train_set),
            "world_size": trainer.world_size, **{k: float(v) for k, v in trainer.callback_metrics.items()}}
