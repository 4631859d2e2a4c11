"""The whole chain as one Prefect flow. It runs `dvc repro`, so caching and lineage stay with DVC.

    python -m flows.pipeline [--project-dir .] [--targets promote ...] [--force]

Each DVC stage is itself a Prefect flow run (`python -m flows.<stage>`); this flow
adds the schedule (flows/deploy.py), the log of what ran and what DVC skipped, and
a Markdown artifact with the promotion decision, for the Prefect UI.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows import PROJECT_ROOT, venv_env

RAN = re.compile(r"Running stage '([^']+)'")
SKIPPED = re.compile(r"Stage '([^']+)' didn't change, skipping")


@task(name="dvc repro")
def dvc_repro(project_dir: str, targets: list[str], force: bool) -> dict:
    """Run `dvc repro`, streaming its output to the Prefect log; which stages ran and which were skipped."""
    logger = get_run_logger()
    env = venv_env()  # the stages' `python -m flows.<stage>` and `dvc` itself come from this environment
    cmd = ["dvc", "repro", *(["--force"] if force else []), *targets]
    logger.info("%s (in %s)", " ".join(cmd), project_dir)
    ran, skipped, tail = [], [], []
    with subprocess.Popen(cmd, cwd=project_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1) as proc:
        for line in proc.stdout:
            line = line.rstrip()
            tail = (tail + [line])[-40:]
            ran += RAN.findall(line)
            skipped += SKIPPED.findall(line)
            if line:
                logger.info(line)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed in {project_dir} (exit {proc.returncode}):\n" + "\n".join(tail))
    return {"ran": ran, "skipped": skipped}


@task(name="report")
def report(project_dir: str, stages: dict) -> dict:
    """The promotion decision (when the chain reached it), as a Markdown artifact."""
    promotion = Path(project_dir) / "reports" / "promotion.json"
    summary = {**stages, "promotion": json.loads(promotion.read_text()) if promotion.exists() else None}
    lines = ["# RadRotator pipeline", "", f"Stages run: {', '.join(stages['ran']) or 'none'}; "
             f"unchanged: {', '.join(stages['skipped']) or 'none'}.", ""]
    if summary["promotion"]:
        p = summary["promotion"]
        lines += [f"**{p['decision']}**: {p['model']} v{p['challenger']['version']} — {p['reason']}.",
                  f"Champion: v{p['champion']}."]
    create_markdown_artifact(key="radrotator-pipeline", markdown="\n".join(lines),
                             description="What the last pipeline run did")
    return summary


@flow(name="radrotator-pipeline", log_prints=True, persist_result=True)
def pipeline(project_dir: str = str(PROJECT_ROOT), targets: list[str] | None = None, force: bool = False) -> dict:
    """`dvc repro [targets]` in project_dir (a DVC project: this one by default)."""
    if not (Path(project_dir) / "dvc.yaml").exists():
        raise FileNotFoundError(f"{project_dir}: no dvc.yaml (project_dir must be a RadRotator checkout)")
    return report(project_dir, dvc_repro(project_dir, list(targets or []), force))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", default=str(PROJECT_ROOT))
    parser.add_argument("--targets", nargs="*", default=[])
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    try:
        pipeline(args.project_dir, args.targets, args.force)
    except Exception as err:
        print(f"pipeline failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
