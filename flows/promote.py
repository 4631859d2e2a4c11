"""Stage `promote`: the registry's gate: does the challenger become champion?

    python -m flows.promote [--params params.yaml]

Reads the challenger's evaluation (reports/metrics.json, pairs.csv and
evaluation_record.json) and refuses a record made from other test shards,
protocol, pose regressor or model than those it is asked to compare; the
challenger is the version with the alias `challenger`, which must hold the
evaluated weights (its tag `model_sha256`). Finds the
`champion` of `radrotator` and its per-pair scores on the same test set (logged
by its evaluation; scored again when missing), and applies the rule in
params.yaml `promote` (components/registry/promotion.py) to the paired
differences. When the rule passes, the `champion` alias moves to the
challenger. The decision is recorded as tags on the version and its run (with the time),
and in reports/promotion.json (what the data and the registry determine: no
run ids, times or paths, so a rerun against the same registry reproduces it).
"""

from __future__ import annotations

import sys

from prefect import flow

from components.config import load_config
from components.registry.promote import promote_challenger
from flows import PROJECT_ROOT
from flows.stage import stage_main


@flow(name="promote", log_prints=True)
def promote(params_path: str = "params.yaml") -> dict:
    return promote_challenger(load_config(params_path), PROJECT_ROOT)


def main(argv: list[str] | None = None) -> int:
    return stage_main("promote", __doc__, promote, argv)


if __name__ == "__main__":
    sys.exit(main())
