"""`radrotator-generator` as an MLflow pyfunc model: label sets → labelled synthetic radiographs.

Input: a DataFrame, one row per image, with any of `view` (ap | oblique),
`prosthesis` (none | right | left | both), `sex` (f | m), `age`, `bmi` (missing
or null: unknown) and `seed`; params `steps`, `guidance`. Output: `image_png`
(base64 16-bit PNG carrying its labels and the research-use mark), `seed`,
`labels` (JSON) and `notice`. Weights load from safetensors.
"""

from __future__ import annotations

import base64
import json

import mlflow
import numpy as np
import pandas as pd

from components.generation.generator import generate, load_generator
from components.generation.labels import Labels
from components.generation.request import NOTICE, Generated
from components.sampling.labels import encode_labelled

FIELDS = ("view", "prosthesis", "sex", "age", "bmi")


def row_labels(row: pd.Series) -> Labels:
    values = {k: row[k] for k in FIELDS if k in row and not pd.isna(row[k])}
    return Labels(**{k: float(v) if k in ("age", "bmi") else str(v) for k, v in values.items()})


class GeneratorPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.generator = load_generator(context.artifacts["model_dir"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        params, inference = params or {}, self.generator.inference
        steps = int(params.get("steps") or inference["steps"])
        guidance = float(params.get("guidance") or inference["guidance"])
        rows = model_input.reset_index(drop=True)
        labels = [row_labels(row) for _, row in rows.iterrows()]
        seeds = [int(row["seed"]) if "seed" in row and not pd.isna(row["seed"]) else k for k, row in rows.iterrows()]
        images = generate(self.generator, np.stack([lab.vector() for lab in labels]), seeds, steps, guidance)
        out = []
        for image, lab, seed in zip(images, labels, seeds, strict=True):
            provenance = Generated(lab, "radrotator-generator (pyfunc)", self.generator.sha256, inference["sampler"], steps,
                                   guidance, seed)
            out.append({"image_png": base64.b64encode(encode_labelled(image, 16, ".png", provenance)).decode(),
                        "seed": seed, "labels": json.dumps(lab.to_dict()), "notice": NOTICE})
        return pd.DataFrame(out)
