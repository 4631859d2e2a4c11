"""The report's pose protocol."""

import numpy as np
import pytest

from components.drr.pose_protocol import ROLE_DRR0, ROLE_P1, ROLE_P2, draw_poses, pose_rng


@pytest.mark.parametrize("n", [1, 2, 33, 512])
def test_protocol(n):
    poses, roles = draw_poses(n, np.random.default_rng(0))
    assert poses.shape == (n, 3) and roles.shape == (n,)
    assert roles[0] == ROLE_DRR0 and not poses[0].any()
    assert np.array_equal(poses, np.rint(poses))  # integer angles
    p1 = poses[roles == ROLE_P1]
    assert np.abs(p1).max(initial=0) <= 15
    assert (roles == ROLE_P1).sum() == n // 2 and (roles == ROLE_P2).sum() == (n - 1) // 2
    for i in np.nonzero(roles == ROLE_P2)[0]:
        assert roles[i - 1] == ROLE_P1
        assert np.abs(poses[i]).max() < 15 and np.abs(poses[i] - poses[i - 1]).max() <= 15


def test_angles_cover_the_range():
    poses, roles = draw_poses(4001, np.random.default_rng(1))
    p1, p2 = poses[roles == ROLE_P1], poses[roles == ROLE_P2]
    assert p1.min() == -15 and p1.max() == 15 and p2.min() == -14 and p2.max() == 14


def test_one_generator_per_ct_independent_of_order():
    a = draw_poses(9, pose_rng(0, "CTa"))[0]
    draw_poses(9, pose_rng(0, "CTb"))
    assert np.array_equal(a, draw_poses(9, pose_rng(0, "CTa"))[0])
    assert not np.array_equal(a, draw_poses(9, pose_rng(0, "CTb"))[0])
    assert not np.array_equal(a, draw_poses(9, pose_rng(1, "CTa"))[0])
