"""What the pool keeps for radiograph generation: sex, age in years, BMI, and metal on each side."""

import numpy as np
import SimpleITK as sitk

from components.ct import dicom
from components.ct.ingest import ingest_series, metal_sides
from components.ct.phantom import PhantomSpec, render_pelvis
from tests.conftest import SALT, tiny_ct, write_nifti


def phantom_image(spec: PhantomSpec, rng) -> sitk.Image:
    spacing, origin = (4.0, 4.0, 4.0), (-190.0, -140.0, -150.0)
    hu = render_pelvis(spec, (80, 70, 95), spacing, origin, rng)
    image = sitk.GetImageFromArray(hu.astype(np.int16))
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    return image


def test_metal_on_each_side_is_the_phantoms_arthroplasty():
    found = {}
    for seed in range(40):
        rng = np.random.default_rng(seed)
        spec = PhantomSpec.draw(rng, metal_fraction=1.0)
        if spec.arthroplasty in found:
            continue
        sides = metal_sides(phantom_image(spec, rng), 2500, 20)
        found[spec.arthroplasty] = (sides["metal_right"], sides["metal_left"])
        if len(found) == 3:
            break
    assert found == {(True, False): (True, False), (False, True): (False, True), (True, True): (True, True)}
    rng = np.random.default_rng(0)
    none = metal_sides(phantom_image(PhantomSpec.draw(rng, metal_fraction=0.0), rng), 2500, 20)
    assert none == {"metal_right": False, "metal_left": False}


def test_ingest_keeps_sex_age_and_bmi_from_a_sidecar_and_top_codes_old_ages(tmp_path, rules):
    src = tmp_path / "src"
    path = write_nifti(src / "a.nii.gz", tiny_ct(), meta={
        "PatientBirthDate": "19500302", "AcquisitionDate": "2014-03-01", "PatientSex": "F",
        "PatientWeight": 81.0, "PatientSize": 1.8})
    row = ingest_series(path, src, tmp_path / "pool", rules, 4.0, SALT).row
    assert (row["sex"], row["age_years"], row["bmi"]) == ("f", 63, 25.0)  # a day short of 64
    old = write_nifti(src / "b.nii.gz", tiny_ct(), meta={"PatientBirthDate": "19100101", "PatientSex": "O",
                                                       "PatientWeight": "heavy", "PatientSize": 1.7})
    row = ingest_series(old, src, tmp_path / "pool", rules, 4.0, SALT).row
    assert (row["sex"], row["age_years"], row["bmi"]) == ("unknown", 90, None)  # 105 → 90; malformed → unknown


def test_ingest_reads_sex_and_age_from_dicom_and_leaves_bmi_unknown_without_weight(tmp_path, rules):
    meta = {"PatientName": "Doe^Jane", "PatientID": "MRN-1", "PatientBirthDate": "19610203", "PatientSex": "M",
            "AcquisitionDate": "20140305", "InstitutionName": "Site X", "uid_seed": "labels"}
    folder = dicom.write_series(tiny_ct(), (10.0, 10.0, 1.5), (0, 0, 0), tmp_path / "src" / "s1", meta)
    row = ingest_series(folder, tmp_path / "src", tmp_path / "pool", rules, 4.0, SALT).row
    assert (row["sex"], row["age_years"], row["bmi"]) == ("m", 53, None)
    assert row["metal_right"] is False and row["metal_left"] is False
