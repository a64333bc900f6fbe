"""Score candidate answering sentences: the features answer-sentence selection needs, and one seam.

The sentence sharing the most words with a question is usually the one restating its topic,
not the one holding the fact asked for (issue 13). A sentence that answers tends to be close
in meaning to the question (MiniLM was trained on question/answer-sentence pairs), to cover
its rarer terms, and to hold something of the kind asked for (a number for "how many", a
date for "when", a name for "who", a place for "where") that the question does not already
hold. `SentenceScorer` is the seam: `FeatureScorer` combines those features with weights
chosen on dev questions; `ReaderScorer` adds a trained reader (a cross-encoder,
`qa.reader.load_reader()`, built apart) when `Config.sentence_scorer == "reader"`.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .config import Config
from .lexical import terms

log = logging.getLogger("qa.sentences")

ANSWER_TYPES = ("number", "date", "person", "place")

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty"
    "|hundred|hundreds|thousand|thousands|million|millions|billion|billions|trillion|dozen|half|quarter|third"
)
# A quantity asked for by its noun ("what share", "what GDP growth rate", "what was the population"):
# up to two qualifiers may stand between "what" and the noun, but not a verb, a preposition or a kind.
_QUANTITY = (
    "percentage|percent|proportion|share|fraction|number|amount|sum|price|rate|figure|size|total|value|level|"
    "margin|score|stake|ratio|volume|majority|damages|salary|fee|cost|profit|loss|revenue|sales|budget|debt|"
    "deficit|surplus|capacity|population|temperature|distance|speed|weight|age|height|length|dividend|earnings|"
    "output|turnover|valuation|payment|premium|yield|inflation|unemployment"
)
_NOT_QUALIFIER = (
    r"(is|was|are|were|be|been|did|does|do|has|had|have|can|could|will|would|should|may|might|must|causes?|"
    r"in|of|to|for|by|on|at|from|with|type|kind|sort|form)\b"
)
_TYPE_OF_QUESTION = [
    (
        "number",
        re.compile(
            r"\b(how (many|much|long|old|far|big|large|high|tall|often|fast|heavy)|by how|"
            r"how \w+ (was|were|is|are|did|does|will)|"
            rf"what ((is|was|are|were) )?(the )?((?!{_NOT_QUALIFIER})[\w-]+ ){{0,2}}({_QUANTITY}))\b",
            re.I,
        ),
    ),
    ("date", re.compile(r"\b(when|what (year|date|day|month|time)|which (year|date|day|month)|since when)\b", re.I)),
    ("person", re.compile(r"\b(who|whom|whose|which (person|man|woman|player|minister|executive|chairman))\b", re.I)),
    (
        "place",
        re.compile(r"\b(where|which (country|city|town|state|region|nation|port|site)|what (country|city))\b", re.I),
    ),
]
_NUMBER = re.compile(rf"(\d+(?:[.,]\d+)*(?:\s?%|\s*(?:bn|mln|billion|million|pct|m)\b)?|\b({_NUMBER_WORDS})\b)", re.I)
_DATE = re.compile(
    rf"\b(({_MONTHS})\.?\s+\d{{1,2}}|\d{{1,2}}\s+({_MONTHS})\b|({_MONTHS})\b|(1[89]|20)\d\d|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tomorrow|"
    r"last (week|month|year)|next (week|month|year)|\d{1,2}(st|nd|rd|th)\b)",
    re.I,
)
_NAME = re.compile(r"\b(Mr|Mrs|Ms|Dr|Sir|Lord|Lady)\.?\s+[A-Z]|\b[A-Z][a-z]+(?:[- ][A-Z][a-z]+)+\b")
_PLACE = re.compile(r"\b(in|at|from|near|to|into|across|outside)\s+(the\s+)?[A-Z][a-z]+")


def answer_type(question: str) -> str | None:
    """The kind of answer the question asks for, when its wording says (else None)."""
    for kind, pattern in _TYPE_OF_QUESTION:
        if pattern.search(question):
            return kind
    return None


def _mentions(pattern: re.Pattern, text: str) -> set[str]:
    return {m.group(0).casefold().strip() for m in pattern.finditer(text)}


def type_cue(question: str, kind: str | None, sentence: str) -> float:
    """1 when sentence holds something of the kind asked for that the question does not hold, else 0."""
    if kind is None:
        return 0.0
    pattern = {"number": _NUMBER, "date": _DATE, "person": _NAME, "place": _PLACE}[kind]
    found = _mentions(pattern, sentence)
    if kind == "place":  # compare the place words, not the preposition
        found = {m.split()[-1] for m in found}
        asked = {m.split()[-1] for m in _mentions(pattern, question)} | set(question.casefold().split())
    else:
        asked = _mentions(pattern, question)
    return 1.0 if found - asked else 0.0


@dataclass
class SentenceFeatures:
    """Per candidate sentence: what the feature scorer combines (arrays of one length)."""

    # IDF-weighted share of the question's terms in the sentence (0..1), mixed with the share weighing
    # each term's rarity among its article's sentences (local_coverage, Config.sentence_local_weight)
    coverage: np.ndarray
    cue: np.ndarray  # 1 if it holds something of the kind asked for, new to the question
    cosine: np.ndarray  # cosine to the question (0 where the sentence was not embedded)
    passage: np.ndarray  # its passage's fused score over the best passage's (0..1)


class SentenceScorer(Protocol):
    """Scores candidate sentences for one question: higher is more likely to answer it."""

    def score(self, question: str, sentences: list[str], features: SentenceFeatures) -> np.ndarray: ...


@dataclass(frozen=True)
class FeatureScorer:
    """A weighted sum of the features (weights from Config, chosen on dev questions)."""

    cosine: float
    coverage: float
    cue: float
    passage: float

    @classmethod
    def from_config(cls, config: Config) -> FeatureScorer:
        return cls(
            config.sentence_cosine_weight,
            config.sentence_coverage_weight,
            config.sentence_cue_weight,
            config.sentence_passage_weight,
        )

    def score(self, question: str, sentences: list[str], features: SentenceFeatures) -> np.ndarray:
        return (
            self.cosine * features.cosine
            + self.coverage * features.coverage
            + self.cue * features.cue
            + self.passage * features.passage
        ).astype(np.float32)


class ReaderScorer:
    """The features, plus a trained reader's judgement of the few sentences they rank best.

    The reader (SentenceReader.score(question, sentences), a logit) reads each pair whole, so
    it costs about 3 ms a sentence on one core: only the `budget` best sentences by the features
    are read, in one call, and each gets weight * sigmoid(logit) (0..weight) added; the others
    keep their feature score. sigmoid keeps the reader on the features' scale (0..~2).
    """

    def __init__(self, reader, features: FeatureScorer, weight: float = 1.0, budget: int = 4):
        self.reader = reader
        self.features = features
        self.weight = weight
        self.budget = budget

    def score(self, question: str, sentences: list[str], features: SentenceFeatures) -> np.ndarray:
        scores = self.features.score(question, sentences, features)
        if not sentences or self.budget <= 0 or self.weight == 0:
            return scores
        chosen = np.argsort(-scores, kind="stable")[: self.budget]
        logits = np.asarray(self.reader.score(question, [sentences[j] for j in chosen]), dtype=np.float32)
        scores[chosen] += self.weight / (1.0 + np.exp(-logits))
        return scores


def make_scorer(config: Config) -> SentenceScorer:
    """The sentence scorer the configuration names.

    With "reader", an installation without the reader's weights (or with broken ones) answers
    with the features alone and says so in the log, rather than failing every question.
    """
    features = FeatureScorer.from_config(config)
    if config.sentence_scorer == "features":
        return features
    from .reader import reader_or_none

    reader = reader_or_none("answering sentences are chosen")
    if reader is None:
        return features
    return ReaderScorer(reader, features, config.sentence_reader_weight, config.reader_sentences)


@dataclass
class Ranked:
    """The top passages reordered by their best sentence, and that sentence of each (article coordinates)."""

    spans: list  # passages.Span, best first
    highlights: list[tuple[int, int] | None]  # None: not scored here (beyond the reranked head)
    # For a question whose answer type is known: the best coverage of its terms by a sentence that holds
    # something of that type (0 if none does); None otherwise. Low for near misses (qa/no_answer.py).
    typed_coverage: float | None = None


def local_coverage(highlighter, articles: list[str], texts: list[str]) -> np.ndarray:
    """Each sentence's share of the question's terms, each term weighing its IDF times its rarity among
    the sentences of the same article (articles[j] names text j's): BM25's IDF over those sentences.

    Why: every sentence of an article shares its topic, so a question term found in most of them
    (the topic) cannot tell which one answers; a term found in few of them (the asked-for detail:
    "chairman", "investment banking") can. Corpus IDF alone ranks the topic's names highest.
    """
    out = np.zeros(len(texts), dtype=np.float32)
    groups: dict[str, list[int]] = {}
    for j, article in enumerate(articles):
        groups.setdefault(article, []).append(j)
    for members in groups.values():
        found = [highlighter.present(texts[j]) for j in members]
        n = len(members)
        holding = Counter(term for f in found for term in f)
        weights = {
            term: idf * math.log(1.0 + (n - holding[term] + 0.5) / (holding[term] + 0.5))
            for term, idf in highlighter.weights.items()
        }
        total = sum(weights.values())
        if total > 0:
            for j, f in zip(members, found):
                out[j] = sum(weights[t] for t in f) / total
    return out


def _within_article(highlighter, head: list, items: list, texts: list[str], coverage, scores, config: Config, local):
    """The scores that choose a passage's answering sentence among its own: coverage counts the
    question terms its article's title holds at config.sentence_title_weight of their IDF.

    Every sentence of an article shares its title's topic, so the title's terms tell which article
    answers (passage order keeps them whole) but not which of its sentences does: the sentence
    restating them is the topical one, the fact asked for is in another (issue 13).
    """
    weight = config.sentence_title_weight
    if weight == 1.0 or config.sentence_coverage_weight == 0:
        return scores
    titles = [frozenset(terms(span.entry.title or "")) for span in head]
    muted = np.array(
        [highlighter.coverage(text, titles[i], weight) for (i, _, _), text in zip(items, texts)], dtype=np.float32
    )
    mix = config.sentence_local_weight
    return scores + config.sentence_coverage_weight * ((1.0 - mix) * muted + mix * local - coverage)


def rank_by_sentences(
    question: str,
    spans: list,
    highlighter,
    scorer: SentenceScorer,
    config: Config,
    embed=None,
    question_vector: np.ndarray | None = None,
) -> Ranked:
    """Reorder the first config.rerank_passages spans by the score of their best sentence.

    Only the config.rerank_embed_sentences sentences with the best lexical score (coverage +
    cue) are embedded, in one model call: the cost of a question stays one small batch.
    The others get the lowest cosine of those embedded.
    """
    head, tail = spans[: config.rerank_passages], spans[config.rerank_passages :]
    items = [(i, a, b) for i, span in enumerate(head) for a, b in span.sentences]
    if not items:
        return Ranked(spans, [None] * len(spans), 0.0 if answer_type(question) else None)
    texts = [head[i].text[a - head[i].start : b - head[i].start] for i, a, b in items]
    kind = answer_type(question)
    plain = highlighter.scores(texts)
    mix = config.sentence_local_weight
    local = local_coverage(highlighter, [head[i].article_id for i, _, _ in items], texts) if mix else plain
    coverage = (1.0 - mix) * plain + mix * local
    cue = np.array([type_cue(question, kind, t) for t in texts], dtype=np.float32)
    best_score = max(span.score for span in head) or 1.0
    passage = np.array([head[i].score / best_score for i, _, _ in items], dtype=np.float32)
    cosine = np.zeros(len(texts), dtype=np.float32)
    budget = config.rerank_embed_sentences
    if embed is not None and question_vector is not None and budget > 0 and config.sentence_cosine_weight > 0:
        lexical = coverage + config.sentence_cue_weight * cue
        chosen = np.argsort(-lexical, kind="stable")[:budget]
        cosine[:] = -1.0
        cosine[chosen] = np.asarray(embed([texts[j] for j in chosen]), dtype=np.float32) @ question_vector
        cosine[cosine == -1.0] = cosine[chosen].min()
    scores = np.asarray(scorer.score(question, texts, SentenceFeatures(coverage, cue, cosine, passage)), np.float32)
    within = _within_article(highlighter, head, items, texts, coverage, scores, config, local)
    best: dict[int, int] = {}  # passage -> its best sentence by score (ranks the passage)
    pick: dict[int, int] = {}  # passage -> the sentence it shows (the best among its article's sentences)
    for j, (i, _, _) in enumerate(items):  # ties: the earlier sentence
        if i not in best or scores[j] > scores[best[i]]:
            best[i] = j
        if i not in pick or within[j] > within[pick[i]]:
            pick[i] = j
    order = sorted(best, key=lambda i: (-float(scores[best[i]]), i))
    order += [i for i in range(len(head)) if i not in best]
    highlights = [(items[pick[i]][1], items[pick[i]][2]) if i in pick else None for i in order]
    typed = float((plain * cue).max()) if kind is not None else None  # the no-answer check's plain coverage
    return Ranked([head[i] for i in order] + tail, highlights + [None] * len(tail), typed)
