"""The methods an evaluation compares, each as (sources, V) → outputs over a whole test set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from skimage.exposure import match_histograms

from components.evaluation.baselines import BASELINES
from components.evaluation.protocol import DOMAINS, MethodFn, Protocol
from components.models.cyclegan import translate
from components.sampling.rotate import Rotator


def model_method(rotator: Rotator, protocol: Protocol) -> MethodFn:
    """A diffusion model as mode A rotates: the protocol's sampler, steps, guidance, seed; output
    histogram-matched."""
    def rotate(sources: np.ndarray, deltas: np.ndarray) -> np.ndarray:
        return np.stack(rotator.rotate_each(list(sources), deltas, protocol.steps, protocol.guidance, protocol.seed,
                                            protocol.batch_size, protocol.sampler))
    return rotate


def baseline_method(name: str) -> MethodFn:
    fn = BASELINES[name]
    return lambda sources, deltas: np.stack([fn(s, d) for s, d in zip(sources, deltas)])


def cyclegan_route(to_drr: torch.nn.Module, to_xray: torch.nn.Module, rotate: MethodFn) -> MethodFn:
    """The route the report replaced: radiograph → DRR style, rotate, back to radiograph style."""
    def route(sources: np.ndarray, deltas: np.ndarray) -> np.ndarray:
        rotated = rotate(translate(to_drr, sources), deltas)
        return np.stack([match_histograms(x, s) for x, s in zip(translate(to_xray, rotated), sources)])
    return route


def evaluation_methods(rotator: Rotator, protocol: Protocol, ablation: Rotator | None = None,
                       cyclegan_dir: str | Path | None = None) -> dict[str, tuple[MethodFn, tuple[str, ...]]]:
    """name → (method, domains it applies to): the model, its ablations when trained, the baselines."""
    model = model_method(rotator, protocol)
    methods = {"model": (model, DOMAINS)}
    if ablation is not None:
        methods["model_no_rhs"] = (model_method(ablation, protocol), DOMAINS)
    if cyclegan_dir is not None and (Path(cyclegan_dir) / "config.json").exists():
        from components.models.cyclegan import load_generators

        to_xray, to_drr = load_generators(cyclegan_dir)
        methods["cyclegan_route"] = (cyclegan_route(to_drr, to_xray, model), ("radiograph_style",))
    methods.update({name: (baseline_method(name), DOMAINS) for name in BASELINES})
    return methods
