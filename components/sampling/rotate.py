"""Mode A (one or more rotated views) and Mode B (a rotation sweep) for any radiograph.

A radiograph of any aspect ratio is padded with zeros to a square (as the training
transforms pad rows), resized to the model's size, min–max scaled to [-1, 1],
rotated by guided DDIM with noise fixed by the seed and shared by every view,
then resized back, cropped, and histogram-matched to the input (scikit-image),
so the output has the input's intensity distribution and resolution.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from skimage.exposure import match_histograms
from skimage.transform import resize

from components.drr.pose_protocol import MAX_ANGLE
from components.models.diffusion import sampling_scheduler
from components.sampling.guided import guided_sample, initial_noise
from components.sampling.requests import AngleOutOfRange, check_guidance, check_steps  # noqa: F401 (re-export)
from components.sampling.requests import check_angles as check_request_angles


@dataclass
class Prepared:
    tensor: torch.Tensor  # (1, 1, S, S) in [-1, 1]
    pad: tuple[int, int, int, int]  # top, bottom, left, right, in input pixels
    shape: tuple[int, int]
    original: np.ndarray


def check_angles(angles: np.ndarray, allow_extrapolation: bool) -> None:
    check_request_angles(np.atleast_2d(angles).tolist(), allow_extrapolation)


def prepare(image: np.ndarray, size: int) -> Prepared:
    h, w = image.shape
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    pad = (top, side - h - top, left, side - w - left)
    lo, hi = float(image.min()), float(image.max())
    scaled = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
    square = np.pad(scaled, ((pad[0], pad[1]), (pad[2], pad[3])))
    small = resize(square, (size, size), anti_aliasing=True, preserve_range=True)
    tensor = torch.from_numpy(small.astype(np.float32) * 2 - 1)[None, None]
    return Prepared(tensor, pad, (h, w), image)


def restore(generated: torch.Tensor, prep: Prepared) -> np.ndarray:
    """(S, S) model output in [-1, 1] → input resolution, cropped, histogram-matched, in [0, 1]."""
    h, w = prep.shape
    side = max(h, w)
    big = resize((generated.cpu().numpy().astype(np.float64) + 1) / 2, (side, side), preserve_range=True)
    top, _, left, _ = prep.pad
    crop = big[top:top + h, left:left + w]
    matched = match_histograms(crop, prep.original)
    lo, hi = float(prep.original.min()), float(prep.original.max())
    return (matched - lo) / (hi - lo) if hi > lo else np.zeros_like(matched)


class Rotator:
    """A model with its sampler and its inference defaults (steps, guidance) from its model folder."""

    def __init__(self, model: torch.nn.Module, image_size: int, device: str = "cpu", timesteps: int = 1000,
                 steps: int = 25, guidance: float = 4.0) -> None:
        self.model, self.size, self.device = model.to(device).eval(), image_size, device
        self.scheduler = sampling_scheduler(timesteps)
        self.steps, self.guidance = steps, guidance

    def settings(self, steps, guidance) -> tuple[int, float]:
        """Checked (steps, guidance), each the model's own when None."""
        steps, guidance = check_steps(steps), check_guidance(guidance)
        return steps or self.steps, self.guidance if guidance is None else guidance

    @classmethod
    def from_folder(cls, folder, device: str = "cpu") -> "Rotator":
        from components.registry.export import inference_defaults, load_model

        model, config = load_model(folder, device)
        defaults = inference_defaults(config)
        rotator = cls(model, config["unet"]["image_size"], device,
                      config.get("scheduler", {}).get("num_train_timesteps", 1000), defaults.steps, defaults.guidance)
        rotator.config = config
        return rotator

    def _generate(self, prep: Prepared, angles: np.ndarray, steps: int, guidance: float, seed: int,
                  progress: bool) -> torch.Tensor:
        n = len(angles)
        source = prep.tensor.to(self.device).expand(n, -1, -1, -1)
        noise = initial_noise((1, 1, self.size, self.size), seed, self.device).expand(n, -1, -1, -1)
        cond = torch.as_tensor(np.asarray(angles, np.float32) / MAX_ANGLE, device=self.device)
        return guided_sample(self.model, self.scheduler, source, cond, noise, steps, guidance, progress)[:, 0]

    def rotate(self, image: np.ndarray, angles, steps: int | None = None, guidance: float | None = None,
               seed: int = 0, allow_extrapolation: bool = False, progress: bool = False) -> list[np.ndarray]:
        """Mode A: one output in [0, 1] at input resolution per angle triple (degrees); steps and guidance
        default to the model's."""
        steps, guidance = self.settings(steps, guidance)
        angles = np.atleast_2d(np.asarray(angles, float))
        check_angles(angles, allow_extrapolation)
        prep = prepare(image, self.size)
        generated = self._generate(prep, angles, steps, guidance, seed, progress)
        return [restore(g, prep) for g in generated]

    def rotate_each(self, images, angles, steps: int | None = None, guidance: float | None = None, seed: int = 0,
                    batch: int = 16) -> list[np.ndarray]:
        """One view per image: image k rotated by angles[k] (degrees), `batch` images denoised together,
        all from the same noise (as mode A, for many inputs at once: the evaluation)."""
        steps, guidance = self.settings(steps, guidance)
        angles = np.atleast_2d(np.asarray(angles, float))
        check_angles(angles, allow_extrapolation=False)
        out = []
        for start in range(0, len(images), batch):
            preps = [prepare(np.asarray(im), self.size) for im in images[start:start + batch]]
            source = torch.cat([p.tensor for p in preps]).to(self.device)
            noise = initial_noise((1, 1, self.size, self.size), seed, self.device).expand(len(preps), -1, -1, -1)
            cond = torch.as_tensor(angles[start:start + batch] / MAX_ANGLE, dtype=torch.float32, device=self.device)
            generated = guided_sample(self.model, self.scheduler, source, cond, noise, steps, guidance)[:, 0]
            out += [restore(g, p) for g, p in zip(generated, preps)]
        return out

    def sweep(self, image: np.ndarray, axis: str, start: float, stop: float, frames: int, batch: int = 8,
              steps: int | None = None, guidance: float | None = None, seed: int = 0,
              allow_extrapolation: bool = False) -> Iterator[np.ndarray]:
        """Mode B: frames rotating about one axis, in batches, all from the same noise."""
        steps, guidance = self.settings(steps, guidance)
        k = "xyz".index(axis)
        values = np.linspace(start, stop, frames)
        angles = np.zeros((frames, 3))
        angles[:, k] = values
        check_angles(angles, allow_extrapolation)
        prep = prepare(image, self.size)
        for i in range(0, frames, batch):
            for g in self._generate(prep, angles[i:i + batch], steps, guidance, seed, progress=False):
                yield restore(g, prep)
