"""Inference layer and the translate/interpolate commands on a tiny random model saved as a run."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.cli import main, parse_style
from i2i.data.images import to_float, to_uint8
from i2i.inference import StyleSpec, Translator, lerp_styles, prepare_image, slerp_styles
from i2i.media import save_frames, translation_cells
from i2i.kinds import build_networks
from i2i.training.samples import reference_grid


@pytest.fixture(scope="module")
def translator(tiny_run):
    return Translator.load(tiny_run, "cpu")


@pytest.fixture(scope="module")
def source(synthetic_root):
    return sorted((synthetic_root / "val" / "checks").glob("*.png"))[0]


def test_interpolation_frames_endpoints_and_determinism(translator, source, synthetic_root):
    ref = sorted((synthetic_root / "val" / "dots").glob("*.png"))[0]
    start, end = StyleSpec("checks", seed=3), StyleSpec("dots", reference=ref)
    frames, styles = translator.interpolate(source, start, end, steps=7)
    assert frames.shape == (7, 3, 32, 32) and frames.dtype == torch.uint8 and styles.shape == (7, 8)
    torch.testing.assert_close(styles[0], translator.style(start))
    torch.testing.assert_close(styles[-1], translator.style(end))
    lsb = lambda a, b: (a.int() - b.int()).abs().max().item()  # noqa: E731  (batch-dependent float rounding)
    assert lsb(frames[0], translator.translate([source], start)[0]) <= 1
    assert lsb(frames[-1], translator.translate([source], end)[0]) <= 1
    x = prepare_image(source, 32)[None]
    one_by_one = torch.stack([to_uint8(translator.nets.generator(x, s[None]))[0] for s in styles])
    assert lsb(frames, one_by_one) <= 1  # batched equals frame by frame
    again, _ = translator.interpolate(source, start, end, steps=7)
    assert torch.equal(again, frames)
    other, _ = translator.interpolate(source, StyleSpec("checks", seed=4), end, steps=7)
    assert not torch.equal(other[0], frames[0])


def test_interpolate_rejects_bad_steps_domains_and_methods(translator, source):
    with pytest.raises(ValueError, match="between 2 and"):
        translator.interpolate(source, StyleSpec("dots"), StyleSpec("dots"), steps=1)
    with pytest.raises(ValueError, match="unknown domain 'cats': this model has checks, dots, stripes"):
        translator.style(StyleSpec("cats"))
    with pytest.raises(ValueError, match="unknown interpolation"):
        translator.interpolate(source, StyleSpec("dots"), StyleSpec("dots"), method="cubic")


def test_slerp_keeps_endpoints_and_interpolates_norms():
    s0, s1 = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 4.0]])
    out = slerp_styles(s0, s1, torch.tensor([0.0, 0.5, 1.0]))[0]
    torch.testing.assert_close(out[0], s0[0])
    torch.testing.assert_close(out[2], s1[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[1], torch.tensor([3 / 2 ** 0.5, 3 / 2 ** 0.5]), atol=1e-5, rtol=1e-5)
    parallel = slerp_styles(s0, 2 * s0, torch.tensor([0.5]))
    torch.testing.assert_close(parallel, lerp_styles(s0, 2 * s0, torch.tensor([0.5])))


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "I;16"])
def test_prepare_image_accepts_any_mode_and_shape(mode):
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)).convert(
        "RGB" if mode == "I;16" else mode)
    if mode == "I;16":
        img = Image.fromarray(np.arange(40 * 60, dtype=np.uint16).reshape(40, 60) * 20)
    x = prepare_image(img, 32)
    assert x.shape == (3, 32, 32) and x.min() >= -1 and x.max() <= 1


def test_prepare_image_centre_crops_tensors_like_images():
    img = torch.zeros(3, 32, 48, dtype=torch.uint8)
    img[:, :, 8:40] = 255  # the centre square is white, the sides black
    assert torch.equal(prepare_image(img, 32), torch.ones(3, 32, 32))
    assert prepare_image(img, 32, center_crop=False).min() == -1


def test_parse_style_forms(tmp_path):
    assert parse_style("dots:7") == StyleSpec("dots", seed=7)
    assert parse_style("dots").seed == 0
    ref = tmp_path / "r.png"
    Image.new("RGB", (8, 8)).save(ref)
    assert parse_style(f"dots={ref}").reference == str(ref)
    with pytest.raises(ValueError, match="DOMAIN:SEED"):
        parse_style("dots:x")
    with pytest.raises(FileNotFoundError):
        parse_style("dots=/no/such.png")


def test_save_frames_formats(tmp_path):
    frames = torch.randint(0, 256, (4, 3, 16, 15), dtype=torch.uint8)
    strip = Image.open(save_frames(frames, tmp_path / "s.png"))
    assert strip.size == (4 * 15 + 5 * 2, 16 + 2 * 2)
    gif = Image.open(save_frames(frames, tmp_path / "a.gif"))
    assert gif.n_frames == 6 and gif.info["loop"] == 0  # there and back, looping
    few = torch.tensor([[0, 0, 0], [255, 0, 0], [0, 255, 0]], dtype=torch.uint8)  # frames of three solid colours
    solid = few[:, :, None, None].expand(3, 3, 4, 5).contiguous()
    big = Image.open(save_frames(solid, tmp_path / "b.gif", upscale=3))
    assert big.size == (15, 12) and big.n_frames == 4
    for i, colour in enumerate([(0, 0, 0), (255, 0, 0), (0, 255, 0), (255, 0, 0)]):  # exact colours, back and forth
        big.seek(i)
        assert big.convert("RGB").getpixel((7, 5)) == colour
    mp4 = save_frames(frames, tmp_path / "v.mp4").read_bytes()
    assert mp4[4:8] == b"ftyp" and b"avc1" in mp4  # an MP4 container holding H.264
    with pytest.raises(ValueError, match="unsupported output"):
        save_frames(frames, tmp_path / "x.bmp")


def test_translate_and_interpolate_commands(tiny_run, synthetic_root, source, tmp_path, capsys):
    val = synthetic_root / "val"
    assert main(["translate", "--checkpoint", str(tiny_run), "--input", str(val / "checks"), "--domain", "dots",
                 "--seed", "1", "--out", str(tmp_path / "tr")]) == 0
    outputs = sorted((tmp_path / "tr").glob("*_to_dots.png"))
    assert len(outputs) == 3 and Image.open(outputs[0]).size == (32, 32)  # the image itself, no border
    refs = sorted((val / "stripes").glob("*.png"))[:2]
    assert main(["translate", "--checkpoint", str(tiny_run), "--input", str(val / "checks"), "--domain", "stripes",
                 "--grid", "--reference", str(refs[0]), "--reference", str(refs[1]),
                 "--out", str(tmp_path / "grid.png")]) == 0
    assert Image.open(tmp_path / "grid.png").size == (3 * 32 + 4 * 2, 4 * 32 + 5 * 2)  # header + 3 sources
    assert main(["interpolate", "--checkpoint", str(tiny_run), "--input", str(source), "--from", "checks:1",
                 "--to", "dots:2", "--steps", "5", "--out", str(tmp_path / "i.gif")]) == 0
    assert "inter-domain interpolation, 5 frames" in capsys.readouterr().out
    assert main(["interpolate", "--checkpoint", str(tiny_run), "--input", str(source), "--from", "cats",
                 "--to", "dots", "--out", str(tmp_path / "i.png")]) == 1
    assert "unknown domain 'cats'" in capsys.readouterr().err


def test_translate_matches_generator_on_float_input(translator, source):
    spec = StyleSpec("stripes", seed=2)
    x = prepare_image(source, 32)
    expected = to_uint8(translator.nets.generator(x[None], translator.style(spec)[None]))[0]
    assert torch.equal(translator.translate([to_float(to_uint8(x))], spec)[0], expected)


def test_translate_accepts_one_path(tiny_run, synthetic_root):
    from i2i.inference import StyleSpec, Translator

    t = Translator.load(tiny_run, "cpu")
    path = next((synthetic_root / "val" / "dots").iterdir())
    one = t.translate(str(path), StyleSpec("checks", seed=1))
    assert one.shape == (1, 3, 32, 32)
    assert torch.equal(one, t.translate([path], StyleSpec("checks", seed=1)))


def test_translation_cells_layout():
    src = torch.tensor([10, 20], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 3, 1, 1)
    out = (100 + torch.arange(6, dtype=torch.uint8)).view(2, 3, 1, 1, 1).expand(2, 3, 3, 1, 1)
    header = torch.full((3, 3, 1, 1), 50, dtype=torch.uint8)
    assert translation_cells(src, out)[:, 0, 0, 0].tolist() == [10, 100, 101, 102, 20, 103, 104, 105]
    cells = translation_cells(src, out, header)
    assert cells[:, 0, 0, 0].tolist() == [255, 50, 50, 50, 10, 100, 101, 102, 20, 103, 104, 105]
    assert translation_cells(src.float() / 255, out.float(), header.float())[0].eq(1).all()  # float: white is 1


def test_reference_sample_grid_pixels(tiny_config):
    """Cell (0, 0) is white, the top row holds the references, the left column the sources, and cell (i, j) is
    G(source i, E(reference j)) (padding 2 between cells)."""
    torch.manual_seed(0)
    cfg = tiny_config()
    nets = build_networks(cfg.model, 3)
    src, ref, y_ref = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(3, 3, 32, 32) * 2 - 1, torch.tensor([0, 1, 2])
    grid = reference_grid(nets, src, ref, y_ref)

    def cell(r, c):
        return grid[:, 2 + r * 34: 2 + r * 34 + 32, 2 + c * 34: 2 + c * 34 + 32]

    assert grid.shape == (3, 2 + 3 * 34, 2 + 4 * 34)
    assert cell(0, 0).eq(255).all()
    assert torch.equal(cell(0, 2), to_uint8(ref[1])) and torch.equal(cell(2, 0), to_uint8(src[1]))
    with torch.no_grad():
        expected = to_uint8(nets.generator(src[1:2], nets.style_encoder(ref[2:3], y_ref[2:3]))[0])
    assert (cell(2, 3).int() - expected.int()).abs().max() <= 1  # batched vs single decode: float rounding


def test_interpolate_compare_writes_both_models_and_the_step_plot(tiny_run, synthetic_root, tmp_path, capsys):
    src = next((synthetic_root / "val" / "dots").iterdir())
    base = ["interpolate", "--checkpoint", str(tiny_run), "--input", str(src), "--from", "dots:1", "--to",
            "checks:2", "--steps", "5", "--compare", str(tiny_run), "--random-weights"]
    assert main([*base, "--out", str(tmp_path / "cmp.png")]) == 0
    printed = capsys.readouterr().out
    ps = [line.split("PS ")[1].split()[0] for line in printed.splitlines() if " PS " in line]
    assert len(ps) == 2 and ps[0] == ps[1] and "[random-weights]" in printed  # one model twice: equal PS
    assert Image.open(tmp_path / "cmp.png").size == (5 * 32 + 6 * 2, 2 * 32 + 3 * 2)  # two rows of 5 frames
    assert Image.open(tmp_path / "cmp_steps.png").size == (640, 360 + 2 * 14)  # a legend line per model
    assert main([*base, "--out", str(tmp_path / "cmp.gif"), "--overwrite"]) == 0  # cmp_steps.png exists
    gif = Image.open(tmp_path / "cmp.gif")
    assert gif.size == (2 * 32 + 2, 32) and gif.n_frames == 8  # side by side, there and back
