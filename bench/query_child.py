"""Query latency and resident memory of one index, measured in a fresh process.

    python -m bench.query_child INDEX_DIR QUESTIONS.json

Prints one JSON line: load time, RSS after load and after the questions,
end-to-end `Retriever.ask` latencies, the same split by stage (embedding,
dense search, BM25), and recall@10 of the dense index against exact search.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path

import numpy as np


def _rss() -> dict:
    import psutil

    info = psutil.Process().memory_full_info()
    return {"rss_mb": info.rss / 2**20, "uss_mb": info.uss / 2**20}


def main(argv: list[str]) -> int:
    index_dir = Path(argv[0])
    questions = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    k = 5
    base = _rss()
    from qa.embed import load_embedder
    from qa.manifest import read_manifest
    from qa.retriever import Retriever

    model_id = read_manifest(index_dir).model.id
    gc.collect()
    embedder = load_embedder(model_id=model_id)  # the index's model
    embedder.embed(["warm up"])
    model = _rss()
    t = time.perf_counter()
    retriever = Retriever.load(index_dir, embedder=embedder)
    load_s = time.perf_counter() - t
    loaded = _rss()
    for q in questions[:5]:  # warm-up: page in, build the idf table
        retriever.ask(q, k=k)
    gc.collect()
    latencies = []
    passages = []
    for q in questions:
        t = time.perf_counter()
        answer = retriever.ask(q, k=k)  # as users call it: checking for a newer index included
        latencies.append(time.perf_counter() - t)
        passages.append([p.article_id for p in answer.passages])
    after = _rss()
    before_manifest = _rss()["rss_mb"]
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest_mb = _rss()["rss_mb"] - before_manifest  # what the per-article map costs as Python objects
    del manifest
    stages = _stages(retriever, embedder, questions)
    index = retriever.index
    report = {
        "chunks": len(index),
        "articles": len(index.article_ids),
        "dense": index.dense_spec,
        "load_s": load_s,
        "rss": {"python": base, "with_model": model, "loaded": loaded, "after_queries": after},
        "latencies": latencies,
        "stages": stages,
        "recall": _recall(index, stages.pop("_qvecs")),
        "passages": passages[:3],
        "backend": type(embedder).__name__,
        "manifest_python_mb": manifest_mb,
    }
    print(json.dumps(report))
    return 0


def _stages(retriever, embedder, questions: list[str]) -> dict:
    """Each stage alone, on the same questions (the rest of ask() is fusion, passages, highlighting)."""
    from qa.dense import search_dense

    index = retriever.index
    pool = max(retriever.config.candidates, 20)
    embed_t, dense_t, lex_t, qvecs = [], [], [], []
    for q in questions:
        t = time.perf_counter()
        v = embedder.embed([q])[0]
        embed_t.append(time.perf_counter() - t)
        qvecs.append(v)
        t = time.perf_counter()
        search_dense(index.dense, index.dense_spec, v, pool)
        dense_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        index.lexical.search(q, pool)
        lex_t.append(time.perf_counter() - t)
    return {"embed": embed_t, "dense": dense_t, "lexical": lex_t, "_qvecs": np.vstack(qvecs)}


def _recall(index, qvecs: np.ndarray, k: int = 10) -> float | None:
    """recall@k of the live dense index against exact inner-product search (None when it is exact)."""
    if index.dense_spec["type"] == "flat":
        return None
    from qa.dense import search_dense

    vectors = np.asarray(index.vectors)
    scores = qvecs @ vectors.T
    exact = np.argsort(-scores, axis=1)[:, :k]
    got = [search_dense(index.dense, index.dense_spec, q, k)[0] for q in qvecs]
    return float(np.mean([len(set(g.tolist()) & set(e.tolist())) / k for g, e in zip(got, exact)]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
