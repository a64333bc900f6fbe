"""The corpus watcher inside the web app (`--watch`): qa.watch.CorpusWatcher, building through the app.

Its builds go through the app's BuildRunner, so they show the same progress
banner as a Rebuild click, embed in small slices between questions, take
turns with a click, and switch the shared retriever when they commit. What
the last build and the last feed sync did (or why they failed) is kept for
the index panel.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from qa.builder import BuildReport
from qa.feeds import FeedReport
from qa.fetch import FetchOptions
from qa.watch import DEFAULT_DEBOUNCE, CorpusWatcher
from qa.web.builds import BuildFailed, BuildRunner

MAX_SHOWN = 5  # ids or failures listed per kind in the panel


@dataclass(frozen=True)
class Outcome:
    """One build or feed sync the watcher ran: when it ended, what it did, or why it failed."""

    at: float  # time.time() when it ended
    summary: str = ""  # what changed, as the command line says it
    error: str | None = None
    details: tuple[str, ...] = ()  # what was added/changed/deleted/skipped, or which feeds failed and why


@dataclass(frozen=True)
class WatchState:
    """What the index panel shows of the watcher."""

    sync_minutes: float | None
    last_build: Outcome | None
    last_sync: Outcome | None
    events: int  # outcomes so far: the page redraws the panel when this moves


class AppWatcher:
    """Watches the app's corpus and rebuilds its index through runner; optionally syncs feeds every few minutes.

    report(line) receives one line per build, sync and error (the server prints them).
    """

    def __init__(
        self,
        runner: BuildRunner,
        *,
        sync_feeds_minutes: float | None = None,
        fetch_options: FetchOptions | None = None,
        debounce: float = DEFAULT_DEBOUNCE,
        report: Callable[[str], None] | None = None,
    ):
        self.sync_minutes = sync_feeds_minutes
        self._report = report or (lambda line: None)
        self._lock = threading.Lock()
        self._build: Outcome | None = None
        self._sync: Outcome | None = None
        self._events = 0
        self._watcher = CorpusWatcher(
            runner.corpus,
            runner.index_dir,
            on_build=self._built,
            on_sync=self._synced,
            on_error=self._failed,
            sync_feeds_minutes=sync_feeds_minutes,
            debounce=debounce,
            fetch_options=fetch_options,
            run_build=runner.run,
        )

    def start(self) -> AppWatcher:
        self._watcher.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop watching, after the build or sync in progress (if any) has finished."""
        self._watcher.stop(timeout)

    def state(self) -> WatchState:
        with self._lock:
            return WatchState(self.sync_minutes, self._build, self._sync, self._events)

    def _record(self, build: bool, outcome: Outcome, line: str) -> None:
        with self._lock:
            if build:
                self._build = outcome
            else:
                self._sync = outcome
            self._events += 1
        self._report(line)

    def _built(self, report: BuildReport) -> None:
        details = tuple(
            f"{what}: {_listed(ids)}"
            for what, ids in (("added", report.added), ("changed", report.changed), ("deleted", report.deleted))
            if ids
        ) + tuple(f"skipped {s}" for s in report.skipped[:MAX_SHOWN])
        self._record(True, Outcome(time.time(), report.summary(), None, details), f"index: {report.summary()}")

    def _synced(self, report: FeedReport) -> None:
        details = tuple(f"{f.url}: {f.reason}" for f in report.failed[:MAX_SHOWN])
        self._record(False, Outcome(time.time(), report.summary(), None, details), f"feeds: {report.summary()}")

    def _failed(self, exc: Exception) -> None:
        """A build ends in BuildFailed (the runner catches everything else); any other error is the feed sync's."""
        build = isinstance(exc, BuildFailed)
        self._record(build, Outcome(time.time(), "", str(exc)), f"{'index' if build else 'feeds'}: error: {exc}")


def _listed(ids: list[str]) -> str:
    more = f" and {len(ids) - MAX_SHOWN} more" if len(ids) > MAX_SHOWN else ""
    return ", ".join(ids[:MAX_SHOWN]) + more
