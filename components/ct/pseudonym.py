"""Salted pseudonyms: identifiers that link a patient's series without revealing who it is.

The salt is a secret kept with the raw data (never in git): without it, a hash of
a medical record number could be reversed by trying every number.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

SALT_ENV = "RADROTATOR_ID_SALT"


def pseudonym(salt: str, *parts: str, prefix: str = "", length: int = 12) -> str:
    digest = hashlib.sha256("\x1f".join([salt, *parts]).encode()).hexdigest()
    return prefix + digest[:length]


def load_salt(path: str | Path) -> str:
    """The salt from $RADROTATOR_ID_SALT, else from `path`; a clear error when neither."""
    if os.environ.get(SALT_ENV):
        return os.environ[SALT_ENV]
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no pseudonymisation salt. Create one with `radrotator new-salt {path}` "
            f"(keep it with the raw data, not in git) or set ${SALT_ENV}.")
    salt = path.read_text().strip()
    if len(salt) < 16:
        raise ValueError(f"{path}: salt is {len(salt)} characters; use at least 16 random ones")
    return salt


def new_salt(path: str | Path) -> Path:
    """Write a fresh random salt to `path`, refusing to overwrite one (ids would change)."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path}: a salt exists already; replacing it would change every id")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secrets.token_hex(32) + "\n")
    return path
