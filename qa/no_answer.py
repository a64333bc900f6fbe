"""Decide "no answer": the evidence is too weak, and say why (passages are still returned).

Three cheap signals: meaning (an absent topic has no close passage), words (a near
topic misses most of the question's key terms), and the question's specific terms. A
near-miss question ("who won the 1987 Qantas A340 order?") shares its topic with the
corpus, so its top cosine is high; what can give it away is that its names, titles and
figures — capitalised, numeric or rare words — occur in none of the top passages.
Last, and only when those pass, a model: the sentence reader reads the answering
sentences of the first passages, since a question whose article is missing still finds
on-topic passages that share its words but do not answer it; a passage whose article (of 150 words
or more) never names what the question names is not read at all (Config.max_missing_names).
Thresholds are chosen on the dev splits (docs/EVALUATION.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from .config import Config
from .highlight import highest_idf
from .lexical import terms, terms_of, words

_WORD = re.compile(r"(?u)\b\w[\w'.&-]*\w\b|\b\w\b")
# Capitalised because they open a question or are generic, not because they name something.
_GENERIC = frozenset(
    "who whom whose what which when where why how many much did does do is are was were will would can could "
    "has have had the a an in on at of for to by from with and or according after before during".split()
)


# Dates are kept as an article's metadata, not always in its text, so a month or a weekday is no name.
_DATE_WORDS = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)
_LETTERS = re.compile(r"[^\W\d_]{5,}")
PREFIX = 5  # letters a name shares with a word of the article to count as found ("Japanese", "Japan")


@dataclass(frozen=True)
class Verdict:
    no_answer: bool
    reason: str | None = None
    missing: tuple[str, ...] = ()  # the question's specific terms no top passage holds


@dataclass(frozen=True)
class Term:
    word: str  # as the question writes it
    stem: str  # as the lexical index sees it
    idf: float


def specific_terms(question: str, idf: dict[str, float], min_idf: float) -> list[Term]:
    """The question's names, titles and figures: capitalised words (not its first), words with a
    digit, and words rarer than min_idf in the index (terms it has never seen count as rarest)."""
    top = highest_idf(idf)
    unseen = top if top is not None else 0.0
    out: dict[str, Term] = {}
    words = _WORD.findall(question)
    for i, word in enumerate(words):
        if word.casefold() in _GENERIC:
            continue
        stems = terms(word)
        if not stems:
            continue
        for stem in stems:
            weight = idf.get(stem, unseen)
            named = (i > 0 and word[:1].isupper()) or word.isupper() and len(word) > 1
            if named or any(c.isdigit() for c in word) or weight >= min_idf:
                out.setdefault(stem, Term(word, stem, weight))
    return list(out.values())


def missing_terms(specific: list[Term], texts: list[str]) -> list[Term]:
    """The specific terms that occur in none of texts."""
    present: set[str] = set()
    for text in texts:
        present.update(terms(text))
    return [t for t in specific if t.stem not in present]


def question_names(question: str, idf: dict[str, float]) -> list[Term]:
    """The question's names: its capitalised words (not the first) without a digit, not a month or a
    weekday, and not all capitals (an abbreviation that an article may spell out)."""
    return [
        t
        for t in specific_terms(question, idf, math.inf)
        if not any(c.isdigit() for c in t.word)
        and t.word.casefold() not in _DATE_WORDS
        and not t.word.replace(".", "").isupper()
    ]


class ArticleWords:
    """What an article holds, to look the question's names up in: its words, and (only when a name is not
    among them as written) its terms and its words' first letters. Stemming a 300-word article costs about
    0.3 ms, twice a question, and a name is usually in its article as the question writes it."""

    def __init__(self, text: str) -> None:
        self._text = text
        self.words = frozenset(words(text))

    @cached_property
    def stems(self) -> frozenset[str]:
        return frozenset(terms_of(self.words))  # its terms: each word stemmed once

    @cached_property
    def prefixes(self) -> frozenset[str]:
        return frozenset(w[:PREFIX] for w in _LETTERS.findall(self._text.casefold()))


def article_words(*texts: str | None) -> ArticleWords:
    """texts: the article as its citation shows it (title, source, date) and its text."""
    return ArticleWords("\n".join(t for t in texts if t))


def missing_names(names: list[Term], article: ArticleWords) -> list[Term]:
    """The names the article holds neither as a term nor by their first PREFIX letters (which finds
    "Japan" for "Japanese", "Australia" for "Australian")."""

    def found(t: Term) -> bool:
        cut = words(t.word)  # "Goldenson's" -> goldenson: one word, whose stem is t.stem
        if len(cut) == 1 and cut[0] in article.words:  # the same word, so the same term: no stemming needed
            return True
        word = t.word.casefold().removesuffix("'s").removesuffix("\u2019s")
        return t.stem in article.stems or (len(word) >= PREFIX and word[:PREFIX] in article.prefixes)

    return [t for t in names if not found(t)]


def names_missing_share(names: list[Term], article: ArticleWords) -> tuple[float, list[Term]]:
    """The IDF share of the question's names that the article lacks, and those names."""
    total = sum(t.idf for t in names)
    missing = missing_names(names, article) if total > 0 else []
    return (sum(t.idf for t in missing) / total if total > 0 else 0.0), missing


def judge(
    question: str,
    idf: dict[str, float],
    texts: list[str],
    top_cosine: float | None,
    coverage: float,
    config: Config,
    typed_coverage: float | None = None,
    reader_logits: Iterable[float] | None = None,
    unnamed: tuple[str, ...] = (),
) -> Verdict:
    """texts: the top passages (with their titles) the answer would come from; coverage: the best IDF share
    of the question's terms among them; typed_coverage: for a question asking for a kind of thing (a number,
    a date, a name, a place), the best coverage by a sentence holding one (qa.sentences.Ranked);
    reader_logits: the reader's logits of the first answering sentences, a lazy iterable (each costs a model
    call): read only when every cheaper signal passes, and only until one reaches the threshold, which
    decides as reading them all would. None when no reader is loaded. unnamed: the question's names that
    the articles of the passages left out of reader_logits lack (those passages cannot answer it)."""
    if not texts:
        return Verdict(True, "no passage matches the question")
    if top_cosine is not None and top_cosine < config.min_dense_score:
        return Verdict(True, f"the closest passage is only {top_cosine:.2f} similar to the question")
    if coverage < config.min_lexical_overlap:
        return Verdict(True, f"the best passages hold only {coverage:.0%} of the question's key terms")
    specific = specific_terms(question, idf, config.specific_min_idf)
    missing = missing_terms(specific, texts)
    total = sum(t.idf for t in specific)
    share = sum(t.idf for t in missing) / total if total > 0 else 0.0
    if missing and share >= config.max_missing_specific:
        names = ", ".join(f"“{t.word}”" for t in missing)
        return Verdict(
            True,
            f"no top passage mentions {names} ({share:.0%} of the question's specific terms)",
            tuple(t.word for t in missing),
        )
    if typed_coverage is not None and typed_coverage < config.min_typed_coverage:
        return Verdict(
            True,
            f"no sentence of the top passages both matches the question ({typed_coverage:.0%} of its key terms "
            "at best) and holds what it asks for",
        )
    if reader_logits is not None and config.min_reader_logit is not None:
        best = None
        for logit in reader_logits:
            best = logit if best is None else max(best, logit)
            if best >= config.min_reader_logit:
                break
        names = ", ".join(f"“{w}”" for w in unnamed)
        if best is None and unnamed:
            return Verdict(True, f"the best passages come from articles that do not name {names}", unnamed)
        if best is not None and best < config.min_reader_logit:
            found = f"; the other best passages' articles do not name {names}" if unnamed else ""
            return Verdict(
                True,
                f"the sentence reader finds no answer in the best passages: its best score is {best:.2f}, "
                f"below {config.min_reader_logit:g}{found}",
                unnamed,
            )
    return Verdict(False)
