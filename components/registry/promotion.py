"""The promotion gate's rule: does the challenger replace the champion?

Both are scored on the same test pairs (the evaluation's test fingerprint). For
each metric `<domain>.<measure>` over all bins, the per-pair differences
challenger − champion get a hierarchical bootstrap interval over patients, then
pairs (components/evaluation/bootstrap.py). The rule (params.yaml `promote`):
the primary metric's interval lies wholly on the better side of 0, and no
guarded metric's interval lies wholly on the worse side. No constant threshold:
noise is what the interval measures. Without a champion, the challenger is
promoted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from components.config import Promote
from components.evaluation.protocol import LOWER_IS_BETTER


@dataclass(frozen=True)
class Rule:
    primary: str
    guards: tuple[str, ...] = ()
    # which way each measure improves: the rotation evaluation's unless a model family brings its own
    lower_is_better: dict[str, bool] = field(default_factory=lambda: dict(LOWER_IS_BETTER), compare=False)

    def __post_init__(self) -> None:
        for key in (self.primary, *self.guards):
            if key.rpartition(".")[2] not in self.lower_is_better:
                raise ValueError(f"promote: {key!r} is not [<domain>.]<measure> with measure one of "
                                 f"{sorted(self.lower_is_better)}")

    @classmethod
    def from_params(cls, cfg: Promote) -> Rule:
        return cls(primary=cfg.primary, guards=tuple(cfg.guards))

    def to_dict(self) -> dict:
        return {"primary": self.primary, "guards": list(self.guards)}


@dataclass
class Decision:
    promote: bool
    reason: str
    checks: list[dict]

    def to_dict(self) -> dict:
        return asdict(self)


def model_metrics(metrics: dict, method: str = "model") -> dict[str, float]:
    """{`<domain>.<measure>`: mean over all bins} of one method, from reports/metrics.json."""
    return {f"{domain}.{measure}": float(value)
            for domain, methods in metrics["domains"].items() if method in methods
            for measure, value in methods[method]["all"].items() if measure in LOWER_IS_BETTER}


def side(key: str, lo: float, hi: float, lower_is_better: dict[str, bool] = LOWER_IS_BETTER) -> str:
    """Where the interval of challenger − champion lies: 'better', 'worse' or 'undecided'."""
    lower_better = lower_is_better[key.rpartition(".")[2]]
    if hi < 0:
        return "better" if lower_better else "worse"
    if lo > 0:
        return "worse" if lower_better else "better"
    return "undecided"


def decide(differences: dict[str, dict] | None, rule: Rule) -> Decision:
    """`differences`: {`<domain>.<measure>`: {"mean", "lo", "hi"}} of challenger − champion on the same
    pairs; None when there is no champion."""
    if differences is None:
        return Decision(True, "no champion yet: the first evaluated model becomes champion", [])
    checks = []
    for key, role in [(rule.primary, "primary"), *[(g, "guard") for g in rule.guards]]:
        if key not in differences:
            raise KeyError(f"no paired difference for {key!r} (have {sorted(differences)})")
        d = differences[key]
        where = side(key, d["lo"], d["hi"], rule.lower_is_better)
        passed = where == "better" if role == "primary" else where != "worse"
        checks.append({"metric": key, "role": role, "difference": d["mean"], "lo": d["lo"], "hi": d["hi"],
                       "side": where, "passed": passed})
    failed = [c for c in checks if not c["passed"]]
    primary = checks[0]
    if not failed:
        return Decision(True, f"{rule.primary} is better (challenger − champion {primary['difference']:+.4g}, "
                              f"95 % interval [{primary['lo']:+.4g}, {primary['hi']:+.4g}]) and no guard is "
                              "significantly worse", checks)
    return Decision(False, "; ".join(
        f"{c['metric']}: challenger − champion {c['difference']:+.4g} [{c['lo']:+.4g}, {c['hi']:+.4g}] "
        + ("is not significantly better" if c["role"] == "primary" else "is significantly worse")
        for c in failed), checks)


def all_bin_differences(paired: dict) -> dict[str, dict]:
    """{domain: {bin: {measure, measure_lo, measure_hi}}} → {`<domain>.<measure>`: {mean, lo, hi}} over all bins."""
    out = {}
    for domain, by_bin in paired.items():
        cell = by_bin.get("all", {})
        for measure in LOWER_IS_BETTER:
            if measure in cell:
                out[f"{domain}.{measure}"] = {"mean": cell[measure], "lo": cell[f"{measure}_lo"],
                                              "hi": cell[f"{measure}_hi"]}
    return out
