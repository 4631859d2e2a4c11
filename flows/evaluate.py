"""Stage `evaluate`: the model against the baselines (and ablations), on DRR and radiograph-style inputs.

    python -m flows.evaluate [--params params.yaml] [--ablations]

With --ablations (the ablations pipeline, ablations/dvc.yaml) the models trained
without RandHistogramShift and the Cycle-GAN route are scored beside the model,
on the same pairs, into reports/ablations/; nothing is logged to the registry.

The protocol lives in components/evaluation/ (protocol.py says what is measured
and how; evaluate.py runs it). This flow builds its inputs from params.yaml,
runs it, and logs the metrics and reports to the model's training run in MLflow
(the run tagged with the model's weights hash, `model_sha256`),
under `evaluations/<test fingerprint>/` so that a later gate finds the per-pair
scores measured on the same test set.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import mlflow
from prefect import flow

from components.drr.render import DRRConfig
from components.evaluation.evaluate import EvaluationInputs, evaluate_model
from components.evaluation.protocol import Protocol
from components.params import load_params
from components.registry import tracking
from flows import PROJECT_ROOT
from flows.stage import stage_main


@flow(name="evaluate", log_prints=True)
def evaluate(params_path: str = "params.yaml", ablations: bool = False) -> dict:
    params = load_params(params_path)
    inputs = EvaluationInputs.from_params(params)
    if ablations:
        inputs = dataclasses.replace(inputs, out=Path(params["evaluate"]["ablations_out"]))
    else:
        inputs = dataclasses.replace(inputs, ablation=None, cyclegan=None)
    model_id = inputs.model_id()
    metrics = evaluate_model(inputs, Protocol.from_params(params["evaluate"]), DRRConfig.from_params(params["drrs"]),
                             model_id)
    if not ablations:
        log_to_mlflow(inputs.out, metrics, model_id, params["train"]["experiment"])
    for domain, methods in metrics["domains"].items():
        if "model" in methods:
            v = methods["model"]["all"]
            print(f"{domain}: model " + ", ".join(f"{m} {v[m]:.3f} [{v[m + '_lo']:.3f}, {v[m + '_hi']:.3f}]"
                                                  for m in ("ssim", "rotation_error_deg") if m in v))
    return metrics


def log_to_mlflow(out: Path, metrics: dict, model_id: str, experiment: str) -> None:
    """Log to the run that trained the model (found by its weights' hash), else to a new run."""
    tracking.configure(PROJECT_ROOT, experiment)
    run_id = tracking.run_for_model(model_id)
    values = {f"eval.{d}.{m}.{k}": value for d, ms in metrics["domains"].items() for m, bins in ms.items()
              for k, value in bins["all"].items() if isinstance(value, float) and value == value}
    record = json.loads((out / "evaluation_record.json").read_text())
    run = mlflow.start_run(run_id=run_id) if run_id else mlflow.start_run(run_name="evaluate")
    with run:
        mlflow.log_metrics(values)
        mlflow.log_artifacts(str(out), f"evaluations/{record['test_fingerprint']}")


def main(argv: list[str] | None = None) -> int:
    return stage_main("evaluate", __doc__, evaluate, argv, flags=("ablations",))


if __name__ == "__main__":
    sys.exit(main())
