"""What radiographs on request cost on a CPU: generating by batch, steps and guidance, and a training step.

    python benchmarks/generation.py [--model models/generator/generator] [--threads 2] [--repeat 5]
                                    [--out benchmarks/results/generation.json]

Generation: the trained generator's sampler (DPM-Solver++) at 20 steps, one image alone
and 32 batched, with guidance (a doubled batch) and without (guidance 1 skips the
unconditional half), and at 10 steps (seconds per image). Training: one optimiser step
at `generate_train.batch_size`. Every variant is warmed up, then the rounds interleave
them; medians. The thread count is fixed (torch's default thrashes beside another job).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.timing import interleaved  # noqa: E402
from components.config import load_config  # noqa: E402
from components.generation.generator import generate, load_generator  # noqa: E402
from components.generation.labels import Labels  # noqa: E402
from components.generation.model import GeneratorModule  # noqa: E402
from components.generation.train import generator_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "models/generator/generator"), help="a generator folder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/generation.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = load_config(ROOT / "params.yaml")
    generator = load_generator(args.model)
    labels = np.stack([Labels(view="ap", prosthesis="left").vector()] * 32)

    def sample(n: int, steps: int, guidance: float):
        return lambda: generate(generator, labels[:n], list(range(n)), steps=steps, guidance=guidance)

    variants = {"20 steps, guidance 2, alone": (sample(1, 20, 2.0), 1),
                "20 steps, guidance 2, batch 32": (sample(32, 20, 2.0), 32),
                "20 steps, guidance 1, batch 32": (sample(32, 20, 1.0), 32),
                "10 steps, guidance 2, batch 32": (sample(32, 10, 2.0), 32)}
    times = interleaved({name: run for name, (run, _) in variants.items()}, args.repeat)
    per_image = {name: times[name] / n for name, (_, n) in variants.items()}

    config, batch = generator_config(params), params.generate_train.batch_size
    module = GeneratorModule(config["net"], config["lr"], config["ema_decay"], config["timesteps"],
                             config["label_drop_prob"], config["guidance_drop_prob"])
    size = config["net"]["image_size"]
    image, batch_labels = torch.rand(batch, 1, size, size) * 2 - 1, torch.from_numpy(labels[:batch])
    optimiser = torch.optim.AdamW(module.net.parameters(), lr=1e-4)

    def step():
        optimiser.zero_grad()
        module.loss(image, batch_labels).backward()
        optimiser.step()

    train = interleaved({"training step": step}, args.repeat)["training step"]

    table = Table(title=f"Radiographs on request, {size}² images, {args.threads} threads (medians of {args.repeat})")
    table.add_column("what")
    table.add_column("seconds", justify="right")
    for name, seconds in per_image.items():
        table.add_row(f"{name} (per image)", f"{seconds:.4f}")
    table.add_row(f"training step (batch {batch})", f"{train:.3f}")
    Console().print(table)
    result = {"image_size": size, "threads": args.threads, "repeat": args.repeat, "seconds_per_image": per_image,
              "training_step_seconds": train, "training_batch": batch, "torch": torch.__version__,
              "machine": platform.machine(), "processor": platform.processor()}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
