"""Every random draw is seeded: drrs, folds and xray_domain rendered twice from scratch are bit-identical."""

import yaml

from flows import drrs, folds, xray_domain
from tests.conftest import file_hashes, small_params


def test_stages_render_the_same_bytes_twice(prefect_server, tmp_path, tiny_pool):
    outputs = {}
    for run in ("first", "second"):
        path = small_params(tmp_path / run, tiny_pool)
        params = yaml.safe_load(path.read_text())
        params["xray_domain"].update({"out": str(tmp_path / run / "xray"), "real_dir": str(tmp_path / "none")})
        path.write_text(yaml.safe_dump(params))
        drrs.run(str(path))
        folds.run(str(path))
        xray_domain.run(str(path))
        outputs[run] = {name: file_hashes(tmp_path / run / name) for name in ("drrs", "folds", "xray")}
    for name in ("drrs", "folds", "xray"):
        assert outputs["first"][name], name
        assert outputs["first"][name] == outputs["second"][name], name  # contact sheets included
