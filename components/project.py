"""Where the project lives, for the tools and stages that find its registry and environment."""

import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def venv_env(**extra: str) -> dict[str, str]:
    """os.environ with this interpreter's bin folder first on PATH, plus `extra`: the `dvc`,
    `mlflow` and `uvicorn` that subprocesses start come from this environment."""
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    return {**os.environ, "PATH": path, **extra}
