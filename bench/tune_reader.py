"""Choose how the sentence reader joins the features (Config.reader_sentences, sentence_reader_weight) on DEV.

Each grid point re-asks the dev questions through `Retriever.ask` with
`Config(sentence_scorer="reader", ...)` and is scored as `qa eval` scores them
(passage hit@1/3/5, answering sentence hit@1). The reader never saw the news
data, so the news dev split is clean for this; SQuAD dev articles trained it,
so SQuAD is not used here. The test split is never read.

    python -m bench.tune_reader tests/data/news_heldout_questions.jsonl --index /work/runs/answers/news5k
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path

from qa.config import Config
from qa.evaluate import _ask_all, in_split, load_questions, question_metrics
from qa.retriever import Retriever

BUDGETS = (2, 3, 4, 6)
WEIGHTS = (0.5, 1.0, 2.0, 4.0)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("questions", type=Path)
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--split", default="dev", choices=["dev"], help="only dev: settings are never chosen on test")
    args = p.parse_args(argv)
    questions = [q for q in load_questions(args.questions) if in_split(q, args.split)]
    base = Config()
    index = Retriever.load(args.index).index  # one index, shared by a retriever per grid point
    points = [("features", 0, 0.0)] + [("reader", n, w) for n, w in itertools.product(BUDGETS, WEIGHTS)]
    for scorer, n, w in points:
        config = replace(base, sentence_scorer=scorer, reader_sentences=n, sentence_reader_weight=w)
        retriever = Retriever(index, config=config)
        m = question_metrics(_ask_all(retriever, questions, "hybrid", 5))
        row = {"scorer": scorer, "reader_sentences": n, "weight": w}
        row.update({key: m.get(key) for key in ("hit@1", "hit@3", "hit@5", "highlight_hit@1")})
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
