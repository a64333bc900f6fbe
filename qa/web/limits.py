"""Sharing the app: who may come in (a login), and how fast one client may ask.

No Gradio here: the server passes the login to Gradio's `auth=`, and the page
asks the limiter before each question.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa.errors import QAError


def add_sharing_options(ap: argparse.ArgumentParser) -> None:
    """--auth, --auth-file, --read-only, --allow-private-urls and --rate-limit (here and in `qa serve`)."""
    login = ap.add_mutually_exclusive_group()
    login.add_argument(
        "--auth", metavar="USER:PASSWORD", help="require this login for every page and API call (or set QA_AUTH)"
    )
    login.add_argument("--auth-file", metavar="FILE", help="read the login from FILE (one user:password line)")
    ap.add_argument(
        "--read-only",
        action="store_true",
        help="visitors can only ask and read: no upload and no rebuild (controls and their endpoints are absent)",
    )
    ap.add_argument(
        "--allow-private-urls",
        action="store_true",
        help="beyond loopback, let Add by URL (and feed syncs) fetch loopback, link-local and private addresses too "
        "(refused by default: visitors could otherwise read your intranet through the app)",
    )
    ap.add_argument(
        "--rate-limit",
        type=float,
        default=10.0,
        metavar="N",
        help="questions per second one client address may ask (default: 10)",
    )


def sharing_argv(args: argparse.Namespace) -> list[str]:
    """The sharing options of args as command-line words (qa serve hands them on)."""
    out = ["--auth", args.auth] if args.auth else []
    out += ["--auth-file", args.auth_file] if args.auth_file else []
    out += ["--read-only"] if args.read_only else []
    out += ["--allow-private-urls"] if args.allow_private_urls else []
    return out + ["--rate-limit", f"{args.rate_limit:g}"]


class AuthError(QAError):
    """A login given on the command line, in a file or in QA_AUTH cannot be used."""


@dataclass(frozen=True)
class Login:
    """The one user name and password the app asks for (Gradio's login page)."""

    user: str
    password: str

    @classmethod
    def parse(cls, value: str, where: str) -> Login:
        """'user:password' (the password may hold ':'); AuthError naming where it came from otherwise."""
        user, sep, password = value.strip().partition(":")
        if not sep or not user.strip() or not password:
            raise AuthError(f"{where} must look like USER:PASSWORD (both non-empty)")
        return cls(user.strip(), password)

    @classmethod
    def from_file(cls, path: str | Path) -> Login:
        """The first non-empty, non-comment line of path."""
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise AuthError(f"cannot read the --auth-file {path}: {exc}") from None
        line = next((s for s in lines if s.strip() and not s.lstrip().startswith("#")), "")
        return cls.parse(line, f"the line in {path}")

    def pair(self) -> tuple[str, str]:
        return self.user, self.password


class RateLimiter:
    """A token bucket per client key (an IP address): `rate` questions a second, bursts up to `burst`.

    Memory is bounded: past `max_clients` keys the least recently seen one is dropped
    (a dropped client starts again with a full bucket, which only ever errs on the kind side).
    """

    def __init__(
        self,
        rate: float = 10.0,
        burst: float | None = None,
        max_clients: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ):
        if rate <= 0:
            raise ValueError(f"the rate limit must be positive, got {rate}")
        self.rate, self.burst = float(rate), float(burst if burst is not None else max(rate, 1.0))
        self.max_clients, self._clock = max_clients, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, time)
        self._lock = threading.Lock()

    def allow(self, key: str | None) -> bool:
        """Take one token for key; False when its bucket is empty."""
        key = key or "?"
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            ok = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if ok else tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return ok

    def message(self) -> str:
        return f"too many questions from your address (at most {self.rate:g} a second); wait a moment and ask again"

    def __len__(self) -> int:
        return len(self._buckets)
