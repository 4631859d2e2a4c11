"""`dvc repro ct_pool` for real: a temporary git repo, the project's dvc.yaml and flows."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def sh(*cmd, cwd, env):
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_dvc_repro_through_folds_then_is_cached(tmp_path, prefect_server):
    repo = tmp_path / "project"
    repo.mkdir()
    for name in ("dvc.yaml", "params.yaml", ".dvcignore"):
        shutil.copy(PROJECT_ROOT / name, repo / name)
    for package in ("components", "flows"):
        shutil.copytree(PROJECT_ROOT / package, repo / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["synthetic"]["inplane_mm"] = [4.0, 4.0]  # small phantoms, same anatomy
    params["ct_pool"]["spacing_mm"] = 4.0
    params["drrs"].update({"drrs_per_ct": 5, "volume_spacing_mm": 4.0})
    params["drrs"]["geometry"]["pixels"] = 16
    (repo / "params.yaml").write_text(yaml.safe_dump(params))

    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"], "PREFECT_API_URL": prefect_server,
           "DVC_SITE_CACHE_DIR": str(tmp_path / "site_cache"), "DVC_NO_ANALYTICS": "1",
           "PYTHONPATH": str(repo)}
    sh("git", "init", "-q", cwd=repo, env=env)
    sh("dvc", "init", "-q", cwd=repo, env=env)
    sh("dvc", "config", "core.analytics", "false", cwd=repo, env=env)
    sh(sys.executable, "-m", "flows.cli", "synth-ct", "data/ct", "--n", "12", "--seed", "3", cwd=repo, env=env)
    sh("dvc", "add", "data", "-q", cwd=repo, env=env)
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "data", cwd=repo, env=env)

    sh("dvc", "repro", "folds", cwd=repo, env=env)
    manifest = pd.read_csv(repo / "pool" / "manifest.csv")
    rejected = pd.read_csv(repo / "pool" / "rejected.csv")
    assert len(manifest) + len(rejected) == 12 and len(rejected) == 3
    assert set(manifest["spacing_z_mm"]) == {4.0}
    index = pd.read_csv(repo / "drrs" / "index.csv")
    assert sorted(index["ct_id"]) == sorted(manifest["ct_id"]) and set(index["n_drrs"]) == {5}
    folds = pd.read_csv(repo / "folds" / "folds.csv")
    assert sorted(folds["ct_id"]) == sorted(manifest["ct_id"]) and set(folds["fold"]) == set(range(1, 8))
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert set(lock["stages"]) == {"ct_pool", "drrs", "folds"}
    again = sh("dvc", "repro", "folds", cwd=repo, env=env)
    assert all(f"Stage '{s}' didn't change, skipping" in again for s in ("ct_pool", "drrs", "folds"))
    assert "up to date" in sh("dvc", "status", "folds", cwd=repo, env=env)  # folds and its upstream
