"""Stage `train`: DRR pairs of the training folds → the RadRotator model, tracked in MLflow.

    python -m flows.train [--params params.yaml] [--section train_no_rhs]

Writes models/radrotator/ (EMA weights + config), models/train_metrics.json, an
MLflow run (params, losses, validation grids) and a new registered version of
`radrotator` with the alias `challenger` (components/training/train.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from prefect import flow

from components.atomic_write import atomic_path
from components.config import load_config
from components.training.train import train_rotator
from flows import PROJECT_ROOT
from flows.stage import stage_main


@flow(name="train", log_prints=True)
def train(params_path: str = "params.yaml", section: str | None = None) -> dict:
    """Train with params `train`, overridden by params[section] when given (an ablation)."""
    params = load_config(params_path)
    summary = train_rotator(params, PROJECT_ROOT, section)
    if "model_sha256" in summary:  # rank 0
        with atomic_path(Path(params.train_section(section).out) / "train_metrics.json") as tmp:
            tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    return stage_main("train", __doc__, train, argv, options=("section",))


if __name__ == "__main__":
    sys.exit(main())
