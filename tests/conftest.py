"""Shared fixtures: a temporary Prefect home and server, and tiny CT series on disk."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

# Before anything imports Prefect: a throw-away home, so tests never touch ~/.prefect
# or the project's .prefect.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="radrotator-prefect-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
os.environ["GX_ANALYTICS_ENABLED"] = "false"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import SimpleITK as sitk  # noqa: E402

from components.ct.eligibility import Eligibility  # noqa: E402
from tests.params import CPU, eligibility, inference  # noqa: E402, F401 (fixtures and tests use them)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SALT = "test-salt-0123456789abcdef"
@pytest.fixture(scope="session")
def prefect_server():
    """One real Prefect server for the session; yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


def tiny_ct(shape_zyx=(130, 32, 32), spacing_xyz=(10.0, 10.0, 1.5), body_hu=40.0,
            bone_hu=700.0) -> np.ndarray:
    """A small axial 'CT': air, an elliptic body, a bone rod; HU as float32 (z, y, x)."""
    z, y, x = np.indices(shape_zyx, dtype=np.float32)
    ny, nx = shape_zyx[1:]
    r = ((x - nx / 2 + 0.5) / (0.42 * nx)) ** 2 + ((y - ny / 2 + 0.5) / (0.32 * ny)) ** 2
    hu = np.full(shape_zyx, -1000.0, np.float32)
    hu[r <= 1] = body_hu
    hu[((x - nx / 2) ** 2 + (y - ny / 2) ** 2) <= 4] = bone_hu
    return hu


def write_nifti(path: Path, array: np.ndarray, spacing=(10.0, 10.0, 1.5), origin=(0.0, 0.0, 0.0),
                direction=None, meta: dict | None = None, pixel=None) -> Path:
    """Write a NIfTI via SimpleITK plus a dcm2niix-style sidecar (unless meta is False)."""
    image = sitk.GetImageFromArray(array if pixel is None else array.astype(pixel))
    if array.ndim == 3:
        image.SetSpacing(spacing)
        image.SetOrigin(origin)
        if direction is not None:
            image.SetDirection(np.asarray(direction, float).ravel().tolist())
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), useCompression=path.name.endswith(".gz"))
    if meta is not False:
        fields = {"PatientID": "MRN-1", "AcquisitionDate": "2015-06-01", "InstitutionName": "Test Site",
                  **(meta or {})}
        stem = path.name[: -len(".nii.gz")] if path.name.endswith(".nii.gz") else path.stem
        path.with_name(stem + ".json").write_text(json.dumps(fields))
    return path


@pytest.fixture
def rules() -> Eligibility:
    return eligibility()


@pytest.fixture
def pool_params(tmp_path) -> Path:
    """A params.yaml for fast runs on tiny volumes (4 mm pool voxels)."""
    import yaml

    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    params["ct_pool"]["spacing_mm"] = 4.0
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.fixture
def tiny_pool(tmp_path):
    """A pool of 8 small CTs from 8 patients (4 mm voxels): pool/ct + manifest.csv."""
    return make_tiny_pool(tmp_path)


def make_tiny_pool(tmp_path: Path) -> Path:
    import pandas as pd

    from components.ct.ingest import MANIFEST_COLUMNS, ingest_series

    src, pool = tmp_path / "src", tmp_path / "pool"
    rows = []
    for k in range(8):
        hu = tiny_ct(body_hu=20.0 + 5 * k, bone_hu=600.0 + 60 * k)
        hu[60 + k * 4: 70 + k * 4, 10:14, 8 + k: 12 + k] = 1200.0  # something off-centre to rotate
        path = write_nifti(src / f"ct{k}.nii.gz", hu, meta={
            "PatientID": f"MRN{k}", "AcquisitionDate": f"{2001 + 2 * k}-03-01", "SliceThickness": 1.0 + 0.05 * k})
        result = ingest_series(path, src, pool / "ct", eligibility(), 4.0, SALT)
        assert result.accepted, result.reason
        rows.append(result.row)
    pd.DataFrame(rows, columns=MANIFEST_COLUMNS).to_csv(pool / "manifest.csv", index=False)
    return pool


def small_params(tmp_path, pool: Path, **drrs) -> Path:
    """params.yaml pointing at `pool`, with tiny DRRs (16 px, 5 per CT)."""
    import yaml

    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    params["ct_pool"]["out"] = str(pool)
    params["drrs"].update({"out": str(tmp_path / "drrs"), "drrs_per_ct": 5, "volume_spacing_mm": 4.0,
                           "contact_sheet": {"n_ct": 2, "poses": [[0, 0, 0], [15, 0, 0]]}})
    params["drrs"]["geometry"]["pixels"] = 16
    params["drrs"].update(drrs)
    params["folds"]["out"] = str(tmp_path / "folds")
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


TINY_UNET = {"image_size": 16, "channels": [8, 16], "attention_levels": [False, True], "num_res_blocks": 1,
             "num_head_channels": 8, "norm_num_groups": 8}


@pytest.fixture
def tiny_run(tmp_path, tiny_pool, monkeypatch):
    """(params path, params dict, MLflow URI): tiny DRRs, a tiny U-Net, every output under tmp_path."""
    return make_tiny_run(tmp_path, tiny_pool, monkeypatch)


def make_tiny_run(tmp_path: Path, tiny_pool: Path, monkeypatch) -> tuple[Path, dict, str]:
    import yaml

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    path = small_params(tmp_path, tiny_pool)
    params = yaml.safe_load(path.read_text())
    params["train"].update({"out": str(tmp_path / "models"), "max_steps": 4, "batch_size": 2, "val_every": 2,
                            "val_batches": 1, "grid_pairs": 2, "log_every": 1, "checkpoint_every": 2,
                            "inference": {"sampler": "dpmsolver++", "steps": 2, "guidance": 4.0},
                            "unet": {k: v for k, v in TINY_UNET.items() if k != "image_size"}})
    params["xray_domain"]["out"] = str(tmp_path / "xray")
    for section, folder in (("train_no_rhs", "no_rhs"), ("cyclegan", "cyclegan"), ("pose_regressor", "pose")):
        params[section]["out"] = str(tmp_path / "models" / folder)  # never the project's own models
    params["evaluate"].update({"out": str(tmp_path / "reports"), "pairs_per_bin": 1, "steps": 2})
    path.write_text(yaml.safe_dump(params))
    return path, params, uri


def export_tiny_model(folder: Path, seed: int = 0, image_size: int = 16, extra: dict | None = None) -> Path:
    """An (untrained) tiny U-Net exported as a model folder: weights, config, inference defaults."""
    import torch

    from components.models.unet import UNetConfig, build_unet
    from components.registry.export import export_model

    torch.manual_seed(seed)
    config = UNetConfig.from_params({**TINY_UNET, "image_size": image_size})
    return export_model(build_unet(config), config, folder, extra or {}, inference())


def export_tiny_x2ct(folder: Path, voxels: int = 16, pixels: int = 32) -> Path:
    """An (untrained) tiny CT-from-two-radiographs diffusion model folder: 16³ grid, two sampler steps."""
    from components.x2ct.model import NetConfig, build_net
    from components.x2ct.reconstruct import save_model
    from tests.params import geometry

    net = NetConfig("diffusion", (8, 16), (False, False), 1, 8, 8)
    config = {"net": net.to_dict(), "grid": {"voxels": voxels, "spacing_mm": 320 / voxels},
              "geometry": geometry(pixels=pixels).to_dict(), "timesteps": 1000,
              "inference": {"sampler": "dpmsolver++", "steps": 2}}
    save_model(folder, build_net(net), config)
    return folder


def export_tiny_generator(folder: Path, image_size: int = 16) -> Path:
    """An (untrained) tiny radiograph generator folder: two sampler steps."""
    from components.generation.generator import save_generator
    from components.generation.model import GeneratorConfig, build_generator

    net = {"image_size": image_size, "channels": [8, 16], "attention_levels": [False, False], "num_res_blocks": 1,
           "num_head_channels": 8, "norm_num_groups": 8}
    save_generator(folder, build_generator(GeneratorConfig.from_dict(net)),
                   {"net": net, "timesteps": 1000, "inference": {"sampler": "dpmsolver++", "steps": 2, "guidance": 2.0}})
    return folder


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path: two runs' outputs compared file for file."""
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def register_tiny_model(folder: Path, seed: int = 0, alias: str = "challenger", image_size: int = 16) -> tuple[str, str]:
    """Export an (untrained) tiny U-Net to `folder` and register it in the current MLflow
    store as a new version of `radrotator`; returns (version, run_id)."""
    import mlflow

    from components.registry import tracking
    from components.registry.export import model_sha256

    model_dir = export_tiny_model(folder, seed, image_size)
    tracking.configure(folder.parent, "radrotator")
    with mlflow.start_run() as run:
        _, version = tracking.log_and_register(model_dir, model_sha256(model_dir), alias=alias)
    return version, run.info.run_id


def sh(*cmd, cwd, env):
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def dvc_project(tmp_path: Path, api_url: str) -> tuple[Path, dict]:
    """A temporary git + DVC repository with the project's dvc.yaml, flows and components, 12
    small synthetic series committed as data (4 mm voxels, 16 px DRRs); returns (repo, env)."""
    import shutil
    import sys

    import yaml

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

    env = init_dvc_repo(repo, tmp_path / "site_cache", PREFECT_API_URL=api_url, PYTHONPATH=str(repo))
    sh(sys.executable, "-m", "radrotator.cli", "synth-ct", "data/ct", "--n", "12", "--seed", "3", cwd=repo, env=env)
    sh("dvc", "add", "data", "-q", cwd=repo, env=env)
    commit_all(repo, env, "data")
    return repo, env


def init_dvc_repo(repo: Path, site_cache: Path, **extra: str) -> dict:
    """`git init` + `dvc init` in `repo` (analytics off, site cache in `site_cache`); returns the env
    for commands there (this venv's `dvc` first on PATH, plus `extra`)."""
    from components.project import venv_env

    env = venv_env(DVC_SITE_CACHE_DIR=str(site_cache), DVC_NO_ANALYTICS="1", **extra)
    sh("git", "init", "-q", cwd=repo, env=env)
    sh("dvc", "init", "-q", cwd=repo, env=env)
    sh("dvc", "config", "core.analytics", "false", cwd=repo, env=env)
    return env


def commit_all(repo: Path, env: dict, message: str) -> None:
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message, cwd=repo, env=env)
