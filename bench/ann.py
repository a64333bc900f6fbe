"""The dense search path alone: exact vs HNSW by size (the threshold), and a million vectors.

Vectors are synthetic but shaped like real ones (bench.data.CovarianceSampler:
real embeddings of the slice plus noise drawn from their covariance); the
queries are real question embeddings. Each search is one query, k=100 (what
the retriever asks for) and k=10 for recall, timed one by one like a user's.
"""

from __future__ import annotations

import time

import numpy as np

from . import measure
from .data import CovarianceSampler


def _latencies(index, spec: dict, queries: np.ndarray, k: int) -> tuple[list[float], list[np.ndarray]]:
    from qa.dense import search_dense

    search_dense(index, spec, queries[0], k)
    times, rows = [], []
    for q in queries:
        t = time.perf_counter()
        r, _ = search_dense(index, spec, q, k)
        times.append(time.perf_counter() - t)
        rows.append(r)
    return times, rows


def _exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    import faiss

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    return flat.search(np.ascontiguousarray(queries, dtype=np.float32), k)[1]


def recall(got: list[np.ndarray], exact: np.ndarray, k: int = 10) -> float:
    return float(np.mean([len(set(g[:k].tolist()) & set(e[:k].tolist())) / k for g, e in zip(got, exact)]))


def million(real: np.ndarray, queries: np.ndarray, n: int, sweep=(64, 128, 256, 512, 1024, 2048, 4096)) -> dict:
    """Flat vs HNSW latency at growing sizes (the threshold), then HNSW at n: build, p50/p95/p99, recall@10."""
    from qa.config import Config
    from qa.dense import _faiss, build_dense, index_spec

    config = Config()
    sampler = CovarianceSampler(real, seed=7)
    vectors = np.vstack([sampler.sample(min(50_000, n - i)) for i in range(0, n, 50_000)])
    out: dict = {
        "n": n,
        "queries": len(queries),
        "config": {k: v for k, v in config.to_dict().items() if k.startswith("hnsw")},
    }
    # Where exact search stops being cheap: flat latency by size.
    flat_by_size = {}
    for size in sorted({s for s in (10_000, 20_000, 50_000, 100_000, n) if s <= n}):
        index = build_dense(vectors[:size], {"type": "flat"})
        times, _ = _latencies(index, {"type": "flat"}, queries[:100], 100)
        flat_by_size[size] = measure.percentiles(times)
        del index
    out["flat_by_size"] = flat_by_size
    exact = _exact_top(vectors, queries, 10)
    spec = index_spec(max(n, config.hnsw_threshold), config)
    t = time.perf_counter()
    index = build_dense(vectors, spec)
    out["build_s"] = time.perf_counter() - t
    out["spec"] = spec
    out["index_bytes_per_vector"] = _serialized_bytes(index) / n
    times, rows = _latencies(index, spec, queries, 100)
    out["k100"] = measure.percentiles(times)
    times, rows = _latencies(index, spec, queries, 10)
    out["k10"] = measure.percentiles(times)
    out["recall_at_10"] = recall(rows, exact)
    curve = {}
    for ef in sweep:
        s = dict(spec, efSearch=ef)
        times, rows = _latencies(index, s, queries, 10)
        curve[ef] = dict(measure.percentiles(times), recall_at_10=recall(rows, exact))
    out["ef_curve"] = curve
    _faiss()
    return out


def _serialized_bytes(index) -> int:
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def real_recall(vectors: np.ndarray, queries: np.ndarray, sweep=(128, 256, 384, 512, 1024)) -> dict:
    """HNSW (the configured M and efConstruction) on real embeddings: recall@10 and latency by efSearch."""
    from qa.config import Config
    from qa.dense import build_dense, index_spec

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    config = Config()
    spec = index_spec(max(len(vectors), config.hnsw_threshold), config)
    exact = _exact_top(vectors, queries, 10)
    t = time.perf_counter()
    index = build_dense(vectors, spec)
    out: dict = {
        "n": int(len(vectors)),
        "queries": int(len(queries)),
        "spec": spec,
        "build_s": time.perf_counter() - t,
        "ef_curve": {},
    }
    for ef in sweep:
        times, rows = _latencies(index, dict(spec, efSearch=ef), queries, 10)
        out["ef_curve"][ef] = dict(measure.percentiles(times), recall_at_10=recall(rows, exact))
    return out


def cached_vectors(path) -> np.ndarray:
    """Every vector of an embeddings.sqlite (qa's embedding cache), read-only."""
    import sqlite3

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = [np.frombuffer(blob, dtype=np.float32) for (blob,) in db.execute("SELECT vector FROM vectors")]
    finally:
        db.close()
    rows = [r for r in rows if r.shape == (384,)]
    return np.vstack(rows) if rows else np.zeros((0, 384), dtype=np.float32)
