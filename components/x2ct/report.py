"""What x2ct_evaluate writes: reports/x2ct.md, and in reports/x2ct/ the metrics, the per-case scores,
the promotion record and the example slices (input views | truth | each method)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components.atomic_write import atomic_path, write_csv_atomic  # noqa: E402
from components.config import Params  # noqa: E402
from components.x2ct.data import Cases  # noqa: E402
from components.x2ct.metrics import LOWER_IS_BETTER, MEASURES  # noqa: E402

TITLES = {"model": "diffusion + projection loss (model)", "no_projection": "diffusion, no projection loss",
          "regressor": "3D U-Net regressor (floor)", "backprojection": "back-projection (floor)"}
UNITS = {"psnr": "PSNR (dB)", "ssim": "SSIM (axial)", "ssim3d": "SSIM3D", "mae_hu": "MAE (HU)",
         "bone_dice": "bone Dice", "reprojection_mae": "reprojection MAE"}
FORMATS = {"psnr": ".2f", "mae_hu": ".0f"}
WINDOW_HU = (-400.0, 1200.0)  # the figure's display window: soft tissue to cortical bone


def cell(mean: float, lo: float, hi: float, measure: str) -> str:
    fmt = FORMATS.get(measure, ".3f")
    return f"{mean:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def markdown(params: Params, metrics: dict, promotion: dict, train_summary: dict, figure: str) -> str:
    cfg = params.x2ct_evaluate
    grid = params.biplanar.grid
    lines = ["# CT from two radiographs", "",
             f"Test fold {params.folds.test}: {metrics['cases']} cases ({metrics['cts']} CTs of {metrics['patients']} "
             f"patients, {params.biplanar.poses_per_ct} poses each), AP and lateral DRRs of "
             f"{params.drrs.geometry.pixels}² in, a {grid.voxels}³ volume of {grid.spacing_mm} mm voxels out. "
             f"Mean [{float(cfg.confidence):.0%} interval over patients, then cases]; bone: ≥ {cfg.bone_hu} HU after "
             "rigid alignment; reprojection: the output rendered as AP and lateral views against the inputs "
             "(display units). Synthetic pool — research use only.", "",
             "| method | " + " | ".join(UNITS[m] for m in MEASURES) + " |",
             "|---|" + "---|" * len(MEASURES)]
    for method, cells in metrics["summary"].items():
        lines.append(f"| {TITLES.get(method, method)} | " + " | ".join(
            cell(cells[m], cells[f"{m}_lo"], cells[f"{m}_hi"], m) for m in MEASURES) + " |")
    lines += ["", "## Paired differences, model − other (same cases)", "",
              "| model − | " + " | ".join(UNITS[m] for m in MEASURES) + " |", "|---|" + "---|" * len(MEASURES)]
    for pair, cells in metrics["paired_differences"].items():
        other = pair.split("-", 1)[1]
        lines.append(f"| {TITLES.get(other, other)} | " + " | ".join(
            cell(cells[m]["mean"], cells[m]["lo"], cells[m]["hi"], m) for m in MEASURES) + " |")
    better = ", ".join(f"{UNITS[m]} {'lower' if LOWER_IS_BETTER[m] else 'higher'}" for m in MEASURES)
    lines += ["", f"Better: {better}. The row `diffusion, no projection loss` is the ablation of Diff2CT's "
              "projection loss: the same network, data, seed and steps.", "",
              "## Models", "", "| model | parameters | training steps | final training loss |", "|---|---|---|---|"]
    for method in metrics["summary"]:
        trained = train_summary.get({"model": "diffusion"}.get(method, method))
        if trained:
            lines.append(f"| {TITLES.get(method, method)} | {trained['parameters'] / 1e6:.2f} M | {trained['steps']} | "
                         f"{trained['final'].get('train/loss', float('nan')):.4f} |")
    lines += ["", f"Sampler: {params.x2ct.inference.sampler}, {params.x2ct.inference.steps} steps; "
              f"{train_summary.get('training_cases', '?')} training cases from {train_summary.get('training_cts', '?')} "
              f"CTs (the training folds). Training and sampling times are in MLflow (experiment "
              f"`{params.x2ct.experiment}`, runs `x2ct-train` and `x2ct-evaluate`), not here: they differ run to run.", "",
              "## Registry", "", f"`{promotion['model']}` v{promotion['version']}: **{promotion['decision']}** — "
              f"{promotion['reason']}", "", "## Examples", "", f"![input views, truth and each method's volume]({figure})", ""]
    return "\n".join(lines)


def windowed(hu: np.ndarray) -> np.ndarray:
    lo, hi = WINDOW_HU
    return np.clip((hu - lo) / (hi - lo), 0, 1)


def middle_slice(volume: np.ndarray, plane: str) -> np.ndarray:
    """The middle axial, coronal or sagittal slice of a (z, y, x) volume (superior up in the last two)."""
    z, y, x = (n // 2 for n in volume.shape)
    slices = {"axial": lambda: volume[z], "coronal": lambda: volume[::-1, y, :], "sagittal": lambda: volume[::-1, :, x]}
    return slices[plane]()


def example_figure(cases: Cases, outputs: dict[str, np.ndarray], picks: list[int], path: Path) -> None:
    """Per picked case a coronal and an axial row: AP | lateral | truth | each method."""
    columns = ["AP view", "lateral view", "truth", *[TITLES.get(m, m).split(" (")[0] for m in outputs]]
    fig, axes = plt.subplots(2 * len(picks), len(columns), figsize=(1.7 * len(columns), 3.6 * len(picks)),
                             squeeze=False)
    for r, k in enumerate(picks):
        volumes = [cases.hu[k], *[outputs[m][k] for m in outputs]]
        for row, plane in enumerate(("coronal", "axial")):
            ax_row = axes[2 * r + row]
            views = [cases.ap[k], cases.lateral[k]] if row == 0 else [None, None]
            for c, image in enumerate(views + [windowed(middle_slice(v, plane)) for v in volumes]):
                ax = ax_row[c]
                ax.axis("off")
                if image is not None:
                    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
                if r == 0 and row == 0:
                    ax.set_title(columns[c], fontsize=7)
            ax_row[2].text(-0.1, 0.5, f"{cases.ct_ids[k]}\npose {cases.case[k]}\n{plane}", fontsize=6,
                           transform=ax_row[2].transAxes, ha="right", va="center")
    fig.suptitle("CT from two radiographs, test fold — synthetic volumes, research use only "
                 f"(window {WINDOW_HU[0]:.0f}…{WINDOW_HU[1]:.0f} HU)", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def write_report(params: Params, cases: Cases, rows: pd.DataFrame, outputs: dict[str, np.ndarray], metrics: dict,
                 promotion: dict) -> None:
    cfg = params.x2ct_evaluate
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    train_summary = json.loads((Path(params.x2ct.out) / "train_summary.json").read_text())
    write_csv_atomic(rows, out / "cases.csv")
    for name, data in (("metrics.json", metrics), ("promotion.json", promotion)):
        with atomic_path(out / name) as tmp:
            tmp.write_text(json.dumps(data, indent=2) + "\n")
    first_cases = [k for k in range(len(cases)) if cases.case[k] == 0][:cfg.examples]
    example_figure(cases, outputs, first_cases, out / "examples.png")
    with atomic_path(Path(cfg.report)) as tmp:
        figure = os.path.relpath(out / "examples.png", Path(cfg.report).parent)
        tmp.write_text(markdown(params, metrics, promotion, train_summary, figure))
