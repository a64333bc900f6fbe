"""Benchmark inputs: slices of the shared news corpus, questions, and synthetic vectors.

Everything is deterministic (fixed seeds), so two runs measure the same work.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT.parent / "shared" / "data" / "news" / "articles.jsonl.gz"
QUESTION_FILES = ("news_questions.jsonl", "answerable_questions.jsonl", "offtopic_questions.jsonl")


def read_news(path: Path = NEWS) -> list[dict]:
    """The news articles as dicts (id, title, text, source, date, ...), in file order."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is absent: the benchmark reads ../shared/data/news beside the project")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def question_sources(data_dir: Path = ROOT / "tests" / "data") -> tuple[list[str], set[str]]:
    """Hand-written questions from tests/data, and the article ids they cite."""
    questions: list[str] = []
    cited: set[str] = set()
    for name in QUESTION_FILES:
        path = data_dir / name
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                questions.append(row["question"])
                cited.update(row.get("sources") or [])
    return questions, cited


def pick_slice(rows: list[dict], n: int, must: set[str] = frozenset(), seed: int = 0) -> tuple[list[dict], list[dict]]:
    """n articles (those cited by the questions first, then a seeded sample) and the rest, shuffled."""
    first = [r for r in rows if r["id"] in must][:n]
    others = [r for r in rows if r["id"] not in must]
    random.Random(seed).shuffle(others)
    chosen = first + others[: n - len(first)]
    return chosen, others[n - len(first) :]


def questions_for(rows: list[dict], count: int, seed: int = 1) -> list[str]:
    """count questions: the hand-written ones, then article titles as queries (a common proxy)."""
    questions, _ = question_sources()
    pool = [r["title"] for r in rows if r.get("title") and len(r["title"].split()) >= 3]
    random.Random(seed).shuffle(pool)
    for title in pool:
        if len(questions) >= count:
            break
        questions.append(title.lower().capitalize())
    return questions[:count]


def write_corpus(rows: list[dict], path: Path) -> Path:
    """A one-file JSON-lines corpus, as `qa build --corpus` reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(
                json.dumps({k: r.get(k) for k in ("id", "title", "text", "source", "date")}, ensure_ascii=False) + "\n"
            )
    return path


def edited(row: dict, tag: str) -> dict:
    """The article with one sentence appended: a realistic correction."""
    return dict(row, text=row["text"] + f"\n\nCorrection ({tag}): an earlier version misstated a figure.")


def scaled_rows(rows: list[dict], copies: int) -> Iterator[dict]:
    """The corpus, then variants of it to reach a target size (ids and sentence order changed).

    Copy k rotates each article's paragraphs by k, so chunk texts differ from
    the original where an article has more than one paragraph.
    """
    for k in range(copies):
        for r in rows:
            if k == 0:
                yield r
                continue
            paras = r["text"].split("\n\n")
            shift = k % len(paras)
            yield dict(r, id=f"{r['id']}~{k}", text="\n\n".join(paras[shift:] + paras[:shift]))


class SyntheticEmbedder:
    """Vectors shaped like the model's, for chunks the benchmark cannot afford to embed.

    Each text gets the normalised sum of fixed random vectors of its words
    (similar texts get similar vectors), mixed with a sample from the
    covariance of real embeddings, so that the vectors span the same subspace
    as real ones. Used only for index size and latency, never for quality.
    """

    dim = 384

    def __init__(
        self, real: np.ndarray | None = None, seed: int = 0, model_id: str = "sentence-transformers/all-MiniLM-L6-v2"
    ):
        self.model_id = model_id  # the model the index claims: the real vectors' (e.g. the int8 default)
        self.rng = np.random.default_rng(seed)
        self.words: dict[str, np.ndarray] = {}
        self.sampler = CovarianceSampler(real, seed) if real is not None and len(real) > 10 else None

    def count(self, texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def _word(self, w: str) -> np.ndarray:
        v = self.words.get(w)
        if v is None:
            v = self.words[w] = self.rng.standard_normal(self.dim).astype(np.float32)
        return v

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        g = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            words = set(t.lower().split())
            for w in words:
                g[i] += self._word(w)
            g[i] /= max(1.0, len(words)) ** 0.5
        out = self.sampler.shape(g) if self.sampler else g
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        return out.astype(np.float32)


class CovarianceSampler:
    """Unit vectors from a Gaussian with the mean and covariance of real embeddings, around real points."""

    def __init__(self, real: np.ndarray, seed: int = 0, spread: float = 0.8):
        self.real = np.asarray(real, dtype=np.float32)
        self.mean = self.real.mean(axis=0)
        centred = self.real - self.mean
        cov = centred.T @ centred / max(1, len(centred) - 1)
        vals, vecs = np.linalg.eigh(cov)
        self.root = (vecs * np.sqrt(np.clip(vals, 0, None))).astype(np.float32)
        self.rng = np.random.default_rng(seed)
        self.spread = spread

    def shape(self, g: np.ndarray) -> np.ndarray:
        """Standard normal draws g mapped to the real mean and covariance (not normalised)."""
        return self.mean + g @ self.root.T

    def sample(self, n: int) -> np.ndarray:
        """Each sample: a random real vector plus spread x a draw from the real covariance, normalised."""
        z = self.rng.standard_normal((n, self.root.shape[0]), dtype=np.float32)
        base = self.real[self.rng.integers(0, len(self.real), n)]
        x = base + self.spread * (z @ self.root.T)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32)
