"""Small PIL line charts for files the CLI writes (the app draws its charts with Gradio's plot components)."""
from __future__ import annotations

from PIL import Image, ImageDraw

PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))  # matplotlib's tab10, as RGB


def line_chart(series: dict[str, list[float]], title: str, xlabel: str, size: tuple[int, int] = (640, 360)
               ) -> Image.Image:
    """One line (with dots) per named series over x = 1, 2, ...; y from 0 to the largest value; a legend."""
    width, height = size
    left, right, top, bottom = 56, 16, 36, 44
    peak = max((v for values in series.values() for v in values), default=1.0) or 1.0
    n = max((len(values) for values in series.values()), default=1)
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (width - left - right) * (i / max(1, n - 1))
        return x, top + (height - top - bottom) * (1 - v / peak)

    draw.text((left, 8), title, fill="black")
    draw.line([(left, top), (left, height - bottom), (width - right, height - bottom)], fill="black")
    for frac in (0.0, 0.5, 1.0):
        y = top + (height - top - bottom) * (1 - frac)
        draw.text((4, y - 6), f"{peak * frac:.3g}", fill="black")
    draw.text((left, height - bottom + 18), f"{xlabel} (1..{n})", fill="black")
    for k, (name, values) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        points = [xy(i, v) for i, v in enumerate(values)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
    for k, name in enumerate(series):  # the legend last, on white, so no line hides it
        legend = (width - right - 220, top + 4 + 14 * k)
        draw.rectangle((legend[0] - 2, legend[1] - 1, width - right, legend[1] + 12), fill="white")
        draw.text(legend, f"- {name}", fill=PALETTE[k % len(PALETTE)])
    return img
