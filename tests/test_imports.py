"""Packages imported without an optional dependency qa does not use (qa/imports.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from qa.imports import import_without
from tests.conftest import ROOT


@pytest.fixture
def probe_package(tmp_path, monkeypatch):
    """A package that imports an optional module if it can, as bm25s does with scipy."""
    (tmp_path / "qa_probe_optional.py").write_text("VALUE = 1\n")
    (tmp_path / "qa_probe_pkg.py").write_text(
        "try:\n    import qa_probe_optional\n    HAVE = True\nexcept ImportError:\n    HAVE = False\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in ("qa_probe_pkg", "qa_probe_optional"):
        sys.modules.pop(name, None)


def test_the_optional_module_is_absent_while_the_package_imports_then_importable(probe_package):
    assert import_without("qa_probe_pkg", "qa_probe_optional", "qa_probe_other").HAVE is False
    assert "qa_probe_other" not in sys.modules
    sys.modules.pop("qa_probe_pkg")
    pkg = import_without("qa_probe_pkg", "qa_probe_optional")
    assert pkg.HAVE is False and "qa_probe_optional" not in sys.modules
    import qa_probe_optional  # the mark is gone: an explicit import still works

    assert qa_probe_optional.VALUE == 1
    assert import_without("qa_probe_pkg", "qa_probe_optional") is pkg  # already imported: as it is


def test_an_optional_module_already_imported_is_left_to_the_package(probe_package):
    import qa_probe_optional

    assert import_without("qa_probe_pkg", "qa_probe_optional").HAVE is True
    assert sys.modules["qa_probe_optional"] is qa_probe_optional


def test_bm25_builds_saves_loads_and_searches_without_importing_scipy_or_asyncio(tmp_path):
    """bm25s imports scipy for a matrix backend qa does not use and tqdm.auto (asyncio) for progress bars qa
    turns off: 0.15 s a process. Both stay importable."""
    code = (
        "import sys; from pathlib import Path; from qa.lexical import LexicalIndex; "
        "idx = LexicalIndex.build(['The harbour strike closed the port.', 'Dockers walked out over pay.']); "
        f"idx.save(Path({str(tmp_path / 'bm25')!r})); "
        f"rows, scores = LexicalIndex.load(Path({str(tmp_path / 'bm25')!r})).search('dockers pay', 2); "
        "assert int(rows[0]) == 1 and scores[0] > 0, (rows, scores); "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'asyncio') or m == 'tqdm.auto'); "
        "assert not loaded, loaded; import scipy.sparse, tqdm.auto"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, env=os.environ
    )
    assert out.returncode == 0, out.stderr
