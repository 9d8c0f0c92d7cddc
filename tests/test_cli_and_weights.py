"""The console script's surface and the LPIPS weights locator."""
import hashlib
import subprocess
import sys

import pytest
import torch

from i2i import weights
from i2i.cli import main
from i2i.pretrained import ALEXNET_FILE, MissingWeightsError, build_lpips


EXPECTED = {"make-synthetic": "--num-train", "train": "--run-dir", "eval": "--metrics", "translate": "--grid",
            "interpolate": "--method", "convert": "--wing", "ablate": "--variants", "app": "--host", "weights": "fetch",
            "style-map": "--per-domain", "make-glyphs": "--fonts", "export": "--format",
            "make-emoji": "--vendors"}


def test_help_lists_every_subcommand():
    out = subprocess.run([sys.executable, "-m", "i2i", "--help"], capture_output=True, text=True, check=True).stdout
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("    ") and line[4] != " "}
    assert listed == set(EXPECTED)


@pytest.mark.parametrize("command,option", sorted(EXPECTED.items()))
def test_subcommand_help_names_its_options(command, option, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0 and option in capsys.readouterr().out


def test_train_on_bad_layout_is_a_clear_error(tmp_path, capsys):
    code = main(["train", "--config", "configs/synthetic.yaml", "--run-dir", str(tmp_path / "run"),
                 "--set", f"data.root={tmp_path / 'nothing'}"])
    assert code == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nothing' / 'train'} does not exist" in err and "Traceback" not in err


def test_lpips_uses_alexnet_file_from_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError, match=f"{ALEXNET_FILE} is not in {tmp_path / 'hub' / 'checkpoints'}"):
        build_lpips(allow_random_fallback=False)
    _, provenance = build_lpips(allow_random_fallback=True)  # the app's loud fallback
    assert provenance == "random-weights"

    import torchvision

    torch.manual_seed(123)
    alexnet = torchvision.models.alexnet(weights=None)
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(alexnet.state_dict(), tmp_path / "hub" / "checkpoints" / ALEXNET_FILE)
    with pytest.raises(MissingWeightsError):  # not the registry's file (its hash differs): refused, never loaded
        build_lpips(allow_random_fallback=False)
    digest = hashlib.sha256((tmp_path / "hub" / "checkpoints" / ALEXNET_FILE).read_bytes()).hexdigest()
    entry = weights.REGISTRY["lpips-alexnet"]
    monkeypatch.setitem(weights.REGISTRY, "lpips-alexnet", weights.WeightsFile(**{**entry.__dict__, "sha256": digest}))
    net, provenance = build_lpips(allow_random_fallback=False)
    assert provenance == "pretrained"
    first_conv = net.net.slice1[0].weight
    assert torch.equal(first_conv, alexnet.features[0].weight)
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
