"""Answer a question with ranked, cited passages: dense + lexical search, fused.

The retriever composes an Index (data) and an Embedder (model); neither owns
the other, so tests can pass a fake embedder and the UI can share one model.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import manifest as manifest_module
from . import store
from .config import Config
from .dates import date_range, date_words
from .dense import search_dense
from .domain import Answer, Passage
from .embed import Embedder, load_embedder
from .errors import IndexFormatError, QuestionError
from .highlight import Highlighter
from .index import Index
from .manifest import manifest_stamp
from .no_answer import Verdict, article_words, judge, names_missing_share, question_names
from .passages import Span, select_spans
from .sentences import Ranked, make_scorer, rank_by_sentences

log = logging.getLogger("qa.retriever")
MODES = ("hybrid", "dense", "lexical")
SORTS = ("relevance", "newest")
RECENT_QUESTIONS = 64  # question vectors remembered (Retriever.question_vector)
MAX_QUESTION_CHARS = 2000  # the model sees ~250 word pieces; more is noise for BM25 too
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass
class Candidates:
    """The dense and lexical top-n of one question, before fusion (rows are chunk rows)."""

    dense_rows: np.ndarray | None = None
    dense_scores: np.ndarray | None = None  # cosine
    lex_rows: np.ndarray | None = None
    lex_scores: np.ndarray | None = None  # BM25
    lex_dense: np.ndarray | None = None  # cosine of each lexical candidate (hybrid only)
    question_vector: np.ndarray | None = None

    @property
    def top_cosine(self) -> float | None:
        """The best cosine among all candidates, or None if nothing was embedded."""
        found = [float(a.max()) for a in (self.dense_scores, self.lex_dense) if a is not None and len(a)]
        return max(found) if found else None


class Retriever:
    def __init__(self, index: Index, embedder: Embedder | None = None, config: Config | None = None):
        self.index = index
        self._embedder = embedder
        self._given = embedder is not None  # a caller's embedder is checked against the index, never swapped
        self.config = config or Config()
        self._lock = threading.Lock()
        self._sentence_scorer = None  # made on first use: a reader scorer loads a model
        self._no_answer_reader: object = _NOT_LOADED  # the reader of the no-answer check, loaded on first use
        self._recent: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()  # see question_vector
        self._last_search: tuple[Index, tuple, Candidates] | None = None  # see _search

    @classmethod
    def load(
        cls, index_dir: str | Path = "index", embedder: Embedder | None = None, config: Config | None = None
    ) -> Retriever:
        return cls(Index.open(index_dir), embedder, config)

    @property
    def embedder(self) -> Embedder:
        """The model the index was built with: a question's vector must be comparable with the index's."""
        wanted = self.index.model_id
        if self._embedder is None or (not self._given and self._embedder.model_id != wanted):
            self._embedder = load_embedder(wanted)
        if self._embedder.model_id != wanted:
            raise IndexFormatError(
                f"the index in {self.index.dir} was built with model {wanted!r}, but the embedder given is "
                f"{self._embedder.model_id!r}; pass an embedder of the same model, or {store.FIX}"
            )
        return self._embedder

    def question_vector(self, question: str) -> np.ndarray:
        """The question's vector by the index's model, remembered for the last RECENT_QUESTIONS questions.

        One question on the page is embedded for its answer, its timeline (matching_articles) and
        its evidence bars: the model runs once for the three.
        """
        embedder = self.embedder
        key = (embedder.model_id, question)
        with self._lock:
            vector = self._recent.get(key)
            if vector is not None:
                self._recent.move_to_end(key)
                return vector
        vector = embedder.embed([question])[0]
        with self._lock:
            self._recent[key] = vector
            while len(self._recent) > RECENT_QUESTIONS:
                self._recent.popitem(last=False)
        return vector

    def refresh(self) -> bool:
        """Switch to a newer generation if a build committed one. Cheap: one stat() unless manifest.json changed."""
        stamp = manifest_stamp(self.index.dir)
        if stamp is not None and stamp == self.index.stamp:
            return False
        try:
            current = manifest_module.read_manifest(self.index.dir).generation
        except Exception:  # noqa: BLE001 - mid-swap or broken: keep serving the loaded index
            return False
        if current == self.index.generation:
            self.index.stamp = stamp  # same generation rewritten (or stamped late): no need to read it again
            return False
        with self._lock:
            if current != self.index.generation:
                self.index = Index.open(self.index.dir)
                return True
        return False

    def ask(
        self,
        question: str,
        k: int = 5,
        *,
        mode: str = "hybrid",
        sources: list[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        diversity: float | None = None,
        auto_refresh: bool = True,
        sort: str = "relevance",
    ) -> Answer:
        """The k best passages for question, each with the sentence most likely to answer it.

        since/until take what qa.dates.parse_when reads ('2021-06-03', '2021', 'last month',
        '7 days ago'); sort="newest" orders the k best by date, newest first (ranks stay the relevance ranks).
        """
        if mode not in MODES:
            raise QuestionError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if sort not in SORTS:
            raise QuestionError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
        if not isinstance(k, int) or k < 1:
            raise QuestionError(f"k must be a positive whole number, got {k!r}")
        if isinstance(sources, str):
            sources = [sources]
        if sources is not None and not (
            isinstance(sources, (list, tuple, set, frozenset)) and all(isinstance(s, str) for s in sources)
        ):
            raise QuestionError("sources must be a list of source names")
        if diversity is not None and not (isinstance(diversity, (int, float)) and 0 <= diversity <= 1):
            raise QuestionError(f"diversity must be a number from 0 to 1, got {diversity!r}")
        if auto_refresh:
            self.refresh()
        index = self.index  # one generation for the whole question
        question, warnings = self._clean_question(question)
        cands = self._search(index, question, mode, max(self.config.candidates, k * 4), sources, since, until)
        ranked = fuse(cands, self.config, mode)
        if diversity:
            ranked = mmr(ranked, index.vector_rows, diversity, k * 3)
        highlighter = self._highlighter(index, question, cands)
        spans = select_spans(index, ranked, max(k, self._head, self.config.no_answer_passages))
        best = self._rank_sentences(question, highlighter, spans, cands)
        verdict = self._judge(index, question, highlighter, best, cands)
        passages = self._passages(index, highlighter, best, k)
        return Answer(question, sort_passages(passages, sort), verdict.no_answer, verdict.reason, warnings)

    def matching_articles(
        self,
        question: str,
        *,
        sources: list[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        pool: int | None = None,
    ) -> list[str]:
        """The ids of the articles about question, closest first: those passing the filters with a passage
        among the `pool` best by meaning or by words (default: config.candidates each) whose cosine to the
        question reaches config.min_dense_score (the calibrated "related at all" line).

        The k cited passages are only the head of this: a timeline of a story counts these.
        """
        index = self.index
        question, _ = self._clean_question(question, quiet=True)
        pool = pool or self.config.candidates  # ask's pool for k <= candidates / 4: the page's ask is reused
        cands = self._search(index, question, "hybrid", pool, sources, since, until)
        if cands.dense_rows is None:
            return []
        rows = np.concatenate([cands.dense_rows, cands.lex_rows])
        cosine = np.concatenate([cands.dense_scores, cands.lex_dense])
        keep = cosine >= self.config.min_dense_score
        rows, cosine = rows[keep], cosine[keep]
        found: dict[str, None] = {}
        for row in rows[np.argsort(-cosine, kind="stable")]:
            found.setdefault(index.article_ids[int(index.chunk_article[row])], None)
        return list(found)

    def rank(self, question: str, n: int | None = None, *, mode: str = "hybrid") -> list[tuple[int, float]]:
        """The raw fused ranking of chunk rows, best first (for evaluation: no passages, no highlighting).

        n chunks are fetched from each ranking (default: config.candidates), so
        a larger n only adds candidates: the scores of the head do not change.
        """
        if mode not in MODES:
            raise QuestionError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        question, _ = self._clean_question(question, quiet=True)
        cands = self._candidates(self.index, question, mode, n or self.config.candidates, None)
        return fuse(cands, self.config, mode)

    def candidates(self, question: str, n: int, *, mode: str = "hybrid") -> Candidates:
        """Both rankings before fusion (for tuning the fusion on development data)."""
        question, _ = self._clean_question(question, quiet=True)
        return self._candidates(self.index, question, mode, n, None)

    def _search(self, index: Index, question: str, mode: str, pool: int, sources, since, until) -> Candidates:
        """_candidates under the filters, remembering the last search: the page asks, then counts the
        articles about the same question (matching_articles), and both read the same two rankings."""
        key = (question, mode, pool, tuple(sources) if sources else None, since, until)
        last = self._last_search
        if last is not None and last[0] is index and last[1] == key:
            return last[2]
        allowed = index.allowed_rows(sources, *date_range(since, until))
        cands = self._candidates(index, question, mode, pool, allowed)
        self._last_search = (index, key, cands)
        return cands

    def _candidates(self, index: Index, question: str, mode: str, pool: int, allowed) -> Candidates:
        cands = Candidates()
        if not len(index):
            return cands
        if mode in ("dense", "hybrid"):
            qvec = cands.question_vector = self.question_vector(question)
            cands.dense_rows, cands.dense_scores = search_dense(
                index.dense, index.dense_spec, qvec, pool, allowed, index.vectors, self.config.exact_filter_rows
            )
        if mode in ("lexical", "hybrid"):
            mask = None
            if allowed is not None:
                mask = np.zeros(len(index), dtype=np.float32)
                mask[allowed] = 1.0
            cands.lex_rows, cands.lex_scores = index.lexical.search(question, pool, mask)
        if mode == "hybrid":
            # Exact cosine for lexical candidates the dense search did not return:
            # fusion then never has to guess a missing dense score.
            by_row = np.argsort(cands.lex_rows)  # sorted rows read the memory map in order
            cos = index.vector_rows(cands.lex_rows[by_row]) @ qvec
            cands.lex_dense = np.empty_like(cos)
            cands.lex_dense[by_row] = cos
        return cands

    def _clean_question(self, question: str, quiet: bool = False) -> tuple[str, list[str]]:
        if not isinstance(question, str):
            raise QuestionError("the question must be text")
        warnings: list[str] = []
        # Lone surrogates (possible from JSON clients) break the tokenizers: make them U+FFFD.
        question = question.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        question = _CONTROL.sub(" ", question).strip()
        if not question:
            raise QuestionError("the question is empty: type a question")
        if len(question) > MAX_QUESTION_CHARS:
            question = question[:MAX_QUESTION_CHARS]
            warnings.append(f"the question was cut to its first {MAX_QUESTION_CHARS} characters")
        window = self.index.manifest.model.max_tokens  # the index's model's (a local model's may be narrower)
        limit = min(self.config.max_model_tokens, window or self.config.max_model_tokens) - 2
        if self._embedder is not None or len(question) > limit:
            tokens = self._count(question)
            if tokens > limit:
                warnings.append(f"the question has {tokens} word pieces; the model reads only the first {limit}")
        for w in warnings if not quiet else ():
            log.warning(w)
        return question, warnings

    def _count(self, text: str) -> int:
        from .embed import word_piece_counter

        if self._embedder is not None:
            return self._embedder.count([text])[0]
        return word_piece_counter(self.index.model_id).count([text])[0]

    def _highlighter(self, index: Index, question: str, cands: Candidates) -> Highlighter:
        method = self.config.highlight
        if method == "lexical":
            return Highlighter(question, index.idf())
        if cands.question_vector is None:
            cands.question_vector = self.question_vector(question)
        return Highlighter(question, index.idf(), method, self.embedder.embed, cands.question_vector)

    @property
    def _head(self) -> int:
        return self.config.rerank_passages

    def _scorer(self):
        if self._sentence_scorer is None:
            self._sentence_scorer = make_scorer(self.config)
        return self._sentence_scorer

    def _rank_sentences(self, question: str, highlighter: Highlighter, spans: list[Span], cands: Candidates) -> Ranked:
        """The head of the passages reordered by their best sentences (qa/sentences.py), with those sentences."""
        if not self._head or not spans:
            return Ranked(spans, [None] * len(spans))
        qvec = cands.question_vector
        embed = self.embedder.embed if qvec is not None else None
        return rank_by_sentences(question, spans, highlighter, self._scorer(), self.config, embed, qvec)

    def _passages(self, index: Index, highlighter: Highlighter, ranked: Ranked, k: int) -> list[Passage]:
        """The k first passages, each with its answering sentence (the lexical best beyond the reranked head)."""
        passages = []
        for rank, (span, hl) in enumerate(zip(ranked.spans[:k], ranked.highlights), 1):
            hl = _answering_sentence(highlighter, span, hl)
            passages.append(
                Passage(
                    rank=rank,
                    score=span.score,
                    text=span.text,
                    article_id=span.article_id,
                    title=span.entry.title or span.article_id,
                    source=span.entry.source,
                    date=span.entry.date,
                    start=span.start,
                    end=span.end,
                    highlight=hl,
                    place=index.place(span.article_id),
                    also_in=span.also_in,
                )
            )
        return passages

    def _judge(
        self, index: Index, question: str, highlighter: Highlighter, ranked: Ranked, cands: Candidates
    ) -> Verdict:
        """Too-weak evidence: flag it (passages are still returned)."""
        spans = ranked.spans
        # A passage is read with what its citation shows (title, source, date), so a question that names
        # the article's date or newspaper is not taken for one about something absent.
        cited = [_as_cited(s) for s in spans[: max(3, self.config.no_answer_passages)]]
        coverage = max((highlighter.coverage(text) for text in cited[:3]), default=0.0)
        texts = cited[: self.config.no_answer_passages]
        reader = self._reader_for_no_answer()
        head = list(zip(spans, ranked.highlights))[: self.config.reader_check_passages]
        readable, unnamed = self._named_passages(index, question, head) if reader is not None else (head, ())

        def reader_logits():
            # One sentence a call, as judge asks for them: it stops at the first that reads as an answer,
            # and the int8 graph quantises per batch, so a score never depends on batch-mates.
            for span, hl in readable:
                sentence = _text_of(span, _answering_sentence(highlighter, span, hl))
                if sentence.strip():
                    yield float(reader.score(question, [sentence])[0])

        return judge(
            question,
            index.idf(),
            texts,
            cands.top_cosine,
            coverage,
            self.config,
            ranked.typed_coverage,
            reader_logits() if reader is not None else None,
            unnamed,
        )

    def _named_passages(self, index: Index, question: str, head: list) -> tuple[list, tuple[str, ...]]:
        """The passages of head whose articles name what the question names (the others are not read by the
        reader), and the names the others' articles lack (Config.max_missing_names)."""
        limit = self.config.max_missing_names
        names = question_names(question, index.idf()) if limit is not None else []
        if not names:
            return head, ()
        readable, lacking = [], {}
        for span, hl in head:
            text = index.article(span.article_id).text
            if len(text.split()) < self.config.names_min_article_words:
                readable.append((span, hl))  # too short to be sure what it leaves out
                continue
            entry = span.entry  # read as its citation shows it, as the other checks do (_as_cited)
            words = article_words(entry.title, entry.source, date_words(entry.date), text)
            share, missing = names_missing_share(names, words)
            if share >= limit:
                lacking.update((t.word, None) for t in missing)
            else:
                readable.append((span, hl))
        return readable, tuple(lacking)

    def _reader_for_no_answer(self):
        """The sentence reader when the no-answer check uses it (loaded once), else None."""
        if self.config.min_reader_logit is None:
            return None
        if self._no_answer_reader is _NOT_LOADED:
            from .reader import reader_or_none

            self._no_answer_reader = reader_or_none("'no answer' is decided")
        return self._no_answer_reader


_NOT_LOADED = object()


def _answering_sentence(highlighter: Highlighter, span: Span, hl: tuple[int, int] | None) -> tuple[int, int]:
    """The answering sentence the ranking chose (article offsets), or the lexical best when it chose none."""
    if hl is not None:
        return hl
    offsets = [(a - span.start, b - span.start) for a, b in span.sentences]
    return highlighter.best(span.text, span.start, offsets)


def _text_of(span: Span, offsets: tuple[int, int]) -> str:
    return span.text[offsets[0] - span.start : offsets[1] - span.start]


def _as_cited(span: Span) -> str:
    entry = span.entry
    return "\n".join(x for x in (entry.title, entry.source, date_words(entry.date), span.text) if x)


def sort_passages(passages: list[Passage], sort: str = "relevance") -> list[Passage]:
    """Ranked passages in the order asked for: "newest" puts the latest dates first, undated ones last."""
    if sort != "newest":
        return passages
    return sorted(passages, key=lambda p: p.date or "", reverse=True)  # stable: ties keep their rank order


def _minmax(scores: np.ndarray) -> np.ndarray:
    if len(scores) == 0:
        return scores
    lo, hi = float(scores.min()), float(scores.max())
    if hi - lo < 1e-9:
        return np.ones_like(scores)
    return (scores - lo) / (hi - lo)


def _normalise(scores: np.ndarray, how: str) -> np.ndarray:
    """Scale one ranking's scores for a convex combination."""
    if how == "minmax":
        return _minmax(scores)
    if how == "max":
        top = float(scores.max()) if len(scores) else 0.0
        return scores / top if top > 0 else scores
    return scores  # "raw": cosine as is


def fuse(cands: Candidates, config: Config, mode: str) -> list[tuple[int, float]]:
    """One ranking of chunk rows from the dense and lexical ones, best first."""
    if mode == "dense" or cands.lex_rows is None:
        return _pairs(cands.dense_rows, cands.dense_scores)
    if mode == "lexical" or cands.dense_rows is None:
        return _pairs(cands.lex_rows, cands.lex_scores)
    fused: dict[int, float] = {}
    if config.fusion == "rrf":
        for rows in (cands.dense_rows, cands.lex_rows):
            for rank, row in enumerate(rows.tolist()):
                fused[row] = fused.get(row, 0.0) + 1.0 / (config.rrf_k + rank + 1)
    elif config.fusion == "convex":
        # Dense: every candidate has its exact cosine (lexical ones were scored too).
        dense = dict(zip(cands.lex_rows.tolist(), cands.lex_dense.tolist()))
        dense.update(zip(cands.dense_rows.tolist(), cands.dense_scores.tolist()))
        d_rows = np.fromiter(dense.keys(), dtype=np.int64, count=len(dense))
        d_norm = _normalise(np.fromiter(dense.values(), dtype=np.float32, count=len(dense)), config.dense_norm)
        w = config.dense_weight
        fused = dict(zip(d_rows.tolist(), (w * d_norm).tolist()))
        # Lexical: BM25 over the best BM25 score; a row outside the lexical top-n scores 0.
        top = float(cands.lex_scores.max()) if len(cands.lex_scores) else 0.0
        if top > 0:
            for row, sc in zip(cands.lex_rows.tolist(), (cands.lex_scores / top).tolist()):
                fused[row] = fused.get(row, 0.0) + (1 - w) * sc
    else:
        raise ValueError(f"unknown fusion {config.fusion!r}: use 'convex' or 'rrf'")
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def _pairs(rows, scores) -> list[tuple[int, float]]:
    return list(zip(rows.tolist(), scores.tolist())) if rows is not None else []


def mmr(
    ranked: list[tuple[int, float]], vector_rows: Callable[[list[int]], np.ndarray], diversity: float, limit: int
) -> list[tuple[int, float]]:
    """Maximal marginal relevance: trade score for novelty (diversity in 0..1); vector_rows as Index.vector_rows."""
    if not ranked:
        return ranked
    pool = ranked[: max(limit, 1) * 2]
    vecs = vector_rows([r for r, _ in pool])
    rel = _minmax(np.array([s for _, s in pool], dtype=np.float32))
    chosen: list[int] = []
    left = list(range(len(pool)))
    while left and len(chosen) < limit:
        if chosen:
            sim = (vecs[left] @ vecs[chosen].T).max(axis=1)
        else:
            sim = np.zeros(len(left))
        best = int(np.argmax((1 - diversity) * rel[left] - diversity * sim))
        chosen.append(left.pop(best))
    return [pool[i] for i in chosen] + [p for i, p in enumerate(pool) if i not in set(chosen)]
