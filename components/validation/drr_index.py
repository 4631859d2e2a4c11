"""What the drrs stage must hold: an index row per pool CT, and sound shards."""

from __future__ import annotations

from collections.abc import Iterable

import great_expectations as gx
import numpy as np
import pandas as pd

from components.drr.pose_protocol import MAX_ANGLE, ROLE_DRR0
from components.drr.shards import Shard
from components.validation.gate import validate_table

INDEX_COLUMNS = ["ct_id", "patient_id", "path", "n_drrs", "height", "width", "backend", "cache_key", "sha256"]


def index_expectations(pool_ct_ids: list[str], drrs_per_ct: int, pixels: int) -> list:
    e = gx.expectations
    return [
        e.ExpectTableColumnsToMatchSet(column_set=INDEX_COLUMNS, exact_match=True),
        e.ExpectTableRowCountToEqual(value=len(pool_ct_ids)),
        e.ExpectColumnValuesToBeUnique(column="ct_id"),
        e.ExpectColumnValuesToBeInSet(column="ct_id", value_set=list(pool_ct_ids)),
        e.ExpectColumnValuesToBeBetween(column="n_drrs", min_value=drrs_per_ct, max_value=drrs_per_ct),
        e.ExpectColumnValuesToBeBetween(column="height", min_value=pixels, max_value=pixels),
        e.ExpectColumnValuesToBeBetween(column="width", min_value=pixels, max_value=pixels),
    ]


def shard_statistics(shard: Shard) -> dict:
    images = shard.images
    return {
        "ct_id": shard.meta["ct_id"], "n_images": len(images), "n_poses": len(shard.poses),
        "nan_count": int(np.isnan(images).sum()), "min_value": float(images.min()),
        "max_value": float(images.max()), "max_abs_angle": float(np.abs(shard.poses).max()),
        "drr0_first": bool(shard.roles[0] == ROLE_DRR0 and not np.any(shard.poses[0])),
        "flat_images": int((images.reshape(len(images), -1).std(1) < 1e-3).sum()),
    }


def statistics_expectations() -> list:
    e = gx.expectations
    return [
        e.ExpectColumnValuesToBeBetween(column="nan_count", min_value=0, max_value=0),
        e.ExpectColumnValuesToBeBetween(column="min_value", min_value=0.0, max_value=0.0),
        e.ExpectColumnValuesToBeBetween(column="max_value", min_value=1.0, max_value=1.0),
        e.ExpectColumnValuesToBeBetween(column="max_abs_angle", min_value=0, max_value=MAX_ANGLE),
        e.ExpectColumnValuesToBeInSet(column="drr0_first", value_set=[True]),
        e.ExpectColumnValuesToBeBetween(column="flat_images", min_value=0, max_value=0),
        e.ExpectColumnPairValuesToBeEqual(column_A="n_images", column_B="n_poses"),
    ]


def validate_drrs(index: pd.DataFrame, shards: Iterable[Shard], pool_ct_ids: list[str], drrs_per_ct: int,
                  pixels: int, where: str = "drrs") -> None:
    validate_table(index, "drr_index", index_expectations(pool_ct_ids, drrs_per_ct, pixels),
                   id_column="ct_id", where=f"{where}/index.csv")
    stats = pd.DataFrame([shard_statistics(s) for s in shards])
    validate_table(stats, "drr_shards", statistics_expectations(), id_column="ct_id",
                   where=f"{where} shards")
