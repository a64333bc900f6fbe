"""What the title prefix and the one-sentence overlap buy on the dev questions, and what they cost in word pieces.

    nice python -m bench.wordpieces --distractors 1500 --work /tmp/qa-wordpieces [--variants default,no-overlap]

Dev split only (qa.evaluate.split_of: sha256 of the id). Two sets:
the seed questions over the shipped corpus, and the answerable held-out news questions
over the articles they cite plus the first --distractors articles of news-5k (a smaller
haystack than news-5k, to keep four builds affordable; the variants share it). Variants:
Config(overlap_sentences=0) and title-less chunks (the articles' titles blanked, so the
embedded and BM25-indexed text loses the prefix; the citation is unchanged). hit@k: an
answer string in one of the top k passages (qa.evaluate.contains_answer), hybrid mode;
sentence@1: in the first passage's answering sentence.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# name: (label, title prefix kept, overlap sentences)
VARIANTS = {
    "default": ("title + overlap 1 (default)", True, 1),
    "no-overlap": ("no overlap", True, 0),
    "no-title": ("no title", False, 1),
    "neither": ("neither", False, 0),
}


def _questions(path: Path) -> list[dict]:
    from qa.evaluate import in_split

    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if in_split(r, "dev") and r.get("answers") and r.get("kind", "answerable") == "answerable"]


def run_set(name: str, articles: list, questions: list[dict], work: Path, variants: list[str]) -> list[dict]:
    from qa import Retriever
    from qa.builder import build_from
    from qa.config import Config
    from qa.embed import WordPieceCounter
    from qa.evaluate import contains_answer
    from qa.generation import ChunkRow
    from qa.index import Index

    counter = WordPieceCounter()
    out = []
    for label, title, overlap in (VARIANTS[v] for v in variants):
        items = articles if title else [dataclasses.replace(a, title="") for a in articles]
        index = work / f"{name}-{'t' if title else 'n'}{overlap}"
        t = time.perf_counter()
        build_from(items, index, full=True, config=Config(overlap_sentences=overlap), progress=False)
        seconds = time.perf_counter() - t
        idx = Index.open(index)
        texts = [ChunkRow.from_dict(idx.chunks[i]).embed_text for i in range(len(idx.chunks))]
        retriever = Retriever.load(index)
        hits = {1: 0, 5: 0}
        sentence = 0
        for q in questions:
            passages = retriever.ask(q["question"], k=5).passages
            for k in hits:
                hits[k] += any(contains_answer(p.text, q["answers"]) for p in passages[:k])
            sentence += bool(passages) and contains_answer(passages[0].highlight_text, q["answers"])
        n = len(questions)
        out.append(
            {
                "set": name,
                "variant": label,
                "questions": n,
                "hit@1": hits[1] / n,
                "hit@5": hits[5] / n,
                "sentence@1": sentence / n,
                "chunks": len(texts),
                "word_pieces": sum(counter.count(texts)),
                "build_seconds": seconds,
            }
        )
        print(json.dumps(out[-1]), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--distractors", type=int, default=1500, help="news-5k articles besides the cited ones")
    ap.add_argument("--work", type=Path, default=Path("/tmp/qa-wordpieces"))
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    args = ap.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")

    from bench.news_subsets import subset
    from qa.domain import Article
    from qa.ingest import iter_corpus

    args.work.mkdir(parents=True, exist_ok=True)
    seed = _questions(ROOT.parent / "shared" / "eval" / "seed_questions.jsonl")
    shipped = [a for a in iter_corpus(ROOT / "corpus") if isinstance(a, Article)]
    results = run_set("seed", shipped, seed, args.work, variants)
    news_q = _questions(ROOT / "tests" / "data" / "news_heldout_questions.jsonl")
    cited = {s for q in news_q for s in q.get("sources", [])}
    news = subset("news-5k")
    pool = [a for a in news if a.id in cited] + [a for a in news[: args.distractors] if a.id not in cited]
    results += run_set("news-heldout", pool, news_q, args.work, variants)
    (args.work / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
