"""What the answering sentence and "no answer" cost per question: `ask` p50 with the reader ranking
sentences (opt-in), the features alone (with and without the article-local term weight, with and without
the reader's no-answer check), and off.

The two settings share one process, one model and one index, and alternate question by
question, so the machine's load (shared here) falls on both alike; the difference of
their p50s is the cost of ranking sentences (the features, then the reader on a few of them).

    python -m bench.answer_cost /work/runs/answers/news5k tests/data/news_heldout_questions.jsonl --split dev
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa.evaluate import in_split, load_questions
from qa.retriever import Retriever


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index", type=Path)
    ap.add_argument("questions", type=Path)
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--max", type=int, default=60, help="questions timed")
    args = ap.parse_args(argv)
    questions = [q["question"] for q in load_questions(args.questions) if in_split(q, args.split)][: args.max]
    on = Retriever.load(args.index)
    # The features are the default; the reader ranking sentences is opt-in (Config.sentence_scorer); its
    # no-answer check (Config.min_reader_logit) is on in all but "no reader check" and "chunk order".
    settings = {
        "sentences": Retriever(on.index, on.embedder, replace(on.config, sentence_scorer="reader")),
        "features only": Retriever(on.index, on.embedder, replace(on.config, sentence_scorer="features")),
        "features, no local weight": Retriever(on.index, on.embedder, replace(on.config, sentence_local_weight=0.0)),
        "no reader check": Retriever(on.index, on.embedder, replace(on.config, min_reader_logit=None)),
        "chunk order": Retriever(on.index, on.embedder, replace(on.config, rerank_passages=0, min_reader_logit=None)),
    }
    for q in questions[:5]:  # warm-up: page in, idf table, models
        for r in settings.values():
            r.ask(q, k=5)
    times: dict[str, list[float]] = {label: [] for label in settings}
    order = list(settings.items())
    for i, q in enumerate(questions):
        # Each question starts with the next setting in turn: the one run right after the reader (or any
        # other) is not always the same, so no setting gains from caches another warmed.
        for label, r in order[i % len(order) :] + order[: i % len(order)]:
            t = time.perf_counter()
            r.ask(q, k=5)
            times[label].append(time.perf_counter() - t)
    embed = []
    for q in questions[:20]:
        t = time.perf_counter()
        on.embedder.embed([q])
        embed.append(time.perf_counter() - t)
    report = {label: round(float(np.median(v)) * 1000, 1) for label, v in times.items()}
    report["difference_ms"] = round(report["sentences"] - report["chunk order"], 1)
    report["reader_ms"] = round(report["sentences"] - report["features only"], 1)
    report["reader_check_ms"] = round(report["features only"] - report["no reader check"], 1)
    report["local_weight_ms"] = round(report["features only"] - report["features, no local weight"], 2)
    report["question_embed_ms"] = round(float(np.median(embed)) * 1000, 1)
    report["questions"] = len(questions)
    report["model"] = on.index.model_id
    report["chunks"] = len(on.index)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
