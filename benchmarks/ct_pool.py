"""Seconds per volume for ingest + resampling of a 512×512×300 CT series.

    python benchmarks/ct_pool.py [--slices 300] [--out benchmarks/results/ct_pool.json]

A synthetic pelvis at 0.75 mm pixels and 1 mm slices is written once as NIfTI
and once as a DICOM folder, then each is ingested as the ct_pool stage does
(read, checks, resample to 1 mm, write .nii.gz), timing every step.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from rich.console import Console
from rich.table import Table

from components.config import load_config
from components.ct import dicom
from components.ct.eligibility import Eligibility, geometry_reasons, intensity_reasons
from components.ct.ingest import ingest_series, resample_int16
from components.ct.phantom import PhantomSpec, render_pelvis
from components.ct.series import read_series


def make_volume(slices: int) -> tuple[np.ndarray, tuple, tuple]:
    spacing = (0.75, 0.75, 1.0)
    origin = (-192.0 + 0.375, -192.0 + 0.375, -150.0)
    rng = np.random.default_rng(0)
    hu = render_pelvis(PhantomSpec.draw(rng, metal_fraction=0.0), (slices, 512, 512), spacing, origin, rng)
    return np.rint(hu).astype(np.int16), spacing, origin


def time_steps(path: Path, root: Path, out: Path, rules: Eligibility) -> dict:
    t0 = time.perf_counter()
    series = read_series(path, root)
    t1 = time.perf_counter()
    reasons = geometry_reasons(series.image, series.meta, rules) + intensity_reasons(
        sitk.GetArrayViewFromImage(series.image), rules)
    t2 = time.perf_counter()
    resampled = resample_int16(series.image, 1.0)
    t3 = time.perf_counter()
    sitk.WriteImage(resampled, str(out / "step.nii.gz"), useCompression=True)
    t4 = time.perf_counter()
    result = ingest_series(path, root, out, rules, 1.0, "benchmark-salt-0123456789")
    t5 = time.perf_counter()
    assert not reasons and result.accepted, (reasons, result.reason)
    return {"read_s": t1 - t0, "checks_s": t2 - t1, "resample_s": t3 - t2, "write_s": t4 - t3,
            "ingest_total_s": t5 - t4, "output_shape_xyz": list(resampled.GetSize())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--out", default="benchmarks/results/ct_pool.json")
    args = parser.parse_args()

    rules = Eligibility.from_params(load_config().ct_pool.eligibility)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        hu, spacing, origin = make_volume(args.slices)
        render_s = time.perf_counter() - t
        meta = {"PatientID": "BENCH", "AcquisitionDate": "20200101", "uid_seed": "bench"}
        src = tmp / "src"
        src.mkdir()
        image = sitk.GetImageFromArray(hu)
        image.SetSpacing(spacing)
        image.SetOrigin(origin)
        sitk.WriteImage(image, str(src / "vol.nii.gz"), useCompression=True)
        (src / "vol.json").write_text(json.dumps({"PatientID": "BENCH", "AcquisitionDate": "2020-01-01"}))
        dicom.write_series(hu, spacing, origin, src / "dicom", meta)
        rows = {}
        for name, path in (("nifti", src / "vol.nii.gz"), ("dicom", src / "dicom")):
            out = tmp / f"out_{name}"
            out.mkdir()
            rows[name] = time_steps(path, src, out, rules)

    result = {
        "benchmark": "ct_pool ingest + resampling",
        "input_shape_xyz": [512, 512, args.slices], "input_spacing_mm": list(spacing),
        "target_spacing_mm": 1.0, "phantom_render_s": render_s, "results": rows,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "machine": {"cpu_count": __import__("os").cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "simpleitk": sitk.Version_VersionString()},
    }
    table = Table(title=f"ct_pool: 512×512×{args.slices} series → 1 mm (seconds)")
    for column in ("format", "read", "checks", "resample", "write", "ingest total"):
        table.add_column(column, justify="right")
    for name, r in rows.items():
        table.add_row(name, *(f"{r[k]:.2f}" for k in ("read_s", "checks_s", "resample_s", "write_s",
                                                       "ingest_total_s")))
    Console().print(table)
    print(f"peak RSS {result['peak_rss_mb']:.0f} MB; output {rows['nifti']['output_shape_xyz']}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
