"""Sampler quality against steps, paired with the report's DDIM-200, and seconds per view.

    python benchmarks/samplers.py [--project .] [--samplers dpmsolver++ unipc] [--steps 10 15 20 25 50]
                                  [--domain drr] [--threads 2] [--out benchmarks/results/samplers.json]

On the evaluation's test pairs (params `evaluate`: the test fold, 30 pairs per bin)
of the project's model (`models/radrotator`, trained by `dvc repro`), every
(sampler, steps) rotates the same sources from the same noise as DDIM-200. For SSIM
and the rotation error read back by registration, it reports the mean and the
paired difference against DDIM-200 with its 95 % interval over patients, then
pairs (the evaluation's bootstrap). The recommended default is the fewest steps of
the first sampler whose intervals on both measures include 0 (at most 25).
Seconds per view: one image, one view (mode A), median of interleaved repeats after
a warm-up, at the thread count given.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.config import load_config  # noqa: E402
from components.drr.render import DRRConfig  # noqa: E402
from components.evaluation.evaluate import EvaluationInputs, evaluation_test_set  # noqa: E402
from components.evaluation.methods import model_method  # noqa: E402
from components.evaluation.protocol import FLOOR, Protocol, TestSet, build_dictionaries, paired_differences, score  # noqa: E402
from components.registry.export import model_sha256  # noqa: E402
from components.sampling.rotate import Rotator  # noqa: E402

MEASURES = ("ssim", "rotation_error_deg")
MAX_DEFAULT_STEPS = 25


def label(sampler: str, steps: int) -> str:
    return f"{sampler}-{steps}"


def rebased(inputs: EvaluationInputs, root: Path) -> EvaluationInputs:
    """The evaluation's inputs inside another checkout (a fresh clone's `dvc repro`)."""
    return dataclasses.replace(inputs, **{f.name: root / getattr(inputs, f.name) for f in dataclasses.fields(inputs)
                                          if isinstance(getattr(inputs, f.name), Path)})


def seconds_per_view(rotator: Rotator, image: np.ndarray, configs, repeat: int) -> dict[str, float]:
    """Median seconds of one mode-A view per config, the configs interleaved in every round, after a warm-up."""
    for sampler, _ in configs:
        rotator.rotate(image, [[0, 0, 10]], steps=2, sampler=sampler)
    times: dict[str, list[float]] = {label(*c): [] for c in configs}
    for _ in range(repeat):
        for sampler, steps in configs:
            start = time.perf_counter()
            rotator.rotate(image, [[0, 0, 10]], steps=steps, sampler=sampler)
            times[label(sampler, steps)].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def write_markdown(result: dict, path: Path) -> None:
    """The table the README shows, generated from the JSON."""
    reference = result["reference"]
    lines = [f"Model `{result['model_sha256'][:8]}`, {result['pairs']} test pairs ({result['domain']}) of "
             f"{result['patients']} patients; Δ: paired difference against {reference}, mean [95 % interval over "
             f"patients, then pairs]; seconds per view: "
             f"{result.get('timing_input', 'one test image at the model size')}, one view, "
             f"{result['machine']['threads']} threads.", "",
             "| sampler | steps | SSIM | Δ SSIM | rotation error ° | Δ rotation error ° | s / view |",
             "|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        def cell(m, fmt, row=row):
            d = row.get("paired_vs_reference", {}).get(m)
            return "–" if d is None else f"{d['mean']:{fmt}} [{d['lo']:{fmt}}, {d['hi']:{fmt}}]"
        lines.append(f"| {row['sampler']} | {row['steps']} | {row['ssim']:.3f} | {cell('ssim', '+.3f')} | "
                     f"{row['rotation_error_deg']:.2f} | {cell('rotation_error_deg', '+.2f')} | "
                     f"{row['seconds_per_view']:.2f} |")
    recommended = result["recommended"]
    lines += ["", f"Rule: {result['rule']}. Default: **{recommended['sampler']}, {recommended['steps']} steps**."
              if recommended else f"Rule: {result['rule']}: no setting passed."]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", default=".", help="checkout whose params, test fold and model are used")
    parser.add_argument("--samplers", nargs="+", default=["dpmsolver++", "unipc"])
    parser.add_argument("--steps", nargs="+", type=int, default=[10, 15, 20, 25, 50])
    parser.add_argument("--domain", default="drr", choices=["drr", "radiograph_style"])
    parser.add_argument("--reference-steps", type=int, default=200, help="DDIM steps of the reference (report: 200)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="timing rounds")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/samplers.json"))
    parser.add_argument("--render", action="store_true", help="only write the Markdown table of --out's JSON")
    args = parser.parse_args()
    if args.render:
        write_markdown(json.loads(Path(args.out).read_text()), Path(args.out).with_suffix(".md"))
        return
    torch.set_num_threads(args.threads)
    root = Path(args.project).resolve()
    params = load_config(root / "params.yaml")
    inputs, protocol = rebased(EvaluationInputs.from_params(params), root), Protocol.from_params(params.evaluate)
    full = evaluation_test_set(inputs, protocol)
    test = TestSet({args.domain: full.shards[args.domain]}, full.patients, full.pairs)
    manifest = pd.read_csv(inputs.pool / "manifest.csv")
    dictionaries = build_dictionaries(test, inputs.pool, manifest, DRRConfig.from_params(params.drrs), protocol)
    rotator = Rotator.from_folder(inputs.model)
    configs = [("ddim", args.reference_steps)] + [(s, n) for s in args.samplers for n in args.steps]
    methods = {label(*c): (model_method(rotator, dataclasses.replace(protocol, sampler=c[0], steps=c[1])),
                           (args.domain,)) for c in configs}
    console = Console()
    console.print(f"{len(test.pairs)} test pairs, {len(configs)} configurations, model {model_sha256(inputs.model)[:8]}")
    rows, _ = score(methods, test, dictionaries)
    rows = rows[rows["method"] != FLOOR]
    reference = label(*configs[0])
    sources, *_ = test.arrays(args.domain)
    timing = seconds_per_view(rotator, sources[0], configs, args.repeat)

    table = Table(title=f"Samplers on {len(test.pairs)} test pairs ({args.domain}), paired with {reference}; "
                        f"seconds per view at {args.threads} threads")
    for column in ("sampler", "steps", "SSIM", f"Δ SSIM vs {reference}", "rotation error °",
                   f"Δ rotation error vs {reference}", "s / view"):
        table.add_column(column)
    results, recommended = [], None
    for sampler, steps in configs:
        name = label(sampler, steps)
        mine = rows[rows["method"] == name]
        row = {"sampler": sampler, "steps": steps, "seconds_per_view": timing[name],
               **{m: float(mine[m].mean()) for m in MEASURES}}
        if name != reference:
            diff = paired_differences(rows, name, reference, protocol)[args.domain]["all"]
            row["paired_vs_reference"] = {m: {"mean": diff[m], "lo": diff[f"{m}_lo"], "hi": diff[f"{m}_hi"]}
                                          for m in MEASURES}
            row["interval_includes_0"] = all(d["lo"] <= 0 <= d["hi"] for d in row["paired_vs_reference"].values())
            if (recommended is None and sampler == args.samplers[0] and steps <= MAX_DEFAULT_STEPS
                    and row["interval_includes_0"]):
                recommended = {"sampler": sampler, "steps": steps}
        results.append(row)

        def cell(m, row=row):
            d = row.get("paired_vs_reference", {}).get(m)
            return "–" if d is None else f"{d['mean']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]"
        table.add_row(sampler, str(steps), f"{row['ssim']:.3f}", cell("ssim"), f"{row['rotation_error_deg']:.2f}",
                      cell("rotation_error_deg"), f"{row['seconds_per_view']:.2f}")
    console.print(table)
    console.print(f"recommended default: {recommended}")
    result = {"benchmark": "samplers", "reference": reference, "domain": args.domain, "pairs": len(test.pairs),
              "patients": len(set(test.patients.values())), "model_sha256": model_sha256(inputs.model),
              "rule": f"fewest steps of {args.samplers[0]} whose paired 95 % intervals on {', '.join(MEASURES)} "
                      f"include 0, at most {MAX_DEFAULT_STEPS}",
              "recommended": recommended, "rows": results,
              "timing_input": "one {}×{} test image".format(*sources[0].shape),
              "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": args.threads}}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result, Path(args.out).with_suffix(".md"))
    console.print(f"wrote {args.out} and its Markdown table")


if __name__ == "__main__":
    main()
