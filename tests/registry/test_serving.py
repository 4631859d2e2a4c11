"""`mlflow models serve -m models:/radrotator@champion` answers a REST request with a rotated image."""

import base64
import contextlib
import io
import json
import math
import sys

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from flows import venv_env
from tests.conftest import register_tiny_model
from tests.processes import free_port, load_test, post_status, rotation_request, served
from tests.sampling.test_radiograph_io import write_dicom

pytestmark = pytest.mark.slow


def post(url: str, body: dict) -> dict:
    code, text = post_status(url, body)
    assert code == 200, text
    return json.loads(text)


@contextlib.contextmanager
def champion_served(tmp_path, monkeypatch, **env):
    """A tiny untrained champion registered in a fresh store and served on loopback, started from
    an empty folder (the model and the code logged with it come from the registry); yields the
    /invocations URL."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    register_tiny_model(tmp_path / "models" / "radrotator", alias="champion")
    port = free_port()
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/radrotator@champion",
           "--env-manager", "local", "--workers", "1", "--host", "127.0.0.1", "--port", str(port)]
    # venv_env: the server execs `uvicorn` from PATH
    with served(cmd, f"http://127.0.0.1:{port}/ping", venv_env(MLFLOW_TRACKING_URI=uri, **env), workdir):
        yield f"http://127.0.0.1:{port}/invocations"


def test_champion_served_over_rest_rotates_an_image(tmp_path, monkeypatch):
    with champion_served(tmp_path, monkeypatch) as url:
        image = (np.random.default_rng(0).random((24, 20)) * 255).astype(np.uint8)
        image[6:12, 4:9] = 255
        body = rotation_request([[b64(png_bytes(image)), 0.0, 0.0, 10.0]], steps=2, seed=3)
        answer = post(url, body)
        [prediction] = answer["predictions"]
        rotated = iio.imread(base64.b64decode(prediction["image"]))
        assert rotated.shape == image.shape and rotated.dtype == np.uint8
        assert not np.array_equal(rotated, image)
        labels = Image.open(io.BytesIO(base64.b64decode(prediction["image"]))).text
        assert "research use only" in labels["Description"] and "z=+10°" in labels["Description"]
        assert math.isnan(prediction["domain_score"])  # the tiny model carries no input guard: NaN, not a guess
        assert post(url, body) == answer  # a seed makes it repeatable

        for refused_body, reason in bad_requests(body):
            code, text = post_status(url, refused_body)
            assert code == 400, (reason, code, text)
            answer_text = json.loads(text)["message"]
            assert reason in answer_text and "\n" not in answer_text and "Traceback" not in text
            assert len(text) < 1000  # the request (a base64 image) is not echoed back

        deep = (np.random.default_rng(1).random((20, 22)) * 4095).astype(np.uint16)  # 12 bits stored
        dicom = write_dicom(tmp_path / "m1.dcm", deep, "MONOCHROME1")
        for payload, dtype in ((png_bytes(deep), np.uint16), (dicom.read_bytes(), np.uint16)):
            [prediction] = post(url, rotation_request([[b64(payload), 0.0, 0.0, 0.0]], steps=2, seed=3))["predictions"]
            out = iio.imread(base64.b64decode(prediction["image"]))
            assert out.dtype == dtype and out.shape == deep.shape  # 16-bit in → 16-bit out; DICOM by the CLI's reader


def test_load_on_loopback_answers_every_request(tmp_path, monkeypatch):
    """20 requests, 4 at a time, against a queue of 2: each is answered, rotated (200) or told
    to retry (503, one line); none is lost or times out. Latency percentiles are printed."""
    with champion_served(tmp_path, monkeypatch, RADROTATOR_MAX_QUEUE="2", RADROTATOR_THREADS="1") as url:
        image = (np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8)
        body = rotation_request([[b64(png_bytes(image)), 0.0, 0.0, 10.0]], steps=20)
        results = load_test(url, body, requests=20, concurrency=4)
    codes = sorted(code for code, _, _ in results)
    latencies = np.array([seconds for _, _, seconds in results])
    print(f"load: {len(results)} answered, codes {dict(zip(*np.unique(codes, return_counts=True)))}, latency "
          f"p50 {np.percentile(latencies, 50):.2f} s p95 {np.percentile(latencies, 95):.2f} s")
    assert len(results) == 20 and set(codes) <= {200, 503} and 200 in codes
    for code, text, _ in results:
        if code == 503:
            assert json.loads(text)["message"].startswith("busy:")
        else:
            assert iio.imread(base64.b64decode(json.loads(text)["predictions"][0]["image"])).shape == image.shape


def bad_requests(good: dict) -> list[tuple[dict, str]]:
    """Requests the campaign sent, each with the words its one-line answer must hold."""
    def with_row(row, params=None):
        return rotation_request([row], **(params if params is not None else good["params"]))

    image = good["dataframe_split"]["data"][0][0]
    huge = np.zeros((10000, 10000), np.uint8)  # a few hundred kB as PNG, 800 MB decoded as float64
    return [
        (with_row(["bm90IGFuIGltYWdl", 0.0, 0.0, 10.0]), "not a readable image"),
        (with_row(["%%%", 0.0, 0.0, 10.0]), "not valid base64"),
        (with_row([image, float("nan"), 0.0, 0.0]), "not a finite number"),
        (with_row([image, None, 0.0, 0.0]), "angle x"),
        (with_row([image, 0.0, 40.0, 0.0]), "beyond the ±15°"),
        (with_row([image, 0.0, 0.0, 5.0], {"steps": 0}), "steps = 0"),
        (with_row([image, 0.0, 0.0, 5.0], {"steps": 5000}), "steps = 5000"),
        (with_row([image, 0.0, 0.0, 5.0], {"guidance": -1.0}), "guidance = -1.0"),
        (with_row([image, 0.0, 0.0, 5.0], {"sampler": "euler"}), "sampler 'euler' is not one of"),
        (with_row([b64(png_bytes(huge)), 0.0, 0.0, 5.0]), "10000×10000"),
    ]


def png_bytes(pixels: np.ndarray) -> bytes:
    return iio.imwrite("<bytes>", pixels, extension=".png")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
