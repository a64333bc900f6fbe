"""All tunable settings in one place, checked when made. Defaults are the measured choices."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace

from .errors import QAError

FUSIONS = ("convex", "rrf")
DENSE_NORMS = ("minmax", "max", "raw")
HIGHLIGHTS = ("lexical", "dense", "both")
SCORERS = ("features", "reader")


class ConfigError(QAError, ValueError):
    """A setting has a value qa cannot use."""


# Settings that shape the index: they take effect when one is built, not when it answers.
INDEX_SETTINGS = frozenset(
    {"chunk_tokens", "overlap_sentences", "embed_batch", "hnsw_threshold", "hnsw_m", "hnsw_ef_construction"}
    | {"bm25_k1", "bm25_b"}
)


@dataclass(frozen=True)
class Config:
    # Chunking: token budget per chunk counted with the model's tokenizer,
    # including the title prefix and the [CLS]/[SEP] tokens, so that nothing
    # is silently truncated by the model's 256-word-piece window.
    # 96 was best of 64/96/128/192 on the seed questions (docs/EVALUATION.md).
    chunk_tokens: int = 96
    overlap_sentences: int = 1
    max_model_tokens: int = 256

    # Embedding: chunks sent to the model per call during a build; the cache commits after each
    # call, so a killed build resumes from the last one.
    embed_batch: int = 256

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
    # A filter that lets at most this many chunks through is searched exactly on an HNSW index
    # (HNSW through a filter returned fewer or other rows than exact search for ~9 in 10 one-article
    # filters, issue 13); the same size below which qa builds a flat index, so the cost is a flat search's.
    exact_filter_rows: int = 20_000

    # Retrieval
    candidates: int = 100  # per ranking, before fusion
    # Fusion chosen on SciFact train + the seed questions (grid in docs/EVALUATION.md):
    # 0.7 * cosine / best cosine + 0.3 * BM25 / best BM25. Scaling by the best score
    # (not min-max) keeps the head of the ranking independent of the candidate pool.
    fusion: str = "convex"  # "convex" (normalised scores) or "rrf"
    rrf_k: int = 60
    dense_weight: float = 0.7  # weight of dense scores in fusion
    dense_norm: str = "max"  # convex fusion: "minmax", "max" (over the best) or "raw" cosine

    # BM25 (bm25s, Lucene's variant): its library defaults, recorded in the manifest.
    bm25_k1: float = 1.5
    bm25_b: float = 0.75

    highlight: str = "lexical"  # answering sentence by "lexical" overlap, "dense" cosine or "both"

    # Passages ranked by their best sentence (qa/sentences.py; weights chosen on the dev splits,
    # docs/EVALUATION.md): the first rerank_passages passages are reordered by
    # cosine_w * sentence cosine + coverage_w * IDF share of question terms + cue_w * answer-type cue
    # + passage_w * passage score / best, and each one's best sentence is its highlight.
    # 0 passages: off (chunk order, highlight as above).
    # Chosen on the news dev split (bench/tune_answers.py, 720 grid points) as the best point that keeps query
    # p50 within its budget: any sentence cosine costs a model call (4 sentences cost ~6 question embeddings
    # here, bench/answer_cost.py), so none: hit@1 0.876, answering sentence 0.685 (the best point overall,
    # cosine 2.0 over 4 embedded sentences: 0.899 / 0.685).
    # Re-chosen with the article-local weight on the dev halves (bench/tune_answers.py --vary head passage;
    # docs/EVALUATION.md): 7 passages read, passage weight 1.0 (6-8 and 1.0 a plateau). From (5, 0.5):
    # news-5k dev hit@1 0.888 -> 0.910, hit@5 0.944 -> 0.955, sentence 0.742 -> 0.764; SQuAD dev (4,000) hit@1
    # 0.852 -> 0.861, sentence 0.778 -> 0.783; small haystack 0.933 -> 0.944, 0.753 -> 0.764.
    rerank_passages: int = 7
    rerank_embed_sentences: int = 0  # sentences embedded per question (one model call), best lexical first
    # The reader (a cross-encoder, qa/reader.py) re-reads the reader_sentences best sentences by the features
    # and adds sentence_reader_weight * sigmoid(its logit). Its settings were chosen on the news dev split
    # (bench/tune_reader.py, 16 points; the reader never saw news): 3 sentences at weight 0.5 gave hit@1 0.910,
    # answering sentence 0.730 (features alone 0.876 / 0.685). It is opt-in: it adds 10-14 ms a question
    # (bench/answer_cost.py), which breaks the 15 ms p50 budget at 100k chunks, and on the test halves it
    # moved news hit@1 0.917 -> 0.936 but not the answering sentence (0.688 -> 0.679; docs/EVALUATION.md).
    sentence_scorer: str = "features"  # "features" (no model call), or "reader"
    sentence_cosine_weight: float = 0.0
    sentence_coverage_weight: float = 1.0
    sentence_cue_weight: float = 0.2
    sentence_passage_weight: float = 1.0
    sentence_reader_weight: float = 0.5
    # Choosing a passage's answering sentence among its own, the question terms its article's title holds
    # count at this share of their IDF (1: as any term). Chosen on the dev splits (bench/tune_answers.py):
    # 0.1 gave news dev answering sentence 0.674 -> 0.730 (60 -> 65 of 89), SQuAD dev 110 -> 109 of 150,
    # the shipped corpus's dev sets unchanged; passage order does not use it.
    sentence_title_weight: float = 0.1
    # A sentence's coverage mixes in, at this share, its coverage with each question term's IDF times the term's
    # rarity among its article's candidate sentences (qa.sentences.local_coverage): a term in most of them names
    # the topic, one in few names the fact. Chosen on the dev splits (bench/tune_answers.py --vary local; 0.4-0.6
    # a plateau): 0.5 gave news-5k dev hit@1 0.865 -> 0.888 (answering sentence 0.742 both), small haystack dev
    # sentence 0.719 -> 0.753, SQuAD dev (4,000) hit@1 0.846 -> 0.852, sentence 0.773 -> 0.778; shipped dev sets
    # unchanged.
    sentence_local_weight: float = 0.5
    reader_sentences: int = 3  # sentences the reader reads per question (the features' best)

    # "No answer" thresholds (calibrated on tests/data, see docs/EVALUATION.md)
    min_dense_score: float = 0.30  # best cosine among the candidates
    min_lexical_overlap: float = 0.10  # IDF share of question terms in the best of the top 3 passages
    # Near misses (qa/no_answer.py): flagged when the question's specific terms (capitalised, with a digit,
    # or of IDF >= specific_min_idf) missing from all of the top no_answer_passages passages (titles
    # included) carry at least max_missing_specific of their IDF mass. Chosen on the dev splits
    # (bench/tune_no_answer.py): the most near misses flagged with at most 3% of the answerable questions of
    # each dev set (news, SQuAD, shipped corpus) flagged. That admits only the strict rule below, which
    # flags none of the 31 news dev near misses: the signals barely separate them (docs/EVALUATION.md).
    # Counting the unanswerable questions at scale too, 0.6 won on dev at the edge of the budget, then
    # flagged 3.45% of answerable SQuAD test questions: reverted to 0.8.
    specific_min_idf: float = 4.0
    max_missing_specific: float = 0.8
    no_answer_passages: int = 5
    # A question asking for a number, date, name or place is flagged when no sentence of the top passages
    # holding one covers at least this IDF share of its terms (0: off). With 5 passages read, 0.1 added one
    # shipped-corpus off-topic dev question (10 of 13) for 2 of 150 SQuAD dev questions; with 7 read (since
    # rerank_passages = 7) it adds no unanswerable dev question and flags 39 more of 2,000 answerable SQuAD dev
    # questions (bench/tune_no_answer.py), so it is off.
    min_typed_coverage: float = 0.0
    # The reader (qa/reader.py) reads the answering sentence of each of the first reader_check_passages
    # passages; the question is flagged when its best logit is below min_reader_logit (None: off). Chosen on
    # the dev splits (docs/EVALUATION.md): -0.75 over 2 passages flags 11 of 27 unanswerable news questions
    # at scale and 5 of 31 news near misses, with 1 of 89 answerable news and 41 of 2,000 answerable SQuAD
    # questions flagged (2.05 %; 17 without it). -0.6 flagged 2 more at scale for 2.45 % of SQuAD: left,
    # since 0.45 points was how far SQuAD's rate moved from dev to test before. About 3 ms a sentence; the
    # second is read only when the first does not reach the threshold (ask p50 +4 ms, docs/BENCHMARKS.md).
    min_reader_logit: float | None = -0.75
    reader_check_passages: int = 2
    # Of those passages, one whose article (as cited, and its whole text) lacks at least max_missing_names of
    # the IDF mass of the question's names (qa.no_answer.question_names) is not read (None: off): it cannot
    # answer a question about someone it never names. A question whose article is gone finds others about
    # nearby subjects, whose sentences the reader may take for answers. 0.7 was chosen on the dev splits (at
    # scale 11 -> 17 of 27, news near misses 5 -> 7 of 31, answerable news 1 -> 1 of 89, answerable SQuAD
    # 41 -> 56 of 2,000). Only articles of at least names_min_article_words words of text are checked: a short
    # document (a SQuAD paragraph, a news brief) is often an excerpt whose names live elsewhere, so its
    # silence says little. 150 was chosen on the dev splits too (the fewest words keeping answerable SQuAD dev
    # under 2.3 %: 56 -> 43 of 2,000; at scale 17 -> 15, near misses 7 -> 6). Test, once, by a rule written
    # before (docs/EVALUATION.md): at scale 6 -> 10 of 27, news near misses 5 -> 7 of 21, answerable news 0 ->
    # 2 of 109, answerable SQuAD 47 -> 57 of a fresh 2,000 (2.85 %; 69 unchecked by length).
    max_missing_names: float | None = 0.7
    names_min_article_words: int = 150

    # The page calls a passage's evidence "strong" from this cosine up (min_dense_score + 0.15): every
    # answering passage of the seed questions on the shipped corpus scored 0.46 or more, no-answer ones 0.10.
    strong_dense_score: float = 0.45

    def __post_init__(self) -> None:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise ConfigError(f"invalid setting: {what}")

        need(self.fusion in FUSIONS, f"fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        need(
            self.dense_norm in DENSE_NORMS,
            f"dense_norm must be one of {', '.join(DENSE_NORMS)}, got {self.dense_norm!r}",
        )
        need(self.highlight in HIGHLIGHTS, f"highlight must be one of {', '.join(HIGHLIGHTS)}, got {self.highlight!r}")
        need(0.0 <= self.dense_weight <= 1.0, f"dense_weight must be between 0 and 1, got {self.dense_weight}")
        need(self.max_model_tokens >= 16, f"max_model_tokens must be at least 16, got {self.max_model_tokens}")
        need(
            8 <= self.chunk_tokens <= self.max_model_tokens,
            f"chunk_tokens must be between 8 and max_model_tokens ({self.max_model_tokens}), got {self.chunk_tokens}",
        )
        need(self.overlap_sentences >= 0, f"overlap_sentences must be 0 or more, got {self.overlap_sentences}")
        need(self.embed_batch >= 1, f"embed_batch must be at least 1, got {self.embed_batch}")
        need(self.hnsw_threshold >= 0 and self.hnsw_m >= 2, "hnsw_threshold must be >= 0 and hnsw_m >= 2")
        need(
            self.sentence_scorer in SCORERS,
            f"sentence_scorer must be one of {', '.join(SCORERS)}, got {self.sentence_scorer!r}",
        )
        need(
            self.rerank_passages >= 0 and self.rerank_embed_sentences >= 0,
            "rerank_passages and rerank_embed_sentences must be 0 or more",
        )
        need(
            self.reader_sentences >= 0,
            f"reader_sentences must be 0 or more, got {self.reader_sentences}",
        )
        need(
            all(
                w >= 0
                for w in (
                    self.sentence_cosine_weight,
                    self.sentence_coverage_weight,
                    self.sentence_cue_weight,
                    self.sentence_passage_weight,
                    self.sentence_reader_weight,
                )
            ),
            "sentence weights must be 0 or more",
        )
        need(
            0.0 <= self.sentence_title_weight <= 1.0,
            f"sentence_title_weight must be between 0 and 1, got {self.sentence_title_weight}",
        )
        need(
            0.0 <= self.sentence_local_weight <= 1.0,
            f"sentence_local_weight must be between 0 and 1, got {self.sentence_local_weight}",
        )
        need(self.specific_min_idf >= 0, f"specific_min_idf must be 0 or more, got {self.specific_min_idf}")
        need(
            0.0 < self.max_missing_specific <= 1.0,
            f"max_missing_specific must be above 0 and at most 1, got {self.max_missing_specific}",
        )
        need(
            0.0 <= self.min_typed_coverage <= 1.0,
            f"min_typed_coverage must be between 0 and 1, got {self.min_typed_coverage}",
        )
        need(
            self.min_reader_logit is None or isinstance(self.min_reader_logit, (int, float)),
            f"min_reader_logit must be a number or None (off), got {self.min_reader_logit!r}",
        )
        need(
            self.max_missing_names is None or 0.0 < self.max_missing_names <= 1.0,
            f"max_missing_names must be above 0 and at most 1, or None (off), got {self.max_missing_names!r}",
        )
        need(
            self.names_min_article_words >= 0,
            f"names_min_article_words must be 0 or more, got {self.names_min_article_words}",
        )
        need(
            self.reader_check_passages >= 1,
            f"reader_check_passages must be at least 1, got {self.reader_check_passages}",
        )
        need(self.no_answer_passages >= 1, f"no_answer_passages must be at least 1, got {self.no_answer_passages}")
        need(self.exact_filter_rows >= 0, f"exact_filter_rows must be 0 or more, got {self.exact_filter_rows}")
        need(self.hnsw_ef_construction >= 1 and self.hnsw_ef_search >= 1, "HNSW efConstruction/efSearch must be >= 1")
        need(self.candidates >= 1 and self.rrf_k >= 1, "candidates and rrf_k must be at least 1")
        need(self.bm25_k1 >= 0 and 0.0 <= self.bm25_b <= 1.0, "bm25_k1 must be >= 0 and bm25_b between 0 and 1")
        need(0.0 <= self.min_dense_score <= 1.0, f"min_dense_score must be between 0 and 1, got {self.min_dense_score}")
        need(
            0.0 <= self.min_lexical_overlap <= 1.0,
            f"min_lexical_overlap must be between 0 and 1, got {self.min_lexical_overlap}",
        )

    def chunking_params(self) -> dict:
        """The settings that shape chunks: a change forces re-chunking."""
        return {
            "chunk_tokens": self.chunk_tokens,
            "overlap_sentences": self.overlap_sentences,
            "max_model_tokens": self.max_model_tokens,
        }

    def to_dict(self) -> dict:
        return asdict(self)

    def with_settings(self, settings: Iterable[str], *, builds: bool = True) -> Config:
        """This config with NAME=VALUE settings applied, as the command line's --set gives them (a value
        of "off" or "none" turns off a setting that can be off); checked like any other Config.
        builds=False: for a command that only answers, a setting that shapes the index is refused
        rather than silently having no effect."""
        kinds = {f.name: f.type for f in fields(self)}
        changes = {}
        for item in settings:
            name, sep, value = item.partition("=")
            name, value = name.strip().replace("-", "_"), value.strip()
            if not sep or not name:
                raise ConfigError(f"a setting is NAME=VALUE, got {item!r}")
            if name not in kinds:
                near = difflib.get_close_matches(name, kinds, n=1)
                hint = f"; did you mean {near[0]}?" if near else " (the names are Config's fields)"
                raise ConfigError(f"no setting named {name!r}{hint}")
            if not builds and name in INDEX_SETTINGS:
                raise ConfigError(
                    f"{name} shapes the index, so it is set where an index is built (qa eval --corpus, or "
                    "qa.build(..., config=...) from Python), not here"
                )
            changes[name] = _setting_value(name, value, kinds[name])
        return replace(self, **changes)


def _setting_value(name: str, value: str, kind: str):
    """value read as the type of the field (kind: its annotation, such as "float | None")."""
    if value.casefold() in ("off", "none"):
        if "None" in kind:
            return None
        raise ConfigError(f"{name} cannot be off; give it a value")
    base = kind.replace("| None", "").strip()
    convert = {"int": int, "float": float, "str": str}[base]
    try:
        return convert(value)
    except ValueError:
        raise ConfigError(f"{name} takes a {'whole number' if base == 'int' else 'number'}, got {value!r}") from None
