"""Fetch pages and feeds over HTTP(S) within limits that a stranger's server cannot stretch.

Everything `qa add` and `qa feed` download goes through `Fetcher.get`:
http and https only, a timeout per step and for the whole transfer, a size
cap enforced while streaming (on the decompressed bytes), at most a few
redirects (each hop checked again), and only the content types the caller
accepts. With `allow_private=False` (the web app, when it listens beyond
this machine) a host that resolves to a loopback, link-local or private
address is refused, at every hop, and the address actually connected to is
checked again (a DNS answer that changes between the check and the connect
is caught). Every failure is a `FetchError` whose message names the URL and
the reason in one line.

httpx is the client: it is already installed with Gradio, streams with a
byte cap, exposes the connected peer address, and does not follow redirects
unless asked, so each hop passes through the checks here.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from . import __version__
from .errors import QAError

log = logging.getLogger("qa.fetch")

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Accept:
    """The content types a caller takes, and how to name them in an error."""

    label: str
    types: frozenset[str]


PAGES = Accept("an HTML page or a PDF", frozenset({"text/html", "application/xhtml+xml", "application/pdf"}))
FEEDS = Accept(
    "an RSS or Atom feed",
    frozenset(
        {
            "application/rss+xml",
            "application/atom+xml",
            "application/rdf+xml",
            "application/x-rss+xml",
            "application/feed+xml",
            "application/xml",
            "text/xml",
        }
    ),
)


@dataclass(frozen=True)
class FetchOptions:
    """Limits of one fetcher. allow_private=False is for servers reachable by others (see module doc)."""

    timeout: float = 20.0  # seconds for each connect and each read
    total_timeout: float = 60.0  # seconds for the whole transfer, redirects included (a slow drip stops too)
    max_bytes: int = DEFAULT_MAX_BYTES
    max_redirects: int = 5
    allow_private: bool = True
    user_agent: str = f"qa/{__version__} (self-hosted article search)"


@dataclass(frozen=True)
class Fetched:
    """One response body (or a 304) and what the saving side needs from its headers."""

    url: str  # as asked for (fragment dropped)
    final_url: str  # after redirects
    status: int  # 200..299, or 304 for a conditional request whose resource did not change
    content_type: str  # media type, lower case, without parameters ("" for a 304)
    charset: str | None
    body: bytes
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class Failure:
    """A URL that could not be brought in, and why (`--json` prints these as {"url", "reason"})."""

    url: str
    reason: str

    def to_dict(self) -> dict:
        return {"url": self.url, "reason": self.reason}


class FetchError(QAError):
    """A URL could not be fetched; `reason` is one line a user can act on."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason

    def failure(self) -> Failure:
        return Failure(self.url, self.reason)


def as_failure(url: str, exc: BaseException) -> Failure:
    """The one-line reason for anything that went wrong while bringing `url` in (the caller goes on)."""
    if isinstance(exc, FetchError):
        return exc.failure()
    if isinstance(exc, QAError):
        return Failure(url, str(exc))
    if isinstance(exc, OSError):
        return Failure(url, f"cannot save it: {exc.strerror or exc}")
    log.warning("unexpected error for %s", url, exc_info=exc)
    return Failure(url, f"unexpected error ({type(exc).__name__}: {exc})")


def normalize_url(url: str) -> str:
    """The URL without its fragment and surrounding space; FetchError unless it is an absolute http(s) URL."""
    url = url.strip() if isinstance(url, str) else ""
    parts = urlsplit(url)
    if not parts.scheme or (not parts.netloc and "." in parts.path.split("/")[0]):
        raise FetchError(url, "not a URL: give the full address, starting with http:// or https://")
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(url, f"only http and https URLs are fetched (got {parts.scheme}:)")
    try:
        host, _ = parts.hostname, parts.port
    except ValueError as e:  # a port that is not a number
        raise FetchError(url, f"not a valid URL ({e})") from None
    if not host:
        raise FetchError(url, "the URL has no host name")
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path or "/", parts.query, ""))


def is_public_address(address: str) -> bool:
    """True for globally routable unicast addresses; False for loopback, link-local, private, reserved."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is link-local anyway
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class Fetcher:
    """An HTTP client with the limits of `FetchOptions`; reuse one for many URLs, then close it."""

    def __init__(self, options: FetchOptions | None = None):
        import httpx

        self.options = options or FetchOptions()
        o = self.options
        self._client = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(o.timeout),
            headers={"User-Agent": o.user_agent},
            # No proxies from the environment where private addresses are refused: the peer check
            # below must see the real server, not a proxy.
            trust_env=o.allow_private,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(
        self,
        url: str,
        accept: Accept = PAGES,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Fetched:
        """GET url, following redirects by hand; conditional if etag/last_modified are given (may return 304)."""
        import httpx

        asked = normalize_url(url)
        deadline = time.monotonic() + self.options.total_timeout
        headers = {"Accept": ", ".join(sorted(accept.types)) + ", */*;q=0.1"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current, seen = asked, [asked]
        try:
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(asked, f"took longer than {self.options.total_timeout:g} s")
                self._check_host(asked, current)
                with self._client.stream("GET", current, headers=headers) as response:
                    self._check_peer(asked, current, response)
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECTS and location:
                        nxt = self._redirect_target(asked, current, location, seen)
                        seen.append(nxt)
                        current = nxt
                        continue
                    return self._read(asked, current, response, accept, deadline)
        except httpx.TimeoutException:
            raise FetchError(asked, f"timed out (no answer within {self.options.timeout:g} s)") from None
        except httpx.TransportError as e:  # connection refused, TLS failure, broken transfer, invalid URL
            raise FetchError(asked, f"cannot connect or read ({type(e).__name__}: {e or 'no detail'})") from None
        except httpx.HTTPError as e:
            raise FetchError(asked, f"HTTP error ({type(e).__name__}: {e})") from None

    def _redirect_target(self, asked: str, current: str, location: str, seen: list[str]) -> str:
        try:
            nxt = normalize_url(urljoin(current, location))
        except FetchError as e:
            raise FetchError(asked, f"redirected to a URL that is not fetched ({location}): {e.reason}") from None
        if nxt in seen:
            raise FetchError(asked, f"redirect loop (back to {nxt})")
        if len(seen) > self.options.max_redirects:
            raise FetchError(asked, f"more than {self.options.max_redirects} redirects")
        return nxt

    def _check_host(self, asked: str, url: str) -> None:
        """Refuse a host that resolves to a non-public address (every address it resolves to)."""
        if self.options.allow_private:
            return
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as e:
            raise FetchError(asked, f"cannot resolve host {host} ({e})") from None
        for info in infos:
            address = str(info[4][0])
            if not is_public_address(address):
                raise FetchError(asked, _private_reason(host, address))

    def _check_peer(self, asked: str, url: str, response) -> None:
        """The address actually connected to must be public too (DNS may answer differently the second time)."""
        if self.options.allow_private:
            return
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if not peer:
            raise FetchError(asked, "cannot tell which address was connected to; refused")
        if not is_public_address(str(peer[0])):
            raise FetchError(asked, _private_reason(urlsplit(url).hostname or "", str(peer[0])))

    def _read(self, asked: str, url: str, response, accept: Accept, deadline: float) -> Fetched:
        status = response.status_code
        etag, last_modified = response.headers.get("etag"), response.headers.get("last-modified")
        if status == 304:
            return Fetched(asked, url, 304, "", None, b"", etag, last_modified)
        if status >= 400:
            raise FetchError(asked, f"HTTP {status} {response.reason_phrase}".rstrip())
        if not 200 <= status < 300:
            raise FetchError(asked, f"unexpected HTTP status {status} {response.reason_phrase}".rstrip())
        media, charset = _content_type(response.headers.get("content-type", ""))
        if media not in accept.types:
            raise FetchError(asked, f"content type {media or 'missing'} is not {accept.label}")
        limit = self.options.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(asked, f"larger than {_mb(limit)} (Content-Length {_mb(int(declared))}); not downloaded")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise FetchError(asked, f"larger than {_mb(limit)}; stopped downloading")
            if time.monotonic() > deadline:
                raise FetchError(asked, f"took longer than {self.options.total_timeout:g} s; stopped downloading")
            chunks.append(chunk)
        return Fetched(asked, url, status, media, charset, b"".join(chunks), etag, last_modified)


def _content_type(value: str) -> tuple[str, str | None]:
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip("\"'")
    return media.strip().lower(), charset


def _private_reason(host: str, address: str) -> str:
    return (
        f"refused: {host} resolves to {address}, a loopback, link-local or private address "
        "(only public addresses are fetched here)"
    )


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.3g} MB"
