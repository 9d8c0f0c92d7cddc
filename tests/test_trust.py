"""Trust: no file the project loads runs code, nothing a user wrote is replaced, domains are names, files keep the
user's umask, a killed trainer's workers do not hold its run, shipped configs train on plain folders, one-line
errors for values that used to slip through (issue 36, one test per row of its table)."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from i2i import weights
from i2i.cli import main
from i2i.pretrained import ALEXNET_FILE, build_lpips
from i2i.weights import MissingWeightsError, WeightsFile, WeightsHashError


class Payload:
    """Unpickling this creates ``marker`` (a stand-in for an attacker's code)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def poison(path: Path, marker: Path) -> str:
    """Write a pickle payload to ``path``; return its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"features.0.weight": Payload(marker)}, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def trust_hash(monkeypatch, name: str, digest: str) -> None:
    """Pretend the registry publishes ``digest`` for ``name`` (an attacker who matched the hash)."""
    entry = weights.REGISTRY[name]
    monkeypatch.setitem(weights.REGISTRY, name, WeightsFile(**{**entry.__dict__, "sha256": digest}))


def run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


# 1. code execution from a weights file ------------------------------------------------------------------------------
def test_a_pickle_in_weights_dir_is_refused_and_never_linked_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    marker = tmp_path / "ran"
    poison(tmp_path / "dir" / ALEXNET_FILE, marker)
    with pytest.raises(WeightsHashError, match="was refused"):
        build_lpips(weights_dir=tmp_path / "dir")
    assert not marker.exists() and not (tmp_path / "home" / "hub" / "checkpoints" / ALEXNET_FILE).exists()


def test_a_poisoned_cache_is_refused_every_time_and_replaced_by_a_verified_download(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    marker = tmp_path / "ran"
    cached = tmp_path / "home" / "hub" / "checkpoints" / ALEXNET_FILE
    poison(cached, marker)
    for _ in range(2):  # not trusted once and then forever
        with pytest.raises(MissingWeightsError, match="i2i weights fetch lpips-alexnet"):
            build_lpips()
    assert not marker.exists()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), mirror / ALEXNET_FILE)
    trust_hash(monkeypatch, "lpips-alexnet", hashlib.sha256((mirror / ALEXNET_FILE).read_bytes()).hexdigest())
    monkeypatch.setenv("I2I_OFFLINE", "")
    monkeypatch.setenv("I2I_WEIGHTS_MIRROR", f"file://{mirror}")
    assert build_lpips()[1] == "pretrained" and not marker.exists()
    assert cached.read_bytes() == (mirror / ALEXNET_FILE).read_bytes()


def test_a_payload_that_matches_the_hash_is_still_never_unpickled(tmp_path, monkeypatch):
    """Every loader of a third-party file reads it with weights_only=True: a hash match is not trust to run code."""
    from i2i.convert import load_stargan_v2
    from i2i.evaluation.fid import build_inception
    from i2i.evaluation.frd import build_face_embedder
    from i2i.models.fan import fan_state_from_wing
    from i2i.rundir import CorruptCheckpointError
    from i2i.training.checkpoint import read_state

    marker = tmp_path / "ran"
    for name, filename in (("lpips-alexnet", ALEXNET_FILE), ("fid-inception", "pt_inception-2015-12-05-6726825d.pth")):
        trust_hash(monkeypatch, name, poison(tmp_path / "dir" / filename, marker))
    poison(tmp_path / "dir" / "20180402-114759-vggface2.pt", marker)
    with pytest.raises(WeightsHashError, match="not a weights-only file"):
        build_lpips(weights_dir=tmp_path / "dir")
    with pytest.raises(WeightsHashError, match="not a weights-only file"):
        build_inception(weights_dir=tmp_path / "dir")
    with pytest.raises(WeightsHashError):  # no published hash: verification itself loads weights-only, and refuses
        build_face_embedder(weights_dir=tmp_path / "dir")
    poison(tmp_path / "wing.ckpt", marker)
    with pytest.raises(WeightsHashError, match="not a weights-only file"):
        fan_state_from_wing(tmp_path / "wing.ckpt")
    with pytest.raises(ValueError, match="weights_only"):
        load_stargan_v2(tmp_path / "wing.ckpt")
    with pytest.raises(CorruptCheckpointError, match="could run code"):
        read_state(tmp_path / "wing.ckpt")
    assert not marker.exists()


# 2. save_pretrained never replaces a user's files --------------------------------------------------------------------
def test_save_pretrained_refuses_a_non_empty_folder_and_any_run_directory(tiny_run, tmp_path):
    from i2i.inference import Translator

    t = Translator.load(tiny_run, "cpu")
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "README.md").write_text("my notes\n")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        t.save_pretrained(folder)
    assert (folder / "README.md").read_text() == "my notes\n" and sorted(os.listdir(folder)) == ["README.md"]
    config_before = (tiny_run / "config.yaml").read_bytes()
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match="is a run directory"):
            t.save_pretrained(tiny_run, overwrite=overwrite)
    assert (tiny_run / "config.yaml").read_bytes() == config_before
    t.save_pretrained(folder, overwrite=True)
    assert Translator.from_pretrained(folder, device="cpu").domains == t.domains


# 3. train into a folder that holds files but no checkpoints ------------------------------------------------------
def test_train_refuses_a_folder_with_a_users_files_unless_overwrite(synthetic_root, tmp_path, capsys):
    run = tmp_path / "mine"
    run.mkdir()
    (run / "config.yaml").write_text("# my own config\n")
    (run / "log.jsonl").write_text('{"step": 1, "mine": true}\n')
    argv = ["train", "--config", "configs/synthetic.yaml", "--run-dir", run, "--no-progress",
            "--set", f"data.root={synthetic_root}", "--set", "train.total_iters=1", "--set", "data.num_workers=0"]
    code, err = run_cli(argv, capsys)
    assert code == 1 and "is not empty" in err and "--overwrite" in err and err.count("\n") == 1
    assert (run / "config.yaml").read_text() == "# my own config\n" and "mine" in (run / "log.jsonl").read_text()
    code, _ = run_cli([*argv, "--overwrite"], capsys)
    assert code == 0 and "mine" not in (run / "log.jsonl").read_text()


# 4. domains are names ----------------------------------------------------------------------------------------------
def test_numeric_domain_names_are_looked_up_by_name(tiny_run, tmp_path):
    from i2i.inference import Translator

    t = Translator.load(tiny_run, "cpu")
    t.domains = ["10", "2", "3"]
    assert [t.domain_label(d) for d in ("10", "2", "3")] == [0, 1, 2] and t.domain_label(2) == 2
    with pytest.raises(ValueError, match="unknown domain '1'"):  # a number that names no domain is no index here
        t.domain_label("1")
    t.domains = ["checks", "dots", "stripes"]
    assert t.domain_label("1") == 1 and t.domain_name("2") == "stripes"  # no name is a number: an index
    with pytest.raises(ValueError, match="unknown domain"):
        t.domain_label("3")


def test_translate_names_its_output_after_the_domain_name(tiny_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "domains.json").write_text(json.dumps({"domains": ["10", "2", "3"]}))
    Image.new("RGB", (32, 32), (90, 120, 30)).save(tmp_path / "a.png")
    code, err = run_cli(["translate", "--checkpoint", run, "--input", tmp_path / "a.png", "--domain", "2",
                         "--out", tmp_path / "out", "--device", "cpu"], capsys)
    assert code == 0, err
    assert os.listdir(tmp_path / "out") == ["a_to_2.png"]


@pytest.mark.parametrize("domains,expected", [
    (["a", "a", "b"], "must be unique, 'a'"),
    ([f"d{i}" for i in range(10_000)], "10000 domains, more than the 1024"),
    (["a", " "], "1-200 visible characters"),
])
def test_domains_json_is_bounded_and_unique_before_anything_is_built(tmp_path, domains, expected):
    from i2i.rundir import read_domains, write_domains

    (tmp_path / "domains.json").write_text(json.dumps({"domains": domains}))
    tic = time.perf_counter()
    with pytest.raises(ValueError, match=expected):
        read_domains(tmp_path)
    assert time.perf_counter() - tic < 1.0
    with pytest.raises(ValueError, match=expected):
        write_domains(tmp_path / "new", domains)


# 5. files keep the user's umask ------------------------------------------------------------------------------------
def test_run_files_checkpoints_datasets_and_downloads_follow_the_umask(tiny_config, tmp_path, monkeypatch):
    from i2i.data.output import staged_output_dir
    from i2i.kinds import build_networks
    from i2i.rundir import atomic_write
    from i2i.training.checkpoint import save_checkpoint

    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "a.txt", lambda tmp: tmp.write_text("x"))
        nets = build_networks(tiny_config().model, 3)
        ckpt = save_checkpoint(tmp_path / "run", 1, nets, nets.ema_copy(), {})
        with staged_output_dir(tmp_path / "data") as stage:
            (stage / "f.png").write_bytes(b"x")
        mirror = tmp_path / "mirror"
        mirror.mkdir()
        (mirror / "toy.pth").write_bytes(b"toy")
        entry = WeightsFile("toy", "toy.pth", "https://example.invalid/toy.pth",
                            hashlib.sha256(b"toy").hexdigest(), lambda: tmp_path / "cache", "tests", "none")
        monkeypatch.setenv("I2I_OFFLINE", "")
        fetched = weights.fetch(entry, mirror=f"file://{mirror}", progress=False)
    finally:
        os.umask(old)
    modes = {p: p.stat().st_mode & 0o777 for p in (path, ckpt, ckpt / "nets_ema.safetensors", tmp_path / "data",
                                                  ckpt.parent / "latest", fetched)}
    assert modes == {path: 0o644, ckpt: 0o755, ckpt / "nets_ema.safetensors": 0o644, tmp_path / "data": 0o755,
                     ckpt.parent / "latest": 0o644, fetched: 0o644}


# 6. the lock belongs to the trainer, not to its workers --------------------------------------------------------------
HOLD_AND_FORK = """
import os, sys, time
from i2i.rundir import exclusive_writer
with exclusive_writer(sys.argv[1], "test"):
    if os.fork() == 0:  # a data-loader worker: lives on after its parent is killed
        time.sleep(60)
        os._exit(0)
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_restart_right_after_kill_9_is_not_refused_by_orphaned_workers(tmp_path):
    from i2i.rundir import exclusive_writer

    proc = subprocess.Popen([sys.executable, "-c", HOLD_AND_FORK, str(tmp_path / "run")], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        with exclusive_writer(tmp_path / "run", "restart"):  # the worker still lives, and holds nothing
            pass
    finally:
        os.killpg(proc.pid, signal.SIGKILL)


# 7. the best checkpoint's name and record change together -------------------------------------------------------
def test_best_name_and_record_are_one_file_and_stale_temp_files_are_cleaned(tiny_config, tmp_path):
    from i2i.kinds import build_networks
    from i2i.rundir import best_checkpoint, resolve_checkpoint, write_best
    from i2i.training.checkpoint import remove_partial_saves, save_checkpoint

    nets = build_networks(tiny_config().model, 3)
    run = tmp_path / "run"
    (run).mkdir()
    for name in ("config.yaml", "domains.json"):
        (run / name).write_text("x")
    first = save_checkpoint(run, 1, nets, nets.ema_copy(), {})
    second = save_checkpoint(run, 2, nets, nets.ema_copy(), {})
    write_best(run, {"checkpoint": first.name, "metric": "m:max", "value": 1.0, "step": 1})
    assert best_checkpoint(run) == first and not (run / "checkpoints" / "best").exists()
    assert resolve_checkpoint(f"{run}:best")[1] == first / "nets_ema.safetensors"
    (run / "checkpoints" / ".best.json.k1ll3d.tmp").write_text("{")  # kill -9 during the rename
    (run / ".config.yaml.abc.tmp").write_text("")
    removed = remove_partial_saves(run)
    assert {p.name for p in removed} == {".best.json.k1ll3d.tmp", ".config.yaml.abc.tmp"}
    (run / "checkpoints" / "best.json").unlink()
    (run / "checkpoints" / "best").write_text(second.name + "\n")  # a run of the earlier layout still loads
    assert best_checkpoint(run) == second


# 8, 11, 13. one line each, no partial outputs, values validated where they enter ---------------------------------
def test_make_glyphs_leaves_no_partial_output_and_names_the_font(tmp_path, capsys, monkeypatch):
    from i2i.data import glyphs

    calls = {"n": 0}
    real = glyphs.GlyphRenderer.coverage

    def broken(self, face, char, *args):
        calls["n"] += 1
        if calls["n"] > 5:
            raise ValueError(f"{face.path} (face 0) cannot draw {char!r}: broken glyf table")
        return real(self, face, char, *args)
    monkeypatch.setattr(glyphs.GlyphRenderer, "coverage", broken)
    out = tmp_path / "glyphs"
    code, err = run_cli(["make-glyphs", "--out", out, "--num-train", "4", "--num-val", "2"], capsys)
    assert code == 1 and "cannot draw" in err and ".ttf" in err and err.count("\n") == 1
    assert not out.exists() and os.listdir(tmp_path) == []
    monkeypatch.undo()
    assert run_cli(["make-glyphs", "--out", out, "--num-train", "1", "--num-val", "1"], capsys)[0] == 0


@pytest.mark.parametrize("argv,expected", [
    (["make-glyphs", "--out", "{tmp}/g", "--styles", "fancy,bold"], "unknown style class 'fancy'"),
    (["make-glyphs", "--out", "{tmp}/g", "--fonts", "/dev/null"], "/dev/null is neither a font file nor a folder"),
    (["interpolate", "--checkpoint", "{run}", "--input", "{img}", "--from", "dots:99999999999999999999", "--to",
      "dots:1", "--out", "{tmp}/a.png"], "SEED from 0 to 2147483647"),
    (["interpolate", "--checkpoint", "{run}", "--input", "{img}", "--from", "dots:0", "--to", "dots:-5",
      "--out", "{tmp}/a.png"], "SEED from 0 to 2147483647"),
    (["train", "--config", "configs/synthetic.yaml", "--run-dir", "{tmp}/r", "--set", "train.eval_every=5",
      "--set", "train.best_metric=:max"], "train.best_metric must look like KEY:max"),
    (["train", "--config", "configs/synthetic.yaml", "--run-dir", "{tmp}/r", "--set", "train.total_iters=0"],
     "train.total_iters must be in [1,"),
])
def test_bad_values_are_one_line_naming_what_is_wrong(argv, expected, tiny_run, tmp_path, capsys):
    Image.new("RGB", (32, 32)).save(tmp_path / "img.png")
    argv = [a.format(tmp=tmp_path, run=tiny_run, img=tmp_path / "img.png") for a in argv]
    code, err = run_cli(argv, capsys)
    assert code == 1 and expected in err and err.count("\n") == 1, err
    assert not (tmp_path / "g").exists() and not (tmp_path / "r").exists()


def test_app_seed_with_a_fraction_is_refused_not_rounded():
    from i2i.app.handlers import DemoHandlers

    handlers = DemoHandlers.__new__(DemoHandlers)
    handlers.translator = type("T", (), {"domain_label": staticmethod(lambda d: 0)})()
    with pytest.raises(ValueError, match="whole number"):
        handlers.style_spec("start", "seed", "a", 3.5, None)
    from i2i.app import ui

    assert "precision=0" not in Path(ui.__file__).read_text()  # Gradio's precision=0 rounds 3.5 to 4 before us


# 12. the app serves a fresh folder ---------------------------------------------------------------------------------
def test_app_out_dir_gets_a_fresh_session_folder(tmp_path):
    from i2i.app.main import session_dir

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "earlier.png").write_bytes(b"x")
    first, second = session_dir(tmp_path / "out"), session_dir(tmp_path / "out")
    assert first != second and first.parent == tmp_path / "out" and os.listdir(first) == []
    assert (tmp_path / "out" / "earlier.png").exists()
    with pytest.raises(NotADirectoryError):
        session_dir(tmp_path / "out" / "earlier.png")


# 6 (issue's list). every shipped small config trains on plain StarGAN v2 folders ----------------------------------
@pytest.fixture(scope="module")
def plain_folders(tmp_path_factory):
    """StarGAN v2's layout and nothing else: no manifest, no glyph metadata."""
    root = tmp_path_factory.mktemp("plain")
    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("val", 2)):
        for d, colour in (("cats", (200, 80, 40)), ("dogs", (40, 90, 200))):
            (root / split / d).mkdir(parents=True)
            for i in range(count):
                pixels = np.clip(rng.normal(colour, 40, (40, 48, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / d / f"{d}_{i}.jpg")  # unpaired: no shared names
    return root


SMALL_CONFIGS = sorted(p.name for p in Path("configs").glob("*.yaml")  # the CPU quick starts (the paper configs
                       if "lpips_weights: random" in p.read_text())  # need the pretrained LPIPS, offline here)


@pytest.mark.slow
@pytest.mark.parametrize("config", SMALL_CONFIGS)
def test_every_small_shipped_config_trains_two_steps_on_plain_folders(config, plain_folders, tmp_path, capsys,
                                                                      caplog):
    run = tmp_path / "run"
    code, err = run_cli(["train", "--config", f"configs/{config}", "--run-dir", run, "--no-progress",
                         "--set", f"data.root={plain_folders}", "--set", "train.total_iters=2",
                         "--set", "data.num_workers=0", "--set", "train.save_every=2",
                         "--set", "train.eval_every=2", "--set", "train.eval_sources=2"], capsys)
    assert code == 0, err
    if "best_metric" in Path(f"configs/{config}").read_text():  # a metric plain folders lack: ranked by PS pixel
        assert "is ranked by ps_pixel_inter:max instead" in caplog.text
        assert json.loads((run / "checkpoints" / "best.json").read_text())["metric"] == "ps_pixel_inter:max"
    assert (run / "checkpoints" / "step_0000002" / "nets_ema.safetensors").is_file()
