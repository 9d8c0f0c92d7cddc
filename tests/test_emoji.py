"""Emoji data (``i2i make-emoji``) from stand-in packages made here (no network), and the paired ground-truth metrics
with known answers: a translation equal to its answer, the copy, hand-made retrieval ranks, SSIM against
scikit-image."""
from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from i2i.cli import main
from i2i.data import emoji as emoji_data
from i2i.data.dataset import DomainImages
from i2i.data.glyphs import default_font_dirs
from i2i.weights import sha256_of
from i2i.evaluation.paired import is_paired_folder, paired_truth, retrieval_hits, ssim

# emoji a DejaVu font draws (it stands in for OpenMoji's colour font), plus entries make-emoji must leave out
KEPT = ["263A-FE0F", "2602-FE0F", "2603-FE0F", "2605", "2660-FE0F", "2663-FE0F", "2665-FE0F", "266A"]
LEFT_OUT = {"1F1EB-1F1F7": "Flags", "0023-FE0F-20E3": "Symbols", "1F44D-1F3FB": "People & Body",
            "1F980": "Animals & Nature",  # the stand-in font lacks it: OpenMoji "does not draw" it
            "2764-FE0F": "Smileys & Emotion", "2763-FE0F": "Smileys & Emotion"}  # the same Google picture twice


def _png(colour, shape: int) -> bytes:
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(image).regular_polygon((32, 32, 12 + shape), 3 + shape % 5, fill=(*colour, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _tgz(path: Path, vendor: str, entries: list[dict], shift: int) -> None:
    with tarfile.open(path, "w:gz") as tar:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("package/emoji.json", json.dumps(entries).encode())
        for i, e in enumerate(entries):
            if e["unified"] in ("2764-FE0F", "2763-FE0F") and vendor == "google":  # one picture for two emoji
                add(f"package/img/{vendor}/64/{e['image']}", _png((10, 200, 10), 20))
            else:
                add(f"package/img/{vendor}/64/{e['image']}", _png((200, 17 * i, 30 + shift), i))


@pytest.fixture(scope="module")
def stand_in_sources(tmp_path_factory):
    """Stand-ins for the three packages, with the registry's hashes pointed at them."""
    folder = tmp_path_factory.mktemp("packages")
    entries = [{"unified": u, "name": f"emoji {u}", "category": "Symbols", "subcategory": "x",
                "image": f"{u.lower()}.png", "has_img_google": True, "has_img_twitter": True} for u in KEPT]
    entries += [{"unified": u, "name": u, "category": c, "subcategory": "x", "image": f"{u.lower()}.png",
                 "has_img_google": True, "has_img_twitter": True} for u, c in LEFT_OUT.items()]
    vendors = dict(emoji_data.VENDORS)
    _tgz(folder / vendors["google"].archive, "google", entries, 0)
    _tgz(folder / vendors["twitter"].archive, "twitter", entries, 100)
    font = next(p for d in default_font_dirs() for p in sorted(d.glob("DejaVuSans.ttf")))
    with zipfile.ZipFile(folder / vendors["openmoji"].archive, "w") as z:
        z.write(font, emoji_data.OPENMOJI_FONT)
        z.writestr(emoji_data.OPENMOJI_LICENCE, "CC BY-SA 4.0 (stand-in)")
    hashes = {name: sha256_of(folder / v.archive) for name, v in vendors.items()}
    return folder, hashes


@pytest.fixture
def sources(stand_in_sources, monkeypatch):
    folder, hashes = stand_in_sources
    for name, v in emoji_data.VENDORS.items():
        monkeypatch.setitem(emoji_data.VENDORS, name, emoji_data.Vendor(**{**v.__dict__, "sha256": hashes[name]}))
    return folder


def test_make_emoji_keeps_base_emoji_every_vendor_draws_once_paired_and_attributed(sources, tmp_path, capsys):
    out = tmp_path / "emoji"
    code = main(["make-emoji", "--out", str(out), "--source", str(sources), "--cache", str(tmp_path / "cache"),
                 "--val-fraction", "0.25", "--size", "32"])
    assert code == 0, capsys.readouterr().err
    names = {d: sorted(os.listdir(out / "train" / d)) + sorted(os.listdir(out / "val" / d))
             for d in ("google", "twitter", "openmoji")}
    expected = sorted(f"{u.lower()}.png" for u in KEPT)
    assert all(sorted(n) == expected for n in names.values())  # no flag, keycap, tone, undrawn or repeated picture
    assert len(os.listdir(out / "val" / "google")) == 2  # whole emoji held out of every vendor
    assert set(os.listdir(out / "val" / "google")) == set(os.listdir(out / "val" / "openmoji"))
    image = Image.open(out / "train" / "openmoji" / os.listdir(out / "train" / "openmoji")[0])
    assert image.size == (32, 32) and image.mode == "RGB" and image.getpixel((0, 0)) == (255, 255, 255)  # on white
    licences = (out / "LICENCES.md").read_text()
    assert all(s in licences for s in ("CC BY 4.0", "Apache License 2.0", "CC BY-SA 4.0", "Twemoji", "OpenMoji"))
    meta = json.loads((out / "emoji.json").read_text())
    assert meta["domains"] == ["google", "twitter", "openmoji"] and meta["num_emoji"] == len(KEPT)
    assert is_paired_folder(out)
    again = tmp_path / "again"  # deterministic
    main(["make-emoji", "--out", str(again), "--source", str(sources), "--cache", str(tmp_path / "cache"),
          "--val-fraction", "0.25", "--size", "32"])
    assert (again / "manifest.csv").read_bytes() == (out / "manifest.csv").read_bytes()


def test_make_emoji_refuses_bad_inputs_in_one_line_and_leaves_nothing(sources, tmp_path, capsys, monkeypatch):
    def run(*extra):
        code = main(["make-emoji", "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), *extra])
        return code, capsys.readouterr().err
    code, err = run("--vendors", "google,apple")
    assert code == 1 and "--vendors" in err and err.count("\n") == 1
    monkeypatch.setenv("PATH", "")  # no npm: offline, as a user's machine without a connection
    code, err = run("--vendors", "google,twitter")
    assert code == 1 and "npm pack emoji-datasource-google@16.0.0" in err and "--source" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / emoji_data.VENDORS["google"].archive).write_bytes(b"not the package")
    code, err = run("--vendors", "google,twitter", "--source", str(bad))
    assert code == 1 and "sha256" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_paired_truth_by_file_name(tmp_path):
    for split in ("train", "val"):
        for d in ("a", "b"):
            (tmp_path / split / d).mkdir(parents=True)
            for name in ("x", "y", "z" if d == "a" else "w"):
                Image.new("RGB", (8, 8)).save(tmp_path / split / d / f"{name}.png")
    val = DomainImages(tmp_path, "val", 8, progress=False)  # a: x y z, b: w x y
    truth = paired_truth(val)
    assert truth.partner.tolist() == [[0, 4], [1, 5], [2, -1], [-1, 3], [0, 4], [1, 5]]
    assert is_paired_folder(tmp_path)  # 4 of 6 images have a partner
    (tmp_path / "val" / "b" / "x.png").rename(tmp_path / "val" / "b" / "v.png")
    assert not is_paired_folder(tmp_path) and paired_truth(DomainImages(tmp_path, "val", 8, progress=False)) is None


def test_retrieval_ranks_by_hand():
    gallery = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])[:, None, None, None].expand(-1, 3, 2, 2)
    images = torch.tensor([0.1, 2.9, 6.0])[:, None, None, None].expand(-1, 3, 2, 2)
    hits = retrieval_hits(images, gallery, torch.tensor([0, 1, 6]), ks=(1, 2, 5))
    # image 0.1: answer 0 is nearest; 2.9: answer 1 is 4th (3, 2, 4 nearer); 6.0: exact
    assert hits[1].tolist() == [1, 0, 1] and hits[2].tolist() == [1, 0, 1] and hits[5].tolist() == [1, 1, 1]


def test_ssim_is_one_on_equal_images_and_matches_scikit_image():
    from skimage.metrics import structural_similarity

    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 32, 32, generator=g)
    b = (a + 0.2 * torch.rand(2, 3, 32, 32, generator=g)).clamp(0, 1)
    assert ssim(a, a).tolist() == pytest.approx([1.0, 1.0], abs=1e-6)
    ours = ssim(a, b)
    for i in range(2):
        theirs = structural_similarity(a[i].permute(1, 2, 0).numpy(), b[i].permute(1, 2, 0).numpy(), channel_axis=2,
                                       gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
        assert ours[i].item() == pytest.approx(theirs, abs=1e-4)


def test_paired_metrics_score_the_answer_itself_perfectly_and_the_copy_as_the_copy(tmp_path):
    """The two metric functions on a fake batch: translations equal to their answers, and the sources."""
    from types import SimpleNamespace

    from i2i.data.images import to_float
    from i2i.evaluation.metrics import GeneratedBatch, paired_reference_truth, paired_retrieval
    from i2i.pretrained import build_lpips

    rng = np.random.default_rng(0)
    for d in ("a", "b"):
        for split in ("train", "val"):
            (tmp_path / split / d).mkdir(parents=True)
            for i in range(4):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / split / d /
                                                                                       f"{i}.png")
    val = DomainImages(tmp_path, "val", 32, progress=False)
    everything = to_float(torch.stack([val.image(i) for i in range(len(val))]))
    ctx = SimpleNamespace(paired=paired_truth(val), val=val, lpips_net=build_lpips(random_weights=True)[0],
                          val_float=lambda index: everything[index])
    index = torch.tensor([0, 1, 2, 3])  # domain a; answers in domain b are 4-7
    answers = everything[4:8]
    refs = torch.tensor([[5, 6], [4, 7], [7, 5], [6, 4]])
    b = GeneratedBatch(images=answers[:, None].expand(-1, 2, -1, -1, -1), image_set="references", sources=everything[:4],
                       src=0, trg=1, first=0, index=index, reference_index=refs, reference_images=everything[refs])
    scores = paired_reference_truth(ctx, b)
    assert scores["paired_ref_l1"].abs().max() == 0 and scores["paired_ref_lpips"].abs().max() < 1e-6
    assert scores["paired_ref_ssim"].min() == pytest.approx(1.0, abs=1e-6)
    copy_l1 = (everything[:4] - answers).abs().mean((1, 2, 3)) / 2
    assert scores["paired_ref_l1_copy"].tolist() == pytest.approx(copy_l1.repeat_interleave(2).tolist(), abs=1e-6)
    assert scores["paired_ref_l1_reference"].min() > 0
    hits = paired_retrieval(ctx, GeneratedBatch(images=answers[:, None], image_set="translations", sources=everything[:4],
                                                src=0, trg=1, first=0, index=index))
    assert hits["paired_top1"].tolist() == [1, 1, 1, 1] and hits["paired_top5"].tolist() == [1, 1, 1, 1]
