"""The web server's command line: `python ui.py` and `qa serve` both end here.

python ui.py [--corpus corpus] [--index index] [--host 127.0.0.1] [--port 7860]
             [--auth USER:PASSWORD | --auth-file FILE] [--read-only] [--allow-private-urls] [--rate-limit 10]
             [--watch [--sync-feeds MINUTES]]

Beyond loopback the server refuses to start unless visitors must log in
(--auth, --auth-file or $QA_AUTH) or can only ask (--read-only), and its
fetches (Add by URL, feed syncs) take public addresses only unless
--allow-private-urls. With --watch the index follows the corpus by itself
until the server stops.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading
from pathlib import Path

from qa import settings
from qa.config import Config, ConfigError
from qa.errors import QAError
from qa.fetch import FetchOptions
from qa.logs import setup_logging
from qa.upload import MAX_UPLOAD_BYTES
from qa.web.app import QAApp
from qa.web.limits import AuthError, Login, RateLimiter, add_sharing_options
from qa.web.options import add_settings_option, add_watch_options, watch_error
from qa.web.page import create_app, page_style

# Gradio keeps ~0.3 MB of state per session and every REST API call is a new session:
# its default of 10,000 sessions would let API clients grow the server by ~3 GB (bench/loadtest.py).
SESSION_CAPACITY = 256


def is_loopback(host: str) -> bool:
    """True if only this machine can reach host (then no warning is due)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ui.py", description="The qa web app (Gradio).")
    ap.add_argument("--corpus", default="corpus", help="corpus directory (default: corpus)")
    ap.add_argument("--index", default="index", help="index directory (default: index)")
    ap.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 opens the app to the network)",
    )
    ap.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    add_sharing_options(ap)
    add_watch_options(ap)
    add_settings_option(ap)
    return ap


def login_from(args: argparse.Namespace) -> Login | None:
    """The login asked for: --auth, else --auth-file, else $QA_AUTH, else None (AuthError if unusable)."""
    if args.auth:
        return Login.parse(args.auth, "--auth")
    if args.auth_file:
        return Login.from_file(args.auth_file)
    env = settings.web_auth()
    return Login.parse(env, "QA_AUTH") if env else None


def exposure_error(host: str, login: Login | None, read_only: bool) -> str | None:
    """Why the server must not start on host as configured (None: it may)."""
    if is_loopback(host) or login is not None or read_only:
        return None
    return (
        f"refusing to listen on {host} with no login and with uploads and rebuilds open to anyone who can reach "
        "this machine; pass --auth USER:PASSWORD (or --auth-file FILE, or set QA_AUTH) to require a login, "
        "and/or --read-only to let visitors only ask"
    )


def main(argv: list[str] | None = None) -> int:
    """Builds or updates the index in the background, then serves the page until interrupted."""
    args = parser().parse_args(argv)
    setup_logging()
    corpus, index_dir = Path(args.corpus), Path(args.index)
    if not corpus.is_dir() and not (index_dir / "manifest.json").exists():
        print(
            f"error: corpus directory {corpus} does not exist and there is no index in {index_dir}; "
            "pass --corpus with the folder that holds your articles",
            file=sys.stderr,
        )
        return 1
    try:
        login = login_from(args)
    except AuthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.rate_limit <= 0:
        print("error: --rate-limit must be a positive number of questions per second", file=sys.stderr)
        return 2
    try:
        config = Config().with_settings(args.settings, builds=False)  # for answers; builds keep the index's own
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bad_watch = watch_error(args)
    if bad_watch:
        print(f"error: {bad_watch}", file=sys.stderr)
        return 2
    refused = exposure_error(args.host, login, args.read_only)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        who = "whoever logs in" if login else "anyone who can reach this machine"
        can = (
            "ask questions"
            if args.read_only
            else "ask questions, upload files and add web pages into the corpus, and start builds"
            + (" (web pages from your private network too: --allow-private-urls)" if args.allow_private_urls else "")
        )
        print(f"warning: listening on {args.host}: {who} can {can}", file=sys.stderr)
    # On loopback only this machine's user can ask for a fetch: their own network is theirs to read.
    private = is_loopback(args.host) or args.allow_private_urls
    app = QAApp(
        corpus,
        index_dir,
        read_only=args.read_only,
        limiter=RateLimiter(args.rate_limit),
        fetch_options=FetchOptions(allow_private=private),
        config=config,
    )
    if args.watch:
        return _serve_watching(app, args, login)
    if corpus.is_dir():
        _start_startup_build(app)
    threading.Thread(target=app.warm, name="qa-model", daemon=True).start()  # load the models now
    return _launch(app, args.host, args.port, login)


def _serve_watching(app: QAApp, args: argparse.Namespace, login: Login | None) -> int:
    """Serve while the watcher keeps the index in step (its first build runs at once); stop it with the server."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops as cleanly as Ctrl-C
    feeds = f", feeds every {args.sync_feeds:g} min" if args.sync_feeds else ""
    print(f"index: watching {app.corpus} -> {app.index_dir}{feeds}", flush=True)
    try:
        app.watch(args.sync_feeds, report=_print_line)
    except QAError as exc:  # e.g. the inotify watch limit
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        threading.Thread(target=app.warm, name="qa-model", daemon=True).start()
        return _launch(app, args.host, args.port, login)
    except KeyboardInterrupt:  # before the server was up (once up, Gradio takes Ctrl-C and returns)
        return 130
    finally:
        _stop_watching(app)


def _stop_watching(app: QAApp) -> None:
    """Stop the watcher once its build in progress has finished; a second Ctrl-C leaves at once, which is
    safe too: a build commits by replacing manifest.json, so one cut short leaves the last complete index."""
    try:
        app.stop_watching()
    except KeyboardInterrupt:
        print(
            f"stopped watching {app.corpus} without waiting for the build in progress "
            "(the index stays as its last complete build left it)",
            file=sys.stderr,
            flush=True,
        )
        return
    print(f"stopped watching {app.corpus}", flush=True)


def _print_line(line: str) -> None:
    """The watcher's lines: errors on stderr, the rest on stdout."""
    print(line, file=sys.stderr if ": error: " in line else sys.stdout, flush=True)


def _start_startup_build(app: QAApp) -> None:
    """Missing or older than the corpus: build (incrementally) before answering; the page shows progress."""
    first = not app.has_index()
    print(
        f"index: {'building' if first else 'checking'} {app.index_dir} from {app.corpus} in the background", flush=True
    )
    app.builder.start()
    threading.Thread(target=_report_startup_build, args=(app,), daemon=True).start()


def _report_startup_build(app: QAApp) -> None:
    state = app.builder.wait()
    if state.error:
        print(f"index: error: {state.error}", file=sys.stderr, flush=True)
    elif state.report is not None:
        print(f"index: {state.report.summary()}", flush=True)
        for s in state.report.skipped:
            print(f"  skipped {s}", flush=True)


def _launch(app: QAApp, host: str, port: int, login: Login | None = None) -> int:
    demo = create_app(app)
    try:
        demo.queue(default_concurrency_limit=1).launch(
            server_name=host,
            server_port=port,
            share=False,
            inbrowser=False,
            auth=[login.pair()] if login else None,
            auth_message="This qa app asks for a login." if login else None,
            # read-only: Gradio's own upload route takes nothing either (the corpus upload is absent anyway)
            max_file_size=1 if app.read_only else MAX_UPLOAD_BYTES,
            **page_style(),
            footer_links=["api", "settings"],
            show_error=True,
            state_session_capacity=SESSION_CAPACITY,
        )
    except OSError as exc:
        print(f"error: cannot serve on {host}:{port} ({exc}); pass another --port", file=sys.stderr)
        return 1
    return 0
