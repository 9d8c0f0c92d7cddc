"""Compare mode: the same source and end styles interpolated by two models, their step distances and style maps."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from PIL import Image

from i2i.evaluation.ps import perceptual_smoothness, sequence_distances
from i2i.data.images import to_float
from i2i.inference import Translator, check_steps
from i2i.media import grid_image, save_frames, upscale_frames
from i2i.pretrained import RANDOM_WEIGHTS
from i2i.style_space import Projection, draw_style_map, fit_pca, style_codes

from i2i.app.handlers import MAX_APP_STEPS, DemoHandlers

MAP_CODES_PER_DOMAIN = 300  # mapping-network codes per domain behind each style map


class StyleMap:
    """One model's style-space map, fitted once: PCA of its mapping-network codes of every domain and of the
    style-encoder codes of the validation images (when the app has the data set)."""

    def __init__(self, translator: Translator, images=None):
        self.translator = translator
        codes, self.labels, self.encoded = style_codes(translator, MAP_CODES_PER_DOMAIN, images)
        self.project: Projection = fit_pca(codes)
        self.points = self.project(codes)

    def image(self, path_codes: torch.Tensor | None = None, size: int = 384) -> np.ndarray:
        """The map as an RGB array, with the path of ``path_codes`` (F, D) drawn when given."""
        path = None if path_codes is None else self.project(path_codes.cpu())
        img = draw_style_map(self.points, self.labels, self.encoded, self.translator.domains, path, size)
        return np.asarray(img)


class CompareHandlers:
    """``/compare`` and ``/style_map`` for two loaded models (A: the app's model, B: ``--compare``)."""

    def __init__(self, base: DemoHandlers, other: Translator, names: tuple[str, str], images=None):
        if other.img_size != base.translator.img_size:
            raise ValueError(f"--compare needs models of one image size: {base.translator.img_size} and "
                             f"{other.img_size} px")
        self.base, self.models, self.names = base, (base.translator, other), names
        self.maps = [StyleMap(t, images) for t in self.models]
        self.map_files = []  # drawn once: the same for every request
        for name, style_map in zip(("a", "b"), self.maps):
            self.map_files.append(str(base.out_dir / f"style_map_{name}.png"))
            Image.fromarray(style_map.image()).save(self.map_files[-1])

    def style_maps(self):
        """Both models' style maps, without a path (PNG files)."""
        return tuple(self.map_files)

    def compare(self, source, start_kind, start_domain, start_seed, start_reference,
                end_kind, end_domain, end_seed, end_reference, steps, method, align_faces=False):
        """Interpolate one source between the same two styles with both models.

        Returns strip A, strip B, the Markdown with both PS values, the step distances (a table: step, distance,
        model), map A and map B with each path, and a GIF with both side by side; images as files of the request's
        own folder (as :meth:`DemoHandlers.interpolate` returns its frames, and for the same reason).
        """
        b = self.base
        steps = check_steps(steps, MAX_APP_STEPS)
        image = b.source_image(source, align_faces=bool(align_faces))
        start = b.style_spec("start", start_kind, start_domain, start_seed, start_reference)
        end = b.style_spec("end", end_kind, end_domain, end_seed, end_reference)
        results = [t.interpolate(image, start, end, steps, method) for t in self.models]
        strips, maps, rows, lines = [], [], [], []
        tag = f" [{RANDOM_WEIGHTS}]" if b.lpips_weights == RANDOM_WEIGHTS else ""
        for name, (frames, codes), style_map in zip(self.names, results, self.maps):
            d, total = sequence_distances(b.distance, to_float(frames)[None].to(b.translator.device))
            ps = perceptual_smoothness(d.cpu(), total.cpu())
            lines.append(f"**{name}**: PS {ps.ps.item():.4f} (alignment {ps.alignment.item():.4f}, uniformity "
                         f"{ps.uniformity.item():.4f}){tag}")
            rows += [{"step": k + 1, "distance": float(v), "model": name} for k, v in enumerate(d[0].tolist())]
            strips.append(grid_image(upscale_frames(frames, b.upscale)))
            maps.append(style_map.image(codes))
        (fa, _), (fb, _) = results
        gap = torch.full_like(fa[..., :2], 255)
        folder = b.new_result_folder()
        gif = save_frames(torch.cat([fa, gap, fb], -1), folder / "compare.gif", upscale=b.upscale)
        files = []
        for name, image in zip(("strip_a", "strip_b", "map_a", "map_b"), (*strips, *maps)):
            files.append(str(folder / f"{name}.png"))
            Image.fromarray(image).save(files[-1])
        return files[0], files[1], "  \n".join(lines), pd.DataFrame(rows), files[2], files[3], str(gif)
