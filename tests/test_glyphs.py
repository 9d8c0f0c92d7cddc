"""Glyph data from real typefaces (i2i make-glyphs) and its ground-truth metrics, with known answers."""
from __future__ import annotations

import csv
import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.evaluation.glyphs import (GlyphTruth, glyph_chars, is_glyph_data, nearest_iou, read_glyph_truth,
                               reference_scores, rises_monotonically, transition)
from i2i.cli import main
from i2i.data import DomainImages
from i2i.data.glyphs import (GlyphRenderer, Typeface, default_font_dirs, find_typefaces, glyph_image, group_faces,
                             make_glyphs, read_typefaces)
from i2i.data.images import to_float

DEJAVU = [d for d in default_font_dirs() if (d / "DejaVuSans-BoldOblique.ttf").is_file()]
needs_dejavu = pytest.mark.skipif(not DEJAVU, reason="DejaVu fonts not installed (apt-get install fonts-dejavu-core)")


def face(family: str, weight: int, italic: bool, path: str = "x.ttf") -> Typeface:
    return Typeface(path, 0, family, "", weight, -11.0 if italic else 0.0, italic)


def test_style_class_comes_from_weight_and_slant():
    assert [face("F", w, False).style for w in (200, 350, 400, 500, 549, 550, 700, 900)] == \
        ["light", "light", "regular", "regular", "regular", "bold", "bold", "bold"]
    assert [face("F", w, True).style for w in (300, 400, 700)] == ["light_italic", "italic", "bold_italic"]


def test_style_domains_keep_complete_families_and_family_domains_keep_every_family():
    faces = [face("A", 400, False), face("A", 700, False), face("A", 400, True),
             face("B", 400, False), face("B", 700, False),  # no italic: left out of the style domains
             face("C Sans", 400, False), face("C Sans", 400, True)]
    groups = group_faces(faces, "style")
    assert list(groups) == ["regular", "bold", "italic"]
    assert [[f.family for f in members] for members in groups.values()] == [["A"], ["A"], ["A"]]
    by_family = group_faces(faces, "family")
    assert {name: [f.style for f in members] for name, members in by_family.items()} == \
        {"a": ["regular", "bold", "italic"], "b": ["regular", "bold"], "c_sans": ["regular", "italic"]}
    with pytest.raises(ValueError, match="two are needed"):
        group_faces([face("A", 400, False)], "style")


@needs_dejavu
def test_typeface_tables_are_read_not_guessed_from_names():
    (bold_oblique,) = read_typefaces(DEJAVU[0] / "DejaVuSans-BoldOblique.ttf")
    assert (bold_oblique.family, bold_oblique.weight, bold_oblique.italic_angle) == ("DejaVu Sans", 700, -11.0)
    assert bold_oblique.style == "bold_italic" and ord("A") in bold_oblique.codepoints
    (light,) = read_typefaces(DEJAVU[0] / "DejaVuSans-ExtraLight.ttf")
    assert (light.family, light.weight, light.style) == ("DejaVu Sans Light", 200, "light")


def test_unreadable_font_is_a_logged_skip(tmp_path, caplog):
    bad = tmp_path / "broken.ttf"
    bad.write_bytes(b"not a font")
    assert read_typefaces(bad) == []
    assert "not a readable font" in caplog.text
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no font file"):
        find_typefaces([tmp_path / "empty"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_typefaces([tmp_path / "nothing-here"])


@needs_dejavu
def test_renderer_places_the_ink_box_centre_and_draws_ink_levels():
    (sans,) = read_typefaces(DEJAVU[0] / "DejaVuSans.ttf")
    renderer = GlyphRenderer(32)
    for dx, dy in ((0.0, 0.0), (1.5, -2.25)):
        cov = renderer.coverage(sans, "H", 20.0, dx, dy)
        ys, xs = np.nonzero(cov > 0.02)
        centre = ((xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2)
        assert centre == pytest.approx((16 + dx, 16 + dy), abs=0.75)  # whole pixels bound a quarter-pixel placement
        assert cov.max() == pytest.approx(1.0) and cov.min() == 0.0
    image = glyph_image(cov)
    assert image.shape == (32, 32, 3) and image.min() == round(0.1 * 255) and image.max() == round(0.9 * 255)


@pytest.fixture(scope="module")
def glyph_root(tmp_path_factory):
    if not DEJAVU:
        pytest.skip("DejaVu fonts not installed")
    return make_glyphs(tmp_path_factory.mktemp("glyphs") / "g", chars="AHe4", num_train=4, num_val=3, seed=3)


@needs_dejavu
def test_make_glyphs_is_deterministic_and_writes_content_style_and_truth(glyph_root, tmp_path):
    rows = list(csv.DictReader(open(glyph_root / "manifest.csv")))
    assert len(rows) == 3 * (4 + 3) and {r["domain"] for r in rows} == {"regular", "bold", "italic"}
    assert all((glyph_root / r["file"]).is_file() for r in rows)
    meta = json.loads((glyph_root / "glyphs.json").read_text())
    fonts = meta["fonts"]
    for r in rows:  # each image's style is its domain's, read from the tables
        assert fonts[int(r["font"])]["style"] == r["domain"] == r["style"]
        assert float(r["italic_angle"]) != 0 if r["domain"] == "italic" else float(r["italic_angle"]) == 0
    assert {f["family"] for f in fonts} >= {"DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono"}
    truth = np.load(glyph_root / "truth.npz")
    assert truth["coverage"].shape == (9, len(fonts), 32, 32) and len(truth["files"]) == 9
    # the truth of an image in its own typeface is the image itself
    val = [r for r in rows if r["split"] == "val"]
    first = np.asarray(Image.open(glyph_root / val[0]["file"]))
    own = truth["coverage"][0, int(val[0]["font"])] / 255.0
    assert np.abs(glyph_image(own).astype(int) - first.astype(int)).max() <= 1
    again = make_glyphs(tmp_path / "again", chars="AHe4", num_train=4, num_val=3, seed=3)
    def digest(root):
        return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(root.rglob("*.png")))).hexdigest()
    assert digest(again) == digest(glyph_root)


@needs_dejavu
def test_make_glyphs_refuses_a_non_empty_folder_and_overwrites_on_request(glyph_root, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "old.png").write_bytes(b"x")
    assert main(["make-glyphs", "--out", str(out), "--chars", "AB", "--num-train", "1", "--num-val", "1"]) == 1
    assert "is not empty" in capsys.readouterr().err and (out / "old.png").exists()
    assert main(["make-glyphs", "--out", str(out), "--chars", "AB", "--num-train", "1", "--num-val", "1",
                 "--overwrite", "--domains", "family"]) == 0
    assert not (out / "old.png").exists() and is_glyph_data(out)
    assert {p.name for p in (out / "train").iterdir()} >= {"dejavu_sans", "dejavu_serif"}


def tiny_truth() -> GlyphTruth:
    """Two images, three typefaces (domains 0, 1, 1): each typeface draws a bar in another column."""
    cov = torch.zeros(2, 3, 4, 4)
    for f in range(3):
        cov[:, f, :, f] = 1.0
    return GlyphTruth(chars="AB", char=torch.tensor([0, 1]), font=torch.tensor([0, 1]),
                      font_domain=torch.tensor([0, 1, 1]), coverage=cov, ink=0.9, ground=0.1)


def as_images(coverage: torch.Tensor, truth: GlyphTruth) -> torch.Tensor:
    grey = truth.ground + (truth.ink - truth.ground) * coverage
    return (grey * 2 - 1)[..., None, :, :].expand(*coverage.shape[:-2], 3, *coverage.shape[-2:])


def test_reference_scores_known_answers():
    t = tiny_truth()
    index, refs = torch.tensor([0, 1]), torch.tensor([[1], [0]])  # source 0 with reference 1 (font 1) and vice versa
    truth = t.coverage[index, t.font[refs][:, 0]][:, None]  # each source's content in its reference's typeface
    sources = as_images(t.coverage[index, t.font[index]], t)
    references = as_images(t.coverage[refs[:, 0], t.font[refs[:, 0]]], t)[:, None]
    perfect = reference_scores(t, as_images(truth, t), sources, references, index, refs)
    assert perfect["iou"].tolist() == [1.0, 1.0] and perfect["l1"].abs().max() < 1e-6
    # the source draws column 0 where the truth is column 1 (and vice versa): disjoint bars, IoU 0
    assert perfect["source"].tolist() == [0.0, 0.0]
    assert perfect["reference"].tolist() == [1.0, 1.0]  # here the reference's content equals the truth
    half = truth.clone()
    half[0, 0, :2, 1] = 0.0  # half of the bar missing
    scores = reference_scores(t, as_images(half, t), sources, references, index, refs)
    assert scores["iou"].tolist() == [0.5, 1.0]
    assert scores["l1"][0].item() == pytest.approx(0.8 * 2 / 16)


def test_nearest_iou_takes_the_best_typeface_of_the_target_domain():
    t = tiny_truth()
    masks = torch.zeros(2, 2, 4, 4, dtype=torch.bool)
    masks[0, 0, :, 2] = True  # exactly typeface 2 (domain 1)
    masks[0, 1, :, 0] = True  # typeface 0: domain 0, not a candidate for domain 1
    masks[1, 0, :2, 1] = True  # half of typeface 1
    assert nearest_iou(t, masks, torch.tensor([0, 1]), target=1).tolist() == [1.0, 0.0, 0.5, 0.0]
    assert nearest_iou(t, masks, torch.tensor([0, 1]), target=0).tolist() == [0.0, 1.0, 0.0, 0.0]


def test_monotone_rise_with_tolerance():
    p = torch.tensor([[0.1, 0.5, 0.9], [0.1, 0.5, 0.4], [0.5, 0.495, 0.9], [0.9, 0.5, 0.1]])
    assert rises_monotonically(p).tolist() == [1.0, 0.0, 1.0, 0.0]


def test_transition_midpoint_and_width_known_answers():
    alphas = torch.linspace(0, 1, 5)  # 0, 0.25, 0.5, 0.75, 1
    p = torch.tensor([[0.0, 0.2, 0.5, 0.8, 1.0],  # a ramp: 0.1 reached at 0.25, 0.5 at 0.5, 0.9 at 1
                      [0.0, 0.0, 0.0, 1.0, 1.0],  # an abrupt switch between 0.5 and 0.75: width 0
                      [0.0, 0.05, 0.2, 0.3, 0.4]])  # never reaches 0.5 or 0.9: both at alpha 1
    where = transition(p, alphas)
    assert where["midpoint"].tolist() == [0.5, 0.75, 1.0]
    assert where["width"].tolist() == [0.75, 0.0, 0.5]


@needs_dejavu
def test_truth_and_character_labels_follow_the_manifest(glyph_root):
    val = DomainImages(glyph_root, "val", 32, progress=False)
    truth = read_glyph_truth(glyph_root, val.paths, val.domains, 32)
    meta = json.loads((glyph_root / "glyphs.json").read_text())
    assert truth.font_domain.tolist() == [val.domains.index(f["domain"]) for f in meta["fonts"]]
    # every source against its own typeface's truth: the ink masks agree (IoU 1 up to the ink threshold)
    sources = to_float(val.images)
    own = truth.truth_masks(torch.arange(len(val)), truth.font)
    assert (truth.ink_masks(sources) == own).all()
    labels, count = glyph_chars(DomainImages(glyph_root, "train", 32, progress=False))
    assert count == 4 and set(labels.tolist()) <= {0, 1, 2, 3}
    half = read_glyph_truth(glyph_root, val.paths, val.domains, 16)
    assert half.coverage.shape[-1] == 16


@needs_dejavu
def test_duplicates_are_dropped_by_their_tables_not_their_names(tmp_path):
    """Two copies of one font count once; a bold italic whose name table calls it "Oblique" (as Caladea's does)
    is still a face of its own, not a duplicate of the real oblique."""
    from fontTools.ttLib import TTFont

    for copy in ("a", "b"):
        (tmp_path / copy).mkdir()
        for name in ("DejaVuSans.ttf", "DejaVuSans-Oblique.ttf"):
            (tmp_path / copy / name).write_bytes((DEJAVU[0] / name).read_bytes())
    misnamed = TTFont(str(DEJAVU[0] / "DejaVuSans-BoldOblique.ttf"))
    misnamed["name"].setName("Oblique", 2, 3, 1, 0x409)
    misnamed.save(str(tmp_path / "a" / "0-misnamed.ttf"))
    faces = find_typefaces([tmp_path / "a", tmp_path / "b"])
    assert sorted(f.style for f in faces) == ["bold_italic", "italic", "regular"]
