"""One logging set-up for every entry point (the `qa` command and the web server)."""

from __future__ import annotations

import logging
import sys


def setup_logging() -> None:
    """Warnings and errors on stderr as `warning: ...` lines, nothing quieter.

    The handler filters too, not only the root level: some libraries (bm25s) set
    their own loggers to DEBUG. Calling it again changes nothing (basicConfig).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
