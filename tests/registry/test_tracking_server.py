"""MLflow as a server (a database for runs and the registry, an artifact store it proxies):
the pipeline's tracking code works against it unchanged, by MLFLOW_TRACKING_URI alone."""

import sys

import pytest

from components.registry.loading import load_rotator
from flows import venv_env
from tests.conftest import register_tiny_model
from tests.processes import free_port, served

pytestmark = pytest.mark.slow


def test_models_register_and_load_through_a_tracking_server(tmp_path, monkeypatch):
    port = free_port()
    artifacts = tmp_path / "artifact-store"  # s3://bucket/path the same way, on a real deployment
    env = venv_env()
    env.pop("MLFLOW_TRACKING_URI", None)
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
           "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination", str(artifacts)]
    with served(cmd, f"{url}/health", env, tmp_path):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        version, run_id = register_tiny_model(tmp_path / "client" / "radrotator")
        assert version == "1"
        stored = [p for p in artifacts.rglob("*.safetensors")]
        assert stored, "the model's weights did not reach the artifact store"
        assert not (tmp_path / "client" / "mlruns" / "artifacts").exists()  # nothing written client-side

        rotator, loaded = load_rotator("models:/radrotator@champion", tmp_path / "client")
        assert loaded == "models:/radrotator@challenger (v1)"  # no champion yet: the fallback, through the server
        assert rotator.size == 16
