"""MLflow conventions: where runs live, what a run records, how a model is registered.

Tracking store: `sqlite:///<project>/mlruns/mlflow.db` with artifacts in
`mlruns/artifacts` (MLflow 3's file store is in maintenance mode). One setting
points everything at a server instead: MLFLOW_TRACKING_URI.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import mlflow
import yaml
from mlflow import MlflowClient

MODEL_NAME = "radrotator"
COMPONENTS = Path(__file__).resolve().parents[1]
PIP_REQUIREMENTS = ["torch==2.13.0", "monai==1.6.1", "einops>=0.8,<0.9", "safetensors>=0.8,<0.9",
                    "scikit-image>=0.26,<0.27", "imageio>=2.38,<3", "pandas>=3.1,<3.2", "mlflow>=3.17,<3.18",
                    "diffusers==0.42.1", "pydicom>=3.0,<3.1", "pillow>=12,<13"]


def configure(project_root: str | Path, experiment: str = "radrotator") -> str:
    """Set the tracking URI (env wins) and the experiment; returns the URI."""
    root = Path(project_root).resolve()
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    (root / "mlruns").mkdir(exist_ok=True)
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        location = None if uri.startswith("http") else (root / "mlruns" / "artifacts").as_uri()
        mlflow.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment)
    return uri


def flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:500]
    return flat


def lineage(project_root: str | Path) -> dict[str, str]:
    """Git commit and the data hashes DVC recorded (dvc.lock), for the run's tags."""
    root = Path(project_root)
    tags = {}
    try:
        tags["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                            text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        tags["git_commit"] = "unknown"
    lock = root / "dvc.lock"
    if lock.exists():
        for stage, body in (yaml.safe_load(lock.read_text()) or {}).get("stages", {}).items():
            for out in body.get("outs", []):
                tags[f"dvc.{stage}.{out['path']}"] = out.get("md5", "")
    return tags


MODEL_TAG = "model_sha256"  # on a training run and its registered version: the weights it made


def run_for_model(sha256: str) -> str | None:
    """The latest run (any experiment) that trained the weights `sha256`; None when none did."""
    runs = mlflow.search_runs(search_all_experiments=True, filter_string=f"tags.{MODEL_TAG} = '{sha256}'",
                              order_by=["attributes.start_time DESC"], max_results=1, output_format="list")
    return runs[0].info.run_id if runs else None


def log_and_register(model_dir: str | Path, sha256: str, alias: str = "challenger") -> tuple[str, str]:
    """Log the exported model (weights hash `sha256`) as a pyfunc in the active run, register it, set `alias`."""
    from components.registry.export import inference_defaults, read_config
    from components.registry.pyfunc import signature

    # Models from code: the entry script is logged, not a pickled instance; the
    # `components` package travels with it, so `mlflow models serve` needs no checkout.
    entry = Path(__file__).with_name("pyfunc_entry.py")
    contract = signature(inference_defaults(read_config(model_dir)))  # its defaults: the model folder's
    info = mlflow.pyfunc.log_model(name="model", python_model=str(entry),
                                   artifacts={"model_dir": str(model_dir)}, signature=contract,
                                   code_paths=[str(COMPONENTS)], pip_requirements=PIP_REQUIREMENTS)
    mlflow.set_tag(MODEL_TAG, sha256)
    version = mlflow.register_model(info.model_uri, MODEL_NAME, tags={MODEL_TAG: sha256})
    MlflowClient().set_registered_model_alias(MODEL_NAME, alias, version.version)
    return info.model_uri, str(version.version)


def log_evaluation(project_root: Path, experiment: str, out: Path, metrics: dict, model_id: str) -> None:
    """An evaluation's metrics, and its reports under `evaluations/<test fingerprint>/`, logged to the run that
    trained the model (found by its weights' hash), else to a new run."""
    configure(project_root, experiment)
    run_id = run_for_model(model_id)
    values = {f"eval.{d}.{m}.{k}": value for d, ms in metrics["domains"].items() for m, bins in ms.items()
              for k, value in bins["all"].items() if isinstance(value, float) and value == value}
    record = json.loads((out / "evaluation_record.json").read_text())
    run = mlflow.start_run(run_id=run_id) if run_id else mlflow.start_run(run_name="evaluate")
    with run:
        mlflow.log_metrics(values)
        mlflow.log_artifacts(str(out), f"evaluations/{record['test_fingerprint']}")
