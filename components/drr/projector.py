"""DRR backends. `TorchProjector` (CPU or CUDA) is the default; `deepdrr` is optional.

The torch projector casts perspective rays through per-material density volumes
with trilinear sampling. It is fast because it samples only where a ray is inside
the volume's box (slab clipping), at the spacing of a volume that has been
averaged down to `volume_spacing_mm` (mass-preserving), and for every pose of a
batch in one `grid_sample` call. Line integrals per material go through a
polychromatic, energy-integrating detector model; optional kernel scatter and
Poisson quantum noise; then the log transform.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from components.drr import geometry as geo
from components.drr.display import blur
from components.drr.physics import MaterialThresholds, densities, detector_weights

BACKENDS = ("torch", "deepdrr")


@dataclass(frozen=True)
class Physics:
    kvp: float
    filtration_mm_al: float
    scatter_fraction: float  # kernel scatter: scatter-to-primary ratio per unit attenuation
    scatter_sigma_mm: float  # at the detector
    photons_per_mm2: float  # unattenuated quanta per mm² of detector; 0 = no quantum noise

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DensityVolume:
    """Per-material densities (1, M, z, y, x) on an isotropic grid, in the LPS frame.

    Materials in physics.MATERIALS order; the metal channel is dropped when empty.
    """

    data: torch.Tensor
    origin: np.ndarray  # centre of voxel (0, 0, 0), mm
    spacing_mm: float

    @property
    def shape_xyz(self) -> np.ndarray:
        return np.array(self.data.shape[:1:-1], float)

    @property
    def box(self) -> tuple[np.ndarray, np.ndarray]:
        lo = self.origin - self.spacing_mm / 2
        return lo, lo + self.shape_xyz * self.spacing_mm

    @property
    def planes(self) -> torch.Tensor:
        """Coronal planes (y, M, z, x), made once: the layout Joseph's traversal samples."""
        if getattr(self, "_planes", None) is None:
            self._planes = self.data[0].permute(2, 0, 1, 3).contiguous()
        return self._planes

    @property
    def isocentre(self) -> np.ndarray:
        lo, hi = self.box
        return (lo + hi) / 2

    @classmethod
    def from_hu(cls, hu_zyx: np.ndarray, spacing_mm: float, origin_xyz, volume_spacing_mm: float | None = None,
                thresholds: MaterialThresholds = MaterialThresholds(), device="cpu") -> DensityVolume:
        """Materials from HU, then averaged down by an integer factor to ~volume_spacing_mm."""
        data = torch.from_numpy(densities(hu_zyx, thresholds))[None]
        if not data[0, 2].any():
            data = data[:, :2]  # no metal: two materials, a third less sampling
        origin = np.asarray(origin_xyz, float)
        factor = max(1, int(round((volume_spacing_mm or spacing_mm) / spacing_mm)))
        if factor > 1:
            data = F.avg_pool3d(data, factor, stride=factor, ceil_mode=True)
            # ceil_mode averages partial border blocks over their real voxels only
            origin = origin - spacing_mm / 2 + factor * spacing_mm / 2
        return cls(data.to(device).contiguous(), origin, spacing_mm * factor)


def line_integrals(volume: DensityVolume, origins: torch.Tensor, directions: torch.Tensor,
                   max_points: int = 1 << 23) -> torch.Tensor:
    """∫ρ_m dl (g/cm²) along each ray by Joseph's method: (B, M, rows, cols).

    Every ray of an AP projection (±15° poses, ±14° beam divergence) crosses each
    coronal plane (y = const) of the volume exactly once. So each plane is sampled
    bilinearly where the rays pierce it, weighted by the path length per plane,
    spacing / |cos| — a batched 2D `grid_sample`, whose CPU kernel is vectorised,
    where a 3D one is not.
    """
    device, dtype = volume.data.device, volume.data.dtype
    planes = volume.planes  # (Y, M, Z, X)
    lo, hi = volume.box
    spacing = volume.spacing_mm
    y_planes = torch.as_tensor(volume.origin[1] + spacing * np.arange(planes.shape[0]), dtype=dtype, device=device)
    origins, directions = origins.to(device, dtype), directions.to(device, dtype)
    if float(directions[..., 1].abs().min()) < 0.5:
        raise ValueError("ray more than 60° from the AP axis: Joseph's coronal-plane traversal does not apply")
    x_lo, x_span = float(lo[0]), float(hi[0] - lo[0])
    z_lo, z_span = float(lo[2]), float(hi[2] - lo[2])

    batch, rows, cols, _ = directions.shape
    n_planes = planes.shape[0]
    out = torch.zeros(batch, planes.shape[1], rows, cols, device=device, dtype=dtype)
    planes_per_chunk = max(1, max_points // (rows * cols))
    norm_lo = torch.tensor([x_lo, z_lo], dtype=dtype, device=device)
    norm_scale = torch.tensor([2 / x_span, 2 / z_span], dtype=dtype, device=device)
    for b in range(batch):
        d = directions[b]
        # Where a ray pierces plane y: (x, z) = o + (y − o_y)·d/d_y, linear in y, so the
        # normalised grid is intercept + y·slope per ray.
        slope = d[..., [0, 2]] / d[..., 1:2]  # (r, c, 2)
        intercept = origins[b, [0, 2]] - origins[b, 1] * slope
        slope, intercept = slope * norm_scale, (intercept - norm_lo) * norm_scale - 1
        for p0 in range(0, n_planes, planes_per_chunk):
            ys = y_planes[p0:p0 + planes_per_chunk, None, None, None]
            grid = torch.addcmul(intercept, ys, slope)  # (P, r, c, 2)
            samples = F.grid_sample(planes[p0:p0 + planes_per_chunk], grid, mode="bilinear",
                                    padding_mode="zeros", align_corners=False)  # (P, M, r, c)
            out[b] += samples.sum(0)
        out[b] *= spacing / 10.0 / d[..., 1].abs()  # cm of path per plane
    return out


class TorchProjector:
    """Render DRRs of one volume at many poses."""

    name = "torch"

    def __init__(self, volume: DensityVolume, geometry: geo.Geometry, physics: Physics):
        self.volume, self.geometry, self.physics = volume, geometry, physics
        device = volume.data.device
        _, weights, mu = detector_weights(physics.kvp, physics.filtration_mm_al)
        self.weights = torch.as_tensor(weights, dtype=torch.float32, device=device)  # (E,)
        self.mu = torch.as_tensor(mu[: volume.data.shape[1]], dtype=torch.float32, device=device)  # (M, E)

    def intensity(self, poses_deg: np.ndarray) -> torch.Tensor:
        """Detected intensity I/I0 (B, rows, cols), scatter included, before noise."""
        origins, directions = geo.rays(self.geometry, self.volume.isocentre, poses_deg)
        paths = line_integrals(self.volume, origins, directions).float()  # (B, M, r, c)
        attenuation = torch.einsum("bmrc,me->berc", paths, self.mu)
        primary = torch.einsum("berc,e->brc", torch.exp(-attenuation), self.weights)
        s = self.physics.scatter_fraction
        if s > 0:
            # Scatter arises where photons interact: a broad blur of primary × attenuation,
            # so the local scatter-to-primary ratio is s·τ (zero in air; ~0.5 behind a
            # pelvis at s = 0.1, as with an anti-scatter grid).
            attenuation_depth = -torch.log(primary.clamp_min(1e-12))
            primary = primary + s * blur(primary * attenuation_depth, self.physics.scatter_sigma_mm / self.geometry.pixel_mm)
        return primary

    def render(self, poses_deg: np.ndarray, generator: torch.Generator | None = None) -> torch.Tensor:
        """Log-transformed DRRs (B, rows, cols): −log(I/I0), bone bright, air 0."""
        intensity = self.intensity(poses_deg)
        n0 = self.physics.photons_per_mm2 * self.geometry.pixel_mm**2  # quanta per pixel
        if n0 > 0:
            counts = torch.poisson(intensity.cpu() * n0, generator=generator).to(intensity.device)
            intensity = counts.clamp_min(1.0) / n0
        return -torch.log(intensity.clamp_min(1e-12))


def deepdrr_available() -> tuple[bool, str]:
    """Whether the DeepDRR backend can run here, and if not, why."""
    if not torch.cuda.is_available():
        return False, "DeepDRR needs CUDA and no GPU is present"
    try:
        import deepdrr  # noqa: F401
    except ImportError:
        return False, "DeepDRR is not installed: pip install -e '.[deepdrr]' in its own environment (numpy<2)"
    return True, ""


