"""Pick the sentence of a passage that best answers a question.

Measured (docs/EVALUATION.md, `qa eval --highlight ...`): IDF-weighted overlap
of stemmed question terms finds the answering sentence as often as sentence
embeddings on our question sets, at a fraction of a millisecond and with no
model call per sentence, so "lexical" is the default; "dense" (cosine of each
sentence to the question) and "both" (their sum) stay available for measuring.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .lexical import terms
from .segment import sentence_spans

METHODS = ("lexical", "dense", "both")


class IdfTable(dict):
    """Term -> IDF, with its highest value kept: a term the index never saw counts as the rarest,
    and finding the highest of a large vocabulary on every question cost ~1.5 ms at 100k chunks."""

    def __init__(self, weights: dict[str, float]):
        super().__init__(weights)
        self.highest: float | None = max(self.values()) if self else None


def highest_idf(idf: dict[str, float]) -> float | None:
    """The highest IDF of a table (None if it is empty): kept by an IdfTable, else computed."""
    if isinstance(idf, IdfTable):
        return idf.highest
    return max(idf.values()) if idf else None


class Highlighter:
    """Scores sentences against one question; weights are computed once per question."""

    def __init__(
        self,
        question: str,
        idf: dict[str, float],
        method: str = "lexical",
        embed: Callable[[list[str]], np.ndarray] | None = None,
        question_vector: np.ndarray | None = None,
    ):
        if method not in METHODS:
            raise ValueError(f"highlight method must be one of {', '.join(METHODS)}, got {method!r}")
        if method != "lexical" and (embed is None or question_vector is None):
            raise ValueError(f"highlight method {method!r} needs the embedder and the question's vector")
        top = highest_idf(idf)
        default = top if top is not None else 1.0
        self.weights = {t: idf.get(t, default) for t in terms(question)}
        self._present: dict[str, frozenset[str]] = {}
        self.method = method
        self.embed = embed
        self.qvec = question_vector

    def scores(self, sentences: list[str]) -> np.ndarray:
        """Each sentence's IDF-weighted share of the question's terms (0..1): its coverage."""
        return np.array([self.coverage(s) for s in sentences], dtype=np.float32)

    def present(self, text: str) -> frozenset[str]:
        """The question's terms that text holds (remembered: a sentence is scored more than once)."""
        found = self._present.get(text)
        if found is None:
            found = self._present[text] = frozenset(self.weights.keys() & set(terms(text)))
        return found

    def best(self, text: str, offset: int, spans: list | None = None) -> tuple[int, int]:
        """(start, end) of the best sentence of text, in its article's coordinates (offset = text's start).

        spans: the text's sentences as the chunker cut them (the chunk table keeps
        them); without them (indexes from before they were kept) text is split here.
        """
        spans = sentence_spans(text) if not spans else [(int(a), int(b)) for a, b in spans]
        if not spans:
            return offset, offset + len(text)
        if len(spans) == 1:
            return offset + spans[0][0], offset + spans[0][1]
        sentences = [text[a:b] for a, b in spans]
        scores = self.scores(sentences) if self.method != "dense" else np.zeros(len(spans), np.float32)
        if self.method != "lexical":
            scores = scores + self.embed(sentences) @ self.qvec
        best = int(np.argmax(scores))  # ties: the earliest sentence
        a, b = spans[best]
        return offset + a, offset + b

    def coverage(self, text: str, muted: frozenset[str] = frozenset(), muted_weight: float = 1.0) -> float:
        """Share of the question's IDF mass whose terms occur in text (0..1); the terms in muted
        weigh muted_weight times their IDF (an article's title terms, when choosing among its sentences)."""

        def mass(found) -> float:
            return sum(self.weights[t] * (muted_weight if t in muted else 1.0) for t in found)

        total = mass(self.weights)
        return mass(self.present(text)) / total if total > 0 else 0.0


def best_sentence(question: str, text: str, offset: int, idf: dict[str, float]) -> tuple[int, int]:
    """(start, end) of the best sentence by lexical overlap, in the coordinates of the text's article."""
    return Highlighter(question, idf).best(text, offset)


def coverage(question: str, text: str, idf: dict[str, float]) -> float:
    """Share of the question's IDF mass whose terms occur in text (0..1)."""
    return Highlighter(question, idf).coverage(text)
