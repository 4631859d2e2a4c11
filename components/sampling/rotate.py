"""Mode A (one or more rotated views) and Mode B (a rotation sweep) for any radiograph.

A radiograph of any aspect ratio is padded with zeros to a square (as the training
transforms pad rows), resized to the model's size, min–max scaled to [-1, 1],
rotated by guided sampling (the model's sampler: DPM-Solver++ by default) with
noise fixed by the seed and shared by every view,
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
from components.sampling.guided import guided_sample, initial_noise
from components.sampling.requests import AngleOutOfRange, check_guidance, check_steps  # noqa: F401 (re-export)
from components.sampling.requests import check_angles as check_request_angles
from components.sampling.samplers import check_sampler, make_sampler


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
    """A model with its inference defaults (sampler, steps, guidance) from its model folder.

    Every call may override them; `on_step` (no arguments) is called after each denoising
    step of each batch, so a caller can show progress: a call makes steps × batches of them."""

    def __init__(self, model: torch.nn.Module, image_size: int, device: str = "cpu", timesteps: int = 1000,
                 steps: int = 20, guidance: float = 4.0, sampler: str = "dpmsolver++") -> None:
        self.model, self.size, self.device = model.to(device).eval(), image_size, device
        self.timesteps, self.sampler = timesteps, check_sampler(sampler)
        self.steps, self.guidance = steps, guidance
        self.config: dict = {}
        self.guard = None  # components/models/domain_guard.InputGuard, when the model folder carries one

    def settings(self, steps, guidance, sampler=None) -> tuple[int, float, object]:
        """Checked (steps, guidance, scheduler), each the model's own when None."""
        steps, guidance = check_steps(steps), check_guidance(guidance)
        scheduler = make_sampler(sampler or self.sampler, self.timesteps)
        return steps or self.steps, self.guidance if guidance is None else guidance, scheduler

    def provenance(self, angles, model: str, seed: int, source: str = "", domain_score: float = float("nan"),
                   sampler: str | None = None, steps: int | None = None, guidance: float | None = None):
        """The label of one output view: what made it, with the model's own settings where none was asked."""
        from components.sampling.labels import Provenance

        return Provenance(tuple(float(a) for a in angles), model, self.config.get("weights_sha256", ""),
                          sampler or self.sampler, steps or self.steps, self.guidance if guidance is None else guidance,
                          seed, source, domain_score)

    @classmethod
    def from_folder(cls, folder, device: str = "cpu") -> Rotator:
        from components.registry.export import inference_defaults, load_guard, load_model

        model, config = load_model(folder, device)
        defaults = inference_defaults(config)
        rotator = cls(model, config["unet"]["image_size"], device,
                      config.get("scheduler", {}).get("num_train_timesteps", 1000), defaults.steps, defaults.guidance,
                      defaults.sampler)
        rotator.config = config
        rotator.guard = load_guard(folder)
        return rotator

    def domain_score(self, image: np.ndarray) -> float:
        """How far the image lies from the model's training domain (> 1: outside it; NaN: no guard)."""
        if self.guard is None:
            return float("nan")
        return float(self.guard.score(prepare(image, self.size).tensor)[0])

    def _generate(self, source: torch.Tensor, angles: np.ndarray, settings, seed: int, progress: bool,
                  on_step) -> torch.Tensor:
        steps, guidance, scheduler = settings
        n = len(angles)
        source = source.to(self.device).expand(n, -1, -1, -1) if len(source) == 1 else source.to(self.device)
        noise = initial_noise((1, 1, self.size, self.size), seed, self.device).expand(n, -1, -1, -1)
        cond = torch.as_tensor(np.asarray(angles, np.float32) / MAX_ANGLE, device=self.device)
        return guided_sample(self.model, scheduler, source, cond, noise, steps, guidance, progress, on_step)[:, 0]

    def rotate(self, image: np.ndarray, angles, steps: int | None = None, guidance: float | None = None,
               seed: int = 0, allow_extrapolation: bool = False, progress: bool = False, sampler: str | None = None,
               on_step=None) -> list[np.ndarray]:
        """Mode A: one output in [0, 1] at input resolution per angle triple (degrees); sampler, steps and
        guidance default to the model's."""
        settings = self.settings(steps, guidance, sampler)
        angles = np.atleast_2d(np.asarray(angles, float))
        check_angles(angles, allow_extrapolation)
        prep = prepare(image, self.size)
        generated = self._generate(prep.tensor, angles, settings, seed, progress, on_step)
        return [restore(g, prep) for g in generated]

    def rotate_each(self, images, angles, steps: int | None = None, guidance: float | None = None, seed: int = 0,
                    batch: int = 16, sampler: str | None = None) -> list[np.ndarray]:
        """One view per image: image k rotated by angles[k] (degrees), `batch` images denoised together,
        all from the same noise (as mode A, for many inputs at once: the evaluation)."""
        settings = self.settings(steps, guidance, sampler)
        angles = np.atleast_2d(np.asarray(angles, float))
        check_angles(angles, allow_extrapolation=False)
        out = []
        for start in range(0, len(images), batch):
            preps = [prepare(np.asarray(im), self.size) for im in images[start:start + batch]]
            source = torch.cat([p.tensor for p in preps])
            generated = self._generate(source, angles[start:start + batch], settings, seed, False, None)
            out += [restore(g, p) for g, p in zip(generated, preps)]
        return out

    def sweep(self, image: np.ndarray, axis: str, start: float, stop: float, frames: int, batch: int = 8,
              steps: int | None = None, guidance: float | None = None, seed: int = 0,
              allow_extrapolation: bool = False, sampler: str | None = None, on_step=None) -> Iterator[np.ndarray]:
        """Mode B: frames rotating about one axis, `batch` frames denoised together, all from the same noise."""
        settings = self.settings(steps, guidance, sampler)
        k = "xyz".index(axis)
        values = np.linspace(start, stop, frames)
        angles = np.zeros((frames, 3))
        angles[:, k] = values
        check_angles(angles, allow_extrapolation)
        prep = prepare(image, self.size)
        for i in range(0, frames, batch):
            for g in self._generate(prep.tensor, angles[i:i + batch], settings, seed, False, on_step):
                yield restore(g, prep)
