"""The synthetic pool: deterministic, anatomically plausible, with its traps."""

import hashlib
import json

import numpy as np
import SimpleITK as sitk

from components.ct import synthetic
from components.ct.phantom import CORTICAL, METAL, PhantomSpec, render_pelvis


def digest(folder):
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    plans = synthetic.plan_pool(4, seed=3, dicom_every=2, inplane_mm=(5.0, 5.0))[:2]
    for run in ("a", "b"):
        for plan in plans:
            synthetic.write_series(plan, 3, tmp_path / run)
    assert {p.fmt for p in plans} == {"nifti", "dicom"}
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    other = synthetic.plan_pool(4, seed=4, dicom_every=2, inplane_mm=(5.0, 5.0))[0]
    synthetic.write_series(other, 4, tmp_path / "c")
    assert (tmp_path / "c" / "series000.nii.gz").read_bytes() != (tmp_path / "a" / "series000.nii.gz").read_bytes()


def test_plan_has_repeat_patients_varied_spacing_and_every_trap():
    plans = synthetic.plan_pool(14, seed=0)
    assert {p.kind for p in plans} == {"eligible", *synthetic.INELIGIBLE_KINDS}
    assert len({p.patient for p in plans}) < len(plans)  # some patients have several series
    assert len({p.thickness_mm for p in plans}) > 2 and len({p.inplane_mm for p in plans}) > 5
    assert len({p.site for p in plans}) > 1


def test_sidecar_carries_metadata_and_the_phi_that_ingest_must_drop(tmp_path):
    plan = synthetic.plan_pool(4, seed=1, inplane_mm=(6.0, 6.0))[0]
    path = synthetic.write_series(plan, 1, tmp_path)
    sidecar = json.loads(path.with_name("series000.json").read_text())
    assert sidecar["PatientName"] and sidecar["PatientID"].startswith("MRN")
    assert sidecar["AcquisitionDateTime"].startswith(plan.date.isoformat())


def test_phantom_anatomy_in_hounsfield_units():
    rng = np.random.default_rng(0)
    spec = PhantomSpec.draw(rng, metal_fraction=0.0)
    spacing = (3.0, 3.0, 3.0)
    hu = render_pelvis(spec, (105, 94, 127), spacing, (-190, -140, -150), rng)
    assert abs(np.median(hu[:, :3, :3]) + 1000) < 20  # air in the corners
    bone = hu > 700
    assert 0.005 < bone.mean() < 0.08
    lr = bone.sum(axis=(0, 1))
    left, right = lr[: lr.size // 2].sum(), lr[lr.size // 2:].sum()
    assert 0.8 < left / right < 1.25  # two hips, roughly symmetric
    assert hu.max() < CORTICAL + 300  # no metal without arthroplasty


def test_arthroplasty_puts_metal_on_the_chosen_side():
    rng = np.random.default_rng(1)
    spec = PhantomSpec.draw(rng, metal_fraction=1.0)
    hu = render_pelvis(spec, (105, 94, 127), (3.0, 3.0, 3.0), (-190, -140, -150), rng)
    metal_x = np.nonzero(hu > METAL - 600)[2] * 3.0 - 190
    right, left = spec.arthroplasty
    assert (metal_x < 0).any() == right and (metal_x > 0).any() == left


def test_sagittal_trap_is_written_sagittal(tmp_path):
    plans = synthetic.plan_pool(16, seed=0, inplane_mm=(6.0, 6.0))
    sag = next(p for p in plans if p.kind == "sagittal")
    path = synthetic.write_series(sag, 0, tmp_path)
    image = sitk.ReadImage(str(path)) if path.is_file() else None
    if image is None:  # written as DICOM
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(path)))
        image = reader.Execute()
    normal = np.asarray(image.GetDirection()).reshape(3, 3)[:, 2]
    assert abs(normal[0]) > 0.99  # slices stacked along left-right
