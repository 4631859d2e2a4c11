"""Stage `folds`: pool CTs → 7 patient-grouped, stratified folds (1–5 train, 6 val, 7 test).

    python -m flows.folds [--params params.yaml]

Writes folds/folds.csv and folds/summary.json: per fold the CTs, patients, DRRs
and training pairs (every two DRRs of a CT within ±15°), so the size of each
split is on record next to the split itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
from prefect import flow

from components.atomic_write import atomic_path, write_csv_atomic
from components.config import load_config
from components.data.folds import assign_folds, drr_counts, role_map
from components.validation.folds_suite import validate_folds
from flows.stage import stage_main


@flow(name="folds", log_prints=True)
def folds(manifest_path: str, drr_dir: str, out: str, n_folds: int, seed: int, train: list[int], val: int,
          test: int, size_tolerance: float) -> dict:
    manifest = pd.read_csv(manifest_path)
    roles = role_map(train, val, test)
    table = assign_folds(manifest, n_folds, seed, roles)
    print("stratified by " + (" × ".join(table.attrs["stratified_by"]) or "nothing (pool too small)"))
    validate_folds(table, manifest, n_folds, size_tolerance, where=str(Path(out) / "folds.csv"))
    counts = table.merge(drr_counts(Path(drr_dir)), on="ct_id", how="left").fillna({"drrs": 0, "pairs": 0})
    per_fold = counts.groupby("fold").agg(cts=("ct_id", "size"), patients=("patient_id", "nunique"),
                                          drrs=("drrs", "sum"), pairs=("pairs", "sum"))
    summary = {"stratified_by": list(table.attrs["stratified_by"]),
               "folds": {int(f): {"role": roles.get(int(f), "unused"), **{k: int(v) for k, v in row.items()}}
                         for f, row in per_fold.iterrows()}}
    for role in ("train", "val", "test"):
        summary[role] = {k: int(per_fold.loc[[f for f, r in roles.items() if r == role], k].sum())
                         for k in ("cts", "patients", "drrs", "pairs")}
    write_csv_atomic(table, Path(out) / "folds.csv")
    with atomic_path(Path(out) / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    for fold, row in per_fold.iterrows():
        print(f"fold {fold} ({roles.get(fold, 'unused')}): {row['cts']} CTs, {row['patients']} patients, "
              f"{row['drrs']} DRRs, {row['pairs']} pairs")
    return summary


def run(params_path: str = "params.yaml") -> dict:
    params = load_config(params_path)
    cfg = params.folds
    return folds(manifest_path=str(Path(params.ct_pool.out) / "manifest.csv"), drr_dir=params.drrs.out, out=cfg.out,
                 n_folds=cfg.n_folds, seed=cfg.seed, train=list(cfg.train), val=cfg.val, test=cfg.test,
                 size_tolerance=float(cfg.size_tolerance))


def main(argv: list[str] | None = None) -> int:
    return stage_main("folds", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
