"""From a ranking of chunks to passages: merge overlapping chunks of one article, fold wire copies.

Chunks overlap by a sentence, so the best chunks of one article often share text; shown
apart they fill the top k with the same sentence twice (issue 13: 260 overlapping pairs in
the news test split's top 5s). Here they become one passage over the merged span, and a
chunk that nearly repeats a kept passage of another article (the same wire story) is
listed in that passage's `also_in` instead of taking a place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .index import Index
from .manifest import ArticleEntry

NEAR_DUPLICATE_COSINE = 0.97
NEAR_DUPLICATE_CONTAINMENT = 0.8  # share of the shorter passage's word trigrams found in the other


@dataclass
class Span:
    """A passage being assembled: one article's merged chunks, in article coordinates."""

    article_id: str
    entry: ArticleEntry
    start: int
    end: int
    text: str
    score: float  # the best fused score of its chunks
    row: int  # its best chunk (its vector stands for the span in near-duplicate checks)
    sentences: list[tuple[int, int]]  # sentence spans in article coordinates, in order
    also_in: list[dict] = field(default_factory=list)
    _shingles: frozenset | None = field(default=None, repr=False, compare=False)

    @property
    def shingles(self) -> frozenset:
        """Its word trigrams, for near-duplicate checks (kept until the span grows)."""
        if self._shingles is None:
            self._shingles = _shingles(self.text)
        return self._shingles

    def overlaps(self, start: int, end: int) -> bool:
        return start < self.end and self.start < end

    def absorb(self, start: int, end: int, text: str, sentences: list[tuple[int, int]]) -> None:
        """Grow to the union with an overlapping span of the same article (text = article text[start:end])."""
        head = text[: self.start - start] if start < self.start else ""
        tail = text[self.end - start :] if end > self.end else ""
        self.text = head + self.text + tail
        self.start, self.end = min(self.start, start), max(self.end, end)
        self.sentences = sorted(set(self.sentences) | set(sentences))
        self._shingles = None


def chunk_sentences(chunk: dict) -> list[tuple[int, int]]:
    """The chunk's sentences in article coordinates (the whole chunk if it kept none)."""
    start = int(chunk["start"])
    spans = chunk.get("sentences") or []
    if not spans:
        from .segment import sentence_spans

        spans = sentence_spans(chunk["text"]) or [(0, len(chunk["text"]))]
    return [(start + int(a), start + int(b)) for a, b in spans]


def select_spans(index: Index, ranked: list[tuple[int, float]], k: int) -> list[Span]:
    """The k best passages of a fused chunk ranking, best first; no two share text."""
    spans: list[Span] = []
    for row, score in ranked:
        if len(spans) >= k:
            break
        chunk = index.chunks[row]
        article_id, start, end = chunk["article_id"], int(chunk["start"]), int(chunk["end"])
        same = [s for s in spans if s.article_id == article_id and s.overlaps(start, end)]
        if same:
            keep = same[0]
            keep.absorb(start, end, chunk["text"], chunk_sentences(chunk))
            for other in same[1:]:  # the chunk bridged two kept passages: they become one
                keep.absorb(other.start, other.end, other.text, other.sentences)
                keep.also_in.extend(other.also_in)
                spans.remove(other)
            continue
        entry = index.manifest.articles[article_id]
        dup = _near_duplicate(index, row, article_id, chunk["text"], spans)
        if dup is not None:
            dup.also_in.append(citation(chunk, entry, index.place(article_id)))
            continue
        spans.append(Span(article_id, entry, start, end, chunk["text"], float(score), row, chunk_sentences(chunk)))
    return spans


def overlapping_pairs(passages) -> int:
    """Pairs of passages (anything with article_id, start, end) of one article that share text."""
    n = 0
    for i, a in enumerate(passages):
        for b in passages[i + 1 :]:
            n += a.article_id == b.article_id and a.start < b.end and b.start < a.end
    return n


def citation(chunk: dict, entry: ArticleEntry, place: str | None) -> dict:
    return {
        "article_id": chunk["article_id"],
        "title": entry.title,
        "source": entry.source,
        "date": entry.date,
        "place": place,
        "start": chunk["start"],
        "end": chunk["end"],
    }


def _shingles(text: str) -> frozenset:
    """Word trigrams; zip builds them in C (this runs for about ten chunks a question)."""
    words = re.findall(r"\w+", text.casefold())
    if len(words) < 3:
        return frozenset({tuple(words)})
    return frozenset(zip(words, words[1:], words[2:]))


def _near_duplicate(index: Index, row: int, article_id: str, text: str, spans: list[Span]) -> Span | None:
    """The kept passage this one nearly repeats (same wire story elsewhere), if any.

    Near-identical meaning (cosine) or mostly the same word trigrams: a story that
    another paper re-cut or topped with its own sentence still counts as the same.
    """
    if not spans:
        return None
    sims = index.vector_rows([s.row for s in spans]) @ index.vector_rows([row])[0]
    mine = None
    for span, sim in zip(spans, sims):
        if span.article_id == article_id:
            continue
        if sim >= NEAR_DUPLICATE_COSINE:
            return span
        mine = mine if mine is not None else _shingles(text)
        theirs = span.shingles
        if len(mine & theirs) >= NEAR_DUPLICATE_CONTAINMENT * min(len(mine), len(theirs)):
            return span
    return None
