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
from qa.errors import QAError

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
        with self._lock:
            if self._state.running:
                return False
            self._state = BuildState(running=True, stage="starting", started=time.time())
            self._thread = threading.Thread(target=self._run, args=(full,), name="qa-build", daemon=True)
            self._thread.start()
            return True

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

    def _run(self, full: bool) -> None:
        report, error = None, None
        try:
            report = build(
                self.corpus,
                self.index_dir,
                full=full,
                embedder=lambda model_id: _SmallBatches(self._embedder(model_id), self._slice_done),
                progress=False,
                on_progress=self._progress,
            )
        except QAError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown to the user instead of killing the thread silently
            log.exception("build failed")
            error = f"the build failed unexpectedly ({type(exc).__name__}: {exc}); see the server log"
        with self._lock:
            self._state.running, self._state.finished = False, time.time()
            self._state.report, self._state.error = report, error
            state = dataclasses.replace(self._state)
        if self._on_done:
            self._on_done(state)
