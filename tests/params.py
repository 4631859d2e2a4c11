"""params.yaml's values for tests: a test names what it varies, and takes the rest from the CPU profile.

No SimpleITK or Prefect here, so that the GPU tests run where only torch is installed
(`pytest --noconftest tests/drr/test_projector.py tests/training/test_module.py -m gpu`).
"""

from __future__ import annotations

from pathlib import Path

from components.config import load_config

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CPU = load_config(PROJECT_ROOT / "params.yaml")  # the CPU profile: what a test varies, it names


def drr_config(geometry: dict | None = None, physics: dict | None = None, display: dict | None = None,
               **changes):
    """params.yaml's DRR configuration with the changes a test names (nested ones as dicts)."""
    from dataclasses import replace

    from components.drr.render import DRRConfig

    parts = {"geometry": _geometry(**(geometry or {})), "physics": _physics(**(physics or {})),
             "display": _display(**(display or {}))}
    return replace(DRRConfig.from_params(CPU.drrs), **parts, **changes)


def geometry(**changes):
    from components.drr.geometry import Geometry

    return Geometry(**{**CPU.drrs.geometry.to_dict(), **changes})


def physics(**changes):
    from components.drr.projector import Physics

    return Physics(**{**CPU.drrs.physics.to_dict(), **changes})


def display(**changes):
    from components.drr.display import Display

    return Display(**{**CPU.drrs.display.to_dict(), **changes})


def protocol(registration: dict | None = None, **changes):
    from dataclasses import replace

    from components.evaluation.protocol import Protocol

    base = Protocol.from_params(CPU.evaluate)
    return replace(base, registration=replace(base.registration, **(registration or {})), **changes)


def inference(**changes):
    from components.registry.export import InferenceDefaults

    return InferenceDefaults(**{**CPU.train.inference.to_dict(), **changes})


def optim(**changes) -> dict:
    return {**CPU.train.optim.to_dict(), **changes}


def cyclegan_config(**changes) -> dict:
    from components.training.cyclegan_module import CycleGANConfig

    return {**{k: getattr(CPU.cyclegan, k) for k in CycleGANConfig.__dataclass_fields__}, **changes}


def eligibility():
    from components.ct.eligibility import Eligibility

    return Eligibility.from_params(CPU.ct_pool.eligibility)


_geometry, _physics, _display = geometry, physics, display  # drr_config's arguments shadow these names
