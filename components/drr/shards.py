"""DRR shards: one compressed .npz per CT, so DVC versions thousands of files, not millions.

A shard holds `images` (n, H, W) uint16 = round(65535 · DRR in [0, 1]), `poses`
(n, 3) float32 degrees, `roles` (n,) int8 (0 = DRR0, 1 = P1, 2 = P2), `raw_min`
and `raw_max` (n,) float32 — the −log(I/I0) range each image was rescaled from,
so the scaling is recorded and reversible — and `meta`, a JSON string with the
ct_id, geometry, physics, backend, versions and the config hash that decides
whether a shard on disk is still current.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from components.atomic_write import atomic_path

SCALE = 65535.0
SHARD_SUFFIX = ".npz"


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def write_shard(path: str | Path, images01: np.ndarray, poses: np.ndarray, roles: np.ndarray,
                raw_min: np.ndarray, raw_max: np.ndarray, meta: dict) -> Path:
    path = Path(path)
    images = np.rint(np.clip(images01, 0.0, 1.0) * SCALE).astype(np.uint16)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:  # np.savez appends .npz to a bare name; a handle avoids that
            np.savez_compressed(fh, images=images, poses=poses.astype(np.float32), roles=roles.astype(np.int8),
                                raw_min=raw_min.astype(np.float32), raw_max=raw_max.astype(np.float32),
                                meta=np.array(json.dumps(meta, sort_keys=True)))
    return path


class Shard:
    """A loaded shard; images come back as float32 in [0, 1]."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with np.load(self.path, allow_pickle=False) as data:
            self._images = data["images"]
            self.poses = data["poses"]
            self.roles = data["roles"]
            self.raw_min, self.raw_max = data["raw_min"], data["raw_max"]
            self.meta = json.loads(str(data["meta"]))

    def __len__(self) -> int:
        return len(self.poses)

    def image(self, i: int) -> np.ndarray:
        return self._images[i].astype(np.float32) / SCALE

    @property
    def images(self) -> np.ndarray:
        return self._images.astype(np.float32) / SCALE


def shard_is_current(path: Path, expected_hash: str) -> bool:
    """True when `path` is a complete shard written with the same configuration."""
    if not path.exists():
        return False
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["meta"])).get("config_hash") == expected_hash
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # JSONDecodeError is a ValueError
        return False  # unreadable: render it again
