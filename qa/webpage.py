"""Turn fetched pages into article files in the corpus (`qa add`; `qa feed` saves entries the same way).

A page becomes `web/<host>/<slug>.md`: front matter (title, date, url,
source) that qa.ingest reads, then the main text. Names are derived, never
taken as given: a sanitised host and slug, inside the corpus only (no
symlinked folder is followed), never hidden. A file belongs to the URL in
its front matter, so adding the same URL again finds its file, and another
URL with the same slug gets a short hash suffix instead of overwriting it.
A file is rewritten only when what would be saved differs from what is there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlsplit

from .clean import clean_text
from .errors import CorpusError
from .fetch import PAGES, Failure, Fetched, Fetcher, FetchOptions, as_failure
from .ingest import Extracted, UnreadableError, decode_html, extract_html, extract_pdf, front_matter
from .store import atomic_write_bytes

WEB_DIR = "web"
MAX_SLUG = 80
Status = Literal["added", "updated", "unchanged"]
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_PAGE_SUFFIX = re.compile(r"\.(?:s?html?|php\d?|aspx?|jsp|cgi|pdf)$", re.I)
_GENERIC = {"index", "default", "article", "story", "content", "amp", "view"}


@dataclass(frozen=True)
class Saved:
    """Where one URL's article is in the corpus, and what this run did to the file."""

    url: str  # as given by the user (or the feed)
    path: str  # relative to the corpus, with "/"
    status: Status


@dataclass
class AddReport:
    """What `qa add` did. Every URL given lands in exactly one list."""

    added: list[Saved] = field(default_factory=list)
    updated: list[Saved] = field(default_factory=list)
    unchanged: list[Saved] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)

    def record(self, saved: Saved) -> None:
        getattr(self, saved.status).append(saved)

    def to_dict(self) -> dict:
        """The `qa add --json` object: the URLs as given, so a script can match them to its input."""
        return {
            "added": [s.url for s in self.added],
            "updated": [s.url for s in self.updated],
            "unchanged": [s.url for s in self.unchanged],
            "failed": [f.to_dict() for f in self.failed],
        }


def add_urls(
    corpus: str | Path,
    urls: Iterable[str],
    *,
    options: FetchOptions | None = None,
    fetcher: Fetcher | None = None,
) -> AddReport:
    """Fetch each URL and save its article under web/<host>/; one failure never stops the rest."""
    root = corpus_root(corpus)
    report = AddReport()
    own = fetcher is None
    fetcher = fetcher or Fetcher(options)
    try:
        for url in urls:
            try:
                fetched = fetcher.get(url, PAGES)
                page = page_text(fetched)
                report.record(save_article(root, web_folder(fetched.final_url), url_slug(fetched.final_url), page, url))
            except Exception as e:  # noqa: BLE001 - one URL's problem, whatever it is, never stops the rest
                report.failed.append(as_failure(str(url), e))
    finally:
        if own:
            fetcher.close()
    return report


def corpus_root(corpus: str | Path) -> Path:
    root = Path(corpus)
    if not root.is_dir():
        raise CorpusError(f"corpus directory {root} does not exist; create it or pass --corpus")
    return root


def page_text(fetched: Fetched) -> Extracted:
    """Main text and metadata of a fetched HTML page or PDF; UnreadableError if it has no article text."""
    if fetched.content_type == "application/pdf":
        ex = extract_pdf(fetched.body)
    else:
        html = decode_html(fetched.body, fetched.charset)
        ex = extract_html(html, url=fetched.final_url)
    if not clean_text(ex.text).text:
        raise UnreadableError("no article text found on the page")
    return Extracted(text=ex.text, title=ex.title, date=ex.date, source=ex.source, url=fetched.final_url)


def web_folder(url: str) -> str:
    return f"{WEB_DIR}/{host_name(url)}"


def host_name(url: str) -> str:
    """The host as a safe folder name: lower case, IDNA (punycode), only [a-z0-9.-]."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        host = slugify(host)
    host = re.sub(r"[^a-z0-9.-]+", "-", host.lower())
    host = re.sub(r"\.{2,}", ".", host).strip(".-")
    return host or "unknown-host"


def slugify(text: str, max_len: int = MAX_SLUG) -> str:
    """ASCII lower-case words joined by '-', cut at a word boundary; "" if nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0] if "-" in slug[:max_len] else slug[:max_len]
    return slug


def url_slug(url: str) -> str:
    """A readable name from the URL's path: /2020/10/nato-to-stay.html -> nato-to-stay; "" if none."""
    segments = [unquote(s) for s in urlsplit(url).path.split("/") if s]
    words: list[str] = []
    while segments:
        slug = slugify(_PAGE_SUFFIX.sub("", segments.pop()))
        if not slug or slug in _GENERIC:
            continue
        words.insert(0, slug)
        if not slug.isdigit():  # a bare number is an id: keep the segment before it too
            break
    return slugify("-".join(words))


def save_article(root: Path, folder: str, stem: str, page: Extracted, url: str) -> Saved:
    """Write the page as folder/<stem>.md (or a hash-suffixed name if another URL owns that one)."""
    key = page.url or url
    stem = stem or slugify(page.title or "") or "page"
    directory = safe_dir(root, folder)
    target = owned_path(directory, stem, key)
    content = render(page)
    status = write_if_changed(target, content)
    return Saved(url=url, path=target.relative_to(root).as_posix(), status=status)


def safe_dir(root: Path, folder: str) -> Path:
    """root/folder, created as needed; CorpusError if any part is a symlink or not a plain, visible name."""
    path = root
    for part in PurePosixPath(folder).parts:
        if part in ("", ".", "..") or part.startswith(".") or "\\" in part or "\0" in part:
            raise CorpusError(f"refused folder name {part!r} inside the corpus")
        path = path / part
        if path.is_symlink():
            raise CorpusError(f"{path} is a symlink; articles are not saved through symlinks")
        if not path.exists():
            path.mkdir()
        elif not path.is_dir():
            raise CorpusError(f"{path} exists and is not a folder; move it away")
    return path


def owned_path(directory: Path, stem: str, url: str) -> Path:
    """<stem>.md if it is free or already holds this URL, else <stem>-<hash of the URL>.md."""
    for name in (stem, f"{stem}-{_short_hash(url)}", f"{stem}-{_short_hash(url, 16)}"):
        candidate = directory / f"{name}.md"
        if candidate.is_symlink():
            continue
        if not candidate.exists() or saved_url(candidate) == url:
            return candidate
    raise CorpusError(f"no free file name for {url} in {directory}")


def saved_url(path: Path) -> str | None:
    """The url: of an article file's front matter (None if unreadable or absent)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(16384)
    except OSError:
        return None
    return front_matter(head)[0].get("url")


def render(page: Extracted) -> str:
    """Front matter qa.ingest reads (values JSON-quoted: any title survives), a blank line, the text."""
    lines = ["---"]
    for key in ("title", "date", "url", "source"):
        value = getattr(page, key)
        if value:
            lines.append(f"{key}: {json.dumps(' '.join(str(value).split()), ensure_ascii=False)}")
    lines.append("---")
    body = page.text.replace("\r\n", "\n").strip()
    return "\n".join(lines) + "\n\n" + body + "\n"


def write_if_changed(target: Path, content: str) -> Status:
    """Atomically write content (readable by all, like a copied file) unless the file already holds exactly it."""
    data = content.encode("utf-8")
    existed = target.exists()
    if existed:
        try:
            if target.read_bytes() == data:
                return "unchanged"
        except OSError:
            pass
    atomic_write_bytes(target, data)  # its temporary name is hidden: ingest and the watcher ignore it
    os.chmod(target, 0o644)
    return "updated" if existed else "added"


def _short_hash(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]
