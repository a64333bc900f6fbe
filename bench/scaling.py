"""The figures behind docs/SCALING.md: bytes per chunk, serving cost, and IVF-PQ cost constants.

    python -m bench.scaling --index /tmp/qa-ray-bench/index-local --n 1000000 --out /tmp/scaling.json

Bytes per chunk: each file of the index given by --index (a real build). Serving:
that index opened by `Retriever.load` in a fresh process, its RSS before and
after, and `ask` latency per mode. IVF-PQ: synthetic vectors shaped like the
index's real ones (bench.data.CovarianceSampler), queries are real question
embeddings, one query at a time on one thread, as the retriever searches.
Measured at --n vectors: exact (flat) search, and IVF-PQ (IVF<nlist>,PQ<m>x8)
latency and recall@10 against exact search over nprobe, plus the two
constants of IVF-PQ's cost model:

    t(query) = t_coarse(nlist) + nprobe * (N / nlist) * t_code

from which the 10M and 100M figures are extrapolated (not measured: 100M
vectors are 150 GB of float32 and do not fit this machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import data, measure


def _exact_top(vectors_batches, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k ids by inner product, streaming over batches of vectors."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    offset = 0
    for batch in vectors_batches:
        s = queries @ batch.T
        i = np.broadcast_to(np.arange(offset, offset + len(batch)), s.shape)
        all_s = np.concatenate([best_s, s], axis=1)
        all_i = np.concatenate([best_i, i], axis=1)
        top = np.argpartition(-all_s, k - 1, axis=1)[:, :k]
        best_s = np.take_along_axis(all_s, top, axis=1)
        best_i = np.take_along_axis(all_i, top, axis=1)
        offset += len(batch)
    return best_i


def _time_queries(index, queries: np.ndarray, k: int) -> tuple[dict, np.ndarray]:
    index.search(queries[:1], k)
    times, rows = [], []
    for q in queries:
        t = time.perf_counter()
        _, r = index.search(q[None, :], k)
        times.append(time.perf_counter() - t)
        rows.append(r[0])
    return measure.percentiles(times), np.vstack(rows)


def _recall(got: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(g) & set(e)) / len(e) for g, e in zip(got, exact)]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", help="a built qa index: measured, and its vectors shape the synthetic ones")
    ap.add_argument("--serve-child", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=1_000_000, help="synthetic vectors for IVF-PQ (0: skip that part)")
    ap.add_argument("--nlist", type=int, default=2048)
    ap.add_argument("--m", type=int, default=48, help="PQ sub-quantizers (bytes per vector)")
    ap.add_argument("--train", type=int, default=65_536)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.serve_child:
        print(json.dumps(serve_child(Path(args.serve_child))))
        return 0
    if not args.index:
        ap.error("--index is required")

    import faiss

    from qa import store
    from qa.embed import load_embedder

    out: dict = {"load_avg": measure.load_avg(), "index_files": _bytes_per_chunk(Path(args.index))}
    res = measure.run_process([measure.python(), "-m", "bench.scaling", "--serve-child", args.index])
    out["serving"] = dict(res.json(), peak_rss_mb=res.peak_rss_mb)
    if args.n <= 0:
        return _done(out, args.out)

    faiss.omp_set_num_threads(2)
    manifest = store.read_manifest(Path(args.index))
    real = np.load(Path(args.index) / manifest.file("vectors"))
    questions = data.questions_for(data.read_news()[:5000], args.queries)
    queries = load_embedder().embed(questions)
    sampler = data.CovarianceSampler(real, seed=7)
    t = time.perf_counter()
    vectors = np.vstack([sampler.sample(min(50_000, args.n - i)) for i in range(0, args.n, 50_000)])
    out.update(n=args.n, real_vectors=len(real), queries=len(queries), sample_s=time.perf_counter() - t)
    exact = _exact_top((vectors[i : i + 50_000] for i in range(0, len(vectors), 50_000)), queries, 10)

    faiss.omp_set_num_threads(1)  # queries: one thread, like qa.dense.search_dense
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    stats, rows = _time_queries(flat, queries, 10)
    out["flat"] = dict(stats, recall_at_10=_recall(rows, exact), ns_per_vector=stats["p50"] * 1e6 / args.n)
    del flat

    faiss.omp_set_num_threads(2)
    quantizer = faiss.IndexFlatIP(vectors.shape[1])
    index = faiss.IndexIVFPQ(quantizer, vectors.shape[1], args.nlist, args.m, 8, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(3)
    t = time.perf_counter()
    index.train(vectors[rng.choice(len(vectors), min(args.train, len(vectors)), replace=False)])
    out["train_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(0, len(vectors), 100_000):
        index.add(vectors[i : i + 100_000])
    out["add_s"] = time.perf_counter() - t
    out["ivfpq"] = {"nlist": args.nlist, "m": args.m, "bytes_per_vector_codes": args.m,
                    "serialized_bytes_per_vector": int(faiss.serialize_index(index).nbytes) / args.n}
    faiss.omp_set_num_threads(1)
    curve = {}
    for nprobe in (1, 8, 16, 32, 64, 128):
        index.nprobe = nprobe
        stats, rows = _time_queries(index, queries, 10)
        curve[nprobe] = dict(stats, recall_at_10=_recall(rows, exact))
    out["ivfpq"]["curve"] = curve
    # Cost model: p50(nprobe) ~ a + nprobe * (N / nlist) * t_code; fitted by least squares over the curve.
    xs = np.array([p * args.n / args.nlist for p in curve], dtype=np.float64)
    ys = np.array([curve[p]["p50"] for p in curve], dtype=np.float64) / 1000  # seconds
    slope, intercept = np.polyfit(xs, ys, 1)
    out["model"] = {"t_code_ns": slope * 1e9, "t_coarse_ms_at_nlist": intercept * 1000,
                    "t_coarse_ns_per_centroid": intercept * 1e9 / args.nlist}
    return _done(out, args.out)


def _done(out: dict, path: str | None) -> int:
    text = json.dumps(out, indent=1)
    if path:
        Path(path).write_text(text)
    print(text)
    return 0


def _bytes_per_chunk(index_dir: Path) -> dict:
    """Bytes on disk per chunk of each file of the live generation (and of the manifest and cache)."""
    from qa import store

    manifest = store.read_manifest(index_dir)
    n = max(1, int(manifest.data["counts"]["chunks"]))
    per_chunk: dict[str, float] = {}
    for key, name in manifest.data["files"].items():
        path = index_dir / name
        per_chunk[key] = (measure.dir_bytes(path) if path.is_dir() else path.stat().st_size) / n
    for name in (store.MANIFEST, store.CACHE):
        if (index_dir / name).exists():
            per_chunk[name] = (index_dir / name).stat().st_size / n
    return {"chunks": n, "documents": manifest.data["counts"]["documents"],
            "dense_type": manifest.data["dense"]["type"], "bytes_per_chunk": per_chunk}


def serve_child(index_dir: Path) -> dict:
    """RSS of a fresh process before and after opening the index, and `ask` latency per mode."""
    from qa.embed import load_embedder
    from qa.retriever import Retriever

    embedder = load_embedder()
    embedder.embed(["warm up"])
    before = measure.rss_mb()
    retriever = Retriever.load(index_dir, embedder=embedder)
    opened = measure.rss_mb()
    questions = data.questions_for(data.read_news()[:5000], 60)
    out: dict = {"rss_before_open_mb": before, "rss_after_open_mb": opened}
    for mode in ("dense", "lexical", "hybrid"):
        retriever.ask(questions[0], k=5, mode=mode, auto_refresh=False)
        times = []
        for q in questions:
            t = time.perf_counter()
            retriever.ask(q, k=5, mode=mode, auto_refresh=False)
            times.append(time.perf_counter() - t)
        out[mode] = measure.percentiles(times)
    out["rss_after_queries_mb"] = measure.rss_mb()
    return out


if __name__ == "__main__":
    sys.exit(main())
