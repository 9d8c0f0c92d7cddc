"""The ``i2i`` command line: one subcommand per job."""
from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

MAX_SEED = 2**31 - 1


def bounded(kind: type, low: float, high: float):
    """An argparse type: ``kind`` (int or float) in ``[low, high]``, with a message naming the accepted range."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expects {'a whole number' if kind is int else 'a number'}, got {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}, got {text}")
        return value
    return parse


class Parser(argparse.ArgumentParser):
    """argparse with exit status 1 for usage errors, like every other error of the CLI."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def _make_synthetic(args) -> int:
    from .data import make_synthetic

    out = make_synthetic(args.out, num_train=args.num_train, num_val=args.num_val, size=args.size, seed=args.seed)
    print(f"wrote synthetic dataset to {out} (manifest: {out / 'manifest.csv'})")
    return 0


def _train(args) -> int:
    from .config import load_config
    from .training import train

    run_dir = Path(args.run_dir)
    config_path = args.config
    if args.resume and config_path is None and (run_dir / "config.yaml").exists():
        config_path = run_dir / "config.yaml"
    if config_path is None:
        print("error: --config is required (e.g. configs/synthetic.yaml)", file=sys.stderr)
        return 2
    cfg = load_config(config_path, args.set)
    final = train(cfg, run_dir, resume=args.resume, progress=not args.no_progress)
    print(f"checkpoint: {final}")
    print(f"sample grids: {run_dir / 'samples'}")
    return 0


def _comma_list(text: str | None) -> tuple[str, ...] | None:
    return tuple(t.strip() for t in text.split(",") if t.strip()) if text else None


def _eval(args) -> int:
    from evaluation import EvalSettings, evaluate, write_report
    from evaluation.report import task_table

    settings = EvalSettings(
        checkpoint=args.checkpoint, data=args.data, metrics=_comma_list(args.metrics), tasks=_comma_list(args.tasks),
        num_sources=args.num_sources,
        steps=args.steps, include_end=args.frames == "endpoints", mode=args.mode, distance=args.distance,
        num_outs=args.num_outs, fid_protocol=args.fid_protocol, real_split=args.real_split,
        batch_size=args.batch_size, seed=args.seed, weights_dir=args.weights_dir,
        random_weights=args.random_weights, device=args.device, stats_cache=args.stats_cache,
        save_images=args.save_images, progress=not args.no_progress)
    report = evaluate(settings)
    json_path, md_path = write_report(report, args.out)
    print(task_table(report))
    for note in report["notes"]:
        print(f"note: {note}")
    print(f"report: {json_path} and {md_path}")
    return 0


def parse_style(text: str, center_crop: bool = True):
    """``DOMAIN``, ``DOMAIN:SEED`` or ``DOMAIN=REFERENCE_IMAGE`` -> StyleSpec (seed 0 by default)."""
    from .inference import StyleSpec

    if "=" in text:
        domain, reference = text.split("=", 1)
        if not Path(reference).is_file():
            raise FileNotFoundError(f"reference image {reference} does not exist")
        return StyleSpec(domain, reference=reference, center_crop=center_crop)
    domain, _, seed = text.partition(":")
    if seed and not seed.lstrip("-").isdigit():
        raise ValueError(f"bad style {text!r}: expected DOMAIN, DOMAIN:SEED or DOMAIN=REFERENCE_IMAGE")
    return StyleSpec(domain, seed=int(seed or 0), center_crop=center_crop)


def _input_images(path: str) -> list[Path]:
    from .data.images import IMG_EXTENSIONS

    p = Path(path)
    if not p.is_dir():
        if not p.is_file():
            raise FileNotFoundError(f"no input image at {path}")
        return [p]
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMG_EXTENSIONS)
    readable = [f for f in files if _decodes(f)]
    if not readable:
        raise FileNotFoundError(f"no readable image in {path} ({len(files)} file(s) with an image extension)")
    return readable


def _decodes(path: Path) -> bool:
    """Whether PIL decodes ``path``; a logged skip otherwise (one bad file does not abort a folder)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
        return True
    except Exception as err:  # PIL raises many types for bad files
        logging.getLogger("i2i").warning("skipping unreadable image %s (%s: %s)", path, type(err).__name__, err)
        return False


def _translate(args) -> int:
    from PIL import Image

    from .inference import StyleSpec, Translator
    from .media import grid_image, save_png

    translator = Translator.load(args.checkpoint, args.device)
    files = _input_images(args.input)
    out = Path(args.out)
    if args.grid:
        specs = [StyleSpec(args.domain, reference=r) for r in args.reference] or \
            [StyleSpec(args.domain, seed=args.seed + k) for k in range(args.grid_seeds)]
        cells = translator.translation_grid(files, specs)
        path = out if out.suffix == ".png" else out / f"grid_{args.domain}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid_image(cells, ncol=len(specs) + 1)).save(path)
        print(f"grid ({len(files)} sources x {len(specs)} styles): {path}")
        return 0
    if len(args.reference) > 1:
        raise ValueError("one --reference per translation; pass several only with --grid")
    spec = StyleSpec(args.domain, seed=args.seed, reference=args.reference[0] if args.reference else None)
    images = translator.translate(files, spec)
    out.mkdir(parents=True, exist_ok=True)
    for f, image in zip(files, images):
        save_png(image, out / f"{f.stem}_to_{args.domain}.png")
    print(f"wrote {len(files)} translation(s) to {out}")
    return 0


def _interpolate(args) -> int:
    from .inference import Translator
    from .media import save_frames

    translator = Translator.load(args.checkpoint, args.device)
    start, end = parse_style(args.start), parse_style(args.end)
    frames, _ = translator.interpolate(args.input, start, end, args.steps, args.method)
    path = save_frames(frames, args.out, fps=args.fps, upscale=args.upscale)
    kind = "intra" if translator.domain_label(start.domain) == translator.domain_label(end.domain) else "inter"
    print(f"{kind}-domain interpolation, {len(frames)} frames: {path}")
    return 0


def _convert(args) -> int:
    from .convert import convert_stargan_v2

    out = convert_stargan_v2(args.checkpoint, args.out, wing=args.wing, domains=_comma_list(args.domains))
    print(f"run directory: {out} (try: i2i app --checkpoint {out})")
    return 0


def _ablate(args) -> int:
    from evaluation import EvalSettings
    from evaluation.ablate import ABLATION_METRICS, VARIANTS, ablate

    variants = list(_comma_list(args.variants) or VARIANTS)
    settings = EvalSettings(checkpoint="", data="", metrics=_comma_list(args.metrics) or ABLATION_METRICS,
                            num_sources=args.num_sources,
                            steps=args.steps, num_outs=args.num_outs, weights_dir=args.weights_dir,
                            random_weights=args.random_weights, device=args.device)
    result = ablate(args.config, args.out, variants, args.seeds, args.set, settings.validate(),
                    progress=not args.no_progress)
    print((Path(args.out) / "ablation.md").read_text())
    print(f"table: {Path(args.out) / 'ablation.json'}, strip: {result['strip']}")
    return 0


def _app(args) -> int:
    from app import launch

    launch(args.checkpoint, host=args.host, port=args.port, device=args.device, out_dir=args.out_dir,
           data=args.data, weights_dir=args.weights_dir, random_weights=args.random_weights)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = Parser(prog="i2i", description="Smooth multi-domain image-to-image translation "
                                     "(StarGAN v2 + triplet, style-regularisation and content losses).")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("make-synthetic", help="generate the procedural multi-domain demo dataset")
    p.add_argument("--out", required=True, help="output folder (gets train/ and val/ in StarGAN v2 layout)")
    p.add_argument("--num-train", type=bounded(int, 1, 10**6), default=200, help="training images per domain")
    p.add_argument("--num-val", type=bounded(int, 1, 10**6), default=32, help="validation images per domain")
    p.add_argument("--size", type=bounded(int, 8, 4096), default=64, help="image side in pixels")
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0)
    p.set_defaults(func=_make_synthetic)

    p = sub.add_parser("train", help="train a model (or continue one with --resume)")
    p.add_argument("--config", help="YAML config (configs/*.yaml); with --resume defaults to RUN_DIR/config.yaml")
    p.add_argument("--run-dir", required=True, help="run directory: config, checkpoints, logs, sample grids")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.total_iters=500 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from the run directory's latest checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="FID, LPIPS diversity, FRD and Perceptual Smoothness of a trained model")
    p.add_argument("--checkpoint", required=True, help="run directory, checkpoint folder or nets_ema.safetensors")
    p.add_argument("--data", required=True, help="dataset root in StarGAN v2 layout (sources from val/)")
    p.add_argument("--metrics", help="comma list from fid,lpips,ps,frd,content,domain_acc (default: fid,lpips,ps,"
                   "domain_acc; frd for face models; content when DATA has a manifest.csv)")
    p.add_argument("--tasks", help="comma list of src2trg tasks, e.g. cat2dog,dog2cat (default: every pair)")
    p.add_argument("--num-sources", type=bounded(int, 1, 10**7), help="source images per domain (default: all of val/)")
    p.add_argument("--steps", type=bounded(int, 2, 200), default=20, help="frames per interpolation (default 20)")
    p.add_argument("--frames", choices=["endpoints", "authors"], default="endpoints",
                   help="alphas t/(F-1) with both end points (paper text) or t/F (authors' PS script)")
    p.add_argument("--mode", choices=["latent", "reference"], default="latent", help="where style codes come from")
    p.add_argument("--distance", choices=["lpips", "sqrt-lpips"], default="lpips", help="PS distance")
    p.add_argument("--num-outs", type=bounded(int, 2, 1000), default=10, help="translations per source (LPIPS, FRD)")
    p.add_argument("--fid-protocol", choices=["interpolation", "translation"], default="interpolation",
                   help="FID on interpolation frames (paper) or on random translations (StarGAN v2)")
    p.add_argument("--real-split", default="train", help="split holding FID's real images (default train)")
    p.add_argument("--batch-size", type=bounded(int, 1, 65536), default=40, help="images per generator forward")
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0)
    p.add_argument("--out", default="eval/report.json", help="JSON report (Markdown written next to it)")
    p.add_argument("--weights-dir", help="folder holding pretrained metric weights (Inception, AlexNet, VGGFace2)")
    p.add_argument("--random-weights", action="store_true",
                   help="random metric networks: every number is labelled random-weights")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--stats-cache", help="folder for cached real-image FID statistics ('' disables)")
    p.add_argument("--save-images", help="also write every generated image under this folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_eval)

    p = sub.add_parser("translate", help="translate images to a domain (seed or reference style), or a grid")
    p.add_argument("--checkpoint", required=True, help="run directory, checkpoint folder or nets_ema.safetensors")
    p.add_argument("--input", required=True, help="an image or a folder of images")
    p.add_argument("--domain", required=True, help="target domain name")
    p.add_argument("--reference", action="append", default=[], help="reference image (repeat for --grid columns)")
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0, help="mapping-network seed when no reference is given")
    p.add_argument("--grid", action="store_true", help="one PNG: sources x references (or x seeds)")
    p.add_argument("--grid-seeds", type=bounded(int, 1, 64), default=4, help="columns of a grid without references")
    p.add_argument("--out", required=True, help="output folder (or .png file for --grid)")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=_translate)

    p = sub.add_parser("interpolate", help="interpolate one image between two styles: PNG strip, GIF or MP4")
    p.add_argument("--checkpoint", required=True, help="run directory, checkpoint folder or nets_ema.safetensors")
    p.add_argument("--input", required=True, help="source image")
    p.add_argument("--from", dest="start", required=True, metavar="DOMAIN[:SEED|=REF_IMG]", help="start style")
    p.add_argument("--to", dest="end", required=True, metavar="DOMAIN[:SEED|=REF_IMG]", help="end style")
    p.add_argument("--steps", type=bounded(int, 2, 200), default=20, help="frames, both end styles included")
    p.add_argument("--method", choices=["lerp", "slerp"], default="lerp")
    p.add_argument("--out", required=True, help="out.png (strip), out.gif (looping) or out.mp4 (H.264)")
    p.add_argument("--fps", type=bounded(float, 0.1, 120), default=10.0, help="frames per second (0.1-120)")
    p.add_argument("--upscale", type=bounded(int, 1, 32), default=1, help="enlarge small frames in the output by this factor")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=_interpolate)

    p = sub.add_parser("convert", help="turn a released StarGAN v2 (or the paper's) checkpoint into a run directory")
    p.add_argument("--from", dest="format", choices=["stargan-v2"], required=True, help="checkpoint format")
    p.add_argument("checkpoint", help="{step}_nets_ema.ckpt (a sibling {step}_nets.ckpt adds D) or {step}_nets.ckpt")
    p.add_argument("--wing", help="FAN weights wing.ckpt (needed by face models, w_hpf > 0)")
    p.add_argument("--out", required=True, help="new run directory")
    p.add_argument("--domains", help="comma list of domain names in label order (default: the released "
                   "models' female,male / cat,dog,wild when the shapes match, else domain0,...)")
    p.set_defaults(func=_convert)

    p = sub.add_parser("ablate", help="the paper's ablation (Table 4): train and evaluate each loss variant")
    p.add_argument("--config", required=True, help="YAML config every variant starts from")
    p.add_argument("--out", required=True, help="folder: one run per variant and seed, ablation.{md,json,png}")
    p.add_argument("--variants", help="comma list from baseline,tri,sr,tri_sr,full (default: all five)")
    p.add_argument("--seeds", type=bounded(int, 1, 100), default=3, help="seeds per variant (train.seed + 0, 1, ...)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override for every variant")
    p.add_argument("--metrics", help="comma list of eval metrics (default: fid,lpips,ps,content,domain_acc)")
    p.add_argument("--num-sources", type=bounded(int, 1, 10**7), default=16, help="validation sources per domain in the evaluation")
    p.add_argument("--steps", type=bounded(int, 2, 200), default=10, help="frames per interpolation in the evaluation")
    p.add_argument("--num-outs", type=bounded(int, 2, 1000), default=4, help="translations per source in the evaluation")
    p.add_argument("--weights-dir", help="folder holding pretrained metric weights")
    p.add_argument("--random-weights", action="store_true", help="random metric networks (labelled random-weights)")
    p.add_argument("--device", default="auto")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_ablate)

    p = sub.add_parser("app", help="serve the Gradio interpolation app for a run")
    p.add_argument("--checkpoint", required=True, help="run directory, checkpoint folder or nets_ema.safetensors")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=bounded(int, 1, 65535), help="port (default: the first free one from 7860)")
    p.add_argument("--data", help="dataset root for example images (default: the run's data.root)")
    p.add_argument("--out-dir", help="folder for the app's outputs (default: a fresh temporary folder)")
    p.add_argument("--weights-dir", help="folder holding the LPIPS AlexNet weights (for the PS score)")
    p.add_argument("--random-weights", action="store_true", help="random LPIPS trunk; PS labelled random-weights")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=_app)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``i2i`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, OSError, NotImplementedError, RuntimeError) as err:  # one line; -v for the traceback
        if args.verbose:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
