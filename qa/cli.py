"""The `qa` command: a thin layer over the Python API."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .errors import QAError
from .logs import setup_logging, show_info


def _add_common(p: argparse.ArgumentParser, corpus: bool = False) -> None:
    p.add_argument("--index", default="index", help="index directory (default: index)")
    if corpus:
        p.add_argument("--corpus", default="corpus", help="corpus directory (default: corpus)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="qa", description="Cited question answering over your articles.")
    sub = ap.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build or update the index from the corpus")
    _add_common(b, corpus=True)
    b.add_argument("--full", action="store_true", help="rebuild from scratch (ignore the old index and cache)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.add_argument(
        "--model",
        default=None,
        metavar="PATH",
        help="a local sentence-transformers model folder to build a new index with (default: the bundled "
        "all-MiniLM-L6-v2); an index built with another model needs --full",
    )
    b.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="wait this long for another running build instead of stopping",
    )
    b.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help='local: this process; ray: a Ray Data pipeline (pip install -e ".[ray]"), see README',
    )
    b.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="with --engine ray: the cluster (head host:6379, or auto); default: a local Ray runtime",
    )
    b.add_argument(
        "--actors",
        type=int,
        default=None,
        metavar="N",
        help="with --engine ray: embedding actors (default: one per 4 cluster CPUs)",
    )

    a = sub.add_parser("ask", help="answer a question with cited passages")
    a.add_argument("question")
    a.add_argument("-k", type=int, default=5, help="number of passages (default: 5)")
    a.add_argument("--mode", choices=("hybrid", "dense", "lexical"), default="hybrid")
    a.add_argument(
        "--source",
        action="append",
        dest="sources",
        metavar="SOURCE",
        help="only articles from this source (repeatable)",
    )
    a.add_argument(
        "--since", help="only articles dated on or after this: YYYY-MM-DD, 2021, 2021-06, 'last month', '7 days ago'"
    )
    a.add_argument("--until", help="only articles dated on or before this (same forms; a period counts to its end)")
    a.add_argument(
        "--sort",
        choices=("relevance", "newest"),
        default="relevance",
        help="order of the k best passages (default: relevance)",
    )
    a.add_argument("--diversity", type=float, default=None, help="MMR diversity 0..1 (default: off)")
    _add_common(a)
    from .web.options import add_settings_option, add_sync_feeds_option, add_watch_options  # no Gradio here

    add_settings_option(a)

    s = sub.add_parser("status", help="show the index and whether the corpus changed since")
    _add_common(s, corpus=True)

    e = sub.add_parser("eval", help="measure retrieval on a BEIR folder or a questions file")
    e.add_argument("dataset", help="a BEIR folder (corpus, queries, qrels) or a questions .jsonl file")
    e.add_argument(
        "--index",
        default=None,
        help="index directory; for a BEIR folder it is built (and reused) there "
        "(default: $QA_BENCH_CACHE or ~/.cache/qa/bench, then <name>-c<chunk tokens>, "
        "plus -int8 for the int8 model)",
    )
    e.add_argument(
        "--corpus",
        default=None,
        help="questions file only: build or update --index first from this corpus folder or articles .jsonl[.gz] file",
    )
    e.add_argument("--qrels", default=None, help="judgments TSV (default: qrels_test.tsv, else qrels.tsv)")
    e.add_argument("--mode", choices=("hybrid", "dense", "lexical"), default="hybrid")
    e.add_argument("-k", type=int, default=5, help="passages per question for a questions file (default: 5)")
    e.add_argument(
        "--max-queries",
        type=int,
        default=None,
        metavar="N",
        help="a fixed subset of N queries (the same N ids every run)",
    )
    e.add_argument(
        "--split",
        choices=("dev", "test"),
        default=None,
        help="questions file only: the dev or test half (by the sha256 of the id, or of `group`); "
        "choose settings on dev, publish test",
    )
    e.add_argument("--chunk-tokens", type=int, default=None, metavar="N", help="chunk budget (default: Config)")
    e.add_argument("--fusion", choices=("convex", "rrf"), default=None, help="hybrid fusion (default: Config)")
    e.add_argument("--dense-weight", type=float, default=None, metavar="W", help="convex fusion weight of dense")
    e.add_argument(
        "--dense-norm",
        choices=("minmax", "max", "raw"),
        default=None,
        help="convex fusion: how dense scores are scaled",
    )
    e.add_argument("--rrf-k", type=int, default=None, metavar="K", help="reciprocal-rank fusion constant")
    e.add_argument(
        "--highlight",
        choices=("lexical", "dense", "both"),
        default=None,
        help="how the answering sentence is picked (default: Config)",
    )
    e.add_argument(
        "--rerank-passages",
        type=int,
        default=None,
        metavar="N",
        help="passages reordered by their best sentence; 0 = chunk order (default: Config)",
    )
    e.add_argument("--details", default=None, metavar="FILE", help="write one JSON line per query here")
    e.add_argument(
        "--grid",
        action="store_true",
        help="compare single modes and a grid of fusion settings (for tuning on development data)",
    )
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    add_settings_option(e)

    w = sub.add_parser("add", help="fetch web pages (or PDFs) and save their articles in the corpus")
    w.add_argument("urls", nargs="+", metavar="URL", help="http(s) address of an article")
    w.add_argument("--corpus", default="corpus", help="corpus directory (default: corpus)")
    w.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    f = sub.add_parser("feed", help="follow RSS/Atom feeds: their new entries become articles")
    fsub = f.add_subparsers(dest="feed_command", required=True)
    fa = fsub.add_parser("add", help="remember a feed in <corpus>/feeds.txt and sync it")
    fa.add_argument("url", metavar="URL")
    fa.add_argument("--corpus", default="corpus", help="corpus directory (default: corpus)")
    fs = fsub.add_parser("sync", help="fetch every feed in <corpus>/feeds.txt and save new entries")
    fs.add_argument("--corpus", default="corpus", help="corpus directory (default: corpus)")
    fs.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    t = sub.add_parser("watch", help="rebuild the index whenever the corpus changes (Ctrl-C stops)")
    t.add_argument("--corpus", default="corpus", help="corpus directory (default: corpus)")
    t.add_argument("--index", default="index", help="index directory (default: index)")
    add_sync_feeds_option(t)

    v = sub.add_parser("serve", help="start the web app (same as python ui.py)")
    v.add_argument("--corpus", default="corpus")
    v.add_argument("--index", default="index")
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--port", type=int, default=7860)
    from .web.limits import add_sharing_options  # no Gradio here

    add_sharing_options(v)
    add_watch_options(v)
    add_settings_option(v)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging()
    try:
        return COMMANDS[args.command](args)
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # bad option values (dates, k)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def cmd_build(args) -> int:
    from .builder import build

    progress = False if (args.quiet or args.json) else None
    if progress is None:
        show_info("qa.embed")  # which model and runtime embed, when the model loads
    if args.engine == "ray":
        from .ray_engine import RayOptions, build_ray

        if args.actors is not None and args.actors < 1:
            raise ValueError("--actors must be at least 1")
        report = build_ray(
            args.corpus,
            args.index,
            full=args.full,
            progress=progress,
            lock_timeout=args.wait,
            options=RayOptions(address=args.address, embed_actors=args.actors),
            model=args.model,
        )
    elif args.address or args.actors:
        raise ValueError("--address and --actors need --engine ray")
    else:
        report = build(
            args.corpus, args.index, full=args.full, model=args.model, progress=progress, lock_timeout=args.wait
        )
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(report.summary())
        for s in report.skipped:
            print(f"  skipped {s}")
    return 0


def cmd_ask(args) -> int:
    from .config import Config
    from .retriever import Retriever

    config = Config().with_settings(args.settings, builds=False)
    answer = Retriever.load(args.index, config=config).ask(
        args.question,
        k=args.k,
        mode=args.mode,
        sources=args.sources,
        since=args.since,
        until=args.until,
        diversity=args.diversity,
        auto_refresh=False,
        sort=args.sort,
    )
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
        return 0
    print(format_answer(answer))
    return 0


def format_answer(answer) -> str:
    lines = []
    if answer.no_answer:
        lines.append(f"No passage clearly answers this ({answer.reason}). Closest passages:")
    elif answer.passages:
        best = min(answer.passages, key=lambda p: p.rank)  # the answering sentence, whatever the sort
        lines.append(f"{best.highlight_text} [{best.rank}]")
    lines.append("")
    for p in answer.passages:
        meta = ", ".join(x for x in (p.source, p.place, p.date) if x)
        lines.append(f"[{p.rank}] {p.title}" + (f" ({meta})" if meta else "") + f"  retrieval score {p.score:.3f}")
        lines.append(f"    {p.article_id} chars {p.start}-{p.end}")
        a, b = p.highlight[0] - p.start, p.highlight[1] - p.start
        body = p.text[:a] + ">>" + p.text[a:b] + "<<" + p.text[b:]
        lines.append("    " + body.replace("\n", "\n    "))
        for other in p.also_in:
            when = ", ".join(x for x in (other.get("source"), other.get("place"), other.get("date")) if x)
            lines.append(f"    also in: {other['title']} ({other['article_id']}{', ' + when if when else ''})")
        lines.append("")
    return "\n".join(lines).rstrip()


def cmd_status(args) -> int:
    from .status import corpus_status

    st = corpus_status(args.corpus, args.index)
    if args.json:
        print(json.dumps(st.to_dict()))
        return 0
    print(f"index      {st.index} (built {st.built_at})")
    print(f"model      {st.model}")
    print(st.embedding.line())
    print(f"documents  {st.documents}, chunks {st.chunks}, dense search {st.dense}")
    if st.corpus_changed:
        print(
            f"corpus     changed since the build: {len(st.added)} added, {len(st.changed)} changed, "
            f"{len(st.deleted)} deleted; run `qa build`"
        )
    else:
        print("corpus     unchanged since the build")
    return 0


def cmd_eval(args) -> int:
    from . import evaluate

    config = evaluate.config_with(
        chunk_tokens=args.chunk_tokens,
        fusion=args.fusion,
        dense_weight=args.dense_weight,
        dense_norm=args.dense_norm,
        rrf_k=args.rrf_k,
        highlight=args.highlight,
        rerank_passages=args.rerank_passages,
    ).with_settings(args.settings)
    show = sys.stderr.isatty() and not args.quiet
    data = Path(args.dataset)
    index = Path(args.index) if args.index else None
    if args.split and data.is_dir():
        raise evaluate.DatasetError("--split is for questions files; a BEIR folder's splits are its judgments: --qrels")
    if not data.is_dir() and args.corpus:
        evaluate.build_corpus(Path(args.corpus), index or Path("index"), config=config, progress=show)
    if args.grid:
        if data.is_dir():
            result = evaluate.grid_beir(
                data, index_dir=index, qrels_path=args.qrels, max_queries=args.max_queries, config=config, progress=show
            )
        else:
            result = evaluate.grid_questions(
                data, index or Path("index"), k=args.k, split=args.split, config=config, progress=show
            )
        print(json.dumps(result.to_dict()) if args.json else format_grid(result))
        return 0
    if data.is_dir():
        result = evaluate.evaluate_beir(
            data,
            index_dir=Path(args.index) if args.index else None,
            qrels_path=args.qrels,
            mode=args.mode,
            max_queries=args.max_queries,
            config=config,
            progress=show,
        )
    else:
        result = evaluate.evaluate_questions(
            data,
            index or Path("index"),
            mode=args.mode,
            k=args.k,
            max_queries=args.max_queries,
            split=args.split,
            config=config,
            progress=show,
        )
    if args.details:
        evaluate.write_details(result, Path(args.details))
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    print(f"{result.dataset}: {result.queries} queries, mode {result.mode}, {result.seconds:.1f}s")
    for name, value in result.metrics.items():
        shown = "n/a" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
        print(f"  {name:<22} {shown}")
    return 0


def format_grid(result) -> str:
    """One line per setting: its metrics side by side."""
    names = [n for n in next(iter(result.metrics.values())) if n not in ("answerable", "unanswerable")]
    lines = [
        f"{result.dataset}: {result.queries} queries, {result.seconds:.1f}s",
        f"{'setting':<22} " + " ".join(f"{n:>12}" for n in names),
    ]
    for label, m in result.metrics.items():
        lines.append(f"{label:<22} " + " ".join(f"{'n/a' if m[n] is None else m[n]:>12}" for n in names))
    return "\n".join(lines)


def cmd_add(args) -> int:
    from .webpage import add_urls

    report = add_urls(args.corpus, args.urls)
    _print_failures(report.failed)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        for saved in report.added + report.updated + report.unchanged:
            print(f"{saved.status:<9} {saved.path}  ({saved.url})")
        print(
            f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
            f"{len(report.failed)} failed"
        )
    return 1 if report.failed else 0


def cmd_feed(args) -> int:
    from . import feeds
    from .fetch import normalize_url

    if args.feed_command == "add":
        report = feeds.add_feed(args.corpus, args.url)
        print(f"following {normalize_url(args.url)} (listed in {Path(args.corpus) / feeds.FEEDS_FILE})")
    else:
        report = feeds.sync_feeds(args.corpus)
    _print_failures(report.failed)
    if getattr(args, "json", False):
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        for saved in report.new + report.updated:
            print(f"{'new' if saved in report.new else 'updated':<9} {saved.path}  ({saved.url})")
        print(report.summary())
    return 1 if report.failed else 0


def _print_failures(failures) -> None:
    for failure in failures:
        print(f"error: {failure.url}: {failure.reason}", file=sys.stderr)


def cmd_watch(args) -> int:
    import signal
    import threading

    from .watch import CorpusWatcher

    def built(report) -> None:
        print(f"built: {report.summary()}", flush=True)
        for s in report.skipped:
            print(f"  skipped {s}", flush=True)

    watcher = CorpusWatcher(
        args.corpus,
        args.index,
        on_build=built,
        on_sync=lambda report: print(f"feeds: {report.summary()}", flush=True),
        on_error=lambda exc: print(f"error: {exc}", file=sys.stderr, flush=True),
        sync_feeds_minutes=args.sync_feeds,
    )
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops as cleanly as Ctrl-C
        # Started as a background job by a script, a process inherits SIGINT ignored (and Python
        # keeps it so): `kill -INT` then did nothing. The watcher says "Ctrl-C stops", so it does.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    feeds = f", feeds every {args.sync_feeds:g} min" if args.sync_feeds else ""
    print(f"watching {args.corpus} -> {args.index}{feeds} (Ctrl-C stops)", flush=True)
    watcher.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        watcher.stop()
        print(f"stopped watching {args.corpus}", flush=True)
    return 0


def cmd_serve(args) -> int:
    from .web import server
    from .web.limits import sharing_argv
    from .web.options import settings_argv, watch_argv

    argv = ["--corpus", args.corpus, "--index", args.index, "--host", args.host, "--port", str(args.port)]
    return server.main(argv + sharing_argv(args) + watch_argv(args) + settings_argv(args))


COMMANDS = {
    "build": cmd_build,
    "ask": cmd_ask,
    "status": cmd_status,
    "eval": cmd_eval,
    "add": cmd_add,
    "feed": cmd_feed,
    "watch": cmd_watch,
    "serve": cmd_serve,
}
