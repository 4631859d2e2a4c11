"""What CT from two radiographs costs on a CPU: a reconstruction by batch and steps, and a training step with and
without the projection loss.

    python benchmarks/x2ct.py [--models models/x2ct] [--threads 2] [--repeat 5] [--out benchmarks/results/x2ct.json]

Reconstruction: the registered model's sampler (DPM-Solver++) at 10 and 20 steps, one
volume alone and four batched (seconds per volume), and the regressor floor. Training:
one optimiser step of the diffusion model (batch `x2ct.batch_size`) with the projection
loss and without it. Every variant is warmed up, then the rounds interleave them;
medians. The thread count is fixed (torch's default thrashes beside another job).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.timing import interleaved  # noqa: E402
from components.config import load_config  # noqa: E402
from components.x2ct.model import X2CTModule  # noqa: E402
from components.x2ct.reconstruct import load_model, reconstruct  # noqa: E402
from components.x2ct.train import MODELS, model_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=str(ROOT / "models/x2ct"), help="the x2ct stage's output folder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/x2ct.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = load_config(ROOT / "params.yaml")
    model, regressor = load_model(Path(args.models) / "diffusion"), load_model(Path(args.models) / "regressor")
    n = model.grid.voxels
    cond = torch.rand(4, 2, n, n, n) * 2 - 1

    def sample(batch: int, steps: int):
        return lambda: reconstruct(model, cond[:batch], list(range(batch)), steps)

    recon = interleaved({"diffusion, 20 steps, alone": sample(1, 20), "diffusion, 20 steps, batch 4": sample(4, 20),
                         "diffusion, 10 steps, batch 4": sample(4, 10),
                         "regressor, batch 4": lambda: reconstruct(regressor, cond, [0, 1, 2, 3])}, args.repeat)
    per_volume = {name: s / (1 if "alone" in name else 4) for name, s in recon.items()}

    modules = {}
    for name in ("diffusion", "no_projection"):
        kind, projection = MODELS[name]
        c = model_config(params, kind, projection)
        modules[name] = X2CTModule(c["net"], c["grid"], c["geometry"], c["lr"], c["ema_decay"], c["timesteps"],
                                   c["projection_weight"])
    batch = params.x2ct.batch_size
    volume, train_cond = torch.rand(batch, 1, n, n, n) * 2 - 1, torch.rand(batch, 2, n, n, n) * 2 - 1
    optimisers = {name: torch.optim.AdamW(m.net.parameters(), lr=1e-4) for name, m in modules.items()}

    def step(name: str):
        def run():
            optimisers[name].zero_grad()
            modules[name].losses(volume, train_cond)["loss"].backward()
            optimisers[name].step()
        return run

    train = interleaved({f"training step, {'with' if name == 'diffusion' else 'without'} projection loss": step(name)
                         for name in modules}, args.repeat)

    table = Table(title=f"CT from two radiographs, {n}³ grid, {args.threads} threads (medians of {args.repeat})")
    table.add_column("what")
    table.add_column("seconds", justify="right")
    for name, seconds in per_volume.items():
        table.add_row(f"{name} (per volume)", f"{seconds:.3f}")
    for name, seconds in train.items():
        table.add_row(f"{name} (batch {batch})", f"{seconds:.3f}")
    overhead = train["training step, with projection loss"] / train["training step, without projection loss"]
    table.add_row("projection loss: step time ratio", f"{overhead:.2f}×")
    Console().print(table)
    result = {"grid_voxels": n, "threads": args.threads, "repeat": args.repeat, "reconstruction_seconds_per_volume":
              per_volume, "training_step_seconds": train, "projection_loss_step_ratio": overhead,
              "torch": torch.__version__, "machine": platform.machine(), "processor": platform.processor()}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
