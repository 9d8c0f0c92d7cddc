"""The ``i2i`` command line: one module per subcommand, each with ``add_parser(sub)`` and ``run(args)``."""
from __future__ import annotations

import logging
import sys

from i2i.threads import choose_threads
from i2i.cli import (ablate, app, convert, evaluate, export, interpolate, make_emoji, make_glyphs, make_synthetic,
                     style_map, train, translate, weights)
from i2i.cli.common import Parser, bounded, parse_style  # noqa: F401 (the CLI's public helpers)

COMMANDS = (make_synthetic, make_glyphs, make_emoji, train, evaluate, translate, interpolate, style_map, export,
            convert, ablate, app, weights)


def build_parser() -> Parser:
    """The argument parser of every subcommand."""
    parser = Parser(prog="i2i", description="Smooth multi-domain image-to-image translation "
                                     "(StarGAN v2 + triplet, style-regularisation and content losses).")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub).set_defaults(func=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``i2i`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    threads = choose_threads()
    if threads is not None:
        logging.getLogger(__name__).debug("using %d CPU thread(s) (idle cores; OMP_NUM_THREADS overrides)", threads)
    try:
        return args.func(args)
    except (ValueError, OSError, NotImplementedError, RuntimeError) as err:  # one line; -v for the traceback
        if args.verbose:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
