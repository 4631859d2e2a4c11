"""Resolve `--model`: a local export folder or a registry URI (models:/radrotator@champion)."""

from __future__ import annotations

from pathlib import Path

from components.registry import tracking
from components.sampling.rotate import Rotator


def load_rotator(spec: str, project_root: str | Path, device: str = "cpu") -> tuple[Rotator, str]:
    """(Rotator, what was loaded). A missing @champion falls back to @challenger, and says so."""
    if not spec.startswith("models:/"):
        return Rotator.from_folder(spec, device), spec
    import mlflow
    from mlflow.exceptions import MlflowException

    tracking.configure(project_root)
    tried = [spec]
    if spec.endswith("@champion"):
        tried.append(spec.replace("@champion", "@challenger"))
    for uri in tried:
        try:
            pyfunc = mlflow.pyfunc.load_model(uri)
        except MlflowException:
            continue
        rotator = pyfunc.unwrap_python_model().rotator
        rotator.model.to(device)
        rotator.device = device
        return rotator, f"{uri} (v{resolve_version(uri, project_root).version})"
    raise LookupError(f"no model at {' or '.join(tried)} in {mlflow.get_tracking_uri()}: run `dvc repro train` "
                      "or pass --model PATH (a folder with ema.safetensors and config.json)")


def model_card_text(spec: str, project_root: str | Path) -> str:
    """The model card of a registry version (its description), or a short one from a model folder's config."""
    if not spec.startswith("models:/"):
        from components.registry.export import inference_defaults, model_sha256, read_config

        config, defaults = read_config(spec), inference_defaults(read_config(spec))
        return (f"# {spec}: a model folder (not registered, no evaluation attached)\n\n"
                "**Synthetic views for research only: not for diagnosis.**\n\n"
                f"- weights sha256: `{model_sha256(spec)}`\n- {config['unet']['image_size']}² pixels; defaults: "
                f"{defaults.sampler}, {defaults.steps} steps, guidance {defaults.guidance:g}\n"
                f"- input guard: {'yes' if config.get('guard_sha256') else 'none'}\n")
    version = resolve_version(spec, project_root)
    return version.description or f"# {spec}: v{version.version} has no model card (run `dvc repro promote`)\n"


def resolve_version(spec: str, project_root: str | Path):
    """The registry version a models:/ URI names (models:/name@alias or models:/name/N)."""
    from mlflow import MlflowClient

    tracking.configure(project_root)
    name, _, rest = spec[len("models:/"):].partition("/")
    client = MlflowClient()
    if "@" in name:
        name, alias = name.split("@", 1)
        return client.get_model_version_by_alias(name, alias)
    return client.get_model_version(name, rest)
