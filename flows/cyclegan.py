"""Stage `cyclegan`: the style-transfer route the report replaced, trained so it can be measured.

    python -m flows.cyclegan [--params params.yaml]

Unpaired DRRs (domain A) and radiograph-style images (domain B) of the training
folds; writes models/cyclegan/ (both generators as safetensors + config.json),
models/cyclegan/content.json (how much translation changes anatomy on the test
fold: edge SSIM and bone Dice against the source, beside the same scores of the
true radiograph-style image of that pose) and an MLflow run with sample grids.
"""

from __future__ import annotations

import sys

from prefect import flow

from components.config import load_config
from components.training.cyclegan import train_cyclegan
from flows import PROJECT_ROOT
from flows.stage import stage_main


@flow(name="cyclegan", log_prints=True)
def cyclegan(params_path: str = "params.yaml") -> dict:
    return train_cyclegan(load_config(params_path), PROJECT_ROOT)


def main(argv: list[str] | None = None) -> int:
    return stage_main("cyclegan", __doc__, cyclegan, argv)


if __name__ == "__main__":
    sys.exit(main())
