"""Stage `evaluate`: the model against identity and a 2D warp, on DRR and radiograph-style inputs.

    python -m flows.evaluate [--params params.yaml]

For each rotation-magnitude bin, pairs of the test fold's CTs are rotated by the
model (DDIM with guidance, output histogram-matched to its input as in mode A)
and by the baselines, and scored against the true rotated image: MAE, PSNR,
SSIM. Writes reports/metrics.json (DVC metrics), reports/pairs.csv,
reports/plots/*.csv (DVC plots), reports/figures/*.png and reports/evaluation.md,
and logs them to the model's training run in MLflow.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch
from PIL import Image
from prefect import flow

from components.atomic_write import atomic_path, write_csv_atomic
from components.data.pairs import valid_pairs
from components.drr.shards import SHARD_SUFFIX, Shard
from components.evaluation.baselines import BASELINES
from components.evaluation.metrics import METRICS, angle_bin, bin_order, image_metrics, summarise
from components.params import load_params
from components.registry import tracking
from components.registry.export import load_model
from components.sampling.rotate import Rotator
from flows import PROJECT_ROOT
from flows.stage import stage_main


def sample_pairs(shards: dict[str, Shard], edges, per_bin: int, seed: int) -> list[tuple[str, int, int, str]]:
    """Up to `per_bin` (ct_id, i, j, bin) per rotation-magnitude bin, spread over CTs."""
    candidates: dict[str, list] = {}
    for ct_id, shard in sorted(shards.items()):
        for i, j in valid_pairs(shard.poses):
            delta = shard.poses[j] - shard.poses[i]
            candidates.setdefault(angle_bin(delta, edges), []).append((ct_id, int(i), int(j)))
    rng = np.random.default_rng(seed)
    chosen = []
    for b in sorted(candidates, key=bin_order):
        pool = candidates[b]
        for k in rng.choice(len(pool), size=min(per_bin, len(pool)), replace=False):
            chosen.append((*pool[k], b))
    return chosen


@flow(name="evaluate", log_prints=True)
def evaluate(params_path: str = "params.yaml") -> dict:
    params = load_params(params_path)
    cfg = params["evaluate"]
    torch.manual_seed(int(cfg["seed"]))
    model, model_config = load_model(Path(params["train"]["out"]) / "radrotator")
    rotator = Rotator(model, model_config["unet"]["image_size"])
    folds = pd.read_csv(Path(params["folds"]["out"]) / "folds.csv")
    ct_ids = sorted(folds.loc[folds["fold"] == int(params["folds"]["test"]), "ct_id"])
    domains = {"drr": Path(params["drrs"]["out"]), "radiograph_style": Path(params["xray_domain"]["out"])}
    shards = {d: {c: Shard(folder / f"{c}{SHARD_SUFFIX}") for c in ct_ids} for d, folder in domains.items()}
    pairs = sample_pairs(shards["drr"], tuple(cfg["angle_bins"]), int(cfg["pairs_per_bin"]), int(cfg["seed"]))
    print(f"{len(pairs)} test pairs from {len(ct_ids)} CTs of fold {params['folds']['test']}")

    rows, examples = [], {d: [] for d in domains}
    for domain in domains:
        for ct_id, i, j, b in pairs:
            shard = shards[domain][ct_id]
            source, truth = shard.image(i), shard.image(j)
            delta = shard.poses[j] - shard.poses[i]
            outputs = {"model": rotator.rotate(source, [delta], steps=int(cfg["steps"]),
                                               guidance=float(cfg["guidance"]), seed=int(cfg["seed"]))[0]}
            outputs.update({name: fn(source, delta) for name, fn in BASELINES.items()})
            for method, image in outputs.items():
                rows.append({"domain": domain, "method": method, "bin": b, "ct_id": ct_id, "source": i,
                             "target": j, **{f"delta_{a}": float(v) for a, v in zip("xyz", delta)},
                             **image_metrics(image, truth)})
            if len(examples[domain]) < int(cfg["figure_rows"]):
                examples[domain].append(np.concatenate([source, truth, *outputs.values()], axis=1))
    table = pd.DataFrame(rows)
    summary = summarise(table)
    out = Path(cfg["out"])
    write_reports(out, table, summary, examples, params)
    log_to_mlflow(out, summary, model_config.get("mlflow_run_id"), params)
    model_all = {d: summary[d]["model"]["all"] for d in summary}
    print("model, all bins: " + "; ".join(f"{d}: " + ", ".join(f"{m} {v[m]:.3f}" for m in METRICS)
                                          for d, v in model_all.items()))
    return summary


def write_reports(out: Path, table: pd.DataFrame, summary: dict, examples: dict, params: dict) -> None:
    (out / "plots").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    write_csv_atomic(table, out / "pairs.csv")
    for domain, methods in summary.items():
        for metric in METRICS:
            # Wide: one column per method, so `dvc plots` draws one line per method.
            plot = pd.DataFrame({method: {b: v[metric] for b, v in methods[method].items() if b != "all"}
                                 for method in ["model", *BASELINES]}).rename_axis("bin").reset_index()
            write_csv_atomic(plot.sort_values("bin", key=lambda c: c.map(bin_order)),
                             out / "plots" / f"{domain}_{metric}.csv")
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    for domain, rows in examples.items():
        if rows:
            grid = np.clip(np.concatenate(rows, axis=0), 0, 1)
            with atomic_path(out / "figures" / f"examples_{domain}.png") as tmp:
                Image.fromarray((grid * 255).astype(np.uint8)).save(tmp, format="PNG")
    lines = ["# Evaluation", "",
             f"Test fold {params['folds']['test']}; DDIM-{params['evaluate']['steps']}, guidance "
             f"{params['evaluate']['guidance']}; model output histogram-matched to its input (mode A).",
             "Bins are max |V| over the three axes, in degrees. Radiograph-style inputs are a rendered stand-in "
             "(components/evaluation/xray_style.py), not real radiographs.", ""]
    for domain, methods in summary.items():
        lines += [f"## Inputs: {domain}", "", "| method | bin | n | MAE ↓ | PSNR ↑ | SSIM ↑ |", "|---|---|---|---|---|---|"]
        for method, by_bin in methods.items():
            for b, v in by_bin.items():
                lines.append(f"| {method} | {b} | {v['n']} | {v['mae']:.4f} | {v['psnr']:.2f} | {v['ssim']:.4f} |")
        lines += ["", f"Rows of `figures/examples_{domain}.png`: input | truth | model | identity | affine warp.", ""]
    with atomic_path(out / "evaluation.md") as tmp:
        tmp.write_text("\n".join(lines))


def log_to_mlflow(out: Path, summary: dict, run_id: str | None, params: dict) -> None:
    tracking.configure(PROJECT_ROOT, params["train"]["experiment"])
    metrics = {f"eval.{d}.{m}.{k}": v[k] for d, ms in summary.items() for m, bins in ms.items()
               for k in ("mae", "psnr", "ssim") for v in [bins["all"]]}
    try:
        run = mlflow.start_run(run_id=run_id) if run_id else mlflow.start_run(run_name="evaluate")
    except mlflow.exceptions.MlflowException:
        run = mlflow.start_run(run_name="evaluate")  # the training run lives in another store
    with run:
        mlflow.log_metrics(metrics)
        mlflow.log_artifacts(str(out), "evaluation")


def main(argv: list[str] | None = None) -> int:
    return stage_main("evaluate", __doc__, evaluate, argv)


if __name__ == "__main__":
    sys.exit(main())
