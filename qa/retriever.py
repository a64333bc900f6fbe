"""Answer a question with ranked, cited passages: dense + lexical search, fused.

The retriever composes an Index (data) and an Embedder (model); neither owns
the other, so tests can pass a fake embedder and the UI can share one model.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import numpy as np

from . import store
from .config import Config
from .dense import search_dense
from .domain import Answer, Passage
from .embed import Embedder, load_embedder
from .errors import QuestionError
from .highlight import best_sentence, coverage
from .index import Index

log = logging.getLogger("qa.retriever")
MODES = ("hybrid", "dense", "lexical")
MAX_QUESTION_CHARS = 2000  # the model sees ~250 word pieces; more is noise for BM25 too
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Retriever:
    def __init__(self, index: Index, embedder: Embedder | None = None, config: Config | None = None):
        self.index = index
        self._embedder = embedder
        self.config = config or Config()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, index_dir: str | Path = "index", embedder: Embedder | None = None,
             config: Config | None = None) -> Retriever:
        return cls(Index.open(index_dir), embedder, config)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.config.batch_size)
        return self._embedder

    def refresh(self) -> bool:
        """Switch to a newer generation if a build committed one. Cheap: one small file read."""
        try:
            current = store.read_manifest(self.index.dir).generation
        except Exception:  # noqa: BLE001 - mid-swap or broken: keep serving the loaded index
            return False
        if current == self.index.generation:
            return False
        with self._lock:
            if current != self.index.generation:
                self.index = Index.open(self.index.dir)
                return True
        return False

    def ask(self, question: str, k: int = 5, *, mode: str = "hybrid", sources: list[str] | None = None,
            since: str | None = None, until: str | None = None, diversity: float | None = None,
            auto_refresh: bool = True) -> Answer:
        """The k best passages for question, each with the sentence most likely to answer it."""
        if mode not in MODES:
            raise QuestionError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if not isinstance(k, int) or k < 1:
            raise QuestionError(f"k must be a positive whole number, got {k!r}")
        if auto_refresh:
            self.refresh()
        index = self.index  # one generation for the whole question
        question, warnings = self._clean_question(question)
        allowed = index.allowed_rows(sources, since, until)
        n = self.config.candidates
        pool = max(n, k * 4)

        dense_rows = dense_scores = None
        if mode in ("dense", "hybrid") and len(index):
            qvec = self.embedder.embed([question])[0]
            dense_rows, dense_scores = search_dense(index.dense, index.dense_spec, qvec, pool, allowed)
        lex_rows = lex_scores = None
        if mode in ("lexical", "hybrid") and len(index):
            mask = None
            if allowed is not None:
                mask = np.zeros(len(index), dtype=np.float32)
                mask[allowed] = 1.0
            lex_rows, lex_scores = index.lexical.search(question, pool, mask)

        ranked = fuse(dense_rows, dense_scores, lex_rows, lex_scores, self.config, mode)
        if diversity:
            ranked = mmr(ranked, index.vectors, diversity, k * 3)
        passages = self._passages(index, question, ranked, k)
        no_answer, reason = self._judge(index, question, passages, dense_rows, dense_scores)
        return Answer(question, passages, no_answer, reason, warnings)

    def _clean_question(self, question: str) -> tuple[str, list[str]]:
        if not isinstance(question, str):
            raise QuestionError("the question must be text")
        warnings: list[str] = []
        question = _CONTROL.sub(" ", question).strip()
        if not question:
            raise QuestionError("the question is empty: type a question")
        if len(question) > MAX_QUESTION_CHARS:
            question = question[:MAX_QUESTION_CHARS]
            warnings.append(f"the question was cut to its first {MAX_QUESTION_CHARS} characters")
        limit = self.config.max_model_tokens - 2
        if self._embedder is not None or len(question) > limit:
            tokens = self._count(question)
            if tokens > limit:
                warnings.append(
                    f"the question has {tokens} word pieces; the model reads only the first {limit}"
                )
        for w in warnings:
            log.warning(w)
        return question, warnings

    def _count(self, text: str) -> int:
        from .embed import WordPieceCounter

        if self._embedder is not None:
            return self._embedder.count([text])[0]
        return WordPieceCounter().count([text])[0]

    def _passages(self, index: Index, question: str, ranked: list[tuple[int, float]], k: int) -> list[Passage]:
        idf = index.idf()
        passages: list[Passage] = []
        kept_rows: list[int] = []
        for row, score in ranked:
            if len(passages) >= k:
                break
            chunk = index.chunks[row]
            dup = _near_duplicate(index, row, chunk["text"], kept_rows, passages)
            entry = index.manifest.articles[chunk["article_id"]]
            if dup is not None:
                dup.also_in.append(_citation(chunk, entry))
                continue
            hl = best_sentence(question, chunk["text"], chunk["start"], idf)
            passages.append(Passage(
                rank=len(passages) + 1, score=float(score), text=chunk["text"],
                article_id=chunk["article_id"], title=entry.get("title") or chunk["article_id"],
                source=entry.get("source"), date=entry.get("date"),
                start=chunk["start"], end=chunk["end"], highlight=hl,
            ))
            kept_rows.append(row)
        return passages

    def _judge(self, index, question, passages, dense_rows, dense_scores) -> tuple[bool, str | None]:
        """Too-weak evidence: flag it (passages are still returned)."""
        if not passages:
            return True, "no passage matches the question"
        cov = coverage(question, passages[0].text, index.idf())
        top_dense = float(dense_scores[0]) if dense_scores is not None and len(dense_scores) else None
        c = self.config
        if top_dense is not None and top_dense < c.min_dense_score:
            return True, f"the closest passage is only {top_dense:.2f} similar to the question"
        if cov < c.min_lexical_overlap:
            return True, f"the best passage covers only {cov:.0%} of the question's key terms"
        return False, None


def _citation(chunk: dict, entry: dict) -> dict:
    return {"article_id": chunk["article_id"], "title": entry.get("title"), "source": entry.get("source"),
            "date": entry.get("date"), "start": chunk["start"], "end": chunk["end"]}


def _normalise_text(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def _near_duplicate(index: Index, row: int, text: str, kept_rows: list[int], passages: list[Passage]):
    """The kept passage this one nearly repeats (same wire story elsewhere), if any."""
    if not kept_rows:
        return None
    sims = np.asarray(index.vectors[kept_rows]) @ np.asarray(index.vectors[row])
    norm = _normalise_text(text)
    for i, sim in enumerate(sims):
        same_article = passages[i].article_id == index.chunks[row]["article_id"]
        if same_article:
            continue
        if sim >= 0.97 or norm == _normalise_text(passages[i].text):
            return passages[i]
    return None


def _minmax(scores: np.ndarray) -> np.ndarray:
    if len(scores) == 0:
        return scores
    lo, hi = float(scores.min()), float(scores.max())
    if hi - lo < 1e-9:
        return np.ones_like(scores)
    return (scores - lo) / (hi - lo)


def fuse(dense_rows, dense_scores, lex_rows, lex_scores, config: Config, mode: str) -> list[tuple[int, float]]:
    """One ranking from the dense and lexical ones."""
    if mode == "dense" or lex_rows is None:
        return list(zip(dense_rows.tolist(), dense_scores.tolist())) if dense_rows is not None else []
    if mode == "lexical" or dense_rows is None:
        return list(zip(lex_rows.tolist(), lex_scores.tolist()))
    fused: dict[int, float] = {}
    if config.fusion == "rrf":
        for rows in (dense_rows, lex_rows):
            for rank, row in enumerate(rows.tolist()):
                fused[row] = fused.get(row, 0.0) + 1.0 / (config.rrf_k + rank + 1)
    else:  # convex combination of normalised scores
        w = config.dense_weight
        for row, s in zip(dense_rows.tolist(), _minmax(dense_scores).tolist()):
            fused[row] = fused.get(row, 0.0) + w * s
        lex_norm = lex_scores / lex_scores.max() if len(lex_scores) else lex_scores
        for row, s in zip(lex_rows.tolist(), lex_norm.tolist()):
            fused[row] = fused.get(row, 0.0) + (1 - w) * s
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def mmr(ranked: list[tuple[int, float]], vectors, diversity: float, limit: int) -> list[tuple[int, float]]:
    """Maximal marginal relevance: trade score for novelty (diversity in 0..1)."""
    if not ranked:
        return ranked
    pool = ranked[: max(limit, 1) * 2]
    rows = [r for r, _ in pool]
    vecs = np.asarray(vectors[rows])
    rel = _minmax(np.array([s for _, s in pool], dtype=np.float32))
    chosen: list[int] = []
    left = list(range(len(pool)))
    while left and len(chosen) < limit:
        if chosen:
            sim = (vecs[left] @ vecs[chosen].T).max(axis=1)
        else:
            sim = np.zeros(len(left))
        best = int(np.argmax((1 - diversity) * rel[left] - diversity * sim))
        chosen.append(left.pop(best))
    return [pool[i] for i in chosen] + [p for i, p in enumerate(pool) if i not in set(chosen)]
