"""Synthetic corpora and index fingerprints for logic tests (no real model needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for i in ids:
        (root / f"article{i:04d}.txt").write_text(synthetic_article(i, (variants or {}).get(i, 0)), encoding="utf-8")


def index_fingerprint(index_dir, questions: list[str], embedder=None) -> dict:
    """Everything that defines what an index answers, minus generation numbers and timestamps.

    Chunk rows, the manifest's article map, the vectors, and the top passages
    for each question (with the fake embedder unless one is given).
    """
    from qa.index import Index
    from qa.retriever import Retriever

    from .fake import FakeEmbedder

    index = Index.open(index_dir)
    try:
        retriever = Retriever(index, embedder or FakeEmbedder())
        answers = []
        for q in questions:
            a = retriever.ask(q, k=5, auto_refresh=False)
            answers.append([(p.article_id, p.start, p.end, round(p.score, 5), p.highlight) for p in a.passages])
        return {
            "chunks": list(index.chunks),
            "articles": {aid: e.to_dict() for aid, e in index.manifest.articles.items()},
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
