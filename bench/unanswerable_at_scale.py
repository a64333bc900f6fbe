"""Unanswerable questions at scale: remove the articles that answer a sample of questions, ask them again.

From a sample of answerable questions of one split, every source article is removed from the
news-5k subset (or another of bench.news_subsets, `--subset`), with its near-duplicates (the
same title, or more than half of its word set shared: the rule of
tests/data/news_heldout_questions.README.md). The index is updated incrementally from a copy of
a built index of that subset (nothing is embedded again), and each sampled question is asked:
every one should now be flagged. `leaked` counts questions whose answer string still appears in
a top-5 passage (another article reporting the same fact). The questions that did not leak are
written to WORK/unanswerable.jsonl with their answers emptied, so that `bench.tune_no_answer`
can count them among the unanswerable ones (on dev).

    python -m bench.unanswerable_at_scale tests/data/news_heldout_questions.jsonl \\
        --index /work/runs/answers/news5k --work /work/runs/answers/minus --split test --sample 60

`--set NAME=VALUE` answers with other settings (as `qa ask --set` does).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from bench.news_subsets import subset, write_articles
from qa.beir import read_jsonl
from qa.config import Config
from qa.evaluate import build_corpus, contains_answer, in_split, load_questions, sample
from qa.retriever import Retriever
from qa.store import atomic_write_jsonl
from qa.web.options import add_settings_option

_WORDS = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return set(_WORDS.findall(text.casefold()))


def removed_ids(articles, sources: set[str]) -> set[str]:
    """The sources and their near-duplicates: the same title, or word-set Jaccard above 0.5."""
    by_id = {a.id: a for a in articles}
    titles = {by_id[s].title.casefold() for s in sources if s in by_id and by_id[s].title}
    words = [_words(by_id[s].text) for s in sources if s in by_id]
    out = set(sources)
    for a in articles:
        if a.title and a.title.casefold() in titles:
            out.add(a.id)
            continue
        mine = _words(a.text)
        if any(len(mine & w) > 0.5 * len(mine | w) for w in words):
            out.add(a.id)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("questions", type=Path, help="a questions file with `sources` (news_heldout_questions.jsonl)")
    ap.add_argument("--index", type=Path, required=True, help="a built index of --subset (copied, never changed)")
    ap.add_argument("--subset", default="news-5k", help="the bench.news_subsets subset the index holds")
    ap.add_argument("--work", type=Path, required=True, help="where the reduced corpus and index go")
    ap.add_argument("--split", choices=("dev", "test"), default="test")
    ap.add_argument("--sample", type=int, default=60, help="answerable questions asked (a fixed subset)")
    add_settings_option(ap)
    args = ap.parse_args(argv)
    config = Config().with_settings(args.settings, builds=False)  # the copied index keeps its own
    report = measure(
        args.questions,
        args.index,
        args.work,
        split=args.split,
        size=args.sample,
        subset_name=args.subset,
        config=config,
    )
    print(json.dumps(report))
    return 0


def measure(
    questions_path: Path,
    built: Path,
    work: Path,
    *,
    split: str = "test",
    size: int = 60,
    subset_name: str = "news-5k",
    config: Config | None = None,
) -> dict:
    """Remove the sampled questions' articles from a copy of `built`, ask them again, and count what is flagged."""
    rows = {row["id"]: row for row in read_jsonl(questions_path)}  # with `sources`, which load_questions drops
    questions = [q for q in load_questions(questions_path) if q["answers"] and in_split(q, split)]
    keep = set(sample([q["id"] for q in questions], size))
    questions = [q for q in questions if q["id"] in keep]
    articles = subset(subset_name)
    gone = removed_ids(articles, {s for q in questions for s in rows[q["id"]].get("sources", [])})
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / f"{subset_name}-minus.jsonl"
    write_articles([a for a in articles if a.id not in gone], corpus)
    index = work / "index"
    if index.exists():
        shutil.rmtree(index)
    shutil.copytree(built, index)
    build_corpus(corpus, index)
    retriever = Retriever.load(index, config=config)
    flagged, leaked, reasons = 0, 0, []
    for q in questions:
        answer = retriever.ask(q["question"], k=5, auto_refresh=False)
        flagged += answer.no_answer
        leak = any(contains_answer(p.text, q["answers"]) for p in answer.passages)
        leaked += leak
        reasons.append({"id": q["id"], "flagged": answer.no_answer, "leaked": leak, "reason": answer.reason})
    atomic_write_jsonl(work / "details.jsonl", reasons)
    gone_for_good = {r["id"] for r in reasons if not r["leaked"]}
    unanswerable = [{**rows[q["id"]], "answers": []} for q in questions if q["id"] in gone_for_good]
    atomic_write_jsonl(work / "unanswerable.jsonl", unanswerable)
    return {
        "split": split,
        "questions": len(questions),
        "articles_removed": len(gone),
        "flagged": flagged,
        "flagged_rate": round(flagged / max(1, len(questions)), 4),
        "leaked": leaked,
        "flagged_among_not_leaked": sum(r["flagged"] for r in reasons if not r["leaked"]),
        "not_leaked": sum(not r["leaked"] for r in reasons),
    }


if __name__ == "__main__":
    raise SystemExit(main())
