"""Load by name: save_pretrained / from_pretrained (folder, file:// mirror, run directory), torch.hub from a clone."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from i2i.hub import CARD_FILE, MODEL_FILE
from i2i.inference import StyleSpec, Translator

ROOT = Path(__file__).resolve().parents[1]


def outputs(t: Translator, source: Path) -> torch.Tensor:
    return torch.cat([t.translate(str(source), StyleSpec(d, seed=3)) for d in t.domains])


@pytest.fixture(scope="module")
def saved(tiny_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hub") / "model"
    Translator.load(tiny_run, "cpu").save_pretrained(folder, report_md="# Evaluation of `run`\n\n| a | b |\n")
    return folder


def test_saved_folder_has_the_hub_layout_and_a_model_card(saved):
    assert {p.name for p in saved.iterdir()} == {"config.yaml", "domains.json", MODEL_FILE, CARD_FILE}
    card = (saved / CARD_FILE).read_text()
    assert card.startswith("---\nlibrary_name: i2i\n") and "## Training config" in card and "## Evaluation" in card
    front = yaml.safe_load(card.split("---")[1])
    assert front["library_name"] == "i2i"


@pytest.mark.parametrize("how", ["folder", "file_url", "run_dir"])
def test_from_pretrained_gives_the_same_outputs(tiny_run, saved, synthetic_root, how):
    source = next((synthetic_root / "val" / "dots").iterdir())
    name = {"folder": str(saved), "file_url": saved.as_uri(), "run_dir": str(tiny_run)}[how]
    loaded = Translator.from_pretrained(name, "cpu")
    assert loaded.domains == ["checks", "dots", "stripes"]
    assert torch.equal(outputs(loaded, source), outputs(Translator.load(tiny_run, "cpu"), source))


def test_unknown_names_give_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(FileNotFoundError, match="not in the local Hugging Face cache"):
        Translator.from_pretrained("someone/no-such-model", "cpu")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        Translator.from_pretrained((tmp_path / "missing").as_uri(), "cpu")


def test_torch_hub_loads_from_a_local_clone(saved, tiny_run, synthetic_root):
    loaded = torch.hub.load(str(ROOT), "translator", source="local", path=str(saved), trust_repo=True)
    source = next((synthetic_root / "val" / "dots").iterdir())
    assert torch.equal(outputs(loaded, source), outputs(Translator.load(tiny_run, "cpu"), source))


def test_the_model_card_of_an_evaluated_run_holds_its_report(tiny_run, synthetic_root, tmp_path):
    import shutil

    from i2i.cli import main

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("eval"))  # other tests may have evaluated it
    plain = (Translator.load(run, "cpu").save_pretrained(tmp_path / "before") / CARD_FILE).read_text()
    assert "## Evaluation" not in plain  # not evaluated yet: no report to include
    assert main(["eval", "--checkpoint", str(run), "--data", str(synthetic_root), "--metrics", "ps_pixel",
                 "--num-sources", "1", "--steps", "3", "--no-progress"]) == 0
    table = [line for line in (run / "eval" / "report.md").read_text().splitlines() if line.startswith("| ")]
    card = (Translator.load(run, "cpu").save_pretrained(tmp_path / "after") / CARD_FILE).read_text()
    assert "## Evaluation" in card and table and all(line in card for line in table)
