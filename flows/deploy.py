"""Serve the pipeline as a Prefect deployment on a cron schedule (params.yaml `schedule`).

    python -m flows.deploy [--params params.yaml] [--name nightly] [--cron "0 2 * * *"] [--project-dir .]

Runs until stopped (Ctrl-C, or SIGTERM from docker stop or systemd): the process polls the Prefect server at
$PREFECT_API_URL and runs the deployment's scheduled and manual runs, one at a
time (two `dvc repro` in one project would fight over DVC's lock).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from prefect.schedules import Cron

from components.config import ConfigError, load_config
from flows import PROJECT_ROOT
from flows.pipeline import pipeline


def stop(signum, frame) -> None:
    """SIGTERM stops serving as Ctrl-C does (Prefect's runner shuts down on KeyboardInterrupt)."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(PROJECT_ROOT / "params.yaml"))
    parser.add_argument("--name", help="deployment name (default: schedule.deployment)")
    parser.add_argument("--cron", help="cron expression (default: schedule.cron)")
    parser.add_argument("--project-dir", default=str(PROJECT_ROOT), help="the DVC project the runs reproduce")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.params).schedule
    except ConfigError as err:
        print(f"deploy failed: {err}", file=sys.stderr)
        return 1
    cron = args.cron or cfg.cron
    try:
        schedule = Cron(cron, timezone=cfg.timezone)
    except ValueError as err:
        print(f"deploy failed: {cron!r} is not a valid cron expression ({err})", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, stop)
    pipeline.serve(name=args.name or cfg.deployment, schedules=[schedule], limit=1,
                   parameters={"project_dir": str(Path(args.project_dir).resolve()),
                               "targets": list(cfg.targets)},
                   tags=["radrotator"], description=f"dvc repro in {args.project_dir}, on cron {cron!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
