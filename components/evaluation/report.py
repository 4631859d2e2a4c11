"""What an evaluation writes: metrics with intervals, the record, a Markdown report, plots, figures.

- metrics.json (DVC metrics): `domains` → method → bin → measure, `measure_lo`, `measure_hi`,
  n, patients; `differences` → "model - <baseline>" → domain → bin → the same; `fingerprint`.
- evaluation_record.json: what was measured with (components/evaluation/protocol.py).
- pairs.csv: one row per (domain, method, pair).
- plots/<domain>_<measure>.csv (DVC plots: one row per bin and method) and
  figures/metrics_<domain>.png (the same, with intervals, for a reader offline).
- figures/examples_<domain>.png: labelled columns input | truth | methods, two rows per bin;
  figures/axes.png: one source rotated about each axis by the model, beside the truth.
- evaluation.md: the tables, with intervals and paired differences.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components.atomic_write import atomic_path, write_csv_atomic  # noqa: E402
from components.drr.contact_sheet import contact_sheet  # noqa: E402
from components.evaluation.metrics import bin_order  # noqa: E402
from components.evaluation.protocol import FLOOR, LOWER_IS_BETTER, MEASURES  # noqa: E402

MEASURE_TITLES = {"mae": "MAE ↓", "psnr": "PSNR ↑", "ssim": "SSIM ↑",
                  "rotation_error_deg": "rotation error ° ↓ (registration)",
                  "regressor_error_deg": "rotation error ° ↓ (pose regressor)"}
METHOD_ORDER = ("model", "model_no_rhs", "cyclegan_route", "identity", "affine_warp", FLOOR)
DOMAIN_TITLES = {"drr": "DRR inputs", "radiograph_style": "radiograph-style inputs"}


def write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def ordered(methods) -> list[str]:
    return sorted(methods, key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER), m))


def cell(values: dict, measure: str, fmt: str) -> str:
    if measure not in values or values[measure] != values[measure]:  # absent or NaN
        return "–"
    return f"{values[measure]:{fmt}} [{values[f'{measure}_lo']:{fmt}}, {values[f'{measure}_hi']:{fmt}}]"


FORMATS = {"mae": ".3f", "psnr": ".1f", "ssim": ".3f", "rotation_error_deg": ".2f", "regressor_error_deg": ".2f"}


def markdown(summary: dict, differences: dict, record: dict, header: list[str]) -> str:
    lines = ["# Evaluation", "", *header, ""]
    for domain, methods in summary.items():
        lines += [f"## {DOMAIN_TITLES.get(domain, domain)}", "",
                  "Mean [95 % interval over patients, then pairs].", "",
                  "| method | bin | n | " + " | ".join(MEASURE_TITLES[m] for m in MEASURES) + " |",
                  "|---|---|---|" + "---|" * len(MEASURES)]
        for method in ordered(methods):
            for b, v in methods[method].items():
                lines.append(f"| {method} | {b} | {v['n']} | "
                             + " | ".join(cell(v, m, FORMATS[m]) for m in MEASURES) + " |")
        lines.append("")
        lines += ["Paired differences on the same pairs (negative is better for MAE and rotation errors, positive "
                  "for PSNR and SSIM); **bold**: the interval excludes 0.", "",
                  "| comparison | bin | " + " | ".join(MEASURE_TITLES[m] for m in MEASURES) + " |",
                  "|---|---|" + "---|" * len(MEASURES)]
        for name, by_domain in differences.items():
            for b, v in by_domain.get(domain, {}).items():
                cells = []
                for m in MEASURES:
                    text = cell(v, m, FORMATS[m])
                    significant = m in v and (v[f"{m}_lo"] > 0 or v[f"{m}_hi"] < 0)
                    cells.append(f"**{text}**" if significant else text)
                lines.append(f"| {name} | {b} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Record", "", f"- fingerprint `{record['fingerprint']}` (test set `{record['test_fingerprint']}`, "
              f"model `{(record['model_sha256'] or 'none')[:12]}`)",
              f"- test patients: {len(record['test_patients'])}; pairs per domain: {record['n_pairs']}", ""]
    return "\n".join(lines)


def plot_rows(summary: dict, domain: str, measure: str) -> pd.DataFrame:
    """For DVC plots: one row per bin, x the bin's upper edge in degrees (a number, so the default
    template draws a true axis), one column per method (a line each)."""
    rows = {}
    for method in ordered(summary[domain]):
        for b, v in summary[domain][method].items():
            if b != "all" and measure in v and "-" in b:
                row = rows.setdefault(b, {"max_rotation_deg": float(b.split("-")[1]), "bin": f"{b}°"})
                row[method] = v[measure]
    return pd.DataFrame(sorted(rows.values(), key=lambda r: r["max_rotation_deg"]))


def metric_figure(summary: dict, domain: str, path: Path) -> None:
    measures = [m for m in MEASURES if any(m in v for by in summary[domain].values() for v in by.values())]
    fig, axes = plt.subplots(1, len(measures), figsize=(3.6 * len(measures), 3.2), squeeze=False)
    for ax, measure in zip(axes[0], measures):
        for k, method in enumerate(ordered(summary[domain])):
            cells = [(b, v) for b, v in summary[domain][method].items() if b != "all" and measure in v]
            if not cells:
                continue
            cells.sort(key=lambda item: bin_order(item[0]))
            x = np.arange(len(cells)) + (k - 2) * 0.06
            mean = np.array([v[measure] for _, v in cells])
            err = np.array([[v[measure] - v[f"{measure}_lo"], v[f"{measure}_hi"] - v[measure]] for _, v in cells]).T
            ax.errorbar(x, mean, yerr=err, marker="o", capsize=3, label=method)
            ax.set_xticks(np.arange(len(cells)), [f"{b}°" for b, _ in cells])
        ax.set_title(MEASURE_TITLES[measure], fontsize=9)
        ax.set_xlabel("rotation magnitude (max |V|)", fontsize=8)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{DOMAIN_TITLES.get(domain, domain)}: mean and 95 % interval per bin", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def example_figure(outputs: dict, pairs: list, rows: pd.DataFrame, domain: str, path: Path,
                   per_bin: int = 2) -> None:
    """Labelled columns input | truth | methods; `per_bin` rows per bin, each labelled with V."""
    columns = ["input", "truth", *[m for m in ordered(outputs) if m not in ("input", "truth")]]
    chosen = []
    for b in sorted({p.bin for p in pairs}, key=bin_order):
        chosen += [k for k, p in enumerate(pairs) if p.bin == b][:per_bin]
    delta = rows[(rows["domain"] == domain) & (rows["method"] == "identity")][["delta_x", "delta_y", "delta_z"]].to_numpy()
    grid = [[outputs[c][k] for c in columns] for k in chosen]
    labels = [f"{pairs[k].bin}°: V=({delta[k, 0]:+.0f},{delta[k, 1]:+.0f},{delta[k, 2]:+.0f})" for k in chosen]
    sheet = contact_sheet(grid, labels, columns, tile=96, label_width=150)
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")


def axes_figure(model_rows: dict, truth_rows: dict, angles: list[float], path: Path, model_label: str) -> None:
    """One source rotated about x, y and z: rows `model about x`, `truth about x`, ...; columns the angles."""
    grid, labels = [], []
    for axis in "xyz":
        grid += [list(model_rows[axis]), list(truth_rows[axis])]
        labels += [f"{model_label}, about {axis}", f"truth, about {axis}"]
    sheet = contact_sheet(grid, labels, [f"{a:+g}°" for a in angles], tile=96, label_width=150)
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")


def write_reports(out: Path, rows: pd.DataFrame, summary: dict, differences: dict, record: dict,
                  header: list[str]) -> dict:
    """Write pairs.csv, metrics.json, evaluation_record.json, plots and evaluation.md; returns metrics."""
    (out / "plots").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    write_csv_atomic(rows, out / "pairs.csv")
    for domain in summary:
        for measure in MEASURES:
            frame = plot_rows(summary, domain, measure)
            if not frame.empty:
                write_csv_atomic(frame, out / "plots" / f"{domain}_{measure}.csv")
        metric_figure(summary, domain, out / "figures" / f"metrics_{domain}.png")
    metrics = {"fingerprint": record["fingerprint"], "domains": summary, "differences": differences}
    write_json(out / "metrics.json", metrics)
    write_json(out / "evaluation_record.json", record)
    with atomic_path(out / "evaluation.md") as tmp:
        tmp.write_text(markdown(summary, differences, record, header))
    return metrics


def better(measure: str, difference: float) -> bool:
    return difference < 0 if LOWER_IS_BETTER[measure] else difference > 0
