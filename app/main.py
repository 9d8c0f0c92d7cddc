"""Start-up: load the model and LPIPS once, collect example images, serve the Blocks on 127.0.0.1."""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

from i2i.evaluation.perceptual import LPIPSDistance
from i2i.data.images import IMG_EXTENSIONS
from i2i.inference import Translator
from i2i.kinds import model_kind
from i2i.pretrained import RANDOM_WEIGHTS, build_lpips
from i2i.rundir import apply_umask, resolve_checkpoint

from i2i.app.batching import DecodeBatcher
from i2i.app.handlers import DemoHandlers
from i2i.app.uploads import MAX_UPLOAD_BYTES

log = logging.getLogger(__name__)

PRIVATE_TEMP = ".tmp"  # the app process's temporary files, inside the session folder
CONCURRENT_REQUESTS = 16  # requests served at once with batching (the rest wait in Gradio's queue, 64 at most)


def find_examples(data_root: str | Path | None, domains: list[str], per_domain: int = 2) -> list[Path]:
    """The first ``per_domain`` images of every domain under ``data_root/val`` (or ``train``); [] if absent."""
    if not data_root:
        return []
    for split in ("val", "train"):
        folder = Path(data_root) / split
        found = [f for d in domains if (folder / d).is_dir()
                 for f in sorted(p for p in (folder / d).iterdir() if p.suffix.lower() in IMG_EXTENSIONS)[:per_domain]]
        if found:
            return found
    return []


def copy_examples(files: list[Path], out_dir: Path) -> list[str]:
    """Copy example images into the app's own folder, so the app never serves files from the dataset."""
    folder = out_dir / "examples"
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for f in files:
        target = folder / f"{f.parent.name}_{f.name}"
        shutil.copyfile(f, target)
        copies.append(str(target))
    return copies


def cluster_images(run_dir: Path, domains: list[str]) -> list[Path]:
    """A TUNIT run's representative image per pseudo-domain (``RUN/clusters/clusterK.png``, written in training),
    in cluster order; clusters without one are left out."""
    return [run_dir / "clusters" / f"{d}.png" for d in domains if (run_dir / "clusters" / f"{d}.png").is_file()]


def domain_thumbnails(files: list[Path], copies: list[str], domains: list[str], tunit: bool) -> list[tuple[str, str]]:
    """One ``(copied image, domain)`` per domain for the domain pickers, in domain order: a TUNIT run's cluster
    representative (named after its cluster), else the first example from the domain's folder."""
    first: dict[str, str] = {}
    for f, copy in zip(files, copies):
        first.setdefault(f.stem if tunit else f.parent.name, copy)
    return [(first[d], d) for d in domains if d in first]


def _val_images(data, translator: Translator):
    """The validation images of the app's data set for the style maps, or None when there are none."""
    from i2i.data import DatasetLayoutError, DomainImages

    root = data or translator.cfg.data.root
    try:
        images = DomainImages(root, "val", translator.img_size, progress=False)
    except (DatasetLayoutError, OSError, ValueError) as err:
        log.info("style maps without encoder codes: %s", err)
        return None
    return images if images.domains == translator.domains else None


def stop_on_signals() -> None:
    """Stop on SIGTERM and SIGHUP (how systemd, docker and Kubernetes stop a service, and a closed terminal) as on
    Ctrl+C: Gradio closes its server and the exit handlers, the temporary folder's removal among them, run."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        return
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.default_int_handler)


def session_dir(out_dir: str | Path | None = None) -> Path:
    """A new, empty folder for this app's outputs, the only folder it serves: a fresh subfolder of ``out_dir`` (kept
    after the app stops, earlier sessions' files never served), else a temporary folder removed when the process
    exits (on Ctrl+C, SIGTERM and SIGHUP too)."""
    if out_dir:
        base = Path(out_dir)
        if base.exists() and not base.is_dir():
            raise NotADirectoryError(f"--out-dir {base} is a file, not a folder")
        base.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=time.strftime("session-%Y%m%d-%H%M%S-"), dir=base))
        apply_umask(folder, directory=True)
        return folder
    folder = Path(tempfile.mkdtemp(prefix="i2i-app-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    stop_on_signals()
    return folder


def private_temp(folder: Path) -> None:
    """Send this process's temporary files (Gradio's cache of uploads, the ONNX export's and torch's scratch files)
    to ``folder``, removed at exit, instead of leaving them in the shared ``$TMPDIR`` on every start."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("TMPDIR", "GRADIO_TEMP_DIR"):
        os.environ[name] = str(folder)
    tempfile.tempdir = str(folder)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    stop_on_signals()


def build_demo(checkpoint: str | Path, device: str = "auto", out_dir: str | Path | None = None,
               data: str | Path | None = None, weights_dir: str | None = None, random_weights: bool = False,
               compare: str | Path | None = None, batch: bool = True, backend: str = "auto",
               session: Path | None = None):
    """Load everything the app needs once (a second model for the Compare tab with ``compare``) and return
    ``(blocks, session folder)``; ``batch``: concurrent interpolations are decoded together (:class:`DecodeBatcher`);
    ``backend``: where the generator's decodes run (:mod:`i2i.backends`); ``session``: the folder to serve (default:
    a new one from :func:`session_dir`)."""
    from i2i.app.compare import CompareHandlers
    from i2i.app.ui import build_app

    translator = Translator.load(checkpoint, device, backend)
    net, lpips_weights = build_lpips(random_weights, allow_random_fallback=True, weights_dir=weights_dir)
    distance = LPIPSDistance(net.to(translator.device))
    out_dir = session or session_dir(out_dir)
    handlers = DemoHandlers(translator, distance, lpips_weights, out_dir,
                            DecodeBatcher(translator) if batch else None)
    comparer = None
    if compare:
        names = (resolve_checkpoint(checkpoint)[0].name, resolve_checkpoint(compare)[0].name)
        names = names if names[0] != names[1] else (str(checkpoint), str(compare))
        comparer = CompareHandlers(handlers, Translator.load(compare, device, backend), names,
                                   _val_images(data, translator))
    run_dir, _ = resolve_checkpoint(checkpoint)
    tunit = model_kind(translator.cfg.model).pseudo_domains
    found = (cluster_images(run_dir, translator.domains) if tunit
             else find_examples(data or translator.cfg.data.root, translator.domains))
    examples = copy_examples(found, out_dir)
    thumbs = domain_thumbnails(found, examples, translator.domains, tunit)
    header = (f"# i2i: smooth style interpolation\nModel **{run_dir.name}** ({translator.img_size} px, domains "
              f"{', '.join(translator.domains)}) on `{translator.device}`. Pick a source and two styles: the same "
              "domain gives an intra-domain interpolation, two domains an inter-domain one.")
    if tunit:
        header += ("\n\nTrained without labels (TUNIT): the domains are the guiding network's clusters; the examples "
                   "and the domain pickers' thumbnails are each cluster's most confident validation image.")
    if lpips_weights == RANDOM_WEIGHTS:
        header += (f"\n\n**[{RANDOM_WEIGHTS}]** The LPIPS AlexNet trunk was not found, so Perceptual Smoothness "
                   "scores below use a random trunk (see the README's weights table).")
    if comparer is not None:
        header += f"\n\nCompare tab: **{comparer.names[0]}** (A) against **{comparer.names[1]}** (B)."
    return build_app(handlers, examples, header, comparer, thumbs), out_dir


def launch(checkpoint: str | Path, host: str = "127.0.0.1", port: int | None = None, block: bool = True,
           batch: bool = True, **kwargs):
    """Build the demo, queue its requests and serve it; returns the Blocks. With ``batch`` up to
    ``CONCURRENT_REQUESTS`` requests run at once (their frames decoded together, their files written in parallel);
    without it one at a time."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up probes
    session = session_dir(kwargs.pop("out_dir", None))
    private_temp(session / PRIVATE_TEMP)
    demo, out_dir = build_demo(checkpoint, batch=batch, session=session, **kwargs)
    demo.queue(default_concurrency_limit=CONCURRENT_REQUESTS if batch else 1, max_size=64)
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=True, allowed_paths=[str(out_dir)],
                max_file_size=MAX_UPLOAD_BYTES, ssr_mode=False, show_error=False, quiet=True)
    print(f"i2i app serving {checkpoint} at {demo.local_url} (outputs in {out_dir}; Ctrl+C to stop)", flush=True)
    if block:
        demo.block_thread()
    return demo
