"""Reading radiographs a person brings (PNG/JPEG 8- or 16-bit, RGB, DICOM) and writing results."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from components.ct.dicom import is_dicom


@dataclass
class Radiograph:
    pixels: np.ndarray  # (H, W) float64, display orientation: bright = dense
    bit_depth: int  # 8 or 16, for writing results in kind
    source: str


def read_radiograph(path: str | Path) -> Radiograph:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() in (".dcm", ".dicom") or is_dicom(path):
        return _read_dicom(path)
    try:
        array = iio.imread(path)
    except Exception as err:
        raise ValueError(f"{path}: not a readable image ({err})") from None
    bit_depth = 16 if array.dtype in (np.uint16, np.int32, np.uint32) else 8
    if array.ndim == 3:
        channels = array[..., :3].astype(np.float64)
        array = channels @ np.array([0.299, 0.587, 0.114]) if channels.shape[-1] == 3 else channels[..., 0]
    if array.ndim != 2:
        raise ValueError(f"{path}: expected a 2D grey or RGB image, got shape {array.shape}")
    return Radiograph(array.astype(np.float64), bit_depth, str(path))


def _read_dicom(path: Path) -> Radiograph:
    try:
        ds = pydicom.dcmread(path)
        array = ds.pixel_array
    except Exception as err:
        raise ValueError(f"{path}: not a readable DICOM image ({err})") from None
    if array.ndim != 2:
        raise ValueError(f"{path}: expected one 2D frame, got shape {array.shape}")
    array = apply_voi_lut(apply_modality_lut(array, ds), ds).astype(np.float64)
    if getattr(ds, "PhotometricInterpretation", "MONOCHROME2") == "MONOCHROME1":
        array = array.max() + array.min() - array  # MONOCHROME1: low values are bright
    return Radiograph(array, 16 if int(getattr(ds, "BitsStored", 8)) > 8 else 8, str(path))


def write_image(path: str | Path, image01: np.ndarray, bit_depth: int = 8) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image01 = np.clip(image01, 0.0, 1.0)
    if bit_depth == 16 and path.suffix.lower() == ".png":
        iio.imwrite(path, np.rint(image01 * 65535).astype(np.uint16))
    else:
        iio.imwrite(path, np.rint(image01 * 255).astype(np.uint8))
    return path
