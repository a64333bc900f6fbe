"""SQuAD v1.1 dev (../shared/data/squad, BEIR form) as a questions file for `qa eval`.

Each line: the question, its distinct answer strings, its paragraph and, as `group`, its
article's title, so `qa eval --split` keeps every question of one article on one side
(the reader is trained on dev-split articles only):

    python -m bench.squad_questions /work/runs/squad_questions.jsonl
    qa eval /work/runs/squad_questions.jsonl --corpus ../shared/data/squad/corpus.jsonl.gz \\
        --index /work/runs/squad-index --split test --max-queries 1000
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qa import beir

SQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "squad"


def squad_questions(folder: Path = SQUAD) -> list[dict]:
    titles = {row["_id"]: row.get("title", "") for row in beir.read_jsonl(beir.find_file(folder, "corpus"))}
    qrels = beir.load_qrels(beir.default_qrels(folder))
    out = []
    for row in beir.read_jsonl(beir.find_file(folder, "queries")):
        (paragraph,) = qrels[row["_id"]]  # one relevant paragraph per question (its README)
        answers = list(dict.fromkeys(row.get("answers") or []))
        out.append(
            {
                "id": row["_id"],
                "question": row["text"],
                "answers": answers,
                "sources": [paragraph],
                "group": titles[paragraph],
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="the questions .jsonl file to write")
    ap.add_argument("--squad", type=Path, default=SQUAD, help="the SQuAD BEIR folder (default: ../shared)")
    args = ap.parse_args(argv)
    rows = squad_questions(args.squad)
    with open(args.out, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} questions -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
