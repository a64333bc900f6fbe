"""The small corpus the watcher tests (tests/test_watch.py, tests/test_ui_ingest.py) change under a watcher."""

from __future__ import annotations

from pathlib import Path

HARBOUR = "Harbour news\n\nThe harbour of Deltaport reopened on Monday after two years of repairs.\n"
LIGHTHOUSE = "Lighthouse keeper\n\nThe lighthouse keeper of Epsilon Point retired after forty winters on the rock.\n"
LIGHTHOUSE2 = "Lighthouse keeper\n\nThe lighthouse on Epsilon Point is now run by a robot named Zephyrine.\n"


def make_corpus(tmp_path: Path) -> Path:
    """tmp_path/corpus holding one article, harbour.txt."""
    path = tmp_path / "corpus"
    path.mkdir()
    (path / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    return path
