"""The pipeline as a Prefect deployment: served on a real server, triggered, run to completion."""

import asyncio
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from tests.conftest import PROJECT_ROOT, dvc_project

pytestmark = pytest.mark.slow

CRON = "30 3 * * 1"  # not soon: the test triggers its own run


async def wait_for_deployment(name: str, serve: subprocess.Popen, timeout: float = 180):
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while True:
            try:
                return await client.read_deployment_by_name(name)
            except ObjectNotFound:
                assert serve.poll() is None, serve.stdout.read()[-3000:]
                assert time.monotonic() < deadline, f"deployment {name} did not appear in {timeout} s"
                await asyncio.sleep(1)


def test_served_deployment_runs_dvc_repro_to_completion(tmp_path, prefect_server):
    from prefect.deployments import run_deployment

    repo, env = dvc_project(tmp_path, prefect_server)
    serve = subprocess.Popen([sys.executable, "-m", "flows.deploy", "--name", "test", "--cron", CRON,
                              "--project-dir", str(repo)], cwd=PROJECT_ROOT, env={**env, "PYTHONPATH": ""},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deployment = asyncio.run(wait_for_deployment("radrotator-pipeline/test", serve))
        [schedule] = deployment.schedules
        assert schedule.schedule.cron == CRON and schedule.schedule.timezone == "UTC"
        assert deployment.parameters["project_dir"] == str(repo)

        run = run_deployment("radrotator-pipeline/test", parameters={"targets": ["ct_pool"]}, timeout=600)
        assert run.state.is_completed(), f"{run.state.name}: {run.state.message}"
        assert len(pd.read_csv(repo / "pool" / "manifest.csv")) == 9
        assert set(yaml.safe_load((repo / "dvc.lock").read_text())["stages"]) == {"ct_pool"}

        again = run_deployment("radrotator-pipeline/test", parameters={"targets": ["ct_pool"]}, timeout=600)
        assert again.state.is_completed()
        result = again.state.result()  # what DVC did: nothing, the stage is cached
        assert result["ran"] == [] and result["skipped"] == ["ct_pool"]

        serve.send_signal(signal.SIGTERM)  # what docker stop and systemd send: it must stop, not need SIGKILL
        assert serve.wait(timeout=60) == 0, serve.stdout.read()[-3000:]
    finally:
        os.killpg(serve.pid, signal.SIGTERM)  # the serve process before the server
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()
