"""The drrs and folds flows on a real Prefect server; the drrs flow on a 2-worker Dask cluster."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from components.drr.shards import Shard
from flows import drrs, folds
from tests.conftest import small_params


def shards_of(folder):
    return {p.stem: Shard(p) for p in sorted(folder.glob("*.npz"))}


def test_drrs_flow_writes_validated_shards_then_resumes(prefect_server, tmp_path, tiny_pool):
    params = small_params(tmp_path, tiny_pool)
    summary = drrs.run(str(params))
    assert summary == {"cts": 8, "drrs": 40, "rendered": 8}
    index = pd.read_csv(tmp_path / "drrs" / "index.csv")
    assert list(index["n_drrs"].unique()) == [5] and index["ct_id"].is_unique
    sheet = Image.open(tmp_path / "drrs" / "contact_sheet.png")
    assert sheet.size[0] > 2 * 160 and sheet.size[1] > 2 * 160
    # A killed run's temporary is cleaned; current shards are kept.
    (tmp_path / "drrs" / ".tmp-77-CTdead.npz").write_bytes(b"half")
    assert drrs.run(str(params))["rendered"] == 0
    assert not list((tmp_path / "drrs").glob(".tmp-*"))


@pytest.mark.slow
def test_dask_cluster_gives_the_same_drrs_as_threads(prefect_server, tmp_path, tiny_pool, monkeypatch):
    # Worker processes inherit the environment: point them at the test server.
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    threads = small_params(tmp_path / "t", tiny_pool)
    dask = small_params(tmp_path / "d", tiny_pool, task_runner="dask", workers=2)
    drrs.run(str(threads))
    assert drrs.run(str(dask))["rendered"] == 8
    a, b = shards_of(tmp_path / "t" / "drrs"), shards_of(tmp_path / "d" / "drrs")
    assert a.keys() == b.keys()
    for ct_id in a:
        assert np.array_equal(a[ct_id].poses, b[ct_id].poses)
        assert np.abs(a[ct_id].images - b[ct_id].images).max() <= 2 / 65535


def test_folds_flow_records_split_sizes(prefect_server, tmp_path, tiny_pool):
    params = str(small_params(tmp_path, tiny_pool))
    drrs.run(params)
    summary = folds.run(params)
    assert sorted(summary["folds"]) == list(range(1, 8))
    assert sum(f["cts"] for f in summary["folds"].values()) == 8
    assert summary["train"]["drrs"] + summary["val"]["drrs"] + summary["test"]["drrs"] == 40
    assert summary["folds"][7]["role"] == "test" and summary["train"]["pairs"] > 0
    table = pd.read_csv(tmp_path / "folds" / "folds.csv")
    assert table.groupby("patient_id")["fold"].nunique().max() == 1


def test_radrotator_drr_renders_one_view(tmp_path, tiny_pool):
    ct = next((tiny_pool / "ct").glob("*.nii.gz"))
    out = tmp_path / "view.png"
    done = subprocess.run([sys.executable, "-m", "radrotator.cli", "drr", str(ct), "--angles", "0", "0", "15",
                           "--out", str(out), "--pixels", "32"], capture_output=True, text=True, timeout=300,
                          env={**os.environ})
    assert done.returncode == 0, done.stderr
    image = np.asarray(Image.open(out))
    assert image.shape == (32, 32) and image.max() == 255 and image.min() == 0
