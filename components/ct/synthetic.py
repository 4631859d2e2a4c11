"""A synthetic CT pool: pelvis phantoms as a hospital export would deliver them.

Patients get one to three series (different dates or reconstructions); series
vary in pixel spacing and slice thickness; some are NIfTI with a dcm2niix-style
sidecar, some DICOM folders carrying a patient name and birth date (so the
pipeline's de-identification is exercised on every run); a few are deliberately
ineligible. The same seed gives the same files, byte for byte.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from components.atomic_write import atomic_path
from components.ct import dicom
from components.ct.phantom import PhantomSpec, render_pelvis

SITES = ("Site North", "Site South", "Site West")
# Each ineligible kind breaks one of the report's rules, and says so in its series name.
INELIGIBLE_KINDS = ("thick-slices", "few-slices", "partial-coverage", "sagittal")
FIRST_NAMES = ("Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea")
LAST_NAMES = ("Moreau", "Okafor", "Lindqvist", "Tanaka", "Rossi", "Novak", "Haddad", "Silva")


@dataclass(frozen=True)
class SeriesPlan:
    index: int
    patient: int
    kind: str  # "eligible" or one of INELIGIBLE_KINDS
    fmt: str  # "nifti" | "dicom"
    inplane_mm: float
    thickness_mm: float
    date: dt.date
    site: str

    @property
    def name(self) -> str:
        return f"series{self.index:03d}" + ("" if self.kind == "eligible" else f"-{self.kind}")


def plan_pool(n_series: int, seed: int, dicom_every: int = 4,
              inplane_mm: tuple[float, float] = (1.4, 2.0)) -> list[SeriesPlan]:
    """Decide every series of the pool before rendering any (cheap, deterministic)."""
    rng = np.random.default_rng([seed, 0])
    n_bad = 0 if n_series < 4 else min(len(INELIGIBLE_KINDS), -(-n_series // 4))
    plans, patient, index = [], 0, 0
    while index < n_series:
        site = SITES[int(rng.integers(len(SITES)))]
        first_date = dt.date(2000, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 19)))
        for repeat in range(min(int(rng.choice([1, 1, 1, 2, 3])), n_series - index)):
            kind = INELIGIBLE_KINDS[index - (n_series - n_bad)] if index >= n_series - n_bad else "eligible"
            thickness = {"thick-slices": 3.0}.get(kind, float(rng.choice([0.8, 1.0, 1.25, 1.5])))
            plans.append(SeriesPlan(
                index=index, patient=patient, kind=kind,
                fmt="dicom" if index % dicom_every == dicom_every - 1 else "nifti",
                inplane_mm=round(float(rng.uniform(*inplane_mm)), 3), thickness_mm=thickness,
                date=first_date + dt.timedelta(days=int(rng.integers(0, 900)) * min(repeat, 1)),
                site=site))
            index += 1
        patient += 1
    return plans


def render_series(plan: SeriesPlan, seed: int) -> tuple[np.ndarray, tuple, tuple, np.ndarray]:
    """HU volume (z, y, x), spacing (x, y, z), origin and direction for one planned series."""
    anatomy_rng = np.random.default_rng([seed, 1, plan.patient])  # same patient, same anatomy
    spec = PhantomSpec.draw(anatomy_rng)
    rng = np.random.default_rng([seed, 2, plan.index])
    spacing = (plan.inplane_mm, plan.inplane_mm, plan.thickness_mm)
    x0, x1, y0, y1 = -190.0, 190.0, -140.0, 140.0
    # Mid-femur to above the iliac crests (L4): longer than the detector's field of view at
    # every pose, so DRRs show anatomy, not the volume's flat top and bottom.
    z0, z1 = -200.0 + rng.uniform(-10, 10), 190.0 + rng.uniform(-10, 10)
    if plan.kind == "few-slices":
        z0, z1 = -20.0, -20.0 + 40 * plan.thickness_mm  # a 40-slice scout through the hips
    elif plan.kind == "partial-coverage":
        z0, z1 = -100.0, 20.0  # hips only: no iliac crest
    shape = (int(round((z1 - z0) / spacing[2])), int(round((y1 - y0) / spacing[1])),
             int(round((x1 - x0) / spacing[0])))
    origin = (x0 + spacing[0] / 2, y0 + spacing[1] / 2, z0 + spacing[2] / 2)
    hu = np.rint(render_pelvis(spec, shape, spacing, origin, rng)).astype(np.int16)
    return hu, spacing, origin, np.eye(3)


def patient_meta(plan: SeriesPlan, seed: int) -> dict:
    """DICOM-keyword metadata, identifying fields included (ingest must drop them)."""
    prng = np.random.default_rng([seed, 3, plan.patient])
    name = f"{LAST_NAMES[prng.integers(len(LAST_NAMES))]}^{FIRST_NAMES[prng.integers(len(FIRST_NAMES))]}"
    birth = dt.date(1930, 1, 1) + dt.timedelta(days=int(prng.integers(0, 365 * 60)))
    # Height and weight follow the phantom's own draws (its own generator: no other draw moves), so BMI is a
    # label the images can show: the body's width grows with habitus, its fat layer with fat_mm.
    spec = PhantomSpec.draw(np.random.default_rng([seed, 1, plan.patient]))
    height_m = round(1.70 * spec.scale, 2)
    bmi = 27.0 * spec.habitus**2 + (spec.fat_mm - 22.0) / 4.0
    return {
        "PatientName": name, "PatientID": f"MRN{seed:02d}{plan.patient:05d}",
        "PatientBirthDate": birth.strftime("%Y%m%d"), "PatientSex": "FM"[plan.patient % 2],
        "InstitutionName": plan.site, "AcquisitionDate": plan.date.strftime("%Y%m%d"),
        "StudyDate": plan.date.strftime("%Y%m%d"), "SeriesDate": plan.date.strftime("%Y%m%d"),
        "PatientSize": height_m, "PatientWeight": round(bmi * height_m**2, 1),
        "SliceThickness": plan.thickness_mm, "SeriesDescription": f"PELVIS {plan.thickness_mm:g}mm",
        "uid_seed": f"{seed}-{plan.index}",
    }


def write_series(plan: SeriesPlan, seed: int, out_dir: str | Path) -> Path:
    """Render and write one series; returns the NIfTI file or the DICOM folder."""
    out_dir = Path(out_dir)
    hu, spacing, origin, direction = render_series(plan, seed)
    meta = patient_meta(plan, seed)
    if plan.kind == "sagittal":
        # Re-slice along patient x: image axes i → posterior, j → inferior, k (slices) → left.
        hu = np.ascontiguousarray(hu.transpose(2, 0, 1)[:, ::-1, :])
        top_z = origin[2] + spacing[2] * (hu.shape[1] - 1)
        origin, spacing = (origin[0], origin[1], top_z), (spacing[1], spacing[2], spacing[0])
        direction = np.array([[0, 0, 1], [1, 0, 0], [0, -1, 0]], float)
    if plan.fmt == "dicom":
        with atomic_path(out_dir / plan.name) as tmp:
            dicom.write_series(hu, spacing, origin, tmp, meta, direction=direction)
        return out_dir / plan.name
    image = sitk.GetImageFromArray(hu)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection(direction.ravel().tolist())
    target = out_dir / f"{plan.name}.nii.gz"
    with atomic_path(target) as tmp:
        sitk.WriteImage(image, str(tmp), useCompression=True)
    write_sidecar(plan, meta, target)
    return target


def write_sidecar(plan: SeriesPlan, meta: dict, nifti: Path) -> Path:
    """The dcm2niix-style JSON beside a NIfTI series (DICOM series carry the same fields in their headers,
    but for weight and height, which the DICOM writer leaves out: a pool with a label missing for some CTs)."""
    sidecar = {k: meta[k] for k in ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "PatientWeight",
                                    "PatientSize", "InstitutionName", "SliceThickness", "SeriesDescription")}
    sidecar["AcquisitionDateTime"] = plan.date.isoformat() + "T09:30:00"
    sidecar["Modality"] = "CT"
    path = nifti.with_name(f"{plan.name}.json")
    path.write_text(json.dumps(sidecar, indent=2) + "\n")
    return path


def synthetic_salt(seed: int) -> str:
    """The synthetic pool's salt: fixed by the seed so that its ids are reproducible.

    (Synthetic patients need no secret; a real pool gets a random salt.)
    """
    return hashlib.sha256(f"radrotator-synthetic-{seed}".encode()).hexdigest()
