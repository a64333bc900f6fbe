"""The figures behind docs/SCALING.md: bytes per chunk, serving cost, and IVF cost constants.

    QA_EMBED_BACKEND=onnx python -m bench.scaling --index /tmp/qa-ray-bench/index-local --n 1000000 \
        --codes PQ48,PQ96,SQ8 --real-vectors a/embeddings.sqlite,b/embeddings.sqlite --out /tmp/scaling.json

Bytes per chunk on disk: each file of the index given by --index (a real
build). In RAM: a fresh process opens each part of that index in turn (the
manifest, the FAISS index, the BM25 index, the chunk table) and then reads
every page of the memory-mapped ones (chunk text, BM25 arrays, vectors), its
RSS measured after each step; HNSW links: an HNSW index with the configured M
over the index's real vectors, minus the vectors it holds. Serving: the index
opened by `Retriever.load` in a fresh process, its RSS before and after, and
`ask` latency per mode.

IVF: synthetic vectors shaped like the index's real ones
(bench.data.CovarianceSampler), queries are real question embeddings, one
query at a time on one thread, as the retriever searches. Measured at --n
vectors: exact (flat) search, and for each code of --codes (IVF<nlist>,<code>:
PQ<m> product quantization with m bytes a vector, SQ8 one byte a dimension)
latency and recall@10 against exact search over nprobe, with and without an
exact re-ranking of the top --rerank candidates by their float vectors, plus
the two constants of the IVF cost model:

    t(query) = t_coarse(nlist) + nprobe * (N / nlist) * t_code

from which the 10M and 100M figures are extrapolated (not measured: 100M
vectors are 150 GB of float32 and do not fit this machine). The
extrapolation keeps nlist and nprobe as measured (cells grow with N, so the
probed share of the data and recall stay as measured, and the scan cost grows
linearly with N; a per-probe overhead folded into t_code makes this an upper
bound), and splits the scan over S shards searched in parallel.
--real-vectors (qa embedding caches of the fp32 model) repeats the recall
curves on real embeddings, with nlist scaled to keep ~500 vectors a list:
synthetic neighbourhoods are tighter than real ones, so recall there is a
lower bound.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from . import data, measure

TARGETS = (10_000_000, 100_000_000)
SHARDS = (1, 2, 4, 8, 16, 32)
NPROBES = (1, 8, 16, 32, 64, 128)


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


def _time_queries(
    index, queries: np.ndarray, k: int, rerank: np.ndarray | None = None, final_k: int = 10
) -> tuple[dict, np.ndarray]:
    """One query at a time; with `rerank` (the float vectors) the k candidates are re-scored exactly."""
    index.search(queries[:1], k)
    times, rows = [], []
    for q in queries:
        t = time.perf_counter()
        _, r = index.search(q[None, :], k)
        ids = r[0][r[0] >= 0]
        if rerank is not None:
            ids = ids[np.argsort(-(rerank[ids] @ q), kind="stable")]
        times.append(time.perf_counter() - t)
        rows.append(np.pad(ids[:final_k], (0, max(0, final_k - len(ids))), constant_values=-1))
    return measure.percentiles(times), np.vstack(rows)


def _recall(got: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(g.tolist()) & set(e.tolist())) / len(e) for g, e in zip(got, exact)]))


def fit_cost_model(curve: dict[int, dict], n: int, nlist: int) -> dict:
    """p50(nprobe) ~ t_coarse + nprobe * (N / nlist) * t_code, fitted by least squares over the curve."""
    xs = np.array([p * n / nlist for p in curve], dtype=np.float64)
    ys = np.array([curve[p]["p50"] for p in curve], dtype=np.float64) / 1000  # seconds
    slope, intercept = np.polyfit(xs, ys, 1)
    return {
        "t_code_ns": float(slope * 1e9),
        "t_coarse_ms_at_nlist": float(intercept * 1000),
        "t_coarse_ns_per_centroid": float(intercept * 1e9 / nlist),
    }


def extrapolate(
    model: dict,
    curve: dict[int, dict],
    ivf: dict,
    dim: int,
    bytes_per_chunk: dict,
    recall_target: float,
    targets=TARGETS,
    shards=SHARDS,
) -> dict:
    """Latency and RAM at each target N: the smallest measured nprobe reaching the recall target, same nlist.

    Per shard of N / S vectors: t = t_coarse + nprobe * (N / S / nlist) * t_code
    (+ the measured re-ranking cost when the target needed it). RAM per
    vector: codes and ids (IVF), float32 (flat), float32 + HNSW links,
    and the text-side bytes per chunk measured on the real index.
    """
    nlist = ivf["nlist"]
    chosen, key = None, None
    for k in ("recall_at_10", "rerank_recall_at_10"):  # PQ alone if it is enough, else with re-ranking
        ok = [p for p in sorted(curve) if curve[p][k] >= recall_target]
        if ok:
            chosen, key = ok[0], k
            break
    if chosen is None:  # the target is out of reach: the best point measured
        key = "rerank_recall_at_10"
        chosen = max(curve, key=lambda p: curve[p][key])
    point = curve[chosen]
    rerank_ms = point["rerank_p50"] - point["p50"] if key == "rerank_recall_at_10" else 0.0
    t_code_s = model["t_code_ns"] / 1e9
    coarse_ms = model["t_coarse_ms_at_nlist"]
    out: dict = {
        "recall_target": recall_target,
        "nprobe": chosen,
        "nlist": nlist,
        "recall_at_10": point[key],
        "with_rerank": key == "rerank_recall_at_10",
        "rerank_ms": rerank_ms,
        "by_n": {},
    }
    text_side = {k: bytes_per_chunk[k] for k in ("chunks", "lexical", "articles") if k in bytes_per_chunk}
    for n in targets:
        per_shard = {}
        for s in shards:
            scan_ms = chosen * (n / s / nlist) * t_code_s * 1000
            per_shard[s] = {"search_ms": coarse_ms + scan_ms + rerank_ms, "scan_ms": scan_ms}
        out["by_n"][n] = {
            "ivf_codes_gb": n * (ivf["code_bytes"] + 8) / 1e9,  # code bytes + an int64 id per vector in the lists
            "float32_gb": n * dim * 4 / 1e9,
            "hnsw_float32_gb": n * (dim * 4 + ivf.get("hnsw_link_bytes_per_vector", 0)) / 1e9,
            "text_side_gb": {k: n * v / 1e9 for k, v in text_side.items()},
            "flat_search_ms": n * ivf["flat_ns_per_vector"] / 1e6,
            "shards": per_shard,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", help="a built qa index: measured, and its vectors shape the synthetic ones")
    ap.add_argument("--serve-child", help=argparse.SUPPRESS)
    ap.add_argument("--ram-child", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=1_000_000, help="synthetic vectors for IVF-PQ (0: skip that part)")
    ap.add_argument("--nlist", type=int, default=2048)
    ap.add_argument("--codes", default="PQ48,PQ96,SQ8", help="IVF encodings (faiss factory names), comma-separated")
    ap.add_argument(
        "--real-vectors",
        default=None,
        help="embeddings.sqlite files (comma-separated): recall on real vectors of the fp32 model",
    )
    ap.add_argument("--train", type=int, default=None, help="training vectors (default: 39 per list, faiss's minimum)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--rerank", type=int, default=100, help="IVF-PQ candidates re-scored exactly by float vectors")
    ap.add_argument("--recall-target", type=float, default=0.95, help="recall@10 the extrapolation must keep")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.serve_child:
        print(json.dumps(serve_child(Path(args.serve_child))))
        return 0
    if args.ram_child:
        print(json.dumps(ram_child(Path(args.ram_child))))
        return 0
    if not args.index:
        ap.error("--index is required")

    import faiss

    from qa.embed import default_model_id, load_embedder
    from qa.manifest import read_manifest
    from qa.settings import embed_backend

    index_dir = Path(args.index)
    out: dict = {
        "command": "python -m bench.scaling " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load_avg": measure.load_avg(),
        "machine": {
            "python": platform.python_version(),
            "faiss": faiss.__version__,
            "cpus": len(os.sched_getaffinity(0)),
        },
        "embedder": f"{default_model_id()} ({embed_backend()})",
        "index_files": _bytes_per_chunk(index_dir),
    }
    res = measure.run_process([measure.python(), "-m", "bench.scaling", "--ram-child", str(index_dir)])
    out["ram"] = dict(res.json(), peak_rss_mb=res.peak_rss_mb)
    res = measure.run_process([measure.python(), "-m", "bench.scaling", "--serve-child", str(index_dir)])
    out["serving"] = dict(res.json(), peak_rss_mb=res.peak_rss_mb)
    manifest = read_manifest(index_dir)
    real = np.ascontiguousarray(np.load(index_dir / manifest.file("vectors")), dtype=np.float32)
    out["hnsw"] = _hnsw_bytes(real)
    if args.n <= 0:
        return _done(out, args.out)

    faiss.omp_set_num_threads(2)
    questions = data.questions_for(data.read_news()[:5000], args.queries)
    queries = np.ascontiguousarray(load_embedder().embed(questions), dtype=np.float32)
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

    hnsw_links = out["hnsw"]["link_bytes_per_vector"]
    out["ivf"], out["extrapolation"] = {}, {}
    for code in args.codes.split(","):
        ivf = ivf_sweep(vectors, queries, exact, args.nlist, code, args.rerank, args.train)
        ivf.update(flat_ns_per_vector=out["flat"]["ns_per_vector"], hnsw_link_bytes_per_vector=hnsw_links)
        ivf["model"] = fit_cost_model(ivf["curve"], args.n, args.nlist)
        out["ivf"][code] = ivf
        out["extrapolation"][code] = extrapolate(
            ivf["model"], ivf["curve"], ivf, vectors.shape[1], out["index_files"]["bytes_per_chunk"], args.recall_target
        )
    reaching = [c for c, e in out["extrapolation"].items() if e["recall_at_10"] >= args.recall_target]
    out["choice"] = min(reaching, key=lambda c: out["ivf"][c]["code_bytes"]) if reaching else None
    del vectors
    if args.real_vectors:
        real_all = _real_vectors(args.real_vectors.split(","))
        exact_real = _exact_top([real_all], queries, 10)
        nlist = max(16, len(real_all) // 500)
        out["real"] = {
            "sources": args.real_vectors.split(","),
            "n": int(len(real_all)),
            "nlist": nlist,
            "codes": {
                code: ivf_sweep(real_all, queries, exact_real, nlist, code, args.rerank, None)
                for code in args.codes.split(",")
            },
        }
    out["load_avg_end"] = measure.load_avg()
    out["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return _done(out, args.out)


def ivf_sweep(
    vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray, nlist: int, code: str, rerank: int, train: int | None
) -> dict:
    """IVF<nlist>,<code> over vectors: train and add times, bytes, and latency/recall by nprobe (one thread)."""
    import faiss

    faiss.omp_set_num_threads(2)
    index = faiss.index_factory(vectors.shape[1], f"IVF{nlist},{code}", faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(3)
    n_train = min(train or 39 * nlist, len(vectors))
    if code.startswith("PQ"):
        n_train = min(len(vectors), max(n_train, 39 * 256))  # PQ's own k-means: 256 centroids a sub-space
    t = time.perf_counter()
    index.train(vectors[rng.choice(len(vectors), n_train, replace=False)])
    out: dict = {
        "code": code,
        "nlist": nlist,
        "n": int(len(vectors)),
        "train_vectors": n_train,
        "train_s": time.perf_counter() - t,
        "rerank": rerank,
    }
    t = time.perf_counter()
    for i in range(0, len(vectors), 100_000):
        index.add(vectors[i : i + 100_000])
    out["add_s"] = time.perf_counter() - t
    out["code_bytes"] = int(index.code_size)
    out["serialized_bytes_per_vector"] = int(faiss.serialize_index(index).nbytes) / len(vectors)
    faiss.omp_set_num_threads(1)
    curve = {}
    for nprobe in NPROBES:
        index.nprobe = nprobe
        stats, rows = _time_queries(index, queries, 10)
        re_stats, re_rows = _time_queries(index, queries, rerank, rerank=vectors)
        curve[nprobe] = dict(
            stats,
            recall_at_10=_recall(rows, exact),
            rerank_p50=re_stats["p50"],
            rerank_p99=re_stats["p99"],
            rerank_recall_at_10=_recall(re_rows, exact),
        )
    out["curve"] = curve
    return out


def _real_vectors(paths: list[str]) -> np.ndarray:
    """The fp32 model's vectors from qa embedding caches (read-only), duplicates dropped."""
    import sqlite3

    from qa.embed import MODEL_DIM, MODEL_ID

    seen: dict[str, np.ndarray] = {}
    for path in paths:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for h, blob in db.execute("SELECT hash, vector FROM vectors WHERE model = ?", (MODEL_ID,)):
                v = np.frombuffer(blob, dtype=np.float32)
                if v.shape == (MODEL_DIM,):
                    seen.setdefault(h, v)
        finally:
            db.close()
    return np.ascontiguousarray(np.vstack(list(seen.values())), dtype=np.float32)


def _done(out: dict, path: str | None) -> int:
    text = json.dumps(out, indent=1)
    if path:
        Path(path).write_text(text)
    print(text)
    return 0


def _bytes_per_chunk(index_dir: Path) -> dict:
    """Bytes on disk per chunk of each file of the live generation (and of the manifest and cache)."""
    from qa import store
    from qa.manifest import MANIFEST, read_manifest

    manifest = read_manifest(index_dir)
    n = max(1, int(manifest.to_dict()["counts"]["chunks"]))
    per_chunk: dict[str, float] = {}
    for key, name in manifest.to_dict()["files"].items():
        path = index_dir / name
        per_chunk[key] = (measure.dir_bytes(path) if path.is_dir() else path.stat().st_size) / n
    for name in (MANIFEST, store.CACHE):
        if (index_dir / name).exists():
            per_chunk[name] = (index_dir / name).stat().st_size / n
    return {
        "chunks": n,
        "documents": manifest.to_dict()["counts"]["documents"],
        "dense_type": manifest.to_dict()["dense"]["type"],
        "bytes_per_chunk": per_chunk,
        "total_bytes_per_chunk": sum(per_chunk.values()),
    }


def _hnsw_bytes(vectors: np.ndarray) -> dict:
    """Bytes per vector of the configured HNSW index over these vectors, and of its links alone."""
    import faiss

    from qa.config import Config
    from qa.dense import build_dense, index_spec

    config = Config()
    spec = index_spec(max(len(vectors), config.hnsw_threshold), config)
    index = build_dense(vectors, spec)
    total = int(faiss.serialize_index(index).nbytes) / max(1, len(vectors))
    code = faiss.downcast_index(index.storage).code_size  # the vector's own bytes (float16 codes since a03d4b9)
    return {
        "n": int(len(vectors)),
        "M": spec["M"],
        "bytes_per_vector": total,
        "link_bytes_per_vector": total - code,
    }


def ram_child(index_dir: Path) -> dict:
    """RSS growth of a fresh process as it opens each part of the index, then reads every mapped page."""
    import gc

    import bm25s  # noqa: F401 - libraries are imported before the baseline: they are not the index's cost
    import faiss  # noqa: F401

    from qa import store
    from qa.embed import MODEL_DIM
    from qa.index import open_dense
    from qa.lexical import LexicalIndex
    from qa.manifest import read_manifest

    rss = measure.rss_mb
    steps: dict[str, float] = {}
    last = rss()
    out: dict = {"rss_baseline_mb": last}

    def step(name: str) -> None:
        nonlocal last
        gc.collect()
        now = rss()
        steps[name] = (now - last) * 2**20
        last = now

    manifest = read_manifest(index_dir)
    step("manifest")
    n = int(manifest.to_dict()["counts"]["chunks"])
    docs = int(manifest.to_dict()["counts"]["documents"])
    dense = open_dense(index_dir, manifest, MODEL_DIM)
    step("dense_index")
    lexical = LexicalIndex.load(index_dir / manifest.file("lexical"))
    step("bm25_open")
    chunks = store.JsonlTable(index_dir / manifest.file("chunks"), index_dir / manifest.file("chunk_offsets"))
    step("chunk_table_open")
    text = sum(len(row["text"]) for row in chunks)  # every page of the mapped chunk table
    step("chunk_text_read")
    arrays = [np.asarray(v) for v in lexical.model.scores.values() if isinstance(v, np.ndarray)]
    touched = sum(float(a.sum()) for a in arrays if a.size)
    step("bm25_arrays_read")
    vectors = np.load(index_dir / manifest.file("vectors"), mmap_mode="r")
    float(vectors.sum())
    step("vectors_read")
    out.update(
        chunks=n,
        documents=docs,
        rss_end_mb=last,
        dense_ntotal=int(dense.ntotal),
        chunk_text_chars=text,
        bm25_checksum=touched,
        bytes=steps,
        bytes_per_chunk={k: v / max(1, n) for k, v in steps.items()},
        manifest_bytes_per_document=steps["manifest"] / max(1, docs),
    )
    return out


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
    out: dict = {"rss_before_open_mb": before, "rss_after_open_mb": opened, "questions": len(questions)}
    for mode in ("dense", "lexical", "hybrid"):
        retriever.ask(questions[0], k=5, mode=mode, auto_refresh=False)
        times = []
        for q in questions:
            t = time.perf_counter()
            retriever.ask(q, k=5, mode=mode, auto_refresh=False)
            times.append(time.perf_counter() - t)
        out[mode] = measure.percentiles(times)
    t = time.perf_counter()
    for q in questions:
        embedder.embed([q])
    out["embed_question_ms_mean"] = (time.perf_counter() - t) * 1000 / len(questions)
    out["rss_after_queries_mb"] = measure.rss_mb()
    return out


if __name__ == "__main__":
    sys.exit(main())
