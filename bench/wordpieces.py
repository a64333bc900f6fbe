"""What the title prefix and the one-sentence overlap buy on the dev questions, and what they cost in word pieces.

    nice python -m bench.wordpieces --distractors 1500 --work /tmp/qa-wordpieces

Dev split (as the issue fixes it): a question is dev if sha256(id) is even. Two sets:
the seed questions over the shipped corpus, and the answerable held-out news questions
over the articles they cite plus the first --distractors articles of news-5k (a smaller
haystack than news-5k, to keep four builds affordable; the variants share it). Variants:
Config(overlap_sentences=0) and title-less chunks (the articles' titles blanked, so the
embedded and BM25-indexed text loses the prefix; the citation is unchanged). hit@k: an
answer string in one of the top k passages (qa.evaluate.contains_answer), hybrid mode.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {"title + overlap 1 (default)": (True, 1), "no overlap": (True, 0), "no title": (False, 1)}
VARIANTS["neither"] = (False, 0)


def is_dev(qid: str) -> bool:
    return int(hashlib.sha256(qid.encode()).hexdigest(), 16) % 2 == 0


def _questions(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if is_dev(r["id"]) and r.get("answers") and r.get("kind", "answerable") == "answerable"]


def run_set(name: str, articles: list, questions: list[dict], work: Path) -> list[dict]:
    from qa import Retriever
    from qa.builder import build_from
    from qa.config import Config
    from qa.embed import WordPieceCounter
    from qa.evaluate import contains_answer
    from qa.generation import ChunkRow
    from qa.index import Index

    counter = WordPieceCounter()
    out = []
    for label, (title, overlap) in VARIANTS.items():
        items = articles if title else [dataclasses.replace(a, title="") for a in articles]
        index = work / f"{name}-{'t' if title else 'n'}{overlap}"
        t = time.perf_counter()
        build_from(items, index, full=True, config=Config(overlap_sentences=overlap), progress=False)
        seconds = time.perf_counter() - t
        idx = Index.open(index)
        texts = [ChunkRow.from_dict(idx.chunks[i]).embed_text for i in range(len(idx.chunks))]
        retriever = Retriever.load(index)
        hits = {1: 0, 5: 0}
        for q in questions:
            passages = retriever.ask(q["question"], k=5).passages
            for k in hits:
                hits[k] += any(contains_answer(p.text, q["answers"]) for p in passages[:k])
        n = len(questions)
        out.append(
            {
                "set": name,
                "variant": label,
                "questions": n,
                "hit@1": hits[1] / n,
                "hit@5": hits[5] / n,
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
    args = ap.parse_args(argv)

    from bench.news_subsets import subset
    from qa.domain import Article
    from qa.ingest import iter_corpus

    args.work.mkdir(parents=True, exist_ok=True)
    seed = _questions(ROOT.parent / "shared" / "eval" / "seed_questions.jsonl")
    shipped = [a for a in iter_corpus(ROOT / "corpus") if isinstance(a, Article)]
    results = run_set("seed", shipped, seed, args.work)
    news_q = _questions(ROOT / "tests" / "data" / "news_heldout_questions.jsonl")
    cited = {s for q in news_q for s in q.get("sources", [])}
    news = subset("news-5k")
    pool = [a for a in news if a.id in cited] + [a for a in news[: args.distractors] if a.id not in cited]
    results += run_set("news-heldout", pool, news_q, args.work)
    (args.work / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
