"""Shared fixtures: a fake embedder for logic tests, the real model once per session."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `tests.support` is imported by module path, here and in subprocesses
    sys.path.insert(0, str(ROOT))
# Subprocesses and Ray workers started by tests import tests.support.fake too.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.embed import ModelSpec, register  # noqa: E402
from tests.support.fake import FakeEmbedder  # noqa: E402

# The fake model is registered as any model is: an index it built loads it by its id.
register(ModelSpec(FakeEmbedder.model_id, FakeEmbedder.dim, FakeEmbedder))
SHARED = ROOT.parent / "shared"
CORPUS = ROOT / "corpus"
SEED_QUESTIONS = SHARED / "eval" / "seed_questions.jsonl"
DATA = Path(__file__).resolve().parent / "data"


# Fixtures that load the real model: a test that uses one (even through another fixture) is `slow`.
REAL_MODEL_FIXTURES = {"real_embedder", "shipped_index"}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `slow` what needs the real model, the browser, or is a benchmark (tests that run the model
    in a subprocess, or start Ray, carry the marker themselves). `-m "not slow"` replaces the default
    `-m "not benchmark"`, so benchmarks are `slow` too: the quick check must not start one."""
    for item in items:
        if (
            REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ()))
            or item.get_closest_marker("browser")
            or item.get_closest_marker("benchmark")
        ):
            item.add_marker(pytest.mark.slow)


def needs_shared(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared data sets live in ../shared beside the project)")


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder():
    """The bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    from qa.embed import load_embedder

    return load_embedder()


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


@pytest.fixture(scope="session")
def shipped_index(tmp_path_factory, real_embedder) -> Path:
    """The shipped corpus built with the real model, once per session (read-only for tests)."""
    from qa import build

    index_dir = tmp_path_factory.mktemp("shipped") / "index"
    build(CORPUS, index_dir, embedder=real_embedder, progress=False)
    return index_dir
