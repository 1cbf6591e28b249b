"""python -m tests.emulator --host 127.0.0.1 --port 5077"""

from __future__ import annotations

import argparse
import logging


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5077, help="0 picks a free port")
    parser.add_argument("--quiet", action="store_true", help="no per-request access log")
    args = parser.parse_args()
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from . import install

    install()
    from .core import serve

    serve(args.host, args.port)


if __name__ == "__main__":
    main()
