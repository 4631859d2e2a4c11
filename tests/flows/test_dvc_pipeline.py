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


def test_dvc_repro_builds_the_pool_then_is_cached(tmp_path, prefect_server):
    repo = tmp_path / "project"
    repo.mkdir()
    for name in ("dvc.yaml", "params.yaml", ".dvcignore"):
        shutil.copy(PROJECT_ROOT / name, repo / name)
    for package in ("components", "flows"):
        shutil.copytree(PROJECT_ROOT / package, repo / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["ct_pool"]["spacing_mm"] = 4.0
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    dvc_yaml = yaml.safe_load((repo / "dvc.yaml").read_text())
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"ct_pool": dvc_yaml["stages"]["ct_pool"]}}))

    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"], "PREFECT_API_URL": prefect_server,
           "DVC_SITE_CACHE_DIR": str(tmp_path / "site_cache"), "DVC_NO_ANALYTICS": "1",
           "PYTHONPATH": str(repo)}
    sh("git", "init", "-q", cwd=repo, env=env)
    sh("dvc", "init", "-q", cwd=repo, env=env)
    sh("dvc", "config", "core.analytics", "false", cwd=repo, env=env)
    sh(sys.executable, "-m", "flows.cli", "synth-ct", "data/ct", "--n", "5", "--seed", "7", cwd=repo, env=env)
    sh("dvc", "add", "data", "-q", cwd=repo, env=env)
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "data", cwd=repo, env=env)

    sh("dvc", "repro", "ct_pool", cwd=repo, env=env)
    manifest = pd.read_csv(repo / "pool" / "manifest.csv")
    rejected = pd.read_csv(repo / "pool" / "rejected.csv")
    assert len(manifest) + len(rejected) == 5 and len(rejected) == 2
    assert set(manifest["spacing_z_mm"]) == {4.0}
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert {o["path"] for o in lock["stages"]["ct_pool"]["outs"]} == {"pool/ct", "pool/manifest.csv",
                                                                      "pool/rejected.csv"}
    again = sh("dvc", "repro", "ct_pool", cwd=repo, env=env)
    assert "didn't change, skipping" in again
    assert "up to date" in sh("dvc", "status", cwd=repo, env=env)
