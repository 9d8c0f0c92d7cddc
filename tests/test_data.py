"""Dataset layout errors, bad files, odd image modes, the per-iteration sampler and the synthetic set."""
import csv
import hashlib
import logging

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.data import DatasetLayoutError, DomainImages, TrainBatches, make_synthetic
from i2i.data.images import augment, load_image
from i2i.data.sampler import iteration_generator
from i2i.data.synthetic import SHAPES


def write(path, mode="RGB", size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = (np.random.default_rng(0).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    img = Image.fromarray(arr)
    if mode == "CMYK":
        img.convert("CMYK").save(path.with_suffix(".jpg"))
    elif mode == "I;16":
        Image.fromarray((arr[..., 0].astype(np.uint16) * 200)).save(path.with_suffix(".png"))
    else:
        img.convert(mode).save(path.with_suffix(".png"))


def test_missing_train_folder(tmp_path):
    with pytest.raises(DatasetLayoutError, match=f"{tmp_path / 'train'} does not exist"):
        DomainImages(tmp_path, "train", 32)


def test_fewer_than_two_domains(tmp_path):
    write(tmp_path / "train" / "cat" / "a")
    with pytest.raises(DatasetLayoutError, match="at least 2"):
        DomainImages(tmp_path, "train", 32)


def test_empty_domain(tmp_path):
    write(tmp_path / "train" / "cat" / "a")
    (tmp_path / "train" / "dog").mkdir()
    with pytest.raises(DatasetLayoutError, match=f"{tmp_path / 'train' / 'dog'} has no image"):
        DomainImages(tmp_path, "train", 32)


@pytest.mark.parametrize("cache", ["yes", "no"])
def test_corrupt_files_are_skipped_and_counted(tmp_path, caplog, cache):
    for d in ("a", "b"):
        write(tmp_path / "train" / d / "ok")
    (tmp_path / "train" / "a" / "broken.jpg").write_bytes(b"not an image at all")
    (tmp_path / "train" / "b" / "empty.png").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        images = DomainImages(tmp_path, "train", 32, cache=cache, progress=False)
    assert images.num_skipped == 2 and len(images) == 2
    assert sum("skipping unreadable image" in r.message for r in caplog.records) == 2
    assert images.image(0).shape == (3, 32, 32)


def test_domain_with_only_corrupt_files(tmp_path):
    write(tmp_path / "train" / "a" / "ok")
    (tmp_path / "train" / "b").mkdir(parents=True)
    (tmp_path / "train" / "b" / "x.jpg").write_bytes(b"junk")
    with pytest.raises(DatasetLayoutError, match="no readable image"):
        DomainImages(tmp_path, "train", 32, cache="yes", progress=False)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16", "1"])
def test_odd_modes_become_rgb(tmp_path, mode):
    write(tmp_path / "img", mode)
    path = next(tmp_path.iterdir())
    img = load_image(path, 32)
    assert img.shape == (3, 32, 32) and img.dtype == torch.uint8


def test_augment_range_and_determinism():
    img = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    a = augment(img, torch.Generator().manual_seed(3), 1.0)
    b = augment(img, torch.Generator().manual_seed(3), 1.0)
    assert torch.equal(a, b) and a.shape == (3, 32, 32)
    assert a.min() >= -1 and a.max() <= 1
    plain = augment(img, torch.Generator().manual_seed(0), 0.0)  # no crop: exact values or mirrored
    ref = img.float() / 127.5 - 1
    assert torch.allclose(plain, ref) or torch.allclose(plain, ref.flip(-1))


def test_train_batches(synthetic_root):
    images = DomainImages(synthetic_root, "train", 32, progress=False)
    batches = TrainBatches(images, batch_size=8, latent_dim=4, seed=5)
    b = batches[3]
    assert b["x_src"].shape == (8, 3, 32, 32) and b["z1"].shape == (8, 4)
    assert torch.equal(b["x_ref"], batches[3]["x_ref"])  # a pure function of (seed, step)
    assert not torch.equal(b["x_src"], batches[4]["x_src"])
    # rank slices put together give the global batch
    halves = [TrainBatches(images, 8, 4, seed=5, rank=r, world_size=2)[3] for r in range(2)]
    for key in b:
        assert torch.equal(torch.cat([h[key] for h in halves]), b[key])
    with pytest.raises(ValueError, match="divisible"):
        TrainBatches(images, 8, 4, seed=5, world_size=3)


def test_references_share_target_domain_and_differ(synthetic_root):
    images = DomainImages(synthetic_root, "train", 32, progress=False)
    batches = TrainBatches(images, batch_size=64, latent_dim=4, seed=0)
    for step in range(3):  # replay the sampler's own draws to see the indices it picks
        g = iteration_generator(0, step)
        y_src, y_trg = torch.randint(3, (64,), generator=g), torch.randint(3, (64,), generator=g)
        src = batches._pick(y_src, g)
        ref = batches._pick(y_trg, g)
        ref2 = batches._pick(y_trg, g, exclude=ref)
        assert torch.equal(images.labels[src], y_src)
        assert torch.equal(images.labels[ref], y_trg) and torch.equal(images.labels[ref2], y_trg)
        assert (ref != ref2).all()
    # domains are drawn uniformly (StarGAN v2's balanced sampler)
    counts = torch.bincount(torch.cat([batches[s]["y_src"] for s in range(30)]), minlength=3)
    assert counts.min() > 0.2 * counts.sum()


def test_synthetic_is_deterministic_with_manifest(tmp_path):
    a = make_synthetic(tmp_path / "a", num_train=3, num_val=1, size=32, seed=4)
    b = make_synthetic(tmp_path / "b", num_train=3, num_val=1, size=32, seed=4)
    digest = lambda root: hashlib.sha256(b"".join(p.read_bytes() for p in sorted(root.rglob("*.png")))).hexdigest()  # noqa: E731
    assert digest(a) == digest(b)
    assert digest(a) != digest(make_synthetic(tmp_path / "c", num_train=3, num_val=1, size=32, seed=5))
    rows = list(csv.DictReader(open(a / "manifest.csv")))
    assert len(rows) == 3 * (3 + 1)
    assert {"shape", "cx", "cy", "size", "angle", "hue", "frequency"} <= set(rows[0])
    assert all((a / r["file"]).is_file() for r in rows)
    assert {r["domain"] for r in rows} == {"stripes", "checks", "dots"}


def test_synthetic_content_is_independent_of_the_domain(tmp_path):
    """Every domain draws shape, place and size from one distribution; only the style differs."""
    root = make_synthetic(tmp_path, num_train=60, num_val=1, size=8, seed=2)
    rows = [r for r in csv.DictReader(open(root / "manifest.csv")) if r["split"] == "train"]
    for domain in ("stripes", "checks", "dots"):
        mine = [r for r in rows if r["domain"] == domain]
        assert {r["shape"] for r in mine} == set(SHAPES)
        for key, mean in (("cx", 0.5), ("cy", 0.5), ("size", 0.27)):
            assert abs(sum(float(r[key]) for r in mine) / len(mine) - mean) < 0.04, (domain, key)
    hues = {d: [float(r["hue"]) for r in rows if r["domain"] == d] for d in ("checks", "dots")}
    assert max(hues["checks"]) < min(hues["dots"])  # the style does differ: disjoint hue ranges
