"""The bf16 model on OpenVINO: the CPU's bf16 units (AMX, or AVX-512 BF16) run the matmuls.

Why OpenVINO and not torch for bf16: its CPU plugin runs the whole fused graph in
bf16 on oneDNN, where torch runs a Python module of small bf16 ops. Measured on an
AMD EPYC with avx512_bf16 and no AMX (2 threads, 512 news chunk texts, one run,
`python -m bench.limit`, docs/BENCHMARKS.md): OpenVINO bf16 embedded 1.9x the word
pieces/s of fp32 ONNX Runtime, where torch bf16 ran 1.5x (0.5-0.7x under load). A
question is overhead-bound: 5.6 against 6.1 ms for 25 word pieces. On the issue's
AMX machine it ran 31,037 word pieces/s against torch bf16's 19,988 and fp32 ONNX
Runtime's 10,412. The vectors stay the model's: cosine to fp32 ≥ 0.9999
(tests/test_bf16.py).

It reads the fp32 ONNX graph that qa.onnx_backend exports and caches (one export,
two runtimes). Texts are padded to their bucket (a multiple of bf16_backend.BUCKET word pieces)
and batched only with texts of the same bucket, so a text always runs in the same
shape and its vector does not depend on its batch-mates (a test checks it bit for
bit on the machine that runs it).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import settings
from .bf16_backend import bucketed_batches
from .cpu import cpu_features
from .imports import import_without
from .onnx_backend import EmbedBackendError, OnnxModel, _tokenizer, bundled, export_onnx, onnx_path

log = logging.getLogger("qa.embed")

BATCH_TEXTS = 8  # texts per forward pass: measured fastest of 8, 16 and 32 here (docs/BENCHMARKS.md)

# The process's first inference runs alone (see _first_inference_alone).
_FIRST_INFERENCE = threading.Lock()
_first_inference_done = False


def available() -> bool:
    """True if the openvino package can be imported (no import of it here: that costs a second)."""
    from importlib.util import find_spec

    try:
        return find_spec("openvino") is not None
    except (ImportError, ValueError):
        return False


def import_openvino():
    """The openvino package, imported without its model-conversion tools (openvino.tools.ovc).

    `import openvino` also imports them, to offer convert_model, and importing those sends a usage
    event to Google Analytics (openvino-telemetry, on unless the user opted out with its
    `opt_in_out` script): on Linux it forks the process to post it, and the process waits up
    to 3 s for that at exit. qa never converts models with OpenVINO and runs offline, so that
    import is skipped: nothing is sent, and the import takes 0.25 s instead of about 0.4 s here.
    Where openvino is already imported (by the caller's own code), it is used as it is.
    """
    return import_without("openvino", "openvino.tools.ovc")


def precision_hint() -> str:
    """The inference precision asked of OpenVINO here: bf16 only where the CPU runs it natively.

    Asked on other CPUs, OpenVINO's handling varies (with oneDNN capped at AVX2 it
    refused to compile), so f32 there. `qa status` predicts the label from this too.
    """
    return "bf16" if cpu_features().bf16_units else "f32"


def _compile(openvino, file, config: dict):
    """The compiled graph, through OpenVINO's own model cache (settings.cache_dir()/openvino).

    Compiling takes about 0.33 s here and loading the cached blob 0.09 s: it is paid
    by every `qa build` and cold start, and an incremental build of 20 articles takes
    about 2 s in all. A cache that cannot be used (unwritable, damaged) is skipped.
    """
    cache = settings.cache_dir() / "openvino"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        core = openvino.Core()
        core.set_property({"CACHE_DIR": str(cache)})
        return core.compile_model(str(file), "CPU", config)
    except Exception as exc:  # noqa: BLE001 - OpenVINO raises its own exception types
        log.info("OpenVINO's model cache in %s is not usable (%s); compiling without it", cache, exc)
    try:
        return openvino.Core().compile_model(str(file), "CPU", config)
    except Exception as exc:  # noqa: BLE001
        raise EmbedBackendError(f"OpenVINO cannot compile {file} ({exc}); delete it to export it again") from exc


class OpenVinoEmbedder:
    """all-MiniLM-L6-v2 in bfloat16 on OpenVINO's CPU plugin; vectors close to fp32 (cosine ≥ 0.999), not equal."""

    def __init__(self, threads: int | None = None, model: OnnxModel | None = None, streams: bool = False):
        """streams=True: for builds. OpenVINO's throughput hint splits the threads into parallel streams
        (one thread each here), and batches run on them side by side, each stream taking the next batch
        when it is free: 1.14x the word pieces/s of one latency-hinted stream (median of 4 alternating
        rounds, 1,024 news chunks in calls of 256, 2 cores; /work/runs/s8/ovab5.py), and the same vectors.
        A lone question on one stream's thread takes longer, so questions keep the default."""
        from .embed import BF16_MODEL_ID, counter_at

        try:
            openvino = import_openvino()
        except ImportError as exc:
            raise EmbedBackendError("the bf16 model on OpenVINO needs openvino (pip install openvino)") from exc
        model = model or bundled()
        self.path = model.path
        self.file = onnx_path(model)
        if not self.file.exists():
            export_onnx(model, self.file)
        self.threads = threads or settings.cpu_threads()
        config = {
            "INFERENCE_PRECISION_HINT": precision_hint(),
            "INFERENCE_NUM_THREADS": self.threads,
            "PERFORMANCE_HINT": "THROUGHPUT" if streams else "LATENCY",
        }
        self._compiled = _compile(openvino, self.file, config)
        # What the plugin really runs, read back for the runtime label (`qa status`, the build log).
        precision = self._compiled.get_property("INFERENCE_PRECISION_HINT")
        self.precision = precision.get_type_name() if hasattr(precision, "get_type_name") else str(precision)
        self.streams = int(self._compiled.get_property("NUM_STREAMS"))
        self.runtime = f"openvino {openvino.__version__.split('-')[0]} {self.precision}"
        if self.streams > 1:
            self.runtime += f", {self.streams} streams"
        self.model_id = BF16_MODEL_ID
        self.dim = model.dim
        self._tok = _tokenizer(self.path, model.max_tokens)
        self._counter = counter_at(self.path)
        self._requests = [self._compiled.create_infer_request() for _ in range(self.streams)]
        self._lock = threading.Lock()  # one call (its requests, the tokenizer) at a time
        _first_inference_alone(self._requests[0], self._tok)

    def count(self, texts: list[str]) -> list[int]:
        return self._counter.count(texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        with self._lock:
            batches = iter(list(bucketed_batches(self._tok, texts, BATCH_TEXTS)))
            taking = threading.Lock()

            def run(stream: int) -> None:  # one request per stream; each takes the next batch when free
                request = self._requests[stream]
                while True:
                    with taking:
                        batch = next(batches, None)
                    if batch is None:
                        return
                    rows, ids, mask = batch
                    out[rows] = request.infer(_feed(ids, mask))[0]  # infer lets go of the GIL

            if self.streams == 1:
                run(0)
            else:  # a thread per stream rather than OpenVINO's AsyncInferQueue: after one failed
                # inference that queue raised on every later call, and the process aborted at exit
                with ThreadPoolExecutor(self.streams, thread_name_prefix="qa-openvino") as pool:
                    list(pool.map(run, range(self.streams)))  # a stream's error is raised here
        # The graph normalises in the inference precision; once more in fp32 keeps them unit vectors.
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


def _first_inference_alone(request, tokenizer) -> None:
    """Run one inference before any two can run at once in this process.

    OpenVINO's Python binding sets up its NumPy conversions on first use, and two threads doing
    their first inference together can deadlock there: a build on two streams hung for good in 1 of
    30 fresh processes here (`qa build` holding the index's build lock; py-spy showed one stream's
    thread inside pybind11's once-only NumPy set-up, gil_safe_call_once_and_store<npy_api>, waiting
    for the GIL, and the other holding the GIL while it waited on a C++ static-initialisation guard).
    Once that set-up has run, inferences on several threads are safe. It costs one short forward pass
    per process.
    """
    global _first_inference_done
    with _FIRST_INFERENCE:
        if _first_inference_done:
            return
        for _, ids, mask in bucketed_batches(tokenizer, ["warm up"], BATCH_TEXTS):
            request.infer(_feed(ids, mask))
        _first_inference_done = True


def _feed(ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
