"""The model-folder convention every trained model follows (the rotator, the pose regressor, the Cycle-GAN).

A folder holds each network's weights as `<name>.safetensors` (no pickle) and a
config.json with what builds the networks and `weights_sha256`: the sha256 of
each weights file (one string where the folder holds one network). Every load
checks them, so a flipped byte is refused rather than run. Callers write a
folder through `components.atomic_write.atomic_path`, so it appears whole or
not at all, and saving and loading go through the same names.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from components.atomic_write import atomic_path
from components.fingerprint import file_sha256

CONFIG = "config.json"
SUFFIX = ".safetensors"


def save_weights(folder: str | Path, nets: dict[str, torch.nn.Module]) -> dict[str, str]:
    """`<name>.safetensors` for each network; returns {file name: sha256}."""
    hashes = {}
    for name, net in nets.items():
        path = Path(folder) / f"{name}{SUFFIX}"
        save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(path))
        path.chmod(0o644)  # readable by a serving account (safetensors writes 0600)
        hashes[path.name] = file_sha256(path)
    return hashes


def write_config(folder: str | Path, config: dict) -> None:
    path = Path(folder) / CONFIG
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o644)


def save_folder(folder: str | Path, nets: dict[str, torch.nn.Module], config: dict) -> dict:
    """Weights and config.json (with their hashes) into an existing folder; returns the config written."""
    config = {**config, "weights_sha256": save_weights(folder, nets)}
    write_config(folder, config)
    return config


def replace_folder(folder: str | Path, nets: dict[str, torch.nn.Module], config: dict,
                   load: Callable[[Path], object]) -> dict:
    """save_folder into a temporary sibling, which `load` must read back, then onto `folder`: the folder appears
    whole (and loads) or not at all, and a previous one goes only once its replacement is complete."""
    folder = Path(folder)
    with atomic_path(folder) as tmp:
        tmp.mkdir(parents=True)
        written = save_folder(tmp, nets, config)
        load(tmp)
        if folder.exists():
            shutil.rmtree(folder)
    return written


def read_config(folder: str | Path, what: str = "model") -> dict:
    path = Path(folder) / CONFIG
    if not path.exists():
        raise FileNotFoundError(f"{folder}: not a {what} folder (no {CONFIG})")
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path}: not readable JSON ({err})") from None


def load_weights(folder: str | Path, name: str, config: dict) -> dict[str, torch.Tensor]:
    """The state dict in `<name>.safetensors`, after its sha256 matched the config's."""
    path = Path(folder) / f"{name}{SUFFIX}"
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing")
    expected = config.get("weights_sha256")
    expected = expected.get(path.name) if isinstance(expected, dict) else expected
    if expected is not None and file_sha256(path) != expected:
        raise ValueError(f"{path}: does not match the weights_sha256 in {CONFIG} (corrupt or replaced); "
                         "export the model again")
    try:
        return load_file(str(path), device="cpu")
    except Exception as err:  # safetensors says "incomplete metadata" without naming the file
        raise ValueError(f"{path}: unreadable weights ({type(err).__name__}: {err})") from None
