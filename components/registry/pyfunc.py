"""RadRotator as an MLflow pyfunc model: image + angles → rotated image.

Input: a DataFrame with `image` (base64 PNG/JPEG) and `angle_x`, `angle_y`,
`angle_z` (degrees); params `steps`, `guidance`, `seed`. Output: a DataFrame with
`image` (base64 PNG). Weights load from safetensors, never by unpickling.
"""

from __future__ import annotations

import base64
import io

import imageio.v3 as iio
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("string", "image"), ColSpec("double", "angle_x"), ColSpec("double", "angle_y"),
                   ColSpec("double", "angle_z")]),
    outputs=Schema([ColSpec("string", "image")]),
    params=ParamSchema([ParamSpec("steps", "long", 25), ParamSpec("guidance", "double", 4.0),
                        ParamSpec("seed", "long", 0)]))


def encode_png(image01: np.ndarray) -> str:
    buffer = io.BytesIO()
    iio.imwrite(buffer, np.rint(np.clip(image01, 0, 1) * 255).astype(np.uint8), extension=".png")
    return base64.b64encode(buffer.getvalue()).decode()


def decode_image(text: str) -> np.ndarray:
    array = iio.imread(base64.b64decode(text))
    if array.ndim == 3:
        array = array[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return array.astype(np.float64)


class RadRotatorPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from components.sampling.rotate import Rotator

        self.rotator = Rotator.from_folder(context.artifacts["model_dir"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        params = {"steps": self.rotator.steps, "guidance": self.rotator.guidance, "seed": 0, **(params or {})}
        out = []
        for _, row in model_input.iterrows():
            [rotated] = self.rotator.rotate(decode_image(row["image"]),
                                            [[row["angle_x"], row["angle_y"], row["angle_z"]]],
                                            steps=int(params["steps"]), guidance=float(params["guidance"]),
                                            seed=int(params["seed"]))
            out.append(encode_png(rotated))
        return pd.DataFrame({"image": out})
