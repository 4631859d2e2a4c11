"""Registration reads back the pose of a view of its CT; an unrotated view reads as unrotated."""

import numpy as np
import pytest
import torch

from components.drr.projector import DensityVolume, TorchProjector
from components.drr.render import render_views
from components.evaluation.registration import PoseDictionary, parabola_offset, rotation_error
from tests.params import drr_config, protocol

DRR = drr_config(geometry={"pixels": 32, "detector_mm": 380}, physics={"photons_per_mm2": 0.0})


@pytest.fixture(scope="module")
def volume():
    """An asymmetric 'pelvis': an elliptic body with three bone blocks at different depths."""
    hu = np.full((80, 70, 90), -1000.0, np.float32)  # z, y, x at 4 mm
    z, y, x = np.indices(hu.shape)
    hu[((x - 45) / 38.0) ** 2 + ((y - 35) / 28.0) ** 2 <= 1] = 40.0
    hu[20:60, 15:25, 20:32] = 1200.0
    hu[35:45, 40:55, 55:70] = 1200.0
    hu[55:70, 30:36, 40:50] = 900.0
    return DensityVolume.from_hu(hu, 4.0, (-178.0, -138.0, -158.0))


def test_recovers_the_pose_of_drrs_within_a_degree(volume):
    dictionary = PoseDictionary(volume, DRR, protocol(registration={"pixels": 32, "step_deg": 3.0, "limit_deg": 15.0}).registration)
    poses = np.array([[0, 0, 0], [7, -4, 2], [-11, 9, 5], [4, 13, -9]], float)
    images, _, _ = render_views(TorchProjector(volume, DRR.geometry, DRR.physics), poses, DRR, torch.Generator())
    error = rotation_error(dictionary.recover(images), poses)
    assert error.max() < 1.0, error


def test_an_unrotated_view_reads_as_the_source_pose(volume):
    dictionary = PoseDictionary(volume, DRR, protocol(registration={"pixels": 32, "step_deg": 3.0, "limit_deg": 15.0}).registration)
    source = np.array([[5, -5, 10]], float)
    image, _, _ = render_views(TorchProjector(volume, DRR.geometry, DRR.physics), source, DRR, torch.Generator())
    requested = source + np.array([[0, 0, -12]])
    assert rotation_error(dictionary.recover(image), requested)[0] > 3.0  # identity misses a 12° rotation


def test_parabola_finds_the_peak_between_samples():
    # samples of -(t - 0.3)² at -1, 0, 1
    assert parabola_offset(np.array([-1.69]), np.array([-0.09]), np.array([-0.49]))[0] == pytest.approx(0.3)
    assert parabola_offset(np.array([1.0]), np.array([0.0]), np.array([1.0]))[0] == 0.0  # a valley: stay
