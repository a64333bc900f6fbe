"""The web app's state and actions over one corpus and index: no widgets and no HTML here.

One retriever is shared by every visitor and follows the index as builds commit
it; the library checks the questions (qa.retriever) and saves uploads
(qa.upload), and its errors reach the page as they are, for it to show.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import Config
from qa.domain import Answer, Article
from qa.errors import QAError, QuestionError
from qa.fetch import FetchOptions
from qa.manifest import read_manifest
from qa.retriever import Retriever
from qa.status import CorpusStatus, corpus_status
from qa.upload import UploadResult, save_uploads
from qa.watch import DEFAULT_DEBOUNCE
from qa.web.builds import BuildRunner, BuildState
from qa.web.limits import RateLimiter
from qa.web.watching import AppWatcher, WatchState
from qa.webpage import AddReport, add_urls

MAX_K = 20  # passages one question may ask for from the page or the API
DEFAULT_K = 5
MAX_URLS = 10  # pages one "Add by URL" may fetch (each may take up to a minute)
# Example questions answered by the shipped corpus (shown when the article they come from is present).
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("Who replaced the fired US Secretary of Defense?", "000_e4fff1e13a0bbc77.txt"),
    ("How many troops does Germany plan to withdraw by early July?", "003_bd4f993c6f237ca7.txt"),
    ("How much has the war in Afghanistan cost the United States?", "004_795284bbc2c01457.txt"),
    ("Where are the peace talks between the Taliban and the Afghan government held?", "001_31946ef2ba710364.txt"),
)


class IndexNotReady(QAError):
    """No index can answer yet (the first build is still running, or none was started)."""


class ArticleGone(QAError):
    """The cited article is not in the live index (it was rebuilt since the answer was given)."""


class RateLimited(QAError):
    """One client asked faster than the rate limit allows."""


class ReadOnly(QAError):
    """The app serves questions only (--read-only): nothing may change the corpus or the index."""


class NoURLs(QAError):
    """An "Add by URL" request with no URL in it, or with too many."""


@dataclass(frozen=True)
class ArticleRequest:
    """What a card's "Open article" button asks for. It comes from the browser: parsed, never trusted."""

    article_id: str | None
    start: int | None = None
    end: int | None = None
    highlight: tuple[int, int] | None = None
    cited_hash: str = ""  # the article's content hash when the answer cited it ('' unknown)

    @classmethod
    def from_browser(cls, data: Any) -> ArticleRequest:
        """Junk (missing keys, non-numbers) gives a request without offsets or without an article, not an error."""
        data = data if isinstance(data, Mapping) else {}
        article_id = data.get("article_id")
        try:
            start, end = int(data.get("start")), int(data.get("end"))
            highlight = (int(data.get("hs")), int(data.get("he")))
        except (TypeError, ValueError):
            start = end = highlight = None
        return cls(
            article_id=article_id if isinstance(article_id, str) else None,
            start=start,
            end=end,
            highlight=highlight,
            cited_hash=str(data.get("hash") or ""),
        )


@dataclass(frozen=True)
class AskResult:
    """An answer as the page shows it: the cited articles' hashes, each passage's cosine to the question, and
    the dates of the articles matching the question (Retriever.matching_articles, plus what a confident
    answer cites)."""

    answer: Answer
    hashes: dict[str, str]
    similarity: dict[tuple[str, int, int], float] = field(default_factory=dict)  # (article_id, start, end) -> cosine
    matching: dict[str, str | None] = field(default_factory=dict)  # article id -> date (None: undated)


@dataclass(frozen=True)
class OpenedArticle:
    """A cited article from the live index, and whether it changed since the answer cited it."""

    article: Article
    request: ArticleRequest
    stale: bool


class QAApp:
    """What the page talks to: asks, articles, status, uploads and builds over one corpus and index."""

    def __init__(
        self,
        corpus: str | Path,
        index_dir: str | Path,
        embedder: Any = None,
        *,
        read_only: bool = False,
        limiter: RateLimiter | None = None,
        fetch_options: FetchOptions | None = None,
        config: Config | None = None,
    ):
        self.corpus, self.index_dir = Path(corpus), Path(index_dir)
        self._config = config or Config()  # answering settings (--set on the command line)
        self.read_only = read_only  # no uploads, no rebuilds from the page (the server's start-up build still runs)
        self.limiter = limiter  # None: no rate limit
        # Add by URL and feed syncs: public addresses only unless the server says otherwise (loopback, a flag).
        self.fetch_options = fetch_options or FetchOptions(allow_private=False)
        self.watcher: AppWatcher | None = None
        self._embedder = embedder  # None: the process-wide model, loaded on first use
        self._retriever: Retriever | None = None
        self._lock = threading.Lock()
        self.builder = BuildRunner(self.corpus, self.index_dir, self.embedder, self._built)

    def embedder(self, model_id: str | None = None) -> Any:
        """The model for model_id (an index's; None: the index's if there is one, else the default)."""
        if self._embedder is None:
            from qa.embed import load_embedder

            if model_id is None and self.has_index():
                try:
                    model_id = self.retriever(refresh=False).index.model_id
                except QAError:
                    pass  # a broken index is reported when asked; warm the default model meanwhile
            return load_embedder(model_id)
        return self._embedder

    def warm(self) -> None:
        """Load what the first question needs (the model, and the reader when the settings use it) before it
        comes, so the first asker does not wait for them."""
        self.embedder()
        config = self.config()
        if config.min_reader_logit is not None or config.sentence_scorer == "reader":
            from qa.reader import reader_or_none

            reader_or_none("questions are answered")

    def _built(self, state: BuildState) -> None:
        if state.report is not None:
            self.retriever(refresh=True)  # switch now, not at the next question

    def has_index(self) -> bool:
        return (self.index_dir / "manifest.json").exists()

    def retriever(self, refresh: bool = True) -> Retriever | None:
        """The shared retriever on the newest committed index (None if there is none yet)."""
        with self._lock:
            if self._retriever is None:
                if not self.has_index():
                    return None
                self._retriever = Retriever.load(self.index_dir, embedder=self._embedder, config=self._config)
                return self._retriever
        if refresh:
            self._retriever.refresh()
        return self._retriever

    def _live_retriever(self) -> Retriever:
        """The shared retriever, or IndexNotReady saying what to wait for or do."""
        shared = self.retriever()
        if shared is None:
            raise IndexNotReady(
                "the index is still being built; ask again in a moment"
                if self.builder.state().running
                else "there is no index yet; open 'Corpus & index' and click Rebuild index"
            )
        return shared

    def ask(self, question: str | None, *args: Any, **options: Any) -> tuple[Answer, dict[str, str]]:
        """ask_page() without the similarities: the answer plus each cited article's content hash
        (to tell later whether it changed). Same arguments: k, sources, since, until, client, sort."""
        result = self.ask_page(question, *args, **options, extras=False)
        return result.answer, result.hashes

    def ask_page(
        self,
        question: str | None,
        k: int = DEFAULT_K,
        sources: list[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        *,
        client: str | None = None,
        sort: str = "relevance",
        extras: bool = True,
    ) -> AskResult:
        """The answer and each cited article's content hash; with extras, what only the page shows: each
        passage's cosine to the question (evidence bars) and the articles matching the question (the timeline).

        Widget values arrive as the page has them (None for an empty box, a float
        from the slider, '' for no date); the retriever judges the question itself.
        client (an address) is what the rate limit counts by: RateLimited past it.
        """
        if self.limiter is not None and not self.limiter.allow(client):
            raise RateLimited(self.limiter.message())
        k = int(k or DEFAULT_K)
        if k > MAX_K:  # the retriever has no upper bound; the page and the public API do
            raise QuestionError(f"the number of passages must be between 1 and {MAX_K}, got {k}")
        shared = self._live_retriever()
        index = shared.index  # one generation for the question and the hashes of what it cites
        view = Retriever(index, self._embedder, shared.config)
        filters = dict(
            sources=[s for s in sources or [] if s] or None,
            since=(since or "").strip() or None,
            until=(until or "").strip() or None,
        )
        answer = view.ask(
            "" if question is None else question, k=k, auto_refresh=False, sort=sort or "relevance", **filters
        )
        entries = index.manifest.articles
        hashes = {p.article_id: entries[p.article_id].hash for p in answer.passages if p.article_id in entries}
        if not extras:
            return AskResult(answer, hashes)
        # The timeline's articles: those about the question, and what a confident answer cites (a flagged one's
        # passages are there for a look, not because they match).
        about = ([] if answer.no_answer else _cited(answer)) + view.matching_articles(answer.question, **filters)
        matching = {a: entries[a].date for a in dict.fromkeys(about) if a in entries}
        return AskResult(answer, hashes, _similarities(view, answer), matching)

    def config(self) -> Config:
        """The live retriever's settings (the defaults before there is an index)."""
        try:
            r = self.retriever(refresh=False)
        except QAError:
            r = None
        return r.config if r is not None else self._config

    def open_article(self, request: ArticleRequest) -> OpenedArticle:
        """The article a card cites, from the live index (IndexNotReady without one, ArticleGone if it left)."""
        if request.article_id is None:
            raise QAError("the request names no article")
        index = self._live_retriever().index
        try:
            article = index.article(request.article_id)
        except KeyError:
            raise ArticleGone(f"{request.article_id} is not in the index any more") from None
        entry = index.manifest.articles.get(request.article_id)
        current = entry.hash if entry is not None else None
        return OpenedArticle(article, request, stale=bool(request.cited_hash) and request.cited_hash != current)

    def filters(self) -> tuple[list[str], tuple[str, str] | None]:
        """The live index's sources, and its first and last article dates (None: no dates)."""
        try:
            r = self.retriever(refresh=False)
        except QAError:  # unreadable index: the status panel says why
            r = None
        if r is None:
            return [], None
        dates = sorted(e.date[:10] for e in r.index.manifest.articles.values() if e.date)
        return list(r.index.sources), ((dates[0], dates[-1]) if dates else None)

    def generation(self) -> int:
        """The live index generation (0: none, -1: unreadable)."""
        try:
            r = self.retriever(refresh=True)
        except QAError:
            return -1
        return r.index.generation if r is not None else 0

    def status(self) -> tuple[CorpusStatus, list[dict]]:
        """The index's status and what its last build skipped; QAError or OSError if it cannot be read."""
        return corpus_status(self.corpus, self.index_dir), read_manifest(self.index_dir).skipped

    def examples(self) -> list[str]:
        """The example questions whose article is in this corpus."""
        return [q for q, source in EXAMPLES if (self.corpus / source).is_file()]

    def upload(self, files: list[Any] | None, overwrite: bool) -> UploadResult:
        """Saves Gradio's uploaded files into the corpus under the names the visitor gave them."""
        if self.read_only:
            raise ReadOnly("this app is read-only: files cannot be added")
        pairs = []
        for f in files or []:
            path = Path(getattr(f, "name", None) or str(f))
            pairs.append((getattr(f, "orig_name", None) or path.name, path))
        return save_uploads(self.corpus, pairs, overwrite=bool(overwrite))

    def add_urls(self, urls: str | list[str] | None) -> AddReport:
        """What `qa add` does, from the page or the API: each page saved as web/<host>/<slug>.md.

        urls is text (URLs separated by spaces or new lines) or a list of them. Private and
        intranet addresses are refused unless fetch_options allow them (see qa.web.server).
        """
        if self.read_only:
            raise ReadOnly("this app is read-only: pages cannot be added")
        wanted = parse_urls(urls)
        if not wanted:
            raise NoURLs("paste one or more web addresses (starting with http:// or https://), one per line")
        if len(wanted) > MAX_URLS:
            raise NoURLs(f"at most {MAX_URLS} addresses at a time, got {len(wanted)}; add the rest afterwards")
        return add_urls(self.corpus, wanted, options=self.fetch_options)

    def watch(
        self,
        sync_feeds_minutes: float | None = None,
        *,
        debounce: float = DEFAULT_DEBOUNCE,
        report: Callable[[str], None] | None = None,
    ) -> AppWatcher:
        """Keep the index in step with the corpus from now on (the first build runs at once); see AppWatcher."""
        if self.watcher is not None:
            raise RuntimeError("this app is already watching its corpus")
        watcher = AppWatcher(
            self.builder,
            sync_feeds_minutes=sync_feeds_minutes,
            fetch_options=self.fetch_options,
            debounce=debounce,
            report=report,
        )
        self.watcher = watcher.start()
        return watcher

    def stop_watching(self, timeout: float | None = None) -> None:
        """Stop the watcher (after a build in progress has finished); nothing if not watching."""
        if self.watcher is not None:
            self.watcher.stop(timeout)

    def watch_state(self) -> WatchState | None:
        """The watcher's last build and feed sync (None: the app is not watching its corpus)."""
        return self.watcher.state() if self.watcher is not None else None


def parse_urls(urls: str | list[str] | None) -> list[str]:
    """The addresses in a text box (split on spaces and new lines) or a list, once each, in order."""
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, (list, tuple)) or not all(isinstance(u, str) for u in urls):
        raise NoURLs("give the addresses as text, one per line (or a list of strings from the API)")
    return list(dict.fromkeys(word for u in urls for word in u.split()))


def _cited(answer: Answer) -> list[str]:
    """The articles an answer cites: its passages' and their wire copies', once each, in order."""
    ids = [a for p in answer.passages for a in (p.article_id, *(str(o.get("article_id")) for o in p.also_in))]
    return list(dict.fromkeys(ids))


def _similarities(view: Retriever, answer: Answer) -> dict[tuple[str, int, int], float]:
    """Each passage's cosine to the question: the best of the chunks it is made of (a passage can merge several)."""
    if not answer.passages:
        return {}
    index = view.index
    qvec = np.asarray(view.question_vector(answer.question), dtype=np.float32)
    out: dict[tuple[str, int, int], float] = {}
    for p in answer.passages:
        entry = index.manifest.articles.get(p.article_id)
        rows = [
            row
            for row in (range(*entry.chunks) if entry is not None else ())
            if p.start <= index.chunks[row]["start"] and index.chunks[row]["end"] <= p.end
        ]
        if rows:
            out[(p.article_id, p.start, p.end)] = float((index.vector_rows(rows) @ qvec).max())
    return out
