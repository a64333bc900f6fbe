"""RSS and Atom feeds: remember them in corpus/feeds.txt and save their new entries as articles.

Each entry becomes `feeds/<feed>/<entry>.md` (the same front matter as
`qa add`), keyed by its guid, else its link. An entry that carries the full
article is saved from the feed itself; one that carries a teaser has its
linked page fetched as `qa add` does. The date is the entry's own.

What has been seen lives in `feeds/.state.json` (hidden: ingest never reads
it): per feed its ETag / Last-Modified for conditional requests, and per
entry the file it went to and a fingerprint of the entry. A sync where
nothing changed therefore costs one request per feed (often a 304) and
fetches no article page; an entry whose fingerprint changed is saved again.
A file the user deleted stays deleted while its entry is unchanged.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .clean import clean_text, normalize_date
from .errors import CorpusError
from .fetch import FEEDS, PAGES, Failure, Fetcher, FetchError, FetchOptions, as_failure, normalize_url
from .ingest import FEEDS_FILE, Extracted, UnreadableError, html_to_text
from .store import atomic_write_bytes
from .webpage import (
    Saved,
    corpus_root,
    host_name,
    owned_path,
    page_text,
    render,
    safe_dir,
    slugify,
    url_slug,
    write_if_changed,
)

FEEDS_DIR = "feeds"
STATE_FILE = f"{FEEDS_DIR}/.state.json"
# An entry's own text counts as the full article from this many characters on. Measured on the
# 20,889 articles in shared/data/news: a lead paragraph is under 240 characters in 99% of BBC
# stories, a 55-word excerpt (WordPress's default teaser) under 375, and even two lead paragraphs
# reach 1,000 in only 11.5%; while 93% of full BBC stories are longer. Mistaking a full article
# for a teaser costs one page fetch; the other way round would lose the article, hence the margin.
FULL_TEXT_CHARS = 1000
# How teasers end: "...", "[…]", "Read more", "Continue reading →", "Read the full story".
_TEASER_END = re.compile(r"(?:\.\.\.|…|\[(?:…|\.\.\.)\]|read more|continue reading|read the full \w+)\W*$", re.I)
_SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")  # the folder and file stems this module makes


@dataclass
class FeedReport:
    """What a sync did, over all the feeds synced."""

    feeds: int = 0
    new: list[Saved] = field(default_factory=list)
    updated: list[Saved] = field(default_factory=list)
    unchanged: int = 0
    failed: list[Failure] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The `qa feed sync --json` object: counts, and the failures with their reasons."""
        return {
            "feeds": self.feeds,
            "new": len(self.new),
            "updated": len(self.updated),
            "unchanged": self.unchanged,
            "failed": [f.to_dict() for f in self.failed],
        }

    def summary(self) -> str:
        return (
            f"{self.feeds} feed(s): {len(self.new)} new, {len(self.updated)} updated, "
            f"{self.unchanged} unchanged, {len(self.failed)} failed"
        )


@dataclass(frozen=True)
class _Entry:
    """One feed item, reduced to what deciding and saving need."""

    key: str
    fingerprint: str
    title: str | None
    link: str | None
    date: str | None
    text: str  # the entry's own text (from its content or summary), possibly a teaser

    @property
    def is_full(self) -> bool:
        tail = self.text.rstrip()[-300:]
        return len(self.text) >= FULL_TEXT_CHARS and not _TEASER_END.search(tail)


def feed_list(corpus: str | Path) -> list[str]:
    """The feed URLs in corpus/feeds.txt (blank lines and # comments ignored), without repeats."""
    path = Path(corpus) / FEEDS_FILE
    if not path.exists():
        return []
    urls: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and line not in urls:
            urls.append(line)
    return urls


def add_feed(
    corpus: str | Path, url: str, *, options: FetchOptions | None = None, fetcher: Fetcher | None = None
) -> FeedReport:
    """Sync the feed once; if it can be read, remember it in feeds.txt (once). A feed that fails is not kept."""
    root = corpus_root(corpus)
    url = normalize_url(url)
    report = sync_feeds(root, urls=[url], options=options, fetcher=fetcher)
    feed_failure = next((f for f in report.failed if f.url == url), None)
    if feed_failure is not None:
        raise FetchError(url, f"{feed_failure.reason}; the feed was not added")
    if url not in {_normalized(u) for u in feed_list(root)}:
        path = root / FEEDS_FILE
        existing = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        sep = "" if not existing or existing.endswith("\n") else "\n"
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{sep}{url}\n")
    return report


def sync_feeds(
    corpus: str | Path,
    *,
    urls: Iterable[str] | None = None,
    options: FetchOptions | None = None,
    fetcher: Fetcher | None = None,
) -> FeedReport:
    """Fetch every feed (default: those in feeds.txt) and save the entries not seen before or changed."""
    root = corpus_root(corpus)
    feeds = list(urls) if urls is not None else feed_list(root)
    report = FeedReport(feeds=len(feeds))
    state = _load_state(root)
    own = fetcher is None
    fetcher = fetcher or Fetcher(options)
    try:
        for url in feeds:
            try:
                _sync_one(root, normalize_url(url), state, fetcher, report)
            except Exception as e:  # noqa: BLE001 - one feed's problem never stops the others
                report.failed.append(as_failure(url, e))
            finally:
                _save_state(root, state)  # what was saved so far is remembered even if a later feed fails
    finally:
        if own:
            fetcher.close()
    return report


def _sync_one(root: Path, url: str, state: dict, fetcher: Fetcher, report: FeedReport) -> None:
    feed_state = state["feeds"].get(url) or {}
    got = fetcher.get(url, FEEDS, etag=feed_state.get("etag"), last_modified=feed_state.get("last_modified"))
    feed_state = state["feeds"].setdefault(url, feed_state)
    feed_state.setdefault("entries", {})
    if got.not_modified:
        report.unchanged += len(feed_state["entries"])
        return
    import feedparser

    # Bytes, not a str: feedparser would fetch a str that looks like a URL itself.
    parsed = feedparser.parse(io.BytesIO(got.body), response_headers={"content-type": got.content_type})
    if not parsed.entries and (parsed.bozo or not parsed.feed):
        problem = getattr(parsed, "bozo_exception", None) or "no entries"
        raise FetchError(url, f"not a readable RSS or Atom feed ({problem})")
    source = _clean(parsed.feed.get("title")) or host_name(url)
    folder = f"{FEEDS_DIR}/{_feed_folder(url, state)}"
    feed_state["folder"] = folder.split("/", 1)[1]
    failures = len(report.failed)
    for raw in parsed.entries:
        try:
            entry = _entry(raw)
            known = feed_state["entries"].get(entry.key)
            if known is not None and known.get("fingerprint") == entry.fingerprint:
                report.unchanged += 1
                continue
            saved = _save_entry(root, folder, entry, source, known, fetcher)
        except Exception as e:  # noqa: BLE001 - one entry's problem never stops the others
            report.failed.append(as_failure(_clean(raw.get("link")) or url, e))
            continue
        feed_state["entries"][entry.key] = {"file": Path(saved.path).name, "fingerprint": entry.fingerprint}
        if saved.status == "unchanged":
            report.unchanged += 1
        else:
            (report.new if known is None else report.updated).append(saved)
    # Validators are kept only once every entry is saved: after a crash or a failed entry, the next
    # sync reads the whole feed again (and retries that entry) instead of getting a 304.
    clean = len(report.failed) == failures
    feed_state["etag"], feed_state["last_modified"] = (got.etag, got.last_modified) if clean else (None, None)


def _save_entry(root: Path, folder: str, entry: _Entry, source: str, known: dict | None, fetcher: Fetcher) -> Saved:
    """Write the entry from its own text if it is the full article, else from its linked page."""
    if entry.is_full:
        page = Extracted(text=entry.text, title=entry.title, date=entry.date, source=source, url=entry.link)
    elif entry.link:
        fetched = page_text(fetcher.get(entry.link, PAGES))
        page = Extracted(
            text=fetched.text,
            title=entry.title or fetched.title,
            date=entry.date or fetched.date,
            source=source,
            url=entry.link,
        )
    else:
        raise UnreadableError(f"entry {entry.key}: only a teaser and no link to the article")
    directory = safe_dir(root, folder)
    name = known.get("file") if known else None
    if name and name.endswith(".md") and _SAFE_NAME.fullmatch(name[:-3]):  # the state file is not trusted blindly
        target = directory / name
    else:
        stem = slugify(entry.title or "") or url_slug(entry.link or "") or "entry"
        target = owned_path(directory, stem, page.url or entry.key)
    status = write_if_changed(target, render(page))
    return Saved(url=entry.link or entry.key, path=target.relative_to(root).as_posix(), status=status)


def _entry(raw: Any) -> _Entry:
    link = _clean(raw.get("link"))
    texts = [c.get("value", "") for c in raw.get("content", []) or []] + [raw.get("summary", "") or ""]
    text = max((html_to_text(t) if "<" in t else t for t in texts if t.strip()), key=len, default="")
    text = clean_text(text).text if text else ""
    key = _clean(raw.get("id")) or link or hashlib.sha256(json.dumps([raw.get("title"), text]).encode()).hexdigest()
    stamp = raw.get("published_parsed") or raw.get("updated_parsed")
    when = date(*stamp[:3]).isoformat() if stamp else normalize_date(raw.get("published") or raw.get("updated"))
    fingerprint = hashlib.sha256(
        json.dumps([raw.get("title"), link, texts, raw.get("updated")], ensure_ascii=False, default=str).encode()
    ).hexdigest()[:16]
    return _Entry(key=key, fingerprint=fingerprint, title=_clean(raw.get("title")), link=link, date=when, text=text)


def _feed_folder(url: str, state: dict) -> str:
    """The folder of a feed under feeds/: kept once chosen; a slug of its URL, hash-suffixed if taken."""
    mine = state["feeds"].get(url, {}).get("folder")
    if mine and _SAFE_NAME.fullmatch(mine):
        return mine
    parts = url.split("://", 1)[-1]
    stem = slugify(f"{host_name(url)} {parts.split('/', 1)[1] if '/' in parts else ''}") or "feed"
    taken = {s.get("folder") for u, s in state["feeds"].items() if u != url}
    if stem in taken:
        stem = f"{stem}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"
    return stem


def _normalized(url: str) -> str:
    try:
        return normalize_url(url)
    except FetchError:
        return url


def _clean(value: Any) -> str | None:
    return (" ".join(value.split()) or None) if isinstance(value, str) else None


def _load_state(root: Path) -> dict:
    path = root / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": 1, "feeds": {}}
    except (OSError, ValueError) as e:
        raise CorpusError(
            f"{path} is unreadable ({e}); delete it to start over (entries are then saved again)"
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("feeds"), dict):
        raise CorpusError(f"{path} is not a feed state file; delete it to start over")
    return state


def _save_state(root: Path, state: dict) -> None:
    directory = safe_dir(root, FEEDS_DIR)
    text = json.dumps(state, ensure_ascii=False, indent=1, sort_keys=True)
    atomic_write_bytes(directory / Path(STATE_FILE).name, text.encode("utf-8"))
