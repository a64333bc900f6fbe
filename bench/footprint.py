"""What a local build costs in memory, and what its index costs on disk, as the corpus grows.

    nice python -m bench.footprint --articles 2000,20000 --synthetic 200000

Each size is a `qa build --full` in a fresh process over a one-file JSON-lines
corpus: the first N news articles (bench.data.read_news), or, for --synthetic,
rotated copies of them (bench.data.scaled_rows) to reach N. The vectors come
from the tests' fake model (QA_EMBEDDER, tests/support/fake.py), so the run
measures the build's own memory, not the model's, in minutes; `--model default`
runs the real default model instead. Peak RSS is the
child's VmHWM (bench.measure.run_process); bytes on disk are one generation's
files as its manifest lists them, the embedding cache aside.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from . import measure
from .data import ROOT, read_news, scaled_rows, write_corpus

FAKE = "tests.support.fake:FakeEmbedder"
MODELS = ("fake", "default")  # --model default: the model a new index gets here, loaded and run for real


@dataclass(frozen=True)
class Footprint:
    """One build: its size, time and peak memory, and its generation's bytes on disk (total and by role)."""

    articles: int
    synthetic: bool
    chunks: int
    seconds: float
    peak_rss_mb: float
    index_bytes: int
    bytes_per_article: float
    bytes_by_role: dict[str, int]


def generation_bytes(index_dir: Path) -> dict[str, int]:
    """Bytes of the live generation by file role (chunks, vectors, dense, ...), plus manifest.json."""
    from qa.manifest import read_manifest

    manifest = read_manifest(index_dir)
    by_role = {"manifest": (index_dir / "manifest.json").stat().st_size}
    for role, name in manifest.files.items():
        by_role[role] = measure.dir_bytes(index_dir / name) if (index_dir / name).is_dir() else _size(index_dir / name)
    return by_role


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def measure_build(rows, n: int, synthetic: bool, work: Path, code: Path = ROOT, model: str = "fake") -> Footprint:
    corpus, index = work / f"corpus{n}", work / f"index{n}"
    write_corpus(rows, corpus / "articles.jsonl")
    cmd = [measure.python(), "-m", "qa", "build", "--corpus", str(corpus), "--index", str(index)]
    env = {"QA_EMBEDDER": FAKE if model == "fake" else "", "PYTHONPATH": str(code)}
    # cwd: `python -m qa` imports qa from there first
    run = measure.run_process(cmd + ["--full", "--json", "--quiet"], env=env, cwd=code)
    report = run.json()
    by_role = generation_bytes(index)
    total = sum(by_role.values())
    shutil.rmtree(corpus)
    shutil.rmtree(index)
    return Footprint(n, synthetic, report["chunks"], run.seconds, run.peak_rss_mb, total, total / n, by_role)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", default="2000,20000", help="news corpus sizes (comma-separated)")
    ap.add_argument("--synthetic", default="", help="sizes made of rotated copies of the news (comma-separated)")
    ap.add_argument("--code", type=Path, default=ROOT, help="the checkout whose qa builds (e.g. an older commit's)")
    ap.add_argument(
        "--model",
        choices=MODELS,
        default="fake",
        help="fake: the tests' model (the build's own memory, in minutes); default: the real default model, "
        "resident while it embeds (slow: about 7 minutes for 20,000 news articles here)",
    )
    ap.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = ap.parse_args(argv)
    news = read_news()
    results: list[Footprint] = []
    with tempfile.TemporaryDirectory(prefix="qa-footprint-") as tmp:
        for size in [int(s) for s in args.articles.split(",") if s]:
            results.append(measure_build(news[:size], min(size, len(news)), False, Path(tmp), args.code, args.model))
            print(render([results[-1]]).splitlines()[-1], file=sys.stderr)
        for size in [int(s) for s in args.synthetic.split(",") if s]:
            copies = -(-size // len(news))
            rows = list(scaled_rows(news, copies))[:size]
            results.append(measure_build(rows, size, True, Path(tmp), args.code, args.model))
            print(render([results[-1]]).splitlines()[-1], file=sys.stderr)
    print(render(results))
    if args.out:
        args.out.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


def render(results: list[Footprint]) -> str:
    """Markdown for docs/BENCHMARKS.md: one row per build."""
    roles = ("chunks", "articles", "vectors", "dense", "lexical")
    head = "| articles | chunks | build s | peak RSS MB | bytes/article | " + " | ".join(roles) + " (bytes/article) |"
    lines = [head, "| " + " | ".join(["---"] * (5 + len(roles))) + " |"]
    for r in results:
        label = f"{r.articles:,}" + (" synthetic" if r.synthetic else " news")
        cells = [label, f"{r.chunks:,}", f"{r.seconds:.0f}", f"{r.peak_rss_mb:,.0f}", f"{r.bytes_per_article:,.0f}"]
        cells += [f"{r.bytes_by_role.get(role, 0) / r.articles:,.0f}" for role in roles]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
