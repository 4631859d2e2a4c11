"""What made an output, carried by the output: angles, model and version, sampler, steps, seed, the mark.

PNG files get text chunks, JPEG a comment, TIFF an ImageDescription, DICOM its own
tags (components/sampling/dicom_out.py). A caption can also be drawn on the
pixels (video frames, the side-by-side figure), always with the research-use mark.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from components.atomic_write import atomic_path
from components.pixels import quantise

MARK = "synthetic view — research use only, not for diagnosis"
SOFTWARE = "RadRotator 0.1.0"


@dataclass(frozen=True)
class Provenance:
    angles: tuple[float, float, float]  # degrees about x, y, z
    model: str  # what was loaded: models:/radrotator@champion (v3), or a folder
    model_sha256: str
    sampler: str
    steps: int
    guidance: float
    seed: int
    source: str = ""  # the input's file name (never its path or its tags)
    domain_score: float = float("nan")

    @property
    def angle_text(self) -> str:
        return "x={:+g}° y={:+g}° z={:+g}°".format(*self.angles)

    def caption(self) -> str:
        return f"{self.angle_text} · {MARK}"

    def description(self) -> str:
        return (f"RadRotator {MARK}. Rotated {self.angle_text} from {self.source or 'an input'} by {self.model} "
                f"(weights {self.model_sha256[:12]}), {self.sampler} {self.steps} steps, guidance {self.guidance:g}, "
                f"seed {self.seed}.")

    def text_chunks(self) -> dict[str, str]:
        fields = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}
        return {"Title": "RadRotator synthetic view", "Description": self.description(), "Software": SOFTWARE,
                "Disclaimer": MARK, "Comment": json.dumps(fields, ensure_ascii=False)}


def encode_labelled(image01: np.ndarray, bit_depth: int, suffix: str, provenance: Provenance) -> bytes:
    """PNG (8/16-bit, text chunks), TIFF (8/16-bit, ImageDescription) or JPEG (8-bit, a comment)."""
    suffix = suffix.lower()
    depth = 8 if suffix in (".jpg", ".jpeg") else bit_depth
    image = Image.fromarray(quantise(image01, 16 if depth == 16 else 8))
    buffer = io.BytesIO()
    if suffix == ".png":
        info = PngImagePlugin.PngInfo()
        for key, value in provenance.text_chunks().items():
            info.add_itxt(key, value)  # iTXt: UTF-8 (the mark has a dash and degree signs)
        image.save(buffer, format="PNG", pnginfo=info)
    elif suffix in (".tif", ".tiff"):
        ascii_only = provenance.description().replace("—", "-").replace("°", " deg")  # TIFF text is ASCII
        image.save(buffer, format="TIFF", tiffinfo={270: ascii_only, 305: SOFTWARE})
    elif suffix in (".jpg", ".jpeg"):
        image.save(buffer, format="JPEG", quality=95, comment=provenance.description().encode())
    else:
        raise ValueError(f"no labelled writer for {suffix}")
    return buffer.getvalue()


def write_labelled(path: str | Path, image01: np.ndarray, bit_depth: int, provenance: Provenance,
                   source_dicom=None, link_to_source: bool = False) -> Path:
    """Write one output through a temporary name: a raster with its labels, or a DICOM Secondary Capture."""
    path = Path(path)
    if path.suffix.lower() in (".dcm", ".dicom"):
        from components.sampling.dicom_out import secondary_capture

        data = secondary_capture(image01, bit_depth, provenance, source_dicom, link_to_source)
    else:
        data = encode_labelled(image01, bit_depth, path.suffix, provenance)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def read_labels(path: str | Path) -> dict[str, str]:
    """The text a labelled PNG/TIFF/JPEG carries (what `write_labelled` wrote)."""
    with Image.open(path) as image:
        found = {**image.info, **getattr(image, "text", {})}
        if hasattr(image, "tag_v2"):  # TIFF
            found.update({"Description": image.tag_v2.get(270, ""), "Software": image.tag_v2.get(305, "")})
    return {str(k): v.decode("utf-8", "replace") if isinstance(v, bytes) else v for k, v in found.items()
            if isinstance(v, (str, bytes))}


def _font(size: int):
    return ImageFont.load_default(size=max(10, size))


def _drawable(text: str) -> str:
    return text.replace("—", "-")  # Pillow's built-in font has no em dash


def with_caption(image01: np.ndarray, lines: list[str]) -> np.ndarray:
    """[0, 1] grey image → the same with a dark band at the bottom holding `lines` (burned in)."""
    h, w = image01.shape
    size = max(10, min(w // 40, 28))
    band = (size + 4) * len(lines) + 6
    canvas = Image.new("L", (w, h + band), 0)
    canvas.paste(Image.fromarray(quantise(image01)), (0, 0))
    draw = ImageDraw.Draw(canvas)
    for k, line in enumerate(lines):
        draw.text((6, h + 4 + k * (size + 4)), _drawable(line), fill=255, font=_font(size))
    return np.asarray(canvas, np.float64) / 255


def side_by_side(source01: np.ndarray, rotated01: np.ndarray, provenance: Provenance) -> np.ndarray:
    """input | rotated, column titles on top, the angles, model and mark below (8-bit [0, 1])."""
    h, w = source01.shape
    gap = max(4, w // 50)
    size = max(10, min(w // 25, 28))
    top = size + 10
    canvas = Image.new("L", (2 * w + gap, h + top), 0)
    for k, image in enumerate((source01, rotated01)):
        canvas.paste(Image.fromarray(quantise(image)), (k * (w + gap), top))
    draw = ImageDraw.Draw(canvas)
    draw.text((6, 4), "input", fill=255, font=_font(size))
    draw.text((w + gap + 6, 4), f"rotated {provenance.angle_text}", fill=255, font=_font(size))
    figure = np.asarray(canvas, np.float64) / 255
    return with_caption(figure, [f"{provenance.model} · {provenance.sampler} {provenance.steps} steps · seed "
                                 f"{provenance.seed}", MARK])
