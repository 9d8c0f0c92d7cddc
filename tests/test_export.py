"""Export: ONNX and TorchScript files equal the PyTorch EMA networks, for a StarGAN v2 and a TUNIT run."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.cli import main
from i2i.config import load_config
from i2i.export import read_model_json
from i2i.inference import Translator
from i2i.kinds import build_networks
from i2i.training.checkpoint import save_checkpoint
from i2i.training.loop import prepare_run_dir

from conftest import TINY, TINY_ANY_KIND

ROOT = Path(__file__).resolve().parents[1]
TUNIT = [*TINY_ANY_KIND, "model.kind=tunit", "model.num_clusters=3", "model.latent_dim=8", "model.guide_width=4"]


def make_run(path: Path, overrides: list[str], domains: list[str]) -> Path:
    """A run directory holding a randomly initialised model (the warp's flow made non-zero, so it is exercised)."""
    cfg = load_config(None, overrides)
    prepare_run_dir(cfg, path, domains, resume=False)
    torch.manual_seed(0)
    nets = build_networks(cfg.model, len(domains))
    if nets.generator.warp is not None:
        torch.nn.init.normal_(nets.generator.warp.to_flow.weight, std=0.3)
    save_checkpoint(path, 1, nets, nets.ema_copy(), {})
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, synthetic_root):
    root = tmp_path_factory.mktemp("export_runs")
    return {"stargan_v2": make_run(root / "sg", [*TINY, f"data.root={synthetic_root}", "model.warp=true"],
                                   ["checks", "dots", "stripes"]),
            "tunit": make_run(root / "tunit", [*TUNIT, f"data.root={synthetic_root}"],
                              ["cluster0", "cluster1", "cluster2"])}


def run_onnx(folder: Path, name: str, **inputs) -> np.ndarray:
    import onnxruntime as ort

    meta = read_model_json(folder)["networks"][name]
    session = ort.InferenceSession(str(folder / meta["file"]), providers=["CPUExecutionProvider"])
    return session.run(None, {k: v.numpy() for k, v in inputs.items() if k in meta["inputs"]})[0]


def run_torchscript(folder: Path, name: str, **inputs) -> np.ndarray:
    module = torch.jit.load(str(folder / read_model_json(folder)["networks"][name]["file"]))
    return module(*inputs.values()).detach().numpy()


@pytest.mark.slow  # exports and runs four networks per format and kind
@pytest.mark.parametrize("kind", ["stargan_v2", "tunit"])
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_exported_networks_equal_the_pytorch_ema_networks(runs, tmp_path, kind, fmt):
    pytest.importorskip("onnxruntime", reason="pip install 'i2i[export]'")
    out = tmp_path / fmt
    assert main(["export", "--checkpoint", str(runs[kind]), "--format", fmt, "--out", str(out)]) == 0
    meta = read_model_json(out)
    t = Translator.load(runs[kind], "cpu")
    assert meta["domains"] == t.domains and meta["img_size"] == 32 and meta["kind"] == kind
    g = torch.Generator().manual_seed(1)
    n = 5  # another batch size than the export's example inputs: the batch axis is dynamic
    image = torch.rand(n, 3, 32, 32, generator=g) * 2 - 1
    y = torch.tensor([0, 1, 2, 1, 0])
    z = torch.randn(n, t.cfg.model.latent_dim, generator=g)
    nets = t.nets
    with torch.no_grad():
        style = nets.mapping_network(z, y)
        content = nets.generator.encode_content(image)[0]
        expected = {"style_encoder": nets.style_encoder(image, y), "mapping_network": style,
                    "generator_encoder": content, "generator_decoder": nets.generator.decode_content(content, style)}
    run = run_onnx if fmt == "onnx" else run_torchscript
    got = {"style_encoder": run(out, "style_encoder", image=image, y=y),
           "mapping_network": run(out, "mapping_network", z=z, y=y),
           "generator_encoder": run(out, "generator_encoder", image=image),
           "generator_decoder": run(out, "generator_decoder", content=content, style=style)}
    for name, value in expected.items():
        assert value.shape == got[name].shape, name
        assert np.abs(value.numpy() - got[name]).max() < 1e-4, name


@pytest.mark.slow
def test_the_documented_onnx_example_translates_without_torch(runs, tmp_path):
    pytest.importorskip("onnxruntime", reason="pip install 'i2i[export]'")
    out = tmp_path / "onnx"
    assert main(["export", "--checkpoint", str(runs["stargan_v2"]), "--out", str(out)]) == 0
    code = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "export.md").read_text(), re.S).group(1)
    script = tmp_path / "translate_onnx.py"
    script.write_text(code + "\nassert 'torch' not in sys.modules and 'i2i' not in sys.modules\n")
    source = tmp_path / "source.png"
    Image.fromarray((np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)).save(source)
    subprocess.run([sys.executable, str(script), str(out), str(source), "dots", "3", str(tmp_path / "o.png")],
                   check=True, capture_output=True, text=True)
    onnx_image = np.asarray(Image.open(tmp_path / "o.png"), np.int16)
    t = Translator.load(runs["stargan_v2"], "cpu")
    from i2i.inference import StyleSpec

    z = torch.from_numpy(np.random.default_rng(3).standard_normal((1, t.cfg.model.latent_dim)).astype(np.float32))
    spec = StyleSpec("dots", code=t.nets.mapping_network(z, torch.tensor([1]))[0].detach())
    torch_image = t.translate(str(source), spec)[0].permute(1, 2, 0).numpy().astype(np.int16)
    assert np.abs(onnx_image - torch_image).max() <= 1  # uint8 rounding of two float paths


def test_face_models_are_refused_with_one_line(tmp_path, capsys, tiny_run):
    import shutil

    import yaml

    run = tmp_path / "face"
    shutil.copytree(tiny_run, run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["model"]["w_hpf"] = 1.0
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["export", "--checkpoint", str(run), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "face models" in err and err.count("\n") == 1


@pytest.mark.parametrize("kind", ["stargan_v2", "tunit"])
def test_onnxruntime_backend_equals_eager_decodes(runs, kind):
    """``backend='onnxruntime'`` decodes (chunked, several sources, several styles each) within 1e-4 of PyTorch's."""
    eager = Translator.load(runs[kind], "cpu")
    ort = Translator.load(runs[kind], "cpu", backend="onnxruntime")
    assert (eager.backend, ort.backend) == ("eager", "onnxruntime")
    ort.decode_batch = 4  # 3 sources x 3 styles: chunks of 4, 4 and 1 rows
    g = torch.Generator().manual_seed(3)
    x = torch.rand(3, 3, 32, 32, generator=g) * 2 - 1
    styles = eager.latent_styles(torch.tensor([[0, 1, 2]] * 3), g)
    assert (ort.decode_many(x, styles) - eager.decode_many(x, styles)).abs().max() < 1e-4


def test_backend_choice_auto_falls_back_and_explicit_onnxruntime_explains(runs, monkeypatch):
    from i2i import backends

    assert Translator.load(runs["stargan_v2"], "cpu", backend="auto").backend == "onnxruntime"
    monkeypatch.setattr(backends, "onnxruntime_unusable", lambda device, w_hpf: "onnxruntime is not installed")
    assert Translator.load(runs["stargan_v2"], "cpu", backend="auto").backend == "eager"
    with pytest.raises(ValueError, match="backend onnxruntime is not available: onnxruntime is not installed"):
        Translator.load(runs["stargan_v2"], "cpu", backend="onnxruntime")
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'"):
        Translator.load(runs["stargan_v2"], "cpu", backend="tensorrt")
    monkeypatch.undo()  # the real rules:
    assert "face models" in backends.onnxruntime_unusable(torch.device("cpu"), 1.0)
    assert "CPU" in backends.onnxruntime_unusable(torch.device("cuda"), 0.0)
    assert backends.onnxruntime_unusable(torch.device("cpu"), 0.0) is None
