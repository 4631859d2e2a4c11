"""Content fingerprints: what a cached output is keyed by.

A cached output (a DRR shard, a radiograph-style shard) is current only when its
key matches the content and code that would make it now: the bytes of its input,
the source of the code that renders it, and its configuration. The code is
fingerprinted from its own source files, so no hand-kept version number can be
forgotten.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

COMPONENTS = Path(__file__).resolve().parent


def file_sha256(path: str | Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@cache
def source_fingerprint(*modules: str) -> str:
    """sha256 over the Python source of `modules`: package folders or files under components/,
    e.g. `source_fingerprint("drr", "evaluation/xray_style.py")`."""
    h = hashlib.sha256()
    for name in modules:
        target = COMPONENTS / name
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        if not files or not all(f.exists() for f in files):
            raise FileNotFoundError(f"{target}: no source to fingerprint")
        for path in files:
            h.update(str(path.relative_to(COMPONENTS)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def cache_key(**parts) -> str:
    """One key from named parts (strings, numbers, JSON-able mappings)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
