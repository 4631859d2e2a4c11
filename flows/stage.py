"""The command line every stage module shares: `python -m flows.<stage> [--params params.yaml]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


def stage_main(name: str, doc: str, run: Callable[..., object], argv: list[str] | None = None,
               options: Sequence[str] = ()) -> int:
    """Parse --params (and `options`), run the stage, and say a failure once, plainly (exit 1)."""
    parser = argparse.ArgumentParser(prog=f"python -m flows.{name}", description=doc.strip().splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    for option in options:
        parser.add_argument(f"--{option}")
    args = parser.parse_args(argv)
    try:
        run(args.params, **{option: getattr(args, option) for option in options})
    except Exception as err:  # the stage's failure, said once and plainly
        print(f"{name} failed: {err}", file=sys.stderr)
        return 1
    return 0
