"""Builds from the web page: one at a time, in a background thread, while questions keep being answered."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qa.builder import BuildReport, build
from qa.errors import BuildLockedError, QAError

log = logging.getLogger("qa.web")


@dataclasses.dataclass
class BuildState:
    """A snapshot of the background build: its stage and count while it runs, its outcome once done."""

    running: bool = False
    stage: str = ""
    done: int = 0
    total: int = 0
    started: float = 0.0
    finished: float = 0.0
    report: BuildReport | None = None
    error: str | None = None
    locked: bool = False  # the error is another process's build holding the index (try again later)


class BuildFailed(QAError):
    """A build from the web app ended with an error (its message is the reason)."""


class _SmallBatches:
    """Embeds in small slices, so that questions get the (locked) model between two slices of a
    build, and the progress bar moves between the build's own (large) progress reports."""

    def __init__(self, inner: Any, on_slice: Callable[[int], None] | None = None, size: int = 32):
        self.inner, self.size, self.on_slice = inner, size, on_slice
        self.model_id, self.dim = inner.model_id, inner.dim

    def count(self, texts: list[str]) -> list[int]:
        return self.inner.count(texts)

    def embed(self, texts: list[str]):
        import numpy as np

        parts = []
        for i in range(0, len(texts), self.size):
            parts.append(self.inner.embed(texts[i : i + self.size]))
            if self.on_slice:
                self.on_slice(len(parts[-1]))
        return np.concatenate(parts) if parts else self.inner.embed([])


class BuildRunner:
    """Runs qa.build in a background thread; start() refuses a second one while one runs."""

    def __init__(
        self,
        corpus: Path,
        index_dir: Path,
        embedder: Callable[[str | None], Any],
        on_done: Callable[[BuildState], None] | None = None,
    ):
        self.corpus, self.index_dir = corpus, index_dir
        self._embedder = embedder
        self._on_done = on_done
        self._lock = threading.Lock()
        self._state = BuildState()
        self._base = 0  # texts embedded so far in this build (finer than the build's own reports)
        self._thread: threading.Thread | None = None

    def start(self, full: bool = False) -> bool:
        """Start a build in the background; False if one is running already."""
        return self._launch(full, []) is not None

    def run(self, full: bool = False) -> BuildReport:
        """Build now and wait for the outcome (the watcher's way). A build already running is waited for
        first, since it may have read the corpus before the latest change. BuildLockedError if another
        process holds the index, BuildFailed for any other error."""
        while True:
            outcome: list[BuildState] = []
            thread = self._launch(full, outcome)
            if thread is not None:
                thread.join()
                break
            self.wait()
        state = outcome[0]
        if state.locked:
            raise BuildLockedError(state.error or "another build holds the index")
        if state.error or state.report is None:
            raise BuildFailed(state.error or "the build gave no report")
        return state.report

    def _launch(self, full: bool, outcome: list[BuildState]) -> threading.Thread | None:
        """A started build thread that appends its final state to outcome; None if one is running."""
        with self._lock:
            if self._state.running:
                return None
            self._state = BuildState(running=True, stage="starting", started=time.time())
            self._thread = threading.Thread(target=self._run, args=(full, outcome), name="qa-build", daemon=True)
            self._thread.start()
            return self._thread

    def state(self) -> BuildState:
        with self._lock:
            return dataclasses.replace(self._state)

    def wait(self, timeout: float | None = None) -> BuildState:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.state()

    def _progress(self, stage: str, done: int, total: int) -> None:
        with self._lock:
            self._state.stage, self._state.done, self._state.total = stage, done, total
            self._base = done

    def _slice_done(self, n: int) -> None:
        with self._lock:
            if self._state.stage == "embedding":
                self._base += n
                self._state.done = min(self._state.total, self._base)

    def _run(self, full: bool, outcome: list[BuildState]) -> None:
        report, error, locked = None, None, False
        try:
            report = build(
                self.corpus,
                self.index_dir,
                full=full,
                embedder=lambda model_id: _SmallBatches(self._embedder(model_id), self._slice_done),
                progress=False,
                on_progress=self._progress,
            )
        except BuildLockedError as exc:
            error, locked = str(exc), True
        except QAError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown to the user instead of killing the thread silently
            log.exception("build failed")
            error = f"the build failed unexpectedly ({type(exc).__name__}: {exc}); see the server log"
        with self._lock:
            self._state.running, self._state.finished = False, time.time()
            self._state.report, self._state.error, self._state.locked = report, error, locked
            state = dataclasses.replace(self._state)
        outcome.append(state)  # before on_done: run() joins this thread, so it sees the switch done
        if self._on_done:
            self._on_done(state)
