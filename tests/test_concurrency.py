"""Concurrent use: builds exclude each other with a lock; readers keep answering through rebuilds.

Builds run as real `qa build` processes (fake embedder via QA_EMBEDDER, tests.support.fake.fake_env);
readers are in this process, as in the web app.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from filelock import FileLock

from qa import build, store
from qa.errors import BuildLockedError
from qa.manifest import read_manifest
from qa.retriever import Retriever
from tests.support.corpus import fingerprint_differences, index_fingerprint, write_synthetic_corpus
from tests.support.fake import FakeEmbedder, fake_env

QUESTIONS = ["harbour council budget near article17", "ferry orchestra topic3", "the mayor approved the stadium"]
CORPUS_A = range(0, 120)
CORPUS_B = range(10, 140)  # 10 deleted, 20 added (article120..article139)
NEW_IN_B = "article133"  # a word only in the text of article0133.txt
NEW_ID = "article0133.txt"


def qa(*args: str, **kw) -> subprocess.CompletedProcess:
    env = fake_env(dict(os.environ, HF_HUB_OFFLINE="1"))
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], env=env, capture_output=True, text=True, timeout=180, **kw
    )


def qa_popen(*args: str) -> subprocess.Popen:
    env = fake_env(dict(os.environ, HF_HUB_OFFLINE="1"))
    return subprocess.Popen(
        [sys.executable, "-m", "qa", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("conc")
    write_synthetic_corpus(root / "A", CORPUS_A)
    write_synthetic_corpus(root / "B", CORPUS_B)
    return {"A": root / "A", "B": root / "B"}


@pytest.fixture(scope="module")
def references(corpora, tmp_path_factory) -> dict[str, dict]:
    out = {}
    for name, corpus in corpora.items():
        ref = tmp_path_factory.mktemp(f"ref{name}") / "index"
        build(corpus, ref, full=True, embedder=FakeEmbedder(), progress=False)
        out[name] = index_fingerprint(ref, QUESTIONS)
    return out


def _stray_files(index: Path) -> list[str]:
    return sorted(n for n in os.listdir(index) if n.startswith(".") or ".tmp" in n)


def test_a_second_build_stops_with_a_clear_message_while_one_runs(tmp_path, corpora, references):
    index = tmp_path / "index"
    build(corpora["A"], index, embedder=FakeEmbedder(), progress=False)
    before = index_fingerprint(index, QUESTIONS)
    lock = FileLock(str(index / store.LOCK))
    with lock:  # another build holds the index
        out = qa("build", "--corpus", str(corpora["B"]), "--index", str(index), "--quiet")
        assert out.returncode != 0
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: another build is running"), out.stderr
        assert "Traceback" not in out.stderr
        with pytest.raises(BuildLockedError, match="another build is running"):
            build(corpora["B"], index, embedder=FakeEmbedder(), progress=False, lock_timeout=0.2)
    assert fingerprint_differences(index_fingerprint(index, QUESTIONS), before) == []
    assert _stray_files(index) == []


def test_build_with_wait_runs_once_the_other_build_is_done(tmp_path, corpora, references):
    index = tmp_path / "index"
    build(corpora["A"], index, embedder=FakeEmbedder(), progress=False)
    lock = FileLock(str(index / store.LOCK))
    lock.acquire()
    try:
        waiting = qa_popen("build", "--corpus", str(corpora["B"]), "--index", str(index), "--quiet", "--wait", "60")
        time.sleep(2.0)
        assert waiting.poll() is None, "the waiting build must not run while the lock is held"
        assert read_manifest(index).generation == 1
    finally:
        lock.release()
    _, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert fingerprint_differences(index_fingerprint(index, QUESTIONS), references["B"]) == []


def test_two_builds_started_together_never_corrupt_the_index(tmp_path, corpora, references):
    index = tmp_path / "index"
    build(corpora["A"], index, embedder=FakeEmbedder(), progress=False)
    for round_, wait in enumerate((None, "60")):
        target = "B" if round_ == 0 else "A"
        args = ["build", "--corpus", str(corpora[target]), "--index", str(index), "--quiet", "--full"]
        procs = [qa_popen(*args, *(["--wait", wait] if wait else [])) for _ in range(2)]
        results = [(p, *p.communicate(timeout=180)) for p in procs]
        codes = [p.returncode for p, _, _ in results]
        assert 0 in codes
        for p, _, err in results:
            assert "Traceback" not in err
            if p.returncode != 0:
                assert wait is None and err.startswith("error: another build is running"), err
        if wait:
            assert codes == [0, 0], "with --wait both builds run, one after the other"
        assert fingerprint_differences(index_fingerprint(index, QUESTIONS), references[target]) == []
        assert _stray_files(index) == []


def test_readers_keep_answering_during_rebuilds_and_then_see_the_new_articles(tmp_path, corpora):
    """Questions in a loop from a long-lived retriever (like the web app) and from fresh ones (like `qa ask`)."""
    index = tmp_path / "index"
    build(corpora["A"], index, embedder=FakeEmbedder(), progress=False)
    shared = Retriever.load(index, FakeEmbedder())
    assert not any(NEW_IN_B in p.text for p in shared.ask(f"{NEW_IN_B} report", k=5).passages)
    fds_before = psutil.Process().num_fds()

    errors: list[str] = []
    asked = [0]
    generations: set[int] = set()
    stop = threading.Event()

    def reader(fresh: bool) -> None:
        embedder = FakeEmbedder()
        i = 0
        while not stop.is_set():
            q = QUESTIONS[i % len(QUESTIONS)]
            i += 1
            try:
                r = Retriever.load(index, embedder) if fresh else shared
                answer = r.ask(q, k=5)
                if not answer.passages:
                    errors.append(f"no passages for {q!r}")
                generations.add(r.index.generation)
                if fresh:
                    r.index.close()
                asked[0] += 1
                time.sleep(0.005)  # leave the build some CPU
            except Exception as exc:  # noqa: BLE001 - any failure is what this test counts
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=reader, args=(fresh,)) for fresh in (False, False, True)]
    for t in threads:
        t.start()
    try:
        # Several rebuilds in a row, alternating corpora, --full every other time: each commit retires
        # a generation that a reader may still hold.
        for n, target in enumerate(["B", "A", "B"]):
            args = ["build", "--corpus", str(corpora[target]), "--index", str(index), "--quiet"]
            out = qa(*args, *(["--full"] if n % 2 else []))
            assert out.returncode == 0, out.stderr
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert errors == [], errors[:5]
    print(f"{asked[0]} questions asked during the rebuilds, on generations {sorted(generations)}")
    assert asked[0] >= 20, f"only {asked[0]} questions were asked during the rebuilds"
    assert read_manifest(index).generation == 4
    assert len(generations) >= 3, f"the readers saw only generations {sorted(generations)}"

    # The long-lived retriever switches to the new generation on its own, and finds the new articles.
    answer = shared.ask(f"{NEW_IN_B} report", k=5)
    assert shared.index.generation == 4
    assert answer.passages[0].article_id == NEW_ID and NEW_IN_B in answer.passages[0].text
    # Retired generations are released, not kept open: file descriptors do not pile up.
    assert psutil.Process().num_fds() <= fds_before + 6
