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
        return rotator, uri
    raise LookupError(f"no model at {' or '.join(tried)} in {mlflow.get_tracking_uri()}: run `dvc repro train` "
                      "or pass --model PATH (a folder with ema.safetensors and config.json)")
