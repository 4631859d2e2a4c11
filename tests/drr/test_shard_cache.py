"""A shard is current only when its CT's content, the renderer's source and the configuration match."""

import shutil

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

import components.fingerprint as fingerprint
from components.drr.render import render_ct_shard
from components.drr.shards import Shard, ShardCorrupt
from tests.params import drr_config

CONFIG = drr_config(drrs_per_ct=3, volume_spacing_mm=4.0, geometry={"pixels": 16, "detector_mm": 380})


def render_all(pool, out):
    manifest = pd.read_csv(pool / "manifest.csv")
    return {r["ct_id"]: render_ct_shard(pool / r["path"], r["ct_id"], out, CONFIG).skipped
            for _, r in manifest.iterrows()}


def test_changing_one_ct_rerenders_only_its_shard(tmp_path, tiny_pool):
    out = tmp_path / "drrs"
    assert not any(render_all(tiny_pool, out).values())
    assert all(render_all(tiny_pool, out).values())  # nothing changed: every shard kept
    victim = sorted((tiny_pool / "ct").glob("*.nii.gz"))[3]
    image = sitk.ReadImage(str(victim))
    hu = sitk.GetArrayFromImage(image)
    hu[10:20, 3:6, 3:6] = 1500  # a new bone fragment, same file name, same header
    changed = sitk.GetImageFromArray(hu)
    changed.CopyInformation(image)
    sitk.WriteImage(changed, str(victim), useCompression=True)
    kept = render_all(tiny_pool, out)
    assert [c for c, skipped in kept.items() if not skipped] == [victim.name[: -len(".nii.gz")]]


def test_changing_the_renderers_code_rerenders_every_shard(tmp_path, tiny_pool, monkeypatch):
    out = tmp_path / "drrs"
    render_all(tiny_pool, out)
    copy = tmp_path / "components"
    shutil.copytree(fingerprint.COMPONENTS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    projector = copy / "drr" / "projector.py"
    projector.write_text(projector.read_text().replace("scatter-to-primary ratio", "scatter to primary ratio"))
    monkeypatch.setattr(fingerprint, "COMPONENTS", copy)
    fingerprint.source_fingerprint.cache_clear()
    try:
        assert not any(render_all(tiny_pool, out).values())  # a comment changed: the code is not the same
    finally:
        fingerprint.source_fingerprint.cache_clear()


def test_a_corrupt_shard_is_named_when_read_and_rendered_again(tmp_path, tiny_pool):
    out = tmp_path / "drrs"
    render_all(tiny_pool, out)
    path = sorted(out.glob("*.npz"))[0]
    data = dict(np.load(path))
    data["images"] = np.zeros_like(data["images"])  # zeroed images, the old checksum kept
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **data)
    with pytest.raises(ShardCorrupt, match=path.name):
        _ = Shard(path).images
    assert not render_all(tiny_pool, out)[path.stem]
    assert Shard(path).images.max() > 0
