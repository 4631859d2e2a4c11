"""Run a Great Expectations suite on a table and fail naming the rows that broke it.

Each stage describes what it writes as a list of expectations; `validate_table`
runs them in an ephemeral context (nothing written to disk, no network) and
raises `ValidationFailed` whose message lists each broken expectation with the
ids and values of the offending rows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

MAX_ROWS_SHOWN = 10


class ValidationFailed(Exception):
    """A stage's output broke its suite; the message names the rows."""


@dataclass
class Broken:
    expectation: str
    column: str | None
    rows: list[dict]


def validate_table(frame: pd.DataFrame, suite_name: str, expectations: list,
                   id_column: str, where: str) -> None:
    """Validate `frame`; raise ValidationFailed (naming `where` and the rows) if it fails."""
    broken = run_suite(frame, suite_name, expectations, id_column)
    if broken:
        raise ValidationFailed(describe(broken, suite_name, where))


def run_suite(frame: pd.DataFrame, suite_name: str, expectations: list, id_column: str) -> list[Broken]:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas(suite_name).add_dataframe_asset("table")
    batch = asset.add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name))
    for expectation in expectations:
        suite.add_expectation(expectation)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite_name, data=batch, suite=suite))
    index_columns = [id_column] if id_column in frame.columns else []
    result = definition.run(batch_parameters={"dataframe": frame}, result_format={
        "result_format": "COMPLETE", "unexpected_index_column_names": index_columns})
    broken = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        rows = item.result.get("unexpected_index_list") or []
        if not rows and "observed_value" in item.result:
            rows = [{"observed": item.result["observed_value"]}]
        broken.append(Broken(config.type, config.kwargs.get("column"), rows))
    return broken


def describe(broken: list[Broken], suite_name: str, where: str) -> str:
    lines = [f"{where} failed validation suite '{suite_name}':"]
    for item in broken:
        shown = ", ".join(_row_text(row) for row in item.rows[:MAX_ROWS_SHOWN])
        more = f" (+{len(item.rows) - MAX_ROWS_SHOWN} more)" if len(item.rows) > MAX_ROWS_SHOWN else ""
        column = f"[{item.column}]" if item.column else ""
        lines.append(f"  - {item.expectation}{column}: {shown}{more}")
    return "\n".join(lines)


def _row_text(row: dict) -> str:
    return " ".join(f"{key}={_plain(value)}" for key, value in row.items())


def _plain(value):
    return value.item() if hasattr(value, "item") else value
