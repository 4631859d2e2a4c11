"""Stage `xray_domain`: radiograph-style images of the evaluation CTs, at their DRR poses.

    python -m flows.xray_domain [--params params.yaml]

Writes xray/<ct_id>.npz (the shard format of drrs/, plus the style drawn for
that CT) for the CTs of `xray_domain.folds`, and xray/contact_sheet.png (DRR
beside radiograph style). A stand-in for real radiographs with known truth: see
components/evaluation/xray_style.py.

Real radiographs in data/radiographs/ (PNG/JPEG/DICOM) are prepared as mode A
prepares an input (padded square, resized, [0, 1]) into xray/real.npz: they have
no rotated truth, so they train the Cycle-GAN's radiograph domain and are scored
by rotation fidelity (the pose regressor), not by image metrics.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import torch
from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from components.atomic_write import atomic_path, remove_stale_temporaries
from components.config import load_config
from components.data.folds import ct_ids_in_folds
from components.drr.contact_sheet import contact_sheet
from components.drr.render import DRRConfig
from components.drr.shards import SHARD_SUFFIX, Shard
from components.evaluation.xray_style import prepare_real_radiographs, render_style_shard
from flows.stage import stage_main


@task(name="radiograph-style", cache_policy=NO_CACHE, task_run_name="xray {ct_id}")
def render(ct_path: str, ct_id: str, drr_dir: str, out_dir: str, config: DRRConfig, seed: int) -> str:
    torch.set_num_threads(1)  # one thread per CT, as the drrs stage: images independent of the core count
    rendered = render_style_shard(ct_path, ct_id, drr_dir, out_dir, config, seed)
    print(f"{ct_id}: " + ("rendered" if rendered else "current, kept"))
    return ct_id


@flow(name="xray_domain", log_prints=True)
def xray_domain(params_path: str = "params.yaml") -> list[str]:
    params = load_config(params_path)
    cfg, config = params.xray_domain, DRRConfig.from_params(params.drrs)
    out_dir, drr_dir, pool = Path(cfg.out), Path(params.drrs.out), Path(params.ct_pool.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)
    manifest = pd.read_csv(pool / "manifest.csv").set_index("ct_id")
    ct_ids = ct_ids_in_folds(params.folds.csv, list(cfg.folds))
    futures = render.map([str(pool / manifest.loc[c, "path"]) for c in ct_ids], ct_ids, unmapped(str(drr_dir)),
                         unmapped(str(out_dir)), unmapped(config), unmapped(cfg.seed))
    done = [f.result() for f in futures]
    for stale in set(out_dir.glob(f"*{SHARD_SUFFIX}")) - {out_dir / f"{c}{SHARD_SUFFIX}" for c in done}:
        stale.unlink()
    rows, labels = [], []
    for ct_id in done[:3]:
        drr, xr = Shard(drr_dir / f"{ct_id}{SHARD_SUFFIX}"), Shard(out_dir / f"{ct_id}{SHARD_SUFFIX}")
        rows.append([drr.image(0), xr.image(0), drr.image(1), xr.image(1)])
        labels.append(ct_id)
    sheet = contact_sheet(rows, labels, ["DRR0", "style, DRR0 pose", "DRR1", "style, DRR1 pose"])
    with atomic_path(out_dir / "contact_sheet.png") as tmp:
        sheet.save(tmp, format="PNG")
    real = prepare_real_radiographs(Path(cfg.real_dir), out_dir / "real.npz", config.geometry.pixels)
    print(f"radiograph-style images of {len(done)} CTs in {out_dir}; {real} real radiographs")
    return done


def run(params_path: str = "params.yaml") -> list[str]:
    """The flow with `drrs.workers` CTs at a time: each holds a volume in memory."""
    workers = load_config(params_path).drrs.workers
    return xray_domain.with_options(task_runner=ThreadPoolTaskRunner(max_workers=workers))(params_path)


def main(argv: list[str] | None = None) -> int:
    return stage_main("xray_domain", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
