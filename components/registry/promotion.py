"""The promotion gate's rule: does the challenger replace the champion?

Metrics are the model's evaluation over all bins, keyed `<domain>.<metric>`
(e.g. `radiograph_style.ssim`). The rule (params.yaml `promote`): the primary
metric improves by more than `min_improvement`, and no guarded metric is worse
than the champion's by more than its tolerance. Without a champion, the
challenger is promoted. Champion and challenger are only compared on the same
test set and protocol (the evaluation fingerprint).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

# +1: higher is better; -1: lower is better.
DIRECTION = {"mae": -1, "psnr": +1, "ssim": +1, "angle_error_deg": -1}


@dataclass(frozen=True)
class Rule:
    primary: str = "radiograph_style.ssim"
    min_improvement: float = 0.0
    tolerances: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_params(cls, cfg: dict) -> "Rule":
        rule = cls(primary=str(cfg["primary"]), min_improvement=float(cfg.get("min_improvement", 0.0)),
                   tolerances={str(k): float(v) for k, v in (cfg.get("tolerances") or {}).items()})
        for key in (rule.primary, *rule.tolerances):
            metric = key.rpartition(".")[2]
            if metric not in DIRECTION:
                raise ValueError(f"promote: {key!r} is not <domain>.<metric> with metric one of {sorted(DIRECTION)}")
        return rule


@dataclass
class Decision:
    promote: bool
    reason: str
    checks: list[dict]

    def to_dict(self) -> dict:
        return asdict(self)


def model_metrics(summary: dict, method: str = "model") -> dict[str, float]:
    """{`<domain>.<metric>`: value} of one method over all bins, from reports/metrics.json."""
    return {f"{domain}.{metric}": float(value)
            for domain, methods in summary.items() if isinstance(methods, dict) and method in methods
            for metric, value in methods[method]["all"].items() if metric in DIRECTION}


def gain(key: str, challenger: float, champion: float) -> float:
    """How much better the challenger is (positive) or worse (negative), in the metric's unit."""
    return DIRECTION[key.rpartition(".")[2]] * (challenger - champion)


def decide(challenger: dict[str, float], champion: dict[str, float] | None, rule: Rule) -> Decision:
    for key in (rule.primary, *rule.tolerances):
        if key not in challenger:
            raise KeyError(f"the challenger's evaluation has no {key!r} (it has {sorted(challenger)})")
    if champion is None:
        return Decision(True, "no champion yet: the first evaluated model becomes champion", [])
    checks = []
    for key, allowed in {rule.primary: None, **rule.tolerances}.items():
        if key not in champion:
            raise KeyError(f"the champion's evaluation has no {key!r}: re-evaluate it")
        delta = gain(key, challenger[key], champion[key])
        passed = delta > rule.min_improvement if allowed is None else delta >= -allowed
        checks.append({"metric": key, "role": "primary" if allowed is None else "guard",
                       "challenger": challenger[key], "champion": champion[key], "gain": delta,
                       "needed": rule.min_improvement if allowed is None else -allowed, "passed": passed})
    failed = [c for c in checks if not c["passed"]]
    if not failed:
        return Decision(True, f"{rule.primary} improved by {checks[0]['gain']:.4g} and no guard was breached", checks)
    return Decision(False, "; ".join(
        f"{c['metric']}: gain {c['gain']:.4g} " + ("is not above" if c["role"] == "primary" else "is below")
        + f" {c['needed']:.4g}" for c in failed), checks)


def evaluation_fingerprint(params: dict) -> str:
    """A hash of what the evaluation measured with: the test fold's CTs, their DRRs, the protocol
    and the pose regressor that reads rotation errors."""
    h = hashlib.sha256()
    protocol = {k: v for k, v in params["evaluate"].items() if k not in ("out", "figure_rows")}
    h.update(json.dumps({"evaluate": protocol, "test_fold": params["folds"]["test"],
                         "xray_domain": {k: v for k, v in params["xray_domain"].items() if k != "out"}},
                        sort_keys=True).encode())
    regressor = Path(params["pose_regressor"]["out"])
    for path in (Path(params["folds"]["out"]) / "folds.csv", Path(params["drrs"]["out"]) / "index.csv",
                 *sorted(p for p in regressor.glob("*") if p.is_file())):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]
