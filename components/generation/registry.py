"""`radrotator-generator` in the MLflow registry (components/registry/family.py's pattern).

The evaluation's run (experiment `generate_train.experiment`) holds the
parameters, the summary means, the sampling seconds per image and the model as
a pyfunc from code (components/generation/pyfunc.py). The champion generates
again for the same labels and seeds; the gate is the rotation model's rule over
this family's measures (label accuracy first, diversity as a guard).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from components.generation.generator import Generator, load_generator
from components.generation.measures import LOWER_IS_BETTER
from components.registry import family, tracking
from components.registry.promotion import Rule

GENERATOR = family.Family("radrotator-generator", Path(__file__).with_name("pyfunc_entry.py"),
                          tuple(tracking.PIP_REQUIREMENTS))
MODEL_NAME = GENERATOR.name


def rule(primary: str, guards) -> Rule:
    return Rule(primary, tuple(guards), lower_is_better=LOWER_IS_BETTER)


def register_and_gate(project_root: Path, experiment: str, model_dir: Path, logged: dict, metrics: dict,
                      gate: Rule, compare: Callable[[Generator], dict]) -> dict:
    return family.register_and_gate(GENERATOR, project_root, experiment, "generate-evaluate", model_dir, logged,
                                    metrics, gate, lambda folder: compare(load_generator(folder)))


def load_registered_generator(uri: str, project_root: Path) -> tuple[Generator, str]:
    """A model folder, or a registry URI (`models:/radrotator-generator@champion`); the model and what it is."""
    return family.load_registered(GENERATOR, uri, project_root, load_generator, "models/generator/generator")
