"""The weights registry: fetching from a file:// mirror, hash refusal, interrupted downloads, the offline message,
and training that refuses to start on a missing LPIPS unless a random trunk is asked for."""
from __future__ import annotations

import hashlib

import pytest
import torch
import yaml

from i2i import weights
from i2i.config import load_config
from i2i.pretrained import ALEXNET_FILE, build_lpips
from i2i.training import train
from i2i.weights import MissingWeightsError, WeightsFile, WeightsHashError, fetch, status


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A registry entry for a small checkpoint served by a file:// mirror, with its true sha256 prefix."""
    monkeypatch.setenv("I2I_OFFLINE", "")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    torch.save({"w": torch.arange(10.0)}, mirror / "toy.pth")
    digest = hashlib.sha256((mirror / "toy.pth").read_bytes()).hexdigest()
    entry = WeightsFile("toy", "toy.pth", "https://example.invalid/toy.pth", digest[:8], lambda: tmp_path / "cache",
                        "tests", "none")
    return entry, f"file://{mirror}"


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_fetch_from_a_file_mirror_verifies_and_places_the_file(toy):
    entry, mirror = toy
    assert status(entry) == "missing"
    path = fetch(entry, mirror=mirror, progress=False)
    assert path == entry.path and torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(10.0))
    assert status(entry) == "verified" and leftovers(path.parent) == ["toy.pth"]


def test_a_wrong_hash_is_refused_and_nothing_is_left(toy):
    entry, mirror = toy
    bad = WeightsFile(**{**entry.__dict__, "sha256": "00000000"})
    with pytest.raises(WeightsHashError, match="does not start with 00000000"):
        fetch(bad, mirror=mirror, progress=False)
    assert leftovers(bad.folder()) == []


def test_an_interrupted_download_leaves_no_file_under_the_final_name(toy, monkeypatch):
    entry, mirror = toy

    def broken(url, dest, progress):
        dest.write_bytes(b"half a file")
        raise ConnectionResetError("connection reset by peer")
    monkeypatch.setattr(weights, "_download", broken)
    with pytest.raises(MissingWeightsError, match="connection reset"):
        fetch(entry, mirror=mirror, progress=False)
    assert leftovers(entry.folder()) == []
    monkeypatch.undo()
    monkeypatch.setenv("I2I_OFFLINE", "")
    assert fetch(entry, mirror=mirror, progress=False).is_file()  # restartable


def test_offline_message_names_file_folder_and_command(toy, monkeypatch):
    entry, mirror = toy
    monkeypatch.setenv("I2I_OFFLINE", "1")
    with pytest.raises(MissingWeightsError) as err:
        fetch(entry, mirror=mirror)
    message = str(err.value)
    assert "toy.pth" in message and str(entry.folder()) in message and "i2i weights fetch toy" in message


def test_lpips_is_fetched_on_first_use_from_the_mirror(tmp_path, monkeypatch):
    import torchvision

    torch.manual_seed(5)
    alexnet = torchvision.models.alexnet(weights=None)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    torch.save(alexnet.state_dict(), mirror / ALEXNET_FILE)
    digest = hashlib.sha256((mirror / ALEXNET_FILE).read_bytes()).hexdigest()
    entry = weights.REGISTRY["lpips-alexnet"]
    monkeypatch.setitem(weights.REGISTRY, "lpips-alexnet", WeightsFile(**{**entry.__dict__, "sha256": digest}))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("I2I_OFFLINE", "")
    monkeypatch.setenv("I2I_WEIGHTS_MIRROR", f"file://{mirror}")
    net, provenance = build_lpips()
    assert provenance == "pretrained" and (tmp_path / "home" / "hub" / "checkpoints" / ALEXNET_FILE).is_file()
    assert torch.equal(net.net.slice1[0].weight, alexnet.features[0].weight)


def test_paper_configs_ask_for_the_pretrained_lpips():
    for name in ("afhq", "celeba_hq"):
        assert load_config(f"configs/{name}.yaml").loss.lpips_weights == "pretrained"


@pytest.mark.slow
def test_training_without_lpips_weights_stops_before_the_first_iteration(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    cfg = tiny_config("loss.lpips_weights=pretrained")
    with pytest.raises(MissingWeightsError, match="i2i weights fetch lpips-alexnet"):
        train(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "checkpoints").exists() and not (tmp_path / "run" / "log.jsonl").exists()


@pytest.mark.slow
def test_an_explicit_random_lpips_is_recorded_in_the_run(tiny_config, tmp_path):
    cfg = tiny_config("loss.lpips_weights=random", "train.total_iters=1", "train.save_every=1")
    train(cfg, tmp_path / "run", progress=False)
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["loss"]["lpips_weights"] == "random"
    from i2i.evaluation import EvalSettings, evaluate
    from i2i.evaluation.report import markdown

    report = evaluate(EvalSettings(str(tmp_path / "run"), cfg.data.root, metrics=("ps",), tasks=("dots2checks",),
                                   num_sources=1, steps=2, random_weights=True, progress=False))
    assert report["training_content_loss_lpips"] == "random-weights"
    assert "trained with a random-weights LPIPS content loss" in markdown(report)


def test_weights_cli_lists_and_fetches(toy, monkeypatch, capsys):
    from i2i.cli import main

    entry, mirror = toy
    monkeypatch.setitem(weights.REGISTRY, "toy", entry)
    assert main(["weights", "list"]) == 0
    listed = capsys.readouterr().out
    assert "| lpips-alexnet | alexnet-owt-7be5be79.pth |" in listed and "| toy | toy.pth |" in listed
    assert main(["weights", "fetch"]) == 1 and "name files to fetch" in capsys.readouterr().err
    assert main(["weights", "fetch", "nonsense"]) == 1 and "unknown: nonsense" in capsys.readouterr().err
    assert main(["weights", "fetch", "toy", "--mirror", mirror]) == 0
    assert status(entry) == "verified"
