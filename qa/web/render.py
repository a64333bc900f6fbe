"""HTML for the page: pure functions from library objects to markup.

Everything shown that comes from an article (title, source, text, ids, URLs)
goes through `esc` here: Gradio's HTML component sanitizes nothing.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from qa.domain import Answer, Article, Passage

if TYPE_CHECKING:
    from qa.builder import BuildReport
    from qa.status import CorpusStatus
    from qa.upload import UploadResult
    from qa.web.builds import BuildState

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
    """The example questions as chips ('' when there are none)."""
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
    """An ISO time as UTC plus how long ago, e.g. '2021-01-02 10:00 UTC (3 days ago)'."""
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


def render_status(status: CorpusStatus | None, skipped: list[dict] | None = None, error: str | None = None) -> str:
    """The index panel: documents, chunks, model, built at, and whether the corpus changed since."""
    if status is None:
        if error:
            return render_message("The index cannot be read.", error, "error")
        return render_message("No index yet.", "Click Rebuild index to build it from the corpus.", "warn")
    if status.corpus_changed:
        corpus = (
            f'<span class="qa-changed">changed since the build: {len(status.added)} added, '
            f"{len(status.changed)} changed, {len(status.deleted)} deleted — click Rebuild</span>"
        )
    else:
        corpus = '<span class="qa-same">unchanged since the build</span>'
    rows = [
        ("Documents", f"{int(status.documents):,}"),
        ("Chunks", f"{int(status.chunks):,}"),
        ("Model", esc(status.model)),
        ("Built at", esc(_ago(status.built_at))),
        ("Corpus", corpus),
        ("Folders", f"corpus <code>{esc(status.corpus)}</code>, index <code>{esc(status.index)}</code>"),
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
    """What an upload saved (and that a rebuild indexes it) and what it refused, with reasons."""
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
