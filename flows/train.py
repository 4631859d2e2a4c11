"""Stage `train`: DRR pairs of the training folds → the RadRotator model, tracked in MLflow.

    python -m flows.train [--params params.yaml] [--section train_no_rhs]

Writes models/radrotator/ (EMA weights + config), models/train_metrics.json, an
MLflow run (params, losses, validation grids) and a new registered version of
`radrotator` with the alias `challenger`; run and version carry the tag
`model_sha256`, the weights' hash, by which later stages find them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning as L
import mlflow
import numpy as np
import torch
from lightning.pytorch.loggers import MLFlowLogger
from prefect import flow

from components.atomic_write import atomic_path
from components.fingerprint import cache_key, file_sha256, source_fingerprint
from components.params import load_params
from flows.stage import stage_main
from components.registry import tracking
from components.registry.export import InferenceDefaults, export_model, model_sha256
from components.sampling.guided import guided_sample, initial_noise
from components.sampling.samplers import make_sampler
from components.training.module import PairDataModule, RadRotatorModule
from components.training.trainer import checkpoints, fit as fit_or_stop, make_trainer, resume_point, worker_rank, world_size
from components.training.trainer import pair_data as training_data
from flows import PROJECT_ROOT


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


def guard_folder(params: dict) -> Path | None:
    """The pose regressor's folder when it holds an input guard (the train stage depends on it)."""
    folder = Path(params["pose_regressor"]["out"])
    if (folder / "guard.safetensors").exists():
        return folder
    print(f"note: {folder} holds no input guard (run `dvc repro pose_regressor`); the model folder will carry none")
    return None


def pair_data(params: dict, cfg: dict, validate_on: str = "drr") -> PairDataModule:
    """Training pairs of the training folds; validation pairs of the validation fold, DRRs or
    (`validate_on: radiograph_style`) the radiograph-style stand-in."""
    val_dir = {"drr": None, "radiograph_style": params["xray_domain"]["out"]}[validate_on]
    return training_data(params["drrs"]["out"], str(Path(params["folds"]["out"]) / "folds.csv"),
                         params["folds"]["train"], [int(params["folds"]["val"])], cfg, val_dir)


def unet_params(params: dict, cfg: dict) -> dict:
    """The U-Net of `cfg`, its image size the DRRs' (one fact, one home: drrs.geometry.pixels)."""
    if "image_size" in cfg["unet"]:
        raise ValueError("train.unet.image_size: remove it; the model's size is drrs.geometry.pixels")
    return {**cfg["unet"], "image_size": int(params["drrs"]["geometry"]["pixels"])}


def run_key(params: dict, cfg: dict) -> str:
    """What a resumable checkpoint must have been made by: this configuration, these pairs and folds,
    this training code."""
    return cache_key(cfg=cfg, pixels=params["drrs"]["geometry"]["pixels"],
                     index=file_sha256(Path(params["drrs"]["out"]) / "index.csv"),
                     folds=file_sha256(Path(params["folds"]["out"]) / "folds.csv"),
                     code=source_fingerprint("training", "models", "data"))


@flow(name="train", log_prints=True)
def train(params_path: str = "params.yaml", section: str | None = None) -> dict:
    """Train with params `train`, overridden by params[section] when given (an ablation)."""
    params = load_params(params_path)
    cfg = {**params["train"], **(params[section] if section else {})}
    L.seed_everything(int(cfg["seed"]), workers=True)
    data = pair_data(params, cfg)
    print(f"{len(data.train_set)} training pairs, {len(data.val_set)} validation pairs")
    module = RadRotatorModule(unet_params(params, cfg), cfg["optim"], int(cfg["max_steps"]))
    inference = InferenceDefaults(**cfg["inference"])
    out_dir = Path(cfg["out"])
    val_every = min(int(cfg["val_every"]), len(data.train_dataloader()) // world_size(cfg))

    def fit(logger) -> L.Trainer:
        folder = out_dir / "checkpoints"
        resume = resume_point(folder, run_key(params, cfg), bool(cfg.get("resume")))
        trainer = make_trainer(cfg, logger, checkpoints(folder, cfg.get("checkpoint_every")),
                               val_check_interval=val_every, check_val_every_n_epoch=None)
        fit_or_stop(trainer, module, data, resume)
        return trainer

    if worker_rank():  # a DDP worker: it trains; rank 0 alone tracks, exports and registers
        trainer = fit(logger=False)
        return {"rank": trainer.global_rank, "steps": int(trainer.global_step)}
    uri = tracking.configure(PROJECT_ROOT, cfg["experiment"])
    with mlflow.start_run(run_name=cfg.get("run_name")) as run:
        mlflow.log_params(tracking.flatten(params))
        mlflow.set_tags(tracking.lineage(PROJECT_ROOT))
        trainer = fit(MLFlowLogger(experiment_name=cfg["experiment"], tracking_uri=uri, run_id=run.info.run_id))
        grid = validation_grid(module, data, int(cfg["grid_pairs"]), inference)
        mlflow.log_image(grid, "validation/source_target_generated.png")
        model_dir = export_model(module.ema.module, module.unet_config, out_dir / "radrotator",
                                 {"train": module.train_config.to_dict()},
                                 inference, module.train_config.timesteps, guard_folder(params))
        mlflow.log_artifacts(str(model_dir), "ema")
        sha256 = model_sha256(model_dir)
        mlflow.set_tag(tracking.MODEL_TAG, sha256)
        model_uri, version = (tracking.log_and_register(model_dir, alias="challenger")
                              if cfg.get("register", True) else (None, None))
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        # What the data and code determine, and nothing else: no run id, no registry version,
        # so that a rerun reproduces this file (they are in MLflow, tagged with model_sha256).
        summary = {"model_sha256": sha256, "steps": int(trainer.global_step),
                   "train_pairs": len(data.train_set), "world_size": trainer.world_size, **metrics}
    with atomic_path(out_dir / "train_metrics.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"registered {tracking.MODEL_NAME} v{version} as challenger (run {run.info.run_id}, {model_uri})" if version
          else f"trained {section or 'train'} (run {run.info.run_id}), not registered")
    return summary


def main(argv: list[str] | None = None) -> int:
    return stage_main("train", __doc__, train, argv, options=("section",))


if __name__ == "__main__":
    sys.exit(main())
