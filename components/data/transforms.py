"""Training transforms of the report (section 3.3), as MONAI array + dictionary transforms.

- `RandZeroRows`: random rows of zeros at the top and bottom (radiographs are
  often collimated or padded to square).
- `RandLabelBoxes`: random black rectangles, as the burned-in patient labels
  covered on radiographs (source image only).
- `RandHistogramMatch`: the report's RandHistogramShift. Both images of a pair
  are histogram-matched (scikit-image) to one fresh random-noise image, drawn per
  sample from a wide family of distributions, so that the model cannot rely on
  intensity distributions and learns content. Matching is monotone: each image
  keeps its pixel order. Not to be confused with MONAI's `RandHistogramShift`, a
  random piecewise-linear intensity remap, offered by name as an alternative
  (`histogram_transform: monai_shift`).

The dictionary forms draw once per call and apply the same draw to every key
listed, which is how a pair shares its zero rows and its noise reference.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import Compose, MapTransform, RandHistogramShiftd, RandomizableTransform, ScaleIntensityRanged
from skimage.exposure import match_histograms


def _as_numpy(img) -> tuple[np.ndarray, bool]:
    if isinstance(img, torch.Tensor):
        return img.detach().cpu().numpy(), True
    return np.asarray(img), False


def _like(array: np.ndarray, was_tensor: bool):
    return torch.as_tensor(array) if was_tensor else array


class RandZeroRows(RandomizableTransform):
    """Zero up to `max_fraction` of the rows at the top and, independently, at the bottom."""

    def __init__(self, prob: float = 0.3, max_fraction: float = 0.15) -> None:
        RandomizableTransform.__init__(self, prob)
        self.max_fraction = max_fraction
        self.top = self.bottom = 0

    def randomize(self, height: int) -> None:
        super().randomize(None)
        limit = int(self.max_fraction * height)
        self.top, self.bottom = (int(self.R.randint(0, limit + 1)) for _ in range(2))

    def __call__(self, img, randomize: bool = True):
        array, was_tensor = _as_numpy(img)
        if randomize:
            self.randomize(array.shape[-2])
        if not self._do_transform:
            return img
        out = array.copy()
        out[..., : self.top, :] = 0
        if self.bottom:
            out[..., -self.bottom:, :] = 0
        return _like(out, was_tensor)


class RandLabelBoxes(RandomizableTransform):
    """Up to `max_boxes` black rectangles, each up to `max_size` of the side."""

    def __init__(self, prob: float = 0.3, max_boxes: int = 3, max_size: float = 0.25) -> None:
        RandomizableTransform.__init__(self, prob)
        self.max_boxes, self.max_size = max_boxes, max_size
        self.boxes: list[tuple[int, int, int, int]] = []

    def randomize(self, shape: tuple[int, int]) -> None:
        super().randomize(None)
        h, w = shape
        self.boxes = []
        for _ in range(int(self.R.randint(1, self.max_boxes + 1))):
            bh = int(self.R.randint(1, max(2, int(self.max_size * h)) + 1))
            bw = int(self.R.randint(1, max(2, int(self.max_size * w)) + 1))
            y, x = int(self.R.randint(0, h - bh + 1)), int(self.R.randint(0, w - bw + 1))
            self.boxes.append((y, x, bh, bw))

    def __call__(self, img, randomize: bool = True):
        array, was_tensor = _as_numpy(img)
        if randomize:
            self.randomize(array.shape[-2:])
        if not self._do_transform:
            return img
        out = array.copy()
        for y, x, bh, bw in self.boxes:
            out[..., y:y + bh, x:x + bw] = 0
        return _like(out, was_tensor)


NOISE_FAMILIES = ("uniform", "normal", "beta", "gamma", "exponential", "bimodal", "lognormal")


class RandHistogramMatch(RandomizableTransform):
    """Match the image's histogram to that of a fresh random-noise image in [0, 1] (RandHistogramShift)."""

    def __init__(self, prob: float = 1.0, reference_size: int = 64) -> None:
        RandomizableTransform.__init__(self, prob)
        self.reference_size = reference_size
        self.reference: np.ndarray | None = None

    def randomize(self, data=None) -> None:
        super().randomize(None)
        self.reference = self.draw_reference()

    def draw_reference(self) -> np.ndarray:
        """Noise from a randomly chosen family with random parameters, rescaled to [0, 1]."""
        n, r = self.reference_size ** 2, self.R
        family = NOISE_FAMILIES[int(r.randint(len(NOISE_FAMILIES)))]
        if family == "uniform":
            x = r.uniform(size=n)
        elif family == "normal":
            x = r.normal(size=n)
        elif family == "beta":
            x = r.beta(r.uniform(0.3, 5), r.uniform(0.3, 5), size=n)
        elif family == "gamma":
            x = r.gamma(r.uniform(0.5, 5), size=n)
        elif family == "exponential":
            x = r.exponential(size=n)
        elif family == "bimodal":
            w = r.uniform(0.2, 0.8)
            x = np.where(r.uniform(size=n) < w, r.normal(0, 1, n), r.normal(r.uniform(2, 6), r.uniform(0.5, 2), n))
        else:
            x = r.lognormal(0, r.uniform(0.2, 1.0), size=n)
        if r.uniform() < 0.5:
            x = -x  # either tail may be the long one
        lo, hi = np.percentile(x, [0.1, 99.9])
        return np.clip((x - lo) / max(hi - lo, 1e-8), 0, 1).astype(np.float32)

    def __call__(self, img, randomize: bool = True):
        array, was_tensor = _as_numpy(img)
        if randomize:
            self.randomize()
        if not self._do_transform:
            return img
        # Matched as one flat sample: the image's values are mapped quantile-to-quantile.
        matched = match_histograms(array.astype(np.float32).ravel(), self.reference).reshape(array.shape)
        return _like(matched.astype(np.float32), was_tensor)


class _PairDict(RandomizableTransform, MapTransform):
    """Dictionary form: one draw per call, applied to every key."""

    def __init__(self, array_transform: RandomizableTransform, keys: KeysCollection, prob: float,
                 allow_missing_keys: bool = False) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.array = array_transform

    def set_random_state(self, seed=None, state=None):
        super().set_random_state(seed, state)
        self.array.set_random_state(seed, state)
        return self

    def __call__(self, data: Mapping[Hashable, object]) -> dict:
        d = dict(data)
        self.randomize(None)
        keys = list(self.key_iterator(d))
        if not self._do_transform or not keys:
            return d
        first = d[keys[0]]
        self._draw(first)
        for key in keys:
            d[key] = self.array(d[key], randomize=False)
        return d

    def _draw(self, example) -> None:
        self.array.randomize(_as_numpy(example)[0].shape[-2])
        self.array._do_transform = True


class RandZeroRowsd(_PairDict):
    def __init__(self, keys: KeysCollection, prob: float = 0.3, max_fraction: float = 0.15, **kwargs) -> None:
        super().__init__(RandZeroRows(1.0, max_fraction), keys, prob, **kwargs)


class RandLabelBoxesd(_PairDict):
    def __init__(self, keys: KeysCollection, prob: float = 0.3, max_boxes: int = 3, max_size: float = 0.25,
                 **kwargs) -> None:
        super().__init__(RandLabelBoxes(1.0, max_boxes, max_size), keys, prob, **kwargs)

    def _draw(self, example) -> None:
        self.array.randomize(_as_numpy(example)[0].shape[-2:])
        self.array._do_transform = True


class RandHistogramMatchd(_PairDict):
    def __init__(self, keys: KeysCollection, prob: float = 1.0, reference_size: int = 64, **kwargs) -> None:
        super().__init__(RandHistogramMatch(1.0, reference_size), keys, prob, **kwargs)

    def _draw(self, example) -> None:
        self.array.randomize()
        self.array._do_transform = True


def training_transforms(histogram: str = "match", zero_rows_prob: float = 0.3, boxes_prob: float = 0.3,
                        keys: Sequence[str] = ("source", "target")) -> Compose:
    """The report's training pipeline over a pair dict; `histogram` ∈ match | monai_shift | none."""
    keys = list(keys)
    steps = [RandZeroRowsd(keys, prob=zero_rows_prob), RandLabelBoxesd(keys[:1], prob=boxes_prob)]
    if histogram == "match":
        steps.append(RandHistogramMatchd(keys))
    elif histogram == "monai_shift":
        steps.append(RandHistogramShiftd(keys, num_control_points=(5, 15), prob=1.0))
    elif histogram != "none":
        raise ValueError(f"histogram transform must be match, monai_shift or none, not {histogram!r}")
    steps.append(ScaleIntensityRanged(keys, a_min=0.0, a_max=1.0, b_min=-1.0, b_max=1.0, clip=True))
    return Compose(steps)


def evaluation_transforms(keys: Sequence[str] = ("source", "target")) -> Compose:
    return Compose([ScaleIntensityRanged(list(keys), a_min=0.0, a_max=1.0, b_min=-1.0, b_max=1.0, clip=True)])
