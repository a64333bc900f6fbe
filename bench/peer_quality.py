"""qa against txtai on held-out questions, each in its natural use on the same articles, in one run.

What a user choosing between them would see: qa builds its index from the articles file as
`qa eval --corpus` does and answers with `ask` (5 passages); txtai indexes the same
articles as its users do (a row per paragraph, `Embeddings(content=True, hybrid=True)`, the
bundled model; bench/txtai_side.py, in txtai's own environment) and answers with `search`
(5 rows). Both are scored by qa.evaluate.question_metrics: a hit at k is an answer string
inside one of the first k texts returned. The texts differ in length (a qa passage is a few
sentences or more, a txtai row one paragraph), so the mean length of the first text, and of the
sentence qa highlights in it, are reported too: qa's answering sentence against txtai's first row is
the comparison that does not favour the longer text.
Only the questions' chosen split is read (publish test; nothing here chooses a setting).

    python -m bench.peer_quality tests/data/news_heldout_questions.jsonl --corpus /work/runs/s5/small.jsonl \\
        --index /work/runs/s11/peer-small --split test
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from qa import evaluate
from qa.evaluate import contains_answer, in_split, load_questions, question_metrics

from . import measure
from .txtai_side import paragraph_rows

METRICS = ("hit@1", "hit@3", "hit@5", "highlight_hit@1", "answerable")


def qa_side(questions: Path, corpus: Path, index: Path, split: str) -> dict:
    """qa as `qa eval --corpus ... --split` runs it: build or update the index, then ask each question."""
    evaluate.build_corpus(corpus, index)
    result = evaluate.evaluate_questions(questions, index, split=split)
    answerable = [r for r in result.details if r["answers"]]
    return {
        "metrics": result.metrics,
        "first_text_chars": _mean(r["top_chars"] for r in answerable),
        "first_sentence_chars": _mean(len(r["top_highlight"] or "") for r in answerable),
    }


def _mean(values) -> float:
    values = list(values)
    return float(np.mean(values)) if values else 0.0


def txtai_side(questions: list[dict], articles: list[dict], txtai_python: str, model: str, k: int = 5) -> dict:
    """txtai in its own process, in its natural use; its returned rows scored as qa's passages are."""
    spec = {
        "model": model,
        "articles": [{"id": a["id"], "text": a["text"]} for a in articles],
        "hybrid": True,
        "questions": [q["question"] for q in questions],
        "k": k,
    }
    with tempfile.TemporaryDirectory(prefix="qa-peer-") as work:
        report, _ = measure.run_txtai(txtai_python, spec, Path(work), "txtai-natural")
    if "error" in report:
        return report
    texts = {row_id: text for row_id, text, _ in paragraph_rows(articles)}  # the rows txtai indexed
    rows = []
    for q, ids in zip(questions, report["hits"]):
        found = [texts[i] for i in ids]
        hits = [contains_answer(t, q["answers"]) for t in found]
        rows.append(
            {
                "answers": q["answers"],
                "no_answer": False,
                "hits": hits,
                "highlight_hits": [False] * len(hits),
                "top_chars": len(found[0]) if found else 0,
            }
        )
    metrics = question_metrics(rows)
    metrics["highlight_hit@1"] = None  # txtai returns rows, it picks no sentence
    answerable = [r for r in rows if r["answers"]]
    return {
        "metrics": metrics,
        "first_text_chars": _mean(r["top_chars"] for r in answerable),
        "rows_indexed": report["chunks"],
        "query_p50_ms": float(np.median(report["latencies"])) * 1000,
    }


def indexed_articles(index_dir: Path) -> list[dict]:
    """The article texts qa indexed: an articles file's texts as they are; a folder's after qa cleaned its
    web pages (txtai has no cleaner, so it gets qa's: this favours txtai, never qa)."""
    from qa.index import Index

    index = Index.open(index_dir)
    return [{"id": a, "text": index.article(a).text} for a in index.article_ids]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("questions", type=Path)
    ap.add_argument("--corpus", type=Path, required=True, help="the articles (.jsonl[.gz] or a folder) both index")
    ap.add_argument("--index", type=Path, required=True, help="qa's index directory (built or updated here)")
    ap.add_argument("--split", choices=("dev", "test"), default="test")
    ap.add_argument("--txtai-python", default="/work/txtai-venv/bin/python", help="python of txtai's venv")
    args = ap.parse_args(argv)
    from qa.embed import model_path

    questions = [q for q in load_questions(args.questions) if in_split(q, args.split)]
    report = {
        "split": args.split,
        "questions": len(questions),
        "qa": qa_side(args.questions, args.corpus, args.index, args.split),
        "txtai": txtai_side(questions, indexed_articles(args.index), args.txtai_python, str(model_path())),
    }
    print(f"{args.questions.name} ({args.split}) over {args.corpus.name}")
    print("| tool | " + " | ".join(METRICS) + " | first text (chars) |")
    print("|---" * (len(METRICS) + 2) + "|")
    for tool in ("qa", "txtai"):
        side = report[tool]
        if "error" in side:
            print(f"| {tool} | {side['error']} |")
            continue
        cells = ["—" if side["metrics"].get(m) is None else str(side["metrics"][m]) for m in METRICS]
        sentence = f" (its sentence {side['first_sentence_chars']:.0f})" if "first_sentence_chars" in side else ""
        print(f"| {tool} | " + " | ".join(cells) + f" | {side['first_text_chars']:.0f}{sentence} |")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
