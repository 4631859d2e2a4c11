"""What the gate compares: a verified evaluation record, and both models' scores on the same pairs."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException

from components.evaluation.evaluate import EvaluationInputs, evaluation_test_set, regressor_if_trained, score_model
from components.evaluation.protocol import DOMAINS, Protocol, build_dictionaries, evaluation_record

CHECKED = {"test_shards": "the test shards", "protocol": "the protocol", "pose_regressor": "the pose regressor",
           "model_sha256": "the evaluated model's weights"}


class RecordMismatch(ValueError):
    """An evaluation record made from something other than what the gate is asked to compare."""


def current_record(inputs: EvaluationInputs, protocol: Protocol, model_id: str | None) -> dict:
    return evaluation_record(evaluation_test_set(inputs, protocol), protocol, inputs.regressor, model_id)


def verify_record(record: dict, current: dict, where: str) -> None:
    """Refuse a record whose test shards, protocol, regressor or model differ from the current ones."""
    record, current = json.loads(json.dumps(record)), json.loads(json.dumps(current))  # tuples as lists
    changed_keys = [key for key in CHECKED if record.get(key) != current.get(key)]
    different = [CHECKED[key] for key in changed_keys]
    if different:
        detail = ""
        if "test_shards" in changed_keys:
            changed = sorted(f"{d}/{c}" for d, shards in current["test_shards"].items() for c, h in shards.items()
                             if record.get("test_shards", {}).get(d, {}).get(c) != h)
            detail = f" (changed or new: {', '.join(changed[:4])}{'…' if len(changed) > 4 else ''})"
        raise RecordMismatch(f"{where}: the evaluation differs from what the gate is asked to compare in "
                             f"{' and '.join(different)}{detail}; run `dvc repro evaluate` first")


def model_rows(pairs_csv: Path) -> pd.DataFrame:
    rows = pd.read_csv(pairs_csv, dtype={"patient_id": str, "ct_id": str})
    return rows[(rows["method"] == "model") & rows["domain"].isin(DOMAINS)]


def stored_pairs(run_id: str, test_fingerprint: str) -> pd.DataFrame | None:
    """A run's per-pair scores on this test set, as its evaluation logged them; None when absent."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=tmp,
                                                       artifact_path=f"evaluations/{test_fingerprint}/pairs.csv")
        except (MlflowException, OSError):
            return None
        return model_rows(Path(path))


def rescore(rotator, inputs: EvaluationInputs, protocol: Protocol, drr) -> pd.DataFrame:
    """Score a model (a registered champion) on this evaluation's test pairs, as the model was."""
    test = evaluation_test_set(inputs, protocol)
    dictionaries = build_dictionaries(test, inputs.pool, pd.read_csv(inputs.pool / "manifest.csv"), drr, protocol)
    return score_model(rotator, test, dictionaries, protocol, regressor_if_trained(inputs.regressor))


def log_pairs(run_id: str, rows: pd.DataFrame, test_fingerprint: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pairs.csv"
        rows.to_csv(path, index=False)
        mlflow.MlflowClient().log_artifact(run_id, str(path), f"evaluations/{test_fingerprint}")
