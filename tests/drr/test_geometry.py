"""The written conventions hold: beads project where perspective geometry predicts."""

import numpy as np
import pytest
import torch

from components.drr.geometry import project_point, rotation_matrix
from components.drr.projector import DensityVolume, TorchProjector
from tests.params import geometry, physics

SPACING = 2.0
SHAPE = (90, 100, 110)  # z, y, x
ORIGIN = np.array([-109.0, -99.0, -89.0])  # voxel centres; the box is centred on 0


def bead_projector(bead_index_zyx, pixels=64):
    hu = np.full(SHAPE, -1000.0, np.float32)
    k, j, i = bead_index_zyx
    hu[k - 1:k + 2, j - 1:j + 2, i - 1:i + 2] = 1500.0
    volume = DensityVolume.from_hu(hu, SPACING, ORIGIN)
    no_extras = physics(scatter_fraction=0.0, photons_per_mm2=0.0)
    return TorchProjector(volume, geometry(pixels=pixels, detector_mm=300.0), no_extras), volume


def centroid(image: torch.Tensor) -> np.ndarray:
    w = image.numpy().astype(float)
    w = np.where(w > 0.2 * w.max(), w, 0.0)
    rows, cols = np.indices(w.shape)
    return np.array([(rows * w).sum(), (cols * w).sum()]) / w.sum()


@pytest.mark.parametrize("bead", [(45, 50, 55), (20, 30, 80), (70, 75, 25)])
@pytest.mark.parametrize("pose", [(0, 0, 0), (15, 0, 0), (0, -15, 0), (0, 0, 15), (-10, 12, -7)])
def test_bead_lands_where_perspective_predicts(bead, pose):
    projector, volume = bead_projector(bead)
    image = projector.render(np.array([pose], float))[0]
    point = ORIGIN + SPACING * np.array(bead[::-1], float)  # (x, y, z) of the bead centre
    expected = project_point(projector.geometry, volume.isocentre, point, pose)
    assert np.abs(centroid(image) - expected).max() < 0.5


def test_conventions_patient_left_is_image_right_and_head_is_up():
    # A bead to the patient's left (+x) and superior (+z) of the centre.
    projector, volume = bead_projector((75, 50, 95))
    row, col = centroid(projector.render(np.zeros((1, 3)))[0])
    assert col > 32 and row < 32


def test_rotation_order_is_x_then_y_then_z():
    a = rotation_matrix([10, 20, 30])
    rx, ry, rz = (rotation_matrix(v) for v in ([10, 0, 0], [0, 20, 0], [0, 0, 30]))
    assert np.allclose(a, rz @ ry @ rx)
    assert np.allclose(rotation_matrix([0, 0, 90]) @ [1, 0, 0], [0, 1, 0])  # right-hand rule about z


def test_magnification_of_the_isocentre_plane():
    g = geometry(source_to_detector_mm=1200, source_to_isocentre_mm=950, pixels=100, detector_mm=400)
    iso = np.zeros(3)
    # 40 mm to the left at the isocentre spans 40 · 1200/950 mm on the detector.
    row, col = project_point(g, iso, [40.0, 0, 0], [0, 0, 0])
    assert col - 49.5 == pytest.approx(40 * g.magnification / g.pixel_mm)
    assert row == pytest.approx(49.5)
