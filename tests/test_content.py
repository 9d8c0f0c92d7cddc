"""Ground-truth content metrics and domain accuracy on hand-made images with known answers."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from i2i.evaluation import content
from i2i.evaluation import domain_accuracy as domain_accuracy_module
from i2i.evaluation.domain_accuracy import (domain_accuracy, hue_blind_jitter, load_or_train_classifier, real_accuracy,
                                        train_classifier)
from i2i.cli import main
from i2i.data import DomainImages, make_synthetic
from i2i.data.images import to_float
from i2i.data.synthetic import shape_mask


def _image(mask: torch.Tensor, texture: bool = True) -> torch.Tensor:
    """A (1, 3, H, W) image in [-1, 1]: a dark background with a vertical gradient, and a red foreground on
    ``mask`` whose texture alternates bright and dark columns (the dark ones still far from the background)."""
    h, w = mask.shape
    bg = torch.stack([torch.full((h, w), 0.2), torch.full((h, w), 0.2), torch.linspace(0.2, 0.35, h)[:, None].expand(h, w)])
    value = torch.where(torch.arange(w) % 2 == 0, 1.0, 0.5).expand(h, w) if texture else torch.ones(h, w)
    fg = torch.stack([value, 0.1 * value, 0.1 * value])
    return (torch.where(mask, fg, bg) * 2 - 1)[None]


def test_mask_iou_and_centre_by_hand():
    pred = torch.zeros(1, 4, 4, dtype=torch.bool)
    true = torch.zeros(1, 4, 4, dtype=torch.bool)
    pred[0, :2, :2] = True  # 4 pixels
    true[0, :2, :3] = True  # 6 pixels, 4 shared
    assert content.mask_iou(pred, true).item() == pytest.approx(4 / 6)
    assert content.center_of_mass(pred).tolist() == [[1.0, 1.0]]  # pixel centres 0.5 and 1.5
    assert content.center_of_mass(true).tolist() == [[1.5, 1.0]]
    scores = content.content_scores(pred, true)
    assert scores["com_error"].item() == pytest.approx(0.5)
    empty = torch.zeros(1, 4, 4, dtype=torch.bool)
    assert content.mask_iou(empty, empty).item() == 1.0 and content.mask_iou(empty, true).item() == 0.0
    assert content.center_of_mass(empty).tolist() == [[2.0, 2.0]]


def test_foreground_of_textured_square_is_exact():
    mask = torch.zeros(16, 16, dtype=torch.bool)
    mask[4:11, 5:13] = True
    pred = content.foreground_masks(_image(mask))
    assert torch.equal(pred[0], mask)  # dark texture columns count as foreground; gradient background does not


def test_foreground_of_shape_touching_the_border():
    mask = torch.zeros(16, 16, dtype=torch.bool)
    mask[:9, :7] = True  # a quarter of the border ring is foreground: the robust plane fit ignores it
    assert content.mask_iou(content.foreground_masks(_image(mask, texture=False)), mask[None]).item() == 1.0


def test_plain_background_has_no_foreground():
    img = _image(torch.zeros(16, 16, dtype=torch.bool)) + 0.01 * torch.randn(1, 3, 16, 16)
    assert not content.foreground_masks(img).any()


def test_true_masks_render_the_manifest(tmp_path):
    root = make_synthetic(tmp_path / "d", num_train=2, num_val=4, size=32, seed=3)
    manifest = content.read_manifest(root)
    assert len(manifest) == 3 * (2 + 4) and set(manifest["val/dots/dots_00000.png"]) == set(content.CONTENT_KEYS)
    val = DomainImages(root, "val", 32, progress=False)
    masks = content.true_masks(manifest, root, val.paths, 32)
    row = manifest[val.paths[5].relative_to(root).as_posix()]
    assert torch.equal(masks[5], torch.from_numpy(shape_mask(row, 32) >= 0.5))
    sources = content.content_scores(content.foreground_masks(to_float(val.images)), masks)
    assert sources["iou"].mean() > 0.8 and sources["com_error"].mean() < 1.0
    disc = content.content_scores(content.centred_shape_masks(masks), masks)["iou"].mean()
    assert disc < sources["iou"].mean() - 0.2
    manifest.pop("val/dots/dots_00000.png")
    assert content.true_masks(manifest, root, val.paths, 32) is None  # an image without ground truth


def test_cross_and_circle_masks_by_area():
    base = {"cx": 0.5, "cy": 0.5, "size": 0.25, "angle": 0.0}
    n = 400  # fine grid: area fractions converge to the analytic ones
    circle = shape_mask({**base, "shape": "circle"}, n).mean()
    cross = shape_mask({**base, "shape": "cross"}, n).mean()
    assert circle == pytest.approx(np.pi * 0.25**2, rel=0.01)
    assert cross == pytest.approx(2 * (0.5 * 0.175) - 0.175**2, rel=0.01)  # two 0.5 x 0.175 bars minus overlap


@pytest.fixture(scope="module")
def two_colour_data(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("clf"), num_train=12, num_val=6, size=32, seed=5)


@pytest.mark.slow
def test_domain_classifier_learns_and_scores(two_colour_data, tmp_path):
    train = DomainImages(two_colour_data, "train", 32, progress=False)
    val = DomainImages(two_colour_data, "val", 32, progress=False)
    net = train_classifier(train, steps=100, progress=False)
    assert real_accuracy(net, val) == 1.0
    x = to_float(val.images)
    assert domain_accuracy(net, x, (val.labels + 1) % 3) == 0.0  # every label wrong: accuracy exactly 0
    half = val.labels.clone()
    half[::2] = (half[::2] + 1) % 3
    assert domain_accuracy(net, x, half) == pytest.approx(0.5)
    cached, hit = load_or_train_classifier(two_colour_data, 32, tmp_path, progress=False)
    again, hit2 = load_or_train_classifier(two_colour_data, 32, tmp_path, progress=False)
    assert not hit and hit2 and all(torch.equal(a, b) for a, b in zip(cached.state_dict().values(),
                                                                       again.state_dict().values()))


@pytest.mark.slow
def test_eval_reports_content_and_domain_accuracy(tiny_run, synthetic_root, tmp_path, monkeypatch):
    fast = domain_accuracy_module.Recipe(8, 20, hue_blind=True)  # fast, not accurate
    monkeypatch.setitem(domain_accuracy_module.RECIPES, "hueblind", fast)
    out = tmp_path / "report.json"
    assert main(["eval", "--checkpoint", str(tiny_run), "--data", str(synthetic_root), "--metrics",
                 "content,domain_acc,domain_acc_hueblind", "--tasks", "checks2dots", "--num-sources", "2",
                 "--steps", "3", "--num-outs", "2", "--stats-cache", str(tmp_path / "cache"), "--out", str(out),
                 "--no-progress"]) == 0
    report = json.loads(out.read_text())
    assert set(report["metrics"]) == {"content_iou", "com_error", "path_iou", "domain_acc", "domain_acc_hueblind"}
    refs = report["references"]
    assert refs["content_iou_source"] > refs["content_iou_centred_disc"]
    assert 0.0 <= report["metrics"]["domain_acc"]["mean"] <= 1.0
    assert 0.0 <= report["metrics"]["domain_acc_hueblind"]["mean"] <= 1.0
    assert 0.0 <= refs["domain_acc_hueblind_real_val"] <= 1.0
    assert len(list((tmp_path / "cache").glob("classifier_hueblind_*.safetensors"))) == 1
    assert "reference: content IoU of the sources themselves" in out.with_suffix(".md").read_text()


def test_hue_blind_jitter_keeps_grey_grey():
    grey = torch.full((1, 3, 2, 2), 0.25)
    jittered = hue_blind_jitter(grey.expand(64, 3, 2, 2), torch.Generator().manual_seed(0), contrast=0.0)
    assert torch.allclose(jittered, jittered[:, :1].expand_as(jittered), atol=1e-6)  # grey stays grey; only shifted
    assert (jittered[:, 0, 0, 0] - 0.25).abs().max() <= 0.2 + 1e-6 and jittered.std() > 0.05


def test_eval_report_defaults_to_the_run_directory(tiny_run, synthetic_root, capsys):
    assert main(["eval", "--checkpoint", str(tiny_run), "--data", str(synthetic_root), "--metrics", "content",
                 "--tasks", "checks2dots", "--num-sources", "2", "--steps", "3", "--no-progress"]) == 0
    report = json.loads((tiny_run / "eval" / "report.json").read_text())
    assert set(report["metrics"]) == {"content_iou", "com_error", "path_iou"}
    assert str(tiny_run / "eval" / "report.md") in capsys.readouterr().out
