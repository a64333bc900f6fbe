"""A local HTTP server for fetching tests: 127.0.0.1, port 0, in a thread; it counts every request.

No test that uses it reaches any other host. Routes are set per test:
pages, feeds, redirects, errors, huge bodies, and resources with an ETag or
a Last-Modified date that answer 304 to a matching conditional request.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    content_length: bool = True  # False: no Content-Length, the body ends when the connection closes
    stream: Callable[[], object] | None = None  # yields the body in chunks instead of `body`


class LocalServer:
    """Use as a context manager; `url(path)` gives the address of a route."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, headers) in arrival order
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with server._lock:
                    server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                if (route.etag and self.headers.get("If-None-Match") == route.etag) or (
                    route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified
                ):
                    self.send_response(304)
                    self._validators(route)
                    self.end_headers()
                    return
                self.send_response(route.status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self._validators(route)
                if route.content_length and route.stream is None:
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                try:
                    for chunk in route.stream() if route.stream else [route.body]:
                        self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading: expected for caps
                    pass

            def _validators(self, route: Route) -> None:
                if route.etag:
                    self.send_header("ETag", route.etag)
                if route.last_modified:
                    self.send_header("Last-Modified", route.last_modified)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, body: bytes | str = b"", content_type: str = "text/html; charset=utf-8", **kw) -> str:
        """Serve body at path; returns the route's URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        headers = dict(kw.pop("headers", {}))
        if content_type:
            headers.setdefault("Content-Type", content_type)
        self.routes[path] = Route(body=data, headers=headers, **kw)
        return self.url(path)

    def redirect(self, path: str, to: str, status: int = 302) -> str:
        target = to if "://" in to or to.startswith(("javascript:", "file:", "ftp:")) else self.url(to)
        self.routes[path] = Route(status=status, headers={"Location": target})
        return self.url(path)

    def hits(self) -> Counter[str]:
        with self._lock:
            return Counter(path for path, _ in self.requests)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """A running LocalServer, shut down after the test (test modules bind it: `server = http_fixture.server`)."""
    with LocalServer() as s:
        yield s


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """An empty corpus folder to fetch into."""
    path = tmp_path / "corpus"
    path.mkdir()
    return path


def article_page(title: str, paragraphs: list[str], date: str = "2020-10-21", site: str = "Example News") -> str:
    """A news page as sites serve them: navigation, cookie banner, sidebar, related links, comments, footer."""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title} - {site}</title>
<meta property="og:site_name" content="{site}">
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="{date}T09:30:00Z">
<script>var tracking = "trackingScriptWord";</script><style>.x {{ color: red }}</style>
</head><body>
<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav></header>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies</div>
<main><article><h1>{title}</h1><p class="byline">By Staff Reporter</p>
{body}
</article>
<aside><h3>Related articles</h3><ul><li><a href="/a">Sidebar headline one</a></li>
<li><a href="/b">Sidebar headline two</a></li></ul></aside></main>
<section class="comments"><h3>Comments</h3><p>First! commentWord</p></section>
<footer><p>Copyright © 2020 {site}. All rights reserved.</p><a href="/privacy">Privacy</a></footer>
</body></html>"""
