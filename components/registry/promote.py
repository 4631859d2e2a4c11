"""The promote stage's work: the registry's gate between challenger and champion.

The challenger (the version the train stage registered) is compared with the
champion on the same test pairs: its own per-pair scores from the evaluation,
the champion's from its run (or scored again when it has none on this test
set). Paired differences over all bins, with intervals over patients then
pairs, decide by the rule in params `promote` (components/registry/promotion.py).
The decision, its reasons and the model card go to the registry; the record to
reports/promotion.json.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from components.atomic_write import atomic_path
from components.config import Params
from components.drr.render import DRRConfig
from components.evaluation.evaluate import EvaluationInputs
from components.evaluation.protocol import Protocol, paired_differences
from components.registry import comparison, model_card, tracking
from components.registry.export import read_config
from components.registry.loading import load_rotator
from components.registry.promotion import Decision, Rule, all_bin_differences, decide, model_metrics
from components.validation.promotion_suite import validate_metrics, validate_record

CHAMPION, CHALLENGER = "champion", "challenger"


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


def tag_evaluation(client: MlflowClient, version: str, metrics: dict[str, float], fingerprint: str) -> None:
    for key, value in metrics.items():  # full precision
        client.set_model_version_tag(tracking.MODEL_NAME, version, f"eval.{key}", repr(float(value)))
    client.set_model_version_tag(tracking.MODEL_NAME, version, "eval.test_fingerprint", fingerprint)


def promote_challenger(params: Params, project_root: Path) -> dict:
    """Compare the registry's challenger with its champion on the same test pairs and move the alias
    when the rule says so; the record written to params `promote.out` says why."""
    cfg = params.promote
    rule = Rule.from_params(cfg)
    inputs, protocol = EvaluationInputs.from_params(params), Protocol.from_params(params.evaluate)
    evaluation = read_json(inputs.out / "metrics.json", "evaluation")
    record_path = inputs.out / "evaluation_record.json"
    record = read_json(record_path, "evaluation record")
    comparison.verify_record(record, comparison.current_record(inputs, protocol, inputs.model_id()), str(record_path))
    tracking.configure(project_root, params.train.experiment)
    client = MlflowClient()
    challenger = alias_version(client, CHALLENGER)
    if challenger is None or challenger.tags.get(tracking.MODEL_TAG) != record["model_sha256"]:
        held = f"v{challenger.version} holds other weights" if challenger else "no version has it"
        raise ValueError(f"{inputs.model}: the evaluated model is not the registry's {CHALLENGER} ({held}); "
                         "was it trained with train.register: false, or against another registry?")
    version = str(challenger.version)
    challenger_metrics = model_metrics(evaluation)
    validate_metrics(challenger_metrics, str(inputs.out / "metrics.json"))  # the gate acts on nothing it cannot trust
    test_fp = record["test_fingerprint"]
    tag_evaluation(client, version, challenger_metrics, test_fp)

    champion = alias_version(client, CHAMPION)
    champion_version = str(champion.version) if champion else None  # stores disagree on int or str
    champion_record = None
    if champion is None:
        decision = decide(None, rule)
    elif champion_version == version:
        decision = Decision(False, f"v{version} is already the champion; its evaluation tags were refreshed", [])
    else:
        champion_rows, source = comparison.stored_pairs(champion.run_id, test_fp), "its evaluation on this test set"
        if champion_rows is None:
            print(f"champion v{champion_version} has no scores on this test set: scoring it again")
            rotator, _ = load_rotator(f"models:/{tracking.MODEL_NAME}/{champion_version}", project_root)
            champion_rows = comparison.rescore(rotator, inputs, protocol, DRRConfig.from_params(params.drrs))
            comparison.log_pairs(champion.run_id, champion_rows, test_fp)
            source = "scored again on this test set"
        challenger_rows = comparison.model_rows(inputs.out / "pairs.csv")
        paired = paired_differences(challenger_rows, "model", "model", protocol, rows_b=champion_rows,
                                    label="challenger-champion")
        decision = decide(all_bin_differences(paired), rule)
        champion_record = {"version": champion_version, "model_sha256": champion.tags.get(tracking.MODEL_TAG),
                           "scores_from": source,
                           "paired_differences": paired}
    verdict = "promoted" if decision.promote else ("kept" if champion_version == version else "rejected")
    expected = version if decision.promote else champion_version
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")  # in the registry's tags, not the file
    record_out = {"decision": verdict, "reason": decision.reason, "model": tracking.MODEL_NAME,
                  "champion": expected,
                  "challenger": {"version": version, "model_sha256": record["model_sha256"],
                                 "metrics": challenger_metrics},
                  "previous_champion": champion_record, "rule": rule.to_dict(), "checks": decision.checks,
                  "evaluation_fingerprint": record["fingerprint"], "test_fingerprint": test_fp}
    out = Path(cfg.out)
    validate_record(record_out, str(out))  # before the registry changes: a contradictory decision moves nothing

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
        tmp.write_text(json.dumps(record_out, indent=2) + "\n")
    write_model_card(client, challenger, params, evaluation, record, inputs, f"{verdict}: {decision.reason}")
    print(f"{verdict}: {tracking.MODEL_NAME} v{version} — {decision.reason}. "
          f"models:/{tracking.MODEL_NAME}@{CHAMPION} is v{expected}")
    return record_out


def write_model_card(client: MlflowClient, version, params: Params, metrics: dict, record: dict,
                     inputs: EvaluationInputs, decision: str) -> None:
    """The version's model card: its description in the registry and `model_card.md` in its run."""
    manifest = pd.read_csv(inputs.pool / "manifest.csv")
    data = model_card.training_data(manifest, pd.read_csv(inputs.folds_csv), list(params.folds.train))
    tags = client.get_run(version.run_id).data.tags
    lineage = {k: v for k, v in tags.items() if k == "git_commit" or k.startswith("dvc.")}
    card = model_card.model_card(str(version.version), record["model_sha256"], read_config(inputs.model), params.to_dict(),
                                 metrics, record, data, lineage, decision)
    client.update_model_version(tracking.MODEL_NAME, str(version.version), description=card)
    client.log_text(version.run_id, card, "model_card.md")
