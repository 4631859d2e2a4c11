"""What the generation evaluation measures, per image and per set, from the label reader's outputs.

- label accuracy: the reader's reading of view and each prosthesis side agrees
  with the labels asked for (generated) or true (real); per image, the mean over
  the three, and each label alone.
- diversity: an image's mean feature distance to the other images of the same
  source with the same view and prosthesis (its label set); a generator that
  collapses onto one image per label set scores near 0 where real images do not.
- reader-feature Fréchet distance: Fréchet's distance between Gaussians fitted
  to two sets of the reader's features. It is FID's formula in another network's
  feature space, so its values are not FIDs and compare only with each other.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.evaluation.bootstrap import hierarchical_bootstrap
from components.generation.labels import LABELS
from components.generation.reader import READ

MEASURES = ("label_accuracy", *(f"{k}_correct" for k in READ), "diversity")
LOWER_IS_BETTER = dict.fromkeys(MEASURES, False)
SET_COLUMNS = [LABELS.index(k) for k in ("view", "prosthesis_right", "prosthesis_left")]


def label_sets(labels: np.ndarray) -> np.ndarray:
    """One key per (view, prosthesis right, prosthesis left) combination; -1 where a label is unknown."""
    parts = np.nan_to_num(labels[:, SET_COLUMNS], nan=-1).astype(int) + 1
    return parts[:, 0] * 9 + parts[:, 1] * 3 + parts[:, 2]


def diversity(features: np.ndarray, sets: np.ndarray) -> np.ndarray:
    """Each image's mean Euclidean feature distance to the others of its label set (NaN when alone)."""
    out = np.full(len(features), np.nan)
    for key in np.unique(sets):
        members = np.flatnonzero(sets == key)
        if len(members) < 2:
            continue
        f = features[members]
        distances = np.sqrt(((f[:, None] - f[None]) ** 2).sum(-1))
        out[members] = distances.sum(1) / (len(members) - 1)
    return out


def image_rows(source: str, predicted: np.ndarray, features: np.ndarray, labels: np.ndarray,
               ct_ids, patient_ids) -> pd.DataFrame:
    """Per image: what the reader got right against `labels`, and its diversity within `source`."""
    truth = labels[:, [LABELS.index(k) for k in READ]]
    correct = np.where(np.isnan(truth), np.nan, predicted == np.nan_to_num(truth))
    rows = pd.DataFrame({"source": source, "image": np.arange(len(labels)), "ct_id": ct_ids,
                         "patient_id": patient_ids})
    for j, k in enumerate(READ):
        rows[f"{k}_correct"] = correct[:, j]
    rows["label_accuracy"] = np.nanmean(correct, axis=1)
    rows["diversity"] = diversity(features, label_sets(labels))
    return rows


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖μa − μb‖² + tr(Σa + Σb − 2 (Σa Σb)^½) between Gaussians fitted to two feature sets (rows: samples)."""
    return _frechet_from_grams(a @ a.T, b @ b.T, a @ b.T)


def _frechet_from_grams(gaa: np.ndarray, gbb: np.ndarray, gab: np.ndarray) -> float:
    """The same from the sets' inner products alone. μa·μb is the mean of A Bᵀ, tr Σa = (tr A Aᵀ − na μa·μa) /
    (na − 1), and tr (Σa Σb)^½ is the sum of the singular values of the doubly centred A Bᵀ over
    √((na − 1)(nb − 1)) (the non-zero eigenvalues of Σa Σb are those of (A Bᵀ)ᵀ(A Bᵀ) so scaled): exact, and an
    (na × nb) problem, not a square root in the features' dimension (2048 for Inception). A resampled set is
    rows and columns of the Gram matrices, so a bootstrap computes no feature product again."""
    na, nb = len(gaa), len(gbb)
    mean_aa, mean_bb, mean_ab = gaa.mean(), gbb.mean(), gab.mean()
    centred = gab - gab.mean(0) - gab.mean(1)[:, None] + mean_ab
    singular = np.sqrt(np.linalg.eigvalsh(centred @ centred.T).clip(min=0))  # 4× an SVD's speed, same values
    cross = singular.sum() / np.sqrt((na - 1) * (nb - 1))
    traces = (np.trace(gaa) - na * mean_aa) / (na - 1) + (np.trace(gbb) - nb * mean_bb) / (nb - 1)
    return float(mean_aa + mean_bb - 2 * mean_ab + traces - 2 * cross)


def frechet_intervals(generated: np.ndarray, real: np.ndarray, reference: np.ndarray, groups: np.ndarray,
                      reference_groups: np.ndarray, n_boot: int, confidence: float, seed: int) -> dict:
    """The distance generated ↔ real (image k generated from real image k's labels), reference ↔ real (real
    images of other patients) and their difference, each with an interval from resampling patients: the held-out
    ones (`groups`, generated and real together) and, independently, the reference's. Resampling repeats images,
    which shrinks the fitted covariances and inflates a Fréchet distance, so each percentile interval is shifted
    by that bias (the mean of the draws minus the estimate): the bias-corrected percentile bootstrap."""
    g_gg, g_rr, g_ee = generated @ generated.T, real @ real.T, reference @ reference.T
    g_gr, g_er = generated @ real.T, reference @ real.T
    rng = np.random.default_rng(seed)
    held, ref = _members(groups), _members(reference_groups)
    draws = np.empty((n_boot, 2))
    for b in range(n_boot):
        i = np.concatenate([held[k] for k in rng.integers(len(held), size=len(held))])
        j = np.concatenate([ref[k] for k in rng.integers(len(ref), size=len(ref))])
        real_i = g_rr[i][:, i]
        draws[b] = (_frechet_from_grams(g_gg[i][:, i], real_i, g_gr[i][:, i]),
                    _frechet_from_grams(g_ee[j][:, j], real_i, g_er[j][:, i]))
    estimates = (_frechet_from_grams(g_gg, g_rr, g_gr), _frechet_from_grams(g_ee, g_rr, g_er))
    columns = {"generated": (draws[:, 0], estimates[0]), "training_real": (draws[:, 1], estimates[1]),
               "generated-training_real": (draws[:, 0] - draws[:, 1], estimates[0] - estimates[1])}
    alpha = (1 - confidence) / 2
    out = {}
    for name, (values, estimate) in columns.items():
        lo, hi = np.quantile(values, [alpha, 1 - alpha]) - (values.mean() - estimate)
        out[name] = {"mean": float(estimate), "lo": float(lo), "hi": float(hi)}
    return out


def _members(groups: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(groups == g) for g in np.unique(groups)]


def summarise(rows: pd.DataFrame, n_boot: int, confidence: float, seed: int) -> dict:
    """{source: {measure: mean, measure_lo, measure_hi}} over patients, then images."""
    out = {}
    for source, part in rows.groupby("source", sort=False):
        cells = {}
        for measure in MEASURES:
            cells.update(hierarchical_bootstrap(part[measure], part["patient_id"], n_boot, confidence,
                                                seed).to_dict(measure))
        out[source] = cells
    return out
