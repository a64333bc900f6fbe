"""Test support: a fast, deterministic stand-in for the embedding model.

Tests that check logic (incremental builds, crash safety, locking, hostile
input) do not need real semantics, and the real model costs seconds to load
and minutes to embed a few hundred articles. `FakeEmbedder` hashes words into
a bag-of-words unit vector instead: the same text always gives the same
vector, in any process. It is the ONE fake embedder: tests/conftest.py uses it
in-process, and `qa` subprocesses get it through `QA_FAKE_EMBEDDER=1` (read by
`qa.embed.load_embedder`). Never set that variable for a real index: its
vectors carry the real model's id and are meaningless to the real model.
"""

from __future__ import annotations

import hashlib
import os
import re

import numpy as np

FAKE_ENV = "QA_FAKE_EMBEDDER"
_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def fake_requested() -> bool:
    """True if $QA_FAKE_EMBEDDER asks for the fake model (test hook)."""
    return os.environ.get(FAKE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class FakeEmbedder:
    """Deterministic bag-of-words vectors: fast, and records every text it embeds in `.calls`."""

    model_id = "sentence-transformers/all-MiniLM-L6-v2"
    dim = 384

    def __init__(self) -> None:
        self.calls: list[str] = []

    def count(self, texts: list[str]) -> list[int]:
        return [len(_TOKEN.findall(t)) for t in texts]

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self.calls.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=4).digest()
                h = int.from_bytes(digest, "little")
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else np.eye(self.dim, dtype=np.float32)[0]
        return out


_WORDS = (
    "harbour council budget river school railway market festival bridge hospital museum farm factory "
    "election court library airport stadium tunnel reservoir vaccine drought harvest orchestra ferry "
    "mayor minister engineer nurse teacher farmer judge pilot inspector volunteer"
).split()
_VERBS = "approved delayed opened closed inspected funded rejected expanded repaired announced".split()


def synthetic_article(i: int, variant: int = 0) -> str:
    """A small deterministic news-like text file (title line, blank line, body).

    Article i mentions "article{i}" and "topic{i % 17}" so a test can find it by
    exact words; `variant` changes its body (an edited article).
    """
    rng = np.random.default_rng(i * 1009 + variant)
    sentences = []
    for s in range(int(rng.integers(3, 9))):
        words = [str(w) for w in rng.choice(_WORDS, size=int(rng.integers(4, 12)))]
        verb = _VERBS[int(rng.integers(len(_VERBS)))]
        sentences.append(f"The {words[0]} {verb} the {' '.join(words[1:])} near article{i} in week {s + variant}.")
    body = " ".join(sentences[: len(sentences) // 2]) + "\n\n" + " ".join(sentences[len(sentences) // 2 :])
    return f"Report {i} on topic{i % 17}\n\n{body}\n"


def write_synthetic_corpus(root, ids, variants: dict[int, int] | None = None) -> None:
    """Write article{i}.txt for each i in ids into root (created if needed)."""
    from pathlib import Path

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for i in ids:
        (root / f"article{i:04d}.txt").write_text(synthetic_article(i, (variants or {}).get(i, 0)), encoding="utf-8")


def index_fingerprint(index_dir, questions: list[str], embedder=None) -> dict:
    """Everything that defines what an index answers, minus generation numbers and timestamps.

    Chunk rows, the manifest's article map, the vectors, and the top passages
    for each question (with the fake embedder unless one is given).
    """
    from .index import Index
    from .retriever import Retriever

    index = Index.open(index_dir)
    try:
        retriever = Retriever(index, embedder or FakeEmbedder())
        answers = []
        for q in questions:
            a = retriever.ask(q, k=5, auto_refresh=False)
            answers.append([(p.article_id, p.start, p.end, round(p.score, 5), p.highlight) for p in a.passages])
        return {
            "chunks": list(index.chunks),
            "articles": dict(index.manifest.articles),
            "vectors": np.array(index.vectors, dtype=np.float32),
            "answers": answers,
        }
    finally:
        index.close()


def fingerprint_differences(a: dict, b: dict, atol: float = 1e-6) -> list[str]:
    """What differs between two fingerprints (empty: the indexes are equivalent)."""
    diffs = []
    if a["chunks"] != b["chunks"]:
        diffs.append(f"chunk tables differ ({len(a['chunks'])} vs {len(b['chunks'])} rows)")
    if a["articles"] != b["articles"]:
        only = sorted(set(a["articles"]) ^ set(b["articles"]))[:5]
        diffs.append(f"manifest article maps differ (e.g. {only or 'same ids, other values'})")
    va, vb = a["vectors"], b["vectors"]
    if va.shape != vb.shape or not np.allclose(va, vb, atol=atol):
        diffs.append(f"vectors differ (shapes {va.shape} vs {vb.shape})")
    if a["answers"] != b["answers"]:
        diffs.append("search results differ")
    return diffs
