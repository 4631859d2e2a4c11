"""The three stages for real on a tiny pool: cases, three trained models, a report, a registered and gated
model, and the command that turns two radiographs into a NIfTI volume."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import imageio.v3 as iio
import mlflow
import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml

from components.pixels import quantise
from components.x2ct.biplanar import load_cases
from flows import biplanar, drrs, folds, x2ct, x2ct_evaluate

pytestmark = pytest.mark.slow


def x2ct_params(tmp_path, params_path) -> dict:
    params = yaml.safe_load(params_path.read_text())
    params["biplanar"].update({"out": str(tmp_path / "biplanar"), "poses_per_ct": 2,
                               "grid": {"voxels": 16, "spacing_mm": 20}})
    params["x2ct"].update({"out": str(tmp_path / "models" / "x2ct"), "max_steps": 3, "batch_size": 2,
                           "inference": {"sampler": "dpmsolver++", "steps": 2},
                           "unet": {"channels": [8, 16], "attention_levels": [False, False], "num_res_blocks": 1,
                                    "num_head_channels": 8, "norm_num_groups": 8}})
    params["x2ct_evaluate"].update({"out": str(tmp_path / "reports" / "x2ct"),
                                    "report": str(tmp_path / "reports" / "x2ct.md"), "bootstrap": 100})
    params_path.write_text(yaml.safe_dump(params))
    return params


def test_cases_models_report_registry_and_the_command(prefect_server, tmp_path, tiny_run):
    params_path, _, uri = tiny_run
    params = x2ct_params(tmp_path, params_path)
    drrs.run(str(params_path))
    folds.run(str(params_path))
    assert biplanar.biplanar(str(params_path)) == {"cts": 8, "cases": 16}
    index = pd.read_csv(tmp_path / "biplanar" / "index.csv")
    case = load_cases(tmp_path / "biplanar", index["ct_id"][0])
    assert case["hu"].shape == (2, 16, 16, 16) and case["ap"].shape == (2, 16, 16)
    assert not np.allclose(case["ap"][0], case["ap"][1])  # the second pose is another view

    summary = x2ct.x2ct(str(params_path))
    for name in ("diffusion", "no_projection", "regressor"):
        config = json.loads((tmp_path / "models" / "x2ct" / name / "config.json").read_text())
        assert summary[name]["steps"] == 3 and config["grid"] == {"voxels": 16, "spacing_mm": 20}
    assert "train/projection" in summary["diffusion"]["final"]
    assert "train/projection" not in summary["no_projection"]["final"]

    result = x2ct_evaluate.x2ct_evaluate(str(params_path))
    assert result["promotion"] == "promoted"  # the first model: no champion yet
    metrics = json.loads((tmp_path / "reports" / "x2ct" / "metrics.json").read_text())
    assert set(metrics["summary"]) == {"model", "no_projection", "regressor", "backprojection"}
    for cells in metrics["summary"].values():
        assert cells["ssim3d_lo"] <= cells["ssim3d"] <= cells["ssim3d_hi"]
    assert set(metrics["paired_differences"]) == {"model-no_projection", "model-regressor", "model-backprojection"}
    report = (tmp_path / "reports" / "x2ct.md").read_text()
    assert "back-projection (floor)" in report and "no projection loss" in report
    assert (tmp_path / "reports" / "x2ct" / "examples.png").stat().st_size > 1000
    scores = pd.read_csv(tmp_path / "reports" / "x2ct" / "cases.csv")
    assert len(scores) == 4 * metrics["cases"]

    # Another training: the gate compares it with the champion on the same cases
    params["x2ct"]["seed"] = 1
    params_path.write_text(yaml.safe_dump(params))
    x2ct.x2ct(str(params_path))
    x2ct_evaluate.x2ct_evaluate(str(params_path))
    promotion = json.loads((tmp_path / "reports" / "x2ct" / "promotion.json").read_text())
    assert promotion["version"] == "2" and promotion["previous_champion"]["version"] == "1"
    assert {c["metric"] for c in promotion["checks"]} == {"ssim3d", "psnr", "bone_dice", "reprojection_mae"}
    mlflow.set_tracking_uri(uri)
    champion = mlflow.MlflowClient().get_model_version_by_alias("radrotator-x2ct", "champion")
    assert str(champion.version) == ("2" if promotion["decision"] == "promoted" else "1")

    # Two radiographs from the test fold, as PNGs a person brings → a labelled NIfTI volume in HU
    test_ct = index.loc[index["fold"] == params["folds"]["test"], "ct_id"].iloc[0]
    views = load_cases(tmp_path / "biplanar", test_ct)
    for name in ("ap", "lateral"):
        iio.imwrite(tmp_path / f"{name}.png", quantise(views[name][0], 16))
    out = tmp_path / "ct.nii.gz"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    done = subprocess.run([sys.executable, "-m", "radrotator.cli", "--params", str(params_path), "ct-from-xrays",
                           str(tmp_path / "ap.png"), str(tmp_path / "lateral.png"), "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "synthetic CT, research use only" in done.stdout and "radrotator-x2ct v" in done.stderr
    image = sitk.ReadImage(str(out))
    assert image.GetSize() == (16, 16, 16) and image.GetSpacing() == (20.0, 20.0, 20.0)
    assert sitk.GetArrayFromImage(image).dtype == np.int16 and sitk.GetArrayFromImage(image).min() >= -1000
    sidecar = json.loads((tmp_path / "ct.json").read_text())
    assert "research use only" in sidecar["notice"] and sidecar["seed"] == 0 and sidecar["ap"] == "ap.png"

    # The registered model as MLflow serves it: base64 images in, a base64 NIfTI out
    pyfunc = mlflow.pyfunc.load_model("models:/radrotator-x2ct@champion")
    encoded = {name: base64.b64encode((tmp_path / f"{name}.png").read_bytes()).decode() for name in ("ap", "lateral")}
    answer = pyfunc.predict(pd.DataFrame([encoded]), params={"seed": 0})
    (tmp_path / "served.nii.gz").write_bytes(base64.b64decode(answer["ct_nifti"][0]))
    served = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "served.nii.gz")))
    assert np.array_equal(served, sitk.GetArrayFromImage(image))  # the same seed, the same volume as the command
    assert "research use only" in answer["notice"][0]
