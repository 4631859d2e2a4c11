"""Stage `folds`: pool CTs → 7 patient-grouped, stratified folds (1–5 train, 6 val, 7 test).

    python -m flows.folds [--params params.yaml]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from prefect import flow

from components.atomic_write import write_csv_atomic
from components.data.folds import assign_folds, role_map
from components.params import load_params
from components.validation.folds_suite import validate_folds


@flow(name="folds", log_prints=True)
def folds(manifest_path: str, out: str, n_folds: int, seed: int, train: list[int], val: int, test: int,
          size_tolerance: float) -> dict:
    manifest = pd.read_csv(manifest_path)
    table = assign_folds(manifest, n_folds, seed, role_map(train, val, test))
    print("stratified by " + (" × ".join(table.attrs["stratified_by"]) or "nothing (pool too small)"))
    validate_folds(table, manifest, n_folds, size_tolerance, where=str(Path(out) / "folds.csv"))
    write_csv_atomic(table, Path(out) / "folds.csv")
    sizes = table.groupby("fold").agg(cts=("ct_id", "size"), patients=("patient_id", "nunique"))
    for fold, row in sizes.iterrows():
        print(f"fold {fold} ({role_map(train, val, test).get(fold, 'unused')}): "
              f"{row['cts']} CTs, {row['patients']} patients")
    return {int(k): int(v) for k, v in sizes["cts"].items()}


def run(params_path: str = "params.yaml") -> dict:
    params = load_params(params_path)
    cfg = params["folds"]
    return folds(manifest_path=str(Path(params["ct_pool"]["out"]) / "manifest.csv"), out=cfg["out"],
                 n_folds=int(cfg["n_folds"]), seed=int(cfg["seed"]), train=list(cfg["train"]),
                 val=int(cfg["val"]), test=int(cfg["test"]), size_tolerance=float(cfg["size_tolerance"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.folds", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    try:
        run(args.params)
    except Exception as err:
        print(f"folds failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
