"""Choose the sentence-ranking weights (Config.sentence_*, rerank_*) on the DEV split of question sets.

Each question is retrieved once; every grid point then re-runs the production code
(qa.sentences.rank_by_sentences with a FeatureScorer of its weights) over the same
passages, with sentence vectors cached, and is scored as `qa eval` scores: passage
hit@1/3/5 and whether the first passage's chosen sentence holds an answer string.
The test split is never read here.

    python -m bench.tune_answers tests/data/news_heldout_questions.jsonl=/work/runs/answers/news5k \\
        /work/runs/answers/squad_questions.jsonl=/work/runs/answers/squad --max-queries 300

`--vary NAME [NAME ...]` sweeps those settings with the others at their defaults (how sentence_local_weight,
then rerank_passages with sentence_passage_weight, were chosen).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa import sentences
from qa.config import Config
from qa.evaluate import contains_answer, in_split, load_questions, sample
from qa.passages import select_spans
from qa.retriever import Retriever, fuse
from qa.sentences import FeatureScorer, rank_by_sentences

GRID = {
    "cosine": (0.0, 0.5, 1.0, 2.0),
    "coverage": (0.0, 0.5, 1.0),
    "cue": (0.0, 0.2, 0.4),
    "passage": (0.0, 0.5, 0.75, 1.0, 1.5, 2.0),
    "embed": (4, 8, 16),
    "head": (3, 5, 6, 7, 8, 10),
    "title": (1.0, 0.5, 0.25, 0.1, 0.0),
    "local": (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
}
# Each grid name's Config field (what a point sets, and what --vary holds at its default).
FIELDS = {
    "cosine": "sentence_cosine_weight",
    "coverage": "sentence_coverage_weight",
    "cue": "sentence_cue_weight",
    "passage": "sentence_passage_weight",
    "embed": "rerank_embed_sentences",
    "head": "rerank_passages",
    "title": "sentence_title_weight",
    "local": "sentence_local_weight",
}


class CachedEmbed:
    """The model's embed, remembering every sentence it saw (the grid re-asks the same ones)."""

    def __init__(self, embed):
        self.embed, self.seen = embed, {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if missing:
            self.seen.update(zip(missing, self.embed(missing)))
        return np.stack([self.seen[t] for t in texts])


def _cached_scores(highlighter):
    """The highlighter's lexical scores, remembered per sentence (they do not depend on the weights)."""
    seen: dict[str, float] = {}
    plain = highlighter.scores

    def scores(texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in seen]
        seen.update(zip(missing, plain(missing).tolist()))
        return np.array([seen[t] for t in texts], dtype=np.float32)

    highlighter.scores = scores
    return highlighter


def prepare(retriever: Retriever, questions: list[dict], heads: tuple[int, ...]) -> list[dict]:
    """Per question: its vector, highlighter and the candidate spans for each head size."""
    index, config = retriever.index, retriever.config
    out = []
    for q in questions:
        text, _ = retriever._clean_question(q["question"], quiet=True)
        cands = retriever._candidates(index, text, "hybrid", config.candidates, None)
        ranked = fuse(cands, config, "hybrid")
        out.append(
            {
                "q": q,
                "text": text,
                "qvec": cands.question_vector,
                "highlighter": _cached_scores(retriever._highlighter(index, text, cands)),
                "spans": {h: select_spans(index, ranked, max(5, h)) for h in heads},
            }
        )
    return out


def score_point(prepared: list[dict], base: Config, point: dict, embed) -> dict:
    config = replace(base, **{FIELDS[name]: value for name, value in point.items()})
    scorer = FeatureScorer.from_config(config)
    hits = {1: 0, 3: 0, 5: 0}
    sentence = 0
    answerable = [p for p in prepared if p["q"]["answers"]]
    for p in answerable:
        answers = p["q"]["answers"]
        spans = p["spans"][point["head"]]
        ranked = rank_by_sentences(p["text"], spans, p["highlighter"], scorer, config, embed, p["qvec"])
        found = [contains_answer(s.text, answers) for s in ranked.spans[:5]]
        for k in hits:
            hits[k] += any(found[:k])
        first, (a, b) = ranked.spans[0], ranked.highlights[0]
        sentence += contains_answer(first.text[a - first.start : b - first.start], answers)
    n = max(1, len(answerable))
    return {**{f"hit@{k}": round(v / n, 4) for k, v in hits.items()}, "sentence@1": round(sentence / n, 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="+", help="QUESTIONS=INDEX pairs: each set's dev split is scored")
    ap.add_argument("--max-queries", type=int, default=None, help="per set, a fixed subset of its dev questions")
    ap.add_argument("--out", type=Path, default=None, help="write every grid point's figures here (JSON lines)")
    ap.add_argument(
        "--vary",
        choices=sorted(GRID),
        nargs="+",
        default=None,
        help="sweep only these settings, the others at Config's defaults",
    )
    args = ap.parse_args(argv)
    sentences.type_cue = functools.lru_cache(maxsize=None)(sentences.type_cue)  # pure: same inputs, same cue
    sets = []
    for pair in args.sets:
        path, index = (Path(x) for x in pair.split("=", 1))
        questions = [q for q in load_questions(path) if in_split(q, "dev")]
        keep = set(sample([q["id"] for q in questions], args.max_queries))
        retriever = Retriever.load(index)
        prepared = prepare(retriever, [q for q in questions if q["id"] in keep], GRID["head"])
        sets.append((f"{path.stem}@{index.name}", retriever, prepared, CachedEmbed(retriever.embedder.embed)))
        print(f"{path.name} dev: {len(prepared)} questions", flush=True)
    rows = []
    keys = list(GRID)
    grid = dict(GRID)
    if args.vary:
        defaults = Config()
        grid = {k: (GRID[k] if k in args.vary else (getattr(defaults, FIELDS[k]),)) for k in keys}
    for values in itertools.product(*(grid[k] for k in keys)):
        point = dict(zip(keys, values))
        if point["cosine"] == 0 and point["embed"] != grid["embed"][0]:
            continue  # no cosine: the embedding budget does not matter
        row = {**point, "objective": 0.0}
        for name, retriever, prepared, embed in sets:
            figures = score_point(prepared, retriever.config, point, embed)
            row[name] = figures
            row["objective"] += figures["sentence@1"] + figures["hit@1"]
        row["objective"] = round(row["objective"] / len(sets), 4)
        rows.append(row)
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} grid points; best by the mean of sentence@1 + hit@1 over the sets:")
    for r in sorted(rows, key=lambda r: -r["objective"])[:15]:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
