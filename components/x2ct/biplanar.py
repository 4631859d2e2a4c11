"""The biplanar stage's work: for every pool CT, AP and lateral DRRs and the CT on the model's grid.

Each CT gives `poses_per_ct` cases: the CT as positioned (pose 0), then copies
rotated about its centre (seeded per CT), the views rendered by the DRR
projector at that pose (drrs' geometry, physics and display: the images the
rotation model learns from, quantum noise included) and the volume resampled
at the same pose. One file per CT, `<ct_id>.npz`, and an index validated by a
Great Expectations suite.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
import torch

from components.atomic_write import atomic_path
from components.config import Params
from components.drr.pose_protocol import pose_rng
from components.drr.projector import DensityVolume, TorchProjector
from components.drr.render import DRRConfig, check_gzip_intact, noise_generator, render_views
from components.fingerprint import file_sha256
from components.pixels import quantise
from components.validation.biplanar_suite import INDEX_COLUMNS
from components.x2ct.grid import HU_AIR, VolumeGrid, lateral_pose, resample_ct, turn_to_lateral

VIEW_BITS = 16


def draw_poses(n: int, max_rotation_deg, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) poses: zeros first, then uniform within ±max_rotation_deg per axis."""
    poses = np.zeros((n, 3))
    poses[1:] = rng.uniform(-1, 1, size=(n - 1, 3)) * np.asarray(max_rotation_deg, float)
    return poses


def render_case_views(hu_zyx: np.ndarray, spacing_mm: float, origin_xyz, poses: np.ndarray, config: DRRConfig,
                      generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """AP and lateral views in [0, 1], (n, pixels, pixels) each, of the CT at each pose."""
    # the turned volume keeps the centre: the isocentre of both views is the CT's centre
    centre = np.asarray(origin_xyz, float) + (np.array(hu_zyx.shape[::-1], float) - 1) / 2 * spacing_mm
    views = []
    for turned, view_poses in ((False, poses), (True, np.stack([lateral_pose(p) for p in poses]))):
        hu = turn_to_lateral(hu_zyx) if turned else hu_zyx
        origin = centre - (np.array(hu.shape[::-1], float) - 1) / 2 * spacing_mm
        volume = DensityVolume.from_hu(hu, spacing_mm, origin, config.volume_spacing_mm)
        images, _, _ = render_views(TorchProjector(volume, config.geometry, config.physics), view_poses, config,
                                    generator)
        views.append(images)
    return views[0], views[1]


def biplanar_case_file(ct_path: str | Path, ct_id: str, out: Path, params: Params) -> int:
    """Render one CT's cases into `out` (an .npz); returns how many."""
    cfg = params.biplanar
    check_gzip_intact(ct_path)
    image = sitk.ReadImage(str(ct_path))
    hu = sitk.GetArrayFromImage(image).astype(np.float32)
    spacing, origin = image.GetSpacing()[0], np.array(image.GetOrigin())
    grid = VolumeGrid.from_params(cfg.grid)
    poses = draw_poses(cfg.poses_per_ct, cfg.max_rotation_deg, pose_rng(cfg.seed, ct_id))
    config = DRRConfig.from_params(params.drrs)
    ap, lateral = render_case_views(hu, spacing, origin, poses, config, noise_generator(cfg.seed, ct_id))
    volumes = np.stack([resample_ct(hu, spacing, origin, grid, p) for p in poses])
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:  # np.savez would append .npz to the temporary name
            np.savez_compressed(fh, hu=np.round(volumes).astype(np.int16), poses=poses,
                                ap=quantise(ap, VIEW_BITS), lateral=quantise(lateral, VIEW_BITS),
                                spacing_mm=np.float64(grid.spacing_mm))
    return len(poses)


def make_biplanar(params: Params) -> pd.DataFrame:
    """Every pool CT → `<out>/<ct_id>.npz`; writes and returns the index (validated by the caller)."""
    out = Path(params.biplanar.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = pd.read_csv(Path(params.ct_pool.out) / "manifest.csv")
    folds = pd.read_csv(params.folds.csv).set_index("ct_id")["fold"]
    rows = []
    for k, row in enumerate(manifest.itertuples(), 1):
        path = out / f"{row.ct_id}.npz"
        n = biplanar_case_file(Path(params.ct_pool.out) / row.path, row.ct_id, path, params)
        rows.append({"ct_id": row.ct_id, "patient_id": row.patient_id, "fold": int(folds.get(row.ct_id, 0)),
                     "path": path.name, "n_cases": n, "sha256": file_sha256(path)})
        print(f"[{k}/{len(manifest)}] {row.ct_id}: {n} cases")
    return pd.DataFrame(rows, columns=INDEX_COLUMNS).sort_values("ct_id")


def load_cases(folder: str | Path, ct_id: str) -> dict[str, np.ndarray]:
    """One CT's cases: hu (n, v, v, v) int16, poses (n, 3), ap and lateral (n, p, p) in [0, 1]."""
    path = Path(folder) / f"{ct_id}.npz"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no biplanar cases for {ct_id} (run the biplanar stage)")
    with np.load(path) as data:
        scale = float(2**VIEW_BITS - 1)
        return {"hu": data["hu"], "poses": data["poses"], "ap": data["ap"] / scale,
                "lateral": data["lateral"] / scale}


def case_statistics(folder: str | Path, index: pd.DataFrame) -> pd.DataFrame:
    """Per CT, what the suite checks: finite views in [0, 1], HU from air up, a body in the grid."""
    rows = []
    for ct_id in index["ct_id"]:
        c = load_cases(folder, ct_id)
        rows.append({"ct_id": ct_id, "n_volumes": len(c["hu"]), "n_views": len(c["ap"]),
                     "view_min": float(min(c["ap"].min(), c["lateral"].min())),
                     "view_max": float(max(c["ap"].max(), c["lateral"].max())),
                     "hu_min": float(c["hu"].min()), "body_fraction": float((c["hu"] > -500).mean()),
                     "flat_views": int(sum((v.reshape(len(v), -1).std(1) < 1e-3).sum() for v in (c["ap"], c["lateral"]))),
                     "air_hu": HU_AIR})
    return pd.DataFrame(rows)
