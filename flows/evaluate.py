"""Stage `evaluate`: the model against baselines and ablations, on DRR and radiograph-style inputs.

    python -m flows.evaluate [--params params.yaml]

For each rotation-magnitude bin, pairs of the test fold's CTs are rotated by the
model (DDIM with guidance, output histogram-matched to its input as in mode A),
by the model trained without RandHistogramShift, by the Cycle-GAN route
(radiograph → DRR style, rotate, back; radiograph-style inputs only) and by the
baselines (identity, a 2D affine warp), and scored against the true rotated
image: MAE, PSNR, SSIM, and the rotation error in degrees read by the pose
regressor from (input, output). Writes reports/metrics.json (DVC metrics), reports/pairs.csv,
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
from skimage.exposure import match_histograms

from components.atomic_write import atomic_path, write_csv_atomic
from components.data.folds import ct_ids_in_folds
from components.data.pairs import valid_pairs
from components.drr.shards import SHARD_SUFFIX, Shard
from components.evaluation.baselines import BASELINES
from components.evaluation.metrics import METRICS, angle_bin, bin_order, image_metrics, summarise
from components.models.cyclegan import load_generators
from components.models.pose_regressor import load_regressor, predict_degrees
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
    methods = rotation_methods(params, model, model_config)
    regressor = pose_regressor_if_trained(params)
    shards, pairs = test_set(params)
    print(f"{len(pairs)} test pairs from {len(shards['drr'])} CTs of fold {params['folds']['test']}")

    rows, floors, examples, columns = score_methods(methods, shards, pairs, regressor, int(cfg["figure_rows"]))
    real = Path(params["xray_domain"]["out"]) / "real.npz"
    if regressor is not None and real.exists():
        rows += real_radiograph_rows(real, methods, regressor, cfg["real_rotations"])
    table = pd.DataFrame(rows)
    summary = summarise(table)
    if floors:  # the regressor's own error on true pairs: the floor of angle_error_deg
        summary["pose_regressor_floor_deg"] = float(np.mean(floors))
    out = Path(cfg["out"])
    write_reports(out, table, summary, examples, columns, params)
    log_to_mlflow(out, summary, model_config.get("mlflow_run_id"), params)
    model_all = {d: methods_["model"]["all"] for d, methods_ in domain_items(summary)}
    print("model, all bins: " + "; ".join(f"{d}: " + ", ".join(f"{m} {v[m]:.3f}" for m in METRICS if m in v)
                                          for d, v in model_all.items()))
    return summary


def score_methods(methods: dict, shards: dict, pairs: list, regressor, figure_rows: int = 0):
    """Per-pair rows (metrics of every method on every domain), the regressor's floors on
    true pairs, and example figure rows with their column names."""
    rows, floors, examples, columns = [], [], {d: [] for d in shards}, {}
    for domain in shards:
        for ct_id, i, j, b in pairs:
            shard = shards[domain][ct_id]
            source, truth = shard.image(i), shard.image(j)
            delta = shard.poses[j] - shard.poses[i]
            outputs = {name: fn(source, delta) for name, (fn, domains_) in methods.items() if domain in domains_}
            for method, image in outputs.items():
                row = {"domain": domain, "method": method, "bin": b, "ct_id": ct_id, "source": i, "target": j,
                       **{f"delta_{a}": float(v) for a, v in zip("xyz", delta)}, **image_metrics(image, truth)}
                if regressor is not None:
                    row["angle_error_deg"] = float(np.abs(predict_degrees(regressor, source[None], image[None])[0]
                                                          - delta).mean())
                rows.append(row)
            if regressor is not None and domain == "drr":
                floors.append(float(np.abs(predict_degrees(regressor, source[None], truth[None])[0] - delta).mean()))
            if len(examples[domain]) < figure_rows:
                examples[domain].append(np.concatenate([source, truth, *outputs.values()], axis=1))
                columns[domain] = ["input", "truth", *outputs]
    return rows, floors, examples, columns


def test_set(params: dict) -> tuple[dict, list]:
    """Shards of the test fold's CTs per domain, and the sampled (ct_id, i, j, bin) pairs."""
    cfg = params["evaluate"]
    ct_ids = ct_ids_in_folds(Path(params["folds"]["out"]) / "folds.csv", [params["folds"]["test"]])
    domains = {"drr": Path(params["drrs"]["out"]), "radiograph_style": Path(params["xray_domain"]["out"])}
    shards = {d: {c: Shard(folder / f"{c}{SHARD_SUFFIX}") for c in ct_ids} for d, folder in domains.items()}
    return shards, sample_pairs(shards["drr"], tuple(cfg["angle_bins"]), int(cfg["pairs_per_bin"]), int(cfg["seed"]))


def pose_regressor_if_trained(params: dict):
    folder = Path(params["pose_regressor"]["out"])
    return load_regressor(folder) if (folder / "config.json").exists() else None


BOTH_DOMAINS = ("drr", "radiograph_style")


def model_method(rotator: Rotator, cfg: dict):
    """The model as an evaluation method: DDIM with the evaluation's steps, guidance and seed."""
    options = dict(steps=int(cfg["steps"]), guidance=float(cfg["guidance"]), seed=int(cfg["seed"]))
    return lambda source, delta: rotator.rotate(source, [delta], **options)[0]


def rotation_methods(params: dict, model, model_config: dict) -> dict:
    """name → (fn(source, delta) → image, domains it applies to), for the models that exist."""
    cfg = params["evaluate"]
    rotator = Rotator(model, model_config["unet"]["image_size"])
    methods = {"model": (model_method(rotator, cfg), BOTH_DOMAINS)}
    ablation = Path(params["train_no_rhs"]["out"]) / "radrotator"
    if (ablation / "config.json").exists():
        net, config = load_model(ablation)
        methods["model_no_rhs"] = (model_method(Rotator(net, config["unet"]["image_size"]), cfg), BOTH_DOMAINS)
    cyclegan_dir = Path(params["cyclegan"]["out"])
    if (cyclegan_dir / "config.json").exists():
        to_xray, to_drr = load_generators(cyclegan_dir)

        def cyclegan_route(source, delta):
            drr_style = cyclegan_translate(to_drr, source)
            rotated = methods["model"][0](drr_style, delta)
            return match_histograms(cyclegan_translate(to_xray, rotated), source)

        methods["cyclegan_route"] = (cyclegan_route, ("radiograph_style",))
    methods.update({name: (fn, BOTH_DOMAINS) for name, fn in BASELINES.items()})
    return methods


def real_radiograph_rows(path: Path, methods: dict, regressor, rotations) -> list[dict]:
    """Real radiographs have no rotated truth: only the rotation error the regressor reads."""
    with np.load(path) as data:
        images, sources = data["images"], data["sources"]
    rows = []
    for image, source in zip(images, sources):
        for delta in np.asarray(rotations, float):
            for method in ("model", "model_no_rhs", "cyclegan_route"):
                if method not in methods:
                    continue
                output = methods[method][0](image, delta)
                error = float(np.abs(predict_degrees(regressor, image[None], output[None])[0] - delta).mean())
                rows.append({"domain": "real_radiograph", "method": method, "bin": angle_bin(delta),
                             "ct_id": str(source), **{f"delta_{a}": float(v) for a, v in zip("xyz", delta)},
                             "angle_error_deg": error})
    return rows


def cyclegan_translate(generator, image: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = generator(torch.from_numpy(np.asarray(image, np.float32) * 2 - 1)[None, None])
    return ((out[0, 0].clamp(-1, 1) + 1) / 2).numpy()


def write_reports(out: Path, table: pd.DataFrame, summary: dict, examples: dict, columns: dict,
                  params: dict) -> None:
    (out / "plots").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    write_csv_atomic(table, out / "pairs.csv")
    for domain, methods in domain_items(summary):
        for metric in METRICS + ("angle_error_deg",):
            if not any(metric in v for by_bin in methods.values() for v in by_bin.values()):
                continue
            # Wide: one column per method, so `dvc plots` draws one line per method.
            plot = pd.DataFrame({method: {b: v.get(metric) for b, v in methods[method].items() if b != "all"}
                                 for method in PLOT_METHODS if method in methods}).rename_axis("bin").reset_index()
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
    if "pose_regressor_floor_deg" in summary:
        lines += [f"Rotation error is read by the pose regressor from (input, output); on true pairs it errs by "
                  f"{summary['pose_regressor_floor_deg']:.2f}° (its floor).", ""]
    for domain, methods in domain_items(summary):
        lines += [f"## Inputs: {domain}", "", "| method | bin | n | MAE ↓ | PSNR ↑ | SSIM ↑ | rotation error ° ↓ |",
                  "|---|---|---|---|---|---|---|"]
        for method, by_bin in methods.items():
            for b, v in by_bin.items():
                cells = [f"{v[k]:{f}}" if k in v else "–" for k, f in
                         (("mae", ".4f"), ("psnr", ".2f"), ("ssim", ".4f"), ("angle_error_deg", ".2f"))]
                lines.append(f"| {method} | {b} | {v['n']} | " + " | ".join(cells) + " |")
        if domain in columns:
            lines += ["", f"Columns of `figures/examples_{domain}.png`: {' | '.join(columns[domain])}."]
        lines.append("")
    with atomic_path(out / "evaluation.md") as tmp:
        tmp.write_text("\n".join(lines))


PLOT_METHODS = ("model", "model_no_rhs", "cyclegan_route", "identity", "affine_warp")


def domain_items(summary: dict):
    """(domain, methods) pairs of a summary, skipping its scalar entries."""
    return [(k, v) for k, v in summary.items() if isinstance(v, dict)]


def log_to_mlflow(out: Path, summary: dict, run_id: str | None, params: dict) -> None:
    tracking.configure(PROJECT_ROOT, params["train"]["experiment"])
    metrics = {f"eval.{d}.{m}.{k}": value for d, ms in domain_items(summary) for m, bins in ms.items()
               for k, value in bins["all"].items() if k != "n"}
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
