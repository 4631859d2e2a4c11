"""`mlflow models serve -m models:/radrotator@champion` answers a REST request with a rotated image."""

import base64
import io
import json
import sys
import urllib.error
import urllib.request

import imageio.v3 as iio
import numpy as np
import pytest

from flows import venv_env
from tests.conftest import register_tiny_model
from tests.processes import free_port, served

pytestmark = pytest.mark.slow


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def test_champion_served_over_rest_rotates_an_image(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    register_tiny_model(tmp_path / "models" / "radrotator", alias="champion")
    port = free_port()
    # Started from an empty folder: the model and the code logged with it come from the registry.
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = venv_env(MLFLOW_TRACKING_URI=uri)  # the server execs `uvicorn` from PATH
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/radrotator@champion",
           "--env-manager", "local", "--workers", "1", "--host", "127.0.0.1", "--port", str(port)]
    with served(cmd, f"http://127.0.0.1:{port}/ping", env, workdir):
        image = (np.random.default_rng(0).random((24, 20)) * 255).astype(np.uint8)
        image[6:12, 4:9] = 255
        buffer = io.BytesIO()
        iio.imwrite(buffer, image, extension=".png")
        body = {"dataframe_split": {"columns": ["image", "angle_x", "angle_y", "angle_z"],
                                    "data": [[base64.b64encode(buffer.getvalue()).decode(), 0.0, 0.0, 10.0]]},
                "params": {"steps": 2, "seed": 3}}
        url = f"http://127.0.0.1:{port}/invocations"
        answer = post(url, body)
        [prediction] = answer["predictions"]
        rotated = iio.imread(base64.b64decode(prediction["image"]))
        assert rotated.shape == image.shape and rotated.dtype == np.uint8
        assert not np.array_equal(rotated, image)
        assert post(url, body) == answer  # a seed makes it repeatable

        bad = {"dataframe_split": {"columns": ["image", "angle_x", "angle_y", "angle_z"],
                                   "data": [["bm90IGFuIGltYWdl", 0.0, 0.0, 10.0]]}}
        with pytest.raises(urllib.error.HTTPError) as refused:
            post(url, bad)
        assert refused.value.code in (400, 500)
