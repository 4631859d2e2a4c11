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
import sys
from pathlib import Path

from prefect import flow

from components.config import load_config
from components.drr.render import DRRConfig
from components.evaluation.evaluate import EvaluationInputs, evaluate_model
from components.evaluation.protocol import Protocol
from components.registry import tracking
from flows import PROJECT_ROOT
from flows.stage import stage_main


@flow(name="evaluate", log_prints=True)
def evaluate(params_path: str = "params.yaml", ablations: bool = False) -> dict:
    params = load_config(params_path)
    inputs = EvaluationInputs.from_params(params)
    if ablations:
        inputs = dataclasses.replace(inputs, out=Path(params.evaluate.ablations_out))
    else:
        inputs = dataclasses.replace(inputs, ablation=None, cyclegan=None)
    model_id = inputs.model_id()
    metrics = evaluate_model(inputs, Protocol.from_params(params.evaluate), DRRConfig.from_params(params.drrs), model_id)
    if not ablations:
        tracking.log_evaluation(PROJECT_ROOT, params.train.experiment, inputs.out, metrics, model_id)
    for domain, methods in metrics["domains"].items():
        if "model" in methods:
            v = methods["model"]["all"]
            print(f"{domain}: model " + ", ".join(f"{m} {v[m]:.3f} [{v[m + '_lo']:.3f}, {v[m + '_hi']:.3f}]"
                                                  for m in ("ssim", "rotation_error_deg") if m in v))
    return metrics


def main(argv: list[str] | None = None) -> int:
    return stage_main("evaluate", __doc__, evaluate, argv, flags=("ablations",))


if __name__ == "__main__":
    sys.exit(main())
