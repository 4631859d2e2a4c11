"""The x2ct stage's work: the diffusion model, its ablation without the projection loss, and both floors.

Trains on every case of the training folds (biplanar/), one after another with
the same seed and data order: `diffusion` (with Diff2CT's projection loss),
`no_projection` (the ablation), `regressor` (3D U-Net, L1); fits the
back-projection floor; writes each into `x2ct.out` with what it cost.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import lightning as L
import mlflow
import torch
from torch.utils.data import DataLoader

from components.atomic_write import atomic_path
from components.config import Params
from components.models.unet import count_parameters
from components.registry import tracking
from components.training.trainer import make_trainer
from components.x2ct.data import Cases, VolumePairs, cases_in_folds
from components.x2ct.model import NetConfig, X2CTModule
from components.x2ct.reconstruct import BackProjection, save_model

MODELS = {"diffusion": ("diffusion", True), "no_projection": ("diffusion", False), "regressor": ("regressor", False)}
BACKPROJECTION = "backprojection.json"


def model_config(params: Params, kind: str, projection: bool) -> dict:
    cfg = params.x2ct
    return {"net": NetConfig.from_params(kind, cfg).to_dict(), "grid": params.biplanar.grid.to_dict(),
            "geometry": params.drrs.geometry.to_dict(), "timesteps": cfg.timesteps,
            "inference": cfg.inference.to_dict(), "projection_weight": float(cfg.projection_weight) if projection else 0.0,
            "lr": float(cfg.lr), "ema_decay": float(cfg.ema_decay)}


def train_one(params: Params, cases: Cases, config: dict) -> tuple[torch.nn.Module, dict, float]:
    """The EMA network, what the run ended with (deterministic: it goes into the model folder) and its seconds."""
    cfg = params.x2ct
    L.seed_everything(cfg.seed, workers=True)
    module = X2CTModule(config["net"], config["grid"], config["geometry"], config["lr"], config["ema_decay"],
                        config["timesteps"], config["projection_weight"])
    loader = DataLoader(VolumePairs(cases.volume, cases.cond), batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(cfg.seed))
    start = time.perf_counter()
    trainer = make_trainer(cfg.max_steps, bf16=True, enable_checkpointing=False, log_every_n_steps=10)
    trainer.fit(module, loader)
    seconds = time.perf_counter() - start
    summary = {"steps": cfg.max_steps, "parameters": count_parameters(module.net),
               "final": {k: float(v) for k, v in trainer.callback_metrics.items()}}
    return module.ema.module, summary, seconds


def train_x2ct(params: Params, project_root: Path) -> dict:
    """Train the three models and fit the floor; their folders and train_summary.json hold no times (they would
    differ run to run under DVC): the seconds go to an MLflow run in `x2ct.experiment`."""
    cases = cases_in_folds(params, list(params.folds.train))
    out = Path(params.x2ct.out)
    out.mkdir(parents=True, exist_ok=True)
    summary, seconds = {"training_cases": len(cases), "training_cts": len(set(cases.ct_ids))}, {}
    for name, (kind, projection) in MODELS.items():
        config = model_config(params, kind, projection)
        net, summary[name], seconds[name] = train_one(params, cases, config)
        save_model(out / name, net, {**config, "training": summary[name], "training_cases": len(cases)})
        print(f"{name}: {summary[name]['steps']} steps in {seconds[name]:.0f} s")
    BackProjection.fit(cases.cond, cases.volume).save(out / BACKPROJECTION)
    with atomic_path(out / "train_summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tracking.configure(project_root, params.x2ct.experiment)
    with mlflow.start_run(run_name="x2ct-train"):
        mlflow.log_params(tracking.flatten({"biplanar": params.biplanar.to_dict(), "x2ct": params.x2ct.to_dict()}))
        mlflow.log_metrics({f"{name}.train_seconds": s for name, s in seconds.items()}
                           | {f"{name}.{k.replace('/', '.')}": v for name in MODELS
                              for k, v in summary[name]["final"].items()})
        mlflow.set_tags(tracking.lineage(project_root))
    return summary
