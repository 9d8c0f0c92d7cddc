"""Where the generator's decodes run: eager PyTorch, or ONNX Runtime on the CPU (its two halves exported in memory).

Measured with ``benchmarks/interpolate.py`` (docs/benchmarks.md): on CPUs ONNX Runtime runs one 20-frame
interpolation 1.17x (64 px) to 1.31x (256 px) faster than eager PyTorch, within 3e-5 of it, after a one-off export
of about 3.3 s when the model loads. So the app, which decodes many times, defaults to ``auto``, and the one-shot
CLI commands and the Python API to ``eager`` (``--backend onnxruntime`` pays from about two 256 px interpolations
on). ``auto`` picks ONNX Runtime wherever it applies: a CPU device, a model without face masks (FAN masks are not
part of the export) and ``onnx`` and ``onnxruntime`` installed (``pip install 'i2i[export]'``; ``make setup`` has
them). Everything else (style codes, FAN, training) stays in PyTorch.
"""
from __future__ import annotations

import io
import logging

import numpy as np
import torch

from i2i.export import export_modules, write_onnx

log = logging.getLogger(__name__)

BACKENDS = ("auto", "eager", "onnxruntime")


class OnnxRuntimeGenerator:
    """The generator's :meth:`~i2i.models.generator.Generator.decode_rows` in ONNX Runtime: the style-independent
    encoder and the style-dependent decoder, exported once (in memory) from ``generator`` and run on the CPU with
    as many threads as torch uses."""

    def __init__(self, translator):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        modules = export_modules(translator.nets, translator.cfg.model, translator.num_domains)
        sessions = []
        for name in ("generator_encoder", "generator_decoder"):
            buffer = io.BytesIO()
            write_onnx(*modules[name], buffer)
            sessions.append(ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"]))
        self.encoder, self.decoder = sessions

    def decode_rows(self, x: torch.Tensor, styles: torch.Tensor, owners: torch.Tensor, masks=None,
                    chunk: int | None = None) -> torch.Tensor:
        """Sources (N, 3, S, S) under styles (R, D), row r translating source ``owners[r]``: (R, 3, S, S)."""
        if masks is not None:
            raise ValueError("the onnxruntime backend has no face masks: use backend='eager' for face models")
        content = self.encoder.run(None, {"image": x.detach().float().cpu().numpy()})[0]
        rows, codes = owners.cpu().numpy(), styles.detach().float().cpu().numpy()
        step = chunk or len(codes)
        out = [self.decoder.run(None, {"content": content[rows[i:i + step]], "style": codes[i:i + step]})[0]
               for i in range(0, len(codes), step)]
        return torch.from_numpy(np.concatenate(out)).to(x.device)


def onnxruntime_unusable(device: torch.device, w_hpf: float) -> str | None:
    """Why the onnxruntime backend cannot serve this model on this device, or None when it can."""
    if device.type != "cpu":
        return f"it runs on the CPU and the device is {device}"
    if w_hpf > 0:
        return "face models need FAN masks, which the export does not include"
    try:
        import onnx  # noqa: F401  (torch's exporter writes through it)
        import onnxruntime  # noqa: F401
    except ImportError:
        return "onnx and onnxruntime are not installed (pip install 'i2i[export]')"
    return None


def build_decoder(backend: str, translator):
    """The object whose ``decode_rows`` a Translator calls, and the backend's name: ``eager`` (the generator itself),
    ``onnxruntime``, or ``auto`` (onnxruntime where it applies, eager otherwise)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    generator = translator.nets.generator
    if backend == "eager":
        return generator, "eager"
    reason = onnxruntime_unusable(translator.device, translator.cfg.model.w_hpf)
    if reason is not None:
        if backend == "onnxruntime":
            raise ValueError(f"backend onnxruntime is not available: {reason}")
        return generator, "eager"
    log.info("decoding with ONNX Runtime (exported in memory; --backend eager for PyTorch)")
    return OnnxRuntimeGenerator(translator), "onnxruntime"
