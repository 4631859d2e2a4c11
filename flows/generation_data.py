"""Stage `generation_data`: the pool's radiograph-style images with the labels a generator conditions on.

    python -m flows.generation_data [--params params.yaml]

Writes generation/images.npz and generation/labels.csv (components/generation/data.py),
checked by a Great Expectations suite (components/validation/generation_suite.py).
"""

from __future__ import annotations

import sys

from prefect import flow

from components.config import load_config
from components.generation.data import build_generation_data
from components.validation.generation_suite import validate_generation_labels
from flows.stage import stage_main


@flow(name="generation_data", log_prints=True)
def generation_data(params_path: str = "params.yaml") -> int:
    params = load_config(params_path)
    table = build_generation_data(params)
    validate_generation_labels(table, params)
    print(f"{len(table)} labelled images of {table['ct_id'].nunique()} CTs in {params.generation_data.out}")
    return len(table)


def main(argv: list[str] | None = None) -> int:
    return stage_main("generation_data", __doc__, generation_data, argv)


if __name__ == "__main__":
    sys.exit(main())
