"""``i2i weights``: list the pretrained files the project uses and fetch them (official URLs or a mirror)."""
from __future__ import annotations

import sys


def add_parser(sub):
    p = sub.add_parser("weights", help="list or fetch the pretrained files (LPIPS, Inception, VGGFace2, FAN, ...)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every file: name, where it is looked for, present and verified or not")
    f = actions.add_parser("fetch", help="download files into the folders their libraries read (hash-checked)")
    f.add_argument("names", nargs="*", help="registry names (see `i2i weights list`)")
    f.add_argument("--all", action="store_true", help="every file of the registry")
    f.add_argument("--mirror", help="fetch MIRROR/<file name> instead of the official URL (file:// works; "
                   "default: $I2I_WEIGHTS_MIRROR)")
    return p


def run(args) -> int:
    from i2i.weights import REGISTRY, fetch, status

    if args.action == "list":
        print("| name | file | folder | status | used for | licence |\n|---|---|---|---|---|---|")
        for w in REGISTRY.values():
            print(f"| {w.name} | {w.filename} | {w.folder()} | {status(w)} | {w.used_for} | {w.licence} |")
        return 0
    names = list(REGISTRY) if args.all else args.names
    unknown = [n for n in names if n not in REGISTRY]
    if unknown or not names:
        print(f"error: name files to fetch (or --all); known: {', '.join(REGISTRY)}"
              + (f"; unknown: {', '.join(unknown)}" if unknown else ""), file=sys.stderr)
        return 1
    for name in names:
        print(f"{name}: {fetch(REGISTRY[name], mirror=args.mirror)}")
    return 0
