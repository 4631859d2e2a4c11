"""Prefect flows, one module per pipeline stage.

Importing this package sets Prefect's defaults so that nothing is written outside
the project: a project-local PREFECT_HOME, no analytics, and a start-up timeout
that a fresh temporary server needs here (~30 s). Settings already in the
environment win, so tests and deployments can point elsewhere.
"""

import os

from components.project import PROJECT_ROOT, venv_env  # noqa: F401 (the stages' import)

for key, value in {
    "PREFECT_HOME": str(PROJECT_ROOT / ".prefect"),
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "GX_ANALYTICS_ENABLED": "false",
}.items():
    os.environ.setdefault(key, value)

