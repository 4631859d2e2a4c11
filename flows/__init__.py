"""Prefect flows, one module per pipeline stage.

Importing this package sets Prefect's defaults so that nothing is written outside
the project: a project-local PREFECT_HOME, no analytics, and a start-up timeout
that a fresh temporary server needs here (~30 s). Settings already in the
environment win, so tests and deployments can point elsewhere.
"""

import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

for key, value in {
    "PREFECT_HOME": str(PROJECT_ROOT / ".prefect"),
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "GX_ANALYTICS_ENABLED": "false",
}.items():
    os.environ.setdefault(key, value)


def venv_env(**extra: str) -> dict[str, str]:
    """os.environ with this interpreter's bin folder first on PATH, plus `extra`: the `dvc`,
    `mlflow` and `uvicorn` that subprocesses start come from this environment."""
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    return {**os.environ, "PATH": path, **extra}
