"""Stage `generate_evaluate`: generated against held-out real radiographs; registry and gate.

    python -m flows.generate_evaluate [--params params.yaml]

Writes reports/generation.md and reports/generation/ (metrics, per-image scores,
sample grid, promotion record), registers the generator as `radrotator-generator`
in MLflow and moves its champion alias only by the promotion rule
(components/generation/evaluate.py).
"""

from __future__ import annotations

import sys

import torch
from prefect import flow

from components.config import load_config
from components.generation.evaluate import evaluate_generation
from components.project import PROJECT_ROOT
from flows.stage import stage_main


@flow(name="generate_evaluate", log_prints=True)
def generate_evaluate(params_path: str = "params.yaml") -> dict:
    torch.set_num_threads(min(2, torch.get_num_threads()))  # the samples depend on the seed, not the cores
    return evaluate_generation(load_config(params_path), PROJECT_ROOT)


def main(argv: list[str] | None = None) -> int:
    return stage_main("generate_evaluate", __doc__, generate_evaluate, argv)


if __name__ == "__main__":
    sys.exit(main())
