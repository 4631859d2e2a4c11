"""A grid of DRRs (rows: CTs, columns: poses) a person can look at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from components.atomic_write import atomic_path
from components.drr.projector import TorchProjector
from components.drr.render import DRRConfig, load_volume, noise_generator, render_views
from components.pixels import quantise


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
            picture = Image.fromarray(quantise(image)).resize((tile, tile), Image.Resampling.BILINEAR)
            sheet.paste(picture, (label_w + c * (tile + pad), y))
    return sheet


def write_pool_sheet(pool_dir: Path, manifest: pd.DataFrame, path: Path, config: DRRConfig,
                     n_cts: int, poses: list[list[float]]) -> None:
    """DRRs of the first `n_cts` CTs at `poses`, noise seeded per CT as in their shards."""
    poses = np.asarray(poses, float)
    rows, labels = [], []
    for _, row in manifest.head(n_cts).iterrows():
        projector = TorchProjector(load_volume(pool_dir / row["path"], config), config.geometry, config.physics)
        images, _, _ = render_views(projector, poses, config, noise_generator(config.seed, row["ct_id"]))
        rows.append(list(images))
        labels.append(row["ct_id"] + (" (metal)" if row["has_metal"] else ""))
    sheet = contact_sheet(rows, labels, [f"x{p[0]:+.0f} y{p[1]:+.0f} z{p[2]:+.0f}" for p in poses])
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
