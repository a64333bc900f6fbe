"""Dense index over unit vectors with FAISS: exact while small, HNSW when large."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from . import settings
from .config import Config
from .errors import IndexFormatError


def _faiss(threads: int | None = None):
    """faiss with its OpenMP pool sized for the job.

    One query is searched on one thread: on a busy 2-core machine a second
    OpenMP thread mostly waits for a core, and measured p50 was 2x worse
    (docs/BENCHMARKS.md). Builds use every core.
    """
    import faiss

    faiss.omp_set_num_threads(threads or settings.cpu_threads())
    return faiss


def index_spec(n: int, config: Config) -> dict:
    """Which FAISS index to build for n vectors (recorded in the manifest)."""
    if n < config.hnsw_threshold:  # the threshold is recorded so that a later build keeps it (qa.generation)
        return {"type": "flat", "metric": "inner_product", "hnsw_threshold": config.hnsw_threshold}
    return {
        "type": "hnsw",
        "metric": "inner_product",
        "hnsw_threshold": config.hnsw_threshold,
        "M": config.hnsw_m,
        "efConstruction": config.hnsw_ef_construction,
        "efSearch": ef_search(n, config),
    }


def ef_search(n: int, config: Config) -> int:
    """The HNSW search beam for n vectors: config.hnsw_ef_search up to 100k, then growing by the
    same factor per tenfold size, to config.hnsw_ef_search_1m at 1M (measured: docs/BENCHMARKS.md)."""
    base, at_1m = config.hnsw_ef_search, max(config.hnsw_ef_search, config.hnsw_ef_search_1m)
    if n <= 100_000:
        return base
    return int(round(base * (at_1m / base) ** math.log10(n / 100_000)))


def build_dense(vectors: np.ndarray, spec: dict):
    faiss = _faiss()
    dim = vectors.shape[1]
    if spec["type"] == "flat":
        index = faiss.IndexFlatIP(dim)
    elif spec["type"] == "hnsw":  # float16 storage: see hnsw_storage
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, int(spec["M"]), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = int(spec["efConstruction"])
        index.hnsw.efSearch = int(spec["efSearch"])
    else:
        raise ValueError(f"unknown dense index type {spec['type']!r}")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def save_dense(index, path: Path, with_vectors: bool = True) -> None:
    """Write index to path atomically; with_vectors=False writes an HNSW graph without its vectors
    (the index keeps them in vectors.<g>.npy; load_dense gives them back)."""
    faiss = _faiss()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        faiss.write_index(index, tmp, 0 if with_vectors else faiss.IO_FLAG_SKIP_STORAGE)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def hnsw_storage(faiss, dim: int, metric: int, half: bool = True):
    """Where an HNSW graph keeps its vectors: float16 codes when the vectors are float16 (qa stores
    them so, store.VECTOR_DTYPE), else float32.

    float16 codes hold float16 vectors exactly in half the memory, and decoding them is exact, so
    the distances are the float32 storage's: on 50,000 news chunk vectors the same 10 neighbours for
    200 of 200 questions, with searches 1.14 -> 0.82 ms and the graph built 6.1 -> 5.2 s (less memory
    to read; /work/runs/s10/hnsw_sq.py). At 729,000 chunks it is 534 MiB less in a build and in every
    process that searches."""
    if half:
        return faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, metric)
    return faiss.IndexFlat(dim, metric)


def load_dense(path: Path, expected: int, dim: int, fix: str, vectors: Iterable[np.ndarray] = (), half: bool = True):
    """Read a FAISS file; an HNSW graph written without its vectors gets them from `vectors` (blocks of
    rows; half: they are float16 values)."""
    faiss = _faiss()
    try:
        index = faiss.read_index(str(path))
    except (RuntimeError, OSError) as exc:
        raise IndexFormatError(f"dense index {path.name} is missing or corrupt; {fix}") from exc
    if isinstance(index, faiss.IndexHNSW) and index.storage is None:
        storage = hnsw_storage(faiss, index.d, index.metric_type, half)
        for block in vectors:
            storage.add(np.ascontiguousarray(block, dtype=np.float32))
        if storage.ntotal != index.ntotal:
            raise IndexFormatError(
                f"dense index {path.name} links {index.ntotal} vectors, {storage.ntotal} were found; {fix}"
            )
        storage.this.disown()  # the HNSW index owns and frees it
        index.storage, index.own_fields = storage, True
    if index.ntotal != expected or index.d != dim:
        raise IndexFormatError(
            f"dense index {path.name} holds {index.ntotal} vectors of dim {index.d}, "
            f"the manifest says {expected} of dim {dim}; {fix}"
        )
    return index


def search_exact(vectors: np.ndarray, rows: np.ndarray, query: np.ndarray, k: int):
    """Top-k (rows, scores) among the given rows by exact inner product (ties: the lower row first)."""
    rows = np.sort(np.asarray(rows, dtype=np.int64))  # sorted rows read a memory map in order
    scores = np.asarray(vectors[rows], dtype=np.float32) @ np.asarray(query, dtype=np.float32)
    k = min(k, len(rows))
    if k < len(rows):
        part = np.argpartition(-scores, k - 1)[:k]
        rows, scores = rows[part], scores[part]
    order = np.lexsort((rows, -scores))
    return rows[order], scores[order]


def search_dense(
    index,
    spec: dict,
    query: np.ndarray,
    k: int,
    allowed: np.ndarray | None = None,
    vectors: np.ndarray | None = None,
    exact_rows: int = 0,
):
    """Top-k (rows, scores) for one query vector; allowed = row ids passing the filters.

    An HNSW graph searched through a filter walks mostly rejected nodes and returns too few
    or other rows than exact search; so when at most exact_rows rows pass (and the vectors are
    given) they are scored exactly, as a flat index would.
    """
    faiss = _faiss(threads=1)
    if index.ntotal == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    k = min(k, index.ntotal)
    params = None
    if allowed is not None:
        if len(allowed) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if spec["type"] == "hnsw" and vectors is not None and len(allowed) <= exact_rows:
            return search_exact(vectors, allowed, np.asarray(query, dtype=np.float32), k)
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        if spec["type"] == "hnsw":
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(int(spec["efSearch"]), k))
        else:
            params = faiss.SearchParameters(sel=selector)
    elif spec["type"] == "hnsw":
        params = faiss.SearchParametersHNSW(efSearch=max(int(spec["efSearch"]), k))
    scores, rows = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k, params=params)
    keep = rows[0] >= 0
    return rows[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)
