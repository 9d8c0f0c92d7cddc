"""End-to-end training on the tiny synthetic set: losses, checkpoints, exact resume, failures, loss routing.

The LPIPS content loss runs with a random AlexNet trunk here (no internet), see conftest.TINY.
"""
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from i2i import losses
from i2i.colour import recolour_like
from i2i.data import DomainImages, TrainBatches
from i2i.training import CheckpointMismatchError, NonFiniteLossError, Trainer, latest_checkpoint, train
from i2i.training.checkpoint import load_checkpoint



def read_log(run_dir):
    return [json.loads(line) for line in open(run_dir / "log.jsonl")]


@pytest.mark.slow  # trains
def test_train_writes_everything_and_resume_is_exact(tiny_config, tmp_path):
    cfg = tiny_config()
    full = tmp_path / "full"
    final = train(cfg, full, progress=False)
    assert final.name == "step_0000006"
    assert {p.name for p in final.iterdir()} == {"nets.safetensors", "nets_ema.safetensors", "state.pt"}
    assert (full / "config.yaml").is_file() and json.loads((full / "domains.json").read_text())["domains"]
    assert sorted(p.name for p in (full / "samples").iterdir()) == [
        "step_0000003_latent.png", "step_0000003_reference.png", "step_0000006_latent.png", "step_0000006_reference.png"]
    assert any((full / "tensorboard").iterdir())
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(full / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert {"samples/latent", "samples/reference"} <= set(events.Tags()["images"])
    assert [e.step for e in events.Images("samples/latent")] == [3, 6]  # the grids written at steps 3 and 6
    log = read_log(full)
    steps = [r["step"] for r in log if "G/latent/adv" in r]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert len({round(r["G/latent/cyc"], 6) for r in log if "G/latent/cyc" in r}) > 1  # losses change
    assert all(r["G/latent/sr"] > 0 and r["G/latent/cont"] > 0 for r in log if "G/latent/sr" in r)

    # interrupted after 3 iterations, then resumed: same losses, same weights
    part = tmp_path / "part"
    train(tiny_config("train.total_iters=3"), part, progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        train(cfg, part, progress=False)
    train(cfg, part, resume=True, progress=False)
    resumed = [r for r in read_log(part) if "G/latent/adv" in r]
    for a, b in zip([r for r in log if "G/latent/adv" in r], resumed):
        assert a["step"] == b["step"]
        for key in a:
            if "/" in key and not key.startswith("time"):
                assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), (a["step"], key)
    wa, wb = load_file(str(final / "nets_ema.safetensors")), load_file(str(latest_checkpoint(part) / "nets_ema.safetensors"))
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5


@pytest.mark.slow  # trains
def test_resume_with_other_model_shape_is_explained(tiny_config, tmp_path):
    train(tiny_config("train.total_iters=1"), tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="model.max_conv_dim: saved 16, now 32"):
        train(tiny_config("model.max_conv_dim=32", "train.total_iters=2"), tmp_path / "run", resume=True,
              progress=False)
    trainer = Trainer(tiny_config("model.style_dim=12"), 3, torch.device("cpu"))
    with pytest.raises(CheckpointMismatchError, match=r"generator\.decode\.0\.norm1\.fc\.weight: shape"):
        load_checkpoint(latest_checkpoint(tmp_path / "run"), trainer.nets)


@pytest.mark.slow  # trains
def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_config, tmp_path, monkeypatch):
    calls = {"n": 0}
    real_cycle = losses.cycle_loss

    def poisoned(x_rec, x_real):
        calls["n"] += 1
        out = real_cycle(x_rec, x_real)
        return out * float("nan") if calls["n"] > 8 else out  # 2 calls per iteration: NaN from step 5

    monkeypatch.setattr(losses, "cycle_loss", poisoned)
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match="G/latent/cyc.*step_0000003"):
        train(tiny_config(), run, progress=False)
    assert latest_checkpoint(run).name == "step_0000003"
    state = load_checkpoint(latest_checkpoint(run))
    assert state["step"] == 3


def _one_iteration(cfg, batch):
    torch.manual_seed(0)
    trainer = Trainer(cfg, 3, torch.device("cpu"))
    before = {k: v.clone() for k, v in trainer.nets.style_encoder.state_dict().items()}
    trainer.train_step(batch, step=5)
    return trainer, before


@pytest.mark.parametrize("knob", ["loss.smooth_trains_encoder", "loss.reference_trains_encoder"])
def test_reference_iterations_route_terms_to_the_encoder_only_when_asked(tiny_config, synthetic_root, knob):
    """smooth_trains_encoder: triplet/SR on E's codes step E in reference iterations (default; the authors' mode
    steps G only). reference_trains_encoder: the adversarial term of G(x, E(x_ref)) steps E there too.

    G's update is the same either way (E steps after G's gradients are taken), E's differs.
    """
    images = DomainImages(synthetic_root, "train", 32, progress=False)
    batch = TrainBatches(images, 4, 4, seed=1)[0]
    ours, _ = _one_iteration(tiny_config(f"{knob}=true"), batch)
    authors, _ = _one_iteration(tiny_config(f"{knob}=false"), batch)
    for (k, a), b in zip(ours.nets.generator.state_dict().items(), authors.nets.generator.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k
    diff = max((a - b).abs().max().item() for a, b in zip(ours.nets.style_encoder.parameters(),
                                                             authors.nets.style_encoder.parameters()))
    assert diff > 1e-6


@pytest.mark.parametrize("overrides,zero", [
    (["loss.lambda_tri=0", "loss.lambda_sr=0", "loss.lambda_cont=0"], {"tri", "sr", "cont"}),  # baseline
    (["loss.lambda_sr=0", "loss.lambda_cont=0"], {"sr", "cont"}),  # + tri
    (["loss.lambda_tri=0", "loss.lambda_cont=0"], {"tri", "cont"}),  # + SR
    (["loss.lambda_cont=0"], {"cont"}),  # + tri + SR
    ([], set()),  # full
])
def test_ablation_configs_switch_terms_off(tiny_config, synthetic_root, overrides, zero):
    images = DomainImages(synthetic_root, "train", 32, progress=False)
    batch = TrainBatches(images, 4, 4, seed=1)[0]
    batch["y_trg"] = (batch["y_src"] + 1) % 3  # every sample forms a triplet
    # a margin no untrained code distance beats: an active triplet term is > 0, never 0 by luck
    trainer = Trainer(tiny_config("loss.tri_margin=100", *overrides), 3, torch.device("cpu"))
    terms = trainer.train_step(batch, step=5)
    for name in ("tri", "sr", "cont"):
        value = terms[f"G/latent/{name}"].item()
        assert (value == 0) == (name in zero), (name, value)
    assert (trainer.lpips is None) == ("cont" in zero)


def test_every_network_sees_the_images_labels_and_codes_the_step_means(tiny_config, synthetic_root):
    """Record every D, E and M call of one iteration: reals go with the source domain, fakes and target codes
    with the target domain, the cycle code is E(x_src, y_src); nothing pairs an image with another's label."""
    images = DomainImages(synthetic_root, "train", 32, progress=False)
    batch = TrainBatches(images, 4, 4, seed=3)[0]
    batch["y_trg"] = (batch["y_src"] + 1) % 3  # every target differs from its source: a mix-up would show
    trainer = Trainer(tiny_config("train.batch_size=4", "loss.lambda_recoloured=1"), 3, torch.device("cpu"))
    calls = []

    def spy(name, net):
        forward = net.forward

        def wrapped(x, y):
            calls.append((name, x.detach().clone(), y.clone()))
            return forward(x, y)
        net.forward = wrapped

    for name in ("discriminator", "style_encoder", "mapping_network"):
        spy(name, getattr(trainer.nets, name))
    trainer.train_step(batch, 0)

    def same(a, b):
        return a.shape == b.shape and torch.allclose(a, b)

    src, trg = batch["y_src"], batch["y_trg"]
    d_calls = [(x, y) for n, x, y in calls if n == "discriminator"]
    recoloured = recolour_like(batch["x_src"], batch["x_ref"])
    reals = [y for x, y in d_calls if same(x, batch["x_src"])]
    negatives = [y for x, y in d_calls if same(x, recoloured)]
    fakes = [y for x, y in d_calls if not same(x, batch["x_src"]) and not same(x, recoloured)]
    assert len(reals) == 2 and all(torch.equal(y, src) for y in reals)  # the two D steps' real branches
    # lambda_recoloured > 0 in the synthetic config: each D step also sees the sources recoloured to the target
    assert len(negatives) == 2 and all(torch.equal(y, trg) for y in negatives)
    assert len(fakes) == 4 and all(torch.equal(y, trg) for y in fakes)  # 2 D fakes + 2 G adversarial terms
    for n, x, y in calls:
        if n == "mapping_network":
            assert (same(x, batch["z1"]) or same(x, batch["z2"])) and (torch.equal(y, trg) or torch.equal(y, src))
        if n == "style_encoder":
            if same(x, batch["x_src"]):
                assert torch.equal(y, src)  # cycle / SR code of the source
            elif same(x, batch["x_ref"]) or same(x, batch["x_ref2"]):
                assert torch.equal(y, trg)  # reference codes of the target domain
            else:
                assert torch.equal(y, trg)  # style reconstruction E(G(x, s), y_trg) of a fake
    m_src = [y for n, x, y in calls if n == "mapping_network" and torch.equal(y, src)]
    # 2 targets (the latent D step reuses the G step's first) and the triplet negative
    assert len(m_src) == 1 and len([1 for n, x, y in calls if n == "mapping_network"]) == 3


def _load_benchmark(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))  # its sibling module ``machine``
    spec = importlib.util.spec_from_file_location("train_step_bench", Path(__file__).parents[1] / "benchmarks/train_step.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # trains
def test_shared_latent_fake_gives_the_parameters_of_stargan_v2_order(tiny_config, synthetic_root, monkeypatch):
    """Trainer.train_step (latent fake made once, D gradients skipped in G steps, diversity fake decoded without
    graph) and the benchmark's plain StarGAN v2-order step give the same networks after 3 iterations.

    The math is identical; only the accumulation order of some gradient sums may differ (full ``backward()``
    against ``backward(inputs=...)``), so parameters agree to float32 rounding amplified by 3 Adam steps
    (Adam divides by sqrt(v), so a gradient's last-bit change moves a parameter by at most ~lr * 1e-6 relative).
    """
    bench = _load_benchmark(monkeypatch)
    cfg = tiny_config("loss.lambda_tri=0", "loss.lambda_sr=0", "loss.lambda_cont=0", "loss.lambda_recoloured=0")
    images = DomainImages(synthetic_root, "train", 32, progress=False)
    batches = [TrainBatches(images, 4, 4, seed=1)[i] for i in range(3)]
    torch.manual_seed(0)
    ours = Trainer(cfg, 3, torch.device("cpu"))
    torch.manual_seed(0)
    plain = Trainer(cfg, 3, torch.device("cpu"))
    for step, batch in enumerate(batches):
        ours.train_step(batch, step)
        bench.stargan_v2_order_step(plain, batch, step)
    for name, net in ours.nets.items():
        for (key, a), b in zip(net.state_dict().items(), getattr(plain.nets, name).state_dict().values()):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-6), f"{name}.{key}: {(a - b).abs().max():.3g}"
    moved = max((a - b).abs().max().item() for a, b in zip(ours.nets.generator.parameters(),
                                                           Trainer(cfg, 3, torch.device("cpu")).nets.generator.parameters()))
    assert moved > 1e-4  # the comparison is not between two untouched copies


def test_learning_rates_are_lr_except_the_mapping_networks(tiny_config):
    def rates(*overrides):
        trainer = Trainer(tiny_config(*overrides), 3, torch.device("cpu"))
        return {name: opt.param_groups[0]["lr"] for name, opt in trainer.optims.items()}

    assert rates("train.lr=2e-4", "train.f_lr=1e-6") == {"generator": 2e-4, "mapping_network": 1e-6,
                                                         "style_encoder": 2e-4, "discriminator": 2e-4}


# G's convolutions whose output reaches an instance norm before anything else (every one but to_rgb's)
CONV_BIASES_BEFORE_A_NORM = ("from_rgb.bias", "conv1.bias", "conv2.bias")


@pytest.mark.slow  # trains
def test_channels_last_and_cpu_amp_give_the_same_parameters(tiny_config, synthetic_root, caplog):
    """NHWC is a memory layout, not math: one iteration's losses match NCHW to float rounding, and so do the
    parameters except where Adam's first step (about lr * sign(g)) meets a near-zero gradient whose sign the
    rounding flips. G steps twice per iteration: with StarGAN v2's betas (0, 0.99) Adam's first step is
    lr * sign(g) and its second at most lr * sqrt(1.99) (bias-corrected v after one tiny gradient), so two runs
    end at most 2 * (1 + sqrt(1.99)) * lr apart. That happens to every bias of a convolution followed by an
    instance norm (the norm removes it: its true gradient is exactly 0), so the 1% bound on differing entries
    is over every other parameter (AdaIN's and ``to_rgb``'s biases included). ``train.amp`` on CPU is ignored
    with a warning (fp32): exact."""
    images = DomainImages(synthetic_root, "train", 32, progress=False)
    batch = TrainBatches(images, 4, 4, seed=1)[0]
    results, others, terms = {}, {}, {}
    for name, extra in (("nchw", []), ("nhwc", ["train.channels_last=true"]), ("amp", ["train.amp=bf16"])):
        torch.manual_seed(0)
        trainer = Trainer(tiny_config(*extra), 3, torch.device("cpu"))
        terms[name] = trainer.train_step(batch, 0)
        results[name] = torch.cat([p.detach().flatten() for p in trainer.nets.generator.parameters()])
        others[name] = torch.cat([p.detach().flatten() for key, p in trainer.nets.generator.named_parameters()
                                  if not key.endswith(CONV_BIASES_BEFORE_A_NORM)])
        weight = trainer.nets.generator.decode[0].conv1.weight  # a 3x3 conv: the two layouts differ
        assert weight.is_contiguous() == (name != "nhwc")
    for key, value in terms["nchw"].items():
        assert torch.allclose(value, terms["nhwc"][key], rtol=1e-4, atol=1e-6), key
    diff = (results["nchw"] - results["nhwc"]).abs()
    lr = tiny_config().train.lr
    assert ((others["nchw"] - others["nhwc"]).abs() > 1e-5).float().mean() < 0.01
    assert diff.max() <= 2 * (1 + 1.99 ** 0.5) * lr + 1e-6
    assert torch.equal(results["nchw"], results["amp"])
    assert "mixed precision is used on CUDA only" in caplog.text


@pytest.mark.slow  # trains
def test_ctrl_c_saves_a_checkpoint_and_the_run_resumes(tiny_config, tmp_path):
    """SIGINT to a running `i2i train`: the iteration finishes, a checkpoint is written, the exit is clean, and
    --resume continues from that step."""
    import signal
    import subprocess
    import sys
    import time

    from conftest import TINY

    run = tmp_path / "run"
    cfg = tiny_config()
    argv = [sys.executable, "-m", "i2i", "train", "--config", "configs/synthetic.yaml", "--run-dir", str(run),
            "--no-progress", *[a for t in TINY for a in ("--set", t)], "--set", f"data.root={cfg.data.root}",
            "--set", "train.total_iters=100000", "--set", "train.save_every=100000", "--set", "train.sample_every=100000"]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "log.jsonl").is_file() or not (run / "log.jsonl").read_text().strip():
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "stopped at step" in err
    stopped = int(latest_checkpoint(run).name.split("_")[1])
    assert 1 <= stopped < 100000
    state = load_checkpoint(latest_checkpoint(run))
    assert int(state["step"]) == stopped
