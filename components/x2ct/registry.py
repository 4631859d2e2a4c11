"""`radrotator-x2ct` in the MLflow registry: log the evaluated model, register it, and gate the champion alias.

The run (experiment `x2ct.experiment`) holds the parameters, the
summary means, the report and the model as a pyfunc from code
(components/x2ct/pyfunc.py). The new version gets the alias `challenger`; it
becomes `champion` when there is none, or when the rotation model's rule
(components/registry/promotion.py) says so on the paired differences with the
champion rescored on the same cases.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient

from components.config import Params
from components.fingerprint import file_sha256
from components.registry import tracking
from components.registry.promotion import Decision, Rule, decide
from components.x2ct.metrics import LOWER_IS_BETTER, paired_differences
from components.x2ct.reconstruct import X2CTModel, load_model

MODEL_NAME = "radrotator-x2ct"
CHALLENGER, CHAMPION = "challenger", "champion"
ENTRY = Path(__file__).with_name("pyfunc_entry.py")
# the rotation model's, and what lifting the views (scipy) and writing NIfTI (SimpleITK) need
PIP_REQUIREMENTS = [*tracking.PIP_REQUIREMENTS, "scipy>=1.17,<1.18", "SimpleITK>=2.5,<2.6"]


def weights_sha256(folder: Path) -> str:
    return file_sha256(folder / "net.safetensors")


def alias_version(client: MlflowClient, alias: str):
    try:
        return client.get_model_version_by_alias(MODEL_NAME, alias)
    except mlflow.exceptions.MlflowException:
        return None


def registered_folder(uri: str) -> Path:
    """The model folder a registered version carries (logged under its own name in the pyfunc's artifacts)."""
    root = Path(mlflow.artifacts.download_artifacts(uri)) / "artifacts"
    folders = [p.parent for p in root.glob("*/config.json")]
    if len(folders) != 1:
        raise ValueError(f"{uri}: expected one model folder in its artifacts, found {len(folders)}")
    return folders[0]


def register_and_gate(params: Params, project_root: Path, model_dir: Path, model_rows: pd.DataFrame,
                      metrics: dict, seconds: dict[str, float], rescore: Callable[[X2CTModel], pd.DataFrame]) -> dict:
    """Log and register the model (with the sampling `seconds` per volume, which stay out of the reports: they
    would differ run to run); decide on the champion alias. Returns the decision record (no run ids or times)."""
    cfg = params.x2ct_evaluate
    rule = Rule(cfg.primary, tuple(cfg.guards), lower_is_better=LOWER_IS_BETTER)
    sha = weights_sha256(model_dir)
    tracking.configure(project_root, params.x2ct.experiment)
    client = MlflowClient()
    with mlflow.start_run(run_name="x2ct-evaluate"):
        mlflow.log_params(tracking.flatten({"biplanar": params.biplanar.to_dict(), "x2ct": params.x2ct.to_dict()}))
        mlflow.log_metrics({f"{method}.{m}": v for method, cells in metrics["summary"].items()
                            for m, v in cells.items() if v == v})
        mlflow.log_metrics({f"{method}.seconds_per_volume": s for method, s in seconds.items()})
        mlflow.set_tags({tracking.MODEL_TAG: sha, **tracking.lineage(project_root)})
        info = mlflow.pyfunc.log_model(name="model", python_model=str(ENTRY), artifacts={"model_dir": str(model_dir)},
                                       code_paths=[str(tracking.COMPONENTS)],
                                       pip_requirements=PIP_REQUIREMENTS)
        version = str(mlflow.register_model(info.model_uri, MODEL_NAME, tags={tracking.MODEL_TAG: sha}).version)
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version)

    champion = alias_version(client, CHAMPION)
    compared = None
    if champion is None:
        decision = decide(None, rule)
    elif champion.tags.get(tracking.MODEL_TAG) == sha:
        decision = Decision(False, f"v{champion.version} holds the same weights and stays champion", [])
    else:
        folder = registered_folder(f"models:/{MODEL_NAME}/{champion.version}")
        differences = paired_differences(model_rows, rescore(load_model(folder)), cfg.bootstrap,
                                         float(cfg.confidence), cfg.seed)
        decision = decide(differences, rule)
        compared = {"version": str(champion.version), "model_sha256": champion.tags.get(tracking.MODEL_TAG),
                    "paired_differences": differences}
    if decision.promote:
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    verdict = "promoted" if decision.promote else "kept champion"
    client.set_model_version_tag(MODEL_NAME, version, "promotion.decision", verdict)
    client.set_model_version_tag(MODEL_NAME, version, "promotion.reason", decision.reason[:5000])
    print(f"{MODEL_NAME} v{version}: {verdict} — {decision.reason}")
    return {"model": MODEL_NAME, "version": version, "model_sha256": sha,
            "decision": verdict, "reason": decision.reason, "rule": rule.to_dict(), "checks": decision.checks,
            "previous_champion": compared}


def load_x2ct(uri: str, project_root: Path) -> tuple[X2CTModel, str]:
    """A model folder, or a registry URI (`models:/radrotator-x2ct@champion`); returns it and what was loaded."""
    if not uri.startswith("models:/"):
        return load_model(uri), uri
    tracking.configure(project_root)
    try:
        folder = registered_folder(uri)
    except mlflow.exceptions.MlflowException as err:
        raise LookupError(f"{uri}: not in the registry ({str(err).splitlines()[0]}); run `make repro`, or give "
                          "a model folder such as models/x2ct/diffusion") from None
    model = load_model(folder)
    version = MlflowClient().get_model_version_by_alias(MODEL_NAME, uri.rpartition("@")[2]).version \
        if "@" in uri else uri.rpartition("/")[2]
    return model, f"{MODEL_NAME} v{version} (weights {weights_sha256(folder)[:8]})"
