"""Named subsets of ../shared/data/news used by the question sets in tests/data.

`qa eval` takes any articles `.jsonl[.gz]` file; this writes the subset a question
set is about as such a file (outside the project: the data keeps its licence):

    python -m bench.news_subsets news-questions /tmp/news-3400.jsonl
    qa eval tests/data/news_questions.jsonl --corpus /tmp/news-3400.jsonl --index /tmp/news-3400-index
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qa.domain import Article
from qa.evaluate import read_articles

NEWS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "news" / "articles.jsonl.gz"


def news_questions(articles: list[Article]) -> list[Article]:
    """The 3,400 articles tests/data/news_questions.jsonl is about (its README):
    the first 3,000 lines of the news file, then the 400 smallest `bbc-` ids."""
    bbc = set(sorted(a.id for a in articles if a.id.startswith("bbc-"))[:400])
    first = articles[:3000]
    return first + sorted((a for a in articles[3000:] if a.id in bbc), key=lambda a: a.id)


def news_5k(articles: list[Article]) -> list[Article]:
    """The articles tests/data/news_heldout_questions.jsonl is about (its README):
    the first 3,000 lines of the news file, then every `bbc-` article in file order."""
    first = articles[:3000]
    return first + [a for a in articles[3000:] if a.id.startswith("bbc-")]


HELDOUT_QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "data" / "news_heldout_questions.jsonl"
SMALL_HAYSTACK = 500


def news_heldout_small(articles: list[Article]) -> list[Article]:
    """A haystack small enough for the default test suite (about 600 articles, a minute or two to build):
    every article tests/data/news_heldout_questions.jsonl cites or names as its near miss, then the first
    SMALL_HAYSTACK other articles of news-5k. Easier than news-5k (fewer rivals), so its figures are its own."""
    wanted: set[str] = set()
    for line in HELDOUT_QUESTIONS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            q = json.loads(line)
            wanted.update(q.get("sources", []), q.get("near", []))
    cited = [a for a in articles if a.id in wanted]
    return cited + [a for a in news_5k(articles) if a.id not in wanted][:SMALL_HAYSTACK]


SUBSETS = {"news-questions": news_questions, "news-5k": news_5k, "news-heldout-small": news_heldout_small}


def subset(name: str, path: Path = NEWS) -> list[Article]:
    if name not in SUBSETS:
        raise SystemExit(f"unknown subset {name!r}; known: {', '.join(SUBSETS)}")
    return SUBSETS[name](read_articles(path))


def write_articles(articles: list[Article], out: Path) -> None:
    with open(out, "w", encoding="utf-8") as f:
        for a in articles:
            row = {"id": a.id, "title": a.title, "text": a.text, "source": a.source, "date": a.date}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(SUBSETS))
    ap.add_argument("out", type=Path, help="the articles .jsonl file to write")
    ap.add_argument("--news", type=Path, default=NEWS, help="the news articles file (default: ../shared)")
    args = ap.parse_args(argv)
    articles = subset(args.name, args.news)
    write_articles(articles, args.out)
    print(f"{len(articles)} articles -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
