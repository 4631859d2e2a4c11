"""DRR shards: one compressed .npz per CT, so DVC versions thousands of files, not millions.

A shard holds `images` (n, H, W) uint16 = round(65535 · DRR in [0, 1]), `poses`
(n, 3) float32 degrees, `roles` (n,) int8 (0 = DRR0, 1 = P1, 2 = P2), `raw_min`
and `raw_max` (n,) float32 — the −log(I/I0) window each image was mapped from —
and `meta`, a JSON string with the ct_id, geometry, physics, versions, the
`cache_key` that decides whether a shard on disk is still current, and a
`checksum` of the images and poses, verified whenever they are read.

Poses and metadata are read without decompressing the images.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from components.atomic_write import atomic_path
from components.pixels import quantise

SCALE = 65535.0
SHARD_SUFFIX = ".npz"
READ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)  # JSONDecodeError is a ValueError


class ShardCorrupt(ValueError):
    """A shard whose contents do not match its checksum, or cannot be read at all."""


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def array_checksum(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def write_shard(path: str | Path, images01: np.ndarray, poses: np.ndarray, roles: np.ndarray,
                raw_min: np.ndarray, raw_max: np.ndarray, meta: dict) -> Path:
    path = Path(path)
    images = quantise(images01, 16)
    poses = poses.astype(np.float32)
    meta = {**meta, "checksum": array_checksum(images, poses)}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:  # np.savez appends .npz to a bare name; a handle avoids that
            np.savez_compressed(fh, images=images, poses=poses, roles=roles.astype(np.int8),
                                raw_min=raw_min.astype(np.float32), raw_max=raw_max.astype(np.float32),
                                meta=np.array(json.dumps(meta, sort_keys=True)))
    return path


class Shard:
    """A shard on disk. Poses, roles and meta are read at once; the images on first use,
    checked against the checksum, and come back as float32 in [0, 1]."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            with np.load(self.path, allow_pickle=False) as data:
                self.poses = data["poses"]
                self.roles = data["roles"]
                self.raw_min, self.raw_max = data["raw_min"], data["raw_max"]
                self.meta = json.loads(str(data["meta"]))
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.path}: no such shard") from None
        except READ_ERRORS as err:
            raise ShardCorrupt(f"{self.path}: unreadable shard ({type(err).__name__}: {err})") from None
        self._pixels: np.ndarray | None = None

    @property
    def pixels(self) -> np.ndarray:
        """The stored uint16 images, verified."""
        if self._pixels is None:
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    pixels = data["images"]
            except READ_ERRORS as err:
                raise ShardCorrupt(f"{self.path}: unreadable images ({type(err).__name__}: {err})") from None
            expected = self.meta.get("checksum")
            if expected is not None and array_checksum(pixels, self.poses) != expected:
                raise ShardCorrupt(f"{self.path}: images or poses do not match their checksum (corrupt file)")
            self._pixels = pixels
        return self._pixels

    def __len__(self) -> int:
        return len(self.poses)

    def image(self, i: int) -> np.ndarray:
        return self.pixels[i].astype(np.float32) / SCALE

    @property
    def images(self) -> np.ndarray:
        return self.pixels.astype(np.float32) / SCALE


def shard_key(path: Path) -> str | None:
    """The cache key of a complete, intact shard at `path`; None when absent, unreadable or corrupt."""
    if not path.exists():
        return None
    try:
        shard = Shard(path)
        _ = shard.pixels  # a shard that fails its checksum is not current, whatever its key says
    except (ShardCorrupt, *READ_ERRORS):
        return None
    return shard.meta.get("cache_key")
