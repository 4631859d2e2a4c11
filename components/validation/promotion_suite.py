"""What the promotion gate may act on and what it records: finite, in-range metrics; a known decision."""

from __future__ import annotations

import great_expectations as gx
import pandas as pd

from components.validation.gate import validate_table

DECISIONS = ["promoted", "rejected", "kept"]
# Plausible ranges of the model's evaluation metrics (images in [0, 1], rotations within ±15°).
RANGES = {"mae": (0.0, 1.0), "psnr": (0.0, 200.0), "ssim": (-1.0, 1.0), "rotation_error_deg": (0.0, 90.0),
          "regressor_error_deg": (0.0, 90.0)}


def metrics_table(metrics: dict[str, float]) -> pd.DataFrame:
    rows = [{"key": key, "metric": key.rpartition(".")[2], "value": value} for key, value in metrics.items()]
    return pd.DataFrame(rows, columns=["key", "metric", "value"])


def validate_metrics(metrics: dict[str, float], where: str) -> None:
    """The evaluation the gate compares: every metric present, finite and in its range."""
    e = gx.expectations
    table = metrics_table(metrics)
    expectations = [e.ExpectTableRowCountToBeBetween(min_value=1),
                    e.ExpectColumnValuesToNotBeNull(column="value"),
                    e.ExpectColumnValuesToBeUnique(column="key")]
    for metric, (low, high) in RANGES.items():
        expectations.append(e.ExpectColumnValuesToBeBetween(
            column="value", min_value=low, max_value=high, row_condition=f'metric=="{metric}"',
            condition_parser="pandas"))
    validate_table(table, "promotion_metrics", expectations, id_column="key", where=where)


def validate_record(record: dict, where: str) -> None:
    """reports/promotion.json: a known decision, a champion, and each check's verdict as its interval says."""
    e = gx.expectations
    head = pd.DataFrame([{"decision": record["decision"], "champion": record["champion"],
                          "challenger": record["challenger"]["version"]}])
    validate_table(head, "promotion_record", [
        e.ExpectColumnValuesToBeInSet(column="decision", value_set=DECISIONS),
        e.ExpectColumnValuesToNotBeNull(column="champion"),
        e.ExpectColumnPairValuesToBeEqual(column_A="champion", column_B="challenger",
                                          row_condition='decision=="promoted"', condition_parser="pandas"),
    ], id_column="challenger", where=where)
    if record["checks"]:
        checks = pd.DataFrame(record["checks"])
        checks["inside"] = (checks["lo"] <= checks["difference"]) & (checks["difference"] <= checks["hi"])
        validate_table(checks, "promotion_checks", [
            e.ExpectColumnValuesToNotBeNull(column="difference"),
            e.ExpectColumnValuesToBeInSet(column="inside", value_set=[True]),
            e.ExpectColumnValuesToBeInSet(column="side", value_set=["better"],
                                          row_condition='passed==True and role=="primary"', condition_parser="pandas"),
            e.ExpectColumnValuesToBeInSet(column="side", value_set=["better", "undecided"],
                                          row_condition='passed==True and role=="guard"', condition_parser="pandas"),
        ], id_column="metric", where=where)
    validate_metrics(record["challenger"]["metrics"], where)
