"""The torch projector: physics against closed forms, noise, batching, device."""

import numpy as np
import pytest
import torch

from components.drr.physics import densities, detector_weights, tube_spectrum
from components.drr.projector import DensityVolume, TorchProjector
from tests.params import geometry, physics

NO_EXTRAS = physics(scatter_fraction=0.0, photons_per_mm2=0.0)


def slab(hu_value, thickness_vox=50, spacing=2.0):
    hu = np.full((40, 120, 40), -1000.0, np.float32)  # z, y, x: a slab across the beam
    hu[:, 35:35 + thickness_vox, :] = hu_value
    return DensityVolume.from_hu(hu, spacing, (-39.0, -119.0, -39.0))


def centre_value(volume, physics=NO_EXTRAS):
    projector = TorchProjector(volume, geometry(pixels=16, detector_mm=60), physics)
    return float(projector.render(np.zeros((1, 3)))[0, 7:9, 7:9].mean()), projector


@pytest.mark.parametrize("hu_value, material", [(0.0, 0), (1350.0, 1)])
def test_slab_follows_polychromatic_beer_lambert(hu_value, material):
    value, projector = centre_value(slab(hu_value))
    density = densities(np.array([[[hu_value]]]))[material].item()
    _, weights, mu = detector_weights(90.0, 2.5)
    # Near-central rays cross the 100 mm slab almost perpendicularly.
    expected = -np.log((weights * np.exp(-mu[material] * density * 10.0)).sum())
    assert value == pytest.approx(expected, rel=0.01)


def test_air_is_zero_and_thicker_is_brighter():
    air, _ = centre_value(slab(-1000.0))
    thin, _ = centre_value(slab(0.0, thickness_vox=20))
    thick, _ = centre_value(slab(0.0, thickness_vox=50))
    assert air == pytest.approx(0.0, abs=1e-6) and 0 < thin < thick


def test_beam_hardening_makes_log_attenuation_sublinear():
    thin, _ = centre_value(slab(1350.0, thickness_vox=10))
    thick, _ = centre_value(slab(1350.0, thickness_vox=40))
    assert thick < 4 * thin  # a monoenergetic beam would give exactly 4×


def test_spectrum_is_normalised_and_hardened_by_filtration():
    e, soft = tube_spectrum(90, 1.0)
    _, hard = tube_spectrum(90, 6.0)
    assert soft.sum() == pytest.approx(1.0) and e.max() < 90
    assert (e * hard).sum() > (e * soft).sum()


def test_metal_channel_only_when_there_is_metal():
    assert slab(0.0).data.shape[1] == 2
    assert slab(3000.0).data.shape[1] == 3


def test_noise_is_seeded_and_scatter_lifts_the_shadow():
    volume = slab(1350.0)
    noisy = physics(scatter_fraction=0.0, photons_per_mm2=1000.0)
    a, _ = centre_value(volume, noisy)
    projector = TorchProjector(volume, geometry(pixels=16, detector_mm=60), noisy)
    one = projector.render(np.zeros((1, 3)), generator=torch.Generator().manual_seed(3))
    two = projector.render(np.zeros((1, 3)), generator=torch.Generator().manual_seed(3))
    assert torch.equal(one, two)
    clean, _ = centre_value(volume)
    scattered, _ = centre_value(volume, physics(scatter_fraction=0.3, photons_per_mm2=0.0))
    assert scattered < clean  # scatter adds signal behind the slab: less apparent attenuation


def test_batched_poses_equal_one_at_a_time():
    rng = np.random.default_rng(0)
    hu = rng.uniform(-200, 1500, (30, 30, 30)).astype(np.float32)
    projector = TorchProjector(DensityVolume.from_hu(hu, 3.0, (-43.5, -43.5, -43.5)), geometry(pixels=24),
                               NO_EXTRAS)
    poses = np.array([[0, 0, 0], [5, -3, 10], [-15, 15, -15]], float)
    together = projector.render(poses)
    alone = torch.cat([projector.render(p[None]) for p in poses])
    assert torch.allclose(together, alone, atol=1e-5)


def test_downsampling_preserves_mass():
    hu = np.random.default_rng(1).uniform(-100, 100, (20, 20, 20)).astype(np.float32)
    fine = DensityVolume.from_hu(hu, 1.0, (0, 0, 0))
    coarse = DensityVolume.from_hu(hu, 1.0, (0, 0, 0), volume_spacing_mm=2.0)
    assert float(coarse.data.sum()) * 8 == pytest.approx(float(fine.data.sum()), rel=1e-5)
    assert np.allclose(coarse.box[0], fine.box[0]) and np.allclose(coarse.box[1], fine.box[1])


def test_cancellous_bone_attenuates_partly_as_bone():
    """Between `mix_from` and cortical HU a voxel is a water–bone mixture: 260 HU (an iliac wing's
    interior) attenuates more than 260 HU of water-like tissue would, and less than cortical bone."""
    cancellous, _ = centre_value(slab(260.0))
    _, weights, mu = detector_weights(90.0, 2.5)
    as_soft_tissue = -np.log((weights * np.exp(-mu[0] * 1.26 * 10.0)).sum())
    cortical, _ = centre_value(slab(1350.0))
    assert as_soft_tissue < cancellous < cortical
    d = densities(np.array([[[100.0, 101.0]]]))  # continuous where the mixture begins
    mu60 = {"soft": 0.2059, "bone": 0.3148}
    below, above = d[0, 0, 0, 0] * mu60["soft"], d[0, 0, 0, 1] * mu60["soft"] + d[1, 0, 0, 1] * mu60["bone"]
    assert above == pytest.approx(below, rel=0.05)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none present")
def test_cuda_matches_cpu():
    hu = np.random.default_rng(2).uniform(-200, 1500, (30, 30, 30)).astype(np.float32)
    cpu = TorchProjector(DensityVolume.from_hu(hu, 3.0, (0, 0, 0)), geometry(pixels=32), NO_EXTRAS)
    gpu = TorchProjector(DensityVolume.from_hu(hu, 3.0, (0, 0, 0), device="cuda"), geometry(pixels=32), NO_EXTRAS)
    poses = np.array([[0, 0, 0], [10, -5, 3]], float)
    assert torch.allclose(cpu.render(poses), gpu.render(poses).cpu(), atol=1e-4)


@pytest.mark.gpu
def test_deepdrr_backend_reports_why_it_cannot_run():
    from components.drr.projector import deepdrr_available

    ok, why = deepdrr_available()
    if ok:
        pytest.skip("DeepDRR is available: compared in benchmarks/drr.py --deepdrr")
    assert "CUDA" in why or "not installed" in why
