"""A fast, deterministic stand-in for the embedding model, under its own model id.

Tests that check logic (incremental builds, crash safety, locking, hostile
input) do not need real semantics, and the real model costs seconds to load
and minutes to embed a few hundred articles. `FakeEmbedder` hashes words into
a bag-of-words unit vector instead: the same text always gives the same
vector, in any process. It is registered the way any model is:
tests/conftest.py registers it in-process, and subprocesses (the CLI, the web
app, Ray workers) get it through `QA_EMBEDDER=tests.support.fake:FakeEmbedder`
(see `fake_env`). Its id is its own, so an index it built can never be taken
for a MiniLM index.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np

SPEC = "tests.support.fake:FakeEmbedder"
ROOT = Path(__file__).resolve().parent.parent.parent
_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def fake_env(base: dict | None = None) -> dict:
    """An environment in which a `qa` subprocess (or Ray worker) uses the fake model for new indexes."""
    env = dict(os.environ if base is None else base)
    env["QA_EMBEDDER"] = SPEC
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


class FakeEmbedder:
    """Deterministic bag-of-words vectors: fast, and records every text it embeds in `.calls`."""

    model_id = "qa-tests/fake-bag-of-words"
    dim = 384

    def __init__(self) -> None:
        self.calls: list[str] = []

    def count(self, texts: list[str]) -> list[int]:
        return [len(_TOKEN.findall(t)) for t in texts]

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=4).digest()
                h = int.from_bytes(digest, "little")
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else np.eye(self.dim, dtype=np.float32)[0]
        return out
