"""``i2i interpolate``: one source from one style to another, as a PNG strip, a GIF or an MP4; ``--compare``
interpolates the same source between the same end styles with a second model, side by side."""
from __future__ import annotations

from pathlib import Path

from i2i.cli.common import (add_align_faces, add_backend, add_checkpoint, add_metric_weights, add_overwrite, bounded,
                            check_outputs, load_inputs, parse_style)


def add_parser(sub):
    p = sub.add_parser("interpolate", help="interpolate one image between two styles: PNG strip, GIF or MP4")
    add_checkpoint(p)
    add_backend(p)
    p.add_argument("--input", required=True, help="source image")
    p.add_argument("--from", dest="start", required=True, metavar="DOMAIN[:SEED|=REF_IMG]", help="start style")
    p.add_argument("--to", dest="end", required=True, metavar="DOMAIN[:SEED|=REF_IMG]", help="end style")
    p.add_argument("--steps", type=bounded(int, 2, 200), default=20, help="frames, both end styles included")
    p.add_argument("--method", choices=["lerp", "slerp"], default="lerp")
    p.add_argument("--out", required=True, help="out.png (strip), out.gif (looping) or out.mp4 (H.264)")
    p.add_argument("--fps", type=bounded(float, 0.1, 120), default=10.0, help="frames per second (0.1-120)")
    p.add_argument("--upscale", type=bounded(int, 1, 32), default=1,
                   help="enlarge small frames in the output by this factor")
    p.add_argument("--compare", metavar="RUN_B", help="a second model (same image size): both interpolations one "
                   "above the other (PNG) or side by side (GIF/MP4), each with its PS, and OUT_steps.png with the "
                   "LPIPS distance of every step per model")
    add_metric_weights(p, "the LPIPS AlexNet weights (PS and step distances of --compare)")
    add_align_faces(p)
    add_overwrite(p)
    return p


def run(args) -> int:
    from i2i.inference import Translator
    from i2i.media import save_frames

    out = Path(args.out)
    check_outputs([out] + ([out.with_name(out.stem + "_steps.png")] if args.compare else []), args.overwrite)
    translator = Translator.load(args.checkpoint, args.device, args.backend)
    start, end = parse_style(args.start), parse_style(args.end)
    source = load_inputs([args.input], args.align_faces, translator.img_size)[0]
    frames, _ = translator.interpolate(source, start, end, args.steps, args.method)
    if args.compare:
        return _compare(args, translator, source, start, end, frames)
    path = save_frames(frames, args.out, fps=args.fps, upscale=args.upscale)
    kind = "intra" if translator.domain_label(start.domain) == translator.domain_label(end.domain) else "inter"
    print(f"{kind}-domain interpolation, {len(frames)} frames: {path}")
    return 0


def _compare(args, translator, source, start, end, frames) -> int:
    """Interpolate with RUN_B too; write both (stacked or side by side), print each PS, plot the step distances."""
    import torch

    from i2i.data.images import to_float
    from i2i.inference import Translator
    from i2i.media import save_frames
    from i2i.plots import line_chart
    from i2i.pretrained import RANDOM_WEIGHTS, build_lpips

    other = Translator.load(args.compare, args.device, args.backend)
    if other.img_size != translator.img_size:
        raise ValueError(f"--compare needs models of one image size: {translator.img_size} and {other.img_size} px")
    frames_b, _ = other.interpolate(source, start, end, args.steps, args.method)
    from i2i.evaluation.perceptual import LPIPSDistance
    from i2i.evaluation.ps import perceptual_smoothness, sequence_distances

    net, provenance = build_lpips(args.random_weights, weights_dir=args.weights_dir)
    distance = LPIPSDistance(net.to(translator.device), "lpips")
    tag = f" [{RANDOM_WEIGHTS}]" if provenance == RANDOM_WEIGHTS else ""
    names = [args.checkpoint, args.compare] if args.checkpoint != args.compare else ["A", "B"]
    steps = {}
    for name, f in zip(names, (frames, frames_b)):
        d, total = sequence_distances(distance, to_float(f)[None].to(translator.device))
        ps = perceptual_smoothness(d, total)
        steps[name] = d[0].tolist()
        print(f"{name}: PS {ps.ps.item():.4f} (alignment {ps.alignment.item():.4f}, uniformity "
              f"{ps.uniformity.item():.4f}){tag}")
    out = Path(args.out)
    if out.suffix.lower() == ".png":
        path = save_frames(torch.cat([frames, frames_b.to(frames.device)]), out, upscale=args.upscale, ncol=len(frames))
    else:
        gap = torch.full_like(frames[..., :2], 255)
        path = save_frames(torch.cat([frames, gap, frames_b.to(frames.device)], -1), out, fps=args.fps,
                           upscale=args.upscale)
    plot = out.with_name(out.stem + "_steps.png")
    line_chart(steps, f"LPIPS between consecutive frames{tag}", "step").save(plot)
    print(f"comparison ({names[0]} above / left, {names[1]} below / right): {path}; step distances: {plot}")
    return 0
