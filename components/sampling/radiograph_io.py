"""Reading radiographs a person brings (PNG/JPEG 8- or 16-bit, RGB, DICOM) and writing results."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from components.atomic_write import atomic_path
from components.pixels import quantise
from components.sampling.requests import BadRequest, check_size, image_size_from_header


@dataclass
class Radiograph:
    pixels: np.ndarray  # (H, W) float64, display orientation: bright = dense
    bit_depth: int  # 8 or 16, for writing results in kind
    source: str
    dicom: object | None = None  # a DICOM input's header (no pixels): only to file a result with its study

    def pixels_01(self) -> np.ndarray:
        lo, hi = float(self.pixels.min()), float(self.pixels.max())
        return (self.pixels - lo) / (hi - lo)


def read_radiograph(path: str | Path) -> Radiograph:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise BadRequest(f"{path}: is a folder, not an image")
    return decode_radiograph(path.read_bytes(), str(path), dicom_hint=path.suffix.lower() in (".dcm", ".dicom"))


def decode_radiograph(data: bytes, where: str, dicom_hint: bool = False) -> Radiograph:
    """A radiograph from the bytes of a PNG/JPEG/TIFF or DICOM file; `where` names it in errors.
    The size is checked from the header before the pixels are decoded (no decompression bomb)."""
    if dicom_hint or data[128:132] == b"DICM":
        return _read_dicom(data, where)
    size = image_size_from_header(data, where)
    if size is not None:
        check_size(*size, where)
    try:
        array = iio.imread(data)
    except Exception as err:
        raise BadRequest(f"{where}: not a readable image ({type(err).__name__}: {err})") from None
    bit_depth = 16 if array.dtype in (np.uint16, np.int32, np.uint32) else 8
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        array = array[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    elif array.ndim == 3 and array.shape[-1] in (1, 2):
        array = array[..., 0]
    if array.ndim != 2:
        raise BadRequest(f"{where}: expected a 2D grey or RGB image, got shape {array.shape}")
    return _checked(array.astype(np.float64), bit_depth, where)


def _read_dicom(data: bytes, where: str) -> Radiograph:
    try:
        ds = pydicom.dcmread(io.BytesIO(data))
        check_size(int(ds.Columns), int(ds.Rows), where)
        array = ds.pixel_array
    except BadRequest:
        raise
    except Exception as err:
        raise BadRequest(f"{where}: not a readable DICOM image ({type(err).__name__}: {err})") from None
    if array.ndim != 2:
        raise BadRequest(f"{where}: expected one 2D frame, got shape {array.shape}")
    array = apply_voi_lut(apply_modality_lut(array, ds), ds).astype(np.float64)
    if getattr(ds, "PhotometricInterpretation", "MONOCHROME2") == "MONOCHROME1":
        array = array.max() + array.min() - array  # MONOCHROME1: low values are bright
    del ds.PixelData
    return _checked(array, 16 if int(getattr(ds, "BitsStored", 8)) > 8 else 8, where, ds)


def _checked(array: np.ndarray, bit_depth: int, where: str, dicom=None) -> Radiograph:
    check_size(array.shape[1], array.shape[0], where)
    if not np.isfinite(array).all():
        raise BadRequest(f"{where}: image holds NaN or infinite values")
    if array.max() <= array.min():
        raise BadRequest(f"{where}: image is one flat value ({array.min():g}); nothing to rotate")
    return Radiograph(array, bit_depth, where, dicom)


def encode_image(image01: np.ndarray, bit_depth: int = 8, extension: str = ".png") -> bytes:
    """[0, 1] → PNG/JPEG/TIFF bytes in the input's bit depth (16-bit where the format holds it)."""
    pixels = quantise(image01, 16 if bit_depth == 16 and extension.lower() in (".png", ".tif", ".tiff") else 8)
    return iio.imwrite("<bytes>", pixels, extension=extension.lower())


def write_image(path: str | Path, image01: np.ndarray, bit_depth: int = 8) -> Path:
    """Write through a temporary name, so a killed run leaves the old file or none, never half of one."""
    path = Path(path)
    data = encode_image(image01, bit_depth, path.suffix)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path
