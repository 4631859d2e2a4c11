"""params.yaml, typed: every key validated where it enters, and profiles that compose and build."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from components.config import ConfigError, load_config, profile_overrides
from components.ct.eligibility import Eligibility
from components.drr.render import DRRConfig
from components.evaluation.protocol import Protocol
from components.models.unet import UNetConfig, build_unet, unet_params
from components.registry.promotion import Rule
from components.training.module import RadRotatorModule
from components.x2ct.model import NetConfig
from components.x2ct.model import build_net as build_x2ct_net
from tests.conftest import PROJECT_ROOT, commit_all, init_dvc_repo

PROFILES = [None, *sorted(p.stem for p in (PROJECT_ROOT / "profiles").glob("*.yaml"))]  # None: params.yaml


def edited(tmp_path: Path, edit) -> Path:
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    edit(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_the_project_parameters_validate():
    params = load_config(PROJECT_ROOT / "params.yaml")
    assert params.profile == "cpu" and params.drrs.geometry.pixels == 64
    assert params.train_section("train_no_rhs").histogram_transform == "none"


@pytest.mark.parametrize("edit, says", [
    (lambda p: p["train"]["optim"].update(lrr=1e-3), "params.yaml: train.optim.lrr: unknown key"),
    (lambda p: p["drrs"]["geometry"].pop("pixels"), "params.yaml: drrs.geometry.pixels: missing"),
    (lambda p: p["folds"].update(val="six"), "params.yaml: folds.val: Input should be a valid integer"),
    (lambda p: p["train"].update(histogram_transform="equalise"), "train.histogram_transform: Input should be"),
    (lambda p: p.update(train_no_rhs={"histogram": "none"}), "train_no_rhs: histogram: not a key of params.yaml"),
])
def test_a_bad_key_is_one_line_naming_file_and_key(tmp_path, edit, says):
    path = edited(tmp_path, edit)
    with pytest.raises(ConfigError) as err:
        load_config(path).train_section("train_no_rhs")
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_stage_says_a_bad_key_in_one_line_and_exits_1(tmp_path):
    path = edited(tmp_path, lambda p: p["folds"].update(n_fold=7))
    done = subprocess.run([sys.executable, "-m", "flows.folds", "--params", str(path)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"folds failed: {path}: folds.n_fold: unknown key"
    assert "Traceback" not in done.stderr


def test_a_profile_key_that_params_lacks_is_named(tmp_path):
    shutil.copy(PROJECT_ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "typo.yaml").write_text("train:\n  grid_steps: 200\n")
    with pytest.raises(ConfigError, match=r"profiles/typo.yaml: train.grid_steps: not a key of params.yaml"):
        load_config(tmp_path / "params.yaml", "typo")
    with pytest.raises(ConfigError, match="no such profile.*profiles: typo"):
        load_config(tmp_path / "params.yaml", "papr")


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_composes_and_builds_its_objects(profile):
    params = load_config(PROJECT_ROOT / "params.yaml", profile)
    assert params.profile == (profile or "cpu")
    drr = DRRConfig.from_params(params.drrs)
    Protocol.from_params(params.evaluate), Eligibility.from_params(params.ct_pool.eligibility)
    Rule.from_params(params.promote)
    unet = UNetConfig.from_params(unet_params(params, params.train))
    assert unet.image_size == drr.geometry.pixels
    assert all(c % unet.norm_num_groups == 0 for c in unet.channels)
    net = build_unet(unet)
    x2ct = build_x2ct_net(NetConfig.from_params("diffusion", params.x2ct))  # the 3D U-Net builds at every profile
    assert all(c % params.x2ct.unet.norm_num_groups == 0 for c in params.x2ct.unet.channels)
    assert params.biplanar.grid.voxels % 2 ** (len(params.x2ct.unet.channels) - 1) == 0  # the U-Net's levels fit
    assert sum(p.numel() for p in x2ct.parameters()) > 1e6
    if profile == "paper":  # Supplement 7.2: 128 × (1, 1, 2, 2, 4, 4), attention at the three coarsest levels
        assert unet.image_size == 256 and params.train.inference.sampler == "ddim"
        assert 100e6 < sum(p.numel() for p in net.parameters()) < 200e6


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_takes_a_training_step_at_batch_1_on_cpu(profile):
    params = load_config(PROJECT_ROOT / "params.yaml", profile)
    torch.manual_seed(0)
    module = RadRotatorModule(unet_params(params, params.train), params.train.optim.to_dict(), params.train.max_steps)
    size = params.drrs.geometry.pixels
    batch = {"target": torch.rand(1, 1, size, size) * 2 - 1, "source": torch.rand(1, 1, size, size) * 2 - 1,
             "angles": torch.tensor([[5.0, -3.0, 10.0]])}
    optimizer = module.configure_optimizers()
    before = [p.detach().clone() for p in module.model.parameters()]
    loss = module._step(batch, ema=False, generator=torch.Generator().manual_seed(0))["loss"]
    loss.backward()
    optimizer.step()
    # the output convolution starts at zero (MONAI), so the first step moves it, and only it, at least
    assert torch.isfinite(loss) and any(not torch.equal(a, b) for a, b in zip(before, module.model.parameters()))


def test_a_profile_runs_as_a_dvc_experiment_without_copying_params(tmp_path):
    """`radrotator profile NAME --run` (make repro PROFILE=NAME) in a DVC project whose one stage records
    the keys it was given: the profile's values reach the stage; the committed params.yaml is untouched in git."""
    project = tmp_path / "exp"
    (project / "profiles").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "params.yaml", project / "params.yaml")
    (project / "profiles" / "tiny.yaml").write_text("profile: tiny\ntrain:\n  max_steps: 7\n  unet:\n"
                                                    "    channels: [16, 32, 32]\ndrrs:\n  geometry:\n    pixels: 32\n")
    record = ("import json, yaml; p = yaml.safe_load(open('params.yaml')); json.dump([p['profile'], "
              "p['train']['max_steps'], p['train']['unet']['channels'], p['drrs']['geometry']['pixels']], "
              "open('applied.json', 'w'))")
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"record": {
        "cmd": f"{sys.executable} -c \"{record}\"", "outs": ["applied.json"],
        "params": ["profile", "train.max_steps", "train.unet.channels", "drrs.geometry.pixels"]}}}))
    env = init_dvc_repo(project, tmp_path / "site_cache")
    commit_all(project, env, "init")
    assert set(profile_overrides("tiny", project)) == {"profile", "train.max_steps", "train.unet.channels",
                                                       "drrs.geometry.pixels"}
    done = subprocess.run([sys.executable, "-m", "radrotator.cli", "profile", "tiny", "--run"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert json.loads((project / "applied.json").read_text()) == ["tiny", 7, [16, 32, 32], 32]
    committed = subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=project, capture_output=True, text=True)
    assert yaml.safe_load(committed.stdout)["train"]["max_steps"] == 3500
    shown = subprocess.run(["dvc", "exp", "show", "--json"], cwd=project, env=env, capture_output=True, text=True)
    assert "train.max_steps" in shown.stdout or '"max_steps": 7' in shown.stdout
