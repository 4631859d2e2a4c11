"""What a rotation request may ask for, checked before any model is loaded or pixel decoded.

The CLI, the MLflow pyfunc and the benchmarks share these checks, so a bad value
gets the same one-line reason everywhere: angles finite and within the trained
range, sampler steps and guidance in range, images no larger than a radiograph
can be, and outputs that never overwrite their input.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

from components.drr.pose_protocol import MAX_ANGLE

MAX_STEPS = 1000  # the training schedule's length: more steps than timesteps is meaningless
MAX_GUIDANCE = 20.0
MAX_SIDE = 8192  # the largest detectors are 43 cm at 0.05 mm ≈ 8600 px; nothing larger is a radiograph
MAX_PIXELS = 64 * 2**20  # 64 megapixels (a 10 000² image would need ~7 GB as float64)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm")
VIDEO_SUFFIXES = (".mp4", ".gif")


class BadRequest(ValueError):
    """A request that cannot be served as asked; the message is the one line a user sees."""


class AngleOutOfRange(BadRequest):
    """An angle beyond the ±15° the model was trained on."""


def check_angles(triples, allow_extrapolation: bool = False) -> list[list[float]]:
    """Angle triples in degrees as floats. NaN, ±inf and None are refused (a NaN angle would select
    the unconditional embedding: an unrotated image, silently), and so is anything beyond ±15°
    unless extrapolation is allowed (then ±90°)."""
    out = []
    for triple in triples:
        if len(triple) != 3:
            raise BadRequest(f"angles come in triples X Y Z, got {list(triple)}")
        values = []
        for axis, value in zip("xyz", triple):
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise BadRequest(f"angle {axis} = {value!r} is not a number") from None
            if not math.isfinite(value):
                raise BadRequest(f"angle {axis} = {value} is not a finite number of degrees")
            if allow_extrapolation and abs(value) > 90.0:
                raise AngleOutOfRange(f"angle {axis} = {value:g}° is beyond ±90°, even with extrapolation")
            if not allow_extrapolation and abs(value) > MAX_ANGLE:
                raise AngleOutOfRange(f"angle {axis} = {value:g}° is beyond the ±{MAX_ANGLE}° the model was "
                                      "trained on; pass --allow-extrapolation to try anyway")
            values.append(value)
        out.append(values)
    return out


def check_steps(steps) -> int | None:
    """None (the model's default) or an integer number of sampler steps in [1, MAX_STEPS]."""
    if steps is None:
        return None
    if isinstance(steps, float) and not steps.is_integer() or not _is_number(steps):
        raise BadRequest(f"steps = {steps!r} is not a whole number")
    if not 1 <= int(steps) <= MAX_STEPS:
        raise BadRequest(f"steps = {steps} is out of range: 1 to {MAX_STEPS}")
    return int(steps)


def check_guidance(guidance) -> float | None:
    """None (the model's default) or a classifier-free guidance scale in [0, MAX_GUIDANCE]."""
    if guidance is None:
        return None
    if not _is_number(guidance) or not math.isfinite(float(guidance)):
        raise BadRequest(f"guidance = {guidance!r} is not a finite number")
    if not 0.0 <= float(guidance) <= MAX_GUIDANCE:
        raise BadRequest(f"guidance = {guidance} is out of range: 0 to {MAX_GUIDANCE:g}")
    return float(guidance)


def check_size(width: int, height: int, where: str) -> None:
    """Refuse images too small to rotate or too large to be a radiograph, before decoding them."""
    if min(width, height) < 8:
        raise BadRequest(f"{where}: image is {width}×{height} pixels; at least 8×8 is needed")
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise BadRequest(f"{where}: image is {width}×{height} pixels; at most {MAX_SIDE} per side and "
                         f"{MAX_PIXELS // 2**20} megapixels")


def image_size_from_header(data: bytes | str | os.PathLike, where: str) -> tuple[int, int] | None:
    """(width, height) of a PNG/JPEG/TIFF from its header only (Pillow reads lazily), or None when
    Pillow cannot tell (DICOM and other formats are measured after decoding)."""
    from PIL import Image

    source = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        with Image.open(source) as image:
            return image.size
    except Exception:  # not an image Pillow knows: the full reader decides and names the reason
        return None


def check_output(out: str | os.PathLike, inputs: list[str | os.PathLike], suffixes: tuple[str, ...]) -> Path:
    """An output path with a supported suffix that is none of the inputs (never overwrite a source)."""
    out = Path(out)
    if out.suffix.lower() not in suffixes:
        raise BadRequest(f"{out}: the output needs one of the suffixes {', '.join(suffixes)}")
    for source in inputs:
        source = Path(source)
        if out.resolve() == source.resolve() or (out.exists() and source.exists() and out.samefile(source)):
            raise BadRequest(f"{out}: is the input itself; choose another output name")
    if out.exists() and out.is_dir():
        raise BadRequest(f"{out}: is a folder; give a file name")
    return out


def _is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
