"""The promotion gate: its rule, and the `promote` stage against a real MLflow registry."""

import json

import mlflow
import pytest
import yaml

from components.registry.promotion import Rule, decide, model_metrics
from flows import promote
from tests.conftest import PROJECT_ROOT, register_tiny_model

RULE = Rule(primary="radiograph_style.ssim", min_improvement=0.0,
            tolerances={"drr.mae": 0.005, "radiograph_style.angle_error_deg": 0.5})
BASE = {"radiograph_style.ssim": 0.60, "drr.mae": 0.050, "radiograph_style.angle_error_deg": 5.0}


def test_first_model_is_promoted_without_comparison():
    decision = decide(BASE, None, RULE)
    assert decision.promote and decision.checks == []


@pytest.mark.parametrize("change, promoted, named", [
    ({"radiograph_style.ssim": 0.65}, True, None),
    ({"radiograph_style.ssim": 0.60}, False, "radiograph_style.ssim"),        # equal is not better
    ({"radiograph_style.ssim": 0.55}, False, "radiograph_style.ssim"),
    ({"radiograph_style.ssim": 0.65, "drr.mae": 0.056}, False, "drr.mae"),    # lower is better: 0.006 worse
    ({"radiograph_style.ssim": 0.65, "drr.mae": 0.054}, True, None),          # within tolerance
    ({"radiograph_style.ssim": 0.65, "radiograph_style.angle_error_deg": 5.6}, False, "angle_error_deg"),
])
def test_rule_needs_a_better_primary_and_no_breached_guard(change, promoted, named):
    decision = decide({**BASE, **change}, BASE, RULE)
    assert decision.promote is promoted
    assert {c["metric"] for c in decision.checks} == set(BASE)
    if named:
        assert named in decision.reason


def test_rule_and_metrics_errors_name_the_key():
    with pytest.raises(ValueError, match="drr.sharpness"):
        Rule.from_params({"primary": "drr.sharpness"})
    with pytest.raises(KeyError, match="radiograph_style.ssim"):
        decide({"drr.mae": 0.1}, None, RULE)
    summary = {"drr": {"model": {"all": {"mae": 0.1, "ssim": 0.7, "n": 3}, "0-5": {"mae": 0.0}},
                       "identity": {"all": {"mae": 0.2}}}, "pose_regressor_floor_deg": 1.2}
    assert model_metrics(summary) == {"drr.mae": 0.1, "drr.ssim": 0.7}


@pytest.fixture
def gate(tmp_path, monkeypatch):
    """A params file with every output under tmp_path, a temp MLflow store, and a `submit`
    that registers a new challenger with the given evaluation and runs the gate."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    for section, out in (("train", "models"), ("evaluate", "reports"), ("folds", "folds"), ("drrs", "drrs"),
                         ("pose_regressor", "pose")):
        params[section]["out"] = str(tmp_path / out)
        (tmp_path / out).mkdir()
    params["promote"]["out"] = str(tmp_path / "reports" / "promotion.json")
    (tmp_path / "folds" / "folds.csv").write_text("ct_id,patient_id,fold,role\na,p,7,test\n")
    (tmp_path / "drrs" / "index.csv").write_text("ct_id,config_hash\na,0\n")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))

    def submit(seed: int, **metrics) -> dict:
        version, run_id = register_tiny_model(tmp_path / "models" / "radrotator", seed=seed)
        (tmp_path / "models" / "train_metrics.json").write_text(
            json.dumps({"run_id": run_id, "registered_version": version}))
        summary = {}  # the shape of reports/metrics.json: {domain: {method: {bin: {metric: value}}}}
        for key, value in {**BASE, "drr.ssim": 0.7, "radiograph_style.mae": 0.1, **metrics}.items():
            domain, metric = key.split(".")
            summary.setdefault(domain, {"model": {"all": {"n": 18}}})["model"]["all"][metric] = value
        (tmp_path / "reports" / "metrics.json").write_text(json.dumps(summary))
        return promote.promote(str(path))

    return submit, tmp_path


def test_promote_stage_moves_champion_only_when_the_rule_passes(prefect_server, gate):
    submit, tmp_path = gate
    first = submit(0)
    assert first["decision"] == "promoted" and first["champion"] == "1" and first["previous_champion"] is None
    assert json.loads((tmp_path / "reports" / "promotion.json").read_text()) == first

    worse = submit(1, **{"radiograph_style.ssim": 0.55})
    assert worse["decision"] == "rejected" and worse["champion"] == "1"
    assert "radiograph_style.ssim" in worse["reason"]
    assert worse["previous_champion"]["metrics_from"] == "registry tags"

    breaks_guard = submit(2, **{"radiograph_style.ssim": 0.70, "drr.mae": 0.09})
    assert breaks_guard["decision"] == "rejected" and "drr.mae" in breaks_guard["reason"]

    better = submit(3, **{"radiograph_style.ssim": 0.70})
    assert better["decision"] == "promoted" and better["champion"] == "4"
    assert better["previous_champion"]["version"] == "1"

    again = promote.promote(str(tmp_path / "params.yaml"))
    assert again["decision"] == "kept" and again["champion"] == "4"

    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias("radrotator", "champion").version) == "4"
    rejected = client.get_model_version("radrotator", "2")
    assert rejected.tags["promotion.decision"] == "rejected" and rejected.tags["promotion.compared_with"] == "v1"
    assert float(rejected.tags["eval.radiograph_style.ssim"]) == 0.55  # exactly: tags keep full precision
    assert client.get_run(rejected.run_id).data.tags["promotion.decision"] == "rejected"


def test_promote_refuses_what_it_cannot_judge(prefect_server, gate):
    submit, tmp_path = gate
    (tmp_path / "reports" / "metrics.json").write_text("{not json")
    (tmp_path / "models" / "train_metrics.json").write_text(json.dumps({"run_id": "x", "registered_version": None}))
    with pytest.raises(ValueError, match="metrics.json"):
        promote.promote(str(tmp_path / "params.yaml"))
    (tmp_path / "reports" / "metrics.json").write_text("{}")
    with pytest.raises(ValueError, match="not registered"):
        promote.promote(str(tmp_path / "params.yaml"))
    assert not (tmp_path / "reports" / "promotion.json").exists()
