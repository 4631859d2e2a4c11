"""xray_domain, cyclegan, pose_regressor and evaluate on tiny models: every report, every method."""

import json

import mlflow
import pandas as pd
import pytest
import torch
import yaml

from components.models.unet import UNetConfig, build_unet
from components.registry.export import export_model
from flows import cyclegan, drrs, evaluate, folds, pose_regressor, xray_domain
from tests.conftest import TINY_UNET

pytestmark = pytest.mark.slow


def test_evaluate_writes_every_report(prefect_server, tmp_path, tiny_run):
    params_path, params, uri = tiny_run
    params["drrs"]["geometry"]["pixels"] = 32  # the PatchGAN needs more than 16²
    params["cyclegan"].update({"max_steps": 2, "batch_size": 2, "filters": 8, "blocks": 1, "disc_filters": 8})
    params["pose_regressor"].update({"max_steps": 3, "batch_size": 4})
    params_path.write_text(yaml.safe_dump(params))
    torch.manual_seed(0)
    config = UNetConfig.from_params({**TINY_UNET, "image_size": 32})
    export_model(build_unet(config), config, tmp_path / "models" / "radrotator", {})
    export_model(build_unet(config), config, tmp_path / "models" / "no_rhs" / "radrotator", {})
    drrs.run(str(params_path))
    folds.run(str(params_path))
    rendered = xray_domain.xray_domain(str(params_path))
    assert len(rendered) >= 6 and (tmp_path / "xray" / "contact_sheet.png").exists()
    content = cyclegan.cyclegan(str(params_path))
    assert set(content) == {"drr_to_xray", "xray_to_drr", "reference_true_pair", "n_images"}
    assert 0 <= content["drr_to_xray"]["bone_dice"] <= 1
    assert json.loads((tmp_path / "models" / "cyclegan" / "content.json").read_text()) == content
    assert pose_regressor.pose_regressor(str(params_path))["val_mean_abs_error_deg"] >= 0

    summary = evaluate.evaluate(str(params_path))
    reports = tmp_path / "reports"
    assert set(summary["drr"]) == {"model", "model_no_rhs", "identity", "affine_warp"}
    assert set(summary["radiograph_style"]) == {"model", "model_no_rhs", "cyclegan_route", "identity", "affine_warp"}
    assert summary["pose_regressor_floor_deg"] >= 0
    assert "angle_error_deg" in summary["drr"]["model"]["all"]
    assert json.loads((reports / "metrics.json").read_text()) == summary
    pairs = pd.read_csv(reports / "pairs.csv")
    assert (pairs["mae"] >= 0).all() and (pairs["angle_error_deg"] >= 0).all()
    identity = pairs[(pairs["method"] == "identity") & (pairs["delta_x"] == 0) & (pairs["delta_y"] == 0)
                     & (pairs["delta_z"] == 0)]
    assert (identity["mae"] < 1e-6).all()  # a zero rotation is the identity, exactly
    plot = pd.read_csv(reports / "plots" / "radiograph_style_mae.csv")
    assert list(plot.columns) == ["bin", "model", "model_no_rhs", "cyclegan_route", "identity", "affine_warp"]
    assert (reports / "plots" / "drr_angle_error_deg.csv").exists()
    assert (reports / "figures" / "examples_drr.png").exists()
    assert "| cyclegan_route |" in (reports / "evaluation.md").read_text()
    mlflow.set_tracking_uri(uri)
    run = mlflow.search_runs(experiment_names=[params["train"]["experiment"]]).iloc[0]
    assert run["metrics.eval.radiograph_style.cyclegan_route.mae"] >= 0
