"""Stage `promote`: the registry's gate: does the challenger become champion?

    python -m flows.promote [--params params.yaml]

Reads the challenger's evaluation (reports/metrics.json) and its registered
version (models/train_metrics.json), finds the `champion` of `radrotator` and its
evaluation (model-version tags `eval.*`, written by this stage), and applies the
rule in params.yaml `promote` (components/registry/promotion.py). A champion that
was scored on another test set or protocol is re-evaluated on this one first.
When the rule passes, the `champion` alias moves to the challenger. The decision
is recorded as tags on the version and its run, and in reports/promotion.json.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import asdict
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from prefect import flow

from components.atomic_write import atomic_path
from components.evaluation.metrics import summarise
from components.params import load_params
from components.registry import tracking
from components.registry.loading import load_rotator
from components.registry.promotion import Decision, Rule, decide, evaluation_fingerprint, model_metrics
from components.validation.promotion_suite import validate_metrics, validate_record
from flows import PROJECT_ROOT
from flows.stage import stage_main

CHAMPION = "champion"


def read_json(path: Path, what: str) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no {what} (run `dvc repro` up to this stage first)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None


def alias_version(client: MlflowClient, alias: str):
    try:
        return client.get_model_version_by_alias(tracking.MODEL_NAME, alias)
    except MlflowException as err:
        if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def stored_evaluation(version) -> tuple[dict[str, float], str | None]:
    """The `eval.<domain>.<metric>` tags of a model version, and the fingerprint they were measured on."""
    metrics = {k[len("eval."):]: float(v) for k, v in version.tags.items()
               if k.startswith("eval.") and k != "eval.fingerprint"}
    return metrics, version.tags.get("eval.fingerprint")


def tag_evaluation(client: MlflowClient, version: str, metrics: dict[str, float], fingerprint: str) -> None:
    for key, value in metrics.items():
        # Full precision: a rounded champion would "lose" to an identical challenger.
        client.set_model_version_tag(tracking.MODEL_NAME, version, f"eval.{key}", repr(float(value)))
    client.set_model_version_tag(tracking.MODEL_NAME, version, "eval.fingerprint", fingerprint)


def reevaluate(version: str, params: dict) -> dict[str, float]:
    """Score a registered version on this evaluation's test set, with the same protocol."""
    # Imported here: the evaluation's models and metrics are only needed when a champion is re-scored.
    from flows.evaluate import BOTH_DOMAINS, model_method, pose_regressor_if_trained, score_methods, test_set

    rotator, _ = load_rotator(f"models:/{tracking.MODEL_NAME}/{version}", PROJECT_ROOT)
    method = {"model": (model_method(rotator, params["evaluate"]), BOTH_DOMAINS)}
    shards, pairs = test_set(params)
    rows = score_methods(method, shards, pairs, pose_regressor_if_trained(params))[0]
    return model_metrics(summarise(pd.DataFrame(rows)))


@flow(name="promote", log_prints=True)
def promote(params_path: str = "params.yaml") -> dict:
    params = load_params(params_path)
    cfg = params["promote"]
    rule = Rule.from_params(cfg)
    evaluation_path = Path(params["evaluate"]["out"]) / "metrics.json"
    evaluation = read_json(evaluation_path, "evaluation")
    trained = read_json(Path(params["train"]["out"]) / "train_metrics.json", "training summary")
    if not trained.get("registered_version"):
        raise ValueError(f"{Path(params['train']['out']) / 'train_metrics.json'}: the model was not registered "
                         "(train.register: false?), so there is nothing to promote")
    version = str(trained["registered_version"])
    tracking.configure(PROJECT_ROOT, params["train"]["experiment"])
    client = MlflowClient()
    challenger = client.get_model_version(tracking.MODEL_NAME, version)
    if challenger.run_id != trained["run_id"]:
        raise ValueError(f"{tracking.MODEL_NAME} v{version} came from run {challenger.run_id}, but "
                         f"train_metrics.json names run {trained['run_id']}: is this the registry it was trained with?")
    fingerprint = evaluation_fingerprint(params)
    challenger_metrics = model_metrics(evaluation)
    validate_metrics(challenger_metrics, str(evaluation_path))  # the gate acts on nothing it cannot trust
    tag_evaluation(client, version, challenger_metrics, fingerprint)

    champion = alias_version(client, CHAMPION)
    champion_version = str(champion.version) if champion else None  # stores disagree on int or str
    champion_record = None
    if champion is None:
        decision = decide(challenger_metrics, None, rule)
    elif champion_version == version:
        decision = Decision(False, f"v{version} is already the champion; its evaluation tags were refreshed", [])
    else:
        champion_metrics, champion_fingerprint = stored_evaluation(champion)
        source = "registry tags"
        if champion_fingerprint != fingerprint:
            if not cfg.get("reevaluate_champion", True):
                raise ValueError(f"champion v{champion_version} was evaluated on another test set or protocol "
                                 f"({champion_fingerprint} ≠ {fingerprint}); set promote.reevaluate_champion: true")
            print(f"champion v{champion_version} was evaluated on another test set or protocol: re-evaluating it")
            champion_metrics, source = reevaluate(champion_version, params), "re-evaluated"
            validate_metrics(champion_metrics, f"the re-evaluation of champion v{champion_version}")
            tag_evaluation(client, champion_version, champion_metrics, fingerprint)
        decision = decide(challenger_metrics, champion_metrics, rule)
        champion_record = {"version": champion_version, "run_id": champion.run_id, "metrics": champion_metrics,
                           "metrics_from": source}
    verdict = "promoted" if decision.promote else ("kept" if champion_version == version else "rejected")
    expected = version if decision.promote else champion_version
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    record = {"decision": verdict, "reason": decision.reason, "decided_at": now,
              "model": tracking.MODEL_NAME, "champion": expected,
              "challenger": {"version": version, "run_id": challenger.run_id, "metrics": challenger_metrics},
              "previous_champion": champion_record, "rule": asdict(rule),
              "checks": decision.checks, "evaluation_fingerprint": fingerprint,
              "tracking_uri": mlflow.get_tracking_uri()}
    out = Path(cfg["out"])
    validate_record(record, str(out))  # before the registry changes: a contradictory decision moves nothing

    if decision.promote:
        client.set_registered_model_alias(tracking.MODEL_NAME, CHAMPION, version)
    tags = {"promotion.decision": verdict, "promotion.reason": decision.reason[:5000], "promotion.decided_at": now,
            "promotion.compared_with": f"v{champion_version}" if champion else "none"}
    for key, value in tags.items():
        client.set_model_version_tag(tracking.MODEL_NAME, version, key, value)
        client.set_tag(challenger.run_id, key, value)
    after = alias_version(client, CHAMPION)
    if (str(after.version) if after else None) != expected:  # the registry holds what the record says
        raise RuntimeError(f"the {CHAMPION} alias points at {after.version if after else 'nothing'}, "
                           f"expected v{expected}")
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    print(f"{verdict}: {tracking.MODEL_NAME} v{version} — {decision.reason}. "
          f"models:/{tracking.MODEL_NAME}@{CHAMPION} is v{expected}")
    return record


def main(argv: list[str] | None = None) -> int:
    return stage_main("promote", __doc__, promote, argv)


if __name__ == "__main__":
    sys.exit(main())
