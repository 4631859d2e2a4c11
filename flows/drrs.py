"""Stage `drrs`: every pool CT → one shard of DRRs at the report's pose protocol.

    python -m flows.drrs [--params params.yaml]

One mapped Prefect task per CT. `drrs.task_runner: threads` uses this machine;
`dask` runs the same tasks on a Dask cluster (`drrs.dask_address`, or a local
one with `drrs.workers` processes). Dask worker processes report to the Prefect
server in $PREFECT_API_URL; without one, each starts its own temporary server.
A shard is kept when its key matches (the CT's content hash, the fingerprint
of components/drr's source, the configuration), so an interrupted run resumes
and a changed CT or renderer renders again; a shard is written to a temporary
name and renamed, so none is ever partial. Each CT renders on one torch thread
(parallelism is across CTs), so the images depend only on the seed and the CT,
not on the workers or the machine's core count.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import torch
from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from rich.progress import Progress

from components.atomic_write import remove_stale_temporaries, write_csv_atomic
from components.config import Drrs, load_config
from components.drr.contact_sheet import write_pool_sheet
from components.drr.render import DRRConfig, ShardResult, render_ct_shard
from components.drr.shards import SHARD_SUFFIX, Shard
from components.fingerprint import file_sha256
from components.validation.drr_index import INDEX_COLUMNS, validate_drrs
from flows.stage import stage_main


@task(name="render-ct", cache_policy=NO_CACHE, task_run_name="drrs {ct_id}")
def render(ct_path: str, ct_id: str, out_dir: str, config: DRRConfig) -> ShardResult:
    torch.set_num_threads(1)  # in Dask worker processes too
    return render_ct_shard(ct_path, ct_id, out_dir, config)


@flow(name="drrs", log_prints=True)
def drrs(pool: str, out: str, config: DRRConfig, sheet_cts: int, sheet_poses: list[list[float]]) -> dict:
    pool_dir, out_dir = Path(pool), Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if stale := remove_stale_temporaries(out_dir):
        print(f"removed {stale} partial shard(s) left by an interrupted run")
    manifest = pd.read_csv(pool_dir / "manifest.csv")
    futures = render.map([str(pool_dir / p) for p in manifest["path"]], list(manifest["ct_id"]),
                         unmapped(str(out_dir)), unmapped(config))
    results: list[ShardResult] = []
    with Progress(transient=True) as bar:
        job = bar.add_task("rendering DRRs", total=len(futures))
        for future in as_completed(futures):
            results.append(future.result())
            bar.advance(job)
            r = results[-1]
            print(f"[{len(results)}/{len(futures)}] {r.ct_id}: " + ("current, kept" if r.skipped else f"{r.n_drrs} DRRs"))

    keep = {f"{c}{SHARD_SUFFIX}" for c in manifest["ct_id"]}
    for orphan in out_dir.glob(f"*{SHARD_SUFFIX}"):
        if orphan.name not in keep:
            orphan.unlink()  # a CT no longer in the pool
    patient = dict(zip(manifest["ct_id"], manifest["patient_id"]))
    pixels = config.geometry.pixels
    index = pd.DataFrame([{"ct_id": r.ct_id, "patient_id": patient[r.ct_id], "path": r.path.name,
                           "n_drrs": r.n_drrs, "height": pixels, "width": pixels, "backend": config.backend,
                           "cache_key": Shard(r.path).meta["cache_key"], "sha256": file_sha256(r.path)} for r in sorted(results, key=lambda r: r.ct_id)],
                         columns=INDEX_COLUMNS)
    def checked_shards():  # every shard, one at a time: a damaged or blank one anywhere fails the stage
        for _, row in index.iterrows():
            shard = Shard(out_dir / row["path"])
            if len(shard) != int(row["n_drrs"]) or shard.pixels.shape[1] != int(row["height"]):
                raise ValueError(f"{shard.path}: {len(shard)} DRRs of {shard.pixels.shape[1:]} px, index says "
                                 f"{row['n_drrs']} of {row['height']} px")
            yield shard

    validate_drrs(index, checked_shards(), list(manifest["ct_id"]), config.drrs_per_ct, pixels, where=str(out_dir))
    write_csv_atomic(index, out_dir / "index.csv")
    write_pool_sheet(pool_dir, manifest, out_dir / "contact_sheet.png", config, sheet_cts, sheet_poses)
    summary = {"cts": len(index), "drrs": int(index["n_drrs"].sum()),
               "rendered": sum(not r.skipped for r in results)}
    print(f"drrs: {summary['drrs']} DRRs of {pixels}² from {summary['cts']} CTs "
          f"({summary['rendered']} rendered, {summary['cts'] - summary['rendered']} kept)")
    return summary


def task_runner(cfg: Drrs):
    if cfg.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if cfg.dask_address:
            return DaskTaskRunner(address=cfg.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": cfg.workers, "threads_per_worker": 1,
                                              "processes": True, "dashboard_address": None})
    return ThreadPoolTaskRunner(max_workers=cfg.workers)


def run(params_path: str = "params.yaml", **overrides) -> dict:
    params = load_config(params_path)
    cfg = params.drrs.model_copy(update=overrides)
    torch.set_num_threads(1)  # one thread per CT: float reductions then do not depend on the core count
    return drrs.with_options(task_runner=task_runner(cfg))(
        pool=params.ct_pool.out, out=cfg.out, config=DRRConfig.from_params(cfg),
        sheet_cts=cfg.contact_sheet.n_ct, sheet_poses=[list(p) for p in cfg.contact_sheet.poses])


def main(argv: list[str] | None = None) -> int:
    return stage_main("drrs", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
