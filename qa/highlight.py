"""Pick the sentence of a passage that best answers a question.

Measured on the seed questions (docs/EVALUATION.md): IDF-weighted overlap of
stemmed question terms is cheap (no model call at query time) and finds the
answering sentence as often as sentence embeddings did.
"""

from __future__ import annotations

from .lexical import query_terms_many
from .segment import sentence_spans


def _weights(question: str, idf: dict[str, float]) -> dict[str, float]:
    terms = query_terms_many([question])[0]
    default = max(idf.values()) if idf else 1.0
    return {t: idf.get(t, default) for t in terms}


def best_sentence(question: str, text: str, offset: int, idf: dict[str, float]) -> tuple[int, int]:
    """(start, end) of the best sentence, in the coordinates of the text's article."""
    spans = sentence_spans(text)
    if not spans:
        return offset, offset + len(text)
    weights = _weights(question, idf)
    if len(spans) == 1 or not weights:
        a, b = spans[0]
        return offset + a, offset + b
    bags = query_terms_many([text[a:b] for a, b in spans])
    best, best_score = 0, -1.0
    for i, bag in enumerate(bags):
        present = set(bag)
        score = sum(w for t, w in weights.items() if t in present)
        if score > best_score + 1e-9:
            best, best_score = i, score
    a, b = spans[best]
    return offset + a, offset + b


def coverage(question: str, text: str, idf: dict[str, float]) -> float:
    """Share of the question's IDF mass whose terms occur in text (0..1)."""
    weights = _weights(question, idf)
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    present = set(query_terms_many([text])[0])
    return sum(w for t, w in weights.items() if t in present) / total
