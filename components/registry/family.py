"""A model family beside the rotation model in the MLflow registry: log, register, gate the champion alias.

The CT-from-two-radiographs model and the radiograph generator follow one
pattern: the evaluation's run (in the family's experiment) holds the parameters,
the summary means and the model as a pyfunc from code; the new version gets the
alias `challenger`; it becomes `champion` when there is none, or when the
rotation model's rule (components/registry/promotion.py) says so on the paired
differences with the champion rescored on the same inputs (the family's
`compare`). What a family differs in is its name, its pyfunc entry, what its
pyfunc needs installed, and its weights file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from components.fingerprint import file_sha256
from components.registry import tracking
from components.registry.promotion import Decision, Rule, decide

CHALLENGER, CHAMPION = "challenger", "champion"


@dataclass(frozen=True)
class Family:
    name: str  # the registered model's name
    entry: Path  # the pyfunc's models-from-code entry
    pip_requirements: tuple[str, ...]
    weights: str = "net.safetensors"  # in the model folder: what identifies a version's weights

    def weights_sha256(self, folder: str | Path) -> str:
        return file_sha256(Path(folder) / self.weights)


def alias_version(client: MlflowClient, name: str, alias: str):
    try:
        return client.get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException:
        return None


def registered_folder(uri: str) -> Path:
    """The model folder a registered version carries (logged under its own name in the pyfunc's artifacts)."""
    root = Path(mlflow.artifacts.download_artifacts(uri)) / "artifacts"
    folders = [p.parent for p in root.glob("*/config.json")]
    if len(folders) != 1:
        raise ValueError(f"{uri}: expected one model folder in its artifacts, found {len(folders)}")
    return folders[0]


def register_and_gate(family: Family, project_root: Path, experiment: str, run_name: str, model_dir: Path,
                      logged: dict, metrics: dict[str, float], rule: Rule,
                      compare: Callable[[Path], dict]) -> dict:
    """Log and register the model in `model_dir` (with `logged` parameters and `metrics`, which may hold times:
    they stay out of the returned record); decide on the champion alias, `compare(champion folder)` giving the
    paired differences challenger − champion. Returns the decision record (no run ids or times)."""
    sha = family.weights_sha256(model_dir)
    tracking.configure(project_root, experiment)
    client = MlflowClient()
    with mlflow.start_run(run_name=run_name):
        mlflow.log_params(tracking.flatten(logged))
        mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})
        mlflow.set_tags({tracking.MODEL_TAG: sha, **tracking.lineage(project_root)})
        info = mlflow.pyfunc.log_model(name="model", python_model=str(family.entry),
                                       artifacts={"model_dir": str(model_dir)},
                                       code_paths=[str(tracking.COMPONENTS)],
                                       pip_requirements=list(family.pip_requirements))
        version = str(mlflow.register_model(info.model_uri, family.name, tags={tracking.MODEL_TAG: sha}).version)
    client.set_registered_model_alias(family.name, CHALLENGER, version)

    champion = alias_version(client, family.name, CHAMPION)
    compared = None
    if champion is None:
        decision = decide(None, rule)
    elif champion.tags.get(tracking.MODEL_TAG) == sha:
        decision = Decision(False, f"v{champion.version} holds the same weights and stays champion", [])
    else:
        differences = compare(registered_folder(f"models:/{family.name}/{champion.version}"))
        decision = decide(differences, rule)
        compared = {"version": str(champion.version), "model_sha256": champion.tags.get(tracking.MODEL_TAG),
                    "paired_differences": differences}
    if decision.promote:
        client.set_registered_model_alias(family.name, CHAMPION, version)
    verdict = "promoted" if decision.promote else "kept champion"
    client.set_model_version_tag(family.name, version, "promotion.decision", verdict)
    client.set_model_version_tag(family.name, version, "promotion.reason", decision.reason[:5000])
    print(f"{family.name} v{version}: {verdict} — {decision.reason}")
    return {"model": family.name, "version": version, "model_sha256": sha,
            "decision": verdict, "reason": decision.reason, "rule": rule.to_dict(), "checks": decision.checks,
            "previous_champion": compared}


def load_registered(family: Family, uri: str, project_root: Path, load: Callable[[Path], object],
                    example_folder: str) -> tuple[object, str]:
    """A model folder, or a registry URI (`models:/<name>@champion`); returns the model and what was loaded."""
    if not uri.startswith("models:/"):
        return load(Path(uri)), uri
    tracking.configure(project_root)
    try:
        folder = registered_folder(uri)
    except mlflow.exceptions.MlflowException as err:
        raise LookupError(f"{uri}: not in the registry ({str(err).splitlines()[0]}); run `make repro`, or give "
                          f"a model folder such as {example_folder}") from None
    model = load(folder)
    version = MlflowClient().get_model_version_by_alias(family.name, uri.rpartition("@")[2]).version \
        if "@" in uri else uri.rpartition("/")[2]
    return model, f"{family.name} v{version} (weights {family.weights_sha256(folder)[:8]})"
