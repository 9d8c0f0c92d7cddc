"""Small PIL line charts for files the CLI writes (the app draws its charts with Gradio's plot components)."""
from __future__ import annotations

from PIL import Image, ImageDraw

PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))  # matplotlib's tab10, as RGB


def line_chart(series: dict[str, list[float]], title: str, xlabel: str, size: tuple[int, int] = (640, 360)
               ) -> Image.Image:
    """One line (with dots) per named series over x = 1, 2, ...; y from 0 to the largest value; a legend below the
    axes (the image grows by a line per series, so the legend never hides a line)."""
    width, height = size[0], size[1] + 14 * len(series)
    left, right, top, bottom = 56, 16, 36, 44 + 14 * len(series)
    peak = max((v for values in series.values() for v in values), default=1.0) or 1.0
    n = max((len(values) for values in series.values()), default=1)
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (width - left - right) * (i / max(1, n - 1))
        return x, top + (height - top - bottom) * (1 - v / peak)

    draw.text((left, 8), title, fill="black")
    draw.line([(left, top), (left, height - bottom), (width - right, height - bottom)], fill="black")
    for frac in (0.0, 0.5, 1.0):
        y = top + (height - top - bottom) * (1 - frac)
        draw.text((4, y - 6), f"{peak * frac:.3g}", fill="black")
    draw.text((left, height - bottom + 8), f"{xlabel} (1..{n})", fill="black")
    for k, (name, values) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        points = [xy(i, v) for i, v in enumerate(values)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
        draw.text((left, height - bottom + 26 + 14 * k), f"- {name}", fill=colour)
    return img
