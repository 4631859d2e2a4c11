"""Stage `x2ct_evaluate`: the CT-from-two-radiographs model against its floors on the test fold; registry and gate.

    python -m flows.x2ct_evaluate [--params params.yaml]

Writes reports/x2ct.md and reports/x2ct/ (metrics, per-case scores, examples,
promotion record), registers the model as `radrotator-x2ct` in MLflow and moves
its champion alias only by the promotion rule (components/x2ct/evaluate.py).
"""

from __future__ import annotations

import sys

import torch
from prefect import flow

from components.config import load_config
from components.project import PROJECT_ROOT
from components.x2ct.evaluate import evaluate_x2ct
from flows.stage import stage_main


@flow(name="x2ct_evaluate", log_prints=True)
def x2ct_evaluate(params_path: str = "params.yaml") -> dict:
    torch.set_num_threads(min(2, torch.get_num_threads()))  # the samples depend on the seed, not the cores
    return evaluate_x2ct(load_config(params_path), PROJECT_ROOT)


def main(argv: list[str] | None = None) -> int:
    return stage_main("x2ct_evaluate", __doc__, x2ct_evaluate, argv)


if __name__ == "__main__":
    sys.exit(main())
