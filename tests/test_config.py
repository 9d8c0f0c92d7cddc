"""Config loading, overrides and validation."""
from pathlib import Path

import pytest

from i2i.config import load_config, save_config


@pytest.mark.parametrize("path", sorted(Path("configs").glob("*.yaml")))
def test_shipped_configs_load_every_value_as_written(path, tmp_path):
    import yaml

    cfg = load_config(path)
    written = yaml.safe_load(path.read_text())
    for section, values in written.items():
        for key, value in values.items():
            loaded = getattr(getattr(cfg, section), key)
            assert loaded == value, f"{section}.{key}: {value!r} in {path.name}, {loaded!r} loaded"
    save_config(cfg, tmp_path / "again.yaml")
    assert load_config(tmp_path / "again.yaml") == cfg


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
                                                 "loss.smooth_trains_encoder=false", "model.base_dim=null",
                                                 "train.lr=3e-4"])
    assert cfg.train.lr == 3e-4
    assert cfg.train.total_iters == 7 and cfg.loss.lambda_tri == 0.1 and not cfg.loss.smooth_trains_encoder
    assert cfg.model.base_dim is None
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


@pytest.mark.parametrize("override,match", [
    ("train.totl_iters=5", "unknown config key.*train.totl_iters"),
    ("nosuch.key=1", "unknown config key.*nosuch"),
    ("train.total_iters=abc", "expects int"),
    ("train.lr=fast", "expects float"),
    ("loss.smooth_trains_encoder=3", "expects bool"),
    ("model.img_size=48", "power of two"),
    ("model.bottleneck_size=12", "model.bottleneck_size: must be a power of two"),
    ("model.bottleneck_size=64", "model.bottleneck_size: must be a power of two from 4 to img_size = 32"),
    ("train.amp=fp8", "train.amp"),
    ("train.total_iters", "section.key=value"),
])
def test_bad_overrides(override, match):
    with pytest.raises(ValueError, match=match):
        load_config("configs/synthetic.yaml", [override])


@pytest.mark.parametrize("kind,override", [
    ("tunit", "loss.lambda_recoloured=1"), ("tunit", "train.compile=true"), ("tunit", "train.channels_last=true"),
    ("tunit", "loss.smooth_trains_encoder=false"),
    ("tunit", "loss.lambda_cyc=2"), ("tunit", "loss.lambda_ds=2"), ("tunit", "train.f_lr=1e-3"),
    ("stargan_v2", "tunit.w_vec=1"), ("stargan_v2", "model.num_clusters=5"), ("stargan_v2", "model.guide_width=8"),
])
def test_a_field_the_mode_ignores_is_an_error_naming_it(kind, override):
    config = "configs/synthetic_unsupervised.yaml" if kind == "tunit" else "configs/synthetic.yaml"
    key = override.split("=")[0]
    with pytest.raises(ValueError, match=rf"^{key} is not used by model.kind={kind}"):
        load_config(config, [override])


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
    old["loss"]["tri_hard_negatives"] = False  # removed knob: dropped where off, an error where on
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
    load_config(tmp_path / "config.yaml")
    old["loss"]["tri_hard_negatives"] = True
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
    with pytest.raises(ValueError, match="tri_hard_negatives was removed"):
        load_config(tmp_path / "config.yaml")
