"""`radrotator generate`'s component: labelled images, their seeds, and nothing replaced."""

import json

import numpy as np
import pytest
import torch

from components.generation.generator import Generator
from components.generation.labels import Labels
from components.generation.model import GeneratorConfig, build_generator
from components.generation.request import NOTICE, generate_to_folder
from components.sampling.labels import read_labels

TINY = {"image_size": 16, "channels": [16, 32], "attention_levels": [False, False], "num_res_blocks": 1,
        "num_head_channels": 16, "norm_num_groups": 8}


def tiny_generator() -> Generator:
    torch.manual_seed(0)
    net = build_generator(GeneratorConfig.from_dict(TINY))
    with torch.no_grad():
        for p in net.out[-1].parameters():
            p.normal_(0, 0.05)
    return Generator(net.eval(), {"net": TINY, "timesteps": 1000, "weights_sha256": {"net.safetensors": "ab" * 32},
                                  "inference": {"sampler": "dpmsolver++", "steps": 2, "guidance": 2.0}})


def test_each_image_carries_its_labels_seed_and_the_mark_and_the_list_names_them(tmp_path):
    labels = Labels(view="ap", prosthesis="left", sex="f")
    record = generate_to_folder(tiny_generator(), "models/generator", labels, 3, 10, tmp_path / "out")
    assert [i["seed"] for i in record["images"]] == [10, 11, 12]
    listed = json.loads((tmp_path / "out" / "generated.json").read_text())
    assert listed == record and listed["labels"]["sex"] == "f" and listed["labels"]["age"] == "unknown"
    for item in record["images"]:
        text = read_labels(tmp_path / "out" / item["file"])
        assert text["Disclaimer"] == NOTICE
        fields = json.loads(text["Comment"])
        assert fields["seed"] == item["seed"] and fields["labels"]["prosthesis"] == "left"
    assert (tmp_path / "out" / "sheet.png").exists()


def test_the_same_seed_regenerates_the_same_image_and_nothing_is_replaced(tmp_path):
    import imageio.v3 as iio

    generator = tiny_generator()
    generate_to_folder(generator, "m", Labels(view="ap"), 1, 4, tmp_path / "a")
    generate_to_folder(generator, "m", Labels(view="ap"), 1, 4, tmp_path / "b")
    name = "generated_000_seed4.png"
    assert np.array_equal(iio.imread(tmp_path / "a" / name), iio.imread(tmp_path / "b" / name))
    before = (tmp_path / "a" / name).read_bytes()
    with pytest.raises(FileExistsError, match="nothing was replaced"):
        generate_to_folder(generator, "m", Labels(view="oblique"), 2, 4, tmp_path / "a")
    assert (tmp_path / "a" / name).read_bytes() == before
