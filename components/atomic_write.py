"""Write-then-rename, so a killed run never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

TMP_PREFIX = ".tmp-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary sibling of `path`; rename it onto `path` only on success.

    The temporary name keeps the final suffixes (`.nii.gz`, `.csv`) because
    writers such as SimpleITK choose the format from the extension.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def remove_stale_temporaries(folder: str | os.PathLike) -> int:
    """Delete temporaries that a killed run left in `folder`; returns how many."""
    count = 0
    for stale in Path(folder).glob(f"{TMP_PREFIX}*"):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
        count += 1
    return count


def write_csv_atomic(frame, path: str | os.PathLike) -> None:
    """pandas DataFrame → CSV through a temporary file."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
