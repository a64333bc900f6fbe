"""A damaged or mismatched index gives one clear error that names the problem and the fix, never a traceback.

Each case is applied to a copy of a good index. `qa ask` runs as a real
subprocess (stderr must be a single "error:" line, exit code non-zero); `qa
build` and `qa status` run through the same CLI entry point in-process (fast),
and `qa build --full` must then repair the index. Property tests feed random
manifest edits and truncations of every data file to the reader.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa import build, cli, store
from qa.config import Config
from qa.errors import IndexFormatError
from qa.index import Index
from qa.manifest import FORMAT_VERSION, MANIFEST
from qa.retriever import Retriever
from tests.support.corpus import fingerprint_differences, index_fingerprint, write_synthetic_corpus
from tests.support.fake import SPEC as FAKE_SPEC
from tests.support.fake import FakeEmbedder, fake_env

FIX = "qa build --full"
QUESTIONS = ["harbour council budget near article7", "ferry orchestra topic3"]


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("corrupt")
    corpus, index = root / "corpus", root / "index"
    write_synthetic_corpus(corpus, range(30))
    build(corpus, index, embedder=FakeEmbedder(), progress=False)
    return {"corpus": corpus, "index": index, "fingerprint": index_fingerprint(index, QUESTIONS)}


def _manifest(d: Path) -> dict:
    return json.loads((d / MANIFEST).read_text(encoding="utf-8"))


def _edit(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(d: Path) -> None:
        m = _manifest(d)
        change(m)
        (d / MANIFEST).write_text(json.dumps(m), encoding="utf-8")

    return apply


def _file(d: Path, key: str) -> Path:
    return d / _manifest(d)["files"][key]


def _truncate(key: str, keep: float) -> Callable[[Path], None]:
    def apply(d: Path) -> None:
        path = _file(d, key)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return apply


# name: (damage, words the error must contain, does a plain `qa build` stop too?)
CASES: dict[str, tuple[Callable[[Path], None], tuple[str, ...], bool]] = {
    # A flat index has no FAISS file: it is made from the vectors, their one copy (HNSW graphs: below).
    "vectors missing": (lambda d: _file(d, "vectors").unlink(), ("vectors.1.npy",), True),
    "manifest names no graph for HNSW": (
        _edit(lambda m: m.update(dense={"type": "hnsw", "metric": "inner_product", "efSearch": 16})),
        ("files.dense",),
        True,
    ),
    "manifest missing": (lambda d: (d / MANIFEST).unlink(), ("manifest.json", "missing"), False),
    "manifest not JSON": (
        lambda d: (d / MANIFEST).write_text('{"format_version": 1, '),
        ("manifest.json", "unreadable"),
        True,
    ),
    "manifest empty": (lambda d: (d / MANIFEST).write_text(""), ("manifest.json", "unreadable"), True),
    "manifest not UTF-8": (lambda d: (d / MANIFEST).write_bytes(b"\xff\xfe{}"), ("manifest.json",), True),
    "manifest is a list": (lambda d: (d / MANIFEST).write_text("[]"), ("manifest.json", "JSON object"), True),
    "manifest lacks files": (_edit(lambda m: m.pop("files")), ("manifest.json", "files"), True),
    "manifest file entry removed": (_edit(lambda m: m["files"].pop("chunks")), ("files.chunks",), True),
    "manifest file points outside": (
        _edit(lambda m: m["files"].update(chunks="../../etc/passwd")),
        ("files.chunks",),
        True,
    ),
    "manifest generation edited": (_edit(lambda m: m.update(generation="two")), ("generation",), True),
    "manifest count edited": (
        _edit(lambda m: m["counts"].update(chunks=m["counts"]["chunks"] + 5)),
        ("counts.chunks",),
        True,
    ),
    "manifest article removed": (
        _edit(lambda m: m["articles"].pop(sorted(m["articles"])[0])),
        ("counts.documents",),
        True,
    ),
    "manifest articles not a map": (_edit(lambda m: m.update(articles=[])), ("articles",), True),
    # Found by the random-edit test below (hypothesis drew skipped=1): it crashed the reader with a TypeError.
    "manifest skipped not a list": (_edit(lambda m: m.update(skipped=1)), ("skipped",), True),
    "manifest skipped line not a number": (
        _edit(lambda m: m.update(skipped=[{"path": "a.txt", "line": "x", "reason": "?"}])),
        ("skipped",),
        True,
    ),
    "chunk table missing": (lambda d: _file(d, "chunks").unlink(), ("chunks.1.jsonl", "missing"), True),
    "chunk table truncated": (_truncate("chunks", 0.9), ("chunks.1.jsonl",), True),
    "chunk offsets missing": (lambda d: _file(d, "chunk_offsets").unlink(), ("chunks.1.offsets.npy",), True),
    "article table missing": (lambda d: _file(d, "articles").unlink(), ("articles.1.jsonl",), True),
    "vectors truncated": (_truncate("vectors", 0.5), ("vectors.1.npy",), True),
    "lexical index missing": (lambda d: shutil.rmtree(_file(d, "lexical")), ("lexical.1",), True),
    "other model": (
        _edit(lambda m: m["model"].update(id="sentence-transformers/all-mpnet-base-v2", dim=768)),
        ("all-mpnet-base-v2", "all-MiniLM-L6-v2"),
        True,
    ),
    "other model, same dimension": (
        _edit(lambda m: m["model"].update(id="BAAI/bge-small-en-v1.5")),
        ("bge-small-en-v1.5",),
        True,
    ),
    "newer format version": (
        _edit(lambda m: m.update(format_version=FORMAT_VERSION + 1)),
        ("format version", str(FORMAT_VERSION + 1)),
        True,
    ),
    "no format version": (_edit(lambda m: m.pop("format_version")), ("format version",), True),
}


@pytest.fixture
def damaged(request, good, tmp_path) -> tuple[Path, tuple[str, ...], bool]:
    damage, words, build_stops = CASES[request.param]
    index = tmp_path / "index"
    shutil.copytree(good["index"], index)
    damage(index)
    return index, words, build_stops


def _one_error_line(stderr: str, words: tuple[str, ...]) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    for word in words:
        assert word in lines[0], f"{word!r} not in: {lines[0]}"
    return lines[0]


def _env() -> dict:
    return fake_env(dict(os.environ, HF_HUB_OFFLINE="1"))


# The list, run as real `qa` processes; every case also runs through the CLI in-process below.
IN_A_SUBPROCESS = [
    "vectors truncated",
    "manifest not JSON",
    "manifest count edited",
    "manifest missing",
    "chunk table missing",
    "other model",
    "newer format version",
]


@pytest.mark.parametrize("damaged", IN_A_SUBPROCESS, indirect=True)
def test_qa_ask_process_gives_one_clear_error(damaged):
    index, words, _ = damaged
    out = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "harbour budget", "--index", str(index)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert out.returncode != 0
    line = _one_error_line(out.stderr, words)
    assert FIX in line
    assert out.stdout == ""


@pytest.mark.parametrize("damaged", list(CASES), indirect=True)
def test_qa_ask_gives_one_clear_error(damaged, capsys, monkeypatch):
    index, words, _ = damaged
    monkeypatch.setenv("QA_EMBEDDER", FAKE_SPEC)
    for extra in ([], ["--json"], ["--mode", "lexical"]):
        code = cli.main(["ask", "harbour budget", "--index", str(index), *extra])
        out = capsys.readouterr()
        assert code != 0 and out.out == ""
        assert FIX in _one_error_line(out.err, words)


@pytest.mark.parametrize("damaged", list(CASES), indirect=True)
def test_qa_build_stops_or_repairs_and_full_build_repairs(damaged, good, capsys, monkeypatch):
    index, words, build_stops = damaged
    monkeypatch.setenv("QA_EMBEDDER", FAKE_SPEC)
    corpus = str(good["corpus"])
    code = cli.main(["build", "--corpus", corpus, "--index", str(index), "--quiet"])
    err = capsys.readouterr().err
    if build_stops:
        # A damaged index is never reported as "unchanged": the build stops and says how to fix it.
        assert code != 0
        assert FIX in _one_error_line(err, words)
        code = cli.main(["status", "--corpus", corpus, "--index", str(index)])
        assert code != 0 and FIX in _one_error_line(capsys.readouterr().err, ())
    else:
        assert code == 0, err
    code = cli.main(["build", "--full", "--corpus", corpus, "--index", str(index), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert fingerprint_differences(index_fingerprint(index, QUESTIONS), good["fingerprint"]) == []


def test_index_path_that_is_a_file(tmp_path, good, capsys, monkeypatch):
    monkeypatch.setenv("QA_EMBEDDER", FAKE_SPEC)
    not_a_dir = tmp_path / "index"
    not_a_dir.write_text("I am a file")
    for args in (["ask", "harbour"], ["build", "--corpus", str(good["corpus"]), "--quiet"]):
        assert cli.main([*args, "--index", str(not_a_dir)]) != 0
        _one_error_line(capsys.readouterr().err, ("index",))
    assert not_a_dir.read_text() == "I am a file"


def test_damaged_embedding_cache_is_dropped_with_a_warning(tmp_path, good, caplog):
    index, corpus = tmp_path / "index", tmp_path / "corpus"
    shutil.copytree(good["index"], index)
    shutil.copytree(good["corpus"], corpus)
    (index / store.CACHE).write_bytes(os.urandom(4096))
    write_synthetic_corpus(corpus, [99])
    report = build(corpus, index, embedder=FakeEmbedder(), progress=False)
    assert report.added == ["article0099.txt"]
    assert any("embedding cache" in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)


def _data_files(index: Path) -> list[str]:
    return sorted(
        str(p.relative_to(index))
        for p in index.rglob("*")
        if p.is_file() and not p.name.startswith((store.CACHE, store.LOCK))
    )


@pytest.mark.parametrize("damage", ["half", "empty", "missing"])
def test_a_damaged_hnsw_graph_gives_one_clear_error(tmp_path, good, damage):
    """An HNSW index's FAISS file holds its graph only; damaged or gone, opening names it and the fix."""
    index = tmp_path / "index"
    build(good["corpus"], index, config=Config(hnsw_threshold=0), embedder=FakeEmbedder(), progress=False)
    graph = _file(index, "dense")
    assert graph.name == "dense.1.faiss" and graph.stat().st_size < _file(index, "vectors").stat().st_size
    if damage == "missing":
        graph.unlink()
    else:
        graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2 if damage == "half" else 0])
    with pytest.raises(IndexFormatError, match="dense.1.faiss") as err:
        Index.open(index)
    assert FIX in str(err.value)


def test_every_truncation_of_every_data_file_is_detected(good, tmp_path):
    """Cut each data file at several points: opening must fail with IndexFormatError, nothing else."""
    names = _data_files(good["index"])
    assert len(names) >= 10
    for name in names:
        size = (good["index"] / name).stat().st_size
        for cut in sorted({0, 1, size // 3, size // 2, size - 1}):
            if cut >= size:
                continue
            index = tmp_path / f"t-{name.replace('/', '_')}-{cut}"
            shutil.copytree(good["index"], index)
            path = index / name
            path.write_bytes(path.read_bytes()[:cut])
            with pytest.raises(IndexFormatError, match="qa build --full"):
                Retriever.load(index, FakeEmbedder()).ask("harbour budget", auto_refresh=False)
            shutil.rmtree(index)


def _paths(value, prefix=()):
    """Every path into a JSON tree (skipping most articles: they all look alike)."""
    yield prefix
    if isinstance(value, dict):
        items = list(value.items())
        if prefix == ("articles",):
            items = items[:2]
        for k, v in items:
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**12) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def scratch(good, tmp_path_factory) -> Path:
    index = tmp_path_factory.mktemp("scratch") / "index"
    shutil.copytree(good["index"], index)
    return index


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_manifest_edits_never_crash_the_reader(good, scratch, data):
    """Any edit of any manifest field: the index opens and answers, or one IndexFormatError. Nothing else."""
    original = _manifest(good["index"])
    manifest = json.loads(json.dumps(original))
    path = data.draw(st.sampled_from([p for p in _paths(original) if p]))
    parent = manifest
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(JSON_VALUES)
    (scratch / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    try:
        index = Index.open(scratch)
    except IndexFormatError as exc:
        assert FIX in str(exc)
        return
    try:
        answer = Retriever(index, FakeEmbedder()).ask("harbour budget", auto_refresh=False)
        assert answer.passages
    except IndexFormatError as exc:
        assert FIX in str(exc)
    finally:
        index.close()
