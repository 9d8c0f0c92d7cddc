"""Shared fixtures: a tiny synthetic dataset and a tiny CPU config built from the defaults (StarGAN v2's), not from a
quick-start recipe, so recipe changes leave these tests alone (random LPIPS trunk, stated in tests)."""
from __future__ import annotations

import dataclasses
import os
import socket

import pytest

from i2i.config import load_config
from i2i.data import make_synthetic

os.environ.setdefault("I2I_OFFLINE", "1")  # no test touches the network; the fetch tests use file:// mirrors

TINY_ANY_KIND = [  # what makes any model tiny and quick
    "model.img_size=32", "model.style_dim=8", "model.max_conv_dim=16", "model.base_dim=8",
    "model.zero_init_residual=false",  # untrained test models must respond to the style (He init, StarGAN v2's)
    "data.num_workers=0", "loss.sr_start=2", "loss.sr_ramp=4",
    "train.total_iters=6", "train.batch_size=4", "train.device=cpu", "train.log_every=1",
    "train.sample_every=3", "train.save_every=3",
    "train.lr_decay_iters=0",  # the resume test stops runs early by shortening total_iters, which moves a decay
    "loss.lpips_weights=random",  # no internet: the LPIPS content loss uses a random AlexNet trunk in tests
]
TINY = [*TINY_ANY_KIND, "model.latent_dim=4", "model.hidden_dim=16", "loss.ds_iter=10"]  # StarGAN v2 models


@pytest.fixture(autouse=True)
def quick_classifiers(monkeypatch):
    """Every evaluation classifier trains for at most 50 steps: tests check the metrics' plumbing, not the
    classifiers' accuracy (the full domain recipe alone is 3,000 steps per evaluation)."""
    from i2i.evaluation import domain_accuracy

    for kind, recipe in list(domain_accuracy.RECIPES.items()):
        monkeypatch.setitem(domain_accuracy.RECIPES, kind, dataclasses.replace(recipe, steps=min(recipe.steps, 50)))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for servers and process groups started by tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("synthetic"), num_train=10, num_val=3, size=32, seed=1)


@pytest.fixture
def tiny_config(synthetic_root):
    def make(*overrides):
        return load_config(None, [*TINY, f"data.root={synthetic_root}", *overrides])
    return make


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, synthetic_root):
    """A run directory holding a randomly initialised tiny model (config, domains, one checkpoint)."""
    import torch

    from i2i.kinds import build_networks
    from i2i.training.checkpoint import save_checkpoint
    from i2i.training.loop import prepare_run_dir

    cfg = load_config(None, [*TINY, f"data.root={synthetic_root}"])
    run = tmp_path_factory.mktemp("run")
    prepare_run_dir(cfg, run, ["checks", "dots", "stripes"], resume=False)
    torch.manual_seed(0)
    nets = build_networks(cfg.model, 3)
    save_checkpoint(run, 1, nets, nets.ema_copy(), {})
    return run
