"""Choose the near-miss "no answer" thresholds (Config.specific_min_idf, max_missing_specific,
no_answer_passages) on the DEV split of question sets.

Each dev question is asked once (default settings); every grid point then re-runs the
production decision (qa.no_answer.judge) on the same passages. Reported per set: unanswerable
questions flagged and answerable ones flagged. The test split is never read here.

    python -m bench.tune_no_answer tests/data/news_heldout_questions.jsonl=/work/runs/answers/news5k \\
        ../shared/eval/seed_questions.jsonl=/work/runs/answers/seed

Unanswerable questions at scale count too: `bench.unanswerable_at_scale --split dev` writes its
questions, answers emptied, to WORK/unanswerable.jsonl; pass that file with WORK/index.
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path

from qa.evaluate import in_split, load_questions, sample
from qa.passages import select_spans
from qa.retriever import Retriever, fuse

GRID = {
    "specific_min_idf": (4.0, 5.0, 6.0, 7.0, 8.0),
    "max_missing_specific": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0),
    "no_answer_passages": (3, 5),
    "min_typed_coverage": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
}


def asked(path: Path, index: Path, max_queries: int | None) -> tuple[Retriever, list[dict]]:
    """Each dev question through the steps of Retriever.ask up to its no-answer decision."""
    questions = [q for q in load_questions(path) if in_split(q, "dev")]
    keep = set(sample([q["id"] for q in questions], max_queries))
    retriever = Retriever.load(index)
    config, idx = retriever.config, retriever.index
    out = []
    for q in questions:
        if q["id"] not in keep:
            continue
        text, _ = retriever._clean_question(q["question"], quiet=True)
        cands = retriever._candidates(idx, text, "hybrid", config.candidates, None)
        highlighter = retriever._highlighter(idx, text, cands)
        spans = select_spans(idx, fuse(cands, config, "hybrid"), max(retriever._head, *GRID["no_answer_passages"]))
        ranked = retriever._rank_sentences(text, highlighter, spans, cands)
        out.append({"q": q, "text": text, "cands": cands, "highlighter": highlighter, "ranked": ranked})
    return retriever, out


def flags(retriever: Retriever, rows: list[dict], config) -> tuple[int, int, int, int]:
    """(unanswerable flagged, unanswerable, answerable flagged, answerable)."""
    un = [0, 0]
    an = [0, 0]
    judging = Retriever(retriever.index, retriever.embedder, config)
    for r in rows:
        verdict = judging._judge(retriever.index, r["text"], r["highlighter"], r["ranked"], r["cands"])
        bucket = an if r["q"]["answers"] else un
        bucket[0] += verdict.no_answer
        bucket[1] += 1
    return un[0], un[1], an[0], an[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="+", help="QUESTIONS=INDEX pairs")
    ap.add_argument("--max-queries", type=int, default=None, help="per set, a fixed subset of its dev questions")
    ap.add_argument("--specific-min-idf", type=float, nargs="+", default=None, help="override the grid's values")
    args = ap.parse_args(argv)
    if args.specific_min_idf:
        GRID["specific_min_idf"] = tuple(args.specific_min_idf)
    sets = []
    for pair in args.sets:
        path, index = pair.split("=", 1)
        # named file@index: one question file may be asked of several indexes (news-5k, the small haystack)
        sets.append((f"{Path(path).stem}@{Path(index).name}", *asked(Path(path), Path(index), args.max_queries)))
    keys = list(GRID)
    for values in itertools.product(*(GRID[k] for k in keys)):
        point = dict(zip(keys, values))
        row = dict(point)
        for name, retriever, rows in sets:
            row[name] = "{}/{} unanswerable, {}/{} answerable".format(
                *flags(retriever, rows, replace(retriever.config, **point))
            )
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
