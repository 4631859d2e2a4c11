"""DRRs per second at 256² from a 1 mm pelvis CT: the torch backend vs a plain ray-marcher.

    python benchmarks/drr.py [--ct pool/ct/<id>.nii.gz] [--out benchmarks/results/drr.json]

The reference is the plain approach measured in DESIGN.md: march every ray from
source to detector through the full 1 mm volume at 1 mm steps with 3D
`grid_sample`. Both run in this process, on the same CT and poses, so the ratio
holds on a noisy machine. Peak memory is the resident-set growth while a
configuration runs (CPU) or torch's peak allocation (CUDA).
"""

from __future__ import annotations

import argparse
import json
import platform
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import SimpleITK as sitk
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from components.drr import geometry as geo
from components.drr.physics import detector_weights
from components.drr.projector import DensityVolume, Physics, TorchProjector

POSES = np.array([[0, 0, 0], [10, -5, 3], [-15, 15, -15], [5, 0, 12]], float)
CLEAN = Physics(scatter_fraction=0.0, photons_per_pixel=0.0)


class PeakRSS:
    """Samples the process's resident set while a block runs."""

    def __enter__(self):
        self.process, self.base, self.peak, self.running = psutil.Process(), 0, 0, True
        self.base = self.peak = self.process.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def pool_ct(path: str | None) -> tuple[np.ndarray, tuple]:
    if path is None:
        candidates = sorted(Path("pool/ct").glob("*.nii.gz"))
        if not candidates:
            raise SystemExit("no pool volume: run `make repro` first or pass --ct")
        path = candidates[0]
    image = sitk.ReadImage(str(path))
    return sitk.GetArrayFromImage(image), image.GetOrigin()


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


def time_config(projector: TorchProjector, batch: int, n: int) -> tuple[float, float]:
    poses = np.resize(POSES, (n, 3))
    projector.render(poses[:batch])  # warm-up
    with PeakRSS() as memory:
        start = time.perf_counter()
        for i in range(0, n, batch):
            projector.render(poses[i:i + batch])
        seconds = time.perf_counter() - start
    return n / seconds, memory.growth_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ct")
    parser.add_argument("--pixels", type=int, default=256)
    parser.add_argument("--n", type=int, default=16, help="DRRs per configuration")
    parser.add_argument("--out", default="benchmarks/results/drr.json")
    args = parser.parse_args()
    torch.set_num_threads(psutil.cpu_count(logical=True))
    hu, origin = pool_ct(args.ct)
    geometry = geo.Geometry(pixels=args.pixels)
    rows = []

    start = time.perf_counter()
    reference = reference_drrs(hu, origin, geometry, POSES[:2])
    ref_rate = 2 / (time.perf_counter() - start)
    rows.append({"backend": "plain ray-marcher (reference)", "device": "cpu", "volume_mm": 1.0, "batch": 1,
                 "drrs_per_s": ref_rate, "peak_mb": None, "correlation": 1.0})

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for spacing in (1.0, 2.0):
            volume = DensityVolume.from_hu(hu, 1.0, origin, spacing, device=device)
            projector = TorchProjector(volume, geometry, CLEAN)
            ours = projector.render(POSES[:2]).cpu()
            corr = float(np.corrcoef(ours.flatten(), reference.flatten())[0, 1])
            for batch in ((1, 4, 16) if device == "cpu" else (16, 64, 256)):
                n = args.n if device == "cpu" else max(args.n, 4 * batch)
                if device == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                rate, peak = time_config(projector, batch, n)
                if device == "cuda":
                    torch.cuda.synchronize()
                    peak = torch.cuda.max_memory_allocated() / 2**20
                rows.append({"backend": "torch", "device": device, "volume_mm": spacing, "batch": batch,
                             "drrs_per_s": rate, "peak_mb": peak, "correlation": corr})

    best_cpu = max(r["drrs_per_s"] for r in rows if r["backend"] == "torch" and r["device"] == "cpu")
    table = Table(title=f"DRRs at {args.pixels}² from a 1 mm pelvis CT {hu.shape[::-1]} (x, y, z)")
    for column in ("backend", "device", "volume mm", "batch", "DRRs/s", "× reference", "peak MB", "corr."):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r["backend"], r["device"], f"{r['volume_mm']:g}", str(r["batch"]), f"{r['drrs_per_s']:.2f}",
                      f"{r['drrs_per_s'] / ref_rate:.1f}", "-" if r["peak_mb"] is None else f"{r['peak_mb']:.0f}",
                      f"{r['correlation']:.4f}")
    Console(width=120).print(table)
    result = {"benchmark": "drr", "pixels": args.pixels, "volume_shape_xyz": list(hu.shape[::-1]),
              "rows": rows, "best_cpu_speedup_vs_reference": best_cpu / ref_rate,
              "machine": {"cpu_count": psutil.cpu_count(), "platform": platform.platform(),
                          "torch": torch.__version__,
                          "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"best CPU: {best_cpu:.2f} DRRs/s, {best_cpu / ref_rate:.1f}× the plain ray-marcher; wrote {args.out}")


if __name__ == "__main__":
    main()
