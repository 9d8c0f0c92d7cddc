"""Config loading, overrides and validation."""
from pathlib import Path

import pytest

from i2i.config import Config, load_config, save_config


@pytest.mark.parametrize("path", sorted(Path("configs").glob("*.yaml")))
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert isinstance(cfg, Config)


def test_paper_configs_follow_the_paper():
    for name in ("celeba_hq", "afhq"):
        cfg = load_config(f"configs/{name}.yaml")
        assert cfg.model.img_size == 256 and cfg.model.max_conv_dim == 512 and cfg.model.base_dim is None
        assert (cfg.loss.sr_start, cfg.loss.sr_ramp, cfg.train.total_iters) == (40000, 60000, 100000)
        assert cfg.loss.tri_margin == 0.1 and cfg.loss.lambda_tri == 1 and cfg.loss.lambda_cont == 1
        assert (cfg.train.lr, cfg.train.f_lr, cfg.train.beta1, cfg.train.beta2) == (1e-4, 1e-6, 0.0, 0.99)
        assert cfg.loss.lambda_recoloured == 0  # StarGAN v2's D loss, nothing added
        assert cfg.train.lr_decay_iters == 0  # StarGAN v2's constant learning rates


def test_overrides_and_types(tmp_path):
    cfg = load_config("configs/synthetic.yaml", ["train.total_iters=7", "loss.lambda_tri=0.1",
                                                 "loss.tri_hard_negatives=true", "model.base_dim=null",
                                                 "train.lr=3e-4"])
    assert cfg.train.lr == 3e-4
    assert cfg.train.total_iters == 7 and cfg.loss.lambda_tri == 0.1 and cfg.loss.tri_hard_negatives
    assert cfg.model.base_dim is None
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


@pytest.mark.parametrize("override,match", [
    ("train.totl_iters=5", "unknown config key.*train.totl_iters"),
    ("nosuch.key=1", "unknown config key.*nosuch"),
    ("train.total_iters=abc", "expects int"),
    ("train.lr=fast", "expects float"),
    ("loss.tri_hard_negatives=3", "expects bool"),
    ("model.img_size=48", "power of two"),
    ("model.bottleneck_size=12", "model.bottleneck_size: must be a power of two"),
    ("model.bottleneck_size=64", "model.bottleneck_size: must be a power of two from 4 to img_size = 32"),
    ("train.amp=fp8", "train.amp"),
    ("train.total_iters", "section.key=value"),
])
def test_bad_overrides(override, match):
    with pytest.raises(ValueError, match=match):
        load_config("configs/synthetic.yaml", [override])


def test_recoloured_negatives_need_domain_labels():
    with pytest.raises(ValueError, match="lambda_recoloured needs domain labels"):
        load_config("configs/synthetic_unsupervised.yaml", ["loss.lambda_recoloured=1"])


def test_configs_of_earlier_versions_still_load(tmp_path):
    """Run directories keep the config.yaml they were trained with: renamed keys are migrated."""
    import yaml

    from i2i.config import config_to_dict

    old = config_to_dict(load_config("configs/synthetic.yaml"))
    del old["loss"]["lpips_weights"]
    for flag, expected in ((True, "random"), (False, "pretrained")):
        old["train"]["lpips_random_weights"] = flag
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
        assert load_config(tmp_path / "config.yaml").loss.lpips_weights == expected
