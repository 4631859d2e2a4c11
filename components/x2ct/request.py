"""A CT from two radiographs a person brings: the views in, a labelled NIfTI volume in HU out.

The views are taken as the pipeline renders them: an AP and a left lateral in
the DRR geometry the model was trained with (params `drrs.geometry`), each
scaled to [0, 1] and resized (padded to square) to its detector. The volume is
written in HU on the model's grid, the isocentre at the origin (LPS), with a
JSON sidecar that says what it is: a synthetic volume for research use.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from components.atomic_write import atomic_path
from components.sampling.rotate import prepare
from components.x2ct.grid import condition, to_hu
from components.x2ct.reconstruct import X2CTModel, reconstruct

NOTICE = "synthetic CT from two radiographs - research use only"


def views_tensor(image: np.ndarray, pixels: int) -> torch.Tensor:
    """A radiograph (H, W), any range → (1, pixels, pixels) in [0, 1], padded to square."""
    return (prepare(np.asarray(image, np.float64), pixels).tensor[0] + 1) / 2


def ct_from_radiographs(model: X2CTModel, ap: np.ndarray, lateral: np.ndarray, seed: int,
                        steps: int | None = None, on_step=None) -> np.ndarray:
    """(n, n, n) HU on the model's grid, from an AP and a lateral radiograph."""
    pixels = model.geometry.pixels
    cond = condition(views_tensor(ap, pixels), views_tensor(lateral, pixels), model.grid, model.geometry)
    return to_hu(reconstruct(model, cond, [seed], steps, on_step)[0, 0]).numpy()


def ct_image(hu: np.ndarray, spacing_mm: float) -> sitk.Image:
    image = sitk.GetImageFromArray(np.round(hu).astype(np.int16))
    image.SetSpacing([float(spacing_mm)] * 3)
    image.SetOrigin([-(s - 1) / 2 * float(spacing_mm) for s in hu.shape[::-1]])  # the isocentre at 0
    return image


def sidecar_path(path: str | Path) -> Path:
    """`ct.nii.gz` → `ct.json`: where a volume's labels are written."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".gz").removesuffix(".nii") + ".json")


def write_ct(path: str | Path, hu: np.ndarray, spacing_mm: float, labels: dict) -> tuple[Path, Path]:
    """The volume as NIfTI (int16 HU) and its labels beside it (`sidecar_path`), both written whole or not at all;
    returns both paths."""
    path = Path(path)
    if not path.name.endswith((".nii", ".nii.gz")):
        raise ValueError(f"{path}: the output must be a NIfTI file (.nii or .nii.gz)")
    sidecar = sidecar_path(path)
    with atomic_path(path) as tmp:
        sitk.WriteImage(ct_image(hu, spacing_mm), str(tmp))
        with atomic_path(sidecar) as tmp_json:
            tmp_json.write_text(json.dumps({"notice": NOTICE, **labels}, indent=2) + "\n")
    return path, sidecar
