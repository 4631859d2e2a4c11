"""The model folder: EMA weights (safetensors, no pickle) + config.json, saved and restored together.

config.json holds the sha256 of the weights (checked on every load: a flipped byte
is refused, not sampled from), the U-Net (`unet`, its `image_size` the DRRs' size), the noise
schedule (`scheduler`: what the model was trained on and samples with) and the
inference defaults (`inference`: steps, guidance), as diffusers' save_pretrained
keeps a pipeline's parts together; tools read the defaults from here, so a model
and the settings it was measured with cannot drift apart.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from components.atomic_write import atomic_path
from components.models.diffusion import SCHEDULE
from components.models.unet import UNetConfig, build_unet

WEIGHTS, CONFIG = "ema.safetensors", "config.json"


@dataclass(frozen=True)
class InferenceDefaults:
    steps: int = 25
    guidance: float = 4.0

    def to_dict(self) -> dict:
        return asdict(self)


def scheduler_config(timesteps: int = 1000) -> dict:
    return {"schedule": SCHEDULE, "prediction_type": "v_prediction", "num_train_timesteps": timesteps}


def export_model(model: torch.nn.Module, unet: UNetConfig, out_dir: str | Path, extra: dict,
                 inference: InferenceDefaults = InferenceDefaults(), timesteps: int = 1000) -> Path:
    """Write weights + config to `out_dir` atomically (the folder appears whole or not at all)."""
    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS))
        config = {"unet": unet.to_dict(), "scheduler": scheduler_config(timesteps),
                  "inference": inference.to_dict(), **extra, "weights_sha256": model_sha256(tmp)}
        (tmp / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        for part in (WEIGHTS, CONFIG):  # readable by a serving account (safetensors writes 0600)
            (tmp / part).chmod(0o644)
        load_model(tmp)  # what was written must load and run
        if out_dir.exists():
            shutil.rmtree(out_dir)
    return out_dir


def model_sha256(folder: str | Path) -> str:
    """The model's identity: the sha256 of its weights. A pipeline output names its model by
    this, not by an MLflow run id, so that a rerun from the same data and code reproduces it."""
    from components.fingerprint import file_sha256

    weights = Path(folder) / WEIGHTS
    if not weights.exists():
        raise FileNotFoundError(f"{folder}: not a RadRotator model (no {WEIGHTS})")
    return file_sha256(weights)


def load_model(folder: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    folder = Path(folder)
    if not (folder / WEIGHTS).exists() or not (folder / CONFIG).exists():
        raise FileNotFoundError(f"{folder}: not a RadRotator model (needs {WEIGHTS} and {CONFIG})")
    try:
        config = json.loads((folder / CONFIG).read_text())
    except ValueError as err:
        raise ValueError(f"{folder / CONFIG}: not readable JSON ({err})") from None
    expected = config.get("weights_sha256")
    if expected is not None and model_sha256(folder) != expected:
        raise ValueError(f"{folder / WEIGHTS}: does not match the weights_sha256 in {CONFIG} (corrupt or "
                         "replaced); export the model again")
    unet = UNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in config["unet"].items()})
    model = build_unet(unet)
    try:
        model.load_state_dict(load_file(str(folder / WEIGHTS), device="cpu"))
    except Exception as err:  # safetensors says "incomplete metadata" without naming the file
        raise ValueError(f"{folder / WEIGHTS}: unreadable weights ({type(err).__name__}: {err})") from None
    model = model.to(device).eval()
    size = unet.image_size
    with torch.no_grad():
        out = model(torch.zeros(1, 2, size, size, device=device), torch.zeros(1, dtype=torch.long, device=device),
                    class_labels=torch.zeros(1, 3, device=device))
    if out.shape != (1, 2, size, size) or not torch.isfinite(out).all():
        raise ValueError(f"{folder}: the model does not produce finite (1, 2, {size}, {size}) outputs")
    return model, config


def inference_defaults(config: dict) -> InferenceDefaults:
    """The defaults a model folder records (older folders: the report's DDIM-200, guidance 4)."""
    return InferenceDefaults(**config.get("inference", {"steps": 200, "guidance": 4.0}))
