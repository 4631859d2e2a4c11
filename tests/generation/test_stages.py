"""The three stages for real on a tiny pool: labelled images, a trained generator and reader, a report, a
registered and gated model, the command that generates on request, and the model as MLflow serves it."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from components.generation.data import load_images
from components.generation.labels import LABELS
from components.sampling.labels import read_labels
from flows import drrs, folds, generate_evaluate, generate_train, generation_data, xray_domain

pytestmark = pytest.mark.slow


def generation_params(tmp_path, params_path) -> dict:
    params = yaml.safe_load(params_path.read_text())
    params["generation_data"].update({"out": str(tmp_path / "generation"), "image_size": 16})
    params["generate_train"].update({
        "out": str(tmp_path / "models" / "generator"), "max_steps": 3, "batch_size": 4,
        "inference": {"sampler": "dpmsolver++", "steps": 2, "guidance": 2.0},
        "unet": {"channels": [8, 16], "attention_levels": [False, False], "num_res_blocks": 1,
                 "num_head_channels": 8, "norm_num_groups": 8},
        "reader": {"channels": [8, 16], "max_steps": 3, "batch_size": 4, "lr": 0.001}})
    params["generate_evaluate"].update({"out": str(tmp_path / "reports" / "generation"), "images_per_ct": 4,
                                        "report": str(tmp_path / "reports" / "generation.md"), "bootstrap": 100,
                                        "samples_per_label_set": 2})
    params_path.write_text(yaml.safe_dump(params))
    return params


def test_labelled_images_models_report_registry_and_the_command(prefect_server, tmp_path, tiny_run):
    params_path, _, uri = tiny_run
    params = generation_params(tmp_path, params_path)
    drrs.run(str(params_path))
    folds.run(str(params_path))
    xray_domain.run(str(params_path))
    assert generation_data.generation_data(str(params_path)) == 8 * 5  # every pose of every CT
    labels = pd.read_csv(tmp_path / "generation" / "labels.csv")
    assert set(labels["view"]) <= {"ap", "oblique"} and (labels["view"] == "oblique").any()
    assert ((labels["rz"].abs() > params["generation_data"]["oblique_deg"]) == (labels["view"] == "oblique")).all()
    images = load_images(tmp_path / "generation")
    assert images.images.shape == (40, 16, 16) and images.labels.shape == (40, len(LABELS))

    summary = generate_train.generate_train(str(params_path))
    assert summary["generator"]["steps"] == 3 and summary["reader"]["steps"] == 3
    config = json.loads((tmp_path / "models" / "generator" / "generator" / "config.json").read_text())
    assert config["kind"] == "radrotator-generator" and config["labels"] == list(LABELS)

    result = generate_evaluate.generate_evaluate(str(params_path))
    assert result["promotion"] == "promoted"  # the first model: no champion yet
    metrics = json.loads((tmp_path / "reports" / "generation" / "metrics.json").read_text())
    for source in ("real", "generated"):
        cells = metrics["summary"][source]
        assert cells["label_accuracy_lo"] <= cells["label_accuracy"] <= cells["label_accuracy_hi"]
    assert metrics["frechet"]["generated"]["lo"] <= metrics["frechet"]["generated"]["hi"]
    report = (tmp_path / "reports" / "generation.md").read_text()
    assert "not FID" in report and "generated − real" in report and "generation/samples.png" in report
    with Image.open(tmp_path / "reports" / "generation" / "samples.png") as grid:
        assert grid.width > 3 * 96 and grid.height > 8 * 96  # 8 label sets, a real column and two samples

    # Another training: the gate compares it with the champion on the same labels and seeds
    params["generate_train"]["seed"] = 1
    params_path.write_text(yaml.safe_dump(params))
    generate_train.generate_train(str(params_path))
    generate_evaluate.generate_evaluate(str(params_path))
    promotion = json.loads((tmp_path / "reports" / "generation" / "promotion.json").read_text())
    assert promotion["version"] == "2" and promotion["previous_champion"]["version"] == "1"
    assert {c["metric"] for c in promotion["checks"]} == {"label_accuracy", "diversity"}

    # Radiographs on request from the registry's champion
    out = tmp_path / "generated"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    done = subprocess.run([sys.executable, "-m", "radrotator.cli", "--params", str(params_path), "generate",
                           "--view", "ap", "--prosthesis", "left", "--sex", "f", "--n", "3", "--seed", "5",
                           "--out", str(out), "--threads", "1"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "research use only" in done.stdout and "radrotator-generator v" in done.stderr
    record = json.loads((out / "generated.json").read_text())
    assert [i["seed"] for i in record["images"]] == [5, 6, 7] and record["labels"]["view"] == "ap"
    assert json.loads(read_labels(out / record["images"][0]["file"])["Comment"])["labels"]["sex"] == "f"
    refused = subprocess.run([sys.executable, "-m", "radrotator.cli", "--params", str(params_path), "generate",
                              "--view", "lateral", "--out", str(tmp_path / "x")], env=env, capture_output=True,
                             text=True, timeout=600)
    assert refused.returncode == 2 and "invalid choice: 'lateral'" in refused.stderr

    # The registered model as MLflow serves it: label sets in, the same images as the command out
    mlflow.set_tracking_uri(uri)
    pyfunc = mlflow.pyfunc.load_model("models:/radrotator-generator@champion")
    answer = pyfunc.predict(pd.DataFrame([{"view": "ap", "prosthesis": "left", "sex": "f", "seed": 6}]))
    served = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["image_png"][0]))))
    assert np.array_equal(served, np.asarray(Image.open(out / record["images"][1]["file"])))
    assert "research use only" in answer["notice"][0] and json.loads(answer["labels"][0])["bmi"] == "unknown"
