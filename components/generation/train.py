"""The generate_train stage's work: the label-conditioned generator and the label reader that measures it.

Both learn from the training folds' images only (generation_data). The
generator's folder holds no times (they would differ run to run under DVC):
the seconds go to an MLflow run `generate-train` in `generate_train.experiment`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import lightning as L
import mlflow
import torch
from torch.utils.data import DataLoader, Dataset

from components.atomic_write import atomic_path
from components.config import Params
from components.generation.data import Images, load_images
from components.generation.generator import save_generator
from components.generation.model import GeneratorModule
from components.generation.reader import ReaderModule, save_reader
from components.models.unet import count_parameters
from components.registry import tracking
from components.training.trainer import make_trainer

GENERATOR, READER = "generator", "reader"


class LabelledImages(Dataset):
    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "labels": self.labels[i]}


def fit(build: Callable[[], L.LightningModule], images: Images, steps: int, batch_size: int,
        seed: int) -> tuple[L.LightningModule, dict, float]:
    """The module `build` makes, trained (no flips: a flip would swap the prosthesis sides), with its final losses
    and seconds. The seed is set before the module is built: its initial weights are drawn from it too."""
    L.seed_everything(seed, workers=True)
    module = build()
    loader = DataLoader(LabelledImages(*images.tensors()), batch_size=batch_size, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(seed))
    trainer = make_trainer(steps, bf16=True, enable_checkpointing=False, log_every_n_steps=10)
    start = time.perf_counter()
    trainer.fit(module, loader)
    return module, {k: float(v) for k, v in trainer.callback_metrics.items()}, time.perf_counter() - start


def generator_config(params: Params) -> dict:
    cfg, size = params.generate_train, params.generation_data.image_size
    return {"net": {"image_size": size, **cfg.unet.to_dict()}, "timesteps": cfg.timesteps,
            "inference": cfg.inference.to_dict(), "lr": float(cfg.lr), "ema_decay": float(cfg.ema_decay),
            "label_drop_prob": float(cfg.label_drop_prob), "guidance_drop_prob": float(cfg.guidance_drop_prob)}


def train_generation(params: Params, project_root: Path) -> dict:
    cfg, size = params.generate_train, params.generation_data.image_size
    images = load_images(params.generation_data.out).in_folds(params.folds.train)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)

    config = generator_config(params)
    module, final, seconds = fit(lambda: GeneratorModule(config["net"], config["lr"], config["ema_decay"],
                                                         config["timesteps"], config["label_drop_prob"],
                                                         config["guidance_drop_prob"]),
                                 images, cfg.max_steps, cfg.batch_size, cfg.seed)
    training = {"steps": cfg.max_steps, "images": len(images), "cts": len(set(images.ct_ids)),
                "parameters": count_parameters(module.net), "final": final}
    save_generator(out / GENERATOR, module.ema.module, {**config, "training": training})
    print(f"generator: {cfg.max_steps} steps in {seconds:.0f} s")

    reader_cfg = cfg.reader
    reader, reader_final, reader_seconds = fit(lambda: ReaderModule(size, tuple(reader_cfg.channels),
                                                                    float(reader_cfg.lr)),
                                               images, reader_cfg.max_steps, reader_cfg.batch_size, cfg.seed)
    save_reader(out / READER, reader.net, size, reader_cfg.channels,
                {"training": {"steps": reader_cfg.max_steps, "final": reader_final}})
    print(f"reader: {reader_cfg.max_steps} steps in {reader_seconds:.0f} s")

    summary = {"generator": training, "reader": {"steps": reader_cfg.max_steps, "final": reader_final}}
    with atomic_path(out / "train_summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tracking.configure(project_root, cfg.experiment)
    with mlflow.start_run(run_name="generate-train"):
        mlflow.log_params(tracking.flatten({"generation_data": params.generation_data.to_dict(),
                                            "generate_train": cfg.to_dict()}))
        mlflow.log_metrics({"generator.train_seconds": seconds, "reader.train_seconds": reader_seconds}
                           | {f"generator.{k.replace('/', '.')}": v for k, v in final.items()})
        mlflow.set_tags(tracking.lineage(project_root))
    return summary
