"""The command line every stage module shares: `python -m flows.<stage> [--params params.yaml] [--verbose]`.

A failure ends with one line, `<stage> failed: <file>: <reason>`, and exit code 1.
Prefect logs a failed run's exception with its traceback; that traceback is
left out unless --verbose (or RADROTATOR_VERBOSE=1) asks for it. The line is
printed at exit, after Prefect's temporary server has said it stopped, so it is
the last thing a person reads.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

PREFECT_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "prefect.flow_engine", "prefect.task_engine")


class DropTraceback(logging.Filter):
    """Keep the record's message, drop its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def verbose_requested(flag: bool = False) -> bool:
    return flag or os.environ.get("RADROTATOR_VERBOSE", "") not in ("", "0", "false")


def quiet_tracebacks(verbose: bool = False) -> None:
    """Unless verbose, Prefect's run loggers log a failure as one line, without its traceback."""
    if verbose_requested(verbose):
        return
    for name in PREFECT_RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropTraceback) for f in logger.filters):
            logger.addFilter(DropTraceback())


OWNER_ENV = "RADROTATOR_STAGE_PID"  # inherited by Prefect's temporary server: whose it is


def reap_orphaned_servers() -> int:
    """Stop Prefect temporary servers whose stage died without stopping them (kill -9, OOM), then
    mark this process as the owner of the server it may start. Returns how many were stopped.

    A killed stage cannot stop its server; the next stage or command does (Linux: /proc)."""
    stopped = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"prefect.server.api.server:create_app" not in (proc / "cmdline").read_bytes():
                continue
            owner = [v.split(b"=", 1)[1] for v in (proc / "environ").read_bytes().split(b"\0")
                     if v.startswith(OWNER_ENV.encode() + b"=")]
        except OSError:  # gone meanwhile, or another user's
            continue
        if owner and not Path(f"/proc/{int(owner[0])}").exists():
            os.kill(int(proc.name), signal.SIGTERM)
            stopped += 1
    os.environ[OWNER_ENV] = str(os.getpid())
    return stopped


_LAST_WORDS: list[str] = []


def _say_last_words() -> None:
    for line in _LAST_WORDS:
        print(line, file=sys.stderr, flush=True)


def prepare_last_words() -> None:
    """Register, before any flow starts Prefect's temporary server, the exit hook that prints a failure:
    exit hooks run last-registered first, so this one runs after the server's. Servers orphaned by
    an earlier killed run are stopped here too."""
    if stopped := reap_orphaned_servers():
        print(f"stopped {stopped} Prefect temporary server(s) left by a killed run", file=sys.stderr)
    if _say_last_words not in getattr(prepare_last_words, "registered", ()):
        atexit.register(_say_last_words)
        prepare_last_words.registered = (_say_last_words,)


def say_last(line: str) -> None:
    """Print `line` to stderr at interpreter exit, after Prefect's shutdown messages."""
    _LAST_WORDS.append(line)


def stage_main(name: str, doc: str, run: Callable[..., object], argv: list[str] | None = None,
               options: Sequence[str] = (), flags: Sequence[str] = ()) -> int:
    """Parse --params (and `options` taking a value, `flags` taking none), run the stage, and say a
    failure once, plainly (exit 1)."""
    parser = argparse.ArgumentParser(prog=f"python -m flows.{name}", description=doc.strip().splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--verbose", action="store_true", help="show the traceback of a failure")
    for option in options:
        parser.add_argument(f"--{option.replace('_', '-')}", dest=option)
    for flag in flags:
        parser.add_argument(f"--{flag.replace('_', '-')}", dest=flag, action="store_true")
    args = parser.parse_args(argv)
    quiet_tracebacks(args.verbose)
    prepare_last_words()
    try:
        run(args.params, **{name_: getattr(args, name_) for name_ in (*options, *flags)})
    except Exception as err:  # the stage's failure, said once and plainly
        if verbose_requested(args.verbose):
            raise
        say_last(f"{name} failed: {err}")
        return 1
    return 0
