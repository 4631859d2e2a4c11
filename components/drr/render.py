"""All DRRs of one pool CT → one shard (the unit of work the drrs flow maps over).

A shard on disk is current only when its key matches: the content hash of its CT,
the fingerprint of the renderer's source (`components/drr`) and the
configuration. Change one CT's voxels and only its shard is rendered again;
change the projector's code and every shard is.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from components.config import Drrs
from components.drr.display import Display, window
from components.drr.geometry import Geometry
from components.drr.pose_protocol import ROLE_DRR0, draw_poses, pose_rng
from components.drr.projector import DensityVolume, Physics, TorchProjector, deepdrr_available
from components.drr.shards import SHARD_SUFFIX, config_hash, shard_key, write_shard
from components.fingerprint import cache_key, file_sha256, source_fingerprint


@dataclass(frozen=True)
class DRRConfig:
    drrs_per_ct: int
    seed: int
    backend: str
    volume_spacing_mm: float
    batch_size: int
    geometry: Geometry
    physics: Physics
    display: Display

    @classmethod
    def from_params(cls, p: Drrs) -> DRRConfig:
        return cls(drrs_per_ct=p.drrs_per_ct, seed=p.seed, backend=p.backend,
                   volume_spacing_mm=float(p.volume_spacing_mm), batch_size=p.batch_size,
                   geometry=Geometry(**p.geometry.to_dict()), physics=Physics(**p.physics.to_dict()),
                   display=Display(**p.display.to_dict()))

    def to_dict(self) -> dict:
        return dict(drrs_per_ct=self.drrs_per_ct, seed=self.seed, backend=self.backend,
                    volume_spacing_mm=self.volume_spacing_mm, geometry=self.geometry.to_dict(),
                    physics=self.physics.to_dict(), display=self.display.to_dict())

    @property
    def hash(self) -> str:
        # batch size changes speed, not images, so it is not part of the hash
        return config_hash(self.to_dict())


def renderer_fingerprint() -> str:
    """The DRR renderer's code: every source file of components/drr."""
    return source_fingerprint("drr")


def drr_shard_key(ct_sha256: str, config: DRRConfig) -> str:
    return cache_key(ct=ct_sha256, renderer=renderer_fingerprint(), config=config.hash)


@dataclass
class ShardResult:
    ct_id: str
    path: Path
    n_drrs: int
    skipped: bool  # already current on disk


def load_volume(path: str | Path, config: DRRConfig, device: str = "cpu") -> DensityVolume:
    """A pool volume (isotropic, identity direction) as per-material densities; a damaged file is
    refused with its name (ITK would read a truncated one with its missing slices zero-filled)."""
    check_gzip_intact(path)
    image = sitk.ReadImage(str(path))
    spacing = image.GetSpacing()
    if not np.allclose(spacing, spacing[0]) or not np.allclose(image.GetDirection(), np.eye(3).ravel()):
        raise ValueError(f"{path}: not a pool volume (isotropic spacing, LPS identity direction expected)")
    return volume_from_image(image, config, device)


def check_gzip_intact(path: str | Path) -> None:
    """Read a .gz file to its end: gzip's CRC-32 and length trailer catch truncation and flipped bits."""
    path = Path(path)
    if not path.name.endswith(".gz"):
        return
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(1 << 24):
                pass
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such pool volume") from None
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: damaged pool volume ({type(err).__name__}: {err}); run the ct_pool "
                         "stage again to rewrite it") from None


def volume_from_image(image: sitk.Image, config: DRRConfig, device: str = "cpu") -> DensityVolume:
    return DensityVolume.from_hu(sitk.GetArrayFromImage(image), image.GetSpacing()[0], image.GetOrigin(),
                                 config.volume_spacing_mm, device=device)


def render_views(projector: TorchProjector, poses: np.ndarray, config: DRRConfig,
                 generator: torch.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images in [0, 1], window low ends, high ends) at `poses`, `config.batch_size` at a time."""
    images, lows, highs = [], [], []
    with torch.inference_mode():
        for start in range(0, len(poses), config.batch_size):
            drr = projector.render(poses[start:start + config.batch_size], generator=generator)
            scaled, lo, hi = window(drr, config.display, config.geometry.pixel_mm)
            images.append(scaled.cpu().numpy())
            lows.append(lo.cpu().numpy())
            highs.append(hi.cpu().numpy())
    return np.concatenate(images), np.concatenate(lows), np.concatenate(highs)


def noise_generator(seed: int, ct_id: str) -> torch.Generator:
    """The quantum noise of one CT's DRRs: fixed by the seed and the CT, not by the worker."""
    return torch.Generator().manual_seed(int(pose_rng(seed + 1, ct_id).integers(2**62)))


def render_ct_shard(ct_path: str | Path, ct_id: str, out_dir: str | Path, config: DRRConfig,
                    device: str | None = None) -> ShardResult:
    """Render (or keep, when its key matches) the shard of one CT."""
    out = Path(out_dir) / f"{ct_id}{SHARD_SUFFIX}"
    ct_sha256 = file_sha256(ct_path)
    key = drr_shard_key(ct_sha256, config)
    if shard_key(out) == key:
        return ShardResult(ct_id, out, config.drrs_per_ct, skipped=True)
    if config.backend != "torch":
        ok, why = deepdrr_available()
        raise RuntimeError(f"backend {config.backend!r} cannot run here: {why}" if not ok else
                           f"backend {config.backend!r} runs in its own environment: see README (DeepDRR)")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    projector = TorchProjector(load_volume(ct_path, config, device), config.geometry, config.physics)
    poses, roles = draw_poses(config.drrs_per_ct, pose_rng(config.seed, ct_id))
    assert roles[0] == ROLE_DRR0
    images, lows, highs = render_views(projector, poses, config, noise_generator(config.seed, ct_id))
    meta = {"ct_id": ct_id, "cache_key": key, "ct_sha256": ct_sha256, "renderer": renderer_fingerprint(),
            "config_hash": config.hash, **config.to_dict(), "torch": torch.__version__, "device": str(device),
            "convention": "LPS; R = Rz·Ry·Rx about the volume centre; AP, row 0 superior, columns to +x",
            "window": "raw_min/raw_max: the −log(I/I0) window mapped to [0, 1]; values beyond it are clipped"}
    write_shard(out, images, poses, roles, lows, highs, meta)
    return ShardResult(ct_id, out, len(poses), skipped=False)
