"""`radrotator-x2ct` as an MLflow pyfunc model: two radiographs → a CT volume.

Input: a DataFrame with `ap` and `lateral` (base64 PNG/JPEG/TIFF or DICOM); params
`seed` and `steps`. Output: a DataFrame with `ct_nifti` (base64 NIfTI, int16 HU,
the isocentre at the origin) and `notice`. Weights load from safetensors.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
import SimpleITK as sitk

from components.sampling.radiograph_io import decode_radiograph
from components.x2ct.reconstruct import load_model
from components.x2ct.request import NOTICE, ct_from_radiographs, ct_image


class X2CTPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.model = load_model(context.artifacts["model_dir"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        params = params or {}
        seed, steps = int(params.get("seed", 0)), params.get("steps")
        out = []
        for k, row in model_input.reset_index(drop=True).iterrows():
            views = [decode_radiograph(base64.b64decode(row[name]), f"row {k} {name}").pixels
                     for name in ("ap", "lateral")]
            hu = ct_from_radiographs(self.model, *views, seed=seed, steps=int(steps) if steps else None)
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "ct.nii.gz"
                sitk.WriteImage(ct_image(hu, self.model.grid.spacing_mm), str(path))
                out.append({"ct_nifti": base64.b64encode(path.read_bytes()).decode(), "notice": NOTICE})
        return pd.DataFrame(out)
