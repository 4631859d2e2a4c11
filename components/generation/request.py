"""Radiographs on request: a label set in, labelled synthetic radiographs out.

Each image is a 16-bit PNG whose text chunks say what it is (the research-use
mark, the labels asked for, the model and its weights, sampler, guidance and
the image's seed: the seed and labels regenerate it exactly). Beside them,
`generated.json` lists every file with its seed, and `sheet.png` shows them
side by side with the labels and the mark burned in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from components.atomic_write import atomic_path
from components.drr.contact_sheet import contact_sheet
from components.generation.generator import Generator, generate
from components.generation.labels import Labels
from components.sampling.labels import SOFTWARE, with_caption, write_labelled

NOTICE = "synthetic radiograph — research use only, not for diagnosis"
MAX_IMAGES = 256


@dataclass(frozen=True)
class Generated:
    """What made one generated image (sampling/labels.py's contract: description and text chunks)."""

    labels: Labels
    model: str
    model_sha256: str
    sampler: str
    steps: int
    guidance: float
    seed: int

    def description(self) -> str:
        return (f"RadRotator {NOTICE}. Generated for {self.labels.caption()} by {self.model} (weights "
                f"{self.model_sha256[:12]}), {self.sampler} {self.steps} steps, guidance {self.guidance:g}, "
                f"seed {self.seed}.")

    def text_chunks(self) -> dict[str, str]:
        fields = {"labels": self.labels.to_dict(), "model": self.model, "model_sha256": self.model_sha256,
                  "sampler": self.sampler, "steps": self.steps, "guidance": self.guidance, "seed": self.seed}
        return {"Title": "RadRotator synthetic radiograph", "Description": self.description(), "Software": SOFTWARE,
                "Disclaimer": NOTICE, "Comment": json.dumps(fields, ensure_ascii=False)}


def image_name(k: int, seed: int) -> str:
    return f"generated_{k:03d}_seed{seed}.png"


def generate_to_folder(generator: Generator, model: str, labels: Labels, n: int, seed: int, out: str | Path,
                       steps: int | None = None, guidance: float | None = None) -> dict:
    """`n` images for `labels`, image k from seed `seed + k`, into `out` (refused where a file would be replaced);
    returns the record written to generated.json."""
    if not 1 <= n <= MAX_IMAGES:
        raise ValueError(f"--n {n}: ask for 1 to {MAX_IMAGES} images")
    out = Path(out)
    seeds = [seed + k for k in range(n)]
    names = [image_name(k, s) for k, s in enumerate(seeds)] + ["generated.json", "sheet.png"]
    taken = [name for name in names if (out / name).exists()]
    if taken:
        raise FileExistsError(f"{out}: holds {taken[0]} already; choose another folder (nothing was replaced)")
    inference, model_sha256 = generator.inference, generator.sha256
    steps = int(steps or inference["steps"])
    guidance = float(inference["guidance"] if guidance is None else guidance)
    images = generate(generator, np.stack([labels.vector()] * n), seeds, steps=steps, guidance=guidance)
    out.mkdir(parents=True, exist_ok=True)
    for name, image, s in zip(names, images, seeds, strict=False):
        write_labelled(out / name, image, 16, Generated(labels, model, model_sha256, inference["sampler"], steps,
                                                        guidance, s))
    sheet = contact_sheet([list(images)], ["generated"], [f"seed {s}" for s in seeds], tile=128, label_width=80)
    captioned = with_caption(np.asarray(sheet, np.float64) / 255, [labels.caption(), f"{model}", NOTICE])
    write_labelled(out / "sheet.png", captioned, 8, Generated(labels, model, model_sha256, inference["sampler"],
                                                              steps, guidance, seed))
    record = {"notice": NOTICE, "labels": labels.to_dict(), "model": model, "model_sha256": model_sha256,
              "sampler": inference["sampler"], "steps": steps, "guidance": guidance,
              "images": [{"file": name, "seed": s} for name, s in zip(names, seeds, strict=False)]}
    with atomic_path(out / "generated.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return record
