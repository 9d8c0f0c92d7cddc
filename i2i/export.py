"""Export a run's EMA networks for deployment: ONNX or TorchScript files, one per network, and ``model.json``.

Inference needs four networks, each exported in eval mode with a dynamic batch axis: the style encoder
``E(image, y)``, the mapping network ``M(z, y)``, and the generator split into its style-independent half
(``encoder(image) -> content``) and its style-dependent half (``decoder(content, style) -> image``), so that one
source is encoded once for any number of styles, as the Translator (:mod:`i2i.inference`) does. Images are float32
NCHW RGB in [-1, 1] at the model's size; ``y`` is an int64 domain index per row. ``docs/export.md`` has a
translation with onnxruntime and numpy alone.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from i2i.config import load_config
from i2i.hub import load_networks
from i2i.models import Networks
from i2i.rundir import CONFIG_FILE, resolve_checkpoint, write_json

FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}
OPSET = 17  # GridSample (the optional warp) needs 16; 17 is what current runtimes all read
MODEL_JSON = "model.json"


class GeneratorEncoder(nn.Module):
    """``image -> content``: the generator's style-independent half."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.generator.encode_content(image)[0]


class GeneratorDecoder(nn.Module):
    """``(content, style) -> image``: the generator's style-dependent half."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.generator.decode_content(content, style)


def export_modules(nets: Networks, m, num_domains: int) -> dict[str, tuple[nn.Module, tuple, list[str], list[str]]]:
    """``name -> (module, example inputs, input names, output names)`` of the four exported networks of ``nets``
    (model config ``m``, ``num_domains`` domains)."""
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, m.img_size, m.img_size, generator=g) * 2 - 1
    y = torch.tensor([0, num_domains - 1])
    z = torch.randn(2, m.latent_dim, generator=g)
    encoder = GeneratorEncoder(nets.generator)
    with torch.no_grad():
        content = encoder(image)
        style = nets.mapping_network(z, y)
    return {"style_encoder": (nets.style_encoder, (image, y), ["image", "y"], ["style"]),
            "mapping_network": (nets.mapping_network, (z, y), ["z", "y"], ["style"]),
            "generator_encoder": (encoder, (image,), ["image"], ["content"]),
            "generator_decoder": (GeneratorDecoder(nets.generator), (content, style), ["content", "style"], ["image"])}


def export_run(checkpoint: str | Path, out: str | Path, fmt: str = "onnx") -> Path:
    """Write ``out/<network>.onnx`` (or ``.pt`` TorchScript) for the four networks of a run's EMA model, and
    ``out/model.json``; return ``out``. Face models (``model.w_hpf > 0``) are refused: their generator needs StarGAN
    v2's FAN face masks, which are not exported."""
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    run_dir, weights = resolve_checkpoint(checkpoint)
    w_hpf = load_config(run_dir / CONFIG_FILE).model.w_hpf
    if w_hpf > 0:
        raise NotImplementedError(f"face models (model.w_hpf={w_hpf:g}) are not exported: their generator needs the "
                                  "FAN face masks of every source, a network this export does not include")
    cfg, domains, nets = load_networks(run_dir, weights)
    m = cfg.model
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    networks = {}
    for name, (module, inputs, input_names, output_names) in export_modules(nets, m, len(domains)).items():
        path = out / f"{name}{SUFFIX[fmt]}"
        if fmt == "onnx":
            write_onnx(module, inputs, input_names, output_names, str(path))
            input_names = onnx_inputs(path)  # an input the network ignores (TUNIT's y) is not in the graph
        else:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # torch.jit's deprecation notes
                torch.jit.trace(module.eval(), inputs, check_trace=False).save(str(path))
        networks[name] = {"file": path.name, "inputs": input_names, "outputs": output_names}
    write_json(out / MODEL_JSON, {
        "format": fmt, "opset": OPSET if fmt == "onnx" else None, "kind": m.kind,
        "domains": domains, "img_size": m.img_size, "style_dim": m.style_dim, "latent_dim": m.latent_dim,
        "inputs": {"image": f"float32 (N, 3, {m.img_size}, {m.img_size}) RGB in [-1, 1]",
                   "y": "int64 (N,) domain index (see domains)",
                   "z": f"float32 (N, {m.latent_dim}) drawn from N(0, 1)"},
        "outputs": {"image": "float32 (N, 3, H, W) RGB, clamp to [-1, 1]"}, "networks": networks,
        "source": str(weights), "batch_axis": 0})
    return out


def write_onnx(module: nn.Module, inputs: tuple, input_names: list[str], output_names: list[str], f) -> None:
    """Export ``module`` in eval mode to ONNX, into ``f`` (a path or a binary file), with a dynamic batch axis on every
    input and output."""
    dynamic = {key: {0: "batch"} for key in input_names + output_names}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes: shapes recorded as ops
        torch.onnx.export(module.eval(), inputs, f, dynamo=False, opset_version=OPSET, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic)


def onnx_inputs(path: Path) -> list[str]:
    """The input names of an ONNX graph (without its initialisers)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    weights = {w.name for w in graph.initializer}
    return [i.name for i in graph.input if i.name not in weights]


def read_model_json(folder: str | Path) -> dict:
    """The ``model.json`` of an export folder."""
    return json.loads((Path(folder) / MODEL_JSON).read_text())
