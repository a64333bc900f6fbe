"""Keep an index in step with its corpus: an incremental build whenever files change, feeds synced on a timer.

`CorpusWatcher` is the reusable part (`qa watch` runs it; the web app can
too): watchdog reports file changes, and a single worker thread builds once
the corpus has been quiet for `debounce` seconds, so copying a thousand files
is one build, not a thousand. Changes made during a build cause one more
build after it. Only events that can change the index count: article files
(supported suffixes) and folders, not hidden or temporary files, not reads,
and nothing inside the index directory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .builder import BuildReport, EmbedderFactory, build
from .embed import Embedder
from .errors import BuildLockedError, CorpusError, QAError
from .feeds import FeedReport, feed_list, sync_feeds
from .fetch import FetchOptions
from .ingest import SUPPORTED_SUFFIXES

log = logging.getLogger("qa.watch")

DEFAULT_DEBOUNCE = 2.0  # seconds of quiet before a build starts
DEFAULT_MAX_DELAY = 120.0  # a corpus that never goes quiet is still built this often
_CHANGES = frozenset({"created", "modified", "deleted", "moved"})  # not "opened"/"closed": a build reads files


class CorpusWatcher:
    """Watch `corpus`, rebuild `index` after changes; optionally sync feeds every `sync_feeds_minutes`.

    Callbacks run on the worker thread: on_build(report) after each build,
    on_sync(report) after each feed sync, on_error(exc) for a build or sync
    that failed (the watcher keeps watching). `stop()` waits for a build in
    progress to finish, because a build cannot be cut short safely.
    run_build replaces the plain qa.build call (the web app builds through its
    own runner, which shows progress); it raises as qa.build does.
    """

    def __init__(
        self,
        corpus: str | Path,
        index: str | Path,
        *,
        on_build: Callable[[BuildReport], None] | None = None,
        on_sync: Callable[[FeedReport], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        sync_feeds_minutes: float | None = None,
        debounce: float = DEFAULT_DEBOUNCE,
        max_delay: float = DEFAULT_MAX_DELAY,
        embedder: Embedder | EmbedderFactory | None = None,
        fetch_options: FetchOptions | None = None,
        build_at_start: bool = True,
        run_build: Callable[[], BuildReport] | None = None,
    ):
        self.corpus = Path(corpus)
        self.index = Path(index)
        if not self.corpus.is_dir():
            raise CorpusError(f"corpus directory {self.corpus} does not exist; pass the folder of your articles")
        if sync_feeds_minutes is not None and not sync_feeds_minutes > 0:
            raise ValueError("the feed sync interval must be a positive number of minutes")
        if debounce < 0 or max_delay < debounce:
            raise ValueError("debounce must be >= 0 and max_delay >= debounce")
        self.on_build, self.on_sync, self.on_error = on_build, on_sync, on_error
        self.sync_interval = sync_feeds_minutes * 60 if sync_feeds_minutes else None
        self.debounce, self.max_delay = debounce, max_delay
        self.embedder = embedder
        self.fetch_options = fetch_options
        self._run_build = run_build
        self.builds = 0  # builds finished (successfully)
        self.syncs = 0
        self._root = self.corpus.resolve()
        self._index = self.index.resolve()
        self._cond = threading.Condition()
        self._stopping = False
        self._first_change: float | None = time.monotonic() if build_at_start else None
        self._last_change = 0.0
        self._next_sync = time.monotonic() if self.sync_interval else None
        self._busy = False
        self._observer = None
        self._worker: threading.Thread | None = None

    # --- life cycle --------------------------------------------------------------------------

    def start(self) -> CorpusWatcher:
        from watchdog.observers import Observer

        if self._worker is not None:
            raise RuntimeError("this watcher was already started")
        self._observer = Observer()
        try:
            self._observer.schedule(_Handler(self), str(self._root), recursive=True)
            self._observer.start()
        except OSError as e:  # e.g. the inotify watch limit on a huge corpus
            raise CorpusError(
                f"cannot watch {self.corpus}: {e.strerror or e} "
                "(on Linux, a large corpus may need a higher fs.inotify.max_user_watches)"
            ) from None
        self._worker = threading.Thread(target=self._run, name="qa-watch", daemon=True)
        self._worker.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop watching; returns once the worker is done (a running build is finished first)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
        if self._worker is not None:
            self._worker.join(timeout)

    @property
    def building(self) -> bool:
        """True while a build or a feed sync runs."""
        return self._busy

    @property
    def pending(self) -> bool:
        """True while a change waits for its build (the debounce has not run out yet)."""
        with self._cond:
            return self._first_change is not None

    def __enter__(self) -> CorpusWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- events ------------------------------------------------------------------------------

    def changed(self) -> None:
        """Note a change (also callable by hand, e.g. after an upload): a build follows once things are quiet."""
        now = time.monotonic()
        with self._cond:
            self._last_change = now
            if self._first_change is None:
                self._first_change = now
            self._cond.notify_all()

    def relevant(self, path: str, is_directory: bool) -> bool:
        """Can a change at `path` change the index?"""
        p = Path(path)
        try:
            rel = p.relative_to(self._root)
        except ValueError:
            return False
        if p == self._index or self._index in p.parents:
            return False
        if any(part.startswith(".") for part in rel.parts):
            return False
        return is_directory or p.suffix.lower() in SUPPORTED_SUFFIXES

    # --- worker ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            task = self._next_task()
            if task is None:
                return
            self._busy = True
            try:
                task()
            finally:
                self._busy = False

    def _next_task(self) -> Callable[[], None] | None:
        """Wait until a build is due (quiet long enough) or a feed sync is; None once stopping."""
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                waits = []
                if self._first_change is not None:
                    quiet_at = max(self._last_change, self._first_change) + self.debounce
                    due = min(quiet_at, self._first_change + self.max_delay)
                    if now >= due:
                        self._first_change = None
                        return self._build
                    waits.append(due - now)
                if self._next_sync is not None:
                    if now >= self._next_sync:
                        self._next_sync = now + (self.sync_interval or 0)
                        return self._sync
                    waits.append(self._next_sync - now)
                self._cond.wait(min(waits) if waits else None)
            return None

    def _build(self) -> None:
        try:
            if self._run_build is not None:
                report = self._run_build()
            else:
                report = build(self.corpus, self.index, embedder=self.embedder, progress=False)
        except BuildLockedError:  # another process is building: try again once it may be done
            log.info("another build holds %s; trying again shortly", self.index)
            self.changed()
            return
        except (QAError, OSError, ValueError) as exc:
            self._report_error(exc)
            return
        except Exception as exc:  # noqa: BLE001 - the watcher must outlive a bug in one build
            log.exception("build failed")
            self._report_error(exc)
            return
        self.builds += 1
        if self.on_build is not None:
            self.on_build(report)

    def _sync(self) -> None:
        if not feed_list(self.corpus):
            return
        try:
            report = sync_feeds(self.corpus, options=self.fetch_options)
        except Exception as exc:  # noqa: BLE001 - a feed problem must not stop the watcher
            self._report_error(exc)
            return
        self.syncs += 1
        if self.on_sync is not None:
            self.on_sync(report)

    def _report_error(self, exc: Exception) -> None:
        if self.on_error is not None:
            self.on_error(exc)
        else:
            log.warning("%s", exc)


class _Handler:
    """watchdog's callback: filter, then tell the watcher (cheap: runs for every event)."""

    def __init__(self, watcher: CorpusWatcher):
        self.watcher = watcher

    def dispatch(self, event) -> None:
        if event.event_type not in _CHANGES:
            return
        if event.is_directory and event.event_type == "modified":  # a file event says what changed
            return
        paths = [event.src_path, getattr(event, "dest_path", "") or ""]
        if any(p and self.watcher.relevant(_text(p), event.is_directory) for p in paths):
            self.watcher.changed()


def _text(path: str | bytes) -> str:
    return path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else path
