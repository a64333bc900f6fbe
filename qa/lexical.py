"""Lexical (BM25) index with bm25s: fast, NumPy-based, saved as plain files.

Beside bm25s's own files the index keeps the terms of each document (DocTerms), so that a
rebuild after a small change tokenizes only the new chunks: BM25's weights depend on every
document (idf, average length), but computing them from term ids takes a fraction of the
time that splitting and stemming every text again does.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .imports import import_without

logging.getLogger("bm25s").setLevel(logging.ERROR)


# bm25s's default token pattern: what bm25s.tokenize splits documents with.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
STOPWORDS = "en"


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # PyStemmer is optional; BM25 still works unstemmed
        return None


def _bm25s():
    """bm25s, imported without scipy and tqdm.auto, as bm25s allows (it falls back to its numpy
    matrix backend, qa's choice anyway, and to no progress bars, which qa always turns off).
    Importing them cost 0.15 of the 0.2 s that importing bm25s took in every process that builds
    or searches, where a 1% rebuild takes about 1.7 s in all."""
    return import_without("bm25s", "scipy", "tqdm.auto")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    return frozenset(_bm25s().stopwords.STOPWORDS_EN)  # what bm25s.tokenize(stopwords="en") removes


def tokenize(texts: Iterable[str]):
    """Documents as bm25s's Tokenized (term ids and vocabulary), for building the index."""
    return _bm25s().tokenize(texts, stopwords=STOPWORDS, stemmer=_stemmer(), show_progress=False)


def terms(text: str) -> list[str]:
    """The stemmed, stop-word-free terms of one text, exactly as tokenize() makes them (a test checks).

    Questions and sentences go through here rather than bm25s.tokenize, which costs about
    0.4 ms a call (it sets up a progress bar even when hidden) where this costs tens of µs.
    """
    return terms_of(words(text))


def words(text: str) -> list[str]:
    """The lower-cased words of one text as terms() cuts them, before stop words and stemming."""
    return _TOKEN.findall(text.lower())


def terms_of(cut: Iterable[str]) -> list[str]:
    """terms() of words already cut by words(): stop words dropped, the others stemmed."""
    stemmer = _stemmer()
    stop = _stopwords()
    kept = [w for w in cut if w not in stop]
    return stemmer.stemWords(kept) if stemmer is not None else kept


def lucene_weights(terms: DocTerms, k1: float, b: float, dtype: str, int_dtype: str, block: int = 1 << 20) -> dict:
    """bm25s's index of Lucene BM25 weights (its `scores`: a CSC matrix, documents by terms), as
    `BM25.build_index_from_ids` makes it, computed over arrays a block of documents at a time rather
    than document by document.

    The same operations on the same values in the same precisions, so the same bits: tf per (document,
    term) from np.unique over blocks of about `block` terms, idf with math.log as bm25s does. Two passes
    over the blocks (document frequencies, then weights), each block's weights placed straight at their
    rows of the CSC arrays (a counting sort by term, stable in document order: what bm25s's builder gets
    by sorting every (term, document) pair at once, at several int64 copies of them; that builder's sort
    was the peak of a 200,000-article build).
    """
    n_docs, n_vocab = len(terms), len(terms.vocab)
    lengths = np.diff(terms.offsets)
    avg_len = lengths.mean()  # bm25s: np.array(lengths).mean(), a float64

    def pairs():  # (documents, terms, tf) of each block's distinct (document, term) pairs, in document order
        lo = 0
        while lo < n_docs:
            hi = max(lo + 1, int(np.searchsorted(terms.offsets, terms.offsets[lo] + block, side="right")) - 1)
            hi = min(hi, n_docs)
            ids = np.asarray(terms.ids[terms.offsets[lo] : terms.offsets[hi]], dtype=np.int64)
            doc = np.repeat(np.arange(lo, hi, dtype=np.int64), lengths[lo:hi])
            keys, tf = np.unique(doc * n_vocab + ids, return_counts=True)
            yield (keys // n_vocab).astype(int_dtype), (keys % n_vocab).astype(int_dtype), tf.astype(dtype)
            lo = hi

    # One block (a small rebuild's) is counted once and kept for the second pass; more are counted twice
    # rather than all held at once.
    kept = list(pairs()) if len(terms.ids) <= block else None

    def blocks():
        return kept if kept is not None else pairs()

    df = np.zeros(n_vocab, dtype=np.int64)
    for _, word, _ in blocks():
        df += np.bincount(word, minlength=n_vocab)
    values, which = np.unique(df, return_inverse=True)
    idf = np.array(
        [math.log(1 + (n_docs - v + 0.5) / (v + 0.5)) if v else 0.0 for v in values.tolist()], dtype=np.float64
    )[which].astype(dtype)
    # bm25s adds a float64 scalar to each document's tf array; the promotion rules of this NumPy decide in
    # which precision, and the per-document denominators are cast to that precision here.
    work = (np.float64(1.0) + np.ones(1, dtype=dtype)).dtype
    denominator = (k1 * ((1 - b) + b * lengths / avg_len)).astype(work)
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    data = np.empty(int(indptr[-1]), dtype=dtype)  # bm25s stores the weights in an array of its dtype too
    indices = np.empty(int(indptr[-1]), dtype=int_dtype)
    filled = indptr[:-1].copy()  # the next free row of each term's column
    for doc, word, tf in blocks():
        order = np.argsort(word, kind="stable")
        by_word = word[order]
        first = np.flatnonzero(np.r_[True, by_word[1:] != by_word[:-1]])
        rank = np.arange(len(word)) - np.repeat(first, np.diff(np.r_[first, len(word)]))
        where = np.empty(len(word), dtype=np.int64)
        where[order] = filled[by_word] + rank
        data[where] = idf[word] * (tf / (denominator[doc] + tf))
        indices[where] = doc
        filled += np.bincount(word, minlength=n_vocab)
    return {"data": data, "indices": indices, "indptr": indptr, "num_docs": n_docs}


BUILD_BLOCK = 20_000  # documents tokenized at a time by a full build
TERMS_FILE = "doc_terms.npy"
TERM_OFFSETS_FILE = "doc_term_offsets.npy"


@dataclass(frozen=True)
class DocTerms:
    """The terms of each document, in order: ids[offsets[i]:offsets[i + 1]] index vocab."""

    ids: np.ndarray
    offsets: np.ndarray
    vocab: Sequence[str]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def of_texts(cls, texts: Iterable[str]) -> DocTerms:
        return cls.of_tokens(tokenize(texts))

    @classmethod
    def of_tokens(cls, tokens) -> DocTerms:
        """From bm25s's Tokenized (a list of term ids per document, and the vocabulary)."""
        offsets = _offsets(np.fromiter((len(doc) for doc in tokens.ids), dtype=np.int64, count=len(tokens.ids)))
        ids = np.fromiter(itertools.chain.from_iterable(tokens.ids), dtype=np.int32, count=int(offsets[-1]))
        return cls(ids, offsets, _terms_by_id(tokens.vocab))

    def doc_lists(self) -> list[list[int]]:
        """Each document's term ids as a list, as bm25s indexes them.

        The lists share one int object per term, as bm25s.tokenize's do: 8 bytes a term,
        where converting the whole array at once makes a new 28-byte object for each."""
        term = list(range(len(self.vocab)))
        bounds = self.offsets.tolist()
        return [list(map(term.__getitem__, self.ids[a:z].tolist())) for a, z in zip(bounds[:-1], bounds[1:])]

    @classmethod
    def join(cls, pieces: Sequence[tuple[DocTerms, int, int]]) -> DocTerms:
        """Documents lo..hi of each piece, in order, over one vocabulary of the terms they use.

        The pieces may have different vocabularies (the previous generation's, the new
        chunks'); terms no remaining document uses are dropped, as a build from the texts
        would never have seen them.
        """
        merged: dict[str, int] = {}
        mapped: dict[int, np.ndarray] = {}  # each piece's vocabulary, mapped once
        lengths = [np.diff(terms.offsets[lo : hi + 1]) for terms, lo, hi in pieces]
        offsets = _offsets(np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64))
        ids = np.empty(int(offsets[-1]), dtype=np.int32)  # filled in place: one copy of the terms, not three
        at = 0
        for terms, lo, hi in pieces:
            to_merged = mapped.get(id(terms))
            if to_merged is None:
                to_merged = mapped[id(terms)] = np.fromiter(
                    (merged.setdefault(t, len(merged)) for t in terms.vocab), dtype=np.int32, count=len(terms.vocab)
                )
            part = terms.ids[terms.offsets[lo] : terms.offsets[hi]]
            np.take(to_merged, part, out=ids[at : at + len(part)])
            at += len(part)
        names = list(merged)
        seen = np.zeros(len(merged), dtype=bool)
        for at in range(0, len(ids), 1 << 22):  # in slices: bincount would copy all the ids as int64
            seen[ids[at : at + (1 << 22)]] = True
        used = np.flatnonzero(seen)
        if len(used) == len(merged):  # every term still in use (a full build's blocks): no renumbering
            return cls(ids, offsets, names)
        compact = np.full(len(merged), -1, dtype=np.int32)
        compact[used] = np.arange(len(used), dtype=np.int32)
        np.take(compact, ids, out=ids)
        return cls(ids, offsets, [names[i] for i in used])

    def save(self, directory: Path) -> None:
        small = np.uint16 if len(self.vocab) <= np.iinfo(np.uint16).max else np.uint32
        np.save(directory / TERMS_FILE, self.ids.astype(small), allow_pickle=False)
        np.save(directory / TERM_OFFSETS_FILE, self.offsets.astype(np.int64), allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, n_docs: int) -> DocTerms | None:
        """The terms saved beside a bm25s index, or None when there are none or they do not fit
        the index (an index built before they were kept, or damaged files): then the caller
        tokenizes the texts again."""
        try:
            ids = np.load(directory / TERMS_FILE, mmap_mode="r", allow_pickle=False)
            offsets = np.load(directory / TERM_OFFSETS_FILE, allow_pickle=False)
            with open(directory / "vocab.index.json", encoding="utf-8") as f:
                by_term = json.load(f)
        except (OSError, ValueError):
            return None
        vocab = _terms_by_id(by_term)
        fits = (
            vocab is not None
            and ids.ndim == 1
            and offsets.ndim == 1
            and len(offsets) == n_docs + 1
            and offsets[0] == 0
            and offsets[-1] == len(ids)
            and bool(np.all(np.diff(offsets) >= 0))
            and (len(ids) == 0 or int(ids.max()) < len(vocab))
        )
        return cls(ids, offsets, vocab) if fits else None


def _offsets(lengths: np.ndarray) -> np.ndarray:
    """Where each document starts in the flat ids, and the end: 0, then the running total of lengths."""
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)


def _terms_by_id(vocab: dict) -> list[str] | None:
    """The terms of a term -> id vocabulary (bm25s's form), in id order; None if it is not a mapping of
    ids in 0..n-1."""
    if not isinstance(vocab, dict):
        return None
    terms = [""] * len(vocab)
    for term, i in vocab.items():
        if not (isinstance(i, int) and 0 <= i < len(terms)):
            return None
        terms[i] = term
    return terms


class LexicalIndex:
    def __init__(self, model, terms: DocTerms | None = None):
        self.model = model
        self.terms = terms

    @classmethod
    def build(
        cls, texts: Iterable[str], k1: float = 1.5, b: float = 0.75, method: str = "lucene", block: int = BUILD_BLOCK
    ) -> LexicalIndex:
        """BM25 over texts (any iterable: a builder can stream them from disk).

        Lucene's BM25 (qa's) is tokenized `block` documents at a time into term-id arrays and
        weighted over them (from_terms): bm25s's own path holds every document's terms as Python
        lists and counts them document by document, which made the BM25 stage the peak of a
        200,000-article build. The same weights either way: every term scores as with bm25s's own
        tokenize and index (a test), though bm25s may number the terms otherwise.
        """
        if method != "lucene":
            bm25s = _bm25s()
            model = bm25s.BM25(k1=k1, b=b, method=method)
            tokens = tokenize(texts)
            if tokens.ids:
                model.index(tokens, show_progress=False)
            return cls(model, DocTerms.of_tokens(tokens))
        texts = iter(texts)
        pieces = []
        while batch := list(itertools.islice(texts, block)):
            terms = DocTerms.of_texts(batch)
            pieces.append((terms, 0, len(terms)))
        terms = DocTerms.join(pieces)
        del pieces, batch  # the blocks' arrays: the weights are computed without them
        return cls.from_terms(terms, k1=k1, b=b, method=method)

    @classmethod
    def from_terms(cls, terms: DocTerms, k1: float = 1.5, b: float = 0.75, method: str = "lucene") -> LexicalIndex:
        """BM25 over documents already split into terms.

        For Lucene's BM25 (qa's) the weights are computed from the term-id arrays at once
        (lucene_weights), bit for bit what bm25s's indexing computes with a Counter per
        document, in a tenth of the time (0.36 s of a 1% rebuild of 2,000 articles); other
        methods go through bm25s's own indexing.
        """
        bm25s = _bm25s()
        model = bm25s.BM25(k1=k1, b=b, method=method)
        if not len(terms):
            return cls(model, terms)
        vocab = {t: i for i, t in enumerate(terms.vocab)}
        if method != "lucene":
            model.index(bm25s.tokenization.Tokenized(ids=terms.doc_lists(), vocab=vocab), show_progress=False)
            return cls(model, terms)
        # What BM25.index does with the weights of build_index_from_ids (a test compares the two).
        model.scores = lucene_weights(terms, model.k1, model.b, model.dtype, model.int_dtype)
        model.nonoccurrence_array = None  # only BM25L and BM25+ have one
        if "" not in vocab:
            vocab[""] = max(vocab.values()) + 1  # bm25s scores a query of no known term against it
        model.vocab_dict = vocab
        model.unique_token_ids_set = set(vocab.values())
        return cls(model, terms)

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
            if self.terms is not None and self.size:
                self.terms.save(tmp)
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        bm25s = _bm25s()

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
        tokens = terms(query)
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
