"""The Gradio Blocks layout: an interpolation tab and a translation-grid tab on one :class:`DemoHandlers`."""
from __future__ import annotations

import functools
import logging

import gradio as gr
from PIL import Image, UnidentifiedImageError

from i2i.config import MAX_SEED
from i2i.inference import INTERPOLATIONS

from i2i.app.handlers import MAX_APP_STEPS, MAX_GRID_SEEDS, STYLE_SOURCES, DemoHandlers
from i2i.app.uploads import MAX_UPLOAD_PIXELS, MAX_UPLOAD_SIDE, unreadable_message

log = logging.getLogger(__name__)

USER_ERRORS = (ValueError, FileNotFoundError, OSError, NotImplementedError)


def checked(component, message=None):
    """Make Gradio's own input check of ``component`` (its ``preprocess``: choices, ranges, number parsing, image
    decoding) end in the app's one-line message, in the UI and in the log, instead of a server traceback and an
    anonymous client error. ``message(err)`` words the message (default: the component's label and Gradio's
    reason). Wraps this instance's ``preprocess`` (a subclass would make Gradio write a ``.pyi`` stub next to this
    file at import time)."""
    preprocess, label = component.preprocess, component.label

    def guarded(payload):
        try:
            return preprocess(payload)
        except Exception as err:  # Gradio's checks raise gr.Error, ValueError, TypeError, PIL's errors, ...
            text = message(err) if message else f"{label}: {err}"
            log.info("rejected request: %s", text)
            raise gr.Error(text, print_exception=False) from None

    component.preprocess = guarded
    return component


def image_upload(label: str, **kwargs) -> gr.Image:
    """An image box handing the handlers a file path, whose undecodable uploads become a message in the UI
    (Gradio opens every upload with PIL before any handler runs)."""
    def message(err):
        if isinstance(err, Image.DecompressionBombError):
            return f"the {label} is too large to decode safely: {err}"
        if isinstance(err, (UnidentifiedImageError, OSError, SyntaxError, ValueError)):
            return unreadable_message(label, err)
        return f"{label}: {err}"

    return checked(gr.Image(label=label, type="filepath", image_mode=None, sources=["upload", "clipboard"], **kwargs),
                   message)


def user_errors(fn):
    """Turn the handlers' input errors into ``gr.Error`` (a message in the UI; the app keeps serving)."""
    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return fn(*args)
        except USER_ERRORS as err:
            log.info("rejected request: %s", err)
            raise gr.Error(str(err), print_exception=False) from None  # a user's mistake: no server traceback
    return wrapper


def _domain_gallery(thumbs: list[tuple[str, str]], dom: gr.Dropdown) -> None:
    """Thumbnails of the domains (a TUNIT run's cluster representatives) under a picker; a click selects one."""
    names = [name for _, name in thumbs]

    def pick(evt: gr.SelectData):
        return names[evt.index]

    columns = min(len(thumbs), 6)
    rows = -(-len(thumbs) // columns)
    gallery = gr.Gallery(thumbs, label="domains (click one)", columns=columns, height=110 * rows + 40,
                         allow_preview=False, object_fit="contain", interactive=False, buttons=[], format="png",
                         elem_classes=["domain-thumbs"])
    gallery.select(pick, None, dom, api_visibility="private", queue=False, show_progress="hidden")


def _style_picker(title: str, domains: list[str], domain: str, seed: int, thumbs: list[tuple[str, str]]):
    """Radio (seed | reference), domain dropdown with its thumbnails, seed number, reference upload (shown only
    when selected)."""
    with gr.Group():
        gr.Markdown(f"**{title}**")
        kind = checked(gr.Radio(list(STYLE_SOURCES), value="seed", label=f"{title} style from"))
        dom = checked(gr.Dropdown(domains, value=domain, label=f"{title} domain"))
        if thumbs:
            _domain_gallery(thumbs, dom)
        seed_box = checked(gr.Number(value=seed, precision=None, step=1, minimum=0, maximum=MAX_SEED,
                                     label=f"{title} seed (mapping network)"))
        ref = image_upload(f"{title} reference", visible=False, height=160)
    kind.change(lambda k: (gr.Number(visible=k == "seed"), gr.Image(visible=k == "reference")), kind,
                [seed_box, ref], api_visibility="private", queue=False, show_progress="hidden")
    return kind, dom, seed_box, ref


def _interpolation_inputs(domains: list[str], examples: list[str], thumbs: list[tuple[str, str]],
                          align_default: bool, align_label: str, prefix: str = ""):
    """Source (with examples), start and end style pickers, frames, lerp/slerp, face alignment and the Generate
    button, as the Interpolate and Compare tabs share them; returns ``(inputs, button)``."""
    with gr.Row():
        with gr.Column():
            source = image_upload("source image", height=256, elem_id=f"{prefix}source" if prefix else None)
            if examples:
                gr.Examples(examples, inputs=source, label="examples (validation images)")
        start = _style_picker("start", domains, domains[0], 0, thumbs)
        end = _style_picker("end", domains, domains[min(1, len(domains) - 1)], 1, thumbs)
    with gr.Row():
        steps = checked(gr.Slider(2, MAX_APP_STEPS, value=20, step=1, label="frames (both end styles included)"))
        method = checked(gr.Radio(list(INTERPOLATIONS), value="lerp", label="interpolation"))
        align = checked(gr.Checkbox(value=align_default, label=align_label))
        run = gr.Button("Generate", variant="primary", elem_id=f"{prefix}run" if prefix else None)
    return [source, *start, *end, steps, method, align], run


def _compare_tab(compare, domains: list[str], examples: list[str], thumbs: list[tuple[str, str]],
                 align_default: bool, align_label: str) -> None:
    """The Compare tab: named endpoints ``compare`` and ``style_map``."""
    a, b = compare.names
    with gr.Tab("Compare"):
        inputs, run = _interpolation_inputs(domains, examples, thumbs, align_default, align_label,
                                            prefix="compare-")
        scores = gr.Markdown(elem_id="compare-scores")
        strip_a = gr.Image(label=f"A: {a}", type="numpy", interactive=False, format="png", elem_id="strip-a")
        strip_b = gr.Image(label=f"B: {b}", type="numpy", interactive=False, format="png", elem_id="strip-b")
        plot = gr.LinePlot(x="step", y="distance", color="model", title="LPIPS between consecutive frames",
                           elem_id="step-plot", height=260)
        with gr.Row():
            map_a = gr.Image(label="style space of A (PCA; path drawn)", type="numpy", interactive=False,
                             format="png", elem_id="map-a")
            map_b = gr.Image(label="style space of B (PCA; path drawn)", type="numpy", interactive=False,
                             format="png", elem_id="map-b")
        gif = gr.Image(label="A | B side by side (GIF)", type="filepath", interactive=False, height=256)
        maps_button = gr.Button("show both style maps")
        run.click(user_errors(compare.compare), inputs,
                  [strip_a, strip_b, scores, plot, map_a, map_b, gif], api_name="compare", concurrency_id="model")
        maps_button.click(compare.style_maps, None, [map_a, map_b], api_name="style_map", concurrency_id="model")


def build_app(handlers: DemoHandlers, examples: list[str], header: str, compare=None,
              thumbs: list[tuple[str, str]] | None = None) -> gr.Blocks:
    """The app's Blocks: named endpoints ``interpolate`` and ``translate`` (and ``compare`` / ``style_map`` with a
    second model), all queued on one model lock. ``thumbs``: ``(image, domain)`` shown under the domain pickers."""
    thumbs = thumbs or []
    domains = handlers.translator.domains
    face_model = handlers.translator.cfg.model.w_hpf > 0
    align_label = "align the face first (CelebA-HQ framing, largest face; for face models)"
    with gr.Blocks(title="i2i: smooth style interpolation", analytics_enabled=False,
                   delete_cache=(3600, 3600)) as demo:
        gr.Markdown(header)
        with gr.Tab("Interpolate"):
            inputs, run = _interpolation_inputs(domains, examples, thumbs, face_model, align_label)
            smoothness = gr.Markdown()
            gallery = gr.Gallery(label="frames (alpha under each)", columns=10, height="auto", object_fit="contain",
                                 format="png")
            with gr.Row():
                with gr.Column():
                    frame = gr.Image(label="frame", type="numpy", interactive=False, height=256, format="png",
                                     elem_id="frame")
                    scrubber = gr.Slider(0, 19, value=0, step=1, label="scrub through the frames")
                animation = gr.Image(label="animation (GIF, loops)", type="filepath", interactive=False, height=256)
                video = gr.Video(label="MP4 (H.264)", interactive=False, loop=True, height=256)
            strip = gr.File(label="frame strip (PNG)", interactive=False)
            frames = gr.State([])

            def interpolate(*args):
                gal, gif, mp4, png, last, arrays, first, text = handlers.interpolate(*args)
                return gal, gif, mp4, png, gr.Slider(0, last, value=0, step=1), arrays, first, text

            run.click(user_errors(interpolate), inputs,
                      [gallery, animation, video, strip, scrubber, frames, frame, smoothness],
                      api_name="interpolate", concurrency_id="model")
            scrubber.change(handlers.scrub, [frames, scrubber], frame, api_visibility="private",
                            queue=False, show_progress="hidden")

        with gr.Tab("Translate"):
            with gr.Row():
                t_source = image_upload("source image", height=256)
                with gr.Column():
                    t_domains = checked(gr.CheckboxGroup(domains, value=list(domains), label="target domains (rows)"))
                    t_seeds = checked(gr.Textbox("0, 1, 2, 3",
                                                 label=f"seeds (columns; up to {MAX_GRID_SEEDS}, e.g. 0-3)"))
                    t_reference = image_upload("reference image (optional: replaces the seeds)", height=160)
                    t_align = checked(gr.Checkbox(value=face_model, label=align_label))
                    t_run = gr.Button("Translate", variant="primary")
            if examples:
                gr.Examples(examples, inputs=t_source, label="examples (validation images)")
            t_caption = gr.Markdown()
            t_grid = gr.Image(label="translations", type="numpy", interactive=False, format="png")
            t_run.click(user_errors(handlers.translate), [t_source, t_domains, t_seeds, t_reference, t_align],
                        [t_grid, t_caption], api_name="translate", concurrency_id="model")
        if compare is not None:
            _compare_tab(compare, domains, examples, thumbs, face_model, align_label)
        gr.Markdown(f"Uploads: any image mode (greyscale, RGBA, CMYK are converted to RGB); larger than "
                    f"{MAX_UPLOAD_SIDE} px is downscaled, over {MAX_UPLOAD_PIXELS // 10**6} MP is refused.")
    return demo
