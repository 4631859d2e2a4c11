"""A grid of DRRs (rows: CTs, columns: poses) a person can look at."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def to_png_array(image01: np.ndarray) -> np.ndarray:
    return (np.clip(image01, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def contact_sheet(rows: list[list[np.ndarray]], row_labels: list[str], col_labels: list[str],
                  tile: int = 160, label_width: int = 110) -> Image.Image:
    label_w, label_h, pad = label_width, 18, 4
    sheet = Image.new("L", (label_w + len(col_labels) * (tile + pad), label_h + len(rows) * (tile + pad)), 0)
    draw = ImageDraw.Draw(sheet)
    for c, text in enumerate(col_labels):
        draw.text((label_w + c * (tile + pad) + 4, 3), text, fill=255)
    for r, (images, text) in enumerate(zip(rows, row_labels)):
        y = label_h + r * (tile + pad)
        draw.text((4, y + tile // 2 - 6), text, fill=255)
        for c, image in enumerate(images):
            picture = Image.fromarray(to_png_array(image)).resize((tile, tile), Image.Resampling.BILINEAR)
            sheet.paste(picture, (label_w + c * (tile + pad), y))
    return sheet
