"""Evaluate a rotation model on the test fold: the one entry point the evaluate stage calls.

Loads the model (and the ablations that exist), builds the test set and the
registration dictionaries, scores every method, summarises with intervals,
compares the model with each baseline by paired differences, and writes the
reports (components/evaluation/report.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from components.config import Params
from components.drr.projector import TorchProjector
from components.drr.render import DRRConfig, load_volume, noise_generator, render_views
from components.evaluation import report
from components.evaluation.methods import evaluation_methods
from components.evaluation.protocol import (
    BASELINES,
    Protocol,
    TestSet,
    build_dictionaries,
    evaluation_record,
    load_test_set,
    paired_differences,
    score,
    summarise,
)
from components.registry.export import model_sha256
from components.sampling.rotate import Rotator

AXIS_ANGLES = [-15.0, -7.5, 0.0, 7.5, 15.0]


@dataclass(frozen=True)
class EvaluationInputs:
    model: Path  # a model folder (ema.safetensors + config.json)
    drrs: Path
    xray: Path
    pool: Path
    folds_csv: Path
    test_fold: int
    regressor: Path
    out: Path
    ablation: Path | None = None  # the model trained without RandHistogramShift, when trained
    cyclegan: Path | None = None
    real_rotations: tuple[tuple[float, float, float], ...] = ()

    @classmethod
    def from_params(cls, params: Params) -> EvaluationInputs:
        return cls(model=params.train.model_dir, drrs=Path(params.drrs.out), xray=Path(params.xray_domain.out),
                   pool=Path(params.ct_pool.out), folds_csv=params.folds.csv, test_fold=params.folds.test,
                   regressor=Path(params.pose_regressor.out), out=Path(params.evaluate.out),
                   ablation=params.train_section("train_no_rhs").model_dir, cyclegan=Path(params.cyclegan.out),
                   real_rotations=tuple(tuple(map(float, r)) for r in params.evaluate.real_rotations))

    def model_id(self) -> str:
        """The evaluated model's identity: its weights' sha256."""
        return model_sha256(self.model)


def evaluation_test_set(inputs: EvaluationInputs, protocol: Protocol) -> TestSet:
    return load_test_set(inputs.folds_csv, inputs.test_fold,
                         {"drr": inputs.drrs, "radiograph_style": inputs.xray}, protocol)


def regressor_if_trained(folder: Path):
    from components.models.pose_regressor import load_regressor

    return load_regressor(folder) if (folder / "config.json").exists() else None


def score_model(rotator: Rotator, test: TestSet, dictionaries: dict, protocol: Protocol, regressor) -> pd.DataFrame:
    """Per-pair rows of one model alone (a champion scored again on this test set)."""
    from components.evaluation.methods import model_method
    from components.evaluation.protocol import DOMAINS, FLOOR

    rows, _ = score({"model": (model_method(rotator, protocol), DOMAINS)}, test, dictionaries, regressor)
    return rows[rows["method"] != FLOOR]


def axes_rows(rotator: Rotator, test: TestSet, pool: Path, manifest: pd.DataFrame, drr: DRRConfig,
              protocol: Protocol) -> tuple[dict, dict]:
    """The first test CT's DRR0 rotated about each axis by the model, and the truth rendered there."""
    ct_id = sorted(test.patients)[0]
    source = test.shards["drr"][ct_id].image(0)  # DRR0: pose (0, 0, 0)
    volume = load_volume(pool / manifest.set_index("ct_id").loc[ct_id, "path"], drr)
    projector = TorchProjector(volume, drr.geometry, drr.physics)
    model_rows, truth_rows = {}, {}
    for k, axis in enumerate("xyz"):
        poses = np.zeros((len(AXIS_ANGLES), 3))
        poses[:, k] = AXIS_ANGLES
        model_rows[axis] = rotator.rotate(source, poses, protocol.steps, protocol.guidance, protocol.seed,
                                          sampler=protocol.sampler)
        truth_rows[axis] = render_views(projector, poses, drr, noise_generator(drr.seed, ct_id))[0]
    return model_rows, truth_rows


def real_radiograph_rows(path: Path, rotator: Rotator, protocol: Protocol, regressor, rotations) -> pd.DataFrame:
    """Real radiographs have no rotated truth and no CT: only the pose regressor's reading."""
    from components.evaluation.metrics import angle_bin
    from components.models.pose_regressor import predict_degrees

    if regressor is None or not path.exists() or not len(rotations):
        return pd.DataFrame()
    with np.load(path) as data:
        images, sources = data["images"], data["sources"]
    rows = []
    for delta in np.asarray(rotations, float):
        outputs = np.stack(rotator.rotate_each(list(images), np.repeat(delta[None], len(images), 0), protocol.steps,
                                               protocol.guidance, protocol.seed, protocol.batch_size, protocol.sampler))
        errors = np.abs(predict_degrees(regressor, images, outputs) - delta).mean(-1)
        rows += [{"domain": "real_radiograph", "method": "model", "bin": angle_bin(delta, protocol.angle_bins),
                  "ct_id": str(s), "patient_id": str(s), **{f"delta_{a}": float(v) for a, v in zip("xyz", delta)},
                  "regressor_error_deg": float(e)} for s, e in zip(sources, errors)]
    return pd.DataFrame(rows)


def evaluate_model(inputs: EvaluationInputs, protocol: Protocol, drr: DRRConfig, model_id: str | None,
                   progress=print) -> dict:
    """Score the model, its ablations and the baselines on the test fold; write the reports."""
    rotator = Rotator.from_folder(inputs.model)
    ablation = (Rotator.from_folder(inputs.ablation)
                if inputs.ablation is not None and (inputs.ablation / "config.json").exists() else None)
    methods = evaluation_methods(rotator, protocol, ablation, inputs.cyclegan)
    regressor = regressor_if_trained(inputs.regressor)
    test = evaluation_test_set(inputs, protocol)
    manifest = pd.read_csv(inputs.pool / "manifest.csv")
    progress(f"{len(test.pairs)} test pairs per domain from {len(test.patients)} CTs of "
             f"{len(set(test.patients.values()))} patients (fold {inputs.test_fold}); methods: {', '.join(methods)}")
    dictionaries = build_dictionaries(test, inputs.pool, manifest, drr, protocol)
    rows, outputs = score(methods, test, dictionaries, regressor)
    real = real_radiograph_rows(inputs.xray / "real.npz", rotator, protocol, regressor, inputs.real_rotations)
    summary = summarise(pd.concat([rows, real], ignore_index=True) if len(real) else rows, protocol)
    differences = {f"model - {b}": paired_differences(rows, "model", b, protocol) for b in BASELINES}
    if ablation is not None:
        differences["model - model_no_rhs"] = paired_differences(rows, "model", "model_no_rhs", protocol)
    record = evaluation_record(test, protocol, inputs.regressor, model_id)
    floor = summary.get("drr", {}).get("true_target", {}).get("all", {}).get("rotation_error_deg", float("nan"))
    header = [f"Test fold {inputs.test_fold}: {len(set(test.patients.values()))} patients, {len(test.patients)} CTs; "
              f"{protocol.pairs_per_bin} pairs per bin (max |V| over the axes), the same pairs in both domains.",
              f"Models sample with {protocol.sampler or rotator.sampler}, {protocol.steps or rotator.steps} steps, "
              "guidance "
              f"{protocol.guidance if protocol.guidance is not None else rotator.guidance:g}, seed {protocol.seed}; "
              "outputs are histogram-matched to their input (mode A).",
              "Rotation error (registration): the pose of each image recovered by registering it to its test CT "
              f"(a {protocol.registration.step_deg:g}° grid of {protocol.registration.pixels}² DRRs over ±"
              f"{protocol.registration.limit_deg:g}°, normalised gradient correlation, sub-grid refinement), "
              "minus the requested pose, mean over the three axes. `true_target` is the true rotated image "
              f"registered the same way: the measure's floor ({floor:.2f}° on DRRs).",
              "Radiograph-style inputs are a rendered stand-in (components/evaluation/xray_style.py), not real "
              "radiographs.",
              "Figures: `figures/examples_<domain>.png` (columns labelled), `figures/axes.png` (one source "
              "rotated about each axis by the model beside the truth), `figures/metrics_<domain>.png`."]
    metrics = report.write_reports(inputs.out, rows if not len(real) else pd.concat([rows, real], ignore_index=True),
                                   summary, differences, record, header)
    for domain in test.shards:
        report.example_figure(outputs[domain], test.pairs, rows, domain,
                              inputs.out / "figures" / f"examples_{domain}.png")
    model_rows, truth_rows = axes_rows(rotator, test, inputs.pool, manifest, drr, protocol)
    report.axes_figure(model_rows, truth_rows, AXIS_ANGLES, inputs.out / "figures" / "axes.png",
                       f"model {(model_id or 'local')[:8]}")
    return metrics
