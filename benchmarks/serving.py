"""REST serving of the champion against rotating in-process: start-up, latency, overhead.

    python benchmarks/serving.py [--model models:/radrotator@champion] [--steps 1 50] [--repeat 5]
                                 [--out benchmarks/results/serving.json]

Starts `mlflow models serve --env-manager local --workers 1` on loopback, times
how long it takes to answer /ping, then the median latency of /invocations (one
image, one view) beside the median of the same rotation in this process, in the
same run; the ratio is the cost of the HTTP + pandas + base64 path.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import platform
import statistics
import sys
import time
import urllib.request
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.registry.loading import load_rotator  # noqa: E402
from flows import venv_env  # noqa: E402
from tests.processes import free_port, served  # noqa: E402


def median_seconds(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models:/radrotator@champion")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size", type=int, default=64, help="input image side in pixels")
    parser.add_argument("--out", default="benchmarks/results/serving.json")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{ROOT / 'mlruns' / 'mlflow.db'}")
    rotator, loaded = load_rotator(args.model, ROOT)
    uri = loaded.split(" ")[0]  # "models:/radrotator@champion (v3)"
    image = (np.random.default_rng(0).random((args.size, args.size)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    iio.imwrite(buffer, image, extension=".png")
    encoded = base64.b64encode(buffer.getvalue()).decode()

    port = free_port()
    env = venv_env()
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", uri, "--env-manager", "local",
           "--workers", "1", "--host", "127.0.0.1", "--port", str(port)]
    start = time.perf_counter()
    rows = []
    with served(cmd, f"http://127.0.0.1:{port}/ping", env, ROOT):
        ready = time.perf_counter() - start
        for steps in args.steps:
            body = json.dumps({"dataframe_split": {"columns": ["image", "angle_x", "angle_y", "angle_z"],
                                                   "data": [[encoded, 0.0, 0.0, 10.0]]},
                               "params": {"steps": steps, "seed": 0}}).encode()

            def over_http(body=body):
                request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", body,
                                                 {"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=600) as response:
                    json.loads(response.read())

            served_s = median_seconds(over_http, args.repeat)
            local_s = median_seconds(lambda steps=steps: rotator.rotate(image.astype(np.float64), [[0, 0, 10]], steps=steps),
                                     args.repeat)
            rows.append({"ddim_steps": steps, "served_s": served_s, "in_process_s": local_s,
                         "overhead_s": served_s - local_s, "ratio": served_s / local_s})
    table = Table(title=f"Serving {uri} ({args.size}² input, median of {args.repeat})")
    for column in ("DDIM steps", "served (s)", "in process (s)", "overhead (s)", "served / in process"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(str(r["ddim_steps"]), f"{r['served_s']:.3f}", f"{r['in_process_s']:.3f}",
                      f"{r['overhead_s']:.3f}", f"{r['ratio']:.2f}")
    console = Console(width=120)
    console.print(table)
    console.print(f"server ready (answers /ping) after {ready:.1f} s")
    result = {"benchmark": "serving", "model": uri, "ready_s": ready, "rows": rows,
              "machine": {"platform": platform.platform(), "torch": torch.__version__,
                          "threads": torch.get_num_threads()}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
