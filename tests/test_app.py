"""The Gradio app: upload handling, handlers on a tiny random model, gradio_client end to end, a headless browser."""
from __future__ import annotations

import io
import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import free_port
from PIL import Image

from i2i.app import uploads
from i2i.app.handlers import DemoHandlers, parse_seeds
from i2i.app.uploads import UploadError, read_upload
from i2i.evaluation.perceptual import LPIPSDistance
from i2i.inference import StyleSpec, Translator
from i2i.pretrained import build_lpips

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (`make test` installs "
                                   "it with apt-get; install the 'chromium' package to run this test)")


def browser_test(fn):
    """Marks of a test that drives the served app in headless chromium: slow, browser, skipped without it."""
    return pytest.mark.slow(pytest.mark.browser(needs_browser(fn)))


@contextlib.contextmanager
def browser_page(url: str, height: int):
    """A page of headless Debian chromium (driven by playwright) opened at ``url``, 1400 px wide."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra: pip install -e .[test]")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": height})
            page.goto(url, wait_until="domcontentloaded")
            yield page
        finally:
            browser.close()


def _png(tmp_path, name, img):
    path = tmp_path / name
    img.save(path)
    return path


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "1"])
def test_read_upload_any_mode_to_rgb(tmp_path, mode):
    img = Image.fromarray(np.arange(48 * 40, dtype=np.uint8).reshape(40, 48) % 251).convert(mode)
    path = tmp_path / f"x.{'jpg' if mode == 'CMYK' else 'tiff' if mode == 'I;16' else 'png'}"
    img.save(path)
    out = read_upload(path)
    assert out.mode == "RGB" and out.size == (48, 40)


def test_read_upload_downscales_large_and_refuses_huge(tmp_path, monkeypatch):
    out = read_upload(_png(tmp_path, "wide.png", Image.new("RGB", (2048, 1024), (10, 200, 30))))
    assert out.size == (1024, 512) and out.getpixel((500, 200)) == (10, 200, 30)
    monkeypatch.setattr(uploads, "MAX_UPLOAD_PIXELS", 100)
    with pytest.raises(UploadError, match=r"20x20 pixels; the limit is 0 megapixels"):
        read_upload(_png(tmp_path, "small.png", Image.new("RGB", (20, 20))))


def test_read_upload_rejects_non_images_and_truncated_files(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(UploadError, match="could not be read as an image"):
        read_upload(text)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, format="JPEG")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(buf.getvalue()[:200])
    with pytest.raises(UploadError, match="could not be read"):
        read_upload(truncated)
    with pytest.raises(UploadError, match="no source image"):
        read_upload(None, "source image")


def test_parse_seeds():
    assert parse_seeds("0, 3,7") == [0, 3, 7]
    assert parse_seeds("2-4") == [2, 3, 4]
    assert parse_seeds(5) == [5] and parse_seeds("") == [0]
    for bad, message in [("a,b", "bad seeds"), ("-1", "bad seeds"), ("0-9", "at most 8"), ("3-1", "must not exceed"),
                         ("1e30", "bad seeds"), ("99999999999", "at most 2147483647"),
                         ("0-100000000", "at most 8 seeds per grid, got 100000001")]:
        with pytest.raises(ValueError, match=message):
            parse_seeds(bad)


def test_huge_seed_range_is_refused_before_allocating():
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(ValueError, match="at most 8"):
        parse_seeds("0-100000000, 5-999999999")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000  # bytes: no list of a hundred million seeds was built


@pytest.fixture(scope="module")
def handlers(tiny_run, tmp_path_factory):
    translator = Translator.load(tiny_run, "cpu")
    net, provenance = build_lpips(random_weights=True)
    return DemoHandlers(translator, LPIPSDistance(net), provenance, tmp_path_factory.mktemp("app-out"))


@pytest.fixture(scope="module")
def source_file(synthetic_root):
    return str(sorted((synthetic_root / "val" / "dots").iterdir())[0])


def test_interpolate_handler_outputs(handlers, source_file):
    gallery, gif, mp4, strip, last, paths, first, text = handlers.interpolate(
        source_file, "seed", "checks", 0, None, "seed", "stripes", 3, None, 6, "slerp")
    assert len(gallery) == len(paths) == 6 and last == 5 and [c for _, c in gallery][::5] == ["0.00", "1.00"]
    assert [p for p, _ in gallery] == paths and first == paths[0] and len({Path(p).parent for p in paths}) == 1
    first = np.asarray(Image.open(first).convert("RGB"))
    up = handlers.upscale
    assert up == 8 and first.shape == (32 * up, 32 * up, 3)
    direct = handlers.translator.translate([source_file], StyleSpec("checks", seed=0))[0].permute(1, 2, 0).numpy()
    # frame 0 is the start style's translation (within 1 LSB: batched vs single decode)
    np.testing.assert_allclose(first[::up, ::up].astype(int), direct.astype(int), atol=1)
    with Image.open(gif) as im:
        assert im.n_frames == 2 * 6 - 2 and im.size == (256, 256)  # there and back
    assert Path(mp4).stat().st_size > 0 and Path(strip).is_file()
    assert text.startswith("inter-domain, 6 frames, slerp.") and "[random-weights]" in text
    assert handlers.scrub(paths, 3) == paths[3] and handlers.scrub(paths, 99) == paths[-1]
    assert handlers.scrub([], 0) is None


def test_smoothness_of_a_frozen_sequence_is_zero(handlers):
    frames = torch.full((5, 3, 32, 32), 128, dtype=torch.uint8)
    assert "Perceptual Smoothness 0.0000** (alignment 0.0000" in handlers.smoothness_text(frames)


def test_interpolate_handler_input_errors(handlers, source_file, tmp_path):
    args = [source_file, "seed", "checks", 0, None, "seed", "dots", 1, None, 6, "lerp"]
    cases = [({9: 1}, ValueError, "steps must be between 2 and 100"),
             ({9: 101}, ValueError, "steps must be between"),
             ({10: "cubic"}, ValueError, "interpolation must be one of lerp, slerp"),
             ({5: "reference"}, UploadError, "end style: 'reference' is selected but no reference image"),
             ({2: "cats"}, ValueError, "unknown domain 'cats': this model has checks, dots, stripes"),
             ({3: -2}, ValueError, "start style: the seed must be a whole number from 0 to 2147483647"),
             ({0: None}, UploadError, "no source image")]
    for change, error, message in cases:
        bad = list(args)
        for i, value in change.items():
            bad[i] = value
        with pytest.raises(error, match=re.escape(message)):
            handlers.interpolate(*bad)


def test_interpolate_with_a_reference_of_another_mode(handlers, source_file, tmp_path):
    ref = _png(tmp_path, "ref.png", Image.open(source_file).convert("LA"))
    gallery, *_ = handlers.interpolate(source_file, "reference", "dots", None, str(ref),
                                       "seed", "dots", 2, None, 3, "lerp")
    assert len(gallery) == 3


def test_translate_handler_grid(handlers, source_file):
    grid, caption = handlers.translate(source_file, ["dots", "stripes"], "0-2", None)
    cell, pad = 32 * handlers.upscale, 2
    assert grid.shape == (2 * cell + 3 * pad, 4 * cell + 5 * pad, 3)
    assert caption == "rows: dots, stripes; columns: source, seed 0, seed 1, seed 2"
    want = handlers.translator.translate([source_file], StyleSpec("stripes", seed=1))[0].permute(1, 2, 0).numpy()
    row, col = 1, 2  # stripes, seed 1
    got = grid[pad + row * (cell + pad):, pad + col * (cell + pad):][:cell:handlers.upscale, :cell:handlers.upscale]
    np.testing.assert_allclose(got.astype(int), want.astype(int), atol=1)
    grid, caption = handlers.translate(source_file, ["checks"], "", source_file)
    assert caption.endswith("source, reference style") and grid.shape[1] == 2 * cell + 3 * pad
    with pytest.raises(ValueError, match="pick at least one target domain"):
        handlers.translate(source_file, [], "0", None)


# --------------------------------------------------------------------------- served app


@pytest.fixture(scope="module")
def served_app(tiny_run, tmp_path_factory):
    """``i2i app`` in a subprocess on 127.0.0.1 with its own $TMPDIR (``OUT_tmp``); yields its URL and its session
    folder (a fresh subfolder of ``--out-dir``)."""
    out_dir = tmp_path_factory.mktemp("served")
    log_path = out_dir.parent / f"{out_dir.name}.log"
    tmpdir = out_dir.parent / f"{out_dir.name}_tmp"
    tmpdir.mkdir()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmpdir)}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "i2i", "app", "--checkpoint", str(tiny_run), "--random-weights",
                                 "--port", str(free_port()), "--out-dir", str(out_dir), "--device", "cpu",
                                 "--compare", str(tiny_run)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline, match = time.time() + 180, None
        while match is None:
            match = re.search(r"at (http://127\.0\.0\.1:\d+/) \(outputs in (\S+);", log_path.read_text())
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"the app did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        session = Path(match.group(2))
        assert session.parent == out_dir and session.name.startswith("session-")
        yield match.group(1), session
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow  # starts the server
def test_app_endpoints_with_gradio_client(served_app, source_file, tiny_run, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    url, out_dir = served_app
    client = Client(url, verbose=False)
    assert {"/interpolate", "/translate"} <= set(client.view_api(print_info=False, return_format="dict")
                                                 ["named_endpoints"])
    gallery, gif, mp4, strip, slider, first, text = client.predict(
        handle_file(source_file), "seed", "checks", 0, None, "seed", "checks", 4, None, 7, "lerp",
        api_name="/interpolate")
    assert len(gallery) == 7 and slider["maximum"] == 6 and text.startswith("intra-domain, 7 frames")
    with Image.open(gif) as im:
        assert im.n_frames == 12
    with Image.open(first) as im:
        assert im.size == (256, 256)
    assert Path(mp4).suffix == ".mp4" and Path(strip).suffix == ".png"
    grid, caption = client.predict(handle_file(source_file), ["checks", "dots", "stripes"], "0, 1", None,
                                   api_name="/translate")
    with Image.open(grid) as im:
        assert im.size == (3 * 256 + 4 * 2, 3 * 256 + 4 * 2)
    assert caption == "rows: checks, dots, stripes; columns: source, seed 0, seed 1"

    junk = tmp_path / "junk.png"
    junk.write_text("hello")
    with pytest.raises(AppError, match="could not be read as an image"):
        client.predict(handle_file(str(junk)), "seed", "checks", 0, None, "seed", "dots", 1, None, 5, "lerp",
                       api_name="/interpolate")
    with pytest.raises(AppError, match="no reference image was uploaded"):
        client.predict(handle_file(source_file), "reference", "checks", 0, None, "seed", "dots", 1, None, 5, "lerp",
                       api_name="/interpolate")
    for bad, expected in (((-1, 5), "start seed"), ((2**40, 5), "start seed"), ((0, 1), "frames"),
                          ((0, 10**6), "frames")):
        with pytest.raises(AppError, match=expected):  # Gradio's own range checks, worded by the app
            client.predict(handle_file(source_file), "seed", "checks", bad[0], None, "seed", "dots", 1, None, bad[1],
                           "lerp", api_name="/interpolate")
    with pytest.raises(AppError, match="start domain"):
        client.predict(handle_file(source_file), "seed", "zebra", 0, None, "seed", "dots", 1, None, 5, "lerp",
                       api_name="/interpolate")
    # still serving after the errors
    assert client.predict(handle_file(source_file), ["dots"], "3", None, api_name="/translate")[1].endswith("seed 3")

    strip_a, strip_b, scores, steps, map_a, map_b, gif = client.predict(
        handle_file(source_file), "seed", "checks", 0, None, "seed", "dots", 1, None, 6, "lerp",
        api_name="/compare")
    with Image.open(strip_a) as a, Image.open(strip_b) as b:
        assert a.size == b.size == (6 * 256 + 7 * 2, 256 + 2 * 2)
    assert scores.count("PS ") == 2 and len(steps["data"]) == 2 * 5  # one model twice: both series
    with Image.open(map_a) as m:
        assert m.size[0] == 384
    maps = client.predict(api_name="/style_map")
    assert len(maps) == 2 and all(Path(m).is_file() for m in maps)


@pytest.mark.slow  # starts the server
def test_app_serves_only_its_outputs(served_app, tiny_run):
    import httpx

    url, out_dir = served_app
    for forbidden in ["/etc/passwd", str(tiny_run / "config.yaml"), str(Path("README.md").resolve())]:
        assert httpx.get(f"{url}gradio_api/file={forbidden}").status_code == 403, forbidden
    example = next((out_dir / "examples").iterdir())
    assert httpx.get(f"{url}gradio_api/file={example}").status_code == 200
    tmpdir = out_dir.parent.parent / f"{out_dir.parent.name}_tmp"
    assert os.listdir(tmpdir) == []  # Gradio's cache and the export's scratch files live in the session folder


@browser_test
def test_app_in_headless_chromium(served_app, source_file, tmp_path):
    url, _ = served_app
    with browser_page(url, height=1300) as page:
        generate = page.get_by_role("button", name="Generate")
        generate.wait_for(timeout=60_000)
        page.locator("input[type=file]").first.set_input_files(source_file)
        page.wait_for_timeout(500)
        generate.click()
        page.get_by_text(re.compile(r"inter-domain, 20 frames, lerp")).wait_for(timeout=120_000)
        assert page.get_by_text("[random-weights]: LPIPS runs on a random AlexNet trunk").count() == 1
        thumbnails = page.locator("img[alt='0.00'], img[alt='0.26'], img[alt='1.00']")
        thumbnails.nth(2).wait_for()
        frame = page.locator("#frame img")
        assert frame.get_attribute("src") == thumbnails.nth(0).get_attribute("src")
        scrub = page.get_by_label("number input for scrub through the frames")
        scrub.fill("5")
        scrub.press("Enter")
        page.wait_for_function("([img, want]) => img.src === want",  # frame 5 of 20 is alpha 5/19 = 0.26
                               arg=[frame.element_handle(), thumbnails.nth(1).get_attribute("src")], timeout=30_000)
        shot = tmp_path / "app.png"
        page.screenshot(path=str(shot), full_page=True)
    with Image.open(shot) as im:
        assert im.size[0] == 1400 and im.size[1] > 1000


@browser_test
def test_domain_thumbnails_pick_the_domain(served_app):
    """Each style picker shows one thumbnail per domain; clicking one selects that domain in its dropdown."""
    url, _ = served_app
    with browser_page(url, height=1100) as page:
        page.get_by_role("button", name="Generate").wait_for(timeout=60_000)
        end_thumbs = page.locator(".domain-thumbs").nth(1).locator(".thumbnail-item")
        assert end_thumbs.count() == 3
        end_domain = page.get_by_label("domain").nth(1)
        assert end_domain.input_value() == "dots"
        end_thumbs.nth(2).click()
        page.wait_for_function("(el) => el.value === 'stripes'", arg=end_domain.element_handle(), timeout=30_000)
        assert page.get_by_label("domain").nth(0).input_value() == "checks"  # the other picker is untouched


@browser_test
def test_compare_tab_in_headless_chromium(served_app, source_file, tmp_path):
    """Compare mode renders: both strips, both PS values, the step-distance plot and both style maps."""
    url, _ = served_app
    with browser_page(url, height=1600) as page:
        page.get_by_role("tab", name="Compare").click()
        run = page.locator("#compare-run")
        run.wait_for(timeout=60_000)
        page.locator("#compare-source input[type=file]").set_input_files(source_file)
        page.wait_for_timeout(500)
        run.click()
        page.locator("#compare-scores").get_by_text(re.compile(r"PS \d\.\d{4}")).first.wait_for(timeout=120_000)
        for element in ("#strip-a img", "#strip-b img", "#map-a img", "#map-b img"):
            page.locator(element).wait_for(timeout=60_000)
        page.locator("#step-plot canvas, #step-plot svg").first.wait_for(timeout=60_000)
        assert page.locator("#compare-scores").inner_text().count("PS ") == 2


def test_compare_handlers_score_both_models(handlers, tiny_run, source_file):
    from i2i.app.compare import CompareHandlers

    compare = CompareHandlers(handlers, Translator.load(tiny_run, "cpu"), ("A", "B"))
    strip_a, strip_b, scores, steps, map_a, map_b, gif = compare.compare(
        source_file, "seed", "checks", 0, None, "seed", "dots", 1, None, 5, "lerp")
    read = [np.asarray(Image.open(f)) for f in (strip_a, strip_b, map_a, map_b)]
    assert np.array_equal(read[0], read[1]) and np.array_equal(read[2], read[3])  # one model twice
    assert len({Path(f).parent for f in (strip_a, strip_b, map_a, map_b, gif)}) == 1  # the request's own folder
    lines = scores.split("\n")
    assert lines[0].split(": ", 1)[1].strip() == lines[1].split(": ", 1)[1].strip()
    assert list(steps["step"]) == [1, 2, 3, 4] * 2 and set(steps["model"]) == {"A", "B"}
    assert Image.open(gif).size == (2 * 256 + 2 * 8, 256)  # frames shown at 256 px, a 2-px gap upscaled 8x
    with pytest.raises(ValueError, match="steps must be between"):
        compare.compare(source_file, "seed", "checks", 0, None, "seed", "dots", 1, None, 1, "lerp")


def test_translate_aligns_the_face_when_asked(handlers, tmp_path):
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (test extra) ships the astronaut photo")
    photo, wall = tmp_path / "astronaut.png", tmp_path / "wall.png"
    Image.fromarray(skimage_data.astronaut()).save(photo)
    Image.new("RGB", (64, 64), (90, 90, 90)).save(wall)
    plain, _ = handlers.translate(str(photo), ["dots"], "0", None)
    aligned, _ = handlers.translate(str(photo), ["dots"], "0", None, True)
    assert plain.shape == aligned.shape and not np.array_equal(plain, aligned)  # the source cell differs: cropped
    with pytest.raises(ValueError, match="no face found"):
        handlers.translate(str(wall), ["dots"], "0", None, True)


def test_concurrent_requests_are_decoded_together_with_the_same_frames(tiny_run):
    """Eight threads ask for frames at once: each gets exactly what a lone decode gives, in fewer generator calls
    than requests; a failing batch raises in its requests and the batcher keeps serving."""
    import threading

    from i2i.app.batching import DecodeBatcher

    translator = Translator.load(tiny_run, "cpu")
    batcher = DecodeBatcher(translator, max_wait_s=0.2)
    g = torch.Generator().manual_seed(0)
    sources = torch.rand(8, 3, 32, 32, generator=g) * 2 - 1
    styles = [translator.latent_styles(torch.full((k,), k % 3), g) for k in range(2, 10)]  # 2 to 9 frames each
    results = [None] * 8

    def request(i):
        results[i] = batcher.decode(sources[i], styles[i])

    threads = [threading.Thread(target=request, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        alone = translator.decode_many(sources[i][None], styles[i][None])[0]
        assert results[i].shape == alone.shape and torch.allclose(results[i], alone, atol=1e-5)
    assert batcher.requests == 8 and batcher.batches < 8
    with pytest.raises(RuntimeError):
        batcher.decode(sources[0], torch.zeros(2, 5))  # wrong style size: the generator's error reaches the caller
    assert batcher.decode(sources[0], styles[0]).shape == (2, 3, 32, 32)  # still serving
