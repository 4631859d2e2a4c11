"""The model folder: EMA weights (safetensors, no pickle) + config.json, saved and restored together.

config.json holds the sha256 of the weights (checked on every load: a flipped byte
is refused, not sampled from), the U-Net (`unet`, its `image_size` the DRRs' size), the noise
schedule (`scheduler`: what the model was trained on and samples with) and the
inference defaults (`inference`: sampler, steps, guidance), as diffusers' save_pretrained
keeps a pipeline's parts together; tools read the defaults from here, so a model
and the settings it was measured with cannot drift apart.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from components.atomic_write import atomic_path
from components.models.diffusion import SCHEDULE, noise_schedule
from components.models.folder import CONFIG, SUFFIX, load_weights, save_weights, write_config
from components.models.folder import read_config as read_folder_config
from components.models.unet import UNetConfig, build_unet

WEIGHTS, GUARD = "ema.safetensors", "guard"


@dataclass(frozen=True)
class InferenceDefaults:
    sampler: str  # benchmarks/samplers.py: 20 steps hold DDIM-200's SSIM and rotation error
    steps: int
    guidance: float

    def to_dict(self) -> dict:
        return asdict(self)


def scheduler_config(timesteps: int = 1000) -> dict:
    return {"schedule": SCHEDULE, **noise_schedule(timesteps)}


def export_model(model: torch.nn.Module, unet: UNetConfig, out_dir: str | Path, extra: dict,
                 inference: InferenceDefaults, timesteps: int = 1000,
                 guard: str | Path | None = None) -> Path:
    """Write weights + config to `out_dir` atomically (the folder appears whole or not at all); with
    `guard` (the pose regressor's folder), a copy of the input guard in `guard/`."""
    from components.fingerprint import file_sha256
    from components.models.domain_guard import InputGuard

    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        (sha256,) = save_weights(tmp, {WEIGHTS.removesuffix(SUFFIX): model}).values()
        guard_sha256 = {}
        if guard is not None:
            (tmp / GUARD).mkdir()
            for part in InputGuard.files(guard):
                shutil.copyfile(part, tmp / GUARD / part.name)
                guard_sha256[part.name] = file_sha256(part)
        config = {"unet": unet.to_dict(), "scheduler": scheduler_config(timesteps),
                  "inference": inference.to_dict(), **extra, "weights_sha256": sha256,  # one network: a string
                  **({"guard_sha256": guard_sha256} if guard_sha256 else {})}
        write_config(tmp, config)
        for part in (tmp / GUARD).glob("*"):  # readable by a serving account
            part.chmod(0o644)
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


def read_config(folder: str | Path) -> dict:
    folder = Path(folder)
    if not (folder / WEIGHTS).exists() or not (folder / CONFIG).exists():
        raise FileNotFoundError(f"{folder}: not a RadRotator model (needs {WEIGHTS} and {CONFIG})")
    return read_folder_config(folder, "RadRotator model")


def load_model(folder: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    folder = Path(folder)
    config = read_config(folder)
    state = load_weights(folder, WEIGHTS.removesuffix(SUFFIX), config)
    check_guard(folder, config)
    unet = UNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in config["unet"].items()})
    model = build_unet(unet)
    model.load_state_dict(state)
    model = model.to(device).eval()
    size = unet.image_size
    with torch.no_grad():
        out = model(torch.zeros(1, 2, size, size, device=device), torch.zeros(1, dtype=torch.long, device=device),
                    class_labels=torch.zeros(1, 3, device=device))
    if out.shape != (1, 2, size, size) or not torch.isfinite(out).all():
        raise ValueError(f"{folder}: the model does not produce finite (1, 2, {size}, {size}) outputs")
    return model, config


def check_guard(folder: Path, config: dict) -> None:
    from components.fingerprint import file_sha256

    for name, expected in config.get("guard_sha256", {}).items():
        path = folder / GUARD / name
        if not path.exists() or file_sha256(path) != expected:
            raise ValueError(f"{path}: missing or does not match the guard_sha256 in {CONFIG}; export the model again")


def load_guard(folder: str | Path):
    """The input guard a model folder carries (components/models/domain_guard.py), or None."""
    from components.models.domain_guard import InputGuard

    folder = Path(folder)
    return InputGuard.load(folder / GUARD) if read_config(folder).get("guard_sha256") else None


def inference_defaults(config: dict) -> InferenceDefaults:
    """The defaults a model folder records (older folders: DDIM, the report's 200 steps, guidance 4)."""
    return InferenceDefaults(**{"sampler": "ddim", "steps": 200, "guidance": 4.0, **config.get("inference", {})})
