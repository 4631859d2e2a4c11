"""`dvc repro` for real: a temporary git repo, the project's dvc.yaml and flows; a DVC remote."""

import shutil

import pandas as pd
import pytest
import yaml

from tests.conftest import dvc_project, sh

pytestmark = pytest.mark.slow


def test_dvc_repro_through_folds_then_is_cached(tmp_path, prefect_server):
    repo, env = dvc_project(tmp_path, prefect_server)
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

    # A DVC remote (a folder here; S3, GCS, SSH or Azure the same way): push, lose everything, pull.
    sh("dvc", "remote", "add", "-d", "shared", str(tmp_path / "remote"), cwd=repo, env=env)
    sh("dvc", "push", "folds", "--with-deps", cwd=repo, env=env)
    (repo / "folds" / "folds.csv").unlink()  # folds/summary.json is not cached: git keeps it
    for lost in ("pool", "drrs", ".dvc/cache"):
        shutil.rmtree(repo / lost)
    sh("dvc", "pull", "folds", "--with-deps", cwd=repo, env=env)
    assert pd.read_csv(repo / "pool" / "manifest.csv").equals(manifest)
    assert "up to date" in sh("dvc", "status", "folds", cwd=repo, env=env)
