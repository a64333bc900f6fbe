"""The process environment, read in one place.

Every environment variable qa understands is named and documented here, so a
user can see them all at once and no module quietly reads one of its own:

    QA_EMBEDDER        module:attribute naming an embedder class or factory to use for new
                       indexes and register for the indexes it built (see qa.embed.register_spec)
    QA_EMBED_BACKEND   auto | bf16 | onnx | onnx-int8 | sentence-transformers: the bundled model for a
                       new index and its runtime. auto: bf16 (torch) where the CPU has bf16 matrix
                       units (qa.cpu), else fp32 on ONNX Runtime; bf16 forces the bf16 model (emulated,
                       slowly, without the units); onnx / sentence-transformers force fp32
    QA_CACHE_DIR       where exported model graphs are cached (default ~/.cache/qa)
    QA_BENCH_CACHE     where `qa eval` keeps the indexes it builds for benchmark data sets
    QA_AUTH            USER:PASSWORD the web app asks for (as `--auth`; the option wins)
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import QAError

# Environment variables a worker process (a Ray actor) needs to embed as this process does.
WORKER_ENV = ("QA_EMBEDDER", "QA_EMBED_BACKEND", "QA_CACHE_DIR", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "PYTHONPATH")

BACKENDS = ("auto", "bf16", "onnx-int8", "onnx", "sentence-transformers")
_BACKEND_ALIASES = {
    "torch": "sentence-transformers",
    "st": "sentence-transformers",
    "int8": "onnx-int8",
    "torch-bf16": "bf16",
}

# Threads for one model or one index build: more only adds contention on the small machines qa targets.
MAX_THREADS = 4


def embedder_spec() -> str | None:
    """$QA_EMBEDDER ("module:attribute"), or None for the bundled model."""
    value = os.environ.get("QA_EMBEDDER", "").strip()
    return value or None


def embed_backend(backend: str | None = None) -> str:
    """The runtime asked for the bundled model: the argument, else $QA_EMBED_BACKEND, else "auto"."""
    value = (backend or os.environ.get("QA_EMBED_BACKEND") or "auto").strip().lower()
    value = _BACKEND_ALIASES.get(value, value)
    if value not in BACKENDS:
        raise QAError(f"QA_EMBED_BACKEND must be one of {', '.join(BACKENDS)}, got {value!r}")
    return value


def cache_dir() -> Path:
    """Where exported model graphs live: $QA_CACHE_DIR, else $XDG_CACHE_HOME/qa, else ~/.cache/qa."""
    if os.environ.get("QA_CACHE_DIR"):
        return Path(os.environ["QA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qa"


def bench_cache() -> Path:
    """Where `qa eval` builds (and reuses) indexes of benchmark data sets."""
    return Path(os.environ.get("QA_BENCH_CACHE") or cache_dir() / "bench")


def web_auth() -> str | None:
    """$QA_AUTH ("user:password") for the web app's login, or None."""
    value = os.environ.get("QA_AUTH", "").strip()
    return value or None


def cpu_threads() -> int:
    """Cores this process may use (affinity-aware), capped at MAX_THREADS."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_THREADS))


def offline_model_hub() -> None:
    """Never let transformers or the hub client reach the network: the model ships in a package."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def worker_env() -> dict[str, str]:
    """The subset of this process's environment that embedding workers must share."""
    return {k: os.environ[k] for k in WORKER_ENV if k in os.environ}
