"""DRRs per second from a 1 mm pelvis CT: the torch backend vs a plain ray-marcher, measured fairly.

    python benchmarks/drr.py [--ct pool/ct/<id>.nii.gz] [--pixels 256] [--rounds 5] [--threads 2]
                             [--out benchmarks/results/drr.json]

The reference is the plain approach measured in DESIGN.md: march every ray from
source to detector through the full 1 mm volume at 1 mm steps with 3D
`grid_sample`. Every method does the same work per round — build its volume
from the HU array (materials, averaging down) and render the same poses — and is
warmed once before timing. Rounds interleave the methods (their order rotates
each round), so a busy neighbour slows all of them alike; the table reports the
median seconds and the median of the per-round ratios to the reference, and the
JSON keeps every round. Peak memory is what one round of a method adds to the
peak resident set of a fresh child process that holds the CT: the kernel's
high-water mark is reset once the CT is loaded, so neither the load's own peak
nor allocator caches of an earlier round can hide it.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from components.config import load_config
from components.drr import geometry as geo
from components.drr.physics import detector_weights
from components.drr.projector import DensityVolume, TorchProjector
from components.drr.render import DRRConfig

POSES = np.array([[0, 0, 0], [10, -5, 3], [-15, 15, -15], [5, 0, 12]], float)
PAPER = DRRConfig.from_params(load_config(Path(__file__).resolve().parents[1] / "params.yaml", "paper").drrs)
CLEAN = replace(PAPER.physics, scatter_fraction=0.0, photons_per_mm2=0.0)
METHODS = ("reference", "torch 1 mm", "torch 2 mm")


def pool_ct(path: str | None) -> tuple[np.ndarray, tuple, str]:
    """Any CT (default: the first pool volume), resampled to the report's 1 mm grid."""
    from components.ct.eligibility import Eligibility
    from components.ct.ingest import read_ct_volume

    if path is None:
        candidates = sorted(Path("pool/ct").glob("*.nii.gz"))
        if not candidates:
            raise SystemExit("no pool volume: run `make repro` first or pass --ct")
        path = candidates[0]
    image, _ = read_ct_volume(path, 1.0, Eligibility.from_params(load_config().ct_pool.eligibility))
    return sitk.GetArrayFromImage(image), image.GetOrigin(), str(path)


def reference_drrs(hu: np.ndarray, origin, geometry: geo.Geometry, poses: np.ndarray) -> torch.Tensor:
    """Plain ray marching: 1 mm steps over the whole source-side to detector-side span, 3D trilinear."""
    volume = DensityVolume.from_hu(hu, 1.0, origin)  # same materials, no averaging down
    _, weights, mu = detector_weights(90.0, 2.5)
    mu_eff = torch.as_tensor((mu[: volume.data.shape[1]] * weights).sum(1), dtype=torch.float32)
    lo, hi = (torch.as_tensor(v, dtype=torch.float32) for v in volume.box)
    half_diagonal = float(np.linalg.norm(hi - lo)) / 2
    origins, directions = geo.rays(geometry, volume.isocentre, poses)
    t = geometry.source_to_isocentre_mm - half_diagonal + torch.arange(0.0, 2 * half_diagonal, 1.0)
    out = []
    for b in range(len(poses)):
        image = torch.zeros(geometry.pixels, geometry.pixels)
        for r0 in range(0, geometry.pixels, 16):
            pts = origins[b] + t[None, None, :, None] * directions[b, r0:r0 + 16, :, None, :]
            grid = ((pts - lo) / (hi - lo) * 2 - 1)[None]
            samples = F.grid_sample(volume.data, grid, align_corners=False)[0]  # (M, r, c, K)
            image[r0:r0 + 16] = torch.einsum("mrck,m->rc", samples, mu_eff) * 0.1
        out.append(image)
    return torch.stack(out)


def run_method(method: str, hu: np.ndarray, origin, geometry: geo.Geometry, poses: np.ndarray) -> torch.Tensor:
    """One round of a method: its volume from the HU array, then its DRRs (line integrals) at `poses`."""
    if method == "reference":
        return reference_drrs(hu, origin, geometry, poses)
    spacing = {"torch 1 mm": 1.0, "torch 2 mm": 2.0}[method]
    projector = TorchProjector(DensityVolume.from_hu(hu, 1.0, origin, spacing), geometry, CLEAN)
    return projector.render(poses)


def child_peak_mb(ct: str, method: str, pixels: int, threads: int) -> float:
    """Peak resident memory (MB) that one round of `method` adds to a fresh process holding the CT:
    the kernel's high-water mark (VmHWM) is reset after the CT is loaded (clear_refs 5), so the
    load's own peak (resampling) does not hide the method's."""
    code = ("import gc, re, torch; from benchmarks.drr import *; "
            f"torch.set_num_threads({threads}); hu, origin, _ = pool_ct({ct!r}); gc.collect(); "
            "kb = lambda key: int(re.search(key + r':\\s+(\\d+)', open('/proc/self/status').read()).group(1)); "
            "open('/proc/self/clear_refs', 'w').write('5'); before = kb('VmRSS'); "
            f"run_method({method!r}, hu, origin, replace(PAPER.geometry, pixels={pixels}), POSES); "
            "print(kb('VmHWM') - before)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1]) / 1024  # kB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ct")
    parser.add_argument("--pixels", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (set, not left to the default)")
    parser.add_argument("--out", default="benchmarks/results/drr.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hu, origin, ct = pool_ct(args.ct)
    geometry = replace(PAPER.geometry, pixels=args.pixels)  # the paper profile's detector

    images = {m: run_method(m, hu, origin, geometry, POSES) for m in METHODS}  # warm-up, and the images compared
    correlation = {m: float(np.corrcoef(images[m].flatten(), images["reference"].flatten())[0, 1]) for m in METHODS}
    seconds = {m: [] for m in METHODS}
    for r in range(args.rounds):
        order = METHODS[r % len(METHODS):] + METHODS[:r % len(METHODS)]  # rotate who goes first
        for m in order:
            start = time.perf_counter()
            run_method(m, hu, origin, geometry, POSES)
            seconds[m].append(time.perf_counter() - start)
    ratios = {m: [ref / s for ref, s in zip(seconds["reference"], seconds[m])] for m in METHODS}
    peak = {m: child_peak_mb(ct, m, args.pixels, args.threads) for m in METHODS}

    table = Table(title=f"{len(POSES)} DRRs at {args.pixels}² from a 1 mm CT {hu.shape[::-1]} (x, y, z), "
                        f"{args.threads} threads, {args.rounds} interleaved rounds; volume set-up included")
    for column in ("method", "median s / round", "DRRs/s", "× reference (median of rounds)", "per-round ×",
                   "peak MB", "corr. with reference"):
        table.add_column(column, justify="right")
    for m in METHODS:
        med = float(np.median(seconds[m]))
        table.add_row(m, f"{med:.2f}", f"{len(POSES) / med:.2f}", f"{np.median(ratios[m]):.1f}",
                      " ".join(f"{x:.1f}" for x in ratios[m]), f"{peak[m]:.0f}", f"{correlation[m]:.4f}")
    Console(width=160).print(table)
    result = {"benchmark": "drr", "ct": ct, "pixels": args.pixels, "poses": POSES.tolist(),
              "volume_shape_xyz": list(hu.shape[::-1]), "threads": args.threads, "rounds": args.rounds,
              "seconds_per_round": seconds, "ratio_to_reference_per_round": ratios,
              "median_ratio_to_reference": {m: float(np.median(ratios[m])) for m in METHODS},
              "peak_rss_mb_above_loaded_ct": peak, "correlation_with_reference": correlation,
              "machine": {"platform": platform.platform(), "torch": torch.__version__,
                          "cpu_count": __import__("os").cpu_count()}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
