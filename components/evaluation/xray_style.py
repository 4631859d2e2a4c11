"""A radiograph-style stand-in for real radiographs, with known anatomy and known truth.

Rendered from the same CT at the same poses as the DRRs, but through another
chain: a softer beam (70–85 kVp, less filtration), up to 2.5× the scatter (a
scatter-to-primary ratio of about 0.5–1.25 behind the pelvis, as with an
anti-scatter grid), 2–5× fewer photons, detector blur, the processing of another radiography system (its own
dynamic-range compression, windowed on the body), a sigmoid characteristic
curve with random contrast and latitude, a random gamma, collimation borders
(unexposed: bright) and a burned-in side marker. Intensities differ from the DRRs while the rotated ground
truth in the same style is known. It stands in for real radiographs; it is not one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy import ndimage

from components.atomic_write import atomic_path
from components.drr.display import Display, window
from components.drr.geometry import Geometry
from components.drr.projector import DensityVolume, Physics, TorchProjector
from components.fingerprint import cache_key, file_sha256, source_fingerprint
from components.sampling.radiograph_io import read_radiograph
from components.sampling.rotate import prepare


@dataclass(frozen=True)
class Style:
    kvp: float
    scatter_fraction: float
    photons_per_mm2: float
    blur_px: float
    film_slope: float
    film_centre: float  # quantile of the body's values at the film's mid-grey
    gamma: float
    equalisation: float  # the system's dynamic-range compression (components/drr/display.py)
    equalisation_sigma_mm: float
    collimation: tuple[float, float, float, float]  # top, bottom, left, right fractions
    marker_corner: int

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Style:
        return cls(kvp=float(rng.uniform(70, 85)), scatter_fraction=float(rng.uniform(0.1, 0.25)),
                   photons_per_mm2=float(rng.uniform(2000, 6000)), blur_px=float(rng.uniform(0.2, 0.5)),
                   film_slope=float(rng.uniform(3, 8)), film_centre=float(rng.uniform(0.35, 0.65)),
                   gamma=float(rng.uniform(0.6, 1.6)), equalisation=float(rng.uniform(0.3, 0.8)),
                   equalisation_sigma_mm=float(rng.uniform(20, 60)),
                   collimation=tuple(float(v) for v in rng.uniform(0.0, 0.08, 4)),
                   marker_corner=int(rng.integers(4)))

    def to_dict(self) -> dict:
        return asdict(self)


def film_response(windowed: np.ndarray, style: Style) -> np.ndarray:
    """Sigmoid characteristic curve on the body-windowed image in [0, 1], then gamma: [0, 1], bone bright.

    Mid-grey sits at the `film_centre` quantile of the body's values and the slope is per
    10th–90th-percentile spread of the body, so the curve has the body's latitude whatever its size.
    """
    body = windowed[windowed > 0]
    if body.size < 16:
        body = windowed.ravel()
    centre = np.quantile(body, style.film_centre)
    spread = max(float(np.subtract(*np.quantile(body, [0.9, 0.1]))), 1e-3)
    y = 1 / (1 + np.exp(-style.film_slope * (windowed - centre) / spread))
    y = (y - y.min()) / max(np.ptp(y), 1e-6)
    return y**style.gamma


def collimate_and_mark(image: np.ndarray, style: Style) -> np.ndarray:
    h, w = image.shape
    out = image.copy()
    top, bottom, left, right = (int(f * n) for f, n in zip(style.collimation, (h, h, w, w)))
    mask = np.zeros_like(out, bool)
    mask[:top], mask[h - bottom:], mask[:, :left], mask[:, w - right:] = True, True, True, True
    out[mask] = 0.95  # unexposed film reads bright
    marker = Image.new("L", (w, h), 0)
    size = max(3, h // 10)
    x0 = 2 if style.marker_corner % 2 == 0 else w - size - 3
    y0 = 2 if style.marker_corner < 2 else h - size - 3
    ImageDraw.Draw(marker).rectangle([x0, y0, x0 + size, y0 + size], outline=255, width=max(1, size // 5))
    out[np.asarray(marker) > 0] = 1.0
    return out


def render_radiograph_style(volume: DensityVolume, geometry: Geometry, poses: np.ndarray, style: Style,
                            seed: int) -> np.ndarray:
    """(n, H, W) radiograph-style images in [0, 1] of one CT at `poses` (degrees)."""
    physics = Physics(kvp=style.kvp, filtration_mm_al=1.5, scatter_fraction=style.scatter_fraction,
                      scatter_sigma_mm=40.0, photons_per_mm2=style.photons_per_mm2)
    projector = TorchProjector(volume, geometry, physics)
    processing = Display(body_threshold=0.1, low_quantile=0.01, high_quantile=0.995,  # the stand-in's own chain
                         equalisation=style.equalisation, equalisation_sigma_mm=style.equalisation_sigma_mm)
    generator = torch.Generator().manual_seed(seed)
    out = []
    with torch.inference_mode():
        for start in range(0, len(poses), 8):
            log_images = projector.render(poses[start:start + 8], generator=generator).cpu().numpy()
            blurred = torch.from_numpy(np.stack([ndimage.gaussian_filter(x, style.blur_px) for x in log_images]))
            windowed, _, _ = window(blurred, processing, geometry.pixel_mm)
            out += [collimate_and_mark(film_response(w, style), style) for w in windowed.numpy()]
    return np.clip(np.stack(out), 0, 1).astype(np.float32)


def style_shard_key(ct_sha256: str, poses_checksum: str, config, seed: int) -> str:
    """A radiograph-style shard is current when its CT, poses, renderer code (components/drr and this
    module), DRR configuration and seed are those it was made from."""
    return cache_key(ct=ct_sha256, poses=poses_checksum, config=config.hash, seed=seed,
                     renderer=source_fingerprint("drr", "evaluation/xray_style.py"))


def render_style_shard(ct_path: str | Path, ct_id: str, drr_dir: str | Path, out_dir: str | Path, config,
                       seed: int) -> bool:
    """Render (or keep, when its key matches) the radiograph-style shard of one CT at its DRR poses;
    returns True when it was rendered."""
    from components.drr.pose_protocol import pose_rng
    from components.drr.render import load_volume
    from components.drr.shards import SHARD_SUFFIX, Shard, array_checksum, shard_key, write_shard

    drrs = Shard(Path(drr_dir) / f"{ct_id}{SHARD_SUFFIX}")
    out = Path(out_dir) / f"{ct_id}{SHARD_SUFFIX}"
    ct_sha256 = file_sha256(ct_path)
    key = style_shard_key(ct_sha256, array_checksum(drrs.poses), config, seed)
    if shard_key(out) == key:
        return False
    rng = pose_rng(seed, ct_id)
    style = Style.draw(rng)
    images = render_radiograph_style(load_volume(ct_path, config), config.geometry, drrs.poses, style,
                                     int(rng.integers(2**62)))
    n = len(images)
    write_shard(out, images, drrs.poses, drrs.roles, np.zeros(n), np.ones(n),
                {"ct_id": ct_id, "domain": "radiograph_style", "style": style.to_dict(), "seed": seed,
                 "cache_key": key, "ct_sha256": ct_sha256})
    return True


def prepare_real_radiographs(folder: Path, out: Path, size: int) -> int:
    """Readable radiographs under `folder` → (n, size, size) in [0, 1]; unreadable ones are reported."""
    images, sources = [], []
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")) if folder.is_dir() else []
    for path in files:
        try:
            image = read_radiograph(path)
        except (ValueError, FileNotFoundError) as err:
            print(f"skipped {path}: {err}")
            continue
        images.append(((prepare(image.pixels, size).tensor[0, 0].numpy() + 1) / 2).astype(np.float32))
        sources.append(str(path.relative_to(folder)))
    if not images:
        out.unlink(missing_ok=True)
        return 0
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, images=np.stack(images), sources=np.array(sources))
    return len(images)
