"""The CPU recipe study: train recipe variants, score their snapshots on the validation fold.

    python benchmarks/recipe.py [--variants report lr3e-4 lr2e-4-cosine] [--snapshots 1000 2500 3500]
                                [--guidance 2 4] [--threads 1] [--out benchmarks/results/recipe.json]

Each variant is params.yaml's `train` with a few overrides; it trains once to
its last snapshot (EMA exported at each snapshot step) on the pipeline's DRRs
and folds (run `dvc repro folds xray_domain` first). Each snapshot is scored on
the *validation* fold (6) — never the test fold, which only the evaluate stage
reads — with the evaluation's protocol restricted to the 5–10° and 10–15° bins:
SSIM and the rotation error read by registration, per domain, beside identity
and the 2D warp. The table is what chose the CPU profile's recipe
(docs/recipe.md). Variants run one after another; two runs of this script on
two variant lists use two cores.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import time
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

from components.config import Params, Train, load_config, validated
from components.data.datamodule import pair_data
from components.drr.render import DRRConfig
from components.evaluation.baselines import affine_warp
from components.evaluation.evaluate import EvaluationInputs, evaluation_test_set
from components.evaluation.metrics import image_metrics
from components.evaluation.protocol import Protocol, TestSet, build_dictionaries, recovered_poses
from components.evaluation.registration import rotation_error
from components.models.unet import unet_params
from components.registry.export import InferenceDefaults, export_model
from components.sampling.rotate import Rotator
from components.training.module import RadRotatorModule
from components.training.sweep import set_dotted
from components.training.trainer import rotator_trainer

VARIANTS = {  # name → overrides of params.yaml `train` (dotted keys)
    "report": {},  # Lion 1e-4, constant: the report's recipe
    "lr3e-4": {"optim.lr": 3e-4},
    "lr2e-4-cosine": {"optim.lr": 2e-4, "optim.lr_schedule": "cosine", "optim.warmup_steps": 100},
}
BINS = ("5-10", "10-15")


def override(cfg: dict, changes: dict) -> dict:
    """A copy of `cfg` with dotted-key changes."""
    cfg = copy.deepcopy(cfg)
    for key, value in changes.items():
        set_dotted(cfg, key, value, create=True)
    return cfg


def train_variant(name: str, params: Params, snapshots: list[int], out: Path) -> list[Path]:
    """Train one variant to its last snapshot; export the EMA weights at each snapshot step."""
    changed = override(params.train.to_dict(), VARIANTS[name])
    changed.update({"max_steps": max(snapshots), "progress_bar": False})
    cfg = validated(Train, changed, f"variant {name}")
    folders = [out / name / f"step{s}" for s in snapshots]
    if all((f / "config.json").exists() for f in folders):
        return folders
    L.seed_everything(cfg.seed, workers=True)
    data = pair_data(params, cfg)
    module = RadRotatorModule(unet_params(params, cfg), cfg.optim.to_dict(), max(snapshots))
    inference = InferenceDefaults(**cfg.inference.to_dict())

    class Snapshots(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step in snapshots:
                export_model(pl_module.ema.module, pl_module.unet_config,
                             out / name / f"step{trainer.global_step}", {"variant": name}, inference)

    rotator_trainer(cfg, False, [Snapshots()], val_check_interval=cfg.val_every,
                    check_val_every_n_epoch=None).fit(module, datamodule=data)
    return folders


def validation_set(params: Params) -> tuple[TestSet, dict]:
    protocol = Protocol.from_params(params.evaluate)
    inputs = dataclasses.replace(EvaluationInputs.from_params(params), test_fold=params.folds.val)
    full = evaluation_test_set(inputs, protocol)
    pairs = [p for p in full.pairs if p.bin in BINS]
    test = TestSet(full.shards, full.patients, pairs)
    dictionaries = build_dictionaries(test, inputs.pool, pd.read_csv(inputs.pool / "manifest.csv"),
                                      DRRConfig.from_params(params.drrs), protocol)
    return test, dictionaries


def scores(images: np.ndarray, test: TestSet, domain: str, dictionaries: dict) -> dict:
    _, truths, _, _, end = test.arrays(domain)
    error = rotation_error(recovered_poses(images, test.pairs, dictionaries), end)
    ssim = np.array([image_metrics(o, t)["ssim"] for o, t in zip(images, truths)])
    bins = np.array([p.bin for p in test.pairs])
    return {b: {"ssim": float(ssim[bins == b].mean()), "rotation_error_deg": float(error[bins == b].mean())}
            for b in BINS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--snapshots", nargs="+", type=int, default=[1000, 2500, 3500])
    parser.add_argument("--guidance", nargs="+", type=float, default=[2.0, 4.0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", default="models/recipe", help="where the snapshots go")
    parser.add_argument("--out", default="benchmarks/results/recipe.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = load_config()
    test, dictionaries = validation_set(params)
    rows = []
    for domain in ("drr", "radiograph_style"):
        sources, _, deltas, _, _ = test.arrays(domain)
        rows.append({"domain": domain, "method": "identity", **{"scores": scores(sources, test, domain, dictionaries)}})
        warped = np.stack([affine_warp(s, d) for s, d in zip(sources, deltas)])
        rows.append({"domain": domain, "method": "affine_warp", "scores": scores(warped, test, domain, dictionaries)})
    for name in args.variants:
        start = time.perf_counter()
        folders = train_variant(name, params, sorted(args.snapshots), Path(args.work))
        print(f"{name}: trained in {time.perf_counter() - start:.0f} s", flush=True)
        for folder in folders:
            rotator = Rotator.from_folder(folder)
            for guidance in args.guidance:
                for domain in ("drr", "radiograph_style"):
                    sources, _, deltas, _, _ = test.arrays(domain)
                    out = np.stack(rotator.rotate_each(list(sources), deltas, rotator.steps, guidance, 0))
                    rows.append({"domain": domain, "method": f"{name} step {folder.name[4:]}, guidance {guidance:g}",
                                 "scores": scores(out, test, domain, dictionaries)})
                    print(rows[-1], flush=True)
    table = Table(title=f"Validation fold, {len(test.pairs)} pairs per domain (5–10° and 10–15°): SSIM / rotation "
                        "error ° (registration)")
    for column in ("domain", "method", *[f"{b}°" for b in BINS]):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(row["domain"], row["method"], *[f"{row['scores'][b]['ssim']:.3f} / "
                                                      f"{row['scores'][b]['rotation_error_deg']:.2f}" for b in BINS])
    Console(width=160).print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"benchmark": "recipe", "fold": params.folds.val,
                                          "pairs_per_domain": len(test.pairs), "rows": rows,
                                          "variants": {v: VARIANTS[v] for v in args.variants}}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
