"""Stage `generate_train`: the label-conditioned radiograph generator and the label reader that measures it.

    python -m flows.generate_train [--params params.yaml]

Writes models/generator/{generator,reader}/ and train_summary.json (components/generation/train.py).
"""

from __future__ import annotations

import sys

import torch
from prefect import flow

from components.config import load_config
from components.generation.train import train_generation
from components.project import PROJECT_ROOT
from flows.stage import stage_main


@flow(name="generate_train", log_prints=True)
def generate_train(params_path: str = "params.yaml") -> dict:
    torch.set_num_threads(min(2, torch.get_num_threads()))  # the weights depend on the seed, not the cores
    return train_generation(load_config(params_path), PROJECT_ROOT)


def main(argv: list[str] | None = None) -> int:
    return stage_main("generate_train", __doc__, generate_train, argv)


if __name__ == "__main__":
    sys.exit(main())
