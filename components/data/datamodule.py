"""The pairs a RadRotator model learns from, as Lightning wants them.

`TransformedPairs` applies the MONAI augmentation pipeline to DRR pairs and
carries the transforms' random states, so that a StatefulDataLoader checkpoints
them with its sampler position; `PairDataModule` holds the training folds'
pairs and the validation fold's, built once (`setup` is idempotent: Lightning
calls it again inside fit). `pair_data` builds one from the parameters.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchdata.stateful_dataloader import StatefulDataLoader

from components.config import Params, Train
from components.data.folds import ct_ids_in_folds
from components.data.pairs import DRRPairs
from components.data.transforms import evaluation_transforms, training_transforms


def randomizables(transform) -> list:
    """Every object with a random state in a MONAI transform tree, in a fixed order."""
    found, stack = [], [transform]
    while stack:
        obj = stack.pop(0)
        if isinstance(getattr(obj, "R", None), np.random.RandomState) and all(obj is not f for f in found):
            found.append(obj)
        children = list(getattr(obj, "transforms", ()))
        children += [v for _, v in sorted(vars(obj).items()) if hasattr(v, "set_random_state")]
        stack.extend(children)
    return found


def random_state_dict(rng: np.random.RandomState) -> dict:
    """A RandomState as tensors and plain numbers: checkpoints load with weights_only=True."""
    _, keys, pos, has_gauss, gauss = rng.get_state()
    return {"keys": torch.from_numpy(keys.astype(np.int64)), "rest": [int(pos), int(has_gauss), float(gauss)]}


def load_random_state(rng: np.random.RandomState, state: dict) -> None:
    pos, has_gauss, gauss = state["rest"]
    rng.set_state(("MT19937", state["keys"].numpy().astype(np.uint32), pos, has_gauss, gauss))


class TransformedPairs(Dataset):
    """DRRPairs with a MONAI dictionary pipeline applied; plain tensors out.

    Stateful: `state_dict` holds the random states of the transforms, so that a
    StatefulDataLoader (torchdata) checkpoints them with its sampler position and
    a resumed run draws the same augmentations as an uninterrupted one.
    """

    def __init__(self, pairs: DRRPairs, transform) -> None:
        self.pairs, self.transform = pairs, transform

    def state_dict(self) -> dict:
        return {"transforms": [random_state_dict(t.R) for t in randomizables(self.transform)]}

    def load_state_dict(self, state: dict) -> None:
        owners = randomizables(self.transform)
        if len(owners) != len(state["transforms"]):
            raise ValueError(f"checkpoint holds {len(state['transforms'])} transform random states, "
                             f"the pipeline has {len(owners)}: a different histogram_transform?")
        for owner, s in zip(owners, state["transforms"]):
            load_random_state(owner.R, s)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i):
        item = self.transform(self.pairs[i])
        return {k: torch.as_tensor(v).as_subclass(torch.Tensor) if isinstance(v, torch.Tensor) else v
                for k, v in item.items()}


class PairDataModule(L.LightningDataModule):
    def __init__(self, shard_dir: str, folds_csv: str, train_folds: list[int], val_folds: list[int],
                 batch_size: int, histogram: str, seed: int, max_val_pairs: int, val_shard_dir: str | None = None,
                 num_workers: int = 0) -> None:
        super().__init__()
        self.shard_dir, self.folds_csv = shard_dir, folds_csv
        self.val_shard_dir = val_shard_dir or shard_dir  # radiograph-style shards: a validation that sees RHS
        self.train_folds, self.val_folds = train_folds, val_folds
        self.batch_size, self.histogram, self.num_workers, self.seed = batch_size, histogram, num_workers, seed
        self.max_val_pairs = max_val_pairs

    def setup(self, stage: str | None = None) -> None:
        if getattr(self, "train_set", None) is not None:
            return  # idempotent: Lightning calls setup again inside fit()
        transform = training_transforms(self.histogram)
        transform.set_random_state(self.seed)
        self.train_set = TransformedPairs(DRRPairs(self.shard_dir, ct_ids_in_folds(self.folds_csv, self.train_folds)), transform)
        val = DRRPairs(self.val_shard_dir, ct_ids_in_folds(self.folds_csv, self.val_folds))
        keep = np.random.default_rng(self.seed).permutation(len(val))[: self.max_val_pairs]
        self.val_set = torch.utils.data.Subset(TransformedPairs(val, evaluation_transforms()), sorted(keep))

    def train_dataloader(self):
        # Stateful (torchdata): Lightning checkpoints the sampler's position and the dataset's
        # transform random states with it, so a resumed run continues the same stream.
        return StatefulDataLoader(self.train_set, batch_size=self.batch_size, shuffle=True,
                                  num_workers=self.num_workers, generator=torch.Generator().manual_seed(self.seed),
                                  drop_last=True)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=self.batch_size, num_workers=self.num_workers,
                          generator=torch.Generator().manual_seed(self.seed))


def pair_data(params: Params, train: Train, validate_on: str = "drr") -> PairDataModule:
    """The training folds' pairs (with `train`'s histogram transform) and the validation fold's: DRRs, or
    (`validate_on: radiograph_style`, the sweep's objective) the radiograph-style stand-in; set up."""
    val_dir = {"drr": None, "radiograph_style": params.xray_domain.out}[validate_on]
    data = PairDataModule(params.drrs.out, str(params.folds.csv), list(params.folds.train), [params.folds.val],
                          batch_size=train.batch_size, histogram=train.histogram_transform, seed=train.seed,
                          max_val_pairs=train.val_pairs, val_shard_dir=val_dir)
    data.setup()
    return data
