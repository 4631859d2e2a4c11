"""Stage `biplanar`: every pool CT → AP and lateral DRRs and the CT on the model's grid (CT from two radiographs).

    python -m flows.biplanar [--params params.yaml]

Writes biplanar/<ct_id>.npz and biplanar/index.csv (components/x2ct/biplanar.py),
validated by a Great Expectations suite before the stage ends.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import torch
from prefect import flow

from components.atomic_write import remove_stale_temporaries, write_csv_atomic
from components.config import load_config
from components.validation.biplanar_suite import validate_biplanar
from components.x2ct.biplanar import case_statistics, make_biplanar
from components.x2ct.grid import HU_AIR
from flows.stage import stage_main


@flow(name="biplanar", log_prints=True)
def biplanar(params_path: str = "params.yaml") -> dict:
    params = load_config(params_path)
    torch.set_num_threads(min(2, torch.get_num_threads()))  # the views depend on the seed, not the cores
    out = Path(params.biplanar.out)
    if out.exists() and (stale := remove_stale_temporaries(out)):
        print(f"removed {stale} partial file(s) left by an interrupted run")
    index = make_biplanar(params)
    pool_ids = list(pd.read_csv(Path(params.ct_pool.out) / "manifest.csv")["ct_id"])
    validate_biplanar(index, case_statistics(out, index), pool_ids, params.biplanar.poses_per_ct,
                      params.folds.n_folds, HU_AIR, where=str(out))
    write_csv_atomic(index, out / "index.csv")
    return {"cts": len(index), "cases": int(index["n_cases"].sum())}


def main(argv: list[str] | None = None) -> int:
    return stage_main("biplanar", __doc__, biplanar, argv)


if __name__ == "__main__":
    sys.exit(main())
