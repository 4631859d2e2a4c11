"""Training samples/s and seconds per view (DDIM + guidance) for the RadRotator U-Net.

    python benchmarks/model.py [--profile cpu|paper] [--steps 200] [--out benchmarks/results/model.json]

The CPU profile is measured here; the paper profile (Supplement 7.2, 256²) on a
GPU when one is present (bf16 autocast), where it also reports the arithmetic
floor from measured FLOPs. Guidance doubles the batch, as in `guided_sample`.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from torch.utils.flop_counter import FlopCounterMode

from components.models.diffusion import HybridLoss, sampling_scheduler, training_scheduler
from components.models.unet import UNetConfig, build_unet, count_parameters
from components.sampling.guided import guided_sample, initial_noise

PROFILES = {
    "cpu": UNetConfig(),
    "paper": UNetConfig(image_size=256, channels=(128, 128, 256, 256, 512, 512),
                        attention_levels=(False, False, False, True, True, True), num_res_blocks=2,
                        num_head_channels=(32, 32, 64, 64, 128, 128)),  # 4 heads, as Supplement 7.2
}


def forward_flops(model, size: int, device) -> float:
    x = torch.zeros(1, 2, size, size, device=device)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x, torch.zeros(1, dtype=torch.long, device=device), class_labels=torch.zeros(1, 3, device=device))
    return counter.get_total_flops()


def training_rate(model, size: int, batch: int, steps: int, device, bf16: bool) -> float:
    scheduler, loss_fn = training_scheduler(), None
    loss_fn = HybridLoss(scheduler)
    optimizer = torch.optim.AdamW(model.parameters(), 1e-4)
    x0 = torch.randn(batch, 1, size, size, device=device)
    source = torch.randn_like(x0)
    angles = torch.rand(batch, 3, device=device) * 2 - 1

    def step():
        t = torch.randint(0, 1000, (batch,), device=device)
        noise = torch.randn_like(x0)
        x_t = scheduler.add_noise(x0, noise, t)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(torch.cat([x_t, source], 1), t, class_labels=angles)
        loss = loss_fn(out.float(), x0, x_t, noise, t)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def seconds_per_view(model, size: int, views: int, steps: int, device, bf16: bool) -> float:
    source = torch.randn(views, 1, size, size, device=device)
    angles = torch.zeros(views, 3, device=device)
    noise = initial_noise((views, 1, size, size), 0, device)
    scheduler = sampling_scheduler()
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        guided_sample(model, scheduler, source, angles, noise, steps=2)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        guided_sample(model, scheduler, source, angles, noise, steps=steps)
        if device.type == "cuda":
            torch.cuda.synchronize()
    return (time.perf_counter() - start) / views


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default=None)
    parser.add_argument("--steps", type=int, default=200, help="DDIM steps per view")
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--out", default="benchmarks/results/model.json")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    profiles = [args.profile] if args.profile else (["cpu", "paper"] if device.type == "cuda" else ["cpu"])
    rows = []
    for name in profiles:
        config = PROFILES[name]
        model = build_unet(config).to(device)
        bf16 = device.type == "cuda"
        flops = forward_flops(model, config.image_size, device)
        batch = 8 if name == "cpu" else 16
        rate = training_rate(model.train(), config.image_size, batch, args.train_steps, device, bf16)
        views = 1 if device.type == "cpu" else 8
        per_view = seconds_per_view(model.eval(), config.image_size, views, args.steps, device, bf16)
        rows.append({"profile": name, "device": str(device), "params_m": count_parameters(model) / 1e6,
                     "gflop_per_forward": flops / 1e9, "train_samples_per_s": rate, "ddim_steps": args.steps,
                     "guidance_doubled_batch": True, "views_per_batch": views, "seconds_per_view": per_view,
                     "bf16": bf16})
    table = Table(title="RadRotator U-Net")
    for column in ("profile", "device", "params (M)", "GFLOP/fwd", "train samples/s", "s per view"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r["profile"], r["device"], f"{r['params_m']:.2f}", f"{r['gflop_per_forward']:.2f}",
                      f"{r['train_samples_per_s']:.1f}", f"{r['seconds_per_view']:.1f} (DDIM-{r['ddim_steps']}, g=4)")
    Console(width=120).print(table)
    result = {"benchmark": "model", "rows": rows,
              "machine": {"platform": platform.platform(), "torch": torch.__version__,
                          "threads": torch.get_num_threads(),
                          "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
