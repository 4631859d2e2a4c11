"""Resampling keeps physical extent, position and HU; NIfTI geometry reads as ITK reads it."""

import numpy as np
import pytest
import SimpleITK as sitk

from components.ct.resample import resample_isotropic
from components.ct.series import nifti_to_sitk
from tests.conftest import write_nifti


def sphere_image(radius_mm=20.0, spacing=(0.7, 0.7, 1.5), size_mm=(70.0, 70.0, 72.0)):
    shape = [int(round(s / d)) for s, d in zip(size_mm, spacing)]
    axes = [(np.arange(n) + 0.5) * d - s / 2 for n, d, s in zip(shape, spacing, size_mm)]
    z, y, x = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    # Anti-aliased edge (partial-volume), as a scanner would record it.
    hu = np.clip(radius_mm - np.sqrt(x**2 + y**2 + z**2), -0.5, 0.5) * 2000.0
    image = sitk.GetImageFromArray(hu.astype(np.float32))
    image.SetSpacing(spacing)
    image.SetOrigin([-s / 2 + d / 2 for s, d in zip(size_mm, spacing)])
    return image


def test_sphere_keeps_its_volume_within_2_percent():
    radius = 20.0
    out = resample_isotropic(sphere_image(radius), 1.0)
    inside = (sitk.GetArrayViewFromImage(out) > 0).sum()  # 1 mm³ voxels
    expected = 4 / 3 * np.pi * radius**3
    assert abs(inside - expected) / expected < 0.02


def test_physical_extent_and_position_are_kept():
    image = sphere_image()
    out = resample_isotropic(image, 1.0)
    assert out.GetSpacing() == (1.0, 1.0, 1.0)
    assert out.GetSize() == (70, 70, 72)
    lo_in = np.asarray(image.GetOrigin()) - np.asarray(image.GetSpacing()) / 2
    lo_out = np.asarray(out.GetOrigin()) - 0.5
    assert np.allclose(lo_in, lo_out, atol=1e-6)
    centre = out.TransformPhysicalPointToIndex((0.0, 0.0, 0.0))
    assert sitk.GetArrayViewFromImage(out)[centre[::-1]] == pytest.approx(1000.0)


def test_uniform_hu_is_preserved():
    image = sitk.GetImageFromArray(np.full((30, 20, 20), 123.0, np.float32))
    image.SetSpacing((0.8, 0.8, 1.25))
    out = resample_isotropic(image, 1.0)  # keep a reference: views do not own the pixels
    assert np.allclose(sitk.GetArrayViewFromImage(out), 123.0)


def test_flipped_input_lands_in_lps():
    hu = np.zeros((10, 12, 14), np.float32)
    hu[:, :, :3] = 500  # a slab at the first columns
    image = sitk.GetImageFromArray(hu)
    image.SetDirection((-1, 0, 0, 0, 1, 0, 0, 0, 1))  # x axis runs to the patient's right
    image.SetOrigin((13.0, 0.0, 0.0))
    out = resample_isotropic(image, 1.0)
    assert out.GetDirection() == (1, 0, 0, 0, 1, 0, 0, 0, 1)
    # The slab occupied physical x 11..13 → now the last columns.
    assert np.all(sitk.GetArrayViewFromImage(out)[:, :, -3:] == 500)
    assert np.all(sitk.GetArrayViewFromImage(out)[:, :, :-3] == 0)


def test_nibabel_reader_matches_itk_geometry(tmp_path):
    a = np.deg2rad(7.0)
    direction = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    array = np.random.default_rng(0).normal(size=(9, 8, 7)).astype(np.float32)
    path = write_nifti(tmp_path / "g.nii.gz", array, spacing=(0.7, 0.9, 1.3), origin=(-10.0, 20.0, 5.0),
                       direction=direction, meta=False)
    import nibabel as nib

    nifti = nib.load(path)
    ours = nifti_to_sitk(nifti.get_fdata(dtype=np.float32), nifti.affine)
    itk = sitk.ReadImage(str(path))
    assert np.allclose(ours.GetSpacing(), itk.GetSpacing(), atol=1e-5)
    assert np.allclose(ours.GetOrigin(), itk.GetOrigin(), atol=1e-4)
    assert np.allclose(ours.GetDirection(), itk.GetDirection(), atol=1e-5)
    assert np.array_equal(sitk.GetArrayViewFromImage(ours), sitk.GetArrayViewFromImage(itk))
