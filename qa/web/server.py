"""The web server's command line: `python ui.py` and `qa serve` both end here.

python ui.py [--corpus corpus] [--index index] [--host 127.0.0.1] [--port 7860]
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import threading
from pathlib import Path

from qa.logs import setup_logging
from qa.upload import MAX_UPLOAD_BYTES
from qa.web.app import QAApp
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
    return ap


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
    if not is_loopback(args.host):
        print(
            f"warning: listening on {args.host}: anyone who can reach this machine can ask questions, "
            "upload files into the corpus and start builds",
            file=sys.stderr,
        )
    app = QAApp(corpus, index_dir)
    if corpus.is_dir():
        _start_startup_build(app)
    threading.Thread(target=app.embedder, name="qa-model", daemon=True).start()  # warm the model
    return _launch(app, args.host, args.port)


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


def _launch(app: QAApp, host: str, port: int) -> int:
    demo = create_app(app)
    try:
        demo.queue(default_concurrency_limit=1).launch(
            server_name=host,
            server_port=port,
            share=False,
            inbrowser=False,
            max_file_size=MAX_UPLOAD_BYTES,
            **page_style(),
            footer_links=["api", "settings"],
            show_error=True,
            state_session_capacity=SESSION_CAPACITY,
        )
    except OSError as exc:
        print(f"error: cannot serve on {host}:{port} ({exc}); pass another --port", file=sys.stderr)
        return 1
    return 0
