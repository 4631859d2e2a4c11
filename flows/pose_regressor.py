"""Stage `pose_regressor`: a network that reads the rotation between two views, for rotation fidelity.

    python -m flows.pose_regressor [--params params.yaml]

Writes models/pose_regressor/ (weights, config, its validation error) and the
input guard calibrated on its features (components/training/pose_regressor.py).
"""

from __future__ import annotations

import sys

from prefect import flow

from components.config import load_config
from components.training.pose_regressor import train_pose_regressor
from flows.stage import stage_main


@flow(name="pose_regressor", log_prints=True)
def pose_regressor(params_path: str = "params.yaml") -> dict:
    return train_pose_regressor(load_config(params_path))


def main(argv: list[str] | None = None) -> int:
    return stage_main("pose_regressor", __doc__, pose_regressor, argv)


if __name__ == "__main__":
    sys.exit(main())
