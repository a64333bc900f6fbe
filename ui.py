"""The web app: a Gradio front end over the `qa` library. Presentation only.

    python ui.py [--corpus corpus] [--index index] [--host 127.0.0.1] [--port 7860]

Everything shown that comes from an article (title, source, text, ids, URLs)
goes through `html.escape` here: Gradio's HTML component sanitizes nothing.
Searching, building and saving uploads are the library's job (qa.retriever,
qa.builder, qa.upload); this module wires them to widgets.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import ipaddress
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home: the app runs offline
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from qa.builder import BuildReport, build  # noqa: E402
from qa.domain import Answer, Article, Passage  # noqa: E402
from qa.errors import QAError, QuestionError  # noqa: E402
from qa.ingest import SUPPORTED_SUFFIXES  # noqa: E402
from qa.logs import setup_logging  # noqa: E402
from qa.retriever import Retriever  # noqa: E402
from qa.upload import MAX_UPLOAD_BYTES, UploadResult, save_uploads  # noqa: E402

log = logging.getLogger("qa.ui")

MAX_K = 20
DEFAULT_K = 5
# Example questions answered by the shipped corpus (shown when the article they come from is present).
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("Who replaced the fired US Secretary of Defense?", "000_e4fff1e13a0bbc77.txt"),
    ("How many troops does Germany plan to withdraw by early July?", "003_bd4f993c6f237ca7.txt"),
    ("How much has the war in Afghanistan cost the United States?", "004_795284bbc2c01457.txt"),
    ("Where are the peace talks between the Taliban and the Afghan government held?", "001_31946ef2ba710364.txt"),
)
STAGES = {
    "starting": "starting",
    "reading corpus": "reading the corpus",
    "chunking": "cutting articles into passages",
    "embedding": "embedding passages",
    "writing index": "writing the index",
    "building dense index": "building the vector index",
    "building lexical index": "building the word index",
    "done": "finishing",
}
ARTICLE_PLACEHOLDER = (
    '<div class="qa-article-empty">Choose <b>Open article</b> on a cited passage to read the whole '
    "article here, with the passage highlighted.</div>"
)


class IndexNotReady(QAError):
    """No index can answer yet (the first build is still running)."""


# ---------------------------------------------------------------------------
# Rendering: pure functions from library objects to escaped HTML.
# ---------------------------------------------------------------------------


def esc(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _text(value: str) -> str:
    """Escaped article text; newlines are kept by `white-space: pre-wrap` in the CSS."""
    return esc(value)


def highlight_html(text: str, start: int, end: int, css_class: str = "qa-hl", elem_id: str | None = None) -> str:
    """text with text[start:end] wrapped in <mark>; every piece escaped. Bad offsets: no mark."""
    if not (0 <= start <= end <= len(text)) or start == end:
        return _text(text)
    ident = f' id="{esc(elem_id)}"' if elem_id else ""
    return f'{_text(text[:start])}<mark class="{css_class}"{ident}>{_text(text[start:end])}</mark>{_text(text[end:])}'


def _meta(source: str | None, date: str | None, extra: str = "") -> str:
    parts = [
        f'<span class="qa-source">{esc(source)}</span>' if source else "",
        f'<span class="qa-date">{esc(date)}</span>' if date else "",
        extra,
    ]
    return " · ".join(p for p in parts if p)


def _open_button(
    article_id: str, start: int, end: int, hl: tuple[int, int], article_hash: str | None, label: str = "Open article"
) -> str:
    return (
        f'<button type="button" class="qa-open" data-article="{esc(article_id)}" data-start="{int(start)}" '
        f'data-end="{int(end)}" data-hs="{int(hl[0])}" data-he="{int(hl[1])}" data-hash="{esc(article_hash or "")}">'
        f"{esc(label)}</button>"
    )


def render_passage(p: Passage, article_hash: str | None = None) -> str:
    """One citation card."""
    a, b = p.highlight[0] - p.start, p.highlight[1] - p.start
    also = ""
    if p.also_in:
        items = []
        for o in p.also_in:
            meta = _meta(o.get("source"), o.get("date"))
            items.append(
                f'<li><span class="qa-also-title">{esc(o.get("title") or o.get("article_id"))}</span>'
                + (f' <span class="qa-meta">{meta}</span>' if meta else "")
                + " "
                + _open_button(
                    str(o.get("article_id")),
                    int(o.get("start", 0)),
                    int(o.get("end", 0)),
                    (int(o.get("start", 0)), int(o.get("end", 0))),
                    None,
                    "Open",
                )
                + "</li>"
            )
        also = f'<div class="qa-also">Same passage also in:<ul>{"".join(items)}</ul></div>'
    score = f'<span class="qa-score" title="retrieval score">score {p.score:.3f}</span>'
    return (
        f'<article class="qa-card" data-rank="{int(p.rank)}" data-article="{esc(p.article_id)}">'
        f'<header class="qa-card-head"><span class="qa-num">[{int(p.rank)}]</span> '
        f'<span class="qa-title">{esc(p.title)}</span></header>'
        f'<div class="qa-meta">{_meta(p.source, p.date, score)}'
        f'<span class="qa-id" title="article id">{esc(p.article_id)}</span></div>'
        f'<p class="qa-passage">{highlight_html(p.text, a, b)}</p>'
        f"{also}"
        f'<div class="qa-actions">{_open_button(p.article_id, p.start, p.end, p.highlight, article_hash)}</div>'
        f"</article>"
    )


def render_answer(answer: Answer, hashes: Mapping[str, str] | None = None) -> str:
    """The answer line (best highlighted sentence + [1]) and the cited passages as cards."""
    hashes = hashes or {}
    parts = ['<div class="qa-result">']
    for w in answer.warnings:
        parts.append(f'<div class="qa-warning" role="status">{esc(w)}</div>')
    if answer.no_answer or not answer.passages:
        parts.append(
            '<div class="qa-noanswer" role="status"><strong>No passage clearly answers this.</strong> '
            f"{esc(_sentence(answer.reason or 'the evidence is weak'))}"
            + (" The closest passages are below, flagged as weak evidence." if answer.passages else "")
            + "</div>"
        )
    else:
        best = answer.passages[0]
        parts.append(
            f'<div class="qa-answer"><span class="qa-answer-label">Answer</span>'
            f'<p class="qa-answer-text">{esc(best.highlight_text.strip())} <span class="qa-cite">[1]</span></p></div>'
        )
    if answer.passages:
        flagged = " qa-weak" if answer.no_answer else ""
        parts.append(f'<div class="qa-cards{flagged}">')
        parts.extend(render_passage(p, hashes.get(p.article_id)) for p in answer.passages)
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def render_examples(questions: list[str]) -> str:
    buttons = "".join(
        f'<button type="button" class="qa-example" data-q="{esc(q)}">{esc(q)}</button>' for q in questions
    )
    return f'<div class="qa-examples"><span class="qa-examples-label">Try</span>{buttons}</div>' if buttons else ""


def _sentence(text: str) -> str:
    """Library messages are lower-case clauses; on the page they read as sentences."""
    text = text.strip()
    if not text:
        return ""
    return text[:1].upper() + text[1:] + ("" if text[-1] in ".?!" else ".")


def render_message(title: str, body: str = "", kind: str = "info") -> str:
    """A state message (empty question, index building, error); both strings are escaped."""
    return (
        f'<div class="qa-message qa-{esc(kind)}" role="status"><strong>{esc(title)}</strong>'
        + (f" {esc(_sentence(body))}" if body else "")
        + "</div>"
    )


def render_article(
    article: Article,
    start: int | None = None,
    end: int | None = None,
    hl: tuple[int, int] | None = None,
    stale: bool = False,
    nonce: str = "",
) -> str:
    """The whole cleaned article, the cited passage marked (id qa-focus) so the page can scroll to it."""
    text = article.text
    body = _text(text)
    ok = start is not None and end is not None and 0 <= start < end <= len(text)
    if ok and not stale:
        hs, he = hl if hl else (start, end)
        if not (start <= hs <= he <= end):
            hs, he = start, end
        body = (
            f'{_text(text[:start])}<span class="qa-cited" id="qa-focus">'
            f"{highlight_html(text[start:end], hs - start, he - start)}</span>{_text(text[end:])}"
        )
    url = ""
    if article.url and article.url.lower().startswith(("http://", "https://")):
        url = f'<a href="{esc(article.url)}" target="_blank" rel="noopener noreferrer nofollow">original page</a>'
    meta = _meta(article.source, article.date, url)
    stale_note = (
        '<div class="qa-warning" role="status">This article changed since the answer was given; '
        "ask again to cite the new text.</div>"
        if stale
        else ""
    )
    return (
        f'<div class="qa-article" data-article="{esc(article.id)}" data-open="{esc(nonce)}">'
        f'<div class="qa-article-head"><div class="qa-article-bar">'
        f'<h2 class="qa-article-title">{esc(article.title)}</h2>'
        f'<button type="button" class="qa-close" aria-label="Close the article">Close</button></div>'
        f'<div class="qa-meta">{meta}{" · " if meta else ""}<span class="qa-id">{esc(article.id)}</span></div>'
        f"</div>{stale_note}"
        f'<div class="qa-article-text">{body}</div>'
        f"</div>"
    )


def _ago(iso: str | None) -> str:
    if not iso:
        return "unknown"
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    shown = when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    secs = (datetime.now(timezone.utc) - when).total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if secs >= size:
            n = int(secs // size)
            return f"{shown} ({n} {unit}{'s' if n > 1 else ''} ago)"
    return f"{shown} (just now)"


def render_status(status: dict | None, skipped: list[dict] | None = None, error: str | None = None) -> str:
    """The index panel: documents, chunks, model, built at, and whether the corpus changed since."""
    if status is None:
        if error:
            return render_message("The index cannot be read.", error, "error")
        return render_message("No index yet.", "Click Rebuild index to build it from the corpus.", "warn")
    if status["corpus_changed"]:
        n = (len(status["added"]), len(status["changed"]), len(status["deleted"]))
        corpus = (
            f'<span class="qa-changed">changed since the build: {n[0]} added, {n[1]} changed, '
            f"{n[2]} deleted — click Rebuild</span>"
        )
    else:
        corpus = '<span class="qa-same">unchanged since the build</span>'
    rows = [
        ("Documents", f"{int(status['documents']):,}"),
        ("Chunks", f"{int(status['chunks']):,}"),
        ("Model", esc(status["model"])),
        ("Built at", esc(_ago(status.get("built_at")))),
        ("Corpus", corpus),
        ("Folders", f"corpus <code>{esc(status['corpus'])}</code>, index <code>{esc(status['index'])}</code>"),
    ]
    items = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    out = f'<dl class="qa-status">{items}</dl>'
    if skipped:
        out += _skipped_list(skipped, "Skipped in the last build")
    return out


def _skipped_list(skipped: list[dict], title: str) -> str:
    items = "".join(
        f"<li><code>{esc(s.get('path'))}{':' + str(int(s['line'])) if s.get('line') else ''}</code> — "
        f"{esc(s.get('reason'))}</li>"
        for s in skipped[:100]
    )
    more = f"<li>… and {len(skipped) - 100} more</li>" if len(skipped) > 100 else ""
    return f'<div class="qa-skipped"><strong>{esc(title)} ({len(skipped)})</strong><ul>{items}{more}</ul></div>'


def _id_list(label: str, ids: list[str], limit: int = 30) -> str:
    if not ids:
        return ""
    shown = ", ".join(f"<code>{esc(i)}</code>" for i in ids[:limit])
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return f"<li><strong>{esc(label)} ({len(ids)}):</strong> {shown}{more}</li>"


def render_report(report: BuildReport | None, error: str | None = None, note: str = "") -> str:
    """What a build changed: added / changed / deleted / skipped (with reasons)."""
    lead = render_message(note, kind="info") if note else ""
    if error:
        return lead + render_message("The build did not run.", error, "error")
    if report is None:
        return lead
    nothing = not (report.added or report.changed or report.deleted)
    head = (
        "Index is up to date: nothing changed."
        if nothing
        else f"Index rebuilt in {report.seconds:.1f} s: {report.documents:,} documents, {report.chunks:,} chunks "
        f"({report.embedded:,} passage{'s' if report.embedded != 1 else ''} embedded)."
    )
    items = _id_list("Added", report.added) + _id_list("Changed", report.changed) + _id_list("Deleted", report.deleted)
    out = lead + f'<div class="qa-report">{render_message(head, kind="ok")}'
    if items:
        out += f"<ul>{items}</ul>"
    if report.skipped:
        out += _skipped_list([s.to_dict() for s in report.skipped], "Skipped")
    return out + "</div>"


def render_upload(result: UploadResult) -> str:
    out = []
    if result.saved:
        names = ", ".join(f"<code>{esc(s.name)}</code>{' (replaced)' if s.replaced else ''}" for s in result.saved)
        out.append(
            f'<div class="qa-message qa-ok" role="status"><strong>Added {len(result.saved)} file(s) to the '
            f"corpus:</strong> {names}. Click <b>Rebuild index</b> to index them.</div>"
        )
    if result.rejected:
        out.append(_skipped_list([s.to_dict() for s in result.rejected], "Refused"))
    return "".join(out) or render_message("Choose one or more files first.", kind="warn")


def render_build_note(state: BuildState, has_index: bool) -> str:
    """The small banner shown while a build runs ('' when none runs)."""
    if not state.running:
        return ""
    stage = STAGES.get(state.stage, state.stage)
    pct = int(100 * state.done / state.total) if state.total > 1 else None
    bar = f'<progress max="100" value="{pct}"></progress>' if pct is not None else "<progress></progress>"
    count = f" {state.done:,}/{state.total:,}" if state.total > 1 else ""
    if has_index:
        text = f"The index is being rebuilt ({esc(stage)}{count}) — answers come from the previous index."
    else:
        text = f"Building the index for the first time ({esc(stage)}{count}). Questions can be asked when it is done."
    return f'<div class="qa-build-note" role="status">{bar}<span>{text}</span></div>'


# ---------------------------------------------------------------------------
# State: one shared retriever and one background build at a time.
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class BuildState:
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

    def embed(self, texts: list[str], progress: bool = False):
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


class QAApp:
    """What the page talks to: asks, articles, status, uploads and builds over one corpus and index."""

    def __init__(self, corpus: str | Path, index_dir: str | Path, embedder: Any = None):
        self.corpus, self.index_dir = Path(corpus), Path(index_dir)
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
            return load_embedder(model_id=model_id)
        return self._embedder

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
                self._retriever = Retriever.load(self.index_dir, embedder=self._embedder)
                return self._retriever
        if refresh:
            self._retriever.refresh()
        return self._retriever

    def ask(
        self,
        question: str,
        k: int = DEFAULT_K,
        sources: list[str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> tuple[Answer, dict[str, str]]:
        """The answer plus each cited article's content hash (to tell later whether it changed)."""
        question = question if isinstance(question, str) else ""
        if not question.strip():
            raise QuestionError("the question is empty: type a question")
        k = int(k or DEFAULT_K)
        if not 1 <= k <= MAX_K:
            raise QuestionError(f"the number of passages must be between 1 and {MAX_K}, got {k}")
        shared = self.retriever()
        if shared is None:
            raise IndexNotReady(
                "the index is still being built; ask again in a moment"
                if self.builder.state().running
                else "there is no index yet; open 'Corpus & index' and click Rebuild index"
            )
        index = shared.index  # one generation for the question and the hashes of what it cites
        view = Retriever(index, self._embedder, shared.config)
        answer = view.ask(
            question,
            k=k,
            sources=[s for s in sources or [] if s] or None,
            since=(since or "").strip() or None,
            until=(until or "").strip() or None,
            auto_refresh=False,
        )
        entries = index.manifest.articles
        hashes = {p.article_id: entries[p.article_id]["hash"] for p in answer.passages if p.article_id in entries}
        return answer, hashes

    def article_html(self, data: Mapping[str, Any]) -> str:
        """The article a card's 'Open article' asked for (data comes from the browser: checked)."""
        shared = self.retriever()
        article_id = data.get("article_id")
        if shared is None or not isinstance(article_id, str):
            return render_message("This article cannot be opened.", "Ask the question again.", "warn")
        try:
            article = shared.index.article(article_id)
        except KeyError:
            return render_message(
                "This article is no longer in the index.",
                "The index was rebuilt since; ask the question again.",
                "warn",
            )
        current = shared.index.manifest.articles.get(article_id, {}).get("hash")
        stale = bool(data.get("hash")) and data.get("hash") != current
        try:
            start, end = int(data.get("start")), int(data.get("end"))
            hl = (int(data.get("hs")), int(data.get("he")))
        except (TypeError, ValueError):
            start = end = None
            hl = None
        return render_article(article, start, end, hl, stale=stale, nonce=f"{time.time():.6f}")

    def filters(self) -> tuple[list[str], tuple[str, str] | None]:
        """The live index's sources, and its first and last article dates (None: no dates)."""
        try:
            r = self.retriever(refresh=False)
        except QAError:  # unreadable index: the status panel says why
            r = None
        if r is None:
            return [], None
        dates = sorted(e["date"][:10] for e in r.index.manifest.articles.values() if e.get("date"))
        return list(r.index.sources), ((dates[0], dates[-1]) if dates else None)

    def generation(self) -> int:
        """The live index generation (0: none, -1: unreadable)."""
        try:
            r = self.retriever(refresh=True)
        except QAError:
            return -1
        return r.index.generation if r is not None else 0

    def status_html(self) -> str:
        from qa import store
        from qa.status import corpus_status

        try:
            status = corpus_status(self.corpus, self.index_dir).to_dict()
            skipped = store.read_manifest(self.index_dir).data.get("skipped") or []
        except (QAError, OSError) as exc:
            return render_status(None, error=str(exc) if self.has_index() else None)
        return render_status(status, skipped)

    def examples(self) -> list[str]:
        return [q for q, source in EXAMPLES if (self.corpus / source).is_file()]

    def upload(self, files: list[Any] | None, overwrite: bool) -> UploadResult:
        pairs = []
        for f in files or []:
            path = Path(getattr(f, "name", None) or str(f))
            pairs.append((getattr(f, "orig_name", None) or path.name, path))
        return save_uploads(self.corpus, pairs, overwrite=bool(overwrite))


# ---------------------------------------------------------------------------
# The page.
# ---------------------------------------------------------------------------

CSS = """
.gradio-container { max-width: 1200px !important; }
#qa-header h1 { font-size: 1.6rem; margin: 0 0 .15rem 0; }
#qa-header p { margin: 0; color: var(--body-text-color-subdued); }
.qa-result, .qa-article, .qa-message, .qa-status, .qa-report { font-size: 15px; line-height: 1.55; }
.qa-answer { border-left: 4px solid var(--color-accent); padding: .55rem .9rem; margin: 0 0 .9rem 0;
  background: var(--background-fill-secondary); border-radius: 6px; }
.qa-answer-label { font-size: .75rem; text-transform: uppercase; letter-spacing: .06em;
  color: var(--body-text-color-subdued); }
.qa-answer-text { font-size: 1.06rem; font-weight: 500; margin: .1rem 0 0 0; }
.qa-cite, .qa-num { color: var(--color-accent); font-weight: 700; }
.qa-cards { display: flex; flex-direction: column; gap: .75rem; }
.qa-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .7rem .9rem;
  background: var(--background-fill-primary); }
.qa-weak .qa-card { border-style: dashed; }
.qa-card-head { font-weight: 600; font-size: 1rem; }
.qa-meta { font-size: .82rem; color: var(--body-text-color-subdued); margin: .15rem 0 .35rem 0;
  display: flex; flex-wrap: wrap; gap: .15rem .6rem; align-items: baseline; }
.qa-meta > * + *::before { content: none; }
.qa-id { font-family: var(--font-mono); font-size: .78rem; overflow-wrap: anywhere; }
.qa-passage, .qa-article-text { white-space: pre-wrap; overflow-wrap: anywhere; margin: .2rem 0 .5rem 0; }
mark.qa-hl { background: #fde68a; color: #1f2937; padding: 0 .1em; border-radius: 2px;
  -webkit-box-decoration-break: clone; box-decoration-break: clone; }
.qa-cited { background: rgba(253, 230, 138, .3); box-shadow: -3px 0 0 #d97706;
  -webkit-box-decoration-break: clone; box-decoration-break: clone; }
.qa-actions { display: flex; justify-content: flex-end; }
button.qa-open, button.qa-close { border: 1px solid var(--border-color-primary); border-radius: 6px;
  background: var(--button-secondary-background-fill); color: var(--button-secondary-text-color);
  padding: .3rem .8rem; font-size: .85rem; cursor: pointer; }
button.qa-open:hover, button.qa-close:hover { border-color: var(--color-accent); }
.qa-also { font-size: .85rem; color: var(--body-text-color-subdued); }
.qa-also ul { margin: .2rem 0 .4rem 1.1rem; padding: 0; }
.qa-also button.qa-open { padding: .05rem .5rem; font-size: .78rem; }
.qa-noanswer, .qa-message, .qa-warning, .qa-build-note { border-radius: 6px; padding: .55rem .8rem;
  margin: 0 0 .75rem 0; border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary); }
.qa-noanswer, .qa-warn, .qa-warning { border-color: #d97706; }
.qa-error { border-color: #dc2626; }
.qa-ok { border-color: #16a34a; }
.qa-build-note { display: flex; align-items: center; gap: .6rem; font-size: .9rem; border-color: #2563eb; }
.qa-build-note progress { width: 7rem; flex: none; accent-color: var(--color-accent); }
.qa-article-empty { color: var(--body-text-color-subdued); border: 1px dashed var(--border-color-primary);
  border-radius: 8px; padding: 1rem; font-size: .95rem; }
.qa-article-head { position: sticky; top: 0; z-index: 1; background: var(--body-background-fill);
  padding: .2rem 0 .1rem 0; border-bottom: 1px solid var(--border-color-primary); margin-bottom: .4rem; }
.qa-article-bar { display: flex; align-items: flex-start; gap: .75rem; }
.qa-article-title { font-size: 1.2rem; line-height: 1.3; margin: .1rem 0 .2rem 0; flex: 1; }
button.qa-close { flex: none; }
dl.qa-status { display: grid; grid-template-columns: max-content 1fr; margin: 0 0 .5rem 0; }
dl.qa-status dt, dl.qa-status dd { margin: 0; padding: .35rem .9rem .35rem 0;
  border-bottom: 1px solid var(--border-color-primary); }
dl.qa-status dt { color: var(--body-text-color-subdued); }
dl.qa-status dd { overflow-wrap: anywhere; }
.qa-title, .qa-article-title, .qa-answer-text, .qa-also-title { overflow-wrap: anywhere; }
.qa-weak mark.qa-hl { background: #fef3c7; }
.qa-changed { color: #b45309; font-weight: 600; }
.qa-same { color: #15803d; }
.qa-skipped ul, .qa-report ul { margin: .3rem 0 .3rem 1.2rem; padding: 0; font-size: .9rem; }
.qa-skipped code, .qa-report code { overflow-wrap: anywhere; }
.qa-examples { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; font-size: .85rem; }
.qa-examples-label { color: var(--body-text-color-subdued); }
button.qa-example { border: 1px solid var(--border-color-primary); border-radius: 999px; padding: .2rem .75rem;
  background: var(--background-fill-primary); color: var(--body-text-color); cursor: pointer; text-align: left;
  font-size: .85rem; font-weight: 400; line-height: 1.35; }
button.qa-example:hover { border-color: var(--color-accent); color: var(--color-accent); }
#qa-ask-note:not(:has(.qa-build-note)), #qa-index-note:not(:has(.qa-build-note)) { display: none; }
#qa-article-col { position: sticky; top: .5rem; align-self: flex-start; max-height: calc(100vh - 1rem);
  overflow-y: auto; }
@media (max-width: 767px) {
  #qa-header h1 { font-size: 1.3rem; }
  .qa-examples { flex-wrap: nowrap; overflow-x: auto; padding-bottom: .2rem; scrollbar-width: thin; }
  button.qa-example { white-space: nowrap; flex: none; }
  #qa-article-col { position: static; max-height: none; overflow: visible; }
  #qa-article-panel:not(:has(.qa-article)) { display: none; }
  #qa-article-panel:has(.qa-article) { position: fixed !important; inset: 0; z-index: 1000;
    overflow-y: auto !important; background: var(--body-background-fill); padding: 0 1rem 2rem 1rem;
    margin: 0; }
  .qa-article-head { padding-top: .6rem; }
}
"""

# Event delegation on the cards: only "Open article" buttons reach Python, with the citation's offsets.
CARDS_JS = """
element.addEventListener('click', (ev) => {
  const b = ev.target.closest('button.qa-open');
  if (!b || !element.contains(b)) return;
  trigger('click', {article_id: b.dataset.article, start: Number(b.dataset.start), end: Number(b.dataset.end),
                    hs: Number(b.dataset.hs), he: Number(b.dataset.he), hash: b.dataset.hash});
});
"""

EXAMPLES_JS = """
element.addEventListener('click', (ev) => {
  const b = ev.target.closest('button.qa-example');
  if (b && element.contains(b)) trigger('click', {question: b.dataset.q});
});
"""

ARTICLE_JS = """
// After the new article is laid out (on a phone it becomes a full-screen overlay), bring the passage into view.
const focus = () => setTimeout(() => requestAnimationFrame(() => {
  const m = element.querySelector('#qa-focus');
  if (m) m.scrollIntoView({block: 'center', behavior: 'instant'});
}), 30);
watch('value', focus);
element.addEventListener('click', (ev) => {
  if (ev.target.closest('button.qa-close')) props.value = PLACEHOLDER;
});
""".replace("PLACEHOLDER", json.dumps(ARTICLE_PLACEHOLDER))


def _date_hint(span: tuple[str, str] | None, end: int) -> str:
    return f"YYYY-MM-DD, e.g. {span[end]}" if span else "YYYY-MM-DD"


def style() -> dict[str, Any]:
    """Theme and CSS: Gradio 6 takes them in launch(). System fonts: nothing is fetched from the web."""
    theme = gr.themes.Soft(
        primary_hue="blue",
        neutral_hue="slate",
        font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )
    return {"theme": theme, "css": CSS}


def create_app(app: QAApp):
    """The Gradio Blocks for app (not launched)."""
    examples = app.examples()
    sources, dates = app.filters()

    def ui_ask(question, k, sources, since, until):
        if not (question or "").strip():
            return render_message(
                "Type a question first.",
                "For example: " + (examples[0] if examples else "Who said what, and when?"),
                "info",
            ), ARTICLE_PLACEHOLDER
        try:
            answer, hashes = app.ask(question, int(k), sources, since, until)
        except IndexNotReady as exc:  # the banner above shows the build's progress
            return render_message("The index is not ready yet.", str(exc), "warn"), ARTICLE_PLACEHOLDER
        except (QAError, ValueError) as exc:
            return render_message("This question cannot be answered as asked.", str(exc), "error"), ARTICLE_PLACEHOLDER
        return render_answer(answer, hashes), ARTICLE_PLACEHOLDER

    def api_ask(
        question: str,
        k: int = DEFAULT_K,
        sources: list[str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> dict:
        """Answer a question with ranked, cited passages: the same JSON as `qa ask --json`."""
        try:
            answer, _ = app.ask(question, int(k), sources, since, until)
        except (QAError, ValueError) as exc:
            raise gr.Error(str(exc)) from None
        return answer.to_dict()

    def ui_example(evt: gr.EventData):
        data = getattr(evt, "_data", None)
        q = data.get("question") if isinstance(data, dict) else None
        return q if q in examples else gr.skip()

    def ui_open(evt: gr.EventData):
        data = getattr(evt, "_data", None)
        return app.article_html(data if isinstance(data, dict) else {})

    def ui_upload(files, overwrite):
        result = app.upload(files, overwrite)
        return render_upload(result), app.status_html(), None

    def ui_rebuild(full, progress=gr.Progress()):
        started = app.builder.start(full=bool(full))
        note = "" if started else "A build is already running; showing its progress."
        progress(0, desc="starting")
        while True:
            st = app.builder.state()
            if not st.running:
                break
            stage = STAGES.get(st.stage, st.stage)
            if st.total > 1:
                progress((st.done, st.total), desc=stage, unit="passages" if st.stage == "embedding" else "steps")
            else:
                progress(None if st.stage != "done" else 1.0, desc=stage)
            time.sleep(0.25)
        return render_report(st.report, st.error, note), app.status_html()

    def ui_tick(seen: int):
        st = app.builder.state()
        note = render_build_note(st, app.has_index())
        gen = app.generation()
        if gen == seen:
            return note, note, gr.skip(), gr.skip(), gr.skip(), gr.skip(), seen
        srcs, span = app.filters()
        return (
            note,
            note,
            gr.update(choices=srcs, visible=bool(srcs)),
            gr.update(visible=span is not None, placeholder=_date_hint(span, 0)),
            gr.update(visible=span is not None, placeholder=_date_hint(span, 1)),
            app.status_html(),
            gen,
        )

    with gr.Blocks(title="qa — cited answers", delete_cache=(3600, 3600)) as demo:
        seen_gen = gr.State(app.generation())
        gr.HTML(
            '<div id="qa-header"><h1>Ask your articles</h1>'
            "<p>Answers quote the passage and sentence they come from, with a citation you can open.</p></div>",
            js_on_load=None,
        )
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                ask_note = gr.HTML(
                    render_build_note(app.builder.state(), app.has_index()), elem_id="qa-ask-note", js_on_load=None
                )
                with gr.Row(equal_height=True):
                    question = gr.Textbox(
                        placeholder="Ask a question about the articles, then press Enter",
                        show_label=False,
                        lines=1,
                        max_lines=3,
                        scale=5,
                        autofocus=True,
                        elem_id="qa-question",
                        container=False,
                    )
                    ask_btn = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="qa-ask")
                example_box = gr.HTML(
                    render_examples(examples), elem_id="qa-examples", js_on_load=EXAMPLES_JS, visible=bool(examples)
                )
                with gr.Accordion("Options", open=False, elem_id="qa-options"):
                    with gr.Row():
                        k = gr.Slider(1, MAX_K, value=DEFAULT_K, step=1, label="Passages to show", min_width=200)
                        source_dd = gr.Dropdown(
                            choices=sources,
                            multiselect=True,
                            label="Sources",
                            elem_id="qa-sources",
                            visible=bool(sources),
                            min_width=200,
                        )
                        since = gr.Textbox(
                            label="From date",
                            placeholder=_date_hint(dates, 0),
                            visible=dates is not None,
                            min_width=140,
                        )
                        until = gr.Textbox(
                            label="To date", placeholder=_date_hint(dates, 1), visible=dates is not None, min_width=140
                        )
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=320):
                        result = gr.HTML("", elem_id="qa-result", js_on_load=CARDS_JS)
                    with gr.Column(scale=2, min_width=320, elem_id="qa-article-col"):
                        article = gr.HTML(ARTICLE_PLACEHOLDER, elem_id="qa-article-panel", js_on_load=ARTICLE_JS)
            with gr.Tab("Corpus & index", id="corpus") as corpus_tab:
                index_note = gr.HTML("", elem_id="qa-index-note", js_on_load=None)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=300):
                        gr.Markdown("### Index")
                        status = gr.HTML(app.status_html(), elem_id="qa-status", js_on_load=None)
                        with gr.Row():
                            rebuild_btn = gr.Button("Rebuild index", variant="primary", elem_id="qa-rebuild", scale=2)
                            refresh_btn = gr.Button(
                                "Refresh status", variant="secondary", elem_id="qa-refresh", scale=1
                            )
                        full = gr.Checkbox(
                            False,
                            label="From scratch (ignore the old index and the embedding cache; "
                            "needed after changing chunk settings or if the index is damaged)",
                            elem_id="qa-full",
                        )
                        report = gr.HTML("", elem_id="qa-report", js_on_load=None)
                    with gr.Column(scale=1, min_width=300):
                        gr.Markdown("### Add articles")
                        gr.Markdown(
                            f"Files of type {', '.join(SUPPORTED_SUFFIXES)}, up to {MAX_UPLOAD_BYTES // (1 << 20)} MB "
                            "each, are saved into the corpus folder. Then click **Rebuild index**."
                        )
                        files = gr.File(
                            file_count="multiple",
                            file_types=list(SUPPORTED_SUFFIXES),
                            label="Article files",
                            elem_id="qa-upload",
                        )
                        overwrite = gr.Checkbox(False, label="Replace files of the same name", elem_id="qa-overwrite")
                        upload_btn = gr.Button("Add to corpus", elem_id="qa-add")
                        upload_out = gr.HTML("", elem_id="qa-upload-result", js_on_load=None)

        ask_inputs = [question, k, source_dd, since, until]
        ask_outputs = [result, article]
        for trigger in (question.submit, ask_btn.click):
            trigger(
                ui_ask,
                ask_inputs,
                ask_outputs,
                api_visibility="private",
                concurrency_limit=4,
                concurrency_id="ask",
                show_progress="minimal",
            )
        example_box.click(ui_example, None, question, api_visibility="private", queue=False).then(
            ui_ask,
            ask_inputs,
            ask_outputs,
            api_visibility="private",
            concurrency_limit=4,
            concurrency_id="ask",
            show_progress="minimal",
        )
        result.click(ui_open, None, article, api_visibility="private", concurrency_limit=4, show_progress="hidden")
        upload_btn.click(ui_upload, [files, overwrite], [upload_out, status, files], api_visibility="private")
        rebuild_btn.click(
            ui_rebuild,
            full,
            [report, status],
            api_visibility="private",
            concurrency_limit=None,
            show_progress_on=[status],
        )
        refresh_btn.click(app.status_html, None, status, api_visibility="private")
        corpus_tab.select(app.status_html, None, status, api_visibility="private", show_progress="hidden")
        timer = gr.Timer(1.0)
        timer.tick(
            ui_tick,
            seen_gen,
            [ask_note, index_note, source_dd, since, until, status, seen_gen],
            api_visibility="private",
            concurrency_limit=None,
            show_progress="hidden",
            queue=False,
        )
        gr.api(api_ask, api_name="ask", concurrency_limit=4, concurrency_id="ask")
    return demo


# ---------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ui.py", description="The qa web app (Gradio).")
    ap.add_argument("--corpus", default="corpus", help="corpus directory (default: corpus)")
    ap.add_argument("--index", default="index", help="index directory (default: index)")
    ap.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 opens the app to the network)",
    )
    ap.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging()
    corpus, index_dir = Path(args.corpus), Path(args.index)
    if not corpus.is_dir() and not (index_dir / "manifest.json").exists():
        print(
            f"error: corpus directory {corpus} does not exist and there is no index in {index_dir}; "
            "pass --corpus with the folder that holds your articles",
            file=sys.stderr,
        )
        return 1
    if not _is_loopback(args.host):
        print(
            f"warning: listening on {args.host}: anyone who can reach this machine can ask questions, "
            "upload files into the corpus and start builds",
            file=sys.stderr,
        )

    app = QAApp(corpus, index_dir)
    if corpus.is_dir():
        # Missing or older than the corpus: build (incrementally) before answering; the page shows progress.
        first = not app.has_index()
        print(f"index: {'building' if first else 'checking'} {index_dir} from {corpus} in the background", flush=True)
        app.builder.start()
        threading.Thread(target=_report_startup_build, args=(app,), daemon=True).start()
    threading.Thread(target=app.embedder, name="qa-model", daemon=True).start()  # warm the model

    demo = create_app(app)
    try:
        demo.queue(default_concurrency_limit=1).launch(
            server_name=args.host,
            server_port=args.port,
            share=False,
            inbrowser=False,
            max_file_size=MAX_UPLOAD_BYTES,
            **style(),
            footer_links=["api", "settings"],
            show_error=True,
            # Gradio keeps ~0.3 MB of state per session and every REST API call is a new session:
            # the default 10,000 sessions would let API clients grow the server by ~3 GB (bench/loadtest.py).
            state_session_capacity=256,
        )
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port} ({exc}); pass another --port", file=sys.stderr)
        return 1
    return 0


def _report_startup_build(app: QAApp) -> None:
    state = app.builder.wait()
    if state.error:
        print(f"index: error: {state.error}", file=sys.stderr, flush=True)
    elif state.report is not None:
        print(f"index: {state.report.summary()}", flush=True)
        for s in state.report.skipped:
            print(f"  skipped {s}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
