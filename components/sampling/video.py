"""Mode B output: frames streamed to MP4 (imageio-ffmpeg, H.264) or GIF (Pillow).

H.264 in yuv420p needs an even width and height: an odd-sized radiograph is padded
by one repeated row or column (never resized), so any image makes a video.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import imageio.v2 as imageio
import numpy as np

from components.atomic_write import atomic_path
from components.pixels import quantise


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: int = 30, on_frame=None) -> int:
    """Write [0, 1] grey frames; returns the frame count. Written to a temporary name, then renamed."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"{path}: video must be .mp4 or .gif")
    count = 0
    with atomic_path(path) as tmp:  # an encoder failure leaves the previous video, not a 0-byte file
        if suffix == ".mp4":
            writer = imageio.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264", quality=8,
                                        macro_block_size=1, ffmpeg_log_level="error")
        else:
            writer = imageio.get_writer(tmp, format="GIF", mode="I", duration=1000 / fps, loop=0)
        with writer:
            for frame in frames:
                pixels = quantise(frame)
                writer.append_data(even_sized(pixels) if suffix == ".mp4" else pixels)
                count += 1
                if on_frame:
                    on_frame()
        if count == 0:
            raise ValueError(f"{path}: no frames to write")
    return count


def even_sized(frame: np.ndarray) -> np.ndarray:
    """Pad an odd height or width by repeating the last row or column."""
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2)), mode="edge")
