"""The grid's maps agree with the projector: resampling, the lateral turn, lifting and projecting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from components.x2ct.biplanar import render_case_views
from components.x2ct.grid import (
    VolumeGrid,
    lateral_pose,
    lift,
    normalise,
    project,
    resample_ct,
    to_hu,
    turn_to_lateral,
)
from tests.params import drr_config, geometry

GRID = VolumeGrid(16, 20.0)  # 320 mm


def marked_ct(spacing=10.0, n=32) -> tuple[np.ndarray, np.ndarray]:
    """A cube of soft tissue with one dense block at the patient's left (+x), anterior (−y), superior (+z)."""
    hu = np.full((n, n, n), -1000.0, np.float32)
    hu[4:-4, 4:-4, 4:-4] = 0.0
    hu[22:26, 8:12, 22:26] = 1500.0  # z, y, x
    origin = np.full(3, -(n - 1) / 2 * spacing)  # centred on 0
    return hu, origin


def peak(image: np.ndarray) -> tuple[float, float]:
    weights = np.clip(image - np.median(image), 0, None) ** 4
    rows, cols = np.indices(image.shape)
    return float((rows * weights).sum() / weights.sum()), float((cols * weights).sum() / weights.sum())


def test_normalise_and_to_hu_are_inverse_within_the_range():
    hu = np.array([-1000.0, -200.0, 0.0, 700.0, 2000.0])
    assert np.allclose(to_hu(normalise(hu)), hu)
    assert normalise(np.array([3000.0]))[0] == 1.0  # metal reads as the top of the range


def test_lateral_pose_turns_a_tilt_into_the_lateral_views_in_plane_rotation():
    assert np.allclose(lateral_pose([0, 0, 12]), [0, 0, 12])  # the obliques commute with the turn
    assert np.allclose(lateral_pose([7, 0, 0]), [0, 7, 0])  # a tilt about x is in-plane in the lateral view
    assert np.allclose(lateral_pose([0, 0, 0]), 0)


def test_resampling_at_a_quarter_turn_is_the_turned_volume():
    hu, origin = marked_ct()
    straight = resample_ct(hu, 10.0, origin, GRID)
    turned = resample_ct(hu, 10.0, origin, GRID, pose_deg=(0, 0, 90))
    assert np.abs(turned - turn_to_lateral(straight)).max() < 1.0  # HU
    assert straight.max() > 500  # the dense block survives area averaging


def test_the_dense_block_lands_where_the_patient_frame_says_in_both_views():
    hu, origin = marked_ct()
    hu[hu == 0.0] = -1000.0  # the block alone: nothing else for the display window to weigh
    ap, lateral = render_case_views(hu, 10.0, origin, np.zeros((1, 3)), drr_config(physics={"photons_per_mm2": 0}),
                                    torch.Generator().manual_seed(0))
    centre = (ap.shape[-1] - 1) / 2
    ap_row, ap_col = peak(ap[0])
    lat_row, lat_col = peak(lateral[0])
    assert ap_row < centre and lat_row < centre  # superior: row 0 is up
    assert ap_col > centre  # the patient's left is on the viewer's right (+x)
    assert lat_col > centre  # lateral: columns run posterior → anterior
    # the same voxel through the differentiable projector on the grid
    grid_view = project(normalise(torch.from_numpy(resample_ct(hu, 10.0, origin, GRID)))[None, None], GRID,
                        geometry(), ap.shape[-1])[0]
    for rendered, projected in ((ap[0], grid_view[0]), (lateral[0], grid_view[1])):
        # within 1.5 px of 64 (perspective vs the grid's 20 mm voxels); a mirrored axis would be ~20 off
        assert np.allclose(peak(rendered), peak(projected.numpy()), atol=1.5)


def test_lifting_puts_each_views_value_on_the_voxels_its_ray_crosses():
    hu, origin = marked_ct()
    volume = normalise(torch.from_numpy(resample_ct(hu, 10.0, origin, GRID)))[None, None]
    views = project(volume, GRID, geometry(), 64)[0]
    lifted = [lift(views[k][None], which, GRID, geometry())[0] for k, which in enumerate(("ap", "lateral"))]
    block = (volume[0, 0] > 0.3).numpy()
    for cube in lifted:  # the block's voxels see the brightest part of each view
        assert cube.numpy()[block].mean() > np.quantile(cube.numpy(), 0.9)
    with pytest.raises(ValueError, match="not one of"):
        lift(views[0][None], "oblique", GRID, geometry())


def test_projection_is_differentiable():
    volume = torch.zeros(2, 1, 16, 16, 16, requires_grad=True)
    project(volume, GRID, geometry(), 16).square().sum().backward()
    assert volume.grad is not None and volume.grad.abs().sum() > 0
