"""What a user waits for on a CPU: mode A by thread count (alone and beside another job), and mode B's 300 frames.

    python benchmarks/modes.py --model models/radrotator [--frames 300] [--out benchmarks/results/modes.json]

Mode A: one 256² radiograph, one view, the model's default sampler and steps, at 1 and
2 torch threads, first alone, then while a second process keeps both cores busy
(torch matrix products on 2 threads: "another job"). Rounds interleave the thread
counts after a warm-up; medians. Mode B: one sweep of `--frames` frames along z
(batches of 16, the CLI's default) written to MP4, timed whole, at the thread count
`radrotator` chooses on the idle machine (run before the other job starts: the
1-minute load average would still count it afterwards).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.config import load_config  # noqa: E402
from components.sampling.rotate import Rotator  # noqa: E402
from components.sampling.video import write_video  # noqa: E402
from radrotator.cli import default_threads  # noqa: E402


def busy(stop) -> None:
    """Another job: two threads of matrix products until told to stop."""
    torch.set_num_threads(2)
    a = torch.randn(512, 512)
    while not stop.is_set():
        a = torch.tanh(a @ a)


def mode_a(rotator: Rotator, image: np.ndarray, threads: list[int], repeat: int) -> dict[int, float]:
    times: dict[int, list[float]] = {n: [] for n in threads}
    for n in threads:  # warm-up
        torch.set_num_threads(n)
        rotator.rotate(image, [[0, 0, 10]], steps=2)
    for _ in range(repeat):
        for n in threads:
            torch.set_num_threads(n)
            start = time.perf_counter()
            rotator.rotate(image, [[0, 0, 10]])
            times[n].append(time.perf_counter() - start)
    return {n: statistics.median(v) for n, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models/radrotator", help="a model folder")
    parser.add_argument("--sampler", help="default: params.yaml train.inference")
    parser.add_argument("--steps", type=int, help="default: params.yaml train.inference")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/modes.json"))
    args = parser.parse_args()
    rotator = Rotator.from_folder(args.model)
    inference = load_config(ROOT / "params.yaml").train.inference.to_dict()
    rotator.sampler, rotator.steps = args.sampler or inference["sampler"], args.steps or int(inference["steps"])
    rng = np.random.default_rng(0)
    image = np.cumsum(rng.random((256, 256)), axis=0)  # any radiograph-sized input
    threads = [1, 2]
    alone = mode_a(rotator, image, threads, args.repeat)
    chosen = default_threads()
    torch.set_num_threads(chosen)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        frames = rotator.sweep(image, "z", -15.0, 15.0, args.frames, batch=16)
        count = write_video(Path(tmp) / "sweep.mp4", frames, fps=30)
        sweep_s = time.perf_counter() - start
    spawn = mp.get_context("spawn")  # a forked child inherits torch's thread pool and can stall in it
    stop = spawn.Event()
    job = spawn.Process(target=busy, args=(stop,), daemon=True)
    job.start()
    time.sleep(5)  # the job has started and is computing
    try:
        beside = mode_a(rotator, image, threads, args.repeat)
    finally:
        stop.set()
        job.join(timeout=30)

    console = Console()
    table = Table(title=f"Mode A, one 256² view ({rotator.sampler}, {rotator.steps} steps), median of {args.repeat}")
    for column in ("torch threads", "alone (s)", "beside another 2-thread job (s)"):
        table.add_column(column)
    for n in threads:
        table.add_row(str(n), f"{alone[n]:.2f}", f"{beside[n]:.2f}")
    console.print(table)
    console.print(f"Mode B: {count} frames along z in {sweep_s:.0f} s ({sweep_s / count:.2f} s a frame, "
                  f"{chosen} threads, batches of 16, MP4 included)")
    result = {"benchmark": "modes", "sampler": rotator.sampler, "steps": rotator.steps,
              "model_sha256": rotator.config.get("weights_sha256"),
              "mode_a_seconds": {"alone": alone, "beside_another_job": beside},
              "mode_a_ratio_2_over_1_threads": {"alone": alone[2] / alone[1], "beside_another_job": beside[2] / beside[1]},
              "mode_b": {"frames": count, "seconds": sweep_s, "threads": chosen, "batch": 16},
              "machine": {"platform": platform.platform(), "torch": torch.__version__,
                          "cores": len(os.sched_getaffinity(0))}}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
