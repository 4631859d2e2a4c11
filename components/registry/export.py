"""The exported model: EMA weights (safetensors, no pickle) + config.json, in one folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from components.atomic_write import atomic_path
from components.models.unet import UNetConfig, build_unet

WEIGHTS, CONFIG = "ema.safetensors", "config.json"


def export_model(model: torch.nn.Module, unet: UNetConfig, out_dir: str | Path, extra: dict) -> Path:
    """Write weights + config to `out_dir` atomically (the folder appears whole or not at all)."""
    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS))
        (tmp / CONFIG).write_text(json.dumps({"unet": unet.to_dict(), **extra}, indent=2) + "\n")
        load_model(tmp)  # what was written must load and run
        if out_dir.exists():
            shutil.rmtree(out_dir)
    return out_dir


def load_model(folder: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    folder = Path(folder)
    if not (folder / WEIGHTS).exists() or not (folder / CONFIG).exists():
        raise FileNotFoundError(f"{folder}: not a RadRotator model (needs {WEIGHTS} and {CONFIG})")
    config = json.loads((folder / CONFIG).read_text())
    unet = UNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in config["unet"].items()})
    model = build_unet(unet)
    model.load_state_dict(load_file(str(folder / WEIGHTS), device="cpu"))
    model = model.to(device).eval()
    size = unet.image_size
    with torch.no_grad():
        out = model(torch.zeros(1, 2, size, size, device=device), torch.zeros(1, dtype=torch.long, device=device),
                    class_labels=torch.zeros(1, 3, device=device))
    if out.shape != (1, 2, size, size) or not torch.isfinite(out).all():
        raise ValueError(f"{folder}: the model does not produce finite (1, 2, {size}, {size}) outputs")
    return model, config
