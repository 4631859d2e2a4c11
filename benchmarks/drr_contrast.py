"""Bone against adjacent soft tissue on the stored DRR, before and after the display chain changed.

    python benchmarks/drr_contrast.py [--ct CT ...] [--pixels 64] [--out benchmarks/results/drr_contrast.json]

"Before" is the chain the DRRs were stored with until issue 11: threshold
materials (bone only above 350 HU), a 460 mm detector, Poisson noise at 20 000
quanta per pixel, and a min–max over the whole field. "After" is params.yaml's
`drrs` (water–bone mixtures above 100 HU, a 380 mm detector, noise per mm², a
window read from the body, dynamic-range compression). Both render the same CT
at pose 0.

Contrast = mean of the stored image over a bone region − mean over the adjacent
soft tissue (pixels whose rays cross no bone, within a ring around the region),
in units of the [0, 1] range. On the synthetic phantom the regions are the
femoral heads and the iliac wings, projected from the phantom's own anatomy; on
any CT (a real one too) a generic region is measured: the pixels with the most
bone path (top quarter of those crossing bone) against soft-tissue pixels within
3 pixels of them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
from rich.console import Console
from rich.table import Table
from scipy import ndimage

from components.config import Params, load_config
from components.ct import synthetic
from components.ct.eligibility import Eligibility
from components.ct.ingest import read_ct_volume, resample_int16
from components.ct.phantom import PhantomSpec, _rotation
from components.drr import geometry as geo
from components.drr.display import window
from components.drr.geometry import project_point
from components.drr.physics import MaterialThresholds
from components.drr.projector import DensityVolume, TorchProjector, line_integrals
from components.drr.render import DRRConfig, volume_from_image


def before_volume(hu: np.ndarray, spacing: float, origin) -> DensityVolume:
    """The old materials: soft tissue up to 350 HU, pure bone above (DeepDRR's thresholds): a mixture that
    starts at 350 HU and is all bone from the first HU above it."""
    return DensityVolume.from_hu(hu, spacing, origin, 2.0, thresholds=MaterialThresholds(mix_from=350.0, bone_hu=1e-6))


def chains(params: Params, pixels: int):
    after = DRRConfig.from_params(params.drrs)
    after = dataclasses.replace(after, geometry=dataclasses.replace(after.geometry, pixels=pixels))
    old_geometry = dataclasses.replace(after.geometry, detector_mm=460.0)
    before = dataclasses.replace(after, geometry=old_geometry,
                                 physics=dataclasses.replace(after.physics,
                                                             photons_per_mm2=20000 / old_geometry.pixel_mm ** 2),
                                 display=dataclasses.replace(after.display, body_threshold=-1e9, low_quantile=0.0,
                                                             high_quantile=1.0, equalisation=0.0))
    return before, after


def render(volume: DensityVolume, config: DRRConfig) -> tuple[np.ndarray, np.ndarray]:
    """(stored image in [0, 1], bone path g/cm²) at pose 0."""
    projector = TorchProjector(volume, config.geometry, config.physics)
    with torch.inference_mode():
        log = projector.render(np.zeros((1, 3)), generator=torch.Generator().manual_seed(0))
        image, _, _ = window(log, config.display, config.geometry.pixel_mm)
        origins, directions = geo.rays(config.geometry, volume.isocentre, np.zeros((1, 3)))
        paths = line_integrals(volume, origins, directions)
    return image[0].numpy(), paths[0, 1].numpy()


def region_contrast(image: np.ndarray, bone_path: np.ndarray, centre_rc, radius_px: float) -> float:
    rows, cols = np.indices(image.shape)
    r = np.hypot(rows - centre_rc[0], cols - centre_rc[1])
    inside = r <= 0.5 * radius_px
    ring = (r >= 1.3 * radius_px) & (r <= 2.2 * radius_px) & (bone_path < 0.05) & (image > 0)
    return float(image[inside].mean() - image[ring].mean()) if inside.any() and ring.any() else float("nan")


def generic_contrast(image: np.ndarray, bone_path: np.ndarray) -> float:
    crossing = bone_path > 0.05
    if not crossing.any():
        return float("nan")
    dense = bone_path >= np.quantile(bone_path[crossing], 0.75)
    near = ndimage.binary_dilation(dense, iterations=3) & ~crossing & (image > 0)
    return float(image[dense].mean() - image[near].mean()) if near.any() else float("nan")


def phantom_regions(seed: int = 0) -> tuple[sitk.Image, dict]:
    """The first eligible synthetic series at 1 mm, and its femoral heads and iliac wings (world mm)."""
    plan = next(p for p in synthetic.plan_pool(8, seed) if p.kind == "eligible")
    spec = PhantomSpec.draw(np.random.default_rng([seed, 1, plan.patient]))
    hu, spacing, origin, _ = synthetic.render_series(plan, seed)
    image = sitk.GetImageFromArray(hu.astype(np.float32))
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image = resample_int16(image, 1.0)  # the pool's grid, as ingest makes it
    tilt, s = _rotation(*spec.tilt_deg), spec.scale
    world = lambda p: tilt.T @ np.asarray(p, float)  # noqa: E731  anatomy → patient frame
    hips = [np.array([side * 92 * s, -6 * s, 0.0]) + np.array(off) for side, off in zip((-1, 1), spec.hip_offsets)]
    regions = {"femoral head, right": (world(hips[0]), 23 * s), "femoral head, left": (world(hips[1]), 23 * s),
               "iliac wing, right": (world(np.array([-78, 24, 66]) * s), 30 * s),
               "iliac wing, left": (world(np.array([78, 24, 66]) * s), 30 * s)}
    return image, regions


def measure(name: str, image: sitk.Image, params: Params, pixels: int, regions: dict | None) -> list[dict]:
    before, after = chains(params, pixels)
    image = sitk.Cast(image, sitk.sitkFloat32)
    hu = sitk.GetArrayFromImage(image)
    rows = []
    for label, config, volume in (("before", before, before_volume(hu, image.GetSpacing()[0], image.GetOrigin())),
                                  ("after", after, volume_from_image(image, after))):
        stored, bone = render(volume, config)
        row = {"ct": name, "chain": label, "generic": generic_contrast(stored, bone)}
        for region, (point, radius_mm) in (regions or {}).items():
            centre = project_point(config.geometry, volume.isocentre, point, (0, 0, 0))
            radius_px = radius_mm * config.geometry.magnification / config.geometry.pixel_mm
            row[region] = region_contrast(stored, bone, centre, radius_px)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ct", nargs="*", default=[], help="real CTs (NIfTI or DICOM folder) to measure too")
    parser.add_argument("--pixels", type=int, default=64)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="benchmarks/results/drr_contrast.json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    params = load_config(args.params)
    phantom, regions = phantom_regions()
    rows = measure("synthetic phantom", phantom, params, args.pixels, regions)
    for path in args.ct:
        image, _ = read_ct_volume(path, 1.0, Eligibility.from_params(params.ct_pool.eligibility))
        rows += measure(Path(path).name, image, params, args.pixels, None)
    columns = ["ct", "chain", "femoral head, right", "femoral head, left", "iliac wing, right", "iliac wing, left",
               "generic"]
    table = Table(title=f"Bone − adjacent soft tissue on the stored {args.pixels}² DRR (fraction of the [0, 1] range)")
    for c in columns:
        table.add_column(c, justify="right")
    for row in rows:
        table.add_row(*[row.get(c) if isinstance(row.get(c), str) else
                        ("–" if row.get(c) is None or row.get(c) != row.get(c) else f"{row[c]:.3f}") for c in columns])
    Console(width=160).print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"benchmark": "drr_contrast", "pixels": args.pixels, "rows": rows},
                                         indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
