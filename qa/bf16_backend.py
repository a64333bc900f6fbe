"""The bundled model in bfloat16 on torch: the fallback for the bf16 model where OpenVINO cannot load.

The bf16 model runs on OpenVINO first (qa.openvino_backend: 1.2x torch bf16 on an
AVX-512 BF16 CPU, 1.55x on the issue's AMX machine). torch is a core dependency, so
this path is always there, and torch reports what it ran: bf16 weights run as bf16,
on the units where present and emulated (correct, slow) where not, never silently
as fp32. On an AMX machine (issue 14: 2 threads, 512 news chunks) it embedded
19,988 word pieces/s in batches of 32 against 10,412 for fp32 ONNX Runtime, cosine
≥ 0.9999. `auto` takes it for a new index only where OpenVINO is absent and the
CPU has AMX (qa.cpu).

Batches are length-sorted, so padding is small, and every text is padded to its own
bucket (a multiple of BUCKET word pieces) whatever its batch-mates: a text then
runs in the same width in every build (bit for bit the same vector on the AVX2 machine
of docs/BENCHMARKS.md, emulated). On an AMX CPU oneDNN also picks its kernels by the
number of texts in a batch, so a text's vector moves with its batch size (up to 6e-4
a component, cosine > 0.9999; seen 2026-12-07): close, not equal. OpenVINO's runtime
is exact (tested). Mean pooling and L2 normalisation run in fp32.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from . import settings
from .cpu import CpuFeatures, cpu_features
from .onnx_backend import EmbedBackendError, _tokenizer

BATCH_TEXTS = 32  # texts per forward pass
BUCKET = 8  # texts are padded up to a multiple of this many word pieces


def torch_version() -> str:
    try:
        return version("torch")
    except PackageNotFoundError:
        return "?"


def runtime_label(features: CpuFeatures) -> str:
    """What runs the bf16 model on this machine, without loading it."""
    if features.bf16_faster:
        where = "on the matrix units"
    elif features.bf16_units:
        where = "on AVX-512 BF16 without AMX (slower than fp32 ONNX)"
    else:
        where = "emulated (slow)"
    return f"torch {torch_version()} bf16 {where}"


class Bf16Embedder:
    """all-MiniLM-L6-v2 cast to bfloat16, SDPA attention; vectors close to fp32 (cosine ≥ 0.999), not equal."""

    def __init__(self, path: Path | None = None, threads: int | None = None):
        from .embed import BF16_MODEL_ID, MODEL_DIM, counter_at, model_path

        settings.offline_model_hub()
        try:
            import torch
            import transformers
            from transformers import AutoModel
        except ImportError as exc:
            raise EmbedBackendError(f"the bf16 model needs torch and transformers ({exc.name} is missing)") from exc
        transformers.utils.logging.disable_progress_bar()
        self._torch = torch
        self.path = path or model_path()
        self.threads = threads or settings.cpu_threads()
        torch.set_num_threads(self.threads)
        try:
            model = AutoModel.from_pretrained(str(self.path), attn_implementation="sdpa")
        except (ValueError, ImportError):  # older transformers without SDPA for BERT
            model = AutoModel.from_pretrained(str(self.path))
        self.model = model.to(torch.bfloat16).eval()
        self.model_id = BF16_MODEL_ID
        self.dim = MODEL_DIM
        features = cpu_features(with_torch=True)
        self.runtime = runtime_label(features)
        self._tok = _tokenizer(self.path)
        self._counter = counter_at(self.path)
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads

    def count(self, texts: list[str]) -> list[int]:
        return self._counter.count(texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        torch = self._torch
        with self._lock, torch.inference_mode():
            for rows, ids_np, mask_np in bucketed_batches(self._tok, texts, BATCH_TEXTS):
                ids, mask = torch.from_numpy(ids_np), torch.from_numpy(mask_np)
                hidden = self.model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids))[0]
                m = mask.unsqueeze(-1).float()
                pooled = (hidden.float() * m).sum(1) / m.sum(1).clamp(min=1e-9)
                out[rows] = torch.nn.functional.normalize(pooled, p=2.0, dim=1).numpy()
        return out


def padded_width(n: int) -> int:
    """The width a text of n word pieces runs at: n rounded up to a multiple of BUCKET."""
    return -(-n // BUCKET) * BUCKET


Batch = tuple[list[int], np.ndarray, np.ndarray]  # rows of the texts, input ids, attention mask


def bucketed_batches(tokenizer, texts: list[str], batch_texts: int) -> Iterator[Batch]:
    """(rows, input ids, attention mask) per batch of texts: each tokenized, then right-padded to its
    bucket's width (int64). Both bf16 runtimes batch through here, so a text runs in the same shape on each."""
    seqs = [e.ids for e in tokenizer.encode_batch(list(texts))]
    for rows in length_batches([len(s) for s in seqs], batch_texts):
        width = padded_width(max(len(seqs[i]) for i in rows))
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for j, i in enumerate(rows):
            ids[j, : len(seqs[i])] = seqs[i]
            mask[j, : len(seqs[i])] = 1
        yield rows, ids, mask


def length_batches(lengths: list[int], batch_texts: int) -> list[list[int]]:
    """Row indices grouped by bucket (same padded width), at most batch_texts per batch, shortest first."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    for i in order:
        same_width = batches and padded_width(lengths[batches[-1][0]]) == padded_width(lengths[i])
        if same_width and len(batches[-1]) < batch_texts:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches
