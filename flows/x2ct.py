"""Stage `x2ct`: train the CT-from-two-radiographs diffusion model, its ablation and the regressor floor.

    python -m flows.x2ct [--params params.yaml]

Writes models/x2ct/{diffusion,no_projection,regressor}/, backprojection.json and
train_summary.json (components/x2ct/train.py).
"""

from __future__ import annotations

import sys

import torch
from prefect import flow

from components.config import load_config
from components.project import PROJECT_ROOT
from components.x2ct.train import train_x2ct
from flows.stage import stage_main


@flow(name="x2ct", log_prints=True)
def x2ct(params_path: str = "params.yaml") -> dict:
    torch.set_num_threads(min(2, torch.get_num_threads()))  # the weights depend on the seed, not the cores
    return train_x2ct(load_config(params_path), PROJECT_ROOT)


def main(argv: list[str] | None = None) -> int:
    return stage_main("x2ct", __doc__, x2ct, argv)


if __name__ == "__main__":
    sys.exit(main())
