"""Bad input gets one clear message and exit 1 with nothing written; broken checkpoints never strand a run.

One test per item of the robustness issue, plus table-driven tests over every numeric CLI option and every
numeric config field (zero, negative, huge, non-number).
"""
from __future__ import annotations

import dataclasses
import io
import json
import logging
import shutil

import pytest
import torch
from PIL import Image

from i2i.cli import main
from i2i.config import Config, load_config
from i2i.data import DatasetLayoutError, DomainImages
from i2i.training import train
from i2i.training.checkpoint import CorruptCheckpointError, complete_checkpoints, latest_checkpoint, read_state
from i2i.training.logger import truncate_log

from conftest import TINY


def run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


# 1. val/ domains must match train/ ------------------------------------------------------------------------------
@pytest.mark.parametrize("change", ["extra", "missing"])
def test_val_domains_must_match_train(synthetic_root, tmp_path, capsys, change):
    data = tmp_path / "d2"
    shutil.copytree(synthetic_root, data)
    if change == "extra":
        shutil.copytree(data / "val" / "dots", data / "val" / "zebra")
    else:
        shutil.rmtree(data / "val" / "dots")
    run = tmp_path / "run"
    code, err = run_cli(["train", "--config", "configs/synthetic.yaml", "--run-dir", run, "--no-progress",
                         *[a for o in TINY + [f"data.root={data}"] for a in ("--set", o)]], capsys)
    assert code == 1 and "val/ must hold the same domain folders as train/" in err and err.count("\n") == 1
    assert not run.exists()  # refused before the run directory was written


# 3. every numeric config field: zero, negative, huge, non-number ---------------------------------------------------
def _range_fields():
    for section in dataclasses.fields(Config):
        for f in dataclasses.fields(section.type if isinstance(section.type, type) else
                                    type(getattr(Config(), section.name))):
            if "range" in f.metadata:
                yield f"{section.name}.{f.name}", f.metadata["range"]


@pytest.mark.parametrize("key,bounds", list(_range_fields()), ids=lambda v: v if isinstance(v, str) else "")
def test_config_numbers_are_validated_before_anything_is_written(key, bounds, tmp_path, capsys):
    low, high, low_open, _ = bounds
    bad = ["-1", "1e30", "abc", ".nan"] + (["0"] if low > 0 or low_open else [])
    for value in bad:
        run = tmp_path / "run"
        code, err = run_cli(["train", "--config", "configs/synthetic.yaml", "--run-dir", run, "--set",
                             f"{key}={value}"], capsys)
        assert code == 1, (key, value)
        assert key in err and err.startswith("error: ") and err.count("\n") == 1, (key, value, err)
        assert not run.exists()


def test_model_img_size_and_enums():
    with pytest.raises(ValueError, match="model.img_size"):
        load_config(None, ["model.img_size=48"])
    with pytest.raises(ValueError, match="train.amp must be one of none, bf16, fp16"):
        load_config(None, ["train.amp=fp32"])
    for text, value in [("no", "no"), ("yes", "yes"), ("auto", "auto")]:  # YAML reads yes/no as booleans
        assert load_config(None, [f"data.cache_images={text}"]).data.cache_images == value


# 5. every numeric CLI option: zero, negative, huge, non-number ------------------------------------------------------
CLI_NUMBERS = [  # (argv before the option, option, values that must be refused)
    (["make-synthetic", "--out", "{out}"], "--num-train", ["0", "-1", "10000000", "abc"]),
    (["make-synthetic", "--out", "{out}"], "--num-val", ["0", "-1", "10000000", "abc"]),
    (["make-synthetic", "--out", "{out}"], "--size", ["0", "-1", "100000", "abc"]),
    (["make-synthetic", "--out", "{out}"], "--seed", ["-1", "1e30", "abc"]),
    (["eval", "--checkpoint", "{run}", "--data", "{data}", "--out", "{out}/r.json"], "--num-sources",
     ["0", "-1", "100000000", "abc"]),
    (["eval", "--checkpoint", "{run}", "--data", "{data}", "--out", "{out}/r.json"], "--steps", ["0", "-1", "100000", "abc"]),
    (["eval", "--checkpoint", "{run}", "--data", "{data}", "--out", "{out}/r.json"], "--num-outs", ["0", "-1", "100000", "x"]),
    (["eval", "--checkpoint", "{run}", "--data", "{data}", "--out", "{out}/r.json"], "--batch-size", ["0", "-1", "1e9", "x"]),
    (["eval", "--checkpoint", "{run}", "--data", "{data}", "--out", "{out}/r.json"], "--seed", ["-1", "99999999999", "x"]),
    (["translate", "--checkpoint", "{run}", "--input", "{img}", "--domain", "dots", "--out", "{out}"], "--seed",
     ["-1", "99999999999", "x"]),
    (["translate", "--checkpoint", "{run}", "--input", "{img}", "--domain", "dots", "--grid", "--out", "{out}"],
     "--grid-seeds", ["0", "-1", "100000", "x"]),
    (["interpolate", "--checkpoint", "{run}", "--input", "{img}", "--from", "dots", "--to", "checks", "--out",
      "{out}/a.gif"], "--steps", ["0", "-1", "100000", "x"]),
    (["interpolate", "--checkpoint", "{run}", "--input", "{img}", "--from", "dots", "--to", "checks", "--out",
      "{out}/a.gif"], "--fps", ["0", "-5", "1e9", "nan", "x"]),
    (["interpolate", "--checkpoint", "{run}", "--input", "{img}", "--from", "dots", "--to", "checks", "--out",
      "{out}/a.gif"], "--upscale", ["0", "-1", "1000", "x"]),
    (["ablate", "--config", "configs/synthetic.yaml", "--out", "{out}"], "--seeds", ["0", "-1", "100000", "x"]),
    (["ablate", "--config", "configs/synthetic.yaml", "--out", "{out}"], "--num-sources", ["0", "-1", "1e9", "x"]),
    (["app", "--checkpoint", "{run}"], "--port", ["0", "-1", "70000", "x"]),
]


@pytest.mark.parametrize("argv,option,values", CLI_NUMBERS, ids=[f"{a[0]}{o}" for a, o, _ in CLI_NUMBERS])
def test_cli_numbers_are_refused_with_one_message(argv, option, values, tiny_run, synthetic_root, tmp_path, capsys):
    img = next((synthetic_root / "val" / "dots").iterdir())
    out = tmp_path / "out"
    fill = {"out": out, "run": tiny_run, "data": synthetic_root, "img": img}
    for value in values:
        with pytest.raises(SystemExit) as exit_info:
            main([a.format(**fill) for a in argv] + [option, value])
        err = capsys.readouterr().err
        assert exit_info.value.code == 1, (option, value)
        assert f"error: argument {option}:" in err and value in err, err
        assert not out.exists()


def test_non_image_inputs(tiny_run, synthetic_root, tmp_path, capsys, caplog):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    out = tmp_path / "out"
    code, err = run_cli(["translate", "--checkpoint", tiny_run, "--input", text, "--domain", "dots", "--out", out],
                        capsys)
    assert code == 1 and "notes.png is not a readable image" in err and not out.exists()
    good = next((synthetic_root / "val" / "dots").iterdir())
    code, err = run_cli(["translate", "--checkpoint", tiny_run, "--input", good, "--domain", "dots",
                         "--reference", text, "--out", out], capsys)
    assert code == 1 and "notes.png is not a readable image" in err and not out.exists()
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copy(good, folder / "good.png")
    shutil.copy(text, folder / "bad.jpg")
    with caplog.at_level(logging.WARNING):
        code, _ = run_cli(["translate", "--checkpoint", tiny_run, "--input", folder, "--domain", "dots", "--out", out],
                          capsys)
    assert code == 0 and [p.name for p in out.iterdir()] == ["good_to_dots.png"]  # one bad file: skipped
    assert any("skipping unreadable image" in r.message and "bad.jpg" in r.message for r in caplog.records)


# 4. broken checkpoints ----------------------------------------------------------------------------------------------
def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def three_checkpoints(tiny_config, tmp_path):
    """A run with checkpoints at steps 2, 4 and 6 (keep 3)."""
    run = tmp_path / "run"
    train(tiny_config("train.save_every=2", "train.sample_every=100"), run, progress=False)
    assert [p.name for p in complete_checkpoints(run)] == ["step_0000006", "step_0000004", "step_0000002"]
    return run


@pytest.mark.slow
def test_truncated_weights_give_one_line_naming_the_file(three_checkpoints, synthetic_root, tmp_path, capsys):
    _truncate(three_checkpoints / "checkpoints" / "step_0000006" / "nets_ema.safetensors")
    img = next((synthetic_root / "val" / "dots").iterdir())
    code, err = run_cli(["translate", "--checkpoint", three_checkpoints, "--input", img, "--domain", "dots",
                         "--out", tmp_path / "o"], capsys)
    assert code == 1 and "step_0000006/nets_ema.safetensors is unreadable (truncated or corrupt" in err
    assert err.count("\n") == 1


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated-nets", "truncated-ema", "unsafe-state"])
def test_resume_falls_back_to_the_newest_readable_checkpoint(three_checkpoints, tiny_config, caplog, damage):
    newest = three_checkpoints / "checkpoints" / "step_0000006"
    if damage == "unsafe-state":
        torch.save({"step": 6, "evil": io.BytesIO(b"x")}, newest / "state.pt")  # not weights-only loadable
        with pytest.raises(CorruptCheckpointError, match="refused: it is not a weights-only file"):
            read_state(newest / "state.pt")
    else:
        _truncate(newest / ("nets.safetensors" if damage == "truncated-nets" else "nets_ema.safetensors"))
    with caplog.at_level(logging.WARNING):
        train(tiny_config("train.save_every=2", "train.sample_every=100", "train.total_iters=8"), three_checkpoints,
              resume=True, progress=False)
    aside = three_checkpoints / "checkpoints" / "corrupt_step_0000006"
    assert aside.is_dir()  # kept for inspection, never overwritten
    assert any("trying the previous one" in r.message for r in caplog.records)
    log = [json.loads(line) for line in open(three_checkpoints / "log.jsonl")]
    steps = [r["step"] for r in log if "G/latent/adv" in r]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8]  # resumed at 4: steps 5 and 6 redone and logged once
    assert latest_checkpoint(three_checkpoints).name == "step_0000008"


@pytest.mark.slow
def test_latest_naming_a_deleted_folder_resumes_from_the_newest_complete(three_checkpoints, tiny_config):
    (three_checkpoints / "checkpoints" / "latest").write_text("step_0000099\n")
    assert latest_checkpoint(three_checkpoints).name == "step_0000006"
    mtime = (three_checkpoints / "checkpoints" / "step_0000004" / "nets.safetensors").stat().st_mtime_ns
    train(tiny_config("train.save_every=2", "train.sample_every=100", "train.total_iters=8"), three_checkpoints,
          resume=True, progress=False)
    steps = [json.loads(line)["step"] for line in open(three_checkpoints / "log.jsonl")]
    assert 7 in steps and steps.count(5) <= 1  # continued from 6, did not start again from scratch
    assert (three_checkpoints / "checkpoints" / "step_0000004" / "nets.safetensors").stat().st_mtime_ns == mtime


# 6. leftovers and bookkeeping ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_partial_saves_are_removed_at_start(three_checkpoints, tiny_config):
    leftover = three_checkpoints / "checkpoints" / ".tmp_step_0000008_abc"
    leftover.mkdir()
    (leftover / "nets.safetensors").write_bytes(b"partial")
    train(tiny_config("train.save_every=2", "train.sample_every=100", "train.total_iters=6"), three_checkpoints,
          resume=True, progress=False)
    assert not leftover.exists()


def test_log_is_truncated_to_the_resumed_step(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps({"step": s, "x": s}) + "\n" for s in (1, 2, 3, 4)) + "not json\n")
    truncate_log(path, 2)
    assert [line for line in path.read_text().splitlines()] == ['{"step": 1, "x": 1}', '{"step": 2, "x": 2}',
                                                                "not json"]


@pytest.mark.slow
def test_decompression_bomb_upload_gets_our_message(tmp_path, monkeypatch):
    import gradio as gr
    from gradio.data_classes import ImageData

    from i2i.app.ui import image_upload

    bomb = tmp_path / "bomb.png"
    Image.new("L", (64, 64)).save(bomb)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 64x64 > 2 * 100 pixels: PIL refuses it as a bomb
    with gr.Blocks():
        box = image_upload("source")
    with pytest.raises(gr.Error, match="too large to decode safely"):
        box.preprocess(ImageData(path=str(bomb)))


@pytest.mark.slow
def test_app_temporary_folder_is_removed_at_exit(tiny_run, tmp_path):
    import subprocess
    import sys

    code = ("import sys; from i2i.app.main import build_demo; demo, out = build_demo(sys.argv[1], device='cpu', "
            "random_weights=True); print(out)")
    done = subprocess.run([sys.executable, "-c", code, str(tiny_run)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout.strip().splitlines()[-1]
    assert "i2i-app-" in out and not __import__("pathlib").Path(out).exists()


# 7. a domain of truncated JPEGs is caught up front --------------------------------------------------------------------
def test_truncated_jpegs_are_caught_by_the_up_front_check(tmp_path):
    for domain in ("a", "b"):
        (tmp_path / "train" / domain).mkdir(parents=True)
        Image.new("RGB", (64, 64), (200, 10, 10)).save(tmp_path / "train" / domain / "ok.jpg")
    full = io.BytesIO()
    Image.effect_noise((64, 64), 50).convert("RGB").save(full, "JPEG")
    for i in range(2):
        (tmp_path / "train" / "b" / f"cut{i}.jpg").write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    (tmp_path / "train" / "b" / "ok.jpg").unlink()
    with pytest.raises(DatasetLayoutError, match="has no readable image"):
        DomainImages(tmp_path, "train", 32, cache="no", progress=False)


def test_rejected_app_requests_print_no_traceback():
    """A user's mistake becomes a message in the UI and one log line; Gradio is told not to print a traceback."""
    import gradio as gr

    from i2i.app.ui import user_errors

    @user_errors
    def handler():
        raise ValueError("pick at least one target domain")

    with pytest.raises(gr.Error, match="pick at least one target domain") as info:
        handler()
    assert info.value.print_exception is False
