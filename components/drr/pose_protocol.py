"""The report's pose protocol (section 3.1) for the DRRs of one CT.

DRR0 at (0, 0, 0); then repeated triples: P1 with integer angles in [-15, 15],
V in [-15, 15], P2 = P1 + V with every |P2| < 15. Each P1, P2 is one DRR, so a
CT with n DRRs holds DRR0 and (n - 1) // 2 (P1, P2) couples, plus one lone P1
when n is even. Angles are integers (V is drawn as an integer too, so P2 is).
"""

from __future__ import annotations

import numpy as np

ROLE_DRR0, ROLE_P1, ROLE_P2 = 0, 1, 2
MAX_ANGLE = 15


def draw_poses(n: int, rng: np.random.Generator, max_angle: int = MAX_ANGLE) -> tuple[np.ndarray, np.ndarray]:
    """(poses (n, 3) degrees as float32, roles (n,) int8) for one CT."""
    if n < 1:
        raise ValueError(f"drrs_per_ct must be at least 1, got {n}")
    poses = np.zeros((n, 3), np.float32)
    roles = np.zeros(n, np.int8)
    for i in range(1, n, 2):
        p1 = rng.integers(-max_angle, max_angle + 1, size=3)
        poses[i], roles[i] = p1, ROLE_P1
        if i + 1 < n:
            # V such that |P1 + V| < max_angle on every axis, and |V| <= max_angle.
            lo = np.maximum(-max_angle, -(max_angle - 1) - p1)
            hi = np.minimum(max_angle, (max_angle - 1) - p1)
            poses[i + 1], roles[i + 1] = p1 + rng.integers(lo, hi + 1), ROLE_P2
    return poses, roles


def pose_rng(seed: int, ct_id: str) -> np.random.Generator:
    """One generator per CT, so poses do not depend on which worker renders which CT."""
    return np.random.default_rng([seed, int.from_bytes(ct_id.encode(), "little") % (2**63)])
