"""The evaluation pipeline end to end on a tiny random model: report, labels, determinism, caches, weights."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import pytest
import torch

from i2i import weights
from i2i.evaluation import EvalSettings, evaluate
from i2i.evaluation.evaluate import select_tasks
from i2i.evaluation.fid import INCEPTION_FILE, build_inception, inception_features, random_inception_state
from i2i.evaluation.real_stats import real_statistics
from i2i.cli import main
from i2i.inference import Translator

SMALL = ["--num-sources", "2", "--steps", "4", "--num-outs", "3", "--batch-size", "8", "--no-progress"]


@pytest.fixture(scope="module")
def random_report(tiny_run, synthetic_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "report.json"
    cache = out.parent / "stats"
    argv = ["eval", "--checkpoint", str(tiny_run), "--data", str(synthetic_root), "--metrics", "fid,lpips,ps,frd",
            "--random-weights", "--stats-cache", str(cache), "--out", str(out), *SMALL]
    assert main(argv) == 0
    return json.loads(out.read_text()), out, argv


@pytest.mark.slow
def test_report_has_every_task_and_metric_labelled_random_weights(random_report):
    report, out, _ = random_report
    tasks = ["dots2checks", "stripes2checks", "checks2dots", "stripes2dots", "checks2stripes", "dots2stripes"]
    assert set(report["metrics"]) == {"fid", "lpips", "ps_inter", "ps_intra", "frd"}
    for key, metric in report["metrics"].items():
        assert list(metric["tasks"]) == tasks
        assert metric["weights"] == "random-weights" and "[random-weights]" in metric["label"]
        assert metric["mean"] == pytest.approx(sum(metric["tasks"].values()) / 6)
    for key in ("ps_inter", "ps_intra"):
        assert all(0.0 <= v <= 1.0 for v in report["metrics"][key]["tasks"].values())
    assert all(v > 0 for v in report["metrics"]["fid"]["tasks"].values())
    assert set(report["details"]["checks2dots"]) >= {"ps_inter_alignment", "ps_inter_uniformity"}
    assert report["random_weights"] is True and report["versions"]["torch"].startswith(torch.__version__.split("+")[0])
    md = out.with_suffix(".md").read_text()
    assert "random-weights" in md.splitlines()[2] and "FID ↓ [random-weights]" in md
    assert "delta = lpips; 4 frames" in md
    main_table = md.split("| Model |")[1].split("\n\n")[0]  # the paper-layout table: one row, labelled columns
    assert main_table.count("[random-weights]") == 5 and len(main_table.splitlines()) == 3


@pytest.mark.slow
def test_evaluation_is_deterministic_and_reuses_real_statistics(random_report, tmp_path):
    report, _, argv = random_report
    out = tmp_path / "again.json"
    assert main([*argv[:-len(SMALL) - 2], "--tasks", "checks2dots", "--out", str(out), *SMALL]) == 0
    again = json.loads(out.read_text())
    for key, metric in report["metrics"].items():
        assert again["metrics"][key]["tasks"] == {"checks2dots": pytest.approx(metric["tasks"]["checks2dots"],
                                                                               rel=1e-5)}, key
    stats_note = lambda r: next(n for n in r["notes"] if n.startswith("real-image FID statistics"))  # noqa: E731
    assert stats_note(report).endswith("checks computed, dots computed, stripes computed")
    assert stats_note(again).endswith("dots from cache")


@pytest.mark.slow
def test_real_statistics_cache_hit_and_invalidation(synthetic_root, tmp_path):
    model, weights = build_inception(random_weights=True)
    folder = synthetic_root / "train" / "dots"
    files = sorted(folder.glob("*.png"))[:3]
    first, hit1 = real_statistics(model, weights, folder, files, 32, tmp_path, progress=False)
    second, hit2 = real_statistics(model, weights, folder, files, 32, tmp_path, progress=False)
    assert (hit1, hit2) == (False, True)
    torch.testing.assert_close(torch.from_numpy(second[1]), torch.from_numpy(first[1]))
    _, hit3 = real_statistics(model, "pretrained (other)", folder, files, 32, tmp_path, progress=False)
    _, hit4 = real_statistics(model, weights, folder, files[:2], 32, tmp_path, progress=False)
    assert (hit3, hit4) == (False, False)  # other weights or another file list: no stale hit


@pytest.mark.slow
def test_frd_skipped_for_non_face_models_unless_asked(tiny_run, synthetic_root, tmp_path):
    report = evaluate(EvalSettings(str(tiny_run), str(synthetic_root), metrics=None, tasks=("dots2checks",),
                                   num_sources=1, steps=3, num_outs=2, random_weights=True, stats_cache="",
                                   progress=False))
    assert "frd" not in report["metrics"] and any("FRD skipped" in n for n in report["notes"])


@pytest.mark.slow
def test_bad_settings_and_missing_weights_give_clear_errors(tiny_run, synthetic_root, tmp_path, monkeypatch, capsys):
    with pytest.raises(ValueError, match="unknown metric"):
        EvalSettings("x", "y", metrics=("fid", "kid")).validate()
    with pytest.raises(ValueError, match="unknown task.*choose from dots2checks"):
        select_tasks(["checks", "dots"], ("cat2dog",))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    code = main(["eval", "--checkpoint", str(tiny_run), "--data", str(synthetic_root), "--metrics", "fid",
                 "--out", str(tmp_path / "eval"), *SMALL])
    assert code == 1
    err = capsys.readouterr().err
    assert INCEPTION_FILE in err and str(tmp_path / "empty" / "hub" / "checkpoints") in err
    assert "--random-weights" in err


def test_interpolation_batches_equal_one_by_one(tiny_run):
    translator = Translator.load(tiny_run, "cpu")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 32, 32, generator=g) * 2 - 1
    s0, s1 = translator.latent_styles(torch.tensor([0, 1, 2]), g), translator.latent_styles(torch.tensor([1, 2, 0]), g)
    alphas = torch.linspace(0, 1, 5)
    frames = translator.decode_interpolation(x, s0, s1, alphas)
    single = translator.nets.generator(x[1:2], torch.lerp(s0[1:2], s1[1:2], 0.25))
    torch.testing.assert_close(frames[1, 1:2], single, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(frames[:, 0], translator.nets.generator(x, s0), rtol=1e-4, atol=1e-5)
    translator.decode_batch = 2  # chunked decoding gives the same frames
    torch.testing.assert_close(translator.decode_interpolation(x, s0, s1, alphas), frames, rtol=1e-4, atol=1e-5)


def test_default_decode_batch_keeps_cpu_chunks_cache_sized():
    from i2i.config import ModelConfig
    from i2i.inference import default_decode_batch

    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert default_decode_batch(ModelConfig(img_size=32, base_dim=16), cpu) == 4 * 1024**2 // (16 * 32 * 32 * 4)
    assert default_decode_batch(ModelConfig(img_size=64), cpu) == 1  # 256 channels x 64^2 x 4 B = 4 MiB
    assert default_decode_batch(ModelConfig(img_size=256), gpu) is None


@pytest.mark.slow
def test_fid_equals_pytorch_fid_on_the_same_folders(tiny_run, synthetic_root, tmp_path, monkeypatch):
    """A weights file in a temporary $TORCH_HOME is what both `i2i eval` and `python -m pytorch_fid` load."""
    home = tmp_path / "torch_home"
    (home / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(random_inception_state(seed=3), home / "hub" / "checkpoints" / INCEPTION_FILE)
    monkeypatch.setenv("TORCH_HOME", str(home))
    digest = hashlib.sha256((home / "hub" / "checkpoints" / INCEPTION_FILE).read_bytes()).hexdigest()
    entry = weights.REGISTRY["fid-inception"]  # the registry trusts this file (an official one would match anyway)
    monkeypatch.setitem(weights.REGISTRY, "fid-inception", weights.WeightsFile(**{**entry.__dict__, "sha256": digest}))
    out, images = tmp_path / "r.json", tmp_path / "images"
    assert main(["eval", "--checkpoint", str(tiny_run), "--data", str(synthetic_root), "--metrics", "fid",
                 "--tasks", "checks2dots", "--stats-cache", "", "--save-images", str(images), "--out", str(out), *SMALL]) == 0
    report = json.loads(out.read_text())
    assert report["metrics"]["fid"]["weights"] == f"pretrained ({INCEPTION_FILE})"
    ours = report["metrics"]["fid"]["tasks"]["checks2dots"]
    assert len(list((images / "checks2dots" / "interpolation").glob("*.png"))) == 2 * 4
    result = subprocess.run([sys.executable, "-m", "pytorch_fid", "--device", "cpu", "--num-workers", "0",
                             str(images / "checks2dots" / "interpolation"), str(synthetic_root / "train" / "dots")],
                            capture_output=True, text=True, env={"TORCH_HOME": str(home), "PATH": ""}, check=True)
    theirs = float(re.search(r"FID:\s+([-\d.eE+]+)", result.stdout).group(1))
    assert ours == pytest.approx(theirs, rel=1e-3)
    random_fid = evaluate(EvalSettings(str(tiny_run), str(synthetic_root), metrics=("fid",),
                                       tasks=("checks2dots",), num_sources=2, steps=4, batch_size=8, random_weights=True, stats_cache="",
                                       progress=False))["metrics"]["fid"]["tasks"]["checks2dots"]
    assert random_fid != pytest.approx(ours, rel=1e-3)  # the seed-3 file, not the seed-0 random init, was used


def test_inception_features_depend_on_the_image():
    model, _ = build_inception(random_weights=True)
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    f = inception_features(model, images)
    assert f.shape == (2, 2048) and (f[0] - f[1]).abs().max() > 0


def test_facenet_weights_in_torch_home_are_loaded(tmp_path, monkeypatch):
    from i2i.evaluation.frd import FACENET_FILE, build_face_embedder, face_embeddings

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    source, _ = build_face_embedder(random_weights=True, seed=5)
    state = {**source.state_dict(), "logits.weight": torch.zeros(8631, 512), "logits.bias": torch.zeros(8631)}
    (tmp_path / "checkpoints").mkdir()
    torch.save(state, tmp_path / "checkpoints" / FACENET_FILE)  # facenet's folder, not hub/checkpoints
    loaded, provenance = build_face_embedder()
    assert provenance == f"pretrained ({FACENET_FILE})"
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    emb = face_embeddings(loaded, x)
    torch.testing.assert_close(emb, face_embeddings(source, x))
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(2))  # L2-normalised


def test_a_registered_metric_is_computed_and_reported(tiny_run, synthetic_root, monkeypatch):
    """A new metric is one decorated function: here the mean brightness of the translations, checked against
    the same translations generated by hand (same per-task generator)."""
    from i2i.evaluation import metrics, protocols

    monkeypatch.setattr(metrics, "REGISTRY", dict(metrics.REGISTRY))  # the toy metric leaves no trace
    monkeypatch.setattr(sys.modules["i2i.evaluation.evaluate"], "REGISTRY", metrics.REGISTRY)

    @metrics.register("brightness", {"brightness": ("Brightness", "↑", None)}, image_sets=("translations",))
    def brightness(ctx, batch):
        return {"brightness": batch.images.mean(dim=(1, 2, 3, 4))}

    settings = EvalSettings(str(tiny_run), str(synthetic_root), metrics=("brightness",), tasks=("dots2checks",),
                            num_sources=3, num_outs=2, batch_size=4, progress=False, stats_cache="")
    report = evaluate(settings)
    assert report["metrics"]["brightness"]["label"] == "Brightness ↑"
    translator = Translator.load(tiny_run, "cpu")
    from i2i.data.dataset import DomainImages

    val = DomainImages(synthetic_root, "val", 32, progress=False)
    sampler = protocols.StyleSampler(translator, val, "latent")
    g = protocols.task_generator(0, 1, 0, 2)  # dots (1) -> checks (0), the translation set's generator
    means = [protocols.random_translations(translator, sampler, x, 0, 2, g).mean(dim=(1, 2, 3, 4))
             for _, x in protocols.source_batches(val, 1, 3, 2)]
    assert report["metrics"]["brightness"]["mean"] == pytest.approx(torch.cat(means).mean().item(), abs=1e-5)


def test_eval_help_names_every_registered_metric(capsys):
    from i2i.evaluation.metrics import REGISTRY

    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    help_text = capsys.readouterr().out
    assert all(name in help_text for name in REGISTRY)


def test_main_table_is_one_row_per_model_and_one_column_per_metric():
    from i2i.evaluation.report import paper_table, task_table

    report = {"model": "run1", "metrics": {
        "fid": {"label": "FID ↓", "tasks": {"a2b": 10.0, "b2a": 20.0}, "mean": 15.0},
        "ps_inter": {"label": "PS inter ↑ [random-weights]", "tasks": {"a2b": 0.5, "b2a": 0.7}, "mean": 0.6}}}
    assert paper_table(report).splitlines() == ["| Model | FID ↓ | PS inter ↑ [random-weights] |",
                                                "|---|---:|---:|", "| run1 | 15.00 | 0.6000 |"]
    rows = task_table(report).splitlines()
    assert len(rows) == 2 + 2 + 1 and rows[2] == "| a2b | 10.00 | 0.5000 |"


def test_every_network_a_metric_declares_has_one_loader_and_every_loader_a_user():
    from i2i.evaluation import metrics

    declared = {net for metric in metrics.REGISTRY.values() for net in metric.networks}
    assert declared == set(metrics.NETWORKS)
