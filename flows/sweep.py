"""`radrotator sweep --trials N`: the Optuna sweep over training knobs as a Prefect flow.

    python -m flows.sweep --trials N [--params params.yaml]

The study, its objective and its outputs: components/training/sweep.py.
"""

from __future__ import annotations

import sys

from prefect import flow

from components.config import load_config
from components.training.sweep import run_sweep
from flows import PROJECT_ROOT
from flows.stage import stage_main


@flow(name="sweep", log_prints=True)
def sweep(params_path: str = "params.yaml", trials: int | str | None = None) -> dict:
    if trials is None:
        raise ValueError("--trials N: how many finished trials the study should hold")
    return run_sweep(load_config(params_path), int(trials), PROJECT_ROOT)


def main(argv: list[str] | None = None) -> int:
    return stage_main("sweep", __doc__, sweep, argv, options=("trials",))


if __name__ == "__main__":
    sys.exit(main())
