"""``i2i interpolate``: one source from one style to another, as a PNG strip, a GIF or an MP4."""
from __future__ import annotations

from .common import add_align_faces, add_checkpoint, bounded, load_inputs, parse_style


def add_parser(sub):
    p = sub.add_parser("interpolate", help="interpolate one image between two styles: PNG strip, GIF or MP4")
    add_checkpoint(p)
    p.add_argument("--input", required=True, help="source image")
    p.add_argument("--from", dest="start", required=True, metavar="DOMAIN[:SEED|=REF_IMG]", help="start style")
    p.add_argument("--to", dest="end", required=True, metavar="DOMAIN[:SEED|=REF_IMG]", help="end style")
    p.add_argument("--steps", type=bounded(int, 2, 200), default=20, help="frames, both end styles included")
    p.add_argument("--method", choices=["lerp", "slerp"], default="lerp")
    p.add_argument("--out", required=True, help="out.png (strip), out.gif (looping) or out.mp4 (H.264)")
    p.add_argument("--fps", type=bounded(float, 0.1, 120), default=10.0, help="frames per second (0.1-120)")
    p.add_argument("--upscale", type=bounded(int, 1, 32), default=1,
                   help="enlarge small frames in the output by this factor")
    add_align_faces(p)
    return p


def run(args) -> int:
    from ..inference import Translator
    from ..media import save_frames

    translator = Translator.load(args.checkpoint, args.device)
    start, end = parse_style(args.start), parse_style(args.end)
    source = load_inputs([args.input], args.align_faces, translator.img_size)[0]
    frames, _ = translator.interpolate(source, start, end, args.steps, args.method)
    path = save_frames(frames, args.out, fps=args.fps, upscale=args.upscale)
    kind = "intra" if translator.domain_label(start.domain) == translator.domain_label(end.domain) else "inter"
    print(f"{kind}-domain interpolation, {len(frames)} frames: {path}")
    return 0
