"""Nothing lost when two things touch one run, and every bad input still gets one line (one test per item)."""
from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from i2i.cli import main
from i2i.rundir import exclusive_writer
from i2i.training.logger import truncate_log

from conftest import TINY

HOLD = ("import sys, time; from i2i.rundir import exclusive_writer\n"
        "with exclusive_writer(sys.argv[1], 'test holder'):\n    print('held', flush=True); time.sleep(60)\n")


def run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def tiny_args(root, *extra):
    return [a for o in [*TINY, f"data.root={root}", *extra] for a in ("--set", o)]


@pytest.fixture
def held(tmp_path):
    """A folder whose lock another process holds (until the test ends)."""
    def hold(folder: Path):
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "held"
        procs.append(proc)
        return proc
    procs: list[subprocess.Popen] = []
    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()


# 1. one writer per run directory -------------------------------------------------------------------------------------
def test_a_second_writer_of_a_run_exits_at_once_naming_the_holder(held, synthetic_root, tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    proc = held(run)
    start = time.perf_counter()
    code, err = run_cli(["train", "--config", "configs/synthetic.yaml", "--run-dir", run, "--no-progress",
                         *tiny_args(synthetic_root)], capsys)
    assert code == 1 and time.perf_counter() - start < 5
    assert f"pid {proc.pid}" in err and "test holder" in err and err.count("\n") == 1
    assert not (run / "config.yaml").exists()  # nothing written by the refused writer
    report = tmp_path / "reports" / "r.json"
    held(report.parent)
    code, err = run_cli(["eval", "--checkpoint", tiny_run, "--data", synthetic_root, "--metrics", "content",
                         "--out", report, "--no-progress"], capsys)
    assert code == 1 and "in use by" in err and not report.exists()
    out = tmp_path / "ablation"
    held(out)
    code, err = run_cli(["ablate", "--config", "configs/synthetic.yaml", "--out", out, "--no-progress"], capsys)
    assert code == 1 and "in use by" in err


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_warning(tmp_path, caplog):
    (tmp_path / ".lock").write_text("pid 999999 on elsewhere (i2i train, since 2026-01-01 00:00:00)\n")
    with caplog.at_level(logging.WARNING), exclusive_writer(tmp_path, "me"):
        assert f"pid {os.getpid()}" in (tmp_path / ".lock").read_text()
        with exclusive_writer(tmp_path, "nested"):  # the holder's own nested writer passes
            pass
    assert "taking over the lock of pid 999999" in caplog.text
    assert (tmp_path / ".lock").read_text() == ""  # released cleanly: nothing left to take over


@pytest.mark.slow  # two real trainings
def test_two_concurrent_trainings_one_trains_the_other_exits_1(synthetic_root, tmp_path):
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "i2i", "train", "--config", "configs/synthetic.yaml", "--run-dir", str(run),
            "--no-progress", *tiny_args(synthetic_root, "train.total_iters=40", "train.save_every=40")]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    while not ((run / ".lock").is_file() and (run / ".lock").read_text()) and time.time() < deadline:
        time.sleep(0.05)
    start = time.perf_counter()
    second = subprocess.run(argv + ["--resume"], capture_output=True, text=True, timeout=60)
    assert second.returncode == 1 and time.perf_counter() - start < 5 + 10  # + interpreter and torch start-up
    assert "in use by pid" in second.stderr and second.stderr.count("\n") == 1
    assert first.wait(timeout=300) == 0, first.stdout.read()[-2000:]
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if "D/latent/real" in r]
    assert steps == list(range(1, 41))  # every step logged once, by the one writer


# 2. outputs never collide or silently overwrite -----------------------------------------------------------------------
def test_translate_keeps_same_stem_inputs_apart_and_refuses_to_overwrite(tiny_run, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.new("RGB", (32, 32), (200, 0, 0)).save(inputs / "a.png")
    Image.new("RGB", (32, 32), (0, 0, 200)).save(inputs / "a.jpg")
    Image.new("RGB", (32, 32), (0, 200, 0)).save(inputs / "b.bmp")
    out = tmp_path / "out"
    argv = ["translate", "--checkpoint", tiny_run, "--input", inputs, "--domain", "dots", "--out", out]
    assert run_cli(argv, capsys)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["a_jpg_to_dots.png", "a_png_to_dots.png", "b_to_dots.png"]
    before = (out / "b_to_dots.png").stat().st_mtime_ns
    code, err = run_cli(argv, capsys)
    assert code == 1 and "exists: pass --overwrite" in err and (out / "b_to_dots.png").stat().st_mtime_ns == before
    assert run_cli([*argv, "--overwrite"], capsys)[0] == 0
    strip = tmp_path / "strip.png"
    strip.write_bytes(b"mine")
    code, err = run_cli(["interpolate", "--checkpoint", tiny_run, "--input", inputs / "a.png", "--from", "dots",
                         "--to", "checks", "--out", strip], capsys)
    assert code == 1 and "exists" in err and strip.read_bytes() == b"mine"


# 3. a log cut mid-line, or with bytes that are not UTF-8 --------------------------------------------------------------
def test_log_drops_a_partial_last_line_and_undecodable_lines_naming_the_file(tmp_path, caplog):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"step": 1}\n{"step": 2}\n\xff\xfe garbage\n{"step": 41, "time": 17960')
    with caplog.at_level(logging.WARNING):
        truncate_log(path, 10)
    assert path.read_text().splitlines() == ['{"step": 1}', '{"step": 2}']
    assert "partial last line" in caplog.text and "line 3, which is not UTF-8" in caplog.text
    assert caplog.text.count(str(path)) == 2


# 4. a data generator never adds to an existing data set ---------------------------------------------------------------
def test_make_synthetic_refuses_a_non_empty_folder_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "data"
    (out / "train" / "old").mkdir(parents=True)
    (out / "train" / "old" / "stale.png").write_bytes(b"x")
    argv = ["make-synthetic", "--out", out, "--num-train", "1", "--num-val", "1", "--size", "16"]
    code, err = run_cli(argv, capsys)
    assert code == 1 and "is not empty" in err and (out / "train" / "old" / "stale.png").exists()
    assert run_cli([*argv, "--overwrite"], capsys)[0] == 0
    assert not (out / "train" / "old").exists() and (out / "manifest.csv").is_file()


# 5. the app's temporary folder goes on SIGTERM and SIGHUP too ---------------------------------------------------------
@pytest.mark.slow  # starts the app
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_app_removes_its_folder_on_sigterm_and_sighup(tiny_run, tmp_path, sig):
    from conftest import free_port

    log_path = tmp_path / "app.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "i2i", "app", "--checkpoint", str(tiny_run), "--random-weights",
                                 "--port", str(free_port()), "--device", "cpu"], stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"})
    deadline, folder = time.time() + 180, None
    while folder is None:
        match = re.search(r"outputs in (\S+);", log_path.read_text())
        folder = match and Path(match.group(1))
        assert proc.poll() is None and time.time() < deadline, log_path.read_text()[-2000:]
        time.sleep(0.3)
    assert folder.is_dir()
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert not folder.exists(), log_path.read_text()[-2000:]


# 6-8, 10. configs and run files: one line naming the file (or the --set key) --------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("model:\n\timg_size: 32\n", r"line 2, column 1: YAML syntax error"),
    ("- a\n- b\n", r"must hold a mapping of sections .* got a list"),
    ("just a string\n", r"must hold a mapping of sections .* got a str"),
])
def test_bad_config_files_give_one_line(tmp_path, capsys, text, expected):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    code, err = run_cli(["train", "--config", config, "--run-dir", tmp_path / "run"], capsys)
    assert code == 1 and re.search(expected, err) and str(config) in err and err.count("\n") == 1


def test_binary_config_and_bad_overrides_give_one_line(tmp_path, capsys):
    config = tmp_path / "bin.yaml"
    config.write_bytes(bytes(range(256)))
    code, err = run_cli(["train", "--config", config, "--run-dir", tmp_path / "run"], capsys)
    assert code == 1 and f"config {config} is not UTF-8 text" in err and err.count("\n") == 1
    for override, expected in (("model.img_size=[1", "--set model.img_size line 1, column 3: YAML syntax error"),
                               ("train.total_iters=" + "9" * 400, "train.total_iters must be in [1, 1e+09], got 9999")):
        code, err = run_cli(["train", "--config", "configs/synthetic.yaml", "--run-dir", tmp_path / "run", "--set",
                             override], capsys)
        assert code == 1 and expected in err and err.count("\n") == 1 and len(err) < 300


@pytest.mark.parametrize("content,expected", [
    ('{"domains": 5}', "must hold"), ("[]", "must hold"), ('{"domains": ["a"]}', "at least two"),
    ("{not json", "is not valid JSON"), (b"\xff\xfe\x00", "is not valid JSON"),
])
def test_broken_run_files_give_one_line_naming_them(tiny_run, tmp_path, capsys, content, expected):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    path = run / "domains.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, err = run_cli(["translate", "--checkpoint", run, "--input", tmp_path, "--domain", "dots", "--out",
                         tmp_path / "out"], capsys)
    assert code == 1 and expected in err and str(path) in err and err.count("\n") == 1
    (run / "domains.json").write_text('{"domains": ["checks", "dots", "stripes"]}')
    (run / "config.yaml").write_text("model:\n\timg_size: 32\n")
    code, err = run_cli(["translate", "--checkpoint", run, "--input", tmp_path, "--domain", "dots", "--out",
                         tmp_path / "out"], capsys)
    assert code == 1 and f"{run / 'config.yaml'} line 2, column 1" in err


# 9. convert names what is missing -----------------------------------------------------------------------------------
def test_convert_empty_or_hollow_checkpoints_give_one_line(tmp_path, capsys):
    empty = tmp_path / "100_nets_ema.ckpt"
    empty.write_bytes(b"")
    code, err = run_cli(["convert", "--from", "stargan-v2", empty, "--out", tmp_path / "run"], capsys)
    assert code == 1 and "EOFError (empty or truncated file?)" in err and err.count("\n") == 1
    hollow = tmp_path / "200_nets_ema.ckpt"
    torch.save({"generator": {}, "mapping_network": {}, "style_encoder": {}}, hollow)
    code, err = run_cli(["convert", "--from", "stargan-v2", hollow, "--out", tmp_path / "run"], capsys)
    assert code == 1 and "'generator' has no tensor from_rgb.weight (empty)" in err
    torch.save({"generator": {"from_rgb.weight": torch.zeros(8, 3, 3, 3)}, "mapping_network": {"x": torch.zeros(1)},
                "style_encoder": {}}, hollow)
    code, err = run_cli(["convert", "--from", "stargan-v2", hollow, "--out", tmp_path / "run"], capsys)
    assert code == 1 and "'generator' has no tensor encode.N.conv2.weight" in err


# 11. the app's own inputs: Gradio's checks end in our message, seeds bounded as in the CLI -------------------------
@pytest.mark.slow  # builds Gradio components
def test_gradio_rejections_become_one_line_messages():
    import gradio as gr

    from i2i.app.ui import checked

    with gr.Blocks():
        number = checked(gr.Number(value=0, precision=0, minimum=0, maximum=2**31 - 1, label="start seed"))
        dropdown = checked(gr.Dropdown(["a", "b"], value="a", label="start domain"))
        radio = checked(gr.Radio(["lerp", "slerp"], value="lerp", label="interpolation"))
    for component, bad in ((number, -1), (number, "abc"), (dropdown, "zebra"), (radio, "cubic")):
        with pytest.raises(gr.Error) as info:
            component.preprocess(bad)
        assert info.value.print_exception is False and str(info.value.message).startswith(component.label)


@pytest.mark.parametrize("seed", [-1, 2**31, 2**40, 2**70, 1e300, "abc", None, 1.5, float("nan")])
def test_app_seeds_are_bounded_as_in_the_cli(seed):
    from i2i.app.handlers import DemoHandlers

    handlers = DemoHandlers.__new__(DemoHandlers)
    handlers.translator = type("T", (), {"domain_label": staticmethod(lambda d: 0)})()
    with pytest.raises(ValueError, match=r"whole number from 0 to 2147483647"):
        handlers.style_spec("start", "seed", "a", seed, None)
    assert handlers.style_spec("start", "seed", "a", 2**31 - 1, None).seed == 2**31 - 1


# also noticed ---------------------------------------------------------------------------------------------------------
def test_empty_metric_list_config_file_as_checkpoint_and_one_image_domains(tiny_run, synthetic_root, tmp_path, capsys,
                                                                           caplog):
    code, err = run_cli(["eval", "--checkpoint", tiny_run, "--data", synthetic_root, "--metrics", "", "--out",
                         tmp_path / "r.json"], capsys)
    assert code == 1 and "--metrics is empty" in err
    code, err = run_cli(["translate", "--checkpoint", tiny_run / "config.yaml", "--input", tmp_path, "--domain",
                         "dots", "--out", tmp_path / "o"], capsys)
    assert code == 1 and "is not a weights file: pass the run directory" in err and ". lacks" not in err
    from i2i.config import load_config
    from i2i.training import Trainer

    data = tmp_path / "one"
    for domain, count in (("a", 1), ("b", 2)):
        (data / "train" / domain).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (32, 32), (i * 90, 0, 0)).save(data / "train" / domain / f"{i}.png")
    with caplog.at_level(logging.WARNING):
        Trainer.load_data(load_config("configs/synthetic.yaml", [*TINY, f"data.root={data}"]), progress=False)
    assert "domain a has 1 training image" in caplog.text
