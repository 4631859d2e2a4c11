"""The cyclegan stage's work (ablations pipeline): the style-transfer route the report replaced.

Two ResNet generators and PatchGAN discriminators (Zhu et al. 2017) between DRRs
(domain A) and radiographs, or the radiograph-style stand-in (domain B), trained
on the training folds; content preservation is scored on the test fold.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import mlflow
import numpy as np
import torch
from lightning.pytorch.loggers import MLFlowLogger
from torch.utils.data import DataLoader, Dataset

from components.atomic_write import atomic_path
from components.config import Params
from components.data.folds import ct_ids_in_folds
from components.drr.shards import SHARD_SUFFIX, Shard
from components.evaluation.content import content_preservation
from components.models.cyclegan import save_generators, translate
from components.registry import tracking
from components.training.cyclegan_module import CycleGANConfig, CycleGANModule
from components.training.trainer import make_trainer


class UnpairedImages(Dataset):
    """Domain A images in order, each with a domain B image drawn by its own seeded generator."""

    def __init__(self, a: np.ndarray, b: np.ndarray, seed: int) -> None:
        self.a, self.b, self.seed = a, b, seed

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, k: int) -> dict:
        j = int(np.random.default_rng([self.seed, k]).integers(len(self.b)))
        return {"a": torch.from_numpy(self.a[k] * 2 - 1)[None], "b": torch.from_numpy(self.b[j] * 2 - 1)[None]}


def images_of(folder: Path, ct_ids: list[str]) -> np.ndarray:
    return np.concatenate([Shard(folder / f"{c}{SHARD_SUFFIX}").images for c in ct_ids])


def train_cyclegan(params: Params, project_root: Path) -> dict:
    """Train both generators on the training folds' DRRs (A) and radiographs or their stand-in (B); score
    content preservation on the test fold; write params `cyclegan.out` and an MLflow run."""
    cfg = params.cyclegan
    L.seed_everything(cfg.seed, workers=True)
    train_ids = ct_ids_in_folds(params.folds.csv, list(params.folds.train))
    test_ids = ct_ids_in_folds(params.folds.csv, [params.folds.test])
    drr_dir, xray_dir = Path(params.drrs.out), Path(params.xray_domain.out)
    missing = [c for c in train_ids if not (xray_dir / f"{c}{SHARD_SUFFIX}").exists()]
    if missing:
        raise FileNotFoundError(f"{xray_dir}: no radiograph-style images of training CT {missing[0]}; "
                                "xray_domain.folds must include the training folds")
    real = xray_dir / "real.npz"
    use_real = cfg.domain_b == "real" or (cfg.domain_b == "auto" and real.exists())
    if use_real:
        if not real.exists():
            raise FileNotFoundError(f"{real}: cyclegan.domain_b is 'real' but data/radiographs held none")
        with np.load(real) as data_b:
            domain_b = data_b["images"]
    else:
        domain_b = images_of(xray_dir, train_ids)
    print(f"domain B: {len(domain_b)} {'real radiographs' if use_real else 'radiograph-style images'}")
    data = UnpairedImages(images_of(drr_dir, train_ids), domain_b, cfg.seed)
    config = CycleGANConfig(**{k: getattr(cfg, k) for k in CycleGANConfig.__dataclass_fields__})
    module = CycleGANModule(config.to_dict())
    uri = tracking.configure(project_root, cfg.experiment)
    out = Path(cfg.out)
    with mlflow.start_run(run_name="cyclegan") as run:
        mlflow.log_params(tracking.flatten({"cyclegan": cfg.to_dict()}))
        mlflow.set_tags(tracking.lineage(project_root))
        logger = MLFlowLogger(experiment_name=cfg.experiment, tracking_uri=uri, run_id=run.info.run_id)
        make_trainer(config.max_steps, logger=logger, bf16=False, enable_checkpointing=False, log_every_n_steps=10).fit(
            module, DataLoader(data, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                               generator=torch.Generator().manual_seed(cfg.seed)))
        module.eval()
        drr_test, xray_test = images_of(drr_dir, test_ids), images_of(xray_dir, test_ids)
        to_xray, to_drr = translate(module.g_ab, drr_test), translate(module.g_ba, xray_test)
        scores = {"drr_to_xray": [content_preservation(s, t) for s, t in zip(drr_test, to_xray)],
                  "xray_to_drr": [content_preservation(s, t) for s, t in zip(xray_test, to_drr)],
                  "reference_true_pair": [content_preservation(s, t) for s, t in zip(drr_test, xray_test)]}
        content = {name: {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} for name, rows in scores.items()}
        content["n_images"] = len(drr_test)
        mlflow.log_metrics({f"content.{n}.{k}": v for n, d in content.items() if isinstance(d, dict)
                            for k, v in d.items()})
        rows = [np.concatenate([d, x, y, t], axis=1) for d, x, y, t in zip(drr_test[:4], to_xray[:4], xray_test[:4],
                                                                            to_drr[:4])]
        mlflow.log_image(np.concatenate(rows, axis=0), "samples/drr_fakeXR_xr_fakeDRR.png")
        run_id = run.info.run_id
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        save_generators(module.g_ab, module.g_ba, tmp, {**config.to_dict(), "mlflow_run_id": run_id})
        (tmp / "content.json").write_text(json.dumps(content, indent=2) + "\n")
    print("content preservation (edge SSIM, bone Dice): " + "; ".join(
        f"{n} {d['edge_ssim']:.3f} {d['bone_dice']:.3f}" for n, d in content.items() if isinstance(d, dict)))
    return content
