"""Crash safety: `qa build` killed with SIGKILL at every stage never harms the live index.

A build of a few hundred articles is killed at 20+ points: at fractions of
the time it takes to reach its first write (start-up, reading, chunking,
embedding), and on file-system events that mark the later stages (cache reset
of a --full build, each data file of the new generation, the lexical index,
the manifest commit, garbage collection). After each kill the index must load
and answer exactly as before (or, if the kill came after the commit, exactly
as a clean full build of the new corpus), leftovers must not grow from one
crash to the next, and the next `qa build` must complete and equal a clean
full build. The fake embedder (QA_EMBEDDER=tests.support.fake:FakeEmbedder) keeps this under a minute.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from qa import build, store
from qa.manifest import MANIFEST, generation_files, read_manifest
from tests.support.corpus import fingerprint_differences, index_fingerprint, write_synthetic_corpus
from tests.support.fake import FakeEmbedder, fake_env

QUESTIONS = [
    "harbour council budget near article17",
    "ferry orchestra topic3",
    "which inspector delayed the school",
    "article205 bridge railway",
    "the mayor approved the stadium",
]
CORPUS_A = range(0, 200)
CORPUS_B = range(15, 215)
CHANGED_IN_B = {i: 1 for i in range(15, 45)}  # B: 15 deleted, 30 edited, 15 added
MIN_KILLS = 20
POLL = 0.0005

# Later stages, in the order a build reaches them, and how to see each from outside.
EVENTS = (
    "cache_reset",
    "chunks_tmp",
    "chunks_file",
    "vectors_file",
    "dense_file",  # an HNSW graph only: this corpus's flat index is made from the vectors when opened
    "lexical_tmp",
    "lexical_file",
    "manifest_tmp",
    "commit",
)


def qa_env() -> dict:
    return fake_env(dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1"))


def build_cmd(corpus: Path, index: Path, full: bool) -> list[str]:
    cmd = [sys.executable, "-m", "qa", "build", "--corpus", str(corpus), "--index", str(index), "--quiet"]
    return cmd + (["--full"] if full else [])


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


class Watcher:
    """Which stage a running build has reached, judged from the index directory alone."""

    def __init__(self, index: Path):
        self.index = index
        manifest = read_manifest(index)
        self.gen = manifest.generation + 1
        self.manifest_inode = _inode(index / MANIFEST)
        self.cache_inode = _inode(index / store.CACHE)
        self.reached = -1  # index into EVENTS, monotonic
        self.first_write: float | None = None

    def poll(self) -> int:
        names = os.listdir(self.index)
        g = self.gen
        seen = {
            "cache_reset": _inode(self.index / store.CACHE) != self.cache_inode,
            "chunks_tmp": any(n.startswith(f".chunks.{g}.jsonl.") for n in names),
            "chunks_file": f"chunks.{g}.jsonl" in names,
            "vectors_file": f"vectors.{g}.npy" in names,
            "dense_file": f"dense.{g}.faiss" in names,
            "lexical_tmp": any(n.startswith(f".tmp-lexical.{g}.") for n in names),
            "lexical_file": f"lexical.{g}" in names,
            "manifest_tmp": any(n.startswith(".manifest.json.") for n in names),
            "commit": _inode(self.index / MANIFEST) != self.manifest_inode,
        }
        for i, event in enumerate(EVENTS):
            if seen[event]:
                self.reached = max(self.reached, i)
        if self.first_write is None and self.reached >= EVENTS.index("chunks_tmp"):
            self.first_write = time.perf_counter()
        return self.reached


@dataclass
class Plan:
    """Kill after `delay` seconds, or `delay` seconds after the build reaches `event`."""

    label: str
    full: bool
    delay: float
    event: str | None = None


@dataclass
class Outcome:
    plan: Plan
    killed: bool
    stage: str  # the last stage seen when the signal was sent


def run_and_kill(cmd: list[str], index: Path, plan: Plan, timeout: float = 120) -> Outcome:
    watcher = Watcher(index)
    proc = subprocess.Popen(cmd, env=qa_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.perf_counter()
    fire_at = started + plan.delay if plan.event is None else None
    want = EVENTS.index(plan.event) if plan.event else None
    try:
        while proc.poll() is None:
            now = time.perf_counter()
            if now - started > timeout:
                raise AssertionError(f"build did not finish or reach {plan.label} within {timeout}s")
            reached = watcher.poll()
            if fire_at is None and want is not None and reached >= want:
                fire_at = now + plan.delay
            if fire_at is not None and now >= fire_at:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(POLL)
    finally:
        rc = proc.wait()
    stage = EVENTS[watcher.reached] if watcher.reached >= 0 else "before any write"
    return Outcome(plan, rc == -signal.SIGKILL, stage)


def generation_names(gen: int) -> set[str]:
    return set(generation_files(gen).values())


def live_names(index: Path) -> set[str]:
    """What a healthy index directory holds: manifest, lock, cache, the live and the previous generation."""
    m = read_manifest(index).to_dict()
    names = {MANIFEST, store.LOCK, store.CACHE} | generation_names(m["generation"])
    if m.get("previous_generation"):
        names |= generation_names(m["previous_generation"])
    return names


def leftovers(index: Path) -> set[str]:
    """Entries that are not part of a healthy index (SQLite's -wal/-shm side files are the cache's)."""
    names = {n for n in os.listdir(index) if not n.startswith(store.CACHE)}
    return names - live_names(index)


def plans(time_to_write: float) -> list[Plan]:
    """Kill points covering every stage; about half are --full builds (they also re-embed)."""
    out = [
        Plan(f"{frac:.0%} of the way to the first write", full=i % 2 == 1, delay=frac * time_to_write)
        for i, frac in enumerate((0.02, 0.15, 0.3, 0.45, 0.6, 0.75, 0.85, 0.95))
    ]
    out += [
        Plan("embedding, just after the cache reset", True, 0.0, "cache_reset"),
        Plan("embedding, 20 ms after the cache reset", True, 0.02, "cache_reset"),
        Plan("writing the chunk table", False, 0.0, "chunks_tmp"),
        Plan("writing the chunk table (full)", True, 0.002, "chunks_tmp"),
        Plan("chunk table in place", False, 0.0, "chunks_file"),
        Plan("vectors in place", True, 0.0, "vectors_file"),
        Plan("vectors in place, 1 ms on (a flat index writes no FAISS file)", False, 0.001, "vectors_file"),
        Plan("writing the lexical index", True, 0.0, "lexical_tmp"),
        Plan("writing the lexical index, 10 ms in", False, 0.01, "lexical_tmp"),
        Plan("lexical index in place", True, 0.0, "lexical_file"),
        Plan("writing the manifest", False, 0.0, "manifest_tmp"),
        Plan("just after the commit (garbage collection)", True, 0.0, "commit"),
        Plan("2 ms after the commit", False, 0.002, "commit"),
        Plan("vectors in place (full), 3 ms on", True, 0.003, "vectors_file"),
    ]
    # Spare time-based points in case a build outruns an event trigger on a busy machine.
    out += [Plan(f"spare {frac:.0%}", full=True, delay=frac * time_to_write) for frac in (0.5, 0.7, 0.9, 1.0)]
    return out


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("crash")
    write_synthetic_corpus(root / "A", CORPUS_A)
    write_synthetic_corpus(root / "B", CORPUS_B, CHANGED_IN_B)
    return {"A": root / "A", "B": root / "B"}


@pytest.fixture(scope="module")
def references(corpora, tmp_path_factory) -> dict[str, dict]:
    """Fingerprints of clean full builds of each corpus (built in-process, same fake embedder)."""
    out = {}
    for name, corpus in corpora.items():
        ref = tmp_path_factory.mktemp(f"ref{name}") / "index"
        build(corpus, ref, full=True, embedder=FakeEmbedder(), progress=False)
        out[name] = index_fingerprint(ref, QUESTIONS)
    assert fingerprint_differences(out["A"], out["B"]), "the two corpora must index differently"
    return out


@pytest.mark.slow
def test_sigkill_at_every_stage_never_harms_the_index(tmp_path, corpora, references):
    index = tmp_path / "index"
    build(corpora["A"], index, embedder=FakeEmbedder(), progress=False)
    live = "A"
    assert not fingerprint_differences(index_fingerprint(index, QUESTIONS), references[live])
    # A full `qa build`, watched (not killed), calibrates the time-based kill points.
    started = time.perf_counter()
    watcher = Watcher(index)
    proc = subprocess.Popen(
        build_cmd(corpora["B"], index, True), env=qa_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while proc.poll() is None:
        watcher.poll()
        time.sleep(POLL)
    assert proc.returncode == 0
    time_to_write = (watcher.first_write or time.perf_counter()) - started
    live = "B"

    outcomes: list[Outcome] = []
    pending = False  # a killed build not yet followed by a completed one
    completions = 0
    for plan in plans(time_to_write):
        if sum(o.killed for o in outcomes) >= MIN_KILLS + 2:
            break
        target = "A" if live == "B" else "B"
        gen_before = read_manifest(index).generation
        outcome = run_and_kill(build_cmd(corpora[target], index, plan.full), index, plan)
        outcomes.append(outcome)

        # The index loads and answers exactly as before, or exactly as the new corpus if the kill was late.
        gen_after = read_manifest(index).generation
        if gen_after != gen_before:
            assert gen_after == gen_before + 1, plan.label
            live = target
        diffs = fingerprint_differences(index_fingerprint(index, QUESTIONS), references[live])
        assert not diffs, f"after a kill at {plan.label} ({outcome.stage}): {diffs}"

        # Leftovers: at most the unfinished next generation and temporaries (or, killed between the
        # commit and the garbage collection, the generation it was about to remove), never older debris.
        extra = leftovers(index)
        allowed = generation_names(gen_after + 1)
        if gen_after != gen_before:
            allowed |= generation_names(gen_after - 2)
        temps = {e for e in extra if e.startswith(".")}
        assert extra - temps <= allowed, f"after {plan.label}: stale files {sorted(extra - temps - allowed)}"
        assert len(temps) <= 2, f"after {plan.label}: temporaries pile up: {sorted(temps)}"

        # Every other kill is followed by a completed build; the others are followed by another crash.
        # Every third completion is a `qa build` process, the others run in this process (same code, no start-up).
        if pending:
            target = "A" if live == "B" else "B"
            if completions % 3 == 0:
                done = subprocess.run(
                    build_cmd(corpora[target], index, False), env=qa_env(), capture_output=True, text=True, timeout=120
                )
                assert done.returncode == 0, done.stderr
                assert "Traceback" not in done.stderr
            else:
                build(corpora[target], index, embedder=FakeEmbedder(), progress=False)
            completions += 1
            live = target
            diffs = fingerprint_differences(index_fingerprint(index, QUESTIONS), references[live])
            assert not diffs, f"the build after a kill at {plan.label} differs from a clean full build: {diffs}"
            assert leftovers(index) == set(), f"a completed build left {sorted(leftovers(index))}"
            pending = False
        else:
            pending = True

    kills = [o for o in outcomes if o.killed]
    summary = "\n".join(
        f"  {o.plan.label:<45} {'killed' if o.killed else 'finished first'} at {o.stage}" for o in outcomes
    )
    print(f"\n{len(kills)} kills (first write after {time_to_write:.2f}s):\n{summary}")
    assert len(kills) >= MIN_KILLS, summary
    stages = {o.stage for o in kills}
    # The kills really spread over the build: before any write, mid-write, and after the commit.
    assert "before any write" in stages, summary
    assert stages & {"chunks_tmp", "chunks_file", "vectors_file", "dense_file", "lexical_tmp", "lexical_file"}, summary
    assert "commit" in stages, summary


def test_a_crash_during_a_first_build_leaves_no_index_and_the_next_build_works(tmp_path, corpora, references):
    """With no previous index there is nothing to protect, but nothing half-built may look like an index."""
    index = tmp_path / "index"
    index.mkdir()
    proc = subprocess.Popen(
        build_cmd(corpora["A"], index, False), env=qa_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while proc.poll() is None and not any(
        n.startswith(".chunks.1.") or n == "chunks.1.jsonl" for n in os.listdir(index)
    ):
        time.sleep(POLL)
    proc.kill()
    proc.wait()
    ask = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "harbour", "--index", str(index)],
        env=qa_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ask.returncode != 0 and "Traceback" not in ask.stderr
    assert ask.stderr.startswith("error:") and "qa build" in ask.stderr
    done = subprocess.run(build_cmd(corpora["A"], index, False), env=qa_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not fingerprint_differences(index_fingerprint(index, QUESTIONS), references["A"])
    assert leftovers(index) == set()
    shutil.rmtree(index)
