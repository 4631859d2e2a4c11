"""kill -9 at the worst moment, then run again: the same outputs, no temporaries, no server left.

Here: the ct_pool stage (ingest, with Prefect's temporary server), the drrs stage, training (kill -9
and SIGTERM: the same weights as an uninterrupted run), the evaluate stage, `rotate` and `video`;
and a blank shard anywhere failing the drrs stage.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from flows.stage import OWNER_ENV
from tests.conftest import PROJECT_ROOT, SALT, export_tiny_model, file_hashes, tiny_ct, write_nifti
from tests.flows.test_evaluate_flow import evaluated  # noqa: F401 (fixture)
from tests.training.test_resume import run, shards  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def servers_owned_by(pid: int) -> list[int]:
    """Prefect temporary servers started by the stage process `pid`."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (b"prefect.server.api.server:create_app" in (proc / "cmdline").read_bytes()
                    and f"{OWNER_ENV}={pid}".encode() in (proc / "environ").read_bytes().split(b"\0")):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    """Wait for `proc`, reading its output as it comes (a full pipe would block it)."""
    output, _ = proc.communicate(timeout=timeout)
    return proc.returncode, output or ""


def kill_when(proc: subprocess.Popen, ready, timeout: float = 300) -> None:
    """SIGKILL `proc` as soon as `ready()` holds (the moment the test wants to interrupt)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "finished before the moment to kill came"
        assert time.monotonic() < deadline, "never reached the moment to kill"
        time.sleep(0.05)
    proc.kill()
    proc.wait()


@pytest.fixture
def source(tmp_path):
    src = tmp_path / "src"
    for k in range(4):  # varied volumes: a rerun that mixed them up would show
        write_nifti(src / f"s{k}.nii.gz", tiny_ct(body_hu=30.0 + 5 * k), meta={"PatientID": f"P{k}"})
    (tmp_path / "salt.txt").write_text(SALT)
    return src


def stage(args: list[str], tmp_path: Path, **popen) -> subprocess.Popen:
    # No PREFECT_API_URL: the stage starts its own temporary server, as `dvc repro` does.
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp_path / "prefect_home"), PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.Popen([sys.executable, "-m", *args], cwd=PROJECT_ROOT, env=env, text=True,
                            **{"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, **popen})


def test_ingest_killed_mid_pool_reruns_to_the_same_pool_and_stops_the_orphaned_server(tmp_path, source,
                                                                                      pool_params):
    def ingest(out):
        return stage(["radrotator.cli", "--params", str(pool_params), "ingest", str(source), str(out),
                      "--salt-file", str(tmp_path / "salt.txt")], tmp_path)

    code, output = finish(ingest(tmp_path / "clean"))
    assert code == 0, output[-3000:]

    out = tmp_path / "killed"
    victim = ingest(out)
    kill_when(victim, lambda: servers_owned_by(victim.pid) and list((out / "ct").glob("*")))
    orphans = servers_owned_by(victim.pid)
    assert orphans, "the killed stage's temporary server should outlive it (what the rerun must clean)"

    again = ingest(out)
    code, output = finish(again)
    assert code == 0, output[-3000:]
    assert file_hashes(out) == file_hashes(tmp_path / "clean")  # no .tmp-, no partial volume
    time.sleep(1)
    assert not servers_owned_by(victim.pid) and not servers_owned_by(again.pid)


def test_drrs_killed_mid_render_reruns_to_the_same_shards(tmp_path, tiny_pool):
    from tests.conftest import small_params

    def drrs(folder):
        return stage(["flows.drrs", "--params", str(small_params(folder, tiny_pool))], tmp_path)

    code, output = finish(drrs(tmp_path / "clean"))
    assert code == 0, output[-3000:]
    victim = drrs(tmp_path / "killed")
    kill_when(victim, lambda: list((tmp_path / "killed" / "drrs").glob("*.npz")))
    code, output = finish(drrs(tmp_path / "killed"))
    assert code == 0, output[-3000:]
    assert file_hashes(tmp_path / "killed" / "drrs") == file_hashes(tmp_path / "clean" / "drrs")


def test_a_blank_shard_anywhere_fails_the_drrs_stage_naming_it(tmp_path, tiny_pool, prefect_server, monkeypatch):
    """Zeroed images with a consistent checksum (a renderer fault, not a flipped bit) are caught in
    every shard, not only in a validated sample."""
    import pandas as pd

    from components.drr.shards import Shard, write_shard
    from components.validation.gate import ValidationFailed
    from flows import drrs
    from tests.conftest import small_params

    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    params = small_params(tmp_path, tiny_pool)
    drrs.run(str(params))
    index = pd.read_csv(tmp_path / "drrs" / "index.csv")
    victim = tmp_path / "drrs" / index["path"].iloc[-1]
    shard = Shard(victim)
    images = shard.images.copy()
    images[1:] = 0.0  # DRR0 intact, every other view black
    write_shard(victim, images, shard.poses, shard.roles, shard.raw_min, shard.raw_max, shard.meta)
    with pytest.raises(ValidationFailed, match=index["ct_id"].iloc[-1]):
        drrs.run(str(params))


@pytest.mark.parametrize("name, command", [
    ("sweep.mp4", ["video", "--axis", "z", "--frames", "60", "--batch", "2"]),
    ("view.png", ["rotate", "--angles", "0", "0", "10", "--steps", "400"]),
])
def test_rotate_and_video_killed_mid_run_keep_the_previous_output(tmp_path, name, command):
    model = export_tiny_model(tmp_path / "model")
    image = tmp_path / "x.png"
    iio.imwrite(image, (np.random.default_rng(0).random((41, 37)) * 255).astype(np.uint8))  # odd sizes
    out = tmp_path / "out" / name
    out.parent.mkdir()
    out.write_bytes(b"the previous output")
    args = ["radrotator.cli", command[0], str(image), *command[1:], "--model", str(model), "--out", str(out)]
    if command[0] == "video":
        args += ["--steps", "2"]
        moment = lambda: list(out.parent.glob(".tmp-*"))  # noqa: E731 (frames are streaming into the temporary)
    else:
        moment = lambda: "model:" in (tmp_path / "log").read_text()  # noqa: E731 (mid-sampling)
    with open(tmp_path / "log", "w") as log:
        kill_when(stage(args, tmp_path, stdout=log, stderr=log), moment)
    assert out.read_bytes() == b"the previous output"

    code, output = finish(stage(args, tmp_path))
    assert code == 0, output[-3000:]
    first = out.read_bytes()
    assert first != b"the previous output" and iio.imread(out) is not None
    assert not list(out.parent.glob(".tmp-*"))  # the killed run's temporary is cleaned by the rerun
    assert finish(stage(args, tmp_path))[0] == 0 and out.read_bytes() == first  # same input and seed: same bytes


def test_a_killed_run_resumes_to_the_same_weights(tmp_path, shards):  # noqa: F811 (the fixture)
    steps = 12  # 3 training CTs × 72 pairs / batch 2: the kill falls mid-epoch
    straight = torch.load(run(tmp_path / "straight", steps, shards))
    killed = tmp_path / "killed"
    run(killed, steps, shards, "--kill-at", str(steps // 2), expect=-9)
    assert (killed / "checkpoints" / "last.ckpt").exists() and not (killed / "weights.pt").exists()
    resumed = torch.load(run(killed, steps, shards))
    assert straight.keys() == resumed.keys()
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name


def test_a_run_stopped_by_sigterm_saves_where_it_stopped_and_resumes_to_the_same_weights(tmp_path, shards):  # noqa: F811 (the fixture)
    steps = 12  # checkpoints every 6 steps: the stop at step 9 falls between two of them
    straight = torch.load(run(tmp_path / "straight", steps, shards))
    stopped = tmp_path / "stopped"
    run(stopped, steps, shards, "--kill-at", "9", "--signal", "SIGTERM", expect=143)
    assert not (stopped / "weights.pt").exists()
    # the signal arrives as step 9 starts; Lightning finishes that step, then saves: 10 steps done
    assert torch.load(stopped / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 10
    resumed = torch.load(run(stopped, steps, shards))
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name


def test_evaluate_killed_mid_run_reruns_to_the_same_reports(tmp_path, evaluated, monkeypatch):  # noqa: F811
    params_path, params, uri = evaluated
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # the stage inherits it
    command = ["flows.evaluate", "--params", str(params_path)]
    code, output = finish(stage(command, tmp_path))  # uninterrupted, in a process of its own as the rerun
    assert code == 0, output[-3000:]
    reports = tmp_path / "reports"
    clean = file_hashes(reports)
    for path in reports.rglob("*"):
        if path.is_file():
            path.unlink()
    with open(tmp_path / "log", "w") as log:
        kill_when(stage(command, tmp_path, stdout=log, stderr=log),
                  lambda: "test pairs per domain" in (tmp_path / "log").read_text())
    code, output = finish(stage(command, tmp_path))
    assert code == 0, output[-3000:]
    assert file_hashes(reports) == clean  # the same reports, and no temporary left beside them
