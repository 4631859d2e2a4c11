"""xray_domain, cyclegan, pose_regressor and evaluate on tiny models: every report, every method."""

import json

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
from tests.conftest import TINY_UNET, register_tiny_model

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
    # Two "real" radiographs the pipeline did not render, and one broken file.
    real_dir = tmp_path / "radiographs"
    real_dir.mkdir()
    for k in range(2):
        iio.imwrite(real_dir / f"xr{k}.png", (np.random.default_rng(k).random((40, 30)) * 255).astype(np.uint8))
    (real_dir / "broken.png").write_bytes(b"nope")
    params["xray_domain"]["real_dir"] = str(real_dir)
    params_path.write_text(yaml.safe_dump(params))
    drrs.run(str(params_path))
    folds.run(str(params_path))
    rendered = xray_domain.xray_domain(str(params_path))
    with np.load(tmp_path / "xray" / "real.npz") as real:
        assert real["images"].shape == (2, 32, 32) and sorted(real["sources"]) == ["xr0.png", "xr1.png"]
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
    real = summary["real_radiograph"]
    assert set(real) == {"model", "model_no_rhs", "cyclegan_route"}
    assert set(real["model"]["all"]) == {"angle_error_deg", "n"} and real["model"]["all"]["n"] == 2 * 4
    assert "angle_error_deg" in summary["drr"]["model"]["all"]
    assert json.loads((reports / "metrics.json").read_text()) == summary
    pairs = pd.read_csv(reports / "pairs.csv")
    with_truth = pairs[pairs["domain"] != "real_radiograph"]
    assert (with_truth["mae"] >= 0).all() and (pairs["angle_error_deg"] >= 0).all()
    assert pairs.loc[pairs["domain"] == "real_radiograph", "mae"].isna().all()  # no truth, no image metric
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

    # The gate after it: the first registered model becomes champion; when the protocol
    # changes, the champion is scored again on the new one before any comparison.
    first, run_id = register_tiny_model(tmp_path / "models" / "registered", seed=0, image_size=32)
    (tmp_path / "models" / "train_metrics.json").write_text(json.dumps({"run_id": run_id, "registered_version": first}))
    params["promote"]["out"] = str(reports / "promotion.json")
    params_path.write_text(yaml.safe_dump(params))
    assert promote.promote(str(params_path))["decision"] == "promoted"
    params["evaluate"]["steps"] = 3
    params_path.write_text(yaml.safe_dump(params))
    second, run_id = register_tiny_model(tmp_path / "models" / "registered", seed=1, image_size=32)
    (tmp_path / "models" / "train_metrics.json").write_text(json.dumps({"run_id": run_id, "registered_version": second}))
    record = promote.promote(str(params_path))
    assert record["previous_champion"]["metrics_from"] == "re-evaluated"
    assert set(record["previous_champion"]["metrics"]) >= {"drr.ssim", "radiograph_style.angle_error_deg"}
    fingerprints = {v.version: v.tags["eval.fingerprint"] for v in mlflow.MlflowClient().search_model_versions()}
    assert fingerprints[int(first)] == fingerprints[int(second)] == record["evaluation_fingerprint"]
