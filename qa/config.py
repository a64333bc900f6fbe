"""All tunable settings in one place. Defaults are the measured choices."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Config:
    # Chunking: token budget per chunk counted with the model's tokenizer,
    # including the title prefix and the [CLS]/[SEP] tokens, so that nothing
    # is silently truncated by the model's 256-word-piece window.
    # 96 was best of 64/96/128/192 on the seed questions (docs/EVALUATION.md).
    chunk_tokens: int = 96
    overlap_sentences: int = 1
    max_model_tokens: int = 256

    # Embedding
    batch_size: int = 32

    # Dense index: exact search below this many chunks, HNSW above. Measured on
    # 2 cores (docs/BENCHMARKS.md): exact search costs ~0.2 ms per 1k chunks,
    # HNSW ~1-2 ms at any size but must be rebuilt (~0.35 s per 1k chunks).
    hnsw_threshold: int = 20_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 64
    hnsw_ef_search: int = 384  # up to 100k vectors (recall@10 0.987 on 49k real embeddings)
    # HNSW's recall falls as the graph grows at a fixed beam, so efSearch grows with the size
    # past 100k, log-linearly, to this at 1M (recall@10 0.977 on the synthetic million).
    hnsw_ef_search_1m: int = 2048

    # Retrieval
    candidates: int = 100  # per ranking, before fusion
    # Fusion chosen on SciFact train + the seed questions (grid in docs/EVALUATION.md):
    # 0.7 * cosine / best cosine + 0.3 * BM25 / best BM25. Scaling by the best score
    # (not min-max) keeps the head of the ranking independent of the candidate pool.
    fusion: str = "convex"  # "convex" (normalised scores) or "rrf"
    rrf_k: int = 60
    dense_weight: float = 0.7  # weight of dense scores in fusion
    dense_norm: str = "max"  # convex fusion: "minmax", "max" (over the best) or "raw" cosine

    highlight: str = "lexical"  # answering sentence by "lexical" overlap, "dense" cosine or "both"

    # "No answer" thresholds (calibrated on tests/data, see docs/EVALUATION.md)
    min_dense_score: float = 0.30  # best cosine among the candidates
    min_lexical_overlap: float = 0.10  # IDF share of question terms in the best of the top 3 passages

    def chunking_params(self) -> dict:
        """The settings that shape chunks: a change forces re-chunking."""
        return {
            "chunk_tokens": self.chunk_tokens,
            "overlap_sentences": self.overlap_sentences,
            "max_model_tokens": self.max_model_tokens,
        }

    def to_dict(self) -> dict:
        return asdict(self)
