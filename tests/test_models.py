"""Network shapes, StarGAN v2 parameter counts, the encode-once split, and the width/size rules."""

import pytest
import torch
import torch.nn.functional as F

from i2i.models import Discriminator, Generator, MappingNetwork, StyleEncoder


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("img_size", [32, 64, 256])
def test_shapes(img_size):
    torch.manual_seed(0)
    kw = dict(max_conv_dim=32, base_dim=8)
    g = Generator(img_size, style_dim=16, **kw)
    m = MappingNetwork(latent_dim=4, style_dim=16, num_domains=3, hidden_dim=32)
    e = StyleEncoder(img_size, style_dim=16, num_domains=3, **kw)
    d = Discriminator(img_size, num_domains=3, **kw)
    x, y = torch.randn(2, 3, img_size, img_size), torch.tensor([0, 2])
    s = m(torch.randn(2, 4), y)
    assert s.shape == (2, 16)
    assert e(x, y).shape == (2, 16)
    assert g(x, s).shape == (2, 3, img_size, img_size)
    assert d(x, y).shape == (2,)
    assert len(g.encode) == (img_size.bit_length() - 1) - 4 + 2  # log2 - 4 stages + 2 bottleneck blocks


def test_parameter_counts_at_256px_match_stargan_v2():
    """StarGAN v2 at 256 px, max_conv_dim 512, style 64, latent 16 (its CelebA-HQ log prints these)."""
    assert count(Generator(256, 64, 512, w_hpf=0)) == 33_892_995  # AFHQ-style, no high-pass stage
    assert count(Generator(256, 64, 512, w_hpf=1)) == 43_467_395  # CelebA-HQ, one more stage
    assert count(MappingNetwork(16, 64, num_domains=2)) == 2_438_272
    assert count(MappingNetwork(16, 64, num_domains=3)) == 3_259_072
    assert count(StyleEncoder(256, 64, num_domains=2)) == 20_916_928
    assert count(Discriminator(256, num_domains=2)) == 20_852_290


def test_default_width_is_stargan_v2_rule():
    assert Generator(64, max_conv_dim=512).from_rgb.out_channels == 2**14 // 64
    assert Generator(64, base_dim=16).from_rgb.out_channels == 16


def test_bottleneck_defaults_to_stargan_v2_sixteen_and_sets_the_number_of_stages():
    x = torch.zeros(1, 3, 32, 32)
    for size, stages in ((None, 1), (32, 0), (16, 1), (8, 2), (4, 3)):
        g = Generator(32, style_dim=8, max_conv_dim=16, base_dim=8, bottleneck_size=size)
        h, _ = g.encode_content(x)
        assert h.shape[-1] == (size or 16) and len(g.encode) == stages + 2 and g(x, torch.zeros(1, 8)).shape == x.shape
    assert count(Generator(256, 64, 512, bottleneck_size=16)) == 33_892_995
    with pytest.raises(ValueError, match="power of two from 4 to img_size = 32"):
        Generator(32, bottleneck_size=64)


def test_disc_width_multiplies_only_the_discriminators_widths():
    from i2i.config import ModelConfig
    from i2i.kinds import build_networks

    cfg = ModelConfig(img_size=64, style_dim=8, latent_dim=4, hidden_dim=16, max_conv_dim=32, base_dim=8)
    plain = build_networks(cfg, 3)
    cfg.disc_width = 2
    wide = build_networks(cfg, 3)
    assert [c.out_channels for c in wide.discriminator.modules() if isinstance(c, torch.nn.Conv2d)][:2] == [16, 16]
    assert count(wide.discriminator) == count(Discriminator(64, num_domains=3, max_conv_dim=64, base_dim=16))
    assert count(plain.discriminator) == count(Discriminator(64, num_domains=3, max_conv_dim=32, base_dim=8))
    assert all(count(getattr(wide, n)) == count(getattr(plain, n)) for n in ("generator", "mapping_network", "style_encoder"))


@pytest.mark.parametrize("bad", [16, 48, 1024])
def test_bad_img_size(bad):
    with pytest.raises(ValueError, match="power of two"):
        Generator(bad)


def test_encode_once_decode_many_equals_forward():
    torch.manual_seed(0)
    g = Generator(32, style_dim=8, max_conv_dim=16, base_dim=8)
    x, s = torch.randn(1, 3, 32, 32), torch.randn(5, 8)
    h, cache = g.encode_content(x)
    batched = g.decode_content(h.expand(5, -1, -1, -1), s, cache)
    direct = torch.cat([g(x, s[i:i + 1]) for i in range(5)])
    assert torch.allclose(batched, direct, atol=1e-5)


def test_zero_init_residual_starts_as_the_shortcut_path():
    """With every residual branch zeroed, G is its shortcut chain: the style cannot change the output, the
    content can, and the first gradient step still reaches the residual convolutions."""
    from i2i.models.blocks import zero_init_residual

    torch.manual_seed(0)
    g = Generator(32, style_dim=8, max_conv_dim=16, base_dim=8)
    zero_init_residual(g)
    x, s = torch.randn(2, 3, 32, 32), torch.randn(2, 8)
    out = g(x, s)
    assert torch.allclose(out, g(x, 5 * torch.randn(2, 8)), atol=1e-6)  # style has no path at init
    assert not torch.allclose(out, g(x.flip(-1), s), atol=1e-3)  # content does
    out.square().mean().backward()
    assert g.decode[0].conv2.weight.grad.abs().sum() > 0  # zeroed layers still learn


def test_a_global_colour_cast_reaches_the_output_only_without_the_output_norm():
    """At the copy start a cast (a constant added to one channel) is a constant per feature channel on the shortcut
    path, away from the zero-padded border: StarGAN v2's output instance norm removes it there, so the source's
    colour is lost; without the norm it reaches the output (here 0.087 against 0.027 inside the border)."""
    from i2i.models.blocks import zero_init_residual

    moved = {}
    for rgb_norm in (True, False):
        torch.manual_seed(0)
        g = Generator(32, style_dim=8, max_conv_dim=16, base_dim=8, rgb_norm=rgb_norm)
        zero_init_residual(g)
        x, s = torch.rand(2, 3, 32, 32) * 2 - 1, torch.randn(2, 8)
        cast = torch.tensor([0.3, 0.0, -0.2]).view(1, 3, 1, 1)
        moved[rgb_norm] = (g(x + cast, s) - g(x, s))[..., 4:-4, 4:-4].abs().mean().item()
    assert moved[False] > 3 * moved[True]
    assert isinstance(Generator(32, rgb_norm=False).to_rgb[0], torch.nn.Identity)


def test_zero_init_residual_is_opt_in():
    from i2i.config import load_config
    from i2i.kinds import build_networks

    he = build_networks(load_config(None, ["model.img_size=32", "model.base_dim=8", "model.max_conv_dim=16"]).model, 2)
    assert he.generator.decode[0].conv2.weight.abs().sum() > 0  # StarGAN v2's He init by default
    zero = build_networks(load_config(None, ["model.img_size=32", "model.base_dim=8", "model.max_conv_dim=16",
                                             "model.zero_init_residual=true"]).model, 2)
    assert zero.generator.decode[0].conv2.weight.abs().sum() == 0
    assert zero.discriminator.main[1].conv2.weight.abs().sum() > 0  # only the generator


def test_style_warp_starts_as_the_identity_and_moves_features_by_its_flow():
    """At init the warp's flow is exactly zero (the generator is unchanged); a constant flow of one pixel moves
    the features by one pixel; the flow layer gets a gradient at init."""
    from i2i.models.warp import StyleWarp

    torch.manual_seed(0)
    g = Generator(32, style_dim=8, max_conv_dim=16, base_dim=8, bottleneck_size=32, warp=True)
    x, s = torch.randn(2, 3, 32, 32), torch.randn(2, 8)
    h, _ = g.encode_content(x)
    assert torch.equal(g.warp.flow(h, s), torch.zeros(2, 2, 32, 32))
    assert torch.allclose(g.warp(h, s), h, atol=1e-6)
    g(x, s).square().mean().backward()
    assert g.warp.to_flow.weight.grad.abs().sum() > 0
    warp = StyleWarp(dim=1, style_dim=8, max_shift=1.0)
    torch.nn.init.constant_(warp.to_flow.bias, torch.atanh(torch.tensor(2 / 32)).item())  # +1 px in x, +1 px in y
    ramp = torch.arange(32.0).view(1, 1, 1, 32).expand(1, 1, 32, 32)
    moved = warp(ramp, torch.zeros(1, 8))
    assert torch.allclose(moved[..., 4:-4, 4:-4], ramp[..., 4:-4, 4:-4] + 1, atol=1e-4)  # samples one pixel right
    with pytest.raises(ValueError, match="model.warp"):
        from i2i.config import load_config

        load_config(None, ["model.warp=true", "model.w_hpf=1"])


@pytest.mark.parametrize("bottleneck", [32, 16])
def test_copy_start_makes_g_an_exact_copy_at_the_bottleneck_resolution(bottleneck):
    """With the copy start G(x, s) is x averaged over the bottleneck's cells and upsampled back, whatever s (the
    warp included); the residual convolutions still get a gradient."""
    from i2i.models.blocks import zero_init_residual

    torch.manual_seed(0)
    g = Generator(32, style_dim=8, max_conv_dim=16, base_dim=8, bottleneck_size=bottleneck, warp=True, rgb_norm=False)
    zero_init_residual(g)
    g.start_as_copy()
    x, s = torch.rand(2, 3, 32, 32) * 2 - 1, 3 * torch.randn(2, 8)
    f = 32 // bottleneck
    expected = F.interpolate(F.avg_pool2d(x, f), scale_factor=f, mode="nearest")
    out = g(x, s)
    assert (out - expected).abs().max() < 1e-5
    out.square().mean().backward()
    assert g.decode[-1].conv2.weight.grad.abs().sum() > 0


def test_copy_start_is_refused_where_it_cannot_hold():
    from i2i.config import load_config
    from i2i.kinds import build_networks
    from i2i.models.blocks import zero_init_residual

    with pytest.raises(ValueError, match="zeroed residual"):
        Generator(32, base_dim=8, max_conv_dim=16, rgb_norm=False).start_as_copy()
    g = Generator(32, base_dim=8, max_conv_dim=16)
    zero_init_residual(g)
    with pytest.raises(ValueError, match="rgb_norm=False"):
        g.start_as_copy()
    base = ["model.img_size=32", "model.base_dim=8", "model.max_conv_dim=16", "model.copy_start=true"]
    with pytest.raises(ValueError, match="model.copy_start needs"):
        load_config(None, base)
    c = load_config(None, base + ["model.zero_init_residual=true", "model.rgb_norm=false"]).model
    g = build_networks(c, 2).generator
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    expected = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
    assert (g(x, torch.randn(1, c.style_dim)) - expected).abs().max() < 1e-5
