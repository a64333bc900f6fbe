"""Put uploaded article files into the corpus directory, safely.

The web UI hands us a name chosen by a stranger and some bytes. Nothing here
trusts either: the name must be a plain file name of a supported type, the
bytes must be small and look like text, and the file is written only as a
direct child of the corpus directory, never through a symlink, and never over
an existing file unless the caller says so.
"""

from __future__ import annotations

import codecs
import os
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .domain import Skipped
from .errors import QAError
from .ingest import SUPPORTED_SUFFIXES

ALLOWED_SUFFIXES: tuple[str, ...] = tuple(s.lower() for s in SUPPORTED_SUFFIXES)
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_NAME_CHARS = 200
_UTF8_ONLY = (".jsonl",)  # JSON is UTF-8; other text ingest decodes itself (legacy encodings are detected)
# Binary containers are recognised by their first bytes instead of refused for their NUL bytes.
_MAGIC = {".pdf": (b"%PDF-", "a PDF"), ".docx": (b"PK\x03\x04", "a Word .docx file")}
_FORBIDDEN = set("/\\:\0")
# Bidirectional overrides make "evil\u202etxt.exe" display as "evilexe.txt".
_BIDI = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"}


class UploadError(QAError):
    """An uploaded file was refused; the message says why and what to do."""


@dataclass(frozen=True)
class SavedFile:
    name: str  # file name inside the corpus directory
    path: Path
    size: int
    replaced: bool  # an existing file of that name was overwritten


@dataclass
class UploadResult:
    saved: list[SavedFile] = field(default_factory=list)
    rejected: list[Skipped] = field(default_factory=list)


def safe_name(name: str) -> str:
    """The name to store the file under, or UploadError: a plain, visible file name of a supported type."""
    if not isinstance(name, str):
        raise UploadError("the file name must be text")
    name = unicodedata.normalize("NFC", name)
    shown = name.encode("utf-8", "replace").decode("utf-8", "replace")[:80]
    if not name.strip():
        raise UploadError("the file has no name")
    if any(ch in _FORBIDDEN for ch in name) or os.path.isabs(name):
        raise UploadError(f"{shown!r}: a file name must not contain a path (/, \\, :); upload the file itself")
    if name in (".", "..") or name.startswith("."):
        raise UploadError(f"{shown!r}: hidden names (starting with a dot) are not accepted; rename the file")
    if any(unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI for ch in name):
        raise UploadError(f"{shown!r}: the file name contains control characters; rename the file")
    if name != name.strip():
        raise UploadError(f"{shown!r}: the file name starts or ends with a space; rename the file")
    if len(name) > MAX_NAME_CHARS:
        raise UploadError(f"the file name is longer than {MAX_NAME_CHARS} characters; shorten it")
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise UploadError(
            f"{shown!r}: only {', '.join(ALLOWED_SUFFIXES)} files can be added (got {suffix or 'no extension'})"
        )
    if Path(name).stem == "":
        raise UploadError(f"{shown!r}: the file name is only an extension; rename the file")
    return name


def check_content(name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
    """Refuse oversized or binary content (PDF and .docx must be what they claim), and .jsonl that is not UTF-8."""
    if len(data) > max_bytes:
        raise UploadError(f"{name}: larger than {_human(max_bytes)} ({_human(len(data))}); split it into smaller files")
    if not data.strip():
        raise UploadError(f"{name}: the file is empty")
    suffix = Path(name).suffix.lower()
    if suffix in _MAGIC:
        magic, what = _MAGIC[suffix]
        if not data.startswith(magic):
            raise UploadError(f"{name}: the content is not {what}; check the file")
        return
    if b"\0" in data[:8192]:
        raise UploadError(f"{name}: binary content (NUL bytes), not a text article")
    if suffix in _UTF8_ONLY:
        body = data[3:] if data.startswith(codecs.BOM_UTF8) else data
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise UploadError(f"{name}: not valid UTF-8 (byte {e.start}); re-save the file as UTF-8") from None


def save_upload(
    corpus_dir: str | Path,
    name: str,
    data: bytes,
    *,
    overwrite: bool = False,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> SavedFile:
    """Write data as corpus_dir/name, atomically (a build never reads half a file)."""
    name = safe_name(name)
    check_content(name, data, max_bytes)
    corpus = Path(corpus_dir)
    if not corpus.is_dir():
        raise UploadError(f"corpus directory {corpus} does not exist; create it first")
    target = corpus / name
    # An existing symlink is never written through, even with overwrite; and the
    # target must be a direct child of the corpus (nothing in the name can climb out).
    if target.is_symlink():
        raise UploadError(f"{name}: a symlink of that name is in the corpus; remove it first")
    if target.resolve(strict=False).parent != corpus.resolve():
        raise UploadError(f"{name}: would be written outside the corpus directory")
    existed = target.exists()
    if existed and not target.is_file():
        raise UploadError(f"{name}: something that is not a regular file has that name in the corpus")
    if existed and not overwrite:
        raise UploadError(f"{name}: a file of that name is already in the corpus; choose 'replace' to overwrite it")

    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=corpus)  # hidden: ingest ignores it
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if overwrite:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # fails if the name appeared meanwhile: no silent overwrite
            except FileExistsError:
                raise UploadError(
                    f"{name}: a file of that name is already in the corpus; choose 'replace' to overwrite it"
                ) from None
            except OSError:  # filesystem without hard links
                with open(target, "xb") as out:
                    out.write(data)
            Path(tmp).unlink(missing_ok=True)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return SavedFile(name=name, path=target, size=len(data), replaced=existed)


def save_uploads(
    corpus_dir: str | Path,
    files: Iterable[tuple[str, str | Path | bytes]],
    *,
    overwrite: bool = False,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> UploadResult:
    """Save each (name, path-or-bytes); one refused file never stops the others."""
    result = UploadResult()
    for name, source in files:
        try:
            data = source if isinstance(source, bytes) else _read_capped(Path(source), max_bytes)
            result.saved.append(save_upload(corpus_dir, name, data, overwrite=overwrite, max_bytes=max_bytes))
        except UploadError as e:
            result.rejected.append(Skipped(str(name), _reason(str(e), str(name))))
        except OSError as e:
            result.rejected.append(Skipped(str(name), f"could not be saved: {e.strerror or e}"))
    return result


def _read_capped(path: Path, max_bytes: int) -> bytes:
    """The file's bytes; an oversized one is refused without loading it."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise UploadError(f"larger than {_human(max_bytes)} ({_human(size)}); split it into smaller files")
        return f.read(max_bytes + 1)


def _reason(message: str, name: str) -> str:
    """The message without a leading repetition of the file name (the caller shows the name)."""
    for prefix in (f"{name}: ", f"{name!r}: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _human(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"
