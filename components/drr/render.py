"""All DRRs of one pool CT → one shard (the unit of work the drrs flow maps over)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from components.drr.geometry import Geometry
from components.drr.pose_protocol import ROLE_DRR0, draw_poses, pose_rng
from components.drr.projector import DensityVolume, Physics, TorchProjector, deepdrr_available, rescale_unit
from components.drr.shards import SHARD_SUFFIX, config_hash, shard_is_current, write_shard

RENDERER_VERSION = 1  # bump when the images a configuration produces change


@dataclass(frozen=True)
class DRRConfig:
    drrs_per_ct: int = 16
    seed: int = 0
    backend: str = "torch"
    volume_spacing_mm: float = 2.0
    batch_size: int = 8
    geometry: Geometry = field(default_factory=Geometry)
    physics: Physics = field(default_factory=Physics)

    @classmethod
    def from_params(cls, p: dict) -> "DRRConfig":
        return cls(drrs_per_ct=int(p["drrs_per_ct"]), seed=int(p["seed"]), backend=p["backend"],
                   volume_spacing_mm=float(p["volume_spacing_mm"]), batch_size=int(p["batch_size"]),
                   geometry=Geometry(**p["geometry"]), physics=Physics(**p["physics"]))

    def to_dict(self) -> dict:
        return dict(drrs_per_ct=self.drrs_per_ct, seed=self.seed, backend=self.backend,
                    volume_spacing_mm=self.volume_spacing_mm, geometry=self.geometry.to_dict(),
                    physics=self.physics.to_dict(), renderer_version=RENDERER_VERSION)

    @property
    def hash(self) -> str:
        # batch size changes speed, not images, so it is not part of the hash
        return config_hash(self.to_dict())


@dataclass
class ShardResult:
    ct_id: str
    path: Path
    n_drrs: int
    skipped: bool  # already current on disk


def load_volume(path: str | Path, config: DRRConfig, device: str = "cpu") -> DensityVolume:
    image = sitk.ReadImage(str(path))
    spacing = image.GetSpacing()
    if not np.allclose(spacing, spacing[0]) or not np.allclose(image.GetDirection(), np.eye(3).ravel()):
        raise ValueError(f"{path}: not a pool volume (isotropic spacing, LPS identity direction expected)")
    return DensityVolume.from_hu(sitk.GetArrayFromImage(image), spacing[0], image.GetOrigin(),
                                 config.volume_spacing_mm, device=device)


def render_ct_shard(ct_path: str | Path, ct_id: str, out_dir: str | Path, config: DRRConfig,
                    device: str | None = None) -> ShardResult:
    """Render (or keep, when current) the shard of one CT."""
    out = Path(out_dir) / f"{ct_id}{SHARD_SUFFIX}"
    if shard_is_current(out, config.hash):
        return ShardResult(ct_id, out, config.drrs_per_ct, skipped=True)
    if config.backend != "torch":
        ok, why = deepdrr_available()
        raise RuntimeError(f"backend {config.backend!r} cannot run here: {why}" if not ok else
                           f"backend {config.backend!r} runs in its own environment: see README (DeepDRR)")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    projector = TorchProjector(load_volume(ct_path, config, device), config.geometry, config.physics)
    poses, roles = draw_poses(config.drrs_per_ct, pose_rng(config.seed, ct_id))
    assert roles[0] == ROLE_DRR0
    noise = torch.Generator().manual_seed(int(pose_rng(config.seed + 1, ct_id).integers(2**62)))
    images, lows, highs = [], [], []
    with torch.inference_mode():
        for start in range(0, len(poses), config.batch_size):
            drr = projector.render(poses[start:start + config.batch_size], generator=noise)
            scaled, lo, hi = rescale_unit(drr)
            images.append(scaled.cpu().numpy())
            lows.append(lo.cpu().numpy())
            highs.append(hi.cpu().numpy())
    meta = {"ct_id": ct_id, "config_hash": config.hash, **config.to_dict(),
            "torch": torch.__version__, "device": str(device),
            "convention": "LPS; R = Rz·Ry·Rx about the volume centre; AP, row 0 superior, columns to +x"}
    write_shard(out, np.concatenate(images), poses, roles, np.concatenate(lows), np.concatenate(highs), meta)
    return ShardResult(ct_id, out, len(poses), skipped=False)
