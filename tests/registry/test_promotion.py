"""The promotion gate: its interval rule, and the `promote` stage against a real MLflow registry."""

import json
import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from components.config import load_config
from components.drr.render import render_ct_shard
from components.evaluation.evaluate import EvaluationInputs, evaluation_test_set
from components.evaluation.protocol import Protocol, evaluation_record, summarise
from components.models.unet import UNetConfig, build_unet
from components.registry.comparison import RecordMismatch
from components.registry.export import export_model, model_sha256
from components.registry.promotion import Rule, decide
from flows import promote
from tests.conftest import PROJECT_ROOT, TINY_UNET, register_tiny_model
from tests.params import drr_config, inference

RULE = Rule(primary="radiograph_style.rotation_error_deg", guards=("drr.ssim",))


def interval(mean, half=0.1):
    return {"mean": mean, "lo": mean - half, "hi": mean + half}


def test_first_model_is_promoted_without_comparison():
    decision = decide(None, RULE)
    assert decision.promote and decision.checks == []


@pytest.mark.parametrize("primary, guard, promoted, named", [
    (-1.0, 0.0, True, None),                                          # rotation error lower for sure
    (-0.05, 0.0, False, "radiograph_style.rotation_error_deg"),       # interval straddles 0: noise
    (+1.0, 0.0, False, "radiograph_style.rotation_error_deg"),        # worse
    (-1.0, -0.3, False, "drr.ssim"),                                   # a guard significantly worse
    (-1.0, -0.05, True, None),                                        # a guard within its noise
])
def test_rule_needs_a_significantly_better_primary_and_no_significantly_worse_guard(primary, guard, promoted, named):
    decision = decide({"radiograph_style.rotation_error_deg": interval(primary), "drr.ssim": interval(guard)}, RULE)
    assert decision.promote is promoted
    if named:
        assert named in decision.reason


def test_rule_errors_name_the_key():
    with pytest.raises(ValueError, match="drr.sharpness"):
        Rule(primary="drr.sharpness")
    with pytest.raises(ValueError, match="drr.sharpness"):
        Rule(primary="drr.ssim", guards=("drr.sharpness",))
    with pytest.raises(KeyError, match="drr.ssim"):
        decide({"radiograph_style.rotation_error_deg": interval(-1.0)}, RULE)


MEASURES = {"mae": 0.05, "psnr": 20.0, "ssim": 0.7, "rotation_error_deg": 4.0, "regressor_error_deg": 4.0}


@pytest.fixture
def gate(tmp_path, monkeypatch, tiny_pool):
    """A params file with every output under tmp_path, a test set of two rendered test CTs, a temp
    MLflow store, and a `submit` that registers a challenger whose per-pair scores are the base
    scores shifted by `shift` (plus noise), logged as the evaluate stage logs them, then runs the gate."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    for section, out in (("train", "models"), ("evaluate", "reports"), ("folds", "folds"), ("drrs", "drrs"),
                         ("pose_regressor", "pose"), ("xray_domain", "xray")):
        params[section]["out"] = str(tmp_path / out)
        (tmp_path / out).mkdir()
    params["ct_pool"]["out"] = str(tiny_pool)
    params["evaluate"].update({"pairs_per_bin": 6, "bootstrap": 300})
    params["promote"]["out"] = str(tmp_path / "reports" / "promotion.json")
    manifest = pd.read_csv(tiny_pool / "manifest.csv")
    folds = manifest[["ct_id", "patient_id"]].assign(fold=[1, 2, 3, 4, 5, 6, 7, 7], role="train")
    folds.to_csv(tmp_path / "folds" / "folds.csv", index=False)
    config = drr_config(drrs_per_ct=9, volume_spacing_mm=4.0, geometry={"pixels": 16, "detector_mm": 380})
    for _, row in manifest.tail(2).iterrows():  # the test CTs: rendered; their radiograph style: a copy
        shard = render_ct_shard(tiny_pool / row["path"], row["ct_id"], tmp_path / "drrs", config).path
        shutil.copy(shard, tmp_path / "xray" / shard.name)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    config = load_config(path)
    protocol = Protocol.from_params(config.evaluate)
    test = evaluation_test_set(EvaluationInputs.from_params(config), protocol)
    rng = np.random.default_rng(0)
    base = pd.DataFrame([{"domain": d, "method": "model", "bin": p.bin, "ct_id": p.ct_id,
                          "patient_id": p.patient_id, "source": p.source, "target": p.target,
                          **{m: v * rng.uniform(0.8, 1.2) for m, v in MEASURES.items()}}
                         for d in ("drr", "radiograph_style") for p in test.pairs])

    def submit(seed: int, **shift) -> dict:
        _, run_id = register_tiny_model(tmp_path / "models" / "radrotator", seed=seed)
        rows = base.copy()
        noise = np.random.default_rng(seed + 100)
        for key, value in shift.items():
            domain, measure = key.split("__")
            at = rows["domain"] == domain
            rows.loc[at, measure] += value
        for measure in MEASURES:
            rows[measure] += noise.normal(0, 0.01 * MEASURES[measure], len(rows))
        rows.to_csv(tmp_path / "reports" / "pairs.csv", index=False)
        record = evaluation_record(test, protocol, tmp_path / "pose", model_sha256(tmp_path / "models" / "radrotator"))
        (tmp_path / "reports" / "evaluation_record.json").write_text(json.dumps(record))
        metrics = {"fingerprint": record["fingerprint"], "domains": summarise(rows, protocol), "differences": {}}
        (tmp_path / "reports" / "metrics.json").write_text(json.dumps(metrics))
        with mlflow.start_run(run_id=run_id):
            mlflow.log_artifacts(str(tmp_path / "reports"), f"evaluations/{record['test_fingerprint']}")
        return promote.promote(str(path))

    return submit, tmp_path


def test_promote_stage_moves_champion_only_on_a_significant_paired_gain(prefect_server, gate):
    submit, tmp_path = gate
    first = submit(0)
    assert first["decision"] == "promoted" and first["champion"] == "1" and first["previous_champion"] is None
    assert json.loads((tmp_path / "reports" / "promotion.json").read_text()) == first
    card = mlflow.MlflowClient().get_model_version("radrotator", "1").description  # the version's model card
    for needed in ("# RadRotator v1: model card", "not for diagnosis", "±15°", "AP pelvis", "rotation error",
                   "## Lineage", first["challenger"]["model_sha256"], "promoted"):
        assert needed in card, needed
    stored = mlflow.artifacts.load_text(f"runs:/{mlflow.MlflowClient().get_model_version('radrotator', '1').run_id}"
                                        "/model_card.md")
    assert stored == card

    same = submit(1)  # the same scores up to noise: no constant lets it win
    assert same["decision"] == "rejected" and "not significantly better" in same["reason"]
    assert same["previous_champion"]["scores_from"] == "its evaluation on this test set"

    breaks_guard = submit(2, radiograph_style__rotation_error_deg=-1.0, drr__ssim=-0.2)
    assert breaks_guard["decision"] == "rejected" and "drr.ssim" in breaks_guard["reason"]

    better = submit(3, radiograph_style__rotation_error_deg=-1.0)
    assert better["decision"] == "promoted" and better["champion"] == "4"
    primary = better["checks"][0]
    assert primary["side"] == "better" and primary["hi"] < 0

    again = promote.promote(str(tmp_path / "params.yaml"))
    assert again["decision"] == "kept" and again["champion"] == "4"

    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias("radrotator", "champion").version) == "4"
    rejected = client.get_model_version("radrotator", "3")
    assert rejected.tags["promotion.decision"] == "rejected" and rejected.tags["promotion.compared_with"] == "v1"
    assert client.get_run(rejected.run_id).data.tags["promotion.decision"] == "rejected"


def test_promote_refuses_a_record_of_other_test_shards(prefect_server, gate):
    submit, tmp_path = gate
    submit(0)
    shard = sorted((tmp_path / "drrs").glob("*.npz"))[0]
    data = dict(np.load(shard))
    data["raw_max"] = data["raw_max"] + 1  # the test set changed after the evaluation
    with open(shard, "wb") as fh:
        np.savez_compressed(fh, **data)
    with pytest.raises(RecordMismatch, match=f"the test shards.*drr/{shard.stem}"):
        promote.promote(str(tmp_path / "params.yaml"))


def test_promote_refuses_what_it_cannot_judge(prefect_server, gate):
    submit, tmp_path = gate
    assert submit(0)["decision"] == "promoted"
    torch.manual_seed(5)  # weights the registry never saw (train.register: false), evaluated all the same
    config = UNetConfig.from_params({**TINY_UNET, "image_size": 16})
    export_model(build_unet(config), config, tmp_path / "models" / "radrotator", {}, inference())
    params = load_config(tmp_path / "params.yaml")
    protocol = Protocol.from_params(params.evaluate)
    record = evaluation_record(evaluation_test_set(EvaluationInputs.from_params(params), protocol), protocol,
                               tmp_path / "pose", model_sha256(tmp_path / "models" / "radrotator"))
    (tmp_path / "reports" / "evaluation_record.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="not the registry's challenger"):
        promote.promote(str(tmp_path / "params.yaml"))
    (tmp_path / "reports" / "promotion.json").unlink()
    (tmp_path / "reports" / "metrics.json").write_text("{not json")
    with pytest.raises(ValueError, match="metrics.json"):
        promote.promote(str(tmp_path / "params.yaml"))
    assert not (tmp_path / "reports" / "promotion.json").exists()
