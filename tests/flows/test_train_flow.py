"""Train on tiny data for real: MLflow run, registered challenger that loads and rotates a PNG."""

import json
import os
import subprocess
import sys

import imageio.v3 as iio
import mlflow
import numpy as np
import pytest

from components.registry import tracking
from components.registry.export import model_sha256
from flows import drrs, folds, train

pytestmark = pytest.mark.slow


def test_train_registers_a_challenger_that_rotates(prefect_server, tmp_path, tiny_run):
    params_path, params, uri = tiny_run
    drrs.run(str(params_path))
    folds.run(str(params_path))
    summary = train.train(str(params_path))

    assert summary["steps"] == 4 and "run_id" not in summary  # a rerun reproduces the summary
    assert (tmp_path / "models" / "radrotator" / "ema.safetensors").exists()
    config = json.loads((tmp_path / "models" / "radrotator" / "config.json").read_text())
    assert config["unet"]["image_size"] == params["drrs"]["geometry"]["pixels"]  # one home: the DRRs' size
    assert config["inference"] == params["train"]["inference"] and "mlflow_run_id" not in config
    assert summary["model_sha256"] == model_sha256(tmp_path / "models" / "radrotator")
    assert (tmp_path / "models" / "checkpoints" / "last.ckpt").exists()
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    run_id = tracking.run_for_model(summary["model_sha256"])  # the run and version are found by the weights
    run = client.get_run(run_id)
    assert run.data.params["train.max_steps"] == "4" and "git_commit" in run.data.tags
    assert "train/loss" in run.data.metrics and "val/loss" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run_id, "validation")}
    assert "validation/source_target_generated.png" in artifacts
    version = client.get_model_version_by_alias("radrotator", "challenger")
    assert version.run_id == run_id and str(version.version) == "1"
    assert version.tags[tracking.MODEL_TAG] == summary["model_sha256"]

    # A radiograph the pipeline did not make: a 16-bit PNG of another size and aspect.
    image = (np.random.default_rng(0).gamma(2, 1, (40, 28)) * 9000).clip(0, 65535).astype(np.uint16)
    iio.imwrite(tmp_path / "xray.png", image)
    out = tmp_path / "rotated.png"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    done = subprocess.run([sys.executable, "-m", "radrotator.cli", "rotate", str(tmp_path / "xray.png"),
                           "--angles", "0", "0", "10", "--steps", "3", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "models:/radrotator@challenger" in done.stderr  # no champion yet: falls back, and says so
    rotated = iio.imread(out)
    assert rotated.shape == (40, 28) and rotated.dtype == np.uint16
