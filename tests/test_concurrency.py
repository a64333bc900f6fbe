"""Concurrent use: builds exclude each other with a lock; readers keep answering through rebuilds.

Builds run as real `qa build` processes (fake embedder via QA_EMBEDDER, tests.support.fake.fake_env);
readers are in this process, as in the web app.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
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


def qa_popen(*args: str, command: tuple[str, ...] = ("-m", "qa"), stderr=subprocess.PIPE) -> subprocess.Popen:
    env = fake_env(dict(os.environ, HF_HUB_OFFLINE="1"))
    return subprocess.Popen(
        [sys.executable, *command, *args], env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
    )


# `qa` (its CLI, as `python -m qa` runs it) that prints its Python stack to stderr on SIGUSR1.
QA_SHOWING_ITS_STACK = (
    "-c",
    "import faulthandler, signal, sys; faulthandler.register(signal.SIGUSR1); print('ready', flush=True); "
    "from qa.cli import main; sys.exit(main(sys.argv[1:]))",
)


def wait_until_blocked_on_the_lock(proc: subprocess.Popen, stderr: Path, deadline_s: float = 120) -> None:
    """Ask the process for its stack until it shows it waiting inside the build lock's acquire.

    Proof by what the process is doing, not by how long it has not finished. Fails at once if it
    ends or starts building instead; the deadline only keeps a broken build from hanging the suite.
    """
    assert proc.stdout.readline().strip() == "ready"  # the SIGUSR1 handler is in place
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the waiting build ended while the lock was held:\n{stderr.read_text()}"
        dumps = re.split(r"\n(?=(?:Current thread|Thread) 0x)", stderr.read_text(errors="replace"))
        assert not any(" in _build_locked" in d for d in dumps), "the waiting build ran while the lock was held"
        if any(" in locked_index" in d and "/filelock/" in d for d in dumps):
            return
        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.1)  # polling interval for the next stack dump, not a proof of anything
    raise AssertionError(f"the waiting build never reached the build lock:\n{stderr.read_text()}")


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
    """The waiting build is seen blocked on the lock, and it reads the corpus only after the release:
    the holder turns the corpus from A into B just before it releases, and the index must come out as B."""
    index, corpus = tmp_path / "index", tmp_path / "corpus"
    build(corpora["A"], index, embedder=FakeEmbedder(), progress=False)
    shutil.copytree(corpora["A"], corpus)
    stderr = tmp_path / "waiting.stderr"
    lock = FileLock(str(index / store.LOCK))
    lock.acquire()
    try:
        with open(stderr, "w") as err:
            args = ["build", "--corpus", str(corpus), "--index", str(index), "--quiet", "--wait", "120"]
            waiting = qa_popen(*args, command=QA_SHOWING_ITS_STACK, stderr=err)
        wait_until_blocked_on_the_lock(waiting, stderr)
        assert read_manifest(index).generation == 1
        shutil.rmtree(corpus)  # the holder's last act before it releases
        shutil.copytree(corpora["B"], corpus)
    finally:
        lock.release()
    waiting.communicate(timeout=120)
    assert waiting.returncode == 0, stderr.read_text()
    assert read_manifest(index).generation == 2
    assert fingerprint_differences(index_fingerprint(index, QUESTIONS), references["B"]) == []


@pytest.mark.slow
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


@pytest.mark.slow
def test_readers_keep_answering_during_rebuilds_and_then_see_the_new_articles(tmp_path, corpora):
    """Questions in a loop from a long-lived retriever (like the web app) and from fresh ones (like `qa ask`)."""
    index = tmp_path / "index"
    build(corpora["A"], index, embedder=FakeEmbedder(), progress=False)
    shared = Retriever.load(index, FakeEmbedder())
    assert not any(NEW_IN_B in p.text for p in shared.ask(f"{NEW_IN_B} report", k=5).passages)
    fds_before = psutil.Process().num_fds()

    errors: list[str] = []
    asked = [0]
    kinds = (False, False, True)  # two threads share the long-lived retriever, one opens a fresh one each time
    generations: list[set[int]] = [set() for _ in kinds]  # what each reader has answered from
    stop = threading.Event()

    def reader(n: int, fresh: bool) -> None:
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
                generations[n].add(r.index.generation)
                if fresh:
                    r.index.close()
                asked[0] += 1
                time.sleep(0.005)  # leave the build some CPU
            except Exception as exc:  # noqa: BLE001 - any failure is what this test counts
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=reader, args=(n, fresh)) for n, fresh in enumerate(kinds)]
    for t in threads:
        t.start()
    try:
        # Several rebuilds in a row, alternating corpora, --full every other time: each commit retires
        # a generation that a reader may still hold. Every reader must answer from each new generation.
        for n, target in enumerate(["B", "A", "B"]):
            args = ["build", "--corpus", str(corpora[target]), "--index", str(index), "--quiet"]
            out = qa(*args, *(["--full"] if n % 2 else []))
            assert out.returncode == 0, out.stderr
            deadline = time.monotonic() + 60  # against a hang only
            while not all(n + 2 in seen for seen in generations) and not errors and time.monotonic() < deadline:
                time.sleep(0.01)
            assert errors == [], errors[:5]
            assert all(n + 2 in seen for seen in generations), f"generation {n + 2} not seen by all: {generations}"
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert errors == [], errors[:5]
    print(f"{asked[0]} questions asked during the rebuilds, from generations {generations}")
    assert read_manifest(index).generation == 4

    # The long-lived retriever switches to the new generation on its own, and finds the new articles.
    answer = shared.ask(f"{NEW_IN_B} report", k=5)
    assert shared.index.generation == 4
    assert answer.passages[0].article_id == NEW_ID and NEW_IN_B in answer.passages[0].text
    # Retired generations are released, not kept open: file descriptors do not pile up.
    assert psutil.Process().num_fds() <= fds_before + 6
