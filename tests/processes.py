"""Servers that tests start for real: on loopback, in their own process group, always stopped."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(cmd: list[str], ready_url: str, env: dict, cwd, timeout: float = 180):
    """Start `cmd` in its own process group (its workers die with it), wait until `ready_url`
    answers 200, yield the process, then stop the whole group."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(ready_url, timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, f"{cmd[:4]} did not answer {ready_url} in {timeout} s"
            time.sleep(1)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def post_status(url: str, body: dict, timeout: float = 120) -> tuple[int, str]:
    """POST `body` as JSON; (HTTP status, response text), errors included."""
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def load_test(url: str, body: dict, requests: int, concurrency: int) -> list[tuple[int, str, float]]:
    """(status, body, seconds) of every request, sent `concurrency` at a time."""
    def one(_):
        start = time.perf_counter()
        code, text = post_status(url, body)
        return code, text, time.perf_counter() - start

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(requests)))


def rotation_request(rows: list[list], **params) -> dict:
    """The RadRotator pyfunc's JSON body: rows of [base64 image, angle_x, angle_y, angle_z] in
    degrees; params such as steps, guidance, seed."""
    return {"dataframe_split": {"columns": ["image", "angle_x", "angle_y", "angle_z"], "data": rows},
            "params": params}
