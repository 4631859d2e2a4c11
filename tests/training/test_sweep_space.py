"""The sweep's search space: what a trial's choices become in params.yaml `train`."""

import optuna
import pytest
import yaml

from components.training.sweep import apply, dvc_exp_run_command, expand, suggest
from tests.conftest import PROJECT_ROOT

TRAIN = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())["train"]
SPACE = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())["sweep"]["space"]


def test_width_scales_every_level_and_keeps_groupnorm_valid():
    assert expand({"unet.width": 16}, [32, 64, 64]) == {"unet.channels": [16, 32, 32], "unet.norm_num_groups": 16}
    assert expand({"unet.width": 64, "optim.lr": 1e-4}, [32, 64, 64]) == {
        "unet.channels": [64, 128, 128], "unet.norm_num_groups": 32, "optim.lr": 1e-4}


def test_every_suggestion_lands_on_an_existing_train_key():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        trial = study.ask()
        overrides = suggest(trial, SPACE, TRAIN["unet"]["channels"])
        cfg = apply(TRAIN, overrides)
        assert 1e-5 <= cfg["optim"]["lr"] <= 1e-3 and cfg["histogram_transform"] in ("match", "none")
        assert all(c % cfg["unet"]["norm_num_groups"] == 0 for c in cfg["unet"]["channels"])
        study.tell(trial, 0.0)
    assert TRAIN["optim"]["lr"] == 1e-4  # apply copies; params are not changed in place


def test_unknown_keys_and_bad_specs_are_errors():
    with pytest.raises(KeyError, match="optim.learning_rate"):
        apply(TRAIN, {"optim.learning_rate": 0.1})
    trial = optuna.create_study().ask()
    with pytest.raises(ValueError, match="sweep.space.optim.lr"):
        suggest(trial, {"optim.lr": 0.1}, [32])


def test_dvc_command_quotes_what_the_shell_would_split():
    command = dvc_exp_run_command({"unet.channels": [16, 32], "histogram_transform": "none", "optim.lr": 2e-4})
    assert command == ("dvc exp run -S 'train.unet.channels=[16, 32]' -S 'train.histogram_transform=\"none\"' "
                       "-S train.optim.lr=0.0002")
