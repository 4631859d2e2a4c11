"""The label vector a radiograph is generated from, and how a person names it.

Six labels, as the pelvis DDPM of Khosravi et al. conditions on (view, prosthesis
on each side, sex, age, BMI; the joint side is always "both" in a pelvis CT's
AP). A vector holds one float per label, NaN where the label is unknown (or
dropped for classifier-free guidance): the network embeds NaN as that label's
learned null embedding. Categorical labels hold their category's index;
continuous ones their value, centred and scaled so the embedding sees O(1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

UNKNOWN = "unknown"
CATEGORIES: dict[str, tuple[str, ...]] = {
    "view": ("ap", "oblique"),
    "prosthesis_right": ("no", "yes"),
    "prosthesis_left": ("no", "yes"),
    "sex": ("f", "m"),
}
# centre and scale of each continuous label (years; kg/m²)
CONTINUOUS: dict[str, tuple[float, float]] = {"age": (60.0, 15.0), "bmi": (27.0, 5.0)}
LABELS: tuple[str, ...] = (*CATEGORIES, *CONTINUOUS)
PROSTHESIS = ("none", "right", "left", "both")  # how a person names the two prosthesis labels together


class LabelError(ValueError):
    """A label a person gave that the model cannot take; the message is one line."""


@dataclass(frozen=True)
class Labels:
    """One label set as people name it; None is unknown (the null embedding)."""

    view: str | None = None
    prosthesis: str | None = None  # none | right | left | both
    sex: str | None = None
    age: float | None = None
    bmi: float | None = None

    def __post_init__(self) -> None:
        for name, allowed in (("view", CATEGORIES["view"]), ("prosthesis", PROSTHESIS), ("sex", CATEGORIES["sex"])):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise LabelError(f"{name} {value!r} is not one of {', '.join(allowed)} (or leave it out: unknown)")
        for name, (low, high) in (("age", (0, 120)), ("bmi", (10, 80))):
            value = getattr(self, name)
            if value is not None and not (low <= value <= high):
                raise LabelError(f"{name} {value} is outside [{low}, {high}]")

    def vector(self) -> np.ndarray:
        values = dict.fromkeys(LABELS, math.nan)
        if self.view is not None:
            values["view"] = CATEGORIES["view"].index(self.view)
        if self.prosthesis is not None:
            values["prosthesis_right"] = float(self.prosthesis in ("right", "both"))
            values["prosthesis_left"] = float(self.prosthesis in ("left", "both"))
        if self.sex is not None:
            values["sex"] = CATEGORIES["sex"].index(self.sex)
        for name, (centre, scale) in CONTINUOUS.items():
            if getattr(self, name) is not None:
                values[name] = (getattr(self, name) - centre) / scale
        return np.array([values[k] for k in LABELS], np.float32)

    @classmethod
    def from_vector(cls, vector) -> Labels:
        v = dict(zip(LABELS, (float(x) for x in vector), strict=True))
        known = {k: x for k, x in v.items() if not math.isnan(x)}
        prosthesis = None
        if "prosthesis_right" in known and "prosthesis_left" in known:
            prosthesis = PROSTHESIS[int(known["prosthesis_right"]) + 2 * int(known["prosthesis_left"])]
        return cls(view=CATEGORIES["view"][int(known["view"])] if "view" in known else None,
                   prosthesis=prosthesis,
                   sex=CATEGORIES["sex"][int(known["sex"])] if "sex" in known else None,
                   **{k: round(known[k] * s + c, 1) if k in known else None for k, (c, s) in CONTINUOUS.items()})

    def to_dict(self) -> dict:
        return {k: UNKNOWN if v is None else v for k, v in self.__dict__.items()}

    def caption(self) -> str:
        parts = [f"{k} {v}" for k, v in self.to_dict().items() if v != UNKNOWN]
        return ", ".join(parts) or "no labels"


def view_of(rz_deg: float, oblique_deg: float) -> str:
    """The view a pose is: oblique when the pelvis is turned about the head-foot axis beyond the threshold."""
    return "oblique" if abs(rz_deg) > oblique_deg else "ap"
