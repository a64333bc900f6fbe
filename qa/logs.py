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


class _InfoHandler(logging.StreamHandler):
    """INFO lines of one logger on stderr, as they are; warnings and errors stay with the root handler."""

    def __init__(self):
        super().__init__(sys.stderr)
        self.setLevel(logging.INFO)
        self.addFilter(lambda record: record.levelno < logging.WARNING)


def show_info(name: str) -> None:
    """Also print one logger's INFO lines (e.g. `qa build`'s "embedding ..." line when the model loads)."""
    logger = logging.getLogger(name)
    if not any(isinstance(h, _InfoHandler) for h in logger.handlers):
        logger.addHandler(_InfoHandler())
    logger.setLevel(logging.INFO)
