"""`radrotator sweep`: a real Optuna study in SQLite, pruning through Lightning, MLflow child runs,
a resumed sweep, and best parameters that `dvc exp run` applies."""

import json
import shutil
import subprocess
import sys

import imageio.v3 as iio
import mlflow
import optuna
import pytest
import yaml

from flows import drrs, folds, sweep, xray_domain
from tests.conftest import PROJECT_ROOT, commit_all, init_dvc_repo

pytestmark = pytest.mark.slow


@pytest.fixture
def sweep_params(tiny_run, tmp_path):
    params_path, params, uri = tiny_run
    params["sweep"].update({"out": str(tmp_path / "sweep"), "storage": str(tmp_path / "optuna.db"),
                            "max_steps": 4, "val_every": 2, "val_batches": 1,
                            "pruner": {"n_startup_trials": 1, "n_warmup_steps": 0}})
    params["sweep"]["space"]["unet.width"] = [8, 16]  # the tiny U-Net: 8 · (1, 2)
    params_path.write_text(yaml.safe_dump(params))
    drrs.run(str(params_path))
    folds.run(str(params_path))
    xray_domain.run(str(params_path))  # the objective's radiograph-style validation pairs
    return params_path, params, uri


def test_sweep_runs_resumes_and_writes_what_dvc_applies(prefect_server, tmp_path, sweep_params):
    params_path, params, uri = sweep_params
    first = sweep.sweep(str(params_path), trials=2)
    assert first["complete"] + first["pruned"] == 2 and first["validate_on"] == "radiograph_style"
    resumed = sweep.sweep(str(params_path), trials=3)  # the same study, one more trial
    assert resumed["complete"] + resumed["pruned"] == 3 and resumed["parent_run_id"] == first["parent_run_id"]

    study = optuna.load_study(study_name=params["sweep"]["study"], storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    assert len(study.trials) == 3
    assert len({t.params["optim.lr"] for t in study.trials}) == 3  # the resumed sweep proposed something new
    # The pruning callback reported the validation loss once per val_every steps.
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete and all(sorted(t.intermediate_values) == [0, 1] for t in complete)
    assert set(study.best_trial.params) == set(params["sweep"]["space"])

    mlflow.set_tracking_uri(uri)
    children = mlflow.search_runs(experiment_names=[params["sweep"]["experiment"]],
                                  filter_string=f"tags.mlflow.parentRunId = '{first['parent_run_id']}'")
    assert sorted(children["params.trial"].astype(int)) == [0, 1, 2]
    assert set(children["tags.optuna.state"]) <= {"complete", "pruned"}
    assert children["metrics.val/loss"].notna().all()

    out = tmp_path / "sweep"
    best = yaml.safe_load((out / "best_params.yaml").read_text())["train"]
    assert best["optim"]["lr"] == pytest.approx(study.best_trial.params["optim.lr"])
    assert best["unet"]["channels"][0] == study.best_trial.params["unet.width"]
    assert iio.imread(out / "history.png").ndim == 3
    assert len((out / "trials.csv").read_text().splitlines()) == 4

    # dvc_exp_run.sh, run in a DVC project whose one stage records the `train` params it was given.
    project = tmp_path / "exp"
    project.mkdir()
    shutil.copy(PROJECT_ROOT / "params.yaml", project / "params.yaml")
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"record": {
        "cmd": f"{sys.executable} -c \"import json, yaml; json.dump(yaml.safe_load(open('params.yaml'))['train'], "
               "open('applied.json', 'w'))\"", "params": ["train"], "outs": ["applied.json"]}}}))
    env = init_dvc_repo(project, tmp_path / "site_cache")
    commit_all(project, env, "init")
    done = subprocess.run(["sh", str(out / "dvc_exp_run.sh")], cwd=project, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    applied = json.loads((project / "applied.json").read_text())
    assert applied["optim"]["lr"] == pytest.approx(best["optim"]["lr"])
    assert applied["unet"]["channels"] == best["unet"]["channels"]
    assert applied["histogram_transform"] == best["histogram_transform"]
