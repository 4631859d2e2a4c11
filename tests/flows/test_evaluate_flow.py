"""xray_domain and evaluate on a tiny model: metrics, plots, figures, report, MLflow."""

import json

import mlflow
import pandas as pd
import pytest
import torch

from components.models.unet import UNetConfig, build_unet
from components.registry.export import export_model
from flows import drrs, evaluate, folds, xray_domain
from tests.conftest import TINY_UNET

pytestmark = pytest.mark.slow


def test_evaluate_writes_every_report(prefect_server, tmp_path, tiny_run):
    params_path, params, uri = tiny_run
    torch.manual_seed(0)
    config = UNetConfig.from_params(TINY_UNET)
    export_model(build_unet(config), config, tmp_path / "models" / "radrotator", {})
    drrs.run(str(params_path))
    folds.run(str(params_path))
    rendered = xray_domain.xray_domain(str(params_path))
    assert rendered and (tmp_path / "xray" / "contact_sheet.png").exists()

    summary = evaluate.evaluate(str(params_path))
    reports = tmp_path / "reports"
    assert set(summary) == {"drr", "radiograph_style"}
    assert set(summary["drr"]) == {"model", "identity", "affine_warp"}
    assert json.loads((reports / "metrics.json").read_text()) == summary
    pairs = pd.read_csv(reports / "pairs.csv")
    assert set(pairs["method"]) == {"model", "identity", "affine_warp"} and (pairs["mae"] >= 0).all()
    identity = pairs[(pairs["method"] == "identity") & (pairs["delta_x"] == 0) & (pairs["delta_y"] == 0)
                     & (pairs["delta_z"] == 0)]
    assert (identity["mae"] < 1e-6).all()  # a zero rotation is the identity, exactly
    plot = pd.read_csv(reports / "plots" / "drr_mae.csv")
    assert list(plot.columns) == ["bin", "model", "identity", "affine_warp"]
    assert (reports / "figures" / "examples_drr.png").exists()
    assert "| model |" in (reports / "evaluation.md").read_text()
    mlflow.set_tracking_uri(uri)
    run = mlflow.search_runs(experiment_names=[params["train"]["experiment"]]).iloc[0]
    assert "metrics.eval.drr.model.mae" in run.index and run["metrics.eval.drr.model.mae"] >= 0
