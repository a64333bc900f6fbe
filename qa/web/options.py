"""The web server's watching options, shared by `python ui.py`, `qa serve` (and `qa watch`'s --sync-feeds),
and --set NAME=VALUE, which `qa ask` and `qa eval` take too.

No Gradio and no model here: the `qa` command line imports this to build its parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_settings_option(ap: argparse.ArgumentParser) -> None:
    """--set NAME=VALUE (repeatable): a Config setting for this run (Config.with_settings reads them)."""
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        dest="settings",
        metavar="NAME=VALUE",
        help="a setting of qa.Config for this run, e.g. --set max_missing_names=off or --set rerank_passages=5 "
        "(repeatable; docs/EVALUATION.md says what each was chosen by). Settings that shape the index "
        "(chunk_tokens, bm25_k1, hnsw_m, ...) only where this command builds one",
    )


def settings_argv(args: argparse.Namespace) -> list[str]:
    """The --set options of args as command-line words (qa serve hands them on)."""
    return [word for item in args.settings for word in ("--set", item)]


def add_sync_feeds_option(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--sync-feeds",
        type=float,
        default=None,
        metavar="MINUTES",
        help="also sync the feeds in <corpus>/feeds.txt every MINUTES (first at start)",
    )


def add_watch_options(ap: argparse.ArgumentParser) -> None:
    """--watch and --sync-feeds MINUTES."""
    ap.add_argument(
        "--watch",
        action="store_true",
        help="rebuild the index by itself whenever article files in the corpus change (as qa watch does)",
    )
    add_sync_feeds_option(ap)


def watch_argv(args: argparse.Namespace) -> list[str]:
    """The watching options of args as command-line words (qa serve hands them on)."""
    out = ["--watch"] if args.watch else []
    return out + (["--sync-feeds", f"{args.sync_feeds:g}"] if args.sync_feeds is not None else [])


def watch_error(args: argparse.Namespace) -> str | None:
    """Why the watching options cannot be used as given (None: they can)."""
    if args.sync_feeds is not None and not args.watch:
        return "--sync-feeds works with --watch: pass both to sync feeds and index their new entries"
    if args.sync_feeds is not None and not args.sync_feeds > 0:
        return "--sync-feeds must be a positive number of minutes"
    if args.watch and not Path(args.corpus).is_dir():
        return f"--watch needs the corpus directory; {args.corpus} does not exist (pass --corpus)"
    return None
