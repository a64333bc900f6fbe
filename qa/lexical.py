"""Lexical (BM25) index with bm25s: fast, NumPy-based, saved as plain files."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

logging.getLogger("bm25s").setLevel(logging.ERROR)


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # PyStemmer is optional; BM25 still works unstemmed
        return None


STOPWORDS = "en"


def tokenize(texts: Iterable[str]):
    import bm25s

    return bm25s.tokenize(texts, stopwords=STOPWORDS, stemmer=_stemmer(), show_progress=False)


def query_terms_many(texts: list[str]) -> list[list[str]]:
    """The stemmed, stop-word-free terms of each text, as the index sees them."""
    import bm25s

    return bm25s.tokenize(list(texts), stopwords=STOPWORDS, stemmer=_stemmer(), return_ids=False, show_progress=False)


def query_terms(text: str) -> list[str]:
    return query_terms_many([text])[0]


class LexicalIndex:
    def __init__(self, model):
        self.model = model

    @classmethod
    def build(cls, texts: Iterable[str], k1: float = 1.5, b: float = 0.75, method: str = "lucene") -> LexicalIndex:
        """BM25 over texts (any iterable: a builder can stream them from disk)."""
        import bm25s

        model = bm25s.BM25(k1=k1, b=b, method=method)
        tokens = tokenize(texts)
        if tokens.ids:
            model.index(tokens, show_progress=False)
        return cls(model)

    def params(self) -> dict:
        """What this index was built with, read from the model itself (recorded in the manifest)."""
        return {
            "library": "bm25s",
            "method": self.model.method,
            "k1": float(self.model.k1),
            "b": float(self.model.b),
            "stopwords": STOPWORDS,
            "stemmer": "english" if _stemmer() is not None else None,
        }

    @property
    def size(self) -> int:
        return int(self.model.scores["num_docs"]) if getattr(self.model, "scores", None) else 0

    def save(self, path: Path) -> None:
        """Save into a temporary directory, then move it into place whole."""
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}.", dir=path.parent))
        try:
            self.model.save(str(tmp), show_progress=False)
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        import bm25s

        return cls(bm25s.BM25.load(str(path), mmap=True, show_progress=False))

    def document_frequency(self) -> dict[str, float]:
        """idf of each stemmed term, for sentence highlighting."""
        vocab = self.model.vocab_dict
        indptr = np.asarray(self.model.scores["indptr"])
        df = np.diff(indptr)
        n = max(1, self.size)
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        return {term: float(idf[i]) for term, i in vocab.items() if i < len(idf)}

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (rows, scores); mask is a 0/1 weight per document (filters before top-k)."""
        n = self.size
        if n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        tokens = query_terms(query)
        vocab = self.model.vocab_dict
        ids = [vocab[t] for t in tokens if t in vocab]
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self.model.get_scores_from_ids(ids)
        if mask is not None:
            scores = scores * mask
        # Only documents holding a query term score above 0: rank those (often a few percent of them).
        hits = np.flatnonzero(scores > 0)
        k = min(k, len(hits))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        hit_scores = scores[hits]
        best = np.argpartition(-hit_scores, k - 1)[:k]
        best = best[np.argsort(-hit_scores[best], kind="stable")]
        return hits[best].astype(np.int64), hit_scores[best].astype(np.float32)
