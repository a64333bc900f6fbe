"""Answering-sentence examples for the reader: SQuAD v1.1 dev paragraphs and our news questions.

One record per question: its candidate sentences (cut by `qa.segment.sentence_spans`,
as the app cuts what it highlights) and which of them contain an answer string.
Splits are fixed by issue 13 so that training never sees a test question: SQuAD by
article title, news by question id, both "dev" when sha256 is even. Nothing here
is copied into the repository; the data are read from ../shared.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from qa.evaluate import contains_answer
from qa.segment import sentence_spans

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
SQUAD = SHARED / "squad"
NEWS_ARTICLES = SHARED / "news" / "articles.jsonl.gz"
NEWS_QUESTIONS = ROOT / "tests" / "data" / "news_heldout_questions.jsonl"
# SQuAD dev-split articles kept out of training to choose the recipe (layers) without touching test.
SQUAD_VALIDATION_ARTICLES = 3


@dataclass(frozen=True)
class Example:
    """A question over a gold passage: its sentences and, per sentence, whether it holds an answer."""

    qid: str
    question: str
    answers: tuple[str, ...]
    sentences: tuple[str, ...]
    labels: tuple[bool, ...]
    group: str  # the SQuAD article title or the news article id(s): what a split keeps together

    @property
    def answerable(self) -> bool:
        return any(self.labels)


def split_of(key: str) -> str:
    """The fixed split of issue 13: "dev" if sha256(key) is even, else "test"."""
    return "dev" if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2 == 0 else "test"


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        raise FileNotFoundError(f"{path} is absent (the shared data sets live in ../shared beside the project)")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def _example(qid: str, question: str, answers: list[str], sents: list[str], group: str) -> Example:
    labels = tuple(contains_answer(s, answers) for s in sents)
    return Example(qid, question, tuple(answers), tuple(sents), labels, group)


def squad_paragraphs(folder: Path = SQUAD) -> list[dict]:
    return _jsonl(folder / "corpus.jsonl.gz")


def squad_examples(split: str, folder: Path = SQUAD) -> list[Example]:
    """SQuAD questions of the articles in `split`, each over its own paragraph, in file order."""
    paragraphs = {p["_id"]: p for p in squad_paragraphs(folder)}
    qrels: dict[str, str] = {}
    with open(folder / "qrels.tsv", encoding="utf-8") as f:
        next(f)
        for line in f:
            qid, pid, _ = line.rstrip("\n").split("\t")
            qrels[qid] = pid
    cut: dict[str, list[str]] = {}
    out = []
    for q in _jsonl(folder / "queries.jsonl.gz"):
        para = paragraphs[qrels[q["_id"]]]
        if split_of(para["title"]) != split:
            continue
        sents = cut.setdefault(para["_id"], sentences(para["text"]))
        out.append(_example(q["_id"], q["text"], q["answers"], sents, para["title"]))
    return out


def squad_train_validation(folder: Path = SQUAD) -> tuple[list[Example], list[Example]]:
    """Dev-split examples, the last few articles (by sha256 of the title) held out for validation."""
    dev = squad_examples("dev", folder)
    titles = sorted({e.group for e in dev}, key=lambda t: hashlib.sha256(t.encode()).hexdigest())
    held = set(titles[-SQUAD_VALIDATION_ARTICLES:])
    return [e for e in dev if e.group not in held], [e for e in dev if e.group in held]


def news_articles(ids: set[str], path: Path = NEWS_ARTICLES) -> dict[str, dict]:
    return {a["id"]: a for a in _jsonl(path) if a["id"] in ids}


def news_questions(split: str, path: Path = NEWS_QUESTIONS) -> list[dict]:
    """Answerable news questions of `split` (near-misses have no answer sentence to find)."""
    return [q for q in _jsonl(path) if q["kind"] == "answerable" and q["answers"] and split_of(q["id"]) == split]


def news_examples(
    split: str, articles_path: Path = NEWS_ARTICLES, questions_path: Path = NEWS_QUESTIONS
) -> list[Example]:
    """News questions over the sentences of their source article(s), sources in the order given."""
    questions = news_questions(split, questions_path)
    articles = news_articles({s for q in questions for s in q["sources"]}, articles_path)
    out = []
    for q in questions:
        sents = [s for src in q["sources"] if src in articles for s in sentences(articles[src]["text"])]
        out.append(_example(q["id"], q["question"], q["answers"], sents, "+".join(q["sources"])))
    return out


def pairs(
    examples: list[Example], max_negatives: int, rng: random.Random, window: int | None = None
) -> list[tuple[str, str, float]]:
    """(question, sentence, label) pairs: every answering sentence, and up to max_negatives others.

    Negatives come from the same passage (hard ones: same topic, same names). With
    `window`, only sentences within that many positions of an answering sentence
    are candidates, so a long article gives its neighbourhood rather than its tail.
    """
    out = []
    for e in examples:
        pos = [i for i, y in enumerate(e.labels) if y]
        if not pos:
            continue  # the answer crosses a sentence boundary: nothing to learn about sentences
        neg = [i for i, y in enumerate(e.labels) if not y]
        if window is not None:
            neg = [i for i in neg if min(abs(i - p) for p in pos) <= window]
        neg = rng.sample(neg, min(max_negatives, len(neg)))
        out.extend((e.question, e.sentences[i], 1.0) for i in pos)
        out.extend((e.question, e.sentences[i], 0.0) for i in neg)
    return out


def idf_over(texts: list[str]) -> dict[str, float]:
    """Smoothed IDF of the lexical index's terms over texts (what the lexical highlighter weighs by)."""
    import math

    from qa.lexical import terms

    df: dict[str, int] = defaultdict(int)
    for t in texts:
        for term in set(terms(t)):
            df[term] += 1
    n = len(texts)
    return {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
