"""All tunable settings in one place. Defaults are the measured choices."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Config:
    # Chunking: token budget per chunk counted with the model's tokenizer,
    # including the title prefix and the [CLS]/[SEP] tokens, so that nothing
    # is silently truncated by the model's 256-word-piece window.
    chunk_tokens: int = 128
    overlap_sentences: int = 1
    max_model_tokens: int = 256

    # Embedding
    batch_size: int = 32

    # Dense index: exact search below this many chunks, HNSW above.
    hnsw_threshold: int = 50_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 96

    # Retrieval
    candidates: int = 100  # per ranking, before fusion
    fusion: str = "convex"  # "convex" (normalised scores) or "rrf"
    rrf_k: int = 60
    dense_weight: float = 0.5  # weight of dense scores in fusion

    # "No answer" thresholds (calibrated on tests/data, see docs/EVALUATION.md)
    min_dense_score: float = 0.30
    min_lexical_overlap: float = 0.0

    def chunking_params(self) -> dict:
        """The settings that shape chunks: a change forces re-chunking."""
        return {
            "chunk_tokens": self.chunk_tokens,
            "overlap_sentences": self.overlap_sentences,
            "max_model_tokens": self.max_model_tokens,
        }

    def to_dict(self) -> dict:
        return asdict(self)
