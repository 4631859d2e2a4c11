"""Stage `ct_pool`: CT series in data/ct → a validated pool of 1 mm volumes.

    python -m flows.ct_pool [--params params.yaml] [--src DIR] [--out DIR]

Each series is one mapped Prefect task; a rejected series never stops the pool
but lands in rejected.csv with its reason. The manifest is validated before it
is written, so a pool on disk always passed its suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from prefect import flow, task, unmapped
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from rich.progress import Progress

from components.atomic_write import remove_stale_temporaries, write_csv_atomic
from components.config import load_config
from components.ct.eligibility import Eligibility
from components.ct.ingest import (
    MANIFEST_COLUMNS,
    REJECTED_COLUMNS,
    IngestResult,
    drop_duplicates,
    ingest_series,
    spreadsheet_safe,
)
from components.ct.pseudonym import load_salt
from components.ct.series import discover_sources, skipped_entries
from components.validation.pool_manifest import validate_manifest
from flows.stage import stage_main


class EmptyPool(Exception):
    """No series was eligible."""


@task(name="ingest-series", cache_policy=NO_CACHE)  # no file name in Prefect's database: names can carry PHI
def ingest(path: Path, root: Path, out_ct: Path, rules: Eligibility, spacing_mm: float, salt: str,
           metal_hu: float, metal_min_voxels: int, patient_pattern: str | None) -> IngestResult:
    return ingest_series(path, root, out_ct, rules, spacing_mm, salt, metal_hu, metal_min_voxels, patient_pattern)


@flow(name="ct_pool", log_prints=True)
def ct_pool(src: str, out: str, salt_file: str, spacing_mm: float, rules: Eligibility, metal_hu: float,
            metal_min_voxels: int, patient_pattern: str | None) -> dict:
    """Build `out/` (ct/, manifest.csv, rejected.csv) from the series under `src`."""
    src_dir, out_dir = Path(src), Path(out)
    out_ct = out_dir / "ct"
    sources = discover_sources(src_dir)  # a missing source folder is named before the salt is read
    salt = load_salt(salt_file)
    out_ct.mkdir(parents=True, exist_ok=True)
    if stale := remove_stale_temporaries(out_ct):
        print(f"removed {stale} partial file(s) left by an interrupted run")
    skipped = skipped_entries(src_dir)
    print(f"{len(sources)} candidate series, {len(skipped)} hidden or linked entries skipped")

    futures = ingest.map(sources, unmapped(src_dir), unmapped(out_ct), unmapped(rules),
                         unmapped(spacing_mm), unmapped(salt), unmapped(metal_hu),
                         unmapped(metal_min_voxels), unmapped(patient_pattern))
    artifact = create_progress_artifact(0.0, description="CT series ingested")
    results: list[IngestResult] = []
    with Progress(transient=True) as bar:
        job = bar.add_task("ingesting CT series", total=len(sources))
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            bar.advance(job)
            update_progress_artifact(artifact, 100.0 * len(results) / max(1, len(sources)))
            # Source names go to the console and rejected.csv only; Prefect's log gets the pseudonym.
            bar.console.print(f"{result.source}: " + ("accepted" if result.accepted else f"rejected ({result.reason})"))
            print(f"[{len(results)}/{len(sources)}] " + (f"accepted as {result.row['ct_id']}" if result.accepted
                                                       else "rejected (reason in rejected.csv)"))

    results = drop_duplicates(sorted(results, key=lambda r: r.source))
    manifest = pd.DataFrame([r.row for r in results if r.accepted], columns=MANIFEST_COLUMNS)
    rejected = pd.DataFrame([(r.source, r.reason) for r in results if not r.accepted]
                            + [(str(path.relative_to(src_dir)), why) for path, why in skipped],
                            columns=REJECTED_COLUMNS)
    rejected["source"] = rejected["source"].map(spreadsheet_safe)
    write_csv_atomic(rejected, out_dir / "rejected.csv")
    if manifest.empty:  # before anything of the existing pool is touched
        raise EmptyPool(f"{src_dir}: no eligible CT series: every one of {len(sources)} was rejected "
                        f"(reasons in {out_dir / 'rejected.csv'}); the pool was left as it was")
    validate_manifest(manifest, rules, spacing_mm, where=str(out_dir / "manifest.csv"))
    write_csv_atomic(manifest, out_dir / "manifest.csv")
    for orphan in set(out_ct.glob("*.nii.gz")) - {out_dir / p for p in manifest["path"]}:
        orphan.unlink()  # a volume from an earlier run that the new manifest no longer holds
    summary = {"accepted": len(manifest), "rejected": len(rejected),
               "patients": int(manifest["patient_id"].nunique())}
    print(f"pool: {summary['accepted']} volumes from {summary['patients']} patients; "
          f"{summary['rejected']} series rejected")
    return summary


def run(params_path: str = "params.yaml", src: str | None = None, out: str | None = None,
        salt_file: str | None = None, patient_pattern: str | None = None) -> dict:
    """Run the stage with its parameters from params.yaml (arguments override paths)."""
    cfg = load_config(params_path).ct_pool
    runner = ct_pool.with_options(task_runner=ThreadPoolTaskRunner(max_workers=cfg.workers))
    return runner(src=src or cfg.src, out=out or cfg.out, salt_file=salt_file or cfg.salt_file,
                  spacing_mm=float(cfg.spacing_mm), rules=Eligibility.from_params(cfg.eligibility),
                  metal_hu=float(cfg.metal_hu), metal_min_voxels=cfg.metal_min_voxels,
                  patient_pattern=patient_pattern or cfg.patient_id_pattern)


def main(argv: list[str] | None = None) -> int:
    return stage_main("ct_pool", __doc__, run, argv, options=("src", "out"))


if __name__ == "__main__":
    sys.exit(main())
