"""The generate_evaluate stage's work: generated against held-out real images, intervals, registry and gate.

The held-out images are `images_per_ct` of each CT of `generate_evaluate.folds`
(evenly over its poses), which neither the generator nor the reader saw. For
each, the generator draws one image from the same label vector (image k from
seed + k): the generated set has the real set's labels, image for image, so
every per-image measure (components/generation/measures.py) pairs up and the
intervals resample patients, then images. The Fréchet distance, in the
reader's feature space and in Inception-v3's (a true FID: components/generation/inception.py),
compares the generated set with the held-out set, beside the same distance from
as many of the training folds' real images to the held-out ones (what real images
of other patients score).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from components.config import Params
from components.evaluation.bootstrap import row_differences
from components.generation.data import Images, load_images
from components.generation.generator import Generator, generate, load_generator
from components.generation.inception import inception_features
from components.generation.measures import MEASURES, frechet_intervals, image_rows, summarise
from components.generation.reader import load_reader, read_images
from components.generation.registry import register_and_gate, rule
from components.generation.report import write_report
from components.generation.train import GENERATOR, READER


def per_ct(images: Images, n: int) -> Images:
    """`n` images of each CT, evenly over its poses (all of them when it has fewer)."""
    keep = []
    for ct_id in sorted(set(images.ct_ids)):
        index = np.flatnonzero(images.ct_ids == ct_id)
        keep.extend(index[np.unique(np.linspace(0, len(index) - 1, min(n, len(index))).round().astype(int))])
    return images.subset(np.array(keep))


def score(source: str, images01: np.ndarray, held: Images, reader) -> tuple[pd.DataFrame, np.ndarray]:
    predicted, features = read_images(reader, images01)
    return image_rows(source, predicted, features, held.labels, held.ct_ids, held.patient_ids), features


def generated_rows(generator: Generator, held: Images, seeds: list[int], reader) -> pd.DataFrame:
    return score("generated", generate(generator, held.labels, seeds), held, reader)[0]


def evaluate_generation(params: Params, project_root: Path) -> dict:
    cfg, out = params.generate_evaluate, Path(params.generate_train.out)
    boot = (cfg.bootstrap, float(cfg.confidence), cfg.seed)
    data = load_images(params.generation_data.out)
    held, train = per_ct(data.in_folds(cfg.folds), cfg.images_per_ct), data.in_folds(params.folds.train)
    # the reference set as large as the held-out one: a Fréchet distance's bias depends on the set sizes
    reference = per_ct(train, max(1, len(held) // len(set(train.ct_ids))))
    generator, reader = load_generator(out / GENERATOR), load_reader(out / READER)
    seeds = [cfg.seed + k for k in range(len(held))]
    start = time.perf_counter()
    generated = generate(generator, held.labels, seeds)
    seconds = (time.perf_counter() - start) / len(held)
    print(f"generated {len(held)} images, {seconds:.3f} s each")

    real_rows, real_features = score("real", held.images, held, reader)
    generated_table, generated_features = score("generated", generated, held, reader)
    rows = pd.concat([real_rows, generated_table], ignore_index=True)
    _, reference_features = read_images(reader, reference.images)
    inception = {name: inception_features(images) for name, images in
                 (("generated", generated), ("real", held.images), ("reference", reference.images))}
    metrics = {
        "images": len(held), "cts": len(set(held.ct_ids)), "patients": len(set(held.patient_ids)),
        "reference_images": len(reference), "summary": summarise(rows, *boot),
        "paired_differences": {"generated-real": row_differences(generated_table, real_rows, MEASURES,
                                                                 ["image"], *boot)},
        "frechet": frechet_intervals(generated_features, real_features, reference_features, held.patient_ids,
                                     reference.patient_ids, *boot),
        "fid": frechet_intervals(inception["generated"], inception["real"], inception["reference"], held.patient_ids,
                                 reference.patient_ids, *boot),
    }
    means = {f"{source}.{m}": cells[m] for source, cells in metrics["summary"].items() for m in MEASURES}
    promotion = register_and_gate(
        project_root, params.generate_train.experiment, out / GENERATOR,
        {"generation_data": params.generation_data.to_dict(), "generate_train": params.generate_train.to_dict(),
         "generate_evaluate": params.generate_evaluate.to_dict()},
        means | {"reader_frechet_distance": metrics["frechet"]["generated"]["mean"],
                 "fid": metrics["fid"]["generated"]["mean"], "seconds_per_image": seconds},
        rule(cfg.primary, cfg.guards),
        lambda champion: row_differences(generated_table, generated_rows(champion, held, seeds, reader), MEASURES,
                                         ["image"], *boot))
    write_report(params, held, rows, metrics, promotion, generator)
    return {"label_accuracy": metrics["summary"]["generated"]["label_accuracy"], "promotion": promotion["decision"]}
