"""The generator's label conditioning: null embeddings, guidance dropout, and a tiny model that learns a label."""

import lightning as L
import numpy as np
import torch

from components.generation.generator import Generator, generate, load_generator, save_generator
from components.generation.labels import LABELS, Labels
from components.generation.model import GeneratorModule, LabelEmbedding, drop_labels
from components.generation.train import LabelledImages
from components.training.trainer import make_trainer

TINY = {"image_size": 16, "channels": [16, 32], "attention_levels": [False, False], "num_res_blocks": 1,
        "num_head_channels": 16, "norm_num_groups": 8}


def test_an_unknown_label_takes_its_null_embedding_whatever_the_value_beside_it():
    torch.manual_seed(0)
    embed = LabelEmbedding(8)
    with torch.no_grad():
        for p in embed.parameters():
            p.normal_()
    a = torch.from_numpy(Labels(view="ap", prosthesis="left", age=40.0).vector()[None])
    b = torch.from_numpy(Labels(view="ap", prosthesis="left", age=80.0).vector()[None])
    unknown_age = torch.from_numpy(Labels(view="ap", prosthesis="left").vector()[None])
    assert not torch.allclose(embed(a), embed(b))  # age is embedded
    other = unknown_age.clone()
    other[0, LABELS.index("view")] = float("nan")
    assert not torch.allclose(embed(unknown_age), embed(other))
    # the null rows are the same for any row where the label is NaN
    rows = torch.stack([unknown_age[0], unknown_age[0]])
    assert torch.allclose(embed(rows)[0], embed(rows)[1])


def test_guidance_dropout_drops_labels_at_its_rates():
    labels = torch.zeros(20000, len(LABELS))
    dropped = torch.isnan(drop_labels(labels, 0.1, 0.2, torch.Generator().manual_seed(0)))
    whole = dropped.all(1).float().mean().item()
    assert 0.19 < whole < 0.215  # every label of a row (plus the rare row whose six labels all fell)
    some = dropped[~dropped.all(1)].float().mean().item()
    assert 0.08 < some < 0.12


def two_labels(n: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """Prosthesis right: a bright block on the image's left half (the patient's right); left: the other half."""
    rng = np.random.default_rng(0)
    images = rng.normal(-0.6, 0.05, (n, 1, 16, 16)).astype(np.float32)
    side = np.arange(n) % 2
    for k in range(n):
        x0 = 2 if side[k] == 0 else 10
        images[k, 0, 6:10, x0:x0 + 4] = 0.9
    labels = np.stack([Labels(view="ap", prosthesis="right" if s == 0 else "left").vector() for s in side])
    return torch.from_numpy(images), torch.from_numpy(labels)


def test_a_tiny_generator_draws_the_prosthesis_on_the_side_its_label_names(tmp_path):
    images, labels = two_labels()
    L.seed_everything(0)
    module = GeneratorModule(TINY, 3e-3, 0.9, 1000, 0.1, 0.1)
    loader = torch.utils.data.DataLoader(LabelledImages(images, labels), batch_size=16, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    make_trainer(250, enable_checkpointing=False, progress_bar=False).fit(module, loader)
    config = {"net": TINY, "timesteps": 1000, "inference": {"sampler": "dpmsolver++", "steps": 10, "guidance": 2.0}}
    save_generator(tmp_path / "g", module.net, config)
    generator = load_generator(tmp_path / "g")
    asked = np.stack([Labels(view="ap", prosthesis=p).vector() for p in ["right"] * 4 + ["left"] * 4])
    out = generate(generator, asked, list(range(8)))
    left_half, right_half = out[:, 6:10, 2:6].mean((1, 2)), out[:, 6:10, 10:14].mean((1, 2))
    assert (left_half[:4] > right_half[:4] + 0.2).all() and (right_half[4:] > left_half[4:] + 0.2).all()


def test_each_image_comes_from_its_own_seed_whatever_the_batch(tmp_path):
    torch.manual_seed(0)
    module = GeneratorModule(TINY, 1e-3, 0.9, 1000, 0.1, 0.1)
    with torch.no_grad():
        for p in module.net.out[-1].parameters():  # MONAI zero-initialises the output: give it something to say
            p.normal_(0, 0.05)
    config = {"net": TINY, "timesteps": 1000, "inference": {"sampler": "dpmsolver++", "steps": 3, "guidance": 2.0}}
    generator = Generator(module.net.eval(), config)
    labels = np.stack([Labels(view="ap").vector(), Labels(prosthesis="left").vector(), Labels().vector()])
    together = generate(generator, labels, [5, 6, 7])
    alone = generate(generator, labels[1:2], [6])
    np.testing.assert_allclose(together[1], alone[0], atol=1e-5)
    assert not np.allclose(generate(generator, labels[1:2], [9])[0], alone[0])


def test_a_saved_generator_loads_the_same_network_and_refuses_a_flipped_byte(tmp_path):
    module = GeneratorModule(TINY, 1e-3, 0.9, 1000, 0.1, 0.1)
    config = {"net": TINY, "timesteps": 1000, "inference": {"sampler": "dpmsolver++", "steps": 3, "guidance": 2.0}}
    save_generator(tmp_path / "g", module.net, config)
    loaded = load_generator(tmp_path / "g")
    for (name, a), b in zip(module.net.state_dict().items(), loaded.net.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    weights = tmp_path / "g" / "net.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    try:
        load_generator(tmp_path / "g")
    except ValueError as err:
        assert "does not match" in str(err)
    else:
        raise AssertionError("a corrupted generator loaded")


def test_training_gives_the_same_generator_whatever_the_random_state_before_it():
    from components.generation.data import Images
    from components.generation.train import fit

    images, labels = two_labels(32)
    data = Images((images[:, 0].numpy() + 1) / 2, labels.numpy(), np.array(["ct"] * 32), np.array(["p"] * 32),
                  np.ones(32, int))
    weights = []
    for before in (1, 2):
        torch.manual_seed(before)  # whatever ran earlier in the process
        module, _, _ = fit(lambda: GeneratorModule(TINY, 1e-3, 0.9, 1000, 0.1, 0.1), data, 5, 8, seed=0)
        weights.append(torch.cat([p.detach().flatten() for p in module.ema.module.parameters()]))
    assert torch.equal(weights[0], weights[1])
