"""RadRotator as an MLflow pyfunc model: image + angles → rotated image.

Input: a DataFrame with `image` (base64 PNG/JPEG/TIFF or DICOM) and `angle_x`,
`angle_y`, `angle_z` (degrees); params `steps`, `guidance`, `seed`. Output: a
DataFrame with `image` (base64 PNG in the input's bit depth). Weights load from
safetensors, never by unpickling.

Serving is bounded: every value is checked before any work (a bad one is a 400
with one line), one request is denoised at a time with a fixed thread count
(concurrent requests on a few cores thrash), at most `RADROTATOR_MAX_QUEUE`
wait behind it, and one that cannot start within `RADROTATOR_DEADLINE_S` is
answered 503 "busy" instead of running into the server's 504 time-out.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import threading
import time

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, TEMPORARILY_UNAVAILABLE
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema


def signature(defaults) -> ModelSignature:
    """The serving contract, its parameter defaults the model folder's (MLflow fills in a default for every
    parameter a request leaves out). `domain_score` answers how far each input lies from the training
    radiographs (> 1: outside what the model was validated on; NaN: the model carries no guard)."""
    return ModelSignature(
        inputs=Schema([ColSpec("string", "image"), ColSpec("double", "angle_x"), ColSpec("double", "angle_y"),
                       ColSpec("double", "angle_z")]),
        outputs=Schema([ColSpec("string", "image"), ColSpec("double", "domain_score")]),
        params=ParamSchema([ParamSpec("sampler", "string", defaults.sampler),
                            ParamSpec("steps", "long", defaults.steps), ParamSpec("guidance", "double", defaults.guidance),
                            ParamSpec("seed", "long", 0)]))


MAX_ROWS = 8  # images per request: keeps one request well inside the server's time-out
MAX_REQUEST_STEPS = 200  # the report's DDIM-200; more is never needed and would hold the queue


class Refused(MlflowException):
    """A request answered with a status and one line, no stack trace.

    MLflow's scoring server prefixes an MlflowException's message with the whole
    request payload (a base64 image, megabytes); the first message set is kept.
    """

    def __init__(self, reason: str, error_code=INVALID_PARAMETER_VALUE):
        self._reason = reason
        super().__init__(reason, error_code=error_code)

    @property
    def message(self) -> str:
        return self._reason

    @message.setter
    def message(self, value: str) -> None:
        pass  # the reason given at construction is the answer


def encode_png(image01, bit_depth: int, provenance) -> str:
    """A PNG that carries what made it (components/sampling/labels.py), base64."""
    from components.sampling.labels import encode_labelled

    return base64.b64encode(encode_labelled(image01, bit_depth, ".png", provenance)).decode()


def decode_request_image(text, where: str):
    """A Radiograph from a base64 string: PNG/JPEG/TIFF or DICOM (MONOCHROME1 inverted), size-checked."""
    from components.sampling.radiograph_io import decode_radiograph
    from components.sampling.requests import BadRequest

    if not isinstance(text, str) or not text:
        raise BadRequest(f"{where}: `image` must be a base64 string")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{where}: `image` is not valid base64") from None
    return decode_radiograph(data, where)


class RadRotatorPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        import torch

        from components.sampling.rotate import Rotator

        torch.set_num_threads(int(os.environ.get("RADROTATOR_THREADS", min(4, os.cpu_count() or 1))))
        self.rotator = Rotator.from_folder(context.artifacts["model_dir"])
        self.deadline_s = float(os.environ.get("RADROTATOR_DEADLINE_S", 40))
        self.max_queue = int(os.environ.get("RADROTATOR_MAX_QUEUE", 8))
        self._busy = threading.Lock()
        self._waiting = 0
        self._count = threading.Lock()

    def validate(self, model_input: pd.DataFrame, params: dict | None) -> tuple[list, list, dict]:
        """(radiographs, angle triples, sampler settings), or BadRequest naming the row and value."""
        from components.sampling import requests
        from components.sampling.samplers import check_sampler

        params = dict(params or {})
        if not 1 <= len(model_input) <= MAX_ROWS:
            raise requests.BadRequest(f"a request holds 1 to {MAX_ROWS} images, got {len(model_input)}")
        sampler = check_sampler(str(params.get("sampler") or self.rotator.sampler))
        steps = requests.check_steps(params.get("steps"))
        if steps is not None and steps > MAX_REQUEST_STEPS:
            raise requests.BadRequest(f"steps = {steps} is out of range for serving: 1 to {MAX_REQUEST_STEPS}")
        guidance = requests.check_guidance(params.get("guidance"))
        seed = params.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
            raise requests.BadRequest(f"seed = {seed!r} is not a non-negative integer")
        images, triples = [], []
        for k, row in enumerate(model_input.itertuples(index=False)):
            where = f"row {k}"
            try:
                [triple] = requests.check_angles([[row.angle_x, row.angle_y, row.angle_z]])
            except requests.BadRequest as err:
                raise requests.BadRequest(f"{where}: {err}") from None
            triples.append(triple)
            images.append(decode_request_image(row.image, where))
        settings = {"sampler": sampler, "steps": steps, "guidance": guidance, "seed": seed}
        return images, triples, settings

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        from components.sampling.requests import BadRequest

        try:
            images, triples, settings = self.validate(model_input, params)
        except (BadRequest, AttributeError) as err:  # AttributeError: a column is missing
            raise Refused(str(err)) from None

        with self._admitted():
            out, scores = [], []
            for image, triple in zip(images, triples):
                view = self.rotator.rotate(image.pixels, [triple], **settings)[0]
                scores.append(self.rotator.domain_score(image.pixels))
                out.append(encode_png(view, image.bit_depth, self.rotator.provenance(
                    triple, "radrotator (MLflow pyfunc)", settings["seed"], domain_score=scores[-1],
                    sampler=settings["sampler"], steps=settings["steps"], guidance=settings["guidance"])))
        return pd.DataFrame({"image": out, "domain_score": scores})

    @contextlib.contextmanager
    def _admitted(self):
        """Run alone, or answer 503 when the queue is full or the deadline passes while waiting."""
        with self._count:
            if self._waiting >= self.max_queue:
                raise Refused(f"busy: {self._waiting} requests are queued; retry later", TEMPORARILY_UNAVAILABLE)
            self._waiting += 1
        start = time.monotonic()
        try:
            admitted = self._busy.acquire(timeout=self.deadline_s)
        finally:
            with self._count:
                self._waiting -= 1
        if not admitted:
            raise Refused(f"busy: waited {time.monotonic() - start:.0f} s for the model; retry later",
                          TEMPORARILY_UNAVAILABLE)
        try:
            yield
        finally:
            self._busy.release()
