"""`radrotator-x2ct` in the MLflow registry (components/registry/family.py's pattern).

The evaluation's run (experiment `x2ct.experiment`) holds the parameters, the
summary means, the sampling seconds per volume and the model as a pyfunc from
code (components/x2ct/pyfunc.py). The champion is rescored on the same cases;
the gate is the rotation model's rule over this family's measures.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from components.config import Params
from components.registry import family, tracking
from components.registry.promotion import Rule
from components.x2ct.metrics import LOWER_IS_BETTER, paired_differences
from components.x2ct.reconstruct import X2CTModel, load_model

# the rotation model's requirements, and what lifting the views (scipy) and writing NIfTI (SimpleITK) need
X2CT = family.Family("radrotator-x2ct", Path(__file__).with_name("pyfunc_entry.py"),
                     (*tracking.PIP_REQUIREMENTS, "scipy>=1.17,<1.18", "SimpleITK>=2.5,<2.6"))
MODEL_NAME = X2CT.name


def register_and_gate(params: Params, project_root: Path, model_dir: Path, model_rows: pd.DataFrame,
                      metrics: dict, seconds: dict[str, float], rescore: Callable[[X2CTModel], pd.DataFrame]) -> dict:
    cfg = params.x2ct_evaluate
    means = {f"{method}.{m}": v for method, cells in metrics["summary"].items() for m, v in cells.items()}
    return family.register_and_gate(
        X2CT, project_root, params.x2ct.experiment, "x2ct-evaluate", model_dir,
        {"biplanar": params.biplanar.to_dict(), "x2ct": params.x2ct.to_dict()},
        means | {f"{method}.seconds_per_volume": s for method, s in seconds.items()},
        Rule(cfg.primary, tuple(cfg.guards), lower_is_better=LOWER_IS_BETTER),
        lambda folder: paired_differences(model_rows, rescore(load_model(folder)), cfg.bootstrap,
                                          float(cfg.confidence), cfg.seed))


def load_x2ct(uri: str, project_root: Path) -> tuple[X2CTModel, str]:
    """A model folder, or a registry URI (`models:/radrotator-x2ct@champion`); returns it and what was loaded."""
    return family.load_registered(X2CT, uri, project_root, load_model, "models/x2ct/diffusion")
