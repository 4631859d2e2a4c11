"""The radiograph-style stand-in differs from the DRRs in intensity, not in anatomy."""

import numpy as np

from components.drr.display import window
from components.drr.projector import DensityVolume, TorchProjector
from components.evaluation.xray_style import Style, render_radiograph_style
from tests.conftest import tiny_ct
from tests.params import display, geometry, physics


def volume():
    hu = tiny_ct((130, 32, 32))
    hu[40:90, 12:20, 6:12] = 1300.0  # an off-centre bone block
    return DensityVolume.from_hu(np.ascontiguousarray(hu[::2]), 3.0, (0, 0, 0))


def test_style_changes_intensities_but_keeps_the_anatomy_in_place():
    vol, geo = volume(), geometry(pixels=32, detector_mm=500)
    poses = np.array([[0, 0, 0], [0, 10, 0]], float)
    style = Style.draw(np.random.default_rng(0))
    styled = render_radiograph_style(vol, geo, poses, style, seed=1)
    plain = display(equalisation=0.0)  # the DRR without the display chain's equalisation
    drr, _, _ = window(TorchProjector(vol, geo, physics(photons_per_mm2=0)).render(poses), plain, geo.pixel_mm)
    drr = drr.numpy()
    assert styled.shape == drr.shape and 0 <= styled.min() and styled.max() <= 1
    assert np.abs(np.sort(styled[0].ravel()) - np.sort(drr[0].ravel())).mean() > 0.05  # other histogram
    inner = (slice(6, 26), slice(6, 26))  # away from collimation and marker
    assert np.corrcoef(styled[0][inner].ravel(), drr[0][inner].ravel())[0, 1] > 0.8  # same anatomy


def test_same_seed_same_images_and_styles_vary():
    vol, geo = volume(), geometry(pixels=24)
    style = Style.draw(np.random.default_rng(3))
    a = render_radiograph_style(vol, geo, np.zeros((1, 3)), style, seed=5)
    b = render_radiograph_style(vol, geo, np.zeros((1, 3)), style, seed=5)
    assert np.array_equal(a, b)
    gammas = {round(Style.draw(np.random.default_rng(s)).gamma, 3) for s in range(10)}
    assert len(gammas) == 10
