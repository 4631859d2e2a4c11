"""The paper profile on one GPU, measured against the hardware's floor.

    python benchmarks/gpu.py [--out benchmarks/results/gpu_<device>.json]   # on a CUDA machine
    python benchmarks/gpu.py --render benchmarks/results/gpu_h100.json       # its table, as Markdown

Measured (each warmed, medians over repeats, torch.cuda.synchronize around every timing):
- the machine's own bf16 matrix-product rate (8192³), the floor every ratio below is taken against;
- DRRs per second at 256² from a 1 mm synthetic pelvis CT (the paper profile's detector), batched, in
  fp32, and with torch.compile where it compiles;
- the paper U-Net (profiles/paper.yaml: Supplement 7.2, 120 M parameters): GFLOP per forward at 256²
  (torch's flop counter), training samples per second in bf16 autocast with Lion (plain, channels_last),
  the share of the floor that is (3 × forward FLOPs per sample), and peak GPU memory;
- mode A: one view at DDIM-200 + guidance 4 (the report) and DPM-Solver++ 20; mode B: 300 frames.

Random weights: speed does not depend on what the weights hold.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.config import load_config  # noqa: E402
from components.ct.phantom import PhantomSpec, render_pelvis  # noqa: E402
from components.drr.geometry import Geometry  # noqa: E402
from components.drr.projector import DensityVolume, Physics, TorchProjector  # noqa: E402
from components.models.unet import (  # noqa: E402
    UNetConfig,
    build_unet,
    count_parameters,
    unet_params,  # noqa: E402
)
from components.sampling.guided import guided_sample  # noqa: E402
from components.sampling.samplers import make_sampler  # noqa: E402
from components.training.module import RadRotatorModule  # noqa: E402

DEVICE = "cuda"  # --smoke: "cpu", the CPU profile, to check this script without a GPU


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def timed(fn, repeats: int, warmup: int = 1) -> float:
    """Median seconds of `fn` over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_tflops() -> float:
    n = 8192 if DEVICE == "cuda" else 1024
    a, b = (torch.randn(n, n, device=DEVICE, dtype=torch.bfloat16) for _ in range(2))
    return 2 * n**3 / timed(lambda: a @ b, 10, 3) / 1e12


def pelvis_ct(mm: float = 1.0) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A synthetic pelvis (the pool's phantom) on a 1 mm grid: HU (z, y, x) and the origin (x, y, z)."""
    spec = PhantomSpec.draw(np.random.default_rng(0))
    shape = (int(300 / mm), int(280 / mm), int(380 / mm))
    origin = (-190.0, -140.0, -150.0)
    return render_pelvis(spec, shape, (mm, mm, mm), origin, np.random.default_rng(1)), origin


def drr_rate(hu: np.ndarray, origin, geometry: Geometry, physics: Physics, batch: int, compile_: bool) -> dict:
    volume = DensityVolume.from_hu(hu, 1.0 if DEVICE == "cuda" else 4.0, origin, device=DEVICE)
    projector = TorchProjector(volume, geometry, physics)
    poses = np.random.default_rng(0).uniform(-15, 15, (batch, 3))
    render = torch.compile(projector.render) if compile_ else projector.render
    with torch.inference_mode():
        seconds = timed(lambda: render(poses), 5, 2)
        image = render(poses[:1]).float().cpu().numpy()
    return {"batch": batch, "compiled": compile_, "seconds_per_batch": seconds, "drrs_per_s": batch / seconds,
            "image_mean": float(image.mean())}


def forward_gflop(model: torch.nn.Module, size: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, 2, size, size, device=DEVICE)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x, torch.zeros(1, dtype=torch.long, device=DEVICE), class_labels=torch.zeros(1, 3, device=DEVICE))
    return counter.get_total_flops() / 1e9


def training_rate(params, batch: int, channels_last: bool) -> dict:
    torch.manual_seed(0)
    module = RadRotatorModule(unet_params(params, params.train), params.train.optim.to_dict(),
                              params.train.max_steps).to(DEVICE)
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    optimizer = module.configure_optimizers()
    size = params.drrs.geometry.pixels
    data = {"target": torch.rand(batch, 1, size, size, device=DEVICE) * 2 - 1,
            "source": torch.rand(batch, 1, size, size, device=DEVICE) * 2 - 1,
            "angles": torch.rand(batch, 3, device=DEVICE) * 2 - 1}
    if channels_last:
        data = {k: v.contiguous(memory_format=torch.channels_last) if v.ndim == 4 else v for k, v in data.items()}

    def step():
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            loss = module._step(data, ema=False)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        module.ema.update_parameters(module.model)

    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds = timed(step, 10, 3)
    peak = torch.cuda.max_memory_allocated() / 2**30 if DEVICE == "cuda" else float("nan")
    return {"batch": batch, "channels_last": channels_last, "seconds_per_step": seconds,
            "samples_per_s": batch / seconds, "peak_memory_gib": peak}


def sampling_seconds(model, sampler: str, steps: int, guidance: float, views: int, size: int,
                     repeats: int = 3) -> float:
    source = torch.rand(views, 1, size, size, device=DEVICE) * 2 - 1
    angles = torch.rand(views, 3, device=DEVICE) * 2 - 1
    noise = torch.randn(views, 1, size, size, device=DEVICE)
    template = make_sampler(sampler)

    def run():
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            guided_sample(model, template, source, angles, noise, steps, guidance)

    return timed(run, repeats, 1)


def measure(args, save) -> dict:
    params = load_config(ROOT / "params.yaml", None if args.smoke else "paper")
    device = torch.cuda.get_device_name() if DEVICE == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    result = {"benchmark": "gpu", "device": device, "torch": torch.__version__, "python": platform.python_version(),
              "profile": "paper", "matmul_bf16_tflops": matmul_tflops()}
    save(result)
    print(f"{device}: bf16 matrix products at {result['matmul_bf16_tflops']:.0f} TFLOP/s (the floor's rate)")

    hu, origin = pelvis_ct(1.0 if DEVICE == "cuda" else 4.0)
    geometry = Geometry(**params.drrs.geometry.to_dict())
    physics = replace(Physics(**params.drrs.physics.to_dict()), photons_per_mm2=0.0)
    result["drr_ct_shape_zyx"] = list(hu.shape)
    result["drrs"] = []
    for compile_ in (False, True) if args.compile else (False,):
        try:
            row = drr_rate(hu, origin, geometry, physics, args.drr_batch, compile_)
        except Exception as err:  # noqa: BLE001 (torch.compile fails in many ways; say which)
            row = {"batch": args.drr_batch, "compiled": compile_, "error": f"{type(err).__name__}: {err}"[:300]}
        result["drrs"].append(row)
        print(f"DRRs 256² (compile {compile_}): " + (f"{row['drrs_per_s']:.0f}/s" if "drrs_per_s" in row else row["error"]))

    save(result)
    unet = UNetConfig.from_params(unet_params(params, params.train))
    model = build_unet(unet).to(DEVICE).eval()
    result["unet_parameters"] = count_parameters(model)
    result["unet_gflop_per_forward"] = forward_gflop(model, unet.image_size)
    floor_s = result["unet_gflop_per_forward"] * 1e9 / (result["matmul_bf16_tflops"] * 1e12)
    print(f"paper U-Net: {result['unet_parameters'] / 1e6:.1f} M parameters, "
          f"{result['unet_gflop_per_forward']:.0f} GFLOP per forward at {unet.image_size}²")

    result["training"] = []
    for channels_last in (False, True):
        try:
            row = training_rate(params, args.train_batch, channels_last)
        except torch.OutOfMemoryError as err:  # say it and go on to sampling
            result["training"].append({"batch": args.train_batch, "channels_last": channels_last,
                                       "error": f"out of memory: {err}"[:300]})
            print(f"training bf16, batch {args.train_batch}: out of memory")
            continue
        row["share_of_floor"] = 3 * result["unet_gflop_per_forward"] * 1e9 * row["samples_per_s"] / (
            result["matmul_bf16_tflops"] * 1e12)
        result["training"].append(row)
        print(f"training bf16, batch {row['batch']}, channels_last {channels_last}: {row['samples_per_s']:.1f} "
              f"samples/s, {row['peak_memory_gib']:.1f} GiB, {100 * row['share_of_floor']:.0f} % of the floor")
        if DEVICE == "cuda":
            torch.cuda.empty_cache()

    save(result)
    result["mode_a"] = []
    for sampler, steps in (("ddim", 200 if DEVICE == "cuda" else 4), ("dpmsolver++", 20 if DEVICE == "cuda" else 4)):
        seconds = sampling_seconds(model, sampler, steps, 4.0, 1, unet.image_size)
        forwards = 2 * steps  # guidance: conditional and unconditional, one doubled batch
        result["mode_a"].append({"sampler": sampler, "steps": steps, "guidance": 4.0, "seconds_per_view": seconds,
                                 "floor_seconds": forwards * floor_s, "ratio_to_floor": seconds / (forwards * floor_s)})
        print(f"mode A {sampler}-{steps}, guidance 4: {seconds:.2f} s a view (floor {forwards * floor_s:.3f} s)")

    save(result)
    frames, batch = (300, args.video_batch) if DEVICE == "cuda" else (4, 2)
    steps = 200 if DEVICE == "cuda" else 4
    per_batch = sampling_seconds(model, "ddim", steps, 4.0, batch, unet.image_size, repeats=1)
    total = per_batch * -(-frames // batch)
    result["mode_b"] = {"frames": frames, "batch": batch, "sampler": "ddim", "steps": steps, "seconds": total,
                        "floor_seconds": frames * 2 * steps * floor_s}
    print(f"mode B: 300 frames at DDIM-200, batches of {batch}: {total:.0f} s")
    return result


def render_markdown(result: dict) -> str:
    lines = [f"GPU: {result['device']} (torch {result['torch']}); paper profile; bf16 matrix products at "
             f"{result['matmul_bf16_tflops']:.0f} TFLOP/s measured on the same machine (the floor). "
             "Generated by `python benchmarks/gpu.py --render`.", "",
             "| what | measured | floor / note |", "|---|---|---|"]
    for row in result["drrs"]:
        value = f"{row['drrs_per_s']:.0f} DRRs/s" if "drrs_per_s" in row else "did not compile"
        lines.append(f"| DRRs 256², 1 mm CT, batch {row['batch']}{', torch.compile' if row['compiled'] else ''} "
                     f"| {value} | target ≥ 900/s |")
    lines.append(f"| paper U-Net | {result['unet_parameters'] / 1e6:.1f} M parameters | "
                 f"{result['unet_gflop_per_forward']:.0f} GFLOP per forward at 256² |")
    for row in (r for r in result["training"] if "error" not in r):
        lines.append(f"| training bf16, batch {row['batch']}{', channels_last' if row['channels_last'] else ''} | "
                     f"{row['samples_per_s']:.1f} samples/s, {row['peak_memory_gib']:.1f} GiB | "
                     f"{100 * row['share_of_floor']:.0f} % of the floor |")
    for row in result["mode_a"]:
        lines.append(f"| mode A, {row['sampler']}-{row['steps']}, guidance 4, one view | "
                     f"{row['seconds_per_view']:.2f} s | floor {row['floor_seconds']:.3f} s "
                     f"(×{row['ratio_to_floor']:.0f}) |")
    b = result["mode_b"]
    lines.append(f"| mode B, {b['frames']} frames, DDIM-200, batches of {b['batch']} | {b['seconds']:.0f} s | "
                 f"floor {b['floor_seconds']:.0f} s |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="JSON (default: benchmarks/results/gpu_<device>.json)")
    parser.add_argument("--render", help="a result JSON: print its Markdown table beside it (.md)")
    parser.add_argument("--drr-batch", type=int, default=64)
    parser.add_argument("--train-batch", type=int, default=32)
    parser.add_argument("--video-batch", type=int, default=60)
    parser.add_argument("--compile", action="store_true", help="also try torch.compile on the projector")
    parser.add_argument("--smoke", action="store_true", help="CPU, CPU profile, tiny sizes: checks the script")
    args = parser.parse_args()
    global DEVICE
    if args.smoke:
        DEVICE = "cpu"
        args.drr_batch, args.train_batch = 2, 2
    if args.render:
        text = render_markdown(json.loads(Path(args.render).read_text()))
        Path(args.render).with_suffix(".md").write_text(text)
        print(text)
        return 0
    if DEVICE == "cuda" and not torch.cuda.is_available():
        print("gpu benchmark: needs a CUDA GPU; none present", file=sys.stderr)
        return 1
    name = torch.cuda.get_device_name().split()[1].lower() if DEVICE == "cuda" else "cpu"
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"gpu_{name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)

    def save(result: dict) -> None:  # after every section: a run cut short keeps what it measured
        out.write_text(json.dumps(result, indent=2) + "\n")

    save(measure(args, save))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
