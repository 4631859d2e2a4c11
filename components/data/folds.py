"""Seven folds grouped by patient, stratified by acquisition year, slice count and thickness.

Report section 3.1: folds 1–5 train, 6 validation, 7 test. Each CT's stratum is
the tertile of its acquisition year, of its slice count and of its slice
thickness; scikit-learn's StratifiedGroupKFold then keeps every patient in one
fold while spreading strata across folds. It needs a stratum of at least 7 CTs,
so a small pool is stratified more coarsely (year × thickness, then year, then
not at all); the choice is logged.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from components.data.pairs import valid_pairs

FOLD_COLUMNS = ["ct_id", "patient_id", "fold", "role"]


STRATA_LADDER = (("year", "slices", "thickness"), ("year", "thickness"), ("year",), ())


def strata(manifest: pd.DataFrame, features=STRATA_LADDER[0]) -> pd.Series:
    """One label per CT: the tertiles of the chosen features, joined. A missing value (a CT without an
    acquisition date) is a stratum of its own, `u`."""
    values = {"year": pd.to_datetime(manifest["acquisition_date"], errors="coerce").dt.year,
              "slices": manifest["n_slices"], "thickness": manifest["slice_thickness_mm"]}
    label = pd.Series("all", index=manifest.index)
    for name in features:
        known = values[name].notna()
        part = pd.Series("u", index=manifest.index)
        if known.any():
            ranks = values[name][known].rank(method="first")  # ties broken, so qcut always finds the bins
            part[known] = pd.qcut(ranks, q=min(3, len(ranks)), labels=False).astype(int).astype(str)
        label = label + "-" + part
    return label


def choose_strata(manifest: pd.DataFrame, n_folds: int) -> tuple[tuple[str, ...], pd.Series]:
    """The finest stratification with a stratum of at least n_folds CTs (small pools coarsen)."""
    for features in STRATA_LADDER:
        labels = strata(manifest, features)
        if labels.value_counts().max() >= n_folds:
            return features, labels
    return (), strata(manifest, ())


def assign_folds(manifest: pd.DataFrame, n_folds: int = 7, seed: int = 0,
                 roles: dict[int, str] | None = None) -> pd.DataFrame:
    """(ct_id, patient_id, fold 1..n, role) for every CT of the manifest."""
    n_patients = manifest["patient_id"].nunique()
    if n_patients < n_folds:
        raise ValueError(f"{n_patients} patients cannot fill {n_folds} patient-grouped folds; "
                         f"add CTs or lower folds.n_folds")
    roles = roles or {}
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    features, labels = choose_strata(manifest, n_folds)
    fold = np.zeros(len(manifest), int)
    with warnings.catch_warnings():  # small strata are expected on small pools
        warnings.simplefilter("ignore", UserWarning)
        for k, (_, test_idx) in enumerate(splitter.split(manifest, labels, groups=manifest["patient_id"])):
            fold[test_idx] = k + 1
    out = pd.DataFrame({"ct_id": manifest["ct_id"].to_numpy(), "patient_id": manifest["patient_id"].to_numpy(),
                        "fold": fold})
    out["role"] = out["fold"].map(lambda f: roles.get(int(f), "unused"))
    out = out.sort_values(["fold", "ct_id"]).reset_index(drop=True)
    out.attrs["stratified_by"] = features
    return out


def ct_ids_in_folds(folds_csv: str | Path, folds) -> list[str]:
    """The sorted ct_ids that folds.csv assigns to any of `folds` (fold numbers)."""
    table = pd.read_csv(folds_csv)
    return sorted(table.loc[table["fold"].isin([int(f) for f in folds]), "ct_id"])


def role_map(train: list[int], val: int, test: int) -> dict[int, str]:
    return {**{int(f): "train" for f in train}, int(val): "val", int(test): "test"}


def drr_counts(drr_dir: Path) -> pd.DataFrame:
    """DRRs and valid training pairs per CT, from the shards' poses."""
    index = pd.read_csv(drr_dir / "index.csv")
    pairs = []
    for path in index["path"]:
        with np.load(drr_dir / path, allow_pickle=False) as shard:  # reads the poses member only
            pairs.append(len(valid_pairs(shard["poses"])))
    return pd.DataFrame({"ct_id": index["ct_id"], "drrs": index["n_drrs"], "pairs": pairs})
