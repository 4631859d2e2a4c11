"""Lightning's DDP strategy for real: two CPU processes (gloo) train one model; rank 0 alone
tracks, exports and registers it."""

import json
import os
import subprocess
import sys

import mlflow
import pytest
import yaml

from flows import drrs, folds
from tests.conftest import PROJECT_ROOT


@pytest.mark.slow
def test_two_process_cpu_ddp_trains_one_model(prefect_server, tmp_path, tiny_run):
    params_path, params, uri = tiny_run
    drrs.run(str(params_path))
    folds.run(str(params_path))
    params["train"].update({"strategy": "ddp", "devices": 2, "accelerator": "cpu", "progress_bar": False})
    params_path.write_text(yaml.safe_dump(params))
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PREFECT_API_URL": prefect_server}
    done = subprocess.run([sys.executable, "-m", "flows.train", "--params", str(params_path)], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in log  # the second process joined

    summary = json.loads((tmp_path / "models" / "train_metrics.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == params["train"]["max_steps"]
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=[params["train"]["experiment"]])
    assert len(runs) == 1 and runs.iloc[0]["tags.model_sha256"] == summary["model_sha256"]  # none from rank 1
    versions = mlflow.MlflowClient().search_model_versions("name = 'radrotator'")
    assert [str(v.version) for v in versions] == ["1"]
    assert (tmp_path / "models" / "radrotator" / "ema.safetensors").exists()


@pytest.mark.parametrize("env, rank", [
    ({}, 0),
    ({"LOCAL_RANK": "1"}, 1),                       # Lightning's launcher, second process
    ({"NODE_RANK": "1"}, 1),                        # Lightning's launcher, main process of node 2
    ({"RANK": "0", "LOCAL_RANK": "0", "NODE_RANK": "0"}, 0),
    ({"RANK": "4", "LOCAL_RANK": "0"}, 4),          # torchrun: node 2's first process
    ({"SLURM_PROCID": "3", "LOCAL_RANK": "1"}, 3),
])
def test_only_global_rank_zero_tracks(monkeypatch, env, rank):
    from components.training.trainer import worker_rank

    for key in ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert worker_rank() == rank
