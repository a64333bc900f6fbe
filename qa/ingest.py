"""Read a corpus directory into Articles; one bad file never stops the rest.

Every input that cannot be used becomes a `Skipped` with a reason a user can
act on (and one WARNING on the "qa.ingest" logger), instead of an exception.
The walk is sorted, so ids and order are identical across runs.

The extraction helpers (`decode_html`, `extract_html`, `extract_pdf`, ...) are
public because `qa add` and `qa feed` turn fetched pages into the same text.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .clean import clean_text, lead_title, normalize_date
from .domain import Article, Skipped
from .errors import CorpusError, QAError

log = logging.getLogger("qa.ingest")

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl", ".pdf", ".docx")
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
FEEDS_FILE = "feeds.txt"  # at the corpus root: the feed list of `qa feed`, not an article
_SNIFF = 8192  # bytes looked at for NUL (binary) and a declared HTML charset
_MD = (".md", ".markdown")
_HTML = (".html", ".htm")
_DOCUMENTS = (".pdf", ".docx")  # binary containers: no NUL check, their own parser
_MAX_DOCX_XML = 200 * 1024 * 1024  # unpacked size a .docx may claim (a zip bomb stops here)
_FM_KEYS = ("title", "date", "url", "source")
_FM_LINE = re.compile(r"([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*")
_MD_HEADING = re.compile(r"#\s+(.+?)(?:\s+#+)?\s*")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w:.-]+)|<\?xml[^>]+encoding\s*=\s*["']([\w:.-]+)""", re.I)
# Windows and ISO code pages, KOI8, and the East Asian multi-byte encodings (Python codec names).
_LIKELY_ENCODINGS = ("cp125", "iso8859", "koi8", "tis_620", "cp874", "cp932", "cp949", "cp950", "big5", "gb", "euc")
_LIKELY_ENCODINGS += ("shift_jis", "iso2022", "johab", "hz", "utf")
# What browsers actually use for these labels (WHATWG encoding standard).
_CHARSET_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252"}
_WORDS, _WORD_END, _WORD_START = re.compile(r"\w+"), re.compile(r"\w+$"), re.compile(r"\w+")
_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "pre", "article")


class UnreadableError(QAError):
    """This input cannot be used; the message says why and is shown to the user."""


_Skip = UnreadableError  # the short name used throughout (and by qa.ray_engine)


@dataclass(frozen=True)
class Extracted:
    """What a page or document yields before it becomes an Article: raw text plus the metadata it declares."""

    text: str
    title: str | None = None
    date: str | None = None
    source: str | None = None
    url: str | None = None


def iter_corpus(root: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Article | Skipped]:
    """Articles and skipped inputs under `root`, recursively, in sorted path order.

    `max_bytes` caps a whole .txt/.md/.html file, and each line of a .jsonl
    file (a big .jsonl corpus is streamed, not read at once).
    """
    base = Path(root)
    if not base.exists():
        raise CorpusError(f"corpus directory {base} does not exist; pass the folder that holds your articles")
    if not base.is_dir():
        raise CorpusError(f"{base} is not a directory; pass the folder that holds your articles, not a file")
    seen: set[str] = set()
    for item in walk_corpus(base):
        if isinstance(item, Skipped):
            yield _logged(item)
            continue
        rel, path = item
        for got in guarded(rel, lambda rel=rel, path=path: _read(rel, path, max_bytes, seen)):
            yield _logged(got) if isinstance(got, Skipped) else got


def walk_corpus(root: Path) -> Iterator[tuple[str, Path] | Skipped]:
    """(article id prefix, path) of every readable-looking file under root, in sorted order; or why not."""
    return _walk(root, root.resolve(), "")


def read_file(rel: str, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Article | Skipped]:
    """The articles of one corpus file, or the reasons it cannot be read; ids are not claimed (the caller
    resolves duplicates across files, with `duplicate_skip`)."""
    return guarded(rel, lambda: _read(rel, path, max_bytes, None))


def read_jsonl_lines(
    rel: str, path: Path, offset: int, first_line: int, count: int, max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[tuple[Article | Skipped, int]]:
    """(article or skip, line number) for `count` lines of a .jsonl file starting at byte `offset`."""

    def read() -> Iterator[tuple[Article | Skipped, int]]:
        with open(path, "rb") as f:
            f.seek(offset)
            for k, raw in _lines(f, max_bytes):
                if k > count:
                    return
                n = first_line + k - 1
                if raw is None:
                    yield Skipped(rel, f"line {_too_big(max_bytes)}", n), n
                elif raw.strip():
                    try:
                        yield _jsonl_article(rel, n, raw), n
                    except _Skip as e:
                        yield Skipped(rel, str(e), n), n

    for got in guarded(rel, read):
        yield (got, None) if isinstance(got, Skipped) else got


def guarded(rel: str, read: Callable[[], Iterator]) -> Iterator:
    """Run a reader of one file; whatever goes wrong becomes a Skipped with a reason, and the corpus goes on."""
    try:
        yield from read()
    except _Skip as e:
        yield Skipped(rel, str(e))
    except PermissionError:
        yield Skipped(rel, "permission denied: cannot read the file")
    except FileNotFoundError:
        yield Skipped(rel, "file vanished or is a broken symlink")
    except OSError as e:
        yield Skipped(rel, f"cannot read the file: {e.strerror or e}")
    except Exception as e:  # noqa: BLE001 - a parser bug must not stop the whole corpus
        log.debug("reading %s failed", rel, exc_info=True)  # the traceback, for a bug report
        yield Skipped(rel, f"unexpected error while reading ({type(e).__name__}: {e})")


def duplicate_skip(article_id: str, path: str | None, line: int | None = None) -> Skipped:
    """What a later article that reuses an earlier article's id becomes: the first in corpus order wins."""
    return Skipped(path or article_id, f"duplicate id {article_id!r}: already used earlier", line)


def looks_binary(path: Path) -> bool:
    """True if the file's first block holds a NUL byte (what ingest rejects as binary)."""
    with open(path, "rb") as f:
        return b"\0" in f.read(_SNIFF)


def scan_corpus(root: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[list[Article], list[Skipped]]:
    """`iter_corpus` collected into (articles, skipped)."""
    articles: list[Article] = []
    skipped: list[Skipped] = []
    for item in iter_corpus(root, max_bytes=max_bytes):
        (articles if isinstance(item, Article) else skipped).append(item)  # type: ignore[arg-type]
    return articles, skipped


def _logged(skipped: Skipped) -> Skipped:
    log.warning("skipped %s", skipped)
    return skipped


def _walk(directory: Path, real_root: Path, prefix: str) -> Iterator[tuple[str, Path] | Skipped]:
    """(relative id, path) of candidate files, sorted by name; hidden entries ignored."""
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        yield Skipped(_printable(prefix.rstrip("/")) or ".", f"cannot list the directory: {e.strerror or e}")
        return
    for entry in entries:
        if entry.name.startswith(".") or (not prefix and entry.name == FEEDS_FILE):
            continue
        rel = prefix + entry.name
        path = Path(entry.path)
        supported = path.suffix.lower() in SUPPORTED_SUFFIXES
        try:
            is_dir = entry.is_dir()
            if entry.is_symlink():
                if not path.resolve().is_relative_to(real_root):
                    if is_dir or supported:
                        yield Skipped(_printable(rel), "symlink points outside the corpus")
                    continue
                if is_dir:  # its target inside the corpus is walked anyway; following could loop
                    continue
        except (OSError, RuntimeError) as e:  # RuntimeError: symlink loop (Python < 3.13)
            if supported:
                yield Skipped(_printable(rel), f"cannot follow the symlink: {e}")
            continue
        if is_dir:
            yield from _walk(path, real_root, rel + "/")
        elif supported:
            if _printable(rel) != rel:
                yield Skipped(_printable(rel), "file name is not valid UTF-8; rename the file")
            else:
                yield rel, path


def _printable(name: str) -> str:
    """File names with undecodable bytes (surrogate escapes) made safe to print and store."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _read(rel: str, path: Path, max_bytes: int, seen: set[str] | None) -> Iterator[Article | Skipped]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        yield from _read_jsonl(rel, path, max_bytes, seen)
        return
    data = _read_bytes(path, max_bytes, text=suffix not in _DOCUMENTS)
    if not data.strip():
        raise _Skip("empty file")
    if suffix in _HTML:
        html = decode_html(data)
        article = _article(rel, path, extract_html(html), "no article text found in the HTML")
    elif suffix == ".pdf":
        article = _article(rel, path, extract_pdf(data), "no article text left after removing boilerplate")
    elif suffix == ".docx":
        article = _article(rel, path, extract_docx(data), "no article text found in the document")
    else:
        article = _text_article(rel, path, decode_text(data), markdown=suffix in _MD)
    yield _claim(article, seen, None)


def _claim(article: Article, seen: set[str] | None, line: int | None) -> Article | Skipped:
    """Ids are unique across the corpus: the first one wins, later ones are skipped (seen=None: no claim)."""
    if seen is None:
        return article
    if article.id in seen:
        return duplicate_skip(article.id, article.path, line)
    seen.add(article.id)
    return article


def _check_regular(path: Path, max_bytes: int | None) -> None:
    st = path.stat()  # before open(): opening a FIFO would block forever
    if not stat.S_ISREG(st.st_mode):
        raise _Skip("not a regular file")
    if max_bytes is not None and st.st_size > max_bytes:
        raise _Skip(_too_big(max_bytes, st.st_size))


def _too_big(limit: int, size: int | None = None) -> str:
    actual = f" ({_human(size)})" if size is not None else ""
    return f"larger than {_human(limit)}{actual}; split it or raise the size limit"


def _human(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def _read_bytes(path: Path, max_bytes: int, text: bool = True) -> bytes:
    _check_regular(path, max_bytes)
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)  # the file may have grown since stat()
    if len(data) > max_bytes:
        raise _Skip(_too_big(max_bytes))
    if text and b"\0" in data[:_SNIFF]:
        raise _Skip(_binary_reason(data))
    return data


def _binary_reason(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16 text is not supported; re-save the file as UTF-8"
    return "binary file (NUL bytes in the first 8 KB), not text"


def decode_text(data: bytes) -> str:
    """UTF-8 if it is valid (most files), else charset-normalizer's best guess (cp1252, latin-1, ...).

    Binary data (NUL bytes) is refused, as is anything no text encoding fits.
    """
    if b"\0" in data[:_SNIFF]:
        raise _Skip(_binary_reason(data))
    bom = 3 if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = _guess_encoding(data)
    if codec is None:
        raise _Skip("binary file or unknown text encoding (not UTF-8, no legacy encoding fits); re-save it as UTF-8")
    return data.decode(codec, "replace")  # the guess is checked on samples; a stray byte elsewhere is not fatal


def _guess_encoding(data: bytes) -> str | None:
    """charset-normalizer's best guess among encodings articles are written in; on a tie, cp1252.

    On short text its ranking is noise: "Café au lait in Zürich" comes out as
    cp775 (Baltic DOS) or cp1250 ("crêpes" as "crępes"), with cp1252 scoring
    the same. So DOS and Mac code pages only count when nothing else fits, and
    among equal scores the usual legacy encoding of Western text wins.
    """
    from charset_normalizer import from_bytes

    results = list(from_bytes(data))
    if not results:
        return None
    likely = [r for r in results if r.encoding.startswith(_LIKELY_ENCODINGS)] or results
    best = likely[0]
    for r in likely:
        if (r.chaos, r.coherence) == (best.chaos, best.coherence) and "cp1252" in r.could_be_from_charset:
            return "cp1252"
    return best.encoding


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """A leading `---` block of `key: value` lines (no YAML parser needed).

    Only treated as front matter if every line in it looks like YAML, so a
    text that merely starts with a `---` rule is left alone.
    """
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return {}, text
    for end in range(1, min(len(lines), 200)):
        if lines[end].rstrip() in ("---", "..."):
            break
    else:
        return {}, text
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        m = _FM_LINE.fullmatch(line.rstrip())
        if m:
            key, value = m[1].lower(), _unquote(m[2])
            if key in _FM_KEYS and value:
                meta[key] = value
        elif line.strip() and not line[:1].isspace() and not line.startswith(("- ", "#")):
            return {}, text
    return meta, "\n".join(lines[end + 1 :])


def _unquote(value: str) -> str:
    """Strip matching quotes; a double-quoted value is read as a JSON string if it is one (escapes)."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        if value[0] == '"':
            try:
                decoded = json.loads(value)
            except ValueError:
                decoded = None
            if isinstance(decoded, str):
                return decoded.strip()
        return value[1:-1].strip()
    return value


def _title_from_name(path: Path) -> str:
    return " ".join(re.split(r"[_\-\s]+", path.stem)).strip() or path.name


def _drop_title_line(text: str, title: str | None) -> str:
    """The headline is the title, not body text; keep it only if nothing else is left."""
    if not title:
        return text
    first, _, rest = text.partition("\n")
    if first.strip() == title.strip() and rest.strip():
        return rest.strip()
    return text


def _text_article(rel: str, path: Path, text: str, *, markdown: bool) -> Article:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    meta, body = front_matter(text)
    heading = None
    if markdown:
        lines = body.lstrip("\n").split("\n", 1)
        m = _MD_HEADING.fullmatch(lines[0].strip())
        if m:
            heading = m[1]
            body = "\n".join([heading, *lines[1:]])
    cleaned = clean_text(body)
    if not cleaned.text:
        raise _Skip("no article text left after removing boilerplate")
    title = meta.get("title") or heading or cleaned.title
    return Article(
        id=rel,
        title=title or lead_title(cleaned.text) or _title_from_name(path),
        text=_drop_title_line(cleaned.text, title),
        source=meta.get("source") or cleaned.source,
        date=normalize_date(meta.get("date")) or cleaned.date,
        url=meta.get("url"),
        path=rel,
        place=cleaned.place,
    )


def decode_html(data: bytes, declared: str | None = None) -> str:
    """Text of an HTML page: the charset declared (by HTTP, else in the page) if it fits, else as decode_text."""
    if declared is None:
        m = _CHARSET.search(data[:_SNIFF])
        declared = (m[1] or m[2]).decode("ascii", "replace") if m else None
    if declared:
        declared = declared.strip().lower()
        try:
            codec = codecs.lookup(_CHARSET_ALIASES.get(declared, declared)).name
            if codec != "utf-8":  # UTF-8 (with or without a BOM) is decode_text's first try anyway
                return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            pass  # an unknown or wrong label: the bytes decide
    return decode_text(data)


def extract_html(html: str, url: str | None = None) -> Extracted:
    """Main text and metadata of a page (trafilatura; its dates come from htmldate), else the body text."""
    meta: dict[str, Any] = {}
    import trafilatura  # heavy import: only when there is HTML

    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
        if doc is not None:
            meta = doc if isinstance(doc, dict) else doc.as_dict()
    except Exception as e:  # e.g. RecursionError on odd trees: fall back to plain lxml
        log.debug("trafilatura failed on %s: %s", url or "a page", e)
    body = meta.get("text") or ""
    if not body.strip():
        body = html_to_text(html)
    return Extracted(
        text=body,
        title=_opt_str(meta.get("title")),
        date=normalize_date(_opt_str(meta.get("date"))),
        source=_opt_str(meta.get("sitename")),
        url=_opt_str(meta.get("url")),
    )


def _article(rel: str, path: Path, ex: Extracted, empty_reason: str) -> Article:
    cleaned = clean_text(ex.text)
    if not cleaned.text:
        raise _Skip(empty_reason)
    title = ex.title or cleaned.title
    return Article(
        id=rel,
        title=title or lead_title(cleaned.text) or _title_from_name(path),
        text=_drop_title_line(cleaned.text, title),
        source=ex.source or cleaned.source,
        date=ex.date or cleaned.date,
        url=ex.url,
        path=rel,
        place=cleaned.place,
    )


def html_to_text(html: str) -> str:
    """Text of <body> without script/style, one line per block element (also for feed entry HTML)."""
    import lxml.html
    from lxml import etree

    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, huge_tree=True)
    try:
        doc = lxml.html.document_fromstring(html.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError):
        return ""
    if any("Excessive depth" in e.message for e in parser.error_log):
        raise _Skip("HTML is nested too deeply to parse (over 2048 levels of tags)")
    for el in list(doc.iter("script", "style", "noscript", "template")):
        el.drop_tree()
    for el in doc.iter(*_BLOCK_TAGS):
        el.tail = "\n" + (el.tail or "")
    body = doc.find("body")
    text = (body if body is not None else doc).text_content()
    return "\n".join(" ".join(line.split()) for line in text.split("\n"))


def extract_pdf(data: bytes) -> Extracted:
    """The text layer of a PDF (pypdf), lines re-joined into paragraphs; the title from its metadata.

    pypdf was measured against pdfminer.six on generated PDFs: the same words,
    columns in order, about ten times faster, and pure Python (see the README).
    """
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its notes on odd-but-readable files are not ours to show
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise _Skip("encrypted PDF; save a copy without a password")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = _pdf_title(reader)
    except _Skip:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError, NotImplementedError) as e:
        raise _Skip(f"not a readable PDF ({type(e).__name__}: {e})") from None
    if not pages:
        raise _Skip("PDF has no pages")
    vocabulary = {w.lower() for p in pages for w in _WORDS.findall(p)}
    text = "\n\n".join(_unwrap(p, vocabulary) for p in pages if p.strip())
    if not text.strip():
        raise _Skip(f"no text layer (scanned PDF?): {len(pages)} page(s) but no extractable text; run OCR on it first")
    return Extracted(text=text, title=title)


def _pdf_title(reader: Any) -> str | None:
    """The document title, unless it is a tool's placeholder ("Microsoft Word - x.doc", "untitled")."""
    try:
        title = _opt_str(reader.metadata.title) if reader.metadata else None
    except Exception:  # noqa: BLE001 - a broken info dictionary only costs the title
        return None
    if not title or title.lower() in ("untitled", "title") or title.startswith("Microsoft Word - "):
        return None
    return " ".join(title.split())


def _unwrap(page: str, vocabulary: set[str]) -> str:
    """Join a PDF's visual lines into paragraphs: a sentence never spans a line break in this project.

    pypdf gives one line per printed line and no paragraph marks; a line
    clearly shorter than the page's full lines ends its paragraph (a
    headline, the last line of a paragraph), the others run on. A word
    hyphenated across lines is re-joined when the document uses it whole
    elsewhere ("Afghan-" + "istan"); otherwise the hyphen stays ("well-known").
    """
    lines = [" ".join(line.split()) for line in page.split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    full = sorted(len(line) for line in lines)[int(0.9 * (len(lines) - 1))]
    out: list[str] = [lines[0]]
    for prev, line in zip(lines, lines[1:]):
        if prev.endswith("-") and line[:1].isalnum():  # a paragraph never ends in a hyphen
            head, tail = _WORD_END.search(prev[:-1]), _WORD_START.match(line)
            if head and tail and (head[0] + tail[0]).lower() in vocabulary:
                out[-1] = out[-1][:-1]
            out.append(line)
        elif len(prev) < 0.8 * full:
            out.append("\n\n" + line)
        else:
            out.append(" " + line)
    return "".join(out)


def extract_docx(data: bytes) -> Extracted:
    """Body paragraphs of a Word document (python-docx); the title from its properties or its Title style."""
    import docx

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if sum(i.file_size for i in z.infolist()) > _MAX_DOCX_XML:
                raise _Skip(f"the .docx unpacks to more than {_human(_MAX_DOCX_XML)}; not read")
        document = docx.Document(io.BytesIO(data))
        paragraphs = [(p.style.name if p.style is not None else "", p.text.strip()) for p in document.paragraphs]
        title = _opt_str(document.core_properties.title)
    except _Skip:
        raise
    except Exception as e:  # noqa: BLE001 - zip, package and XML errors alike mean "not a usable .docx"
        raise _Skip(f"not a readable .docx file ({type(e).__name__}: {e})") from None
    paragraphs = [(style, text) for style, text in paragraphs if text]
    if not title and paragraphs and paragraphs[0][0] in ("Title", "Heading 1"):
        title = paragraphs[0][1]
    return Extracted(text="\n\n".join(text for _, text in paragraphs), title=title)


def _opt_str(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int, float)):
        return str(value).strip() or None
    return None


def _read_jsonl(rel: str, path: Path, max_bytes: int, seen: set[str] | None) -> Iterator[Article | Skipped]:
    """One article per line; a bad line is skipped with its number, the rest still count."""
    _check_regular(path, None)
    with open(path, "rb") as f:
        head = f.read(_SNIFF)
        if b"\0" in head:
            raise _Skip(_binary_reason(head))
        f.seek(0)
        any_line = False
        for n, raw in _lines(f, max_bytes):
            if raw is None:
                yield Skipped(rel, f"line {_too_big(max_bytes)}", n)
                continue
            if not raw.strip():
                continue
            any_line = True
            try:
                yield _claim(_jsonl_article(rel, n, raw), seen, n)
            except _Skip as e:
                yield Skipped(rel, str(e), n)
    if not any_line:
        raise _Skip("empty file")


def _lines(f: IO[bytes], limit: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes), or None for a line over `limit`, without reading it whole."""
    n = 0
    while True:
        raw = f.readline(limit + 1)
        if not raw:
            return
        n += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # discard the rest of the long line
                raw = f.readline(1 << 20)
            yield n, None
        else:
            yield n, raw


def _jsonl_article(rel: str, n: int, raw: bytes) -> Article:
    try:
        line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
    except UnicodeDecodeError as e:
        raise _Skip(f"not valid UTF-8 (byte {e.start} of the line)") from None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise _Skip(f"invalid JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(obj, dict):
        raise _Skip(f"not a JSON object (got {type(obj).__name__})")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _Skip('missing or empty "text" field')
    raw_id = obj.get("id")
    if raw_id is not None and _opt_str(raw_id) is None and raw_id != "":
        raise _Skip('"id" must be a string or a number')
    article_id = _opt_str(raw_id) or f"{rel}#{n}"
    cleaned = clean_text(text)
    if not cleaned.text:
        raise _Skip("no article text left after removing boilerplate")
    title = _opt_str(obj.get("title")) or cleaned.title
    return Article(
        id=article_id,
        title=title or lead_title(cleaned.text) or article_id,
        text=_drop_title_line(cleaned.text, title),
        source=_opt_str(obj.get("source")) or cleaned.source,
        date=normalize_date(_opt_str(obj.get("date"))) or cleaned.date,
        url=_opt_str(obj.get("url")),
        path=rel,
        place=cleaned.place,
    )
