"""The evaluation protocol: test set, pair sampling, methods, scoring, intervals, fingerprint.

Test set: the test fold's CTs, in two domains — their DRR shards and their
radiograph-style shards (same CTs, same poses, another imaging chain). Pairs:
for each rotation-magnitude bin (max |V| over the axes), `pairs_per_bin` pairs
drawn round-robin over the test patients, so every patient weighs about the
same; the same pairs are scored in both domains. Methods map (sources, V) to
images; each output is scored against the true rotated image (MAE, PSNR, SSIM)
and by its rotation error: the pose read back by registration to the test CT
(components/evaluation/registration.py; the primary rotation measure), and the
pose regressor's reading (a learned second opinion). The true target is
registered too: the measure's floor. Every mean carries a 95 % hierarchical
bootstrap interval over patients then pairs, and the model is compared with
each baseline by paired differences on the same pairs.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from components.config import Evaluate
from components.data.folds import ct_ids_in_folds
from components.data.pairs import valid_pairs
from components.drr.shards import SHARD_SUFFIX, Shard
from components.evaluation.bootstrap import hierarchical_bootstrap
from components.evaluation.metrics import angle_bin, bin_order, image_metrics
from components.evaluation.registration import PoseDictionary, RegistrationConfig, rotation_error
from components.fingerprint import cache_key, file_sha256

DOMAINS = ("drr", "radiograph_style")
MEASURES = ("mae", "psnr", "ssim", "rotation_error_deg", "regressor_error_deg")
LOWER_IS_BETTER = {"mae": True, "psnr": False, "ssim": False, "rotation_error_deg": True,
                   "regressor_error_deg": True}
FLOOR = "true_target"  # the true rotated image, registered: the rotation measure's own error
BASELINES = ("identity", "affine_warp")

# A method: (sources (N, H, W) in [0, 1], V (N, 3) degrees) → outputs (N, H, W) in [0, 1].
MethodFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Protocol:
    angle_bins: tuple[float, ...]
    pairs_per_bin: int
    sampler: str | None  # ddim | dpmsolver++ | unipc; None: each model's own default (its folder)
    steps: int | None  # sampler steps for the models; None: each model's own default (its folder)
    guidance: float | None
    seed: int
    batch_size: int  # pairs denoised together (speed only)
    bootstrap: int
    confidence: float
    registration: RegistrationConfig

    @classmethod
    def from_params(cls, cfg: Evaluate) -> Protocol:
        return cls(angle_bins=tuple(float(b) for b in cfg.angle_bins), pairs_per_bin=cfg.pairs_per_bin,
                   sampler=cfg.sampler, steps=cfg.steps, guidance=None if cfg.guidance is None else float(cfg.guidance),
                   seed=cfg.seed, batch_size=cfg.batch_size, bootstrap=cfg.bootstrap, confidence=float(cfg.confidence),
                   registration=RegistrationConfig(**cfg.registration.to_dict()))

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def bins(self) -> list[str]:
        edges = self.angle_bins
        return [f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:])]


@dataclass(frozen=True)
class Pair:
    ct_id: str
    patient_id: str
    source: int
    target: int
    bin: str


@dataclass
class TestSet:
    shards: dict[str, dict[str, Shard]]  # domain → ct_id → shard
    patients: dict[str, str]  # ct_id → patient_id
    pairs: list[Pair]

    def arrays(self, domain: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(sources, truths, V, source poses, target poses) of every pair, in one domain."""
        s = self.shards[domain]
        sources = np.stack([s[p.ct_id].image(p.source) for p in self.pairs])
        truths = np.stack([s[p.ct_id].image(p.target) for p in self.pairs])
        start = np.stack([s[p.ct_id].poses[p.source] for p in self.pairs]).astype(float)
        end = np.stack([s[p.ct_id].poses[p.target] for p in self.pairs]).astype(float)
        return sources, truths, end - start, start, end


def sample_pairs(poses: dict[str, np.ndarray], patients: dict[str, str], edges, per_bin: int,
                 seed: int) -> list[Pair]:
    """`per_bin` pairs per rotation-magnitude bin, drawn round-robin over patients (in a seeded
    order), each a random valid pair of one of that patient's CTs. Fewer when a bin runs dry."""
    bins = [f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:])]
    candidates: dict[str, dict[str, list]] = {b: {} for b in bins}
    for ct_id in sorted(poses):
        p = poses[ct_id]
        for i, j in valid_pairs(p):
            b = angle_bin(p[j] - p[i], tuple(edges))
            if b in candidates:
                candidates[b].setdefault(patients[ct_id], []).append((ct_id, int(i), int(j)))
    rng = np.random.default_rng(seed)
    chosen = []
    for b in bins:
        pools = {patient: list(c) for patient, c in sorted(candidates[b].items())}
        order = list(rng.permutation(sorted(pools)))
        taken = 0
        while taken < per_bin and any(pools.values()):
            for patient in order:
                if taken == per_bin or not pools[patient]:
                    continue
                ct_id, i, j = pools[patient].pop(int(rng.integers(len(pools[patient]))))
                chosen.append(Pair(ct_id, patient, i, j, b))
                taken += 1
    return chosen


def load_test_set(folds_csv: str | Path, test_fold: int, domain_dirs: dict[str, str | Path],
                  protocol: Protocol) -> TestSet:
    folds = pd.read_csv(folds_csv)
    ct_ids = ct_ids_in_folds(folds_csv, [test_fold])
    if not ct_ids:
        raise ValueError(f"{folds_csv}: fold {test_fold} (the test fold) holds no CT")
    patients = dict(zip(folds["ct_id"], folds["patient_id"].astype(str)))
    shards = {d: {c: Shard(Path(folder) / f"{c}{SHARD_SUFFIX}") for c in ct_ids} for d, folder in domain_dirs.items()}
    first = next(iter(shards.values()))
    pairs = sample_pairs({c: s.poses for c, s in first.items()}, {c: patients[c] for c in ct_ids},
                         protocol.angle_bins, protocol.pairs_per_bin, protocol.seed)
    return TestSet(shards, {c: patients[c] for c in ct_ids}, pairs)


def shard_hashes(test: TestSet) -> dict[str, dict[str, str]]:
    """Content hashes of every test shard, per domain."""
    return {d: {c: file_sha256(s.path) for c, s in sorted(shards.items())} for d, shards in test.shards.items()}


def folder_hash(folder: str | Path) -> str | None:
    folder = Path(folder)
    files = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
    return cache_key(**{p.name: file_sha256(p) for p in files}) if files else None


def evaluation_record(test: TestSet, protocol: Protocol, regressor_dir: str | Path, model_id: str | None) -> dict:
    """What an evaluation measured with, and its fingerprints: `test_fingerprint` (test shards,
    protocol, pose regressor: what challenger and champion must share) and `fingerprint`
    (that plus the evaluated model: its weights' sha256)."""
    record = {"test_shards": shard_hashes(test), "protocol": protocol.to_dict(),
              "pose_regressor": folder_hash(regressor_dir), "test_patients": sorted(set(test.patients.values())),
              "n_pairs": len(test.pairs)}
    record["test_fingerprint"] = cache_key(**record)
    record["model_sha256"] = model_id
    record["fingerprint"] = cache_key(test=record["test_fingerprint"], model=model_id)
    return record


def recovered_poses(images: np.ndarray, pairs: list[Pair], dictionaries: dict[str, PoseDictionary]) -> np.ndarray:
    """(N, 3) poses the images show, each registered to its pair's CT."""
    recovered = np.zeros((len(images), 3))
    for ct_id, dictionary in dictionaries.items():
        at = np.array([p.ct_id == ct_id for p in pairs])
        if at.any():
            recovered[at] = dictionary.recover(images[at])
    return recovered


def score(methods: dict[str, tuple[MethodFn, tuple[str, ...]]], test: TestSet,
          dictionaries: dict[str, PoseDictionary], regressor=None) -> tuple[pd.DataFrame, dict]:
    """Per-pair rows for every (domain, method), the floor rows, and the outputs per domain/method."""
    from components.models.pose_regressor import predict_degrees

    rows, outputs = [], {}
    for domain in test.shards:
        sources, truths, deltas, start, end = test.arrays(domain)
        outputs[domain] = {"input": sources, "truth": truths}
        images = {name: np.asarray(fn(sources, deltas), np.float32) for name, (fn, domains) in methods.items()
                  if domain in domains}
        outputs[domain].update(images)
        for name, out in {**images, FLOOR: truths}.items():
            recovered = recovered_poses(out, test.pairs, dictionaries)
            registration = rotation_error(recovered, end)
            regressor_error = (np.abs(predict_degrees(regressor, sources, out) - deltas).mean(-1)
                               if regressor is not None else np.full(len(out), np.nan))
            for k, pair in enumerate(test.pairs):
                row = {"domain": domain, "method": name, "bin": pair.bin, "ct_id": pair.ct_id,
                       "patient_id": pair.patient_id, "source": pair.source, "target": pair.target,
                       **{f"delta_{a}": float(v) for a, v in zip("xyz", deltas[k])},
                       **{f"recovered_{a}": float(v) for a, v in zip("xyz", recovered[k] - start[k])},
                       "rotation_error_deg": float(registration[k]), "regressor_error_deg": float(regressor_error[k])}
                row.update(image_metrics(out[k], truths[k]) if name != FLOOR else
                           {"mae": np.nan, "psnr": np.nan, "ssim": np.nan})
                rows.append(row)
    return pd.DataFrame(rows), outputs


def _seed(base: int, *parts: str) -> int:
    return base + zlib.crc32("/".join(parts).encode())


def summarise(rows: pd.DataFrame, protocol: Protocol) -> dict:
    """{domain: {method: {bin | "all": {measure: mean, measure_lo, measure_hi, n, patients}}}}."""
    out: dict = {}
    for (domain, method), group in rows.groupby(["domain", "method"], sort=True):
        by_bin = {}
        for b, g in [*sorted(group.groupby("bin"), key=lambda item: bin_order(item[0])), ("all", group)]:
            cell = {"n": int(len(g)), "patients": int(g["patient_id"].nunique())}
            for m in MEASURES:
                if m in g and g[m].notna().any():
                    ci = hierarchical_bootstrap(g[m], g["patient_id"], protocol.bootstrap, protocol.confidence,
                                                _seed(protocol.seed, domain, method, b, m))
                    cell.update(ci.to_dict(m))
            by_bin[b] = cell
        out.setdefault(domain, {})[method] = by_bin
    return out


def paired_differences(rows: pd.DataFrame, a: str, b: str, protocol: Protocol,
                       rows_b: pd.DataFrame | None = None, label: str | None = None) -> dict:
    """{domain: {bin | "all": {measure: mean, _lo, _hi}}} of method a − method b on the same pairs
    (b's rows from `rows_b` when given: a champion scored in another run)."""
    key = ["domain", "bin", "ct_id", "patient_id", "source", "target"]
    left = rows[rows["method"] == a]
    right = (rows if rows_b is None else rows_b)
    right = right[right["method"] == b]
    joined = left.merge(right, on=key, suffixes=("_a", "_b"))
    out: dict = {}
    for domain, group in joined.groupby("domain", sort=True):
        cells = {}
        for bin_, g in [*sorted(group.groupby("bin"), key=lambda item: bin_order(item[0])), ("all", group)]:
            cell = {"n": int(len(g)), "patients": int(g["patient_id"].nunique())}
            for m in MEASURES:
                if f"{m}_a" not in g:
                    continue
                diff = g[f"{m}_a"] - g[f"{m}_b"]
                if diff.notna().any():
                    ci = hierarchical_bootstrap(diff, g["patient_id"], protocol.bootstrap, protocol.confidence,
                                                _seed(protocol.seed, "diff", label or f"{a}-{b}", domain, bin_, m))
                    cell.update(ci.to_dict(m))
            cells[bin_] = cell
        out[domain] = cells
    return out


def build_dictionaries(test: TestSet, pool_dir: str | Path, manifest: pd.DataFrame, drr_config,
                       protocol: Protocol) -> dict[str, PoseDictionary]:
    """One registration dictionary per test CT, from its pool volume."""
    import dataclasses

    from components.drr.render import load_volume

    config = dataclasses.replace(drr_config, volume_spacing_mm=protocol.registration.volume_spacing_mm)
    paths = manifest.set_index("ct_id")["path"]
    return {c: PoseDictionary(load_volume(Path(pool_dir) / paths[c], config), drr_config, protocol.registration)
            for c in sorted(test.patients)}
