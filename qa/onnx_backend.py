"""ONNX Runtime embedder: the bundled model (or a local BERT-like one) without torch at run time.

Why: importing sentence-transformers (and torch) costs seconds of cold start,
and ONNX Runtime runs the fused BERT graph at least as fast on a 2-core CPU.
The graph (BERT + mean pooling over the attention mask + L2 normalisation) is
exported once from the model with torch, checked against torch, and cached in
the user cache directory under the model's name and a key made of its files'
hash and the library versions, so each model, and a new runtime, gets its own export.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import settings
from .errors import QAError

log = logging.getLogger("qa.embed")

EXPORT_VERSION = 1  # bump when the exported graph changes
OPSET = 17
MAX_TOKENS = 256  # the model's window (sentence_bert_config.json max_seq_length)
_MODEL_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)
_PROBES = (
    "Who replaced the fired US Secretary of Defense?",
    "a",
    "Shares of the company rose 4% after it reported quarterly earnings above forecasts. " * 6,
)


class EmbedBackendError(QAError):
    """The ONNX backend cannot be used; sentence-transformers still can (QA_EMBED_BACKEND=sentence-transformers)."""


@dataclass(frozen=True)
class OnnxModel:
    """What exporting and running a BERT-like model needs: its folder and shape, and the id its vectors carry."""

    path: Path
    model_id: str
    name: str  # the cached graph's file name starts with it
    dim: int  # hidden size = vector size (mean pooling)
    heads: int
    max_tokens: int = MAX_TOKENS
    files_hash: str | None = None  # the whole folder's hash when known; else the bundled model's files are hashed


def bundled(quantize: bool = False, path: Path | None = None) -> OnnxModel:
    """The bundled all-MiniLM-L6-v2 (fp32, or the int8 model)."""
    from .embed import INT8_MODEL_ID, MODEL_DIM, MODEL_ID, model_path

    return OnnxModel(path or model_path(), INT8_MODEL_ID if quantize else MODEL_ID, "all-MiniLM-L6-v2", MODEL_DIM, 12)


def model_key(model: OnnxModel, quantize: bool = False) -> str:
    """Content hash of the model files plus the versions that shape the exported graph.

    The hash is remembered in the cache directory under the files' path, size and mtime
    (_remembered_key): the weights are 90 MB, and hashing them took 0.07 s of every process
    that loads the model (a 1% rebuild's 2 s, say). A file changed in place gets a new
    size or mtime, so it is hashed again (the rule make and git's index use).
    """
    versions = json.dumps([EXPORT_VERSION, OPSET, _onnxruntime_version(), quantize]).encode()
    if model.files_hash is not None:
        return hashlib.sha256(model.files_hash.encode() + versions).hexdigest()[:20]
    files, stats = [], []
    for name in _MODEL_FILES:
        path = model.path / name
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):  # what Path.exists() said False to
            continue
        files.append((name, path))
        stats.append((name, st.st_size, st.st_mtime_ns))
    stamp = json.dumps([str(model.path.resolve()), versions.decode(), stats])

    def content_hash() -> str:
        h = hashlib.sha256()
        for name, path in files:
            h.update(name.encode())
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        h.update(versions)
        return h.hexdigest()[:20]

    return _remembered_key(stamp, content_hash)


def _onnxruntime_version() -> str:
    """Read from the installed package's metadata: importing onnxruntime costs about 0.1 s, and
    the OpenVINO path needs only this key, not the runtime."""
    from importlib import metadata

    for dist in ("onnxruntime", "onnxruntime-openvino", "onnxruntime-gpu"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    import onnxruntime

    return onnxruntime.__version__


_KEYS = "model-keys.json"


def _remembered_key(stamp: str, compute) -> str:
    """compute() once per stamp, remembered in settings.cache_dir(); a damaged or unwritable memo
    only costs computing it again."""
    memo_path = settings.cache_dir() / _KEYS
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
        if not isinstance(memo, dict):
            memo = {}
    except (OSError, ValueError):
        memo = {}
    known = memo.get(stamp)
    if isinstance(known, str) and len(known) == 20:
        return known
    memo[stamp] = key = compute()
    try:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{_KEYS}.", dir=memo_path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(memo, f)
        os.replace(tmp, memo_path)
    except OSError:
        pass
    return key


def onnx_path(model: OnnxModel, quantize: bool = False) -> Path:
    """The cached graph of this model: one file per model (name and content) and runtime, never shared."""
    suffix = "-int8" if quantize else ""
    return settings.cache_dir() / f"{model.name}-{model_key(model, quantize)}{suffix}.onnx"


def export_onnx(model: OnnxModel, dest: Path, quantize: bool = False) -> Path:
    """Export BERT + pooling + normalisation to dest (atomically), once; returns dest.

    Needs torch, transformers and the onnx package (export time only).
    Concurrent processes wait on a file lock instead of exporting twice.
    """
    from filelock import FileLock

    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest) + ".lock", timeout=600):
        if dest.exists():
            return dest
        try:
            import onnx  # noqa: F401 - torch.onnx.export needs it
            import torch
            from transformers import AutoModel
        except ImportError as exc:
            raise EmbedBackendError(
                f"cannot export the model to ONNX ({exc.name} is missing): pip install onnx, "
                "or set QA_EMBED_BACKEND=sentence-transformers"
            ) from exc
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=".tmp.onnx", dir=dest.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            wrapper = _pooled_encoder(AutoModel.from_pretrained(str(model.path), attn_implementation="eager"))
            wrapper.eval()
            sample = torch.ones((2, 8), dtype=torch.long)
            axes = {0: "batch", 1: "tokens"}
            with torch.no_grad():
                torch.onnx.export(
                    wrapper,
                    (sample, sample, torch.zeros_like(sample)),
                    str(tmp),
                    input_names=["input_ids", "attention_mask", "token_type_ids"],
                    output_names=["embeddings"],
                    dynamic_axes={
                        "input_ids": axes,
                        "attention_mask": axes,
                        "token_type_ids": axes,
                        "embeddings": {0: "batch"},
                    },
                    opset_version=OPSET,
                    dynamo=False,
                )
            _fuse(tmp, model)
            if quantize:
                _quantize(tmp)
            _check_against_torch(tmp, wrapper, model, tolerance=0.05 if quantize else 1e-4)
            os.replace(tmp, dest)
        except QAError:
            raise
        except Exception as exc:  # noqa: BLE001 - torch/onnx raise many kinds; the caller may fall back
            raise EmbedBackendError(f"exporting the model to ONNX failed ({type(exc).__name__}: {exc})") from exc
        finally:
            tmp.unlink(missing_ok=True)
    return dest


def _pooled_encoder(bert):
    """The torch module that is exported (built here so that importing this file needs no torch)."""
    import torch

    class PooledEncoder(torch.nn.Module):
        """BERT, mean pooling over real tokens, L2 normalisation: what sentence-transformers does."""

        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return PooledEncoder(bert)


def _fuse(path: Path, model: OnnxModel) -> None:
    """Offline BERT fusions (attention, layer norm, GELU) from onnxruntime's own optimizer."""
    try:
        from onnxruntime.transformers.optimizer import optimize_model
    except ImportError:  # pragma: no cover - older runtimes: the plain graph still works
        return
    import onnx

    optimized = optimize_model(str(path), model_type="bert", num_heads=model.heads, hidden_size=model.dim, opt_level=1)
    onnx.save(optimized.model, str(path))


def _quantize(path: Path) -> None:
    """Dynamic int8 weights (MatMul): smaller and faster, at some cost in accuracy (see docs/BENCHMARKS.md)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = path.with_name(path.stem + ".q8.onnx")
    try:
        quantize_dynamic(
            str(path),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        os.replace(out, path)
    finally:
        out.unlink(missing_ok=True)


def _check_against_torch(path: Path, wrapper, model: OnnxModel, tolerance: float) -> None:
    """Refuse to cache a graph whose vectors differ from the torch model's."""
    import torch

    session = _session(path, 1)
    tok = _tokenizer(model.path, model.max_tokens)
    ids, mask = _pad([e.ids for e in tok.encode_batch(list(_PROBES))])
    got = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    with torch.no_grad():
        t = torch.from_numpy
        want = wrapper(t(ids), t(mask), t(np.zeros_like(ids))).numpy()
    worst = float(1 - (got * want).sum(axis=1).min())
    if worst > tolerance:
        raise EmbedBackendError(f"the exported ONNX graph differs from the torch model (1 - cosine = {worst:.2e})")


def _tokenizer(model_dir: Path, max_tokens: int = MAX_TOKENS):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(max_tokens)
    tok.no_padding()
    return tok


def _pad(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad to the longest sequence of the batch ([PAD] id is 0)."""
    width = max(len(s) for s in seqs)
    ids = np.zeros((len(seqs), width), dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return ids, mask


def _session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxEmbedder:
    """all-MiniLM-L6-v2 (or `model`) through ONNX Runtime; same vectors as sentence-transformers (cosine ≥ 0.9999)."""

    def __init__(
        self,
        path: Path | None = None,
        threads: int | None = None,
        quantize: bool = False,
        model: OnnxModel | None = None,
    ):
        from .embed import counter_at

        try:
            import onnxruntime
        except ImportError as exc:
            raise EmbedBackendError("onnxruntime is not installed: pip install onnxruntime") from exc
        model = model or bundled(quantize, path)
        self.path = model.path
        self.quantize = quantize
        self.file = onnx_path(model, quantize)
        if not self.file.exists():
            log.info("exporting the embedding model to %s (once)", self.file)
            export_onnx(model, self.file, quantize)
        self.threads = threads or settings.cpu_threads()
        try:  # one single-thread session, run by one worker thread per core (see embed)
            self._session = _session(self.file, 1)
        except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
            raise EmbedBackendError(f"cannot load {self.file} ({exc}); delete it to export it again") from exc
        self.model_id = model.model_id
        self.runtime = f"onnxruntime {onnxruntime.__version__} {'int8' if quantize else 'fp32'}"
        self.dim = model.dim
        self._tok = _tokenizer(self.path, model.max_tokens)
        self._counter = counter_at(self.path)
        self._lock = threading.Lock()  # guards the tokenizer's settings and the lazy session below
        self._alone: object | None = None  # a session on every core, for one text (a question)

    def count(self, texts: list[str]) -> list[int]:
        return self._counter.count(texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, each text run alone, by one worker thread per core on a single-thread session
        (a lone text, such as a question, on one session using every core).

        No padding, and no threads spinning while they wait for each other: faster
        than length-sorted batches on two threads on the busy machine (a one-off
        comparison, docs/BENCHMARKS.md "Decisions"). And it is the only exact way
        for int8: its graph quantizes activations with one scale per tensor, so in
        a batch a text's vector depends on its batch-mates (differences up to
        3e-2); alone, a text has one vector whichever build or engine embeds it.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        with self._lock:
            seqs = [e.ids for e in self._tok.encode_batch(list(texts))]
        if len(seqs) == 1 and self.threads > 1:
            return self._run(self._session_alone(), seqs[0])[None, :]
        session = self._session

        def one(i: int) -> None:
            out[i] = self._run(session, seqs[i])

        workers = min(self.threads, len(seqs))
        with ThreadPoolExecutor(workers, thread_name_prefix="qa-embed") if workers > 1 else nullcontext() as pool:
            for _ in (pool.map if pool else map)(one, range(len(seqs))):
                pass
        return out

    def _session_alone(self):
        """A session whose one run uses every core: a lone question has nothing to share
        the cores with, so it runs in about 0.6x the time of the single-thread session
        (4.7 vs 8.0 ms for 23 word pieces here; the same vector, to the bit). Made on the
        first lone text, so a build never holds its memory (about 60 MB)."""
        with self._lock:
            if self._alone is None:
                self._alone = _session(self.file, self.threads)
            return self._alone

    @staticmethod
    def _run(session, seq: list[int]) -> np.ndarray:
        ids = np.asarray([seq], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        return session.run(None, feed)[0][0]  # ONNX Runtime releases the GIL while it runs
