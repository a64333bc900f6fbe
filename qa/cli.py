"""The `qa` command: a thin layer over the Python API."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .errors import QAError


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
    b.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                   help="wait this long for another running build instead of stopping")

    a = sub.add_parser("ask", help="answer a question with cited passages")
    a.add_argument("question")
    a.add_argument("-k", type=int, default=5, help="number of passages (default: 5)")
    a.add_argument("--mode", choices=("hybrid", "dense", "lexical"), default="hybrid")
    a.add_argument("--source", action="append", dest="sources", metavar="SOURCE",
                   help="only articles from this source (repeatable)")
    a.add_argument("--since", help="only articles dated on or after YYYY-MM-DD")
    a.add_argument("--until", help="only articles dated on or before YYYY-MM-DD")
    a.add_argument("--diversity", type=float, default=None, help="MMR diversity 0..1 (default: off)")
    _add_common(a)

    s = sub.add_parser("status", help="show the index and whether the corpus changed since")
    _add_common(s, corpus=True)

    v = sub.add_parser("serve", help="start the web app (same as python ui.py)")
    v.add_argument("--corpus", default="corpus")
    v.add_argument("--index", default="index")
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--port", type=int, default=7860)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)  # libraries may set their own loggers to DEBUG
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
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

    report = build(args.corpus, args.index, full=args.full,
                   progress=False if (args.quiet or args.json) else None, lock_timeout=args.wait)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(report.summary())
        for s in report.skipped:
            print(f"  skipped {s}")
    return 0


def cmd_ask(args) -> int:
    from .retriever import Retriever

    answer = Retriever.load(args.index).ask(
        args.question, k=args.k, mode=args.mode, sources=args.sources, since=args.since,
        until=args.until, diversity=args.diversity, auto_refresh=False,
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
        best = answer.passages[0]
        lines.append(f"{best.highlight_text} [1]")
    lines.append("")
    for p in answer.passages:
        meta = ", ".join(x for x in (p.source, p.date) if x)
        lines.append(f"[{p.rank}] {p.title}" + (f" ({meta})" if meta else "") + f"  score {p.score:.3f}")
        lines.append(f"    {p.article_id} chars {p.start}-{p.end}")
        a, b = p.highlight[0] - p.start, p.highlight[1] - p.start
        body = p.text[:a] + ">>" + p.text[a:b] + "<<" + p.text[b:]
        lines.append("    " + body.replace("\n", "\n    "))
        for other in p.also_in:
            lines.append(f"    also in: {other['title']} ({other['article_id']})")
        lines.append("")
    return "\n".join(lines).rstrip()


def corpus_status(corpus: Path, index: Path) -> dict:
    """Index facts plus whether the corpus differs from what was indexed."""
    from . import store
    from .domain import Skipped
    from .ingest import iter_corpus

    m = store.read_manifest(index).data
    seen = {}
    if corpus.is_dir():
        for item in iter_corpus(corpus):
            if not isinstance(item, Skipped):
                seen[item.id] = item.hash
    old = {aid: e["hash"] for aid, e in m["articles"].items()}
    added = sorted(set(seen) - set(old))
    deleted = sorted(set(old) - set(seen))
    changed = sorted(a for a in set(seen) & set(old) if seen[a] != old[a])
    return {
        "index": str(index), "corpus": str(corpus), "model": m["model"]["id"],
        "documents": m["counts"]["documents"], "chunks": m["counts"]["chunks"],
        "built_at": m["built_at"], "dense": m["dense"]["type"],
        "corpus_changed": bool(added or deleted or changed),
        "added": added, "changed": changed, "deleted": deleted,
    }


def cmd_status(args) -> int:
    st = corpus_status(Path(args.corpus), Path(args.index))
    if args.json:
        print(json.dumps(st))
        return 0
    print(f"index      {st['index']} (built {st['built_at']})")
    print(f"model      {st['model']}")
    print(f"documents  {st['documents']}, chunks {st['chunks']}, dense search {st['dense']}")
    if st["corpus_changed"]:
        print(f"corpus     changed since the build: {len(st['added'])} added, {len(st['changed'])} changed, "
              f"{len(st['deleted'])} deleted; run `qa build`")
    else:
        print("corpus     unchanged since the build")
    return 0


def cmd_serve(args) -> int:
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    try:
        import ui
    except ImportError:
        raise QAError("the web app (ui.py) is not beside the qa package; run this from the project folder") from None
    return ui.main(["--corpus", args.corpus, "--index", args.index, "--host", args.host, "--port", str(args.port)])


COMMANDS = {"build": cmd_build, "ask": cmd_ask, "status": cmd_status, "serve": cmd_serve}
