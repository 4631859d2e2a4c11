"""Bounded serving under load: latency percentiles and what every request got.

    python benchmarks/serving_load.py [--model models:/radrotator@champion] [--out benchmarks/results/serving_load.json]

Starts `mlflow models serve --workers 1` on loopback with the pyfunc's defaults
(one request denoised at a time, a queue of RADROTATOR_MAX_QUEUE = 8, a 40 s
deadline inside MLflow's 60 s time-out) and sends two loads, interleaved in one
run: the campaign's (10 requests at once, the model's default steps) and a
steady one (20 requests, 4 at a time, 5 steps). Every request must be answered:
200 with an image, or 503 "busy" with one line; none may time out (504) or
fail (5xx other than 503).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import platform
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows import venv_env  # noqa: E402
from tests.processes import free_port, load_test, post_status, rotation_request, served  # noqa: E402

LOADS = {"campaign: 10 at once, default steps": (10, 10, None), "steady: 20, 4 at a time, 5 steps": (20, 4, 5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models:/radrotator@champion")
    parser.add_argument("--size", type=int, default=256, help="input image side in pixels")
    parser.add_argument("--threads", type=int, default=2, help="RADROTATOR_THREADS for the server")
    parser.add_argument("--out", default="benchmarks/results/serving_load.json")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{ROOT / 'mlruns' / 'mlflow.db'}")
    image = (np.random.default_rng(0).random((args.size, args.size)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    iio.imwrite(buffer, image, extension=".png")
    encoded = base64.b64encode(buffer.getvalue()).decode()

    port = free_port()
    env = venv_env(RADROTATOR_THREADS=str(args.threads))
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", args.model, "--env-manager", "local",
           "--workers", "1", "--host", "127.0.0.1", "--port", str(port)]
    rows = []
    with served(cmd, f"http://127.0.0.1:{port}/ping", env, ROOT):
        url = f"http://127.0.0.1:{port}/invocations"

        def body(steps):
            return rotation_request([[encoded, 0.0, 0.0, 10.0]], seed=0, **({"steps": steps} if steps else {}))

        post_status(url, body(2))  # warm-up
        for name, (n, concurrency, steps) in LOADS.items():
            results = load_test(url, body(steps), n, concurrency)
            seconds = np.array([s for _, _, s in results])
            codes = [c for c, _, _ in results]
            ok = [s for c, _, s in results if c == 200]
            rows.append({"load": name, "requests": n, "concurrency": concurrency, "steps": steps,
                         "answered": len(results), "status": {str(c): codes.count(c) for c in sorted(set(codes))},
                         "p50_s": float(np.percentile(seconds, 50)), "p90_s": float(np.percentile(seconds, 90)),
                         "max_s": float(seconds.max()),
                         "p50_ok_s": float(np.percentile(ok, 50)) if ok else None})
    table = Table(title=f"Serving {args.model} under load ({args.size}² PNG, {args.threads} threads)")
    for column in ("load", "answered", "status counts", "p50 (s)", "p90 (s)", "max (s)"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r["load"], f"{r['answered']}/{r['requests']}", json.dumps(r["status"]), f"{r['p50_s']:.2f}",
                      f"{r['p90_s']:.2f}", f"{r['max_s']:.2f}")
    Console(width=140).print(table)
    result = {"benchmark": "serving_load", "model": args.model, "rows": rows,
              "machine": {"platform": platform.platform(), "torch": torch.__version__, "cores": os.cpu_count(),
                          "server_threads": args.threads}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    lost = [r for r in rows if r["answered"] != r["requests"] or set(r["status"]) - {"200", "503"}]
    if lost:
        sys.exit(f"requests lost or failed: {lost}")


if __name__ == "__main__":
    main()
