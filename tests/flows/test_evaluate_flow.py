"""The evaluate stage on tiny models: its reports, the ablations' evaluation, and the gate after it."""

import json
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from components.models.unet import UNetConfig, build_unet
from components.registry.export import export_model
from flows import cyclegan, drrs, evaluate, folds, pose_regressor, promote, xray_domain
from tests.conftest import TINY_UNET, make_tiny_pool, make_tiny_run, register_tiny_model
from tests.params import inference

pytestmark = pytest.mark.slow


def prepare(tmp_path: Path, tiny_run) -> tuple[Path, dict, str]:
    """tiny_run with 32² DRRs, radiograph-style shards, two 'real' radiographs, a Cycle-GAN, a pose
    regressor and two exported (untrained) models; returns (params path, params, MLflow URI)."""
    params_path, params, uri = tiny_run
    params["drrs"]["geometry"]["pixels"] = 32  # the PatchGAN needs more than 16²
    params["cyclegan"].update({"max_steps": 2, "batch_size": 2, "filters": 8, "blocks": 1, "disc_filters": 8})
    params["pose_regressor"].update({"max_steps": 3, "batch_size": 4})
    params["evaluate"].update({"pairs_per_bin": 2, "bootstrap": 200, "ablations_out": str(tmp_path / "reports" / "ablations"),
                               "registration": {**params["evaluate"]["registration"], "step_deg": 5.0}})
    real_dir = tmp_path / "radiographs"  # two radiographs the pipeline did not render, and a broken file
    real_dir.mkdir()
    for k in range(2):
        iio.imwrite(real_dir / f"xr{k}.png", (np.random.default_rng(k).random((40, 30)) * 255).astype(np.uint8))
    (real_dir / "broken.png").write_bytes(b"nope")
    params["xray_domain"]["real_dir"] = str(real_dir)
    params_path.write_text(yaml.safe_dump(params))
    torch.manual_seed(0)
    config = UNetConfig.from_params({**TINY_UNET, "image_size": 32})
    for folder in ("radrotator", "no_rhs/radrotator"):
        export_model(build_unet(config), config, tmp_path / "models" / folder, {}, inference(steps=2))
    drrs.run(str(params_path))
    folds.run(str(params_path))
    xray_domain.run(str(params_path))
    cyclegan.cyclegan(str(params_path))
    pose_regressor.pose_regressor(str(params_path))
    return params_path, params, uri


@pytest.fixture
def evaluated(prefect_server, tmp_path, tiny_run):
    return prepare(tmp_path, tiny_run)


@dataclass
class Evaluation:
    folder: Path
    params: dict
    uri: str
    metrics: dict

    @property
    def reports(self) -> Path:
        return self.folder / "reports"


@pytest.fixture(scope="module")
def evaluation(prefect_server, tmp_path_factory):
    """One evaluate run on the prepared tiny pipeline, shared by the tests that read its outputs."""
    folder = tmp_path_factory.mktemp("evaluation")
    with pytest.MonkeyPatch.context() as patch:
        params_path, params, uri = prepare(folder, make_tiny_run(folder, make_tiny_pool(folder), patch))
        yield Evaluation(folder, params, uri, evaluate.evaluate(str(params_path)))


def test_real_radiographs_are_prepared_as_a_mode_a_input_and_a_broken_one_skipped(evaluation):
    with np.load(evaluation.folder / "xray" / "real.npz") as real:
        assert real["images"].shape == (2, 32, 32) and sorted(real["sources"]) == ["xr0.png", "xr1.png"]


def test_every_method_and_measure_carries_an_interval_around_its_mean(evaluation):
    metrics = evaluation.metrics
    assert json.loads((evaluation.reports / "metrics.json").read_text()) == metrics
    domains = metrics["domains"]
    assert set(domains["drr"]) == {"model", "identity", "affine_warp", "true_target"}  # no ablation here
    cell = domains["drr"]["model"]["all"]
    for measure in ("ssim", "rotation_error_deg", "regressor_error_deg"):
        assert cell[f"{measure}_lo"] <= cell[measure] <= cell[f"{measure}_hi"]
    assert set(domains["real_radiograph"]["model"]["all"]) >= {"regressor_error_deg", "n"}
    assert set(metrics["differences"]) == {"model - identity", "model - affine_warp"}


def test_the_record_and_the_per_pair_scores_are_written_and_the_floor_reads_itself(evaluation):
    record = json.loads((evaluation.reports / "evaluation_record.json").read_text())
    assert record["fingerprint"] == evaluation.metrics["fingerprint"]
    assert set(record["test_shards"]) == {"drr", "radiograph_style"}
    pairs = pd.read_csv(evaluation.reports / "pairs.csv")
    with_truth = pairs[pairs["domain"] != "real_radiograph"]
    assert (with_truth["rotation_error_deg"] >= 0).all()
    identity = with_truth[(with_truth["method"] == "identity")]
    assert (identity["mae"] >= 0).all() and len(identity) == len(with_truth[with_truth["method"] == "model"])
    floor = with_truth[with_truth["method"] == "true_target"]
    assert floor["mae"].isna().all()
    assert (floor.loc[floor["domain"] == "drr", "rotation_error_deg"] < 2).all()  # a DRR's truth reads as itself


def test_plots_figures_and_the_markdown_report_are_written(evaluation):
    reports = evaluation.reports
    plot = pd.read_csv(reports / "plots" / "drr_rotation_error_deg.csv")
    assert {"max_rotation_deg", "model", "identity", "affine_warp", "true_target"} <= set(plot.columns)
    for figure in ("examples_drr.png", "examples_radiograph_style.png", "axes.png", "metrics_drr.png"):
        assert (reports / "figures" / figure).stat().st_size > 0, figure
    text = (reports / "evaluation.md").read_text()
    assert "| model - identity |" in text and "95 % interval" in text


def test_the_evaluation_is_logged_to_the_run_that_trained_the_model(evaluation):
    record = json.loads((evaluation.reports / "evaluation_record.json").read_text())
    mlflow.set_tracking_uri(evaluation.uri)
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(evaluation.params["train"]["experiment"])
    run = mlflow.search_runs(experiment_ids=[experiment.experiment_id]).iloc[0]
    assert run["metrics.eval.drr.model.rotation_error_deg"] >= 0
    logged = [a.path for a in client.list_artifacts(run["run_id"], f"evaluations/{record['test_fingerprint']}")]
    assert f"evaluations/{record['test_fingerprint']}/pairs.csv" in logged


def test_ablations_are_scored_beside_the_model_on_the_same_pairs(evaluated, tmp_path):
    params_path, _, _ = evaluated
    metrics = evaluate.evaluate(str(params_path), ablations=True)
    assert {"model", "model_no_rhs"} <= set(metrics["domains"]["drr"])
    assert {"model", "model_no_rhs", "cyclegan_route"} <= set(metrics["domains"]["radiograph_style"])
    assert "model - model_no_rhs" in metrics["differences"]
    pairs = pd.read_csv(tmp_path / "reports" / "ablations" / "pairs.csv")
    pairs = pairs[pairs["domain"].isin(["drr", "radiograph_style"])]  # real radiographs: the model alone
    keys = ["domain", "ct_id", "source", "target"]
    same = pairs[pairs["method"] == "model"][keys].merge(pairs[pairs["method"] == "model_no_rhs"][keys])
    assert len(same) == len(pairs[pairs["method"] == "model"])


def test_the_gate_scores_a_champion_again_when_it_has_no_scores_on_this_test_set(evaluated, tmp_path):
    params_path, params, uri = evaluated
    register_tiny_model(tmp_path / "models" / "radrotator", seed=0, image_size=32)  # the challenger
    params["promote"]["out"] = str(tmp_path / "reports" / "promotion.json")
    params_path.write_text(yaml.safe_dump(params))
    evaluate.evaluate(str(params_path))
    assert promote.promote(str(params_path))["decision"] == "promoted"
    params["evaluate"]["seed"] = 1  # another protocol: the champion's scores are from another test
    params_path.write_text(yaml.safe_dump(params))
    register_tiny_model(tmp_path / "models" / "radrotator", seed=1, image_size=32)  # the challenger
    evaluate.evaluate(str(params_path))
    record = promote.promote(str(params_path))
    assert record["previous_champion"]["scores_from"] == "scored again on this test set"
    assert record["decision"] in ("rejected", "promoted")
    assert "radiograph_style" in record["previous_champion"]["paired_differences"]
