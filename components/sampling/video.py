"""Mode B output: frames streamed to MP4 (imageio-ffmpeg, H.264) or GIF (Pillow)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import imageio.v2 as imageio
import numpy as np

from components.atomic_write import atomic_path


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: int = 30, on_frame=None) -> int:
    """Write [0, 1] grey frames; returns the frame count. Written to a temporary name, then renamed."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"{path}: video must be .mp4 or .gif")
    count = 0
    with atomic_path(path) as tmp:
        if suffix == ".mp4":
            writer = imageio.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264", quality=8,
                                        macro_block_size=1, ffmpeg_log_level="error")
        else:
            writer = imageio.get_writer(tmp, format="GIF", mode="I", duration=1000 / fps, loop=0)
        with writer:
            for frame in frames:
                writer.append_data(np.rint(np.clip(frame, 0, 1) * 255).astype(np.uint8))
                count += 1
                if on_frame:
                    on_frame()
    return count
