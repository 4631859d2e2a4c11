"""Optuna sweep over training knobs: `radrotator sweep --trials N` (flows/sweep.py, a Prefect flow).

Each trial trains at the CPU profile for `sweep.max_steps` and is scored by its
validation loss (EMA weights, fixed noise) on `sweep.validate_on` pairs of the
validation fold: radiograph-style pairs by default, so that the objective sees
what RandHistogramShift is for (on DRR pairs, the ablation wins by blindness);
unpromising trials are pruned by
Optuna's MedianPruner through optuna-integration's Lightning callback. The study
lives in SQLite (`sweep.storage`), so `--trials N` means "until the study holds N
finished trials": an interrupted sweep resumes, and a finished one can be
extended. MLflow: one parent run per study, a child run per trial. Writes to
`sweep.out`: best_params.yaml (in params.yaml's shape), dvc_exp_run.sh (the same
as `dvc exp run -S ...`), trials.csv and history.png.
"""

from __future__ import annotations

import copy
import json
import shlex
import warnings
from pathlib import Path

import lightning as L
import mlflow
import optuna
import yaml
from lightning.pytorch.loggers import MLFlowLogger
from optuna.trial import TrialState
from optuna_integration import PyTorchLightningPruningCallback

from components.atomic_write import atomic_path, write_csv_atomic
from components.config import Params, Train, validated
from components.data.datamodule import pair_data
from components.models.unet import unet_params
from components.registry import tracking
from components.training.module import RadRotatorModule
from components.training.trainer import rotator_trainer

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def suggest(trial: optuna.Trial, space: dict, base_channels: list[int]) -> dict[str, object]:
    """{`train` key path: value} for one trial."""
    chosen = {}
    for key, spec in space.items():
        if isinstance(spec, dict):
            chosen[key] = trial.suggest_float(key, float(spec["low"]), float(spec["high"]),
                                              log=bool(spec.get("log", False)))
        elif isinstance(spec, list) and spec:
            chosen[key] = trial.suggest_categorical(key, spec)
        else:
            raise ValueError(f"sweep.space.{key}: expected {{low, high[, log]}} or a list of choices, got {spec!r}")
    return expand(chosen, base_channels)


def expand(chosen: dict[str, object], base_channels: list[int]) -> dict[str, object]:
    """`unet.width` w scales the U-Net's channels to start at w (same levels, same ratios),
    with min(w, 32) GroupNorm groups; every other key is a `train` key already."""
    out = {k: v for k, v in chosen.items() if k != "unet.width"}
    if "unet.width" in chosen:
        w = int(chosen["unet.width"])
        out.update({"unet.channels": [c * w // base_channels[0] for c in base_channels],
                    "unet.norm_num_groups": min(w, 32)})
    return out


def set_dotted(tree: dict, key: str, value, create: bool = False) -> None:
    """tree[a][b][c] = value for key "a.b.c"; a missing key is an error unless `create`."""
    *parents, leaf = key.split(".")
    for part in parents:
        tree = tree.setdefault(part, {}) if create else tree[part]
    if not create and leaf not in tree:
        raise KeyError(leaf)
    tree[leaf] = value


def apply(cfg: dict, overrides: dict[str, object]) -> dict:
    """A copy of `cfg` with dotted-key overrides; unknown keys are an error (a typo would be silent)."""
    cfg = copy.deepcopy(cfg)
    for key, value in overrides.items():
        try:
            set_dotted(cfg, key, value)
        except KeyError:
            raise KeyError(f"train.{key}: not a key of params.yaml `train`") from None
    return cfg


def open_study(cfg: dict) -> optuna.Study:
    storage_path = Path(cfg["storage"])
    storage_path.parent.mkdir(parents=True, exist_ok=True)
    # Heartbeats: a trial whose process died is failed and retried when the sweep resumes.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(
            f"sqlite:///{storage_path.resolve()}", heartbeat_interval=30,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))
    pruner = optuna.pruners.MedianPruner(n_startup_trials=int(cfg["pruner"]["n_startup_trials"]),
                                         n_warmup_steps=int(cfg["pruner"]["n_warmup_steps"]))
    study = optuna.create_study(study_name=cfg["study"], storage=storage, direction="minimize", load_if_exists=True,
                                pruner=pruner)
    # Seeded by the trials so far: a resumed sweep must not replay the first run's proposals.
    study.sampler = optuna.samplers.TPESampler(seed=int(cfg["seed"]) + len(study.trials))
    return study


def objective(params: Params, cfg: dict, uri: str):
    def run(trial: optuna.Trial) -> float:
        overrides = suggest(trial, cfg["space"], list(params.train.unet.channels))
        trial_cfg = apply(params.train.to_dict(), overrides)
        trial_cfg.update({"max_steps": cfg["max_steps"], "val_batches": cfg["val_batches"], "seed": cfg["seed"],
                          "progress_bar": False})
        train_cfg = validated(Train, trial_cfg, "sweep trial")
        L.seed_everything(cfg["seed"], workers=True)
        data = pair_data(params, train_cfg, validate_on=cfg["validate_on"])
        module = RadRotatorModule(unet_params(params, train_cfg), train_cfg.optim.to_dict(), train_cfg.max_steps)
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True) as child:
            mlflow.log_params({"trial": trial.number, **{k: str(v) for k, v in overrides.items()}})
            logger = MLFlowLogger(experiment_name=cfg["experiment"], tracking_uri=uri, run_id=child.info.run_id)
            # An "epoch" is val_every steps: the callback reports (and may prune) once per epoch.
            trainer = rotator_trainer(train_cfg, logger, [PyTorchLightningPruningCallback(trial, monitor="val/loss")],
                                      limit_train_batches=cfg["val_every"], check_val_every_n_epoch=1,
                                      enable_checkpointing=False)
            try:
                trainer.fit(module, datamodule=data)
            except optuna.TrialPruned:
                mlflow.set_tags({"optuna.state": "pruned", "optuna.pruned_at_step": trainer.global_step})
                raise
            value = float(trainer.callback_metrics["val/loss"])
            mlflow.log_metric("objective", value)
            mlflow.set_tag("optuna.state", "complete")
        return value

    return run


def dvc_exp_run_command(best: dict[str, object]) -> str:
    return "dvc exp run " + " ".join("-S " + shlex.quote(f"train.{k}={json.dumps(v)}") for k, v in best.items())


def write_outputs(study: optuna.Study, out: Path, base_channels: list[int]) -> dict:
    """best_params.yaml, dvc_exp_run.sh, trials.csv and history.png; returns the best overrides."""
    from optuna.visualization.matplotlib import plot_optimization_history

    trial = study.best_trial
    best = expand(trial.params, base_channels)
    nested: dict = {}
    for key, value in best.items():
        set_dotted(nested, f"train.{key}", value, create=True)
    header = (f"# Best of study {study.study_name!r}: trial {trial.number}, validation loss "
              f"{trial.value:.5f}.\n# Apply with: sh {out / 'dvc_exp_run.sh'}\n")
    with atomic_path(out / "best_params.yaml") as tmp:
        tmp.write_text(header + yaml.safe_dump(nested, sort_keys=True))
    with atomic_path(out / "dvc_exp_run.sh") as tmp:
        tmp.write_text("#!/bin/sh\n# The sweep's best training knobs as a DVC experiment.\n"
                       + dvc_exp_run_command(best) + ' "$@"\n')
    write_csv_atomic(study.trials_dataframe(), out / "trials.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        axes = plot_optimization_history(study)
    axes.set_ylabel("validation loss")
    with atomic_path(out / "history.png") as tmp:
        axes.figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return best


def run_sweep(params: Params, trials: int, project_root: Path) -> dict:
    """Run trials until the study holds `trials` finished ones; write the best to params `sweep.out`."""
    cfg = params.sweep.to_dict()
    study = open_study(cfg)
    done = sum(t.state in FINISHED for t in study.trials)
    todo = max(0, int(trials) - done)
    print(f"study {cfg['study']!r} in {cfg['storage']}: {done} trials finished, running {todo} more")
    uri = tracking.configure(project_root, cfg["experiment"])
    parent_id = study.user_attrs.get("mlflow_parent_run_id")
    with mlflow.start_run(run_id=parent_id, run_name=None if parent_id else f"sweep-{cfg['study']}") as parent:
        if not parent_id:
            study.set_user_attr("mlflow_parent_run_id", parent.info.run_id)
            mlflow.log_params({"study": cfg["study"], "storage": cfg["storage"], "max_steps": cfg["max_steps"],
                               "space": str(cfg["space"]), "validate_on": cfg["validate_on"]})
        mlflow.set_tags(tracking.lineage(project_root))
        # A trial that fails at run time (a diverging or out-of-memory combination) is recorded
        # and the sweep goes on; a configuration error stops it.
        study.optimize(objective(params, cfg, uri), n_trials=todo, catch=(RuntimeError,))
        states = [t.state for t in study.trials]  # one read of the storage
        counts = {state.name.lower(): states.count(state)
                  for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
        if not counts["complete"]:
            raise RuntimeError(f"study {cfg['study']!r} has no completed trial yet (all pruned or failed)")
        out = Path(cfg["out"])
        best = write_outputs(study, out, list(params.train.unet.channels))
        trial = study.best_trial
        mlflow.log_metrics({"best_val_loss": trial.value, **{f"trials_{k}": v for k, v in counts.items()}})
        mlflow.log_artifacts(str(out), "sweep")
    print(f"best: trial {trial.number}, validation loss {trial.value:.5f}: {best}")
    print(f"trials: {counts}; apply the best with `sh {out / 'dvc_exp_run.sh'}`")
    return {"best_value": trial.value, "best_trial": trial.number, "best": best, **counts,
            "parent_run_id": parent.info.run_id, "validate_on": cfg["validate_on"]}
