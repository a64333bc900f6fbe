"""HTML for the page: pure functions from library objects to markup.

Everything shown that comes from an article (title, source, text, ids, URLs)
goes through `esc` here: Gradio's HTML component sanitizes nothing.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from qa.domain import Answer, Article, Passage

if TYPE_CHECKING:
    from qa.builder import BuildReport
    from qa.status import CorpusStatus
    from qa.upload import UploadResult
    from qa.web.builds import BuildState
    from qa.web.watching import Outcome, WatchState
    from qa.webpage import AddReport

STAGES = {
    "starting": "starting",
    "reading corpus": "reading the corpus",
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


def _meta(source: str | None, date: str | None, place: str | None = None) -> str:
    """source · place · date, each only if known (the place is a wire dateline's: "Reuters · Brussels · date")."""
    parts = [
        f'<span class="qa-source">{esc(source)}</span>' if source else "",
        f'<span class="qa-place">{esc(place)}</span>' if place else "",
        f'<span class="qa-date">{esc(date)}</span>' if date else "",
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


@dataclass(frozen=True)
class Card:
    """What one card shows: a span of one article made of the passages that touch or overlap there,
    and the article's other passages ("more in this article")."""

    spans: tuple[Passage, ...]  # touching or overlapping passages, in article order
    more: tuple[Passage, ...] = ()  # the article's other passages, best first

    @property
    def lead(self) -> Passage:
        """The best-ranked passage of the span (its citation and highlight lead)."""
        return min(self.spans, key=lambda p: p.rank)

    @property
    def start(self) -> int:
        return self.spans[0].start

    @property
    def end(self) -> int:
        return max(p.end for p in self.spans)

    @property
    def text(self) -> str:
        """The article text of the whole span, pieced together from the passages (each is article text)."""
        out, reached = [], self.start
        for p in self.spans:
            if p.end > reached:
                out.append(p.text[reached - p.start :])
                reached = p.end
        return "".join(out)

    @property
    def highlights(self) -> list[tuple[int, int]]:
        """The distinct answering sentences of the span (article offsets), overlapping ones merged."""
        merged: list[list[int]] = []
        for a, b in sorted({p.highlight for p in self.spans}):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        return [(a, b) for a, b in merged]

    @property
    def also_in(self) -> list[dict]:
        """The other articles carrying this story (wire copies), once each."""
        seen: dict[str, dict] = {}
        for p in sorted(self.spans, key=lambda p: p.rank):
            for o in p.also_in:
                seen.setdefault(str(o.get("article_id")), o)
        return list(seen.values())


def group_passages(passages: list[Passage]) -> list[Card]:
    """One card per article, in the order the passages come: the span of its first passage (with every
    passage touching or overlapping it), and its other passages as "more in this article"."""
    by_article: dict[str, list[Passage]] = {}
    for p in passages:
        by_article.setdefault(p.article_id, []).append(p)
    cards = []
    for group in by_article.values():
        first = group[0]
        span = [first]
        lo, hi = first.start, first.end
        rest = sorted(group[1:], key=lambda p: p.start)
        grew = True
        while grew:  # passages chain: a touches b touches c
            grew = False
            for p in list(rest):
                if p.start <= hi and lo <= p.end:
                    span.append(p)
                    rest.remove(p)
                    lo, hi, grew = min(lo, p.start), max(hi, p.end), True
        more = tuple(p for p in group if p in rest)
        cards.append(Card(tuple(sorted(span, key=lambda p: (p.start, p.end))), more))
    return cards


def marks_html(text: str, base: int, ranges: list[tuple[int, int]], css_class: str = "qa-hl") -> str:
    """text (starting at article offset base) with each (start, end) range marked; bad ranges are skipped."""
    out, at = [], 0
    for a, b in sorted(ranges):
        a, b = a - base, b - base
        if not (at <= a < b <= len(text)):
            continue
        out.append(f'{_text(text[at:a])}<mark class="{css_class}">{_text(text[a:b])}</mark>')
        at = b
    return "".join(out) + _text(text[at:])


@dataclass(frozen=True)
class Strength:
    """How a reader should take a passage as evidence: a level and how full its bar is."""

    level: str  # "strong", "weak" or "no answer"
    fill: int  # percent
    note: str  # what it is based on, for the tooltip


def strength(similarity: float | None, no_answer: bool, weak_from: float, strong_from: float) -> Strength:
    """From the answer's no-answer decision and the passage's cosine to the question, against the
    calibrated thresholds (Config.min_dense_score and Config.strong_dense_score)."""
    if similarity is None:
        fill, note = 0, "similarity unknown"
    else:
        fill = int(round(100 * min(1.0, max(0.0, similarity) / max(strong_from + 0.3, 1e-6))))
        note = f"similarity {similarity:.2f} to the question (weak from {weak_from:.2f}, strong from {strong_from:.2f})"
    if no_answer:
        return Strength("no answer", min(fill, 20), note)
    if similarity is not None and similarity >= strong_from:
        return Strength("strong", max(fill, 55), note)
    return Strength("weak", min(max(fill, 15), 50), note)


def _strength_html(s: Strength, score: float) -> str:
    ranked = "its best chunk's fused score; passages are ordered by their best sentence"
    title = f"{s.note}; retrieval score {score:.3f} ({ranked})"
    return (
        f'<span class="qa-strength qa-{s.level.replace(" ", "-")}" title="{esc(title)}">'
        f'<span class="qa-strength-bar" aria-hidden="true"><span style="width:{int(s.fill)}%"></span></span>'
        f"{esc(s.level)} evidence</span>"
        if s.level != "no answer"
        else f'<span class="qa-strength qa-no-answer" title="{esc(title)}">'
        f'<span class="qa-strength-bar" aria-hidden="true"><span style="width:{int(s.fill)}%"></span></span>'
        "no clear answer</span>"
    )


def _also_html(others: list[dict]) -> str:
    if not others:
        return ""
    items = []
    for o in sorted(others, key=lambda o: (o.get("date") or "", str(o.get("article_id")))):
        meta = _meta(o.get("source"), o.get("date"), o.get("place"))
        start, end = int(o.get("start", 0)), int(o.get("end", 0))
        items.append(
            f'<li><span class="qa-also-title">{esc(o.get("title") or o.get("article_id"))}</span>'
            + (f' <span class="qa-meta">{meta}</span>' if meta else "")
            + " "
            + _open_button(str(o.get("article_id")), start, end, (start, end), None, "Open")
            + "</li>"
        )
    n = len(others)
    return f'<div class="qa-also">Also in {n} source{"s" if n != 1 else ""}:<ul>{"".join(items)}</ul></div>'


def _more_html(more: tuple[Passage, ...], article_hash: str | None) -> str:
    if not more:
        return ""
    items = "".join(
        f'<li><span class="qa-more-text">{esc(p.highlight_text.strip() or p.text[:200])}</span> '
        + _open_button(p.article_id, p.start, p.end, p.highlight, article_hash, "Open")
        + "</li>"
        for p in more
    )
    return f'<details class="qa-more"><summary>{len(more)} more in this article</summary><ul>{items}</ul></details>'


def render_card(card: Card, number: int, article_hash: str | None = None, evidence: Strength | None = None) -> str:
    """One citation card: the span, its answering sentences marked, its wire copies and the article's other passages
    (source, place and date beside the title)."""
    p = card.lead
    shown = _strength_html(evidence, p.score) if evidence else ""
    return (
        f'<article class="qa-card" data-rank="{int(p.rank)}" data-article="{esc(p.article_id)}">'
        f'<header class="qa-card-head"><span class="qa-num">[{int(number)}]</span> '
        f'<span class="qa-title">{esc(p.title)}</span></header>'
        f'<div class="qa-meta">{_meta(p.source, p.date, p.place)}'
        f'<span class="qa-id" title="article id">{esc(p.article_id)}</span>{shown}</div>'
        f'<p class="qa-passage">{marks_html(card.text, card.start, card.highlights)}</p>'
        f"{_also_html(card.also_in)}"
        f'<div class="qa-actions">{_more_html(card.more, article_hash)}'
        f"{_open_button(p.article_id, card.start, card.end, p.highlight, article_hash)}</div>"
        f"</article>"
    )


def render_passage(p: Passage, article_hash: str | None = None) -> str:
    """One passage as a card of its own."""
    return render_card(Card((p,)), p.rank, article_hash)


@dataclass(frozen=True)
class Evidence:
    """What the page knows beside the answer: each passage's cosine to the question, and the thresholds."""

    similarity: Mapping[tuple[str, int, int], float]  # (article_id, start, end) -> cosine
    weak_from: float = 0.30
    strong_from: float = 0.45

    def of(self, answer: Answer, p: Passage) -> Strength:
        sim = self.similarity.get((p.article_id, p.start, p.end))
        return strength(sim, answer.no_answer, self.weak_from, self.strong_from)


def render_answer(
    answer: Answer,
    hashes: Mapping[str, str] | None = None,
    evidence: Evidence | None = None,
    timeline: str = "",
) -> str:
    """The answer line (best highlighted sentence + its card's number), a timeline, and one card per article span."""
    hashes = hashes or {}
    parts = ['<div class="qa-result">']
    for w in answer.warnings:
        parts.append(f'<div class="qa-warning" role="status">{esc(w)}</div>')
    cards = group_passages(answer.passages)
    if answer.no_answer or not answer.passages:
        parts.append(
            '<div class="qa-noanswer" role="status"><strong>No passage clearly answers this.</strong> '
            f"{esc(_sentence(answer.reason or 'the evidence is weak'))}"
            + (" The closest passages are below, flagged as weak evidence." if answer.passages else "")
            + "</div>"
        )
    else:
        best = min(answer.passages, key=lambda p: p.rank)
        number = next(i for i, c in enumerate(cards, 1) if best in c.spans)
        parts.append(
            f'<div class="qa-answer"><span class="qa-answer-label">Answer</span>'
            f'<p class="qa-answer-text">{esc(best.highlight_text.strip())} '
            f'<span class="qa-cite">[{number}]</span></p></div>'
        )
    parts.append(timeline)
    if answer.passages:
        flagged = " qa-weak" if answer.no_answer else ""
        parts.append(f'<div class="qa-cards{flagged}">')
        parts.extend(
            render_card(c, i, hashes.get(c.lead.article_id), evidence.of(answer, c.lead) if evidence else None)
            for i, c in enumerate(cards, 1)
        )
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


@dataclass(frozen=True)
class Bucket:
    """One bar of the timeline: the days [first, last] and how many of the articles fall in them."""

    label: str
    first: dt.date
    last: dt.date
    count: int


MAX_BARS = 36


def _next(day: dt.date, unit: str) -> dt.date:
    if unit == "day":
        return day + dt.timedelta(days=1)
    if unit == "week":
        return day + dt.timedelta(days=7)
    if unit == "month":
        return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return dt.date(day.year + 1, 1, 1)


def _floor(day: dt.date, unit: str) -> dt.date:
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    return day


def _label(day: dt.date, unit: str) -> str:
    return {"day": f"{day:%b} {day.day}, {day.year}", "week": f"week of {day:%b} {day.day}, {day.year}",
            "month": f"{day:%b %Y}", "year": f"{day.year}"}[unit]  # fmt: skip


def timeline_buckets(dates: list[str | None]) -> tuple[str, list[Bucket], int]:
    """(unit, bars, undated): a bar per day, week, month or year, the finest unit that keeps the span
    within MAX_BARS bars, empty bars included; articles without a (readable) date are counted apart."""
    days = []
    for value in dates:
        try:
            days.append(dt.date.fromisoformat(str(value)[:10]))
        except ValueError:
            pass
    undated = len(dates) - len(days)
    if not days:
        return "day", [], undated
    lo, hi = min(days), max(days)
    for unit in ("day", "week", "month", "year"):
        starts = [_floor(lo, unit)]
        while _next(starts[-1], unit) <= hi and len(starts) <= MAX_BARS:
            starts.append(_next(starts[-1], unit))
        if len(starts) <= MAX_BARS or unit == "year":
            break
    bars = []
    for first in starts:
        last = _next(first, unit) - dt.timedelta(days=1)
        bars.append(Bucket(_label(first, unit), first, last, sum(first <= d <= last for d in days)))
    return unit, bars, undated


# What the timeline counts (Retriever.matching_articles), for its tooltip.
MATCHING = (
    "every article passing the filters with a passage among the question's closest candidates (by meaning or by "
    "words) that is similar enough to the question to be related at all, and the articles a confident answer cites"
)


def render_timeline(dates: list[str | None], since: str | None = None, until: str | None = None) -> str:
    """A small bar chart of the dates of the articles matching the question (MATCHING says which);
    each bar is a button that filters to its days."""
    unit, bars, undated = timeline_buckets(dates)
    clear = (
        '<button type="button" class="qa-bar-clear" data-since="" data-until="">show all dates</button>'
        if since or until
        else ""
    )
    if not bars:  # nothing dated: no chart to show (but a way back from a date filter)
        return f'<div class="qa-timeline"><div class="qa-timeline-head">{clear}</div></div>' if clear else ""
    top = max((b.count for b in bars), default=1) or 1
    items = "".join(
        f'<button type="button" class="qa-bar{" qa-bar-empty" if not b.count else ""}" '
        f'data-since="{b.first.isoformat()}" data-until="{b.last.isoformat()}" '
        f'title="{esc(b.label)}: {b.count} article{"s" if b.count != 1 else ""} — click to show only these" '
        f'aria-label="{esc(b.label)}: {b.count}"><span class="qa-bar-fill" style="height:{int(100 * b.count / top)}%">'
        f"</span></button>"
        for b in bars
    )
    axis = f'<div class="qa-axis"><span>{esc(bars[0].label)}</span><span>{esc(bars[-1].label)}</span></div>'
    n = len(dates)
    head = f"{n} matching article{'s' if n != 1 else ''} by {unit}"
    extra = f" · {undated} without a date" if undated else ""
    return (
        f'<div class="qa-timeline"><div class="qa-timeline-head" title="Matching: {esc(MATCHING)}">'
        f"{esc(head)}{esc(extra)}{clear}</div>" + f'<div class="qa-bars">{items}</div>{axis}</div>'
    )


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
    meta = " · ".join(x for x in (_meta(article.source, article.date, article.place), url) if x)
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


def render_status(
    status: CorpusStatus | None,
    skipped: list[dict] | None = None,
    error: str | None = None,
    watch: WatchState | None = None,
) -> str:
    """The index panel: documents, chunks, model, built at, whether the corpus changed since, and (watch) what the
    corpus watcher's last build and feed sync did."""
    watched = _watch_rows(watch) if watch is not None else []
    if status is None:
        if error:
            return render_message("The index cannot be read.", error, "error") + _rows_html(watched)
        todo = "The watcher builds it from the corpus." if watch else "Click Rebuild index to build it from the corpus."
        return render_message("No index yet.", todo, "warn") + _rows_html(watched)
    if status.corpus_changed:
        corpus = (
            f'<span class="qa-changed">changed since the build: {len(status.added)} added, '
            f"{len(status.changed)} changed, {len(status.deleted)} deleted — "
            f"{'the watcher rebuilds it shortly' if watch else 'click Rebuild'}</span>"
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
        *watched,
    ]
    out = _rows_html(rows)
    if skipped:
        out += _skipped_list(skipped, "Skipped in the last build")
    return out


def _rows_html(rows: list[tuple[str, str]]) -> str:
    """The panel's rows (values already markup) as one definition list; '' without rows."""
    items = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<dl class="qa-status">{items}</dl>' if items else ""


def _watch_rows(watch: WatchState) -> list[tuple[str, str]]:
    """The watcher's rows: that it watches, its last build and (with --sync-feeds) its last feed sync."""
    every = f"; feeds synced every {watch.sync_minutes:g} min" if watch.sync_minutes else ""
    rows = [
        ("Watching", f"the corpus: the index follows its changes by itself{esc(every)}"),
        ("Last build", _outcome_html(watch.last_build, "none yet")),
    ]
    if watch.sync_minutes:
        rows.append(
            (
                "Last feed sync",
                _outcome_html(watch.last_sync, "none yet (feeds.txt lists no feed, or the first sync is running)"),
            )
        )
    return rows


def _outcome_html(outcome: Outcome | None, none: str) -> str:
    if outcome is None:
        return esc(none)
    when = esc(_ago(datetime.fromtimestamp(outcome.at, timezone.utc).isoformat()))
    if outcome.error:
        return f'<span class="qa-failed">failed {when}: {esc(outcome.error)}</span>'
    details = "".join(f"<li>{esc(d)}</li>" for d in outcome.details)
    return f"{when}: {esc(outcome.summary)}" + (f'<ul class="qa-outcome">{details}</ul>' if details else "")


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
        else f"Index rebuilt in {report.seconds:.1f} s: "
        f"{report.documents:,} document{'s' if report.documents != 1 else ''}, "
        f"{report.chunks:,} chunk{'s' if report.chunks != 1 else ''} "
        f"({report.embedded:,} passage{'s' if report.embedded != 1 else ''} embedded)."
    )
    items = _id_list("Added", report.added) + _id_list("Changed", report.changed) + _id_list("Deleted", report.deleted)
    out = lead + f'<div class="qa-report">{render_message(head, kind="ok")}'
    if items:
        out += f"<ul>{items}</ul>"
    if report.skipped:
        out += _skipped_list([s.to_dict() for s in report.skipped], "Skipped")
    return out + "</div>"


def _next_step(watching: bool) -> str:
    """What indexes newly saved articles: the watcher by itself, or a click."""
    return "The index follows by itself in a few seconds." if watching else "Click <b>Rebuild index</b> to index them."


def render_upload(result: UploadResult, watching: bool = False) -> str:
    """What an upload saved (and what indexes it) and what it refused, with reasons."""
    out = []
    if result.saved:
        names = ", ".join(f"<code>{esc(s.name)}</code>{' (replaced)' if s.replaced else ''}" for s in result.saved)
        out.append(
            f'<div class="qa-message qa-ok" role="status"><strong>Added {len(result.saved)} file(s) to the '
            f"corpus:</strong> {names}. {_next_step(watching)}</div>"
        )
    if result.rejected:
        out.append(_skipped_list([s.to_dict() for s in result.rejected], "Refused"))
    return "".join(out) or render_message("Choose one or more files first.", kind="warn")


def render_added(report: AddReport, watching: bool = False) -> str:
    """One line per address of an "Add by URL": added, updated or unchanged (with its file), or failed (with why)."""
    rows = [
        f'<li class="qa-url qa-url-{s.status}"><span class="qa-url-status">{esc(s.status)}</span> '
        f"<code>{esc(s.url)}</code> → <code>{esc(s.path)}</code></li>"
        for s in report.added + report.updated + report.unchanged
    ] + [
        f'<li class="qa-url qa-url-failed"><span class="qa-url-status">failed</span> '
        f"<code>{esc(f.url)}</code>: {esc(f.reason)}</li>"
        for f in report.failed
    ]
    saved = len(report.added) + len(report.updated)
    counts = (
        f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
        f"{len(report.failed)} failed."
    )
    kind = "error" if report.failed and not saved else "ok"
    head = f"<strong>{esc(counts)}</strong>" + (f" {_next_step(watching)}" if saved else "")
    return (
        f'<div class="qa-message qa-{kind}" role="status">{head}</div><ul class="qa-url-results">{"".join(rows)}</ul>'
    )


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
