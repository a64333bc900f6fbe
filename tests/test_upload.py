"""Uploads land only inside the corpus, as plain text files of a supported type, never silently overwriting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.ingest import scan_corpus
from qa.upload import ALLOWED_SUFFIXES, UploadError, safe_name, save_upload, save_uploads

ARTICLE = b"Moon base opens\n\nThe first lunar greenhouse grew 40 kilograms of basil in 2031.\n"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    return d


def _files_outside(tmp_path: Path, corpus: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if p.is_file() and corpus not in p.parents]


@pytest.mark.parametrize(
    "name",
    [
        "../../x.txt",
        "../x.txt",
        "sub/x.txt",
        "/etc/x.txt",
        "..\\x.txt",
        "C:x.txt",
        "..",
        ".",
        ".hidden.txt",
        ".txt",
        "a\x00b.txt",
        "a\nb.txt",
        "a\x1bb.txt",
        "evil\u202etxt.md",
        " x.txt",
        "x.txt ",
        "",
        "   ",
    ],
)
def test_unsafe_names_are_rejected_and_nothing_is_written(tmp_path, corpus, name):
    with pytest.raises(UploadError):
        save_upload(corpus, name, ARTICLE)
    assert list(corpus.iterdir()) == []
    assert _files_outside(tmp_path, corpus) == []


@pytest.mark.parametrize("name", ["x.exe", "x.doc", "x", "x.txt.sh", "x.py", "x.svg"])
def test_unsupported_types_are_rejected(corpus, name):
    with pytest.raises(UploadError, match="only"):
        save_upload(corpus, name, ARTICLE)


def test_allowed_suffixes_follow_ingest():
    assert {".txt", ".md", ".html", ".htm", ".jsonl", ".pdf", ".docx"} <= set(ALLOWED_SUFFIXES)


@pytest.mark.parametrize("name", ["news.txt", "News Story.MD", "été 2021.html", "a..b.jsonl", "x.htm"])
def test_plain_names_are_kept(name):
    assert safe_name(name) == name


def test_saved_file_is_read_by_the_corpus_reader(corpus):
    saved = save_upload(corpus, "moon.txt", ARTICLE)
    assert saved.path == corpus / "moon.txt" and not saved.replaced and saved.size == len(ARTICLE)
    assert saved.path.read_bytes() == ARTICLE
    articles, skipped = scan_corpus(corpus)
    assert [a.id for a in articles] == ["moon.txt"] and skipped == []
    assert [p.name for p in corpus.iterdir()] == ["moon.txt"]  # no temporary file left behind


def test_no_overwrite_unless_asked(corpus):
    save_upload(corpus, "moon.txt", ARTICLE)
    with pytest.raises(UploadError, match="already in the corpus"):
        save_upload(corpus, "moon.txt", b"Other text entirely.")
    assert (corpus / "moon.txt").read_bytes() == ARTICLE
    saved = save_upload(corpus, "moon.txt", b"Other text entirely.", overwrite=True)
    assert saved.replaced and (corpus / "moon.txt").read_bytes() == b"Other text entirely."


def test_size_cap(corpus, tmp_path):
    with pytest.raises(UploadError, match="larger than"):
        save_upload(corpus, "big.txt", b"a" * 101, max_bytes=100)
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * 1000)
    result = save_uploads(corpus, [("big.txt", big)], max_bytes=1000)
    assert result.saved == [] and "larger than" in result.rejected[0].reason
    assert list(corpus.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "data", "match"),
    [
        ("bin.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        ("latin.jsonl", '{"text": "caf\u00e9"}'.encode("latin-1"), "UTF-8"),
        ("fake.pdf", b"<html>not a pdf</html>", "not a PDF"),
        ("fake.docx", b"plain text", "not a Word"),
        ("empty.md", b" \n\n", "empty"),
    ],
)
def test_content_checks(corpus, name, data, match):
    with pytest.raises(UploadError, match=match):
        save_upload(corpus, name, data)


def test_legacy_text_pdf_and_docx_are_accepted(corpus):
    """ingest reads them (a cp1252 text is detected), so the upload box takes them."""
    from doc_fixtures import make_docx, make_pdf

    save_upload(corpus, "latin.txt", "Caf\u00e9 au lait is served in Etaville.".encode("cp1252"))
    save_upload(corpus, "a.pdf", make_pdf([["A line of text in a PDF."]]))
    save_upload(corpus, "a.docx", make_docx(["A paragraph in a Word file."]))
    assert sorted(p.name for p in corpus.iterdir()) == ["a.docx", "a.pdf", "latin.txt"]


def test_html_in_a_declared_charset_is_accepted(corpus):
    page = '<html><head><meta charset="windows-1252"><title>Caf\xe9</title></head><body><p>Caf\xe9.</p></body></html>'
    save_upload(corpus, "page.html", page.encode("cp1252"))
    assert (corpus / "page.html").exists()


def test_never_writes_through_a_symlink(tmp_path, corpus):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep me")
    (corpus / "link.txt").symlink_to(outside)
    for overwrite in (False, True):
        with pytest.raises(UploadError, match="symlink"):
            save_upload(corpus, "link.txt", ARTICLE, overwrite=overwrite)
    assert outside.read_bytes() == b"keep me"
    dangling = corpus / "dangling.txt"
    dangling.symlink_to(tmp_path / "not-yet.txt")
    with pytest.raises(UploadError, match="symlink"):
        save_upload(corpus, "dangling.txt", ARTICLE, overwrite=True)
    assert not (tmp_path / "not-yet.txt").exists()


def test_a_directory_of_that_name_is_not_replaced(corpus):
    (corpus / "dir.txt").mkdir()
    with pytest.raises(UploadError, match="not a regular file"):
        save_upload(corpus, "dir.txt", ARTICLE, overwrite=True)
    assert (corpus / "dir.txt").is_dir()


def test_missing_corpus_directory(tmp_path):
    with pytest.raises(UploadError, match="does not exist"):
        save_upload(tmp_path / "nope", "a.txt", ARTICLE)
    assert not (tmp_path / "nope").exists()


def test_batch_keeps_going_and_reports_reasons(corpus, tmp_path):
    src = tmp_path / "upload-src"
    src.mkdir()
    good = src / "good.md"
    good.write_bytes(ARTICLE)
    result = save_uploads(
        corpus, [("good.md", good), ("../../x.txt", ARTICLE), ("bad.exe", ARTICLE), ("second.txt", ARTICLE)]
    )
    assert [s.name for s in result.saved] == ["good.md", "second.txt"]
    assert [r.path for r in result.rejected] == ["../../x.txt", "bad.exe"]
    assert all(r.reason and not r.reason.startswith(r.path) for r in result.rejected)
    assert sorted(os.listdir(corpus)) == ["good.md", "second.txt"]
