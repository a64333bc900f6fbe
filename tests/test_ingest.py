"""Corpus reading: every format, every way a file can be bad, determinism."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from doc_fixtures import make_docx, make_pdf

from qa import ingest
from qa.clean import lead_title
from qa.domain import Article, Skipped
from qa.errors import CorpusError
from qa.ingest import SUPPORTED_SUFFIXES, iter_corpus, scan_corpus

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
BODY = "NATO ministers met in Brussels on Wednesday to discuss the mission in Afghanistan."
BODY2 = "The alliance said the decision would be taken together, officials told reporters."


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def scan(root: Path, **kw: int) -> tuple[dict[str, Article], list[Skipped]]:
    articles, skipped = scan_corpus(root, **kw)
    return {a.id: a for a in articles}, skipped


def only_skip(root: Path, **kw: int) -> Skipped:
    articles, skipped = scan(root, **kw)
    assert not articles and len(skipped) == 1, (articles, skipped)
    return skipped[0]


# --- formats -------------------------------------------------------------------


def test_shipped_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent")
    articles, skipped = scan(CORPUS)
    assert skipped == []
    assert sorted(articles) == [
        "000_e4fff1e13a0bbc77.txt",
        "001_31946ef2ba710364.txt",
        "002_382a93bb24ffe1b9.txt",
        "003_bd4f993c6f237ca7.txt",
        "004_795284bbc2c01457.txt",
    ]
    a001 = articles["001_31946ef2ba710364.txt"]
    assert (a001.source, a001.date, a001.path) == ("The Washington Times", "2020-10-21", "001_31946ef2ba710364.txt")
    a004 = articles["004_795284bbc2c01457.txt"]
    assert a004.title == "The US will not fully withdraw from Afghanistan, the Taliban threatened"
    assert a004.title not in a004.text and a004.text.startswith("According to a new report")
    # no headline: a title from the lead, never the file name
    assert articles["000_e4fff1e13a0bbc77.txt"].title == (
        "NATO Secretary-General Jens Stoltenberg has warned that the hasty withdrawal of…"
    )
    a003 = articles["003_bd4f993c6f237ca7.txt"]
    assert (a003.source, a003.place) == ("Reuters", "Brussels")
    assert a003.title == "NATO has begun withdrawing from its mission in Afghanistan following US…"
    for a in articles.values():
        assert "_" not in a.title and a.id not in a.title


def test_txt_with_headline_title(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", f"NATO to stay in Afghanistan\n\n{BODY}\n\n{BODY2}\n")
    (a,) = scan(tmp_path)[0].values()
    assert a.title == "NATO to stay in Afghanistan"
    assert a.text == f"{BODY}\n\n{BODY2}"
    assert (a.id, a.path) == ("a.txt", "a.txt")


def test_title_from_the_lead_without_a_headline(tmp_path: Path) -> None:
    write(tmp_path, "nato_troops-withdrawal.txt", f"{BODY}\n{BODY2}")
    (a,) = scan(tmp_path)[0].values()
    assert a.title == lead_title(BODY) and a.title.startswith(BODY.split()[0]) and len(a.title) <= 81
    assert a.text == f"{BODY}\n{BODY2}"  # the lead stays in the text


@pytest.mark.parametrize("suffix", [".md", ".markdown"])
def test_markdown_heading(tmp_path: Path, suffix: str) -> None:
    write(tmp_path, f"a{suffix}", f"# NATO to stay\n{BODY}\n\n*{BODY2}*\n")
    (a,) = scan(tmp_path)[0].values()
    assert a.title == "NATO to stay"
    assert a.text == f"{BODY}\n\n*{BODY2}*"  # markdown is otherwise left alone


def test_front_matter(tmp_path: Path) -> None:
    write(
        tmp_path,
        "fm.md",
        "---\n"
        'title: "NATO: what next?"\n'
        "date: October 21, 2020\n"
        "url: 'https://example.com/nato'\n"
        "source: Example News\n"
        "tags: [a, b]\n"
        "author:\n  - Someone\n"
        "---\n"
        f"# NATO: what next?\n\n{BODY}\n",
    )
    (a,) = scan(tmp_path)[0].values()
    assert (a.title, a.date, a.url, a.source) == (
        "NATO: what next?",
        "2020-10-21",
        "https://example.com/nato",
        "Example News",
    )
    assert a.text == BODY


def test_front_matter_title_differs_from_first_line(tmp_path: Path) -> None:
    write(tmp_path, "fm.txt", f"---\ntitle: The real title\n---\nA subhead\n\n{BODY}")
    (a,) = scan(tmp_path)[0].values()
    assert a.title == "The real title"
    assert a.text == f"A subhead\n\n{BODY}"


def test_horizontal_rule_is_not_front_matter(tmp_path: Path) -> None:
    raw = f"---\n{BODY}\n---\n{BODY2}"
    write(tmp_path, "rule.txt", raw)
    (a,) = scan(tmp_path)[0].values()
    assert a.text == raw


def test_crlf_and_bom(tmp_path: Path) -> None:
    write(tmp_path, "win.txt", f"\ufeffHeadline here\r\n\r\n{BODY}\r\n{BODY2}\r\n".encode())
    (a,) = scan(tmp_path)[0].values()
    assert a.title == "Headline here" and a.text == f"{BODY}\n{BODY2}"


HTML = """<!doctype html><html><head><meta charset="utf-8"><title>NATO to stay - Example</title>
<meta property="og:title" content="NATO to stay"><meta property="og:site_name" content="Example News">
<meta name="date" content="2020-10-21"><style>p { color: red } .secret-style {}</style>
<script>var secretScript = "never in text";</script></head>
<body><nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article><h1>NATO to stay</h1><p>{b1}</p><script>alert("secretInline")</script><p>{b2}</p>
<p>The ministers will meet again in June to review progress on the peace talks in Doha, officials said.</p></article>
<footer>Copyright © 2020 Example</footer></body></html>"""


@pytest.mark.parametrize("suffix", [".html", ".htm"])
def test_html(tmp_path: Path, suffix: str) -> None:
    write(tmp_path, f"page{suffix}", HTML.replace("{b1}", BODY).replace("{b2}", BODY2))
    (a,) = scan(tmp_path)[0].values()
    assert a.title == "NATO to stay"
    assert (a.source, a.date) == ("Example News", "2020-10-21")
    assert BODY in a.text and BODY2 in a.text
    for leaked in ("secret", "color: red", "alert", "Home", "NATO to stay"):
        assert leaked not in a.text


def test_html_declared_charset(tmp_path: Path) -> None:
    page = f'<html><head><meta charset="iso-8859-1"></head><body><p>Café au lait. {BODY}</p></body></html>'
    write(tmp_path, "latin.html", page.encode("latin-1"))
    (a,) = scan(tmp_path)[0].values()
    assert "Café au lait." in a.text


def test_html_in_a_legacy_encoding_without_charset_is_detected(tmp_path: Path) -> None:
    write(tmp_path, "latin.html", b"<html><body><p>Caf\xe9 au lait in Z\xfcrich.</p></body></html>")
    (a,) = scan(tmp_path)[0].values()
    assert a.text == "Caf\u00e9 au lait in Z\u00fcrich."


def test_html_with_a_wrong_declared_charset_falls_back_to_the_bytes(tmp_path: Path) -> None:
    page = '<html><head><meta charset="utf-8"></head><body><p>Caf\u00e9 au lait. {BODY}</p></body></html>'
    write(tmp_path, "wrong.html", page.replace("{BODY}", BODY).encode("cp1252"))
    (a,) = scan(tmp_path)[0].values()
    assert a.text.startswith("Caf\u00e9 au lait.")


def test_html_without_text(tmp_path: Path) -> None:
    write(tmp_path, "empty.html", "<html><head><script>x()</script></head><body> </body></html>")
    assert "no article text" in only_skip(tmp_path).reason


def test_deeply_nested_html_does_not_crash(tmp_path: Path) -> None:
    write(
        tmp_path, "deep.html", "<html><body>" + "<div>" * 5000 + f"<p>{BODY}</p>" + "</div>" * 5000 + "</body></html>"
    )
    write(tmp_path, "ok.txt", BODY)
    articles, skipped = scan(tmp_path)
    assert "ok.txt" in articles
    assert len(articles) + len(skipped) == 2
    if skipped:
        assert skipped[0].path == "deep.html" and "nested too deeply" in skipped[0].reason
    else:
        assert BODY in articles["deep.html"].text


def test_jsonl(tmp_path: Path) -> None:
    rows = [
        {
            "id": "n1",
            "title": "NATO to stay",
            "text": f"NATO to stay\n\n{BODY}",
            "url": "https://x/1",
            "date": "2020-10-21T10:00:00Z",
        },
        {"id": 42, "text": BODY2, "date": "October 21, 2020", "source": "Wire"},
        {"text": f"{BODY}\nSign up for Daily Newsletters", "date": "someday"},
    ]
    write(tmp_path, "news.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    articles, skipped = scan(tmp_path)
    assert skipped == []
    assert list(articles) == ["n1", "42", "news.jsonl#3"]
    n1, n42, n3 = articles.values()
    assert (n1.title, n1.text, n1.url, n1.date, n1.path) == (
        "NATO to stay",
        BODY,
        "https://x/1",
        "2020-10-21",
        "news.jsonl",
    )
    assert (n42.date, n42.source) == ("2020-10-21", "Wire")
    assert n3.text == BODY and n3.date is None  # boilerplate cleaned, unparseable date dropped


def test_jsonl_broken_lines_are_skipped_with_line_numbers(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "good1", "text": BODY}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"id": "x", "title": "no text"}),
        "",  # blank lines are fine
        json.dumps({"id": "y", "text": "   "}),
        json.dumps({"id": {"nested": 1}, "text": BODY}),
        json.dumps({"id": "good2", "text": BODY2}),
    ]
    write(tmp_path, "n.jsonl", "\n".join(lines))
    articles, skipped = scan(tmp_path)
    assert list(articles) == ["good1", "good2"]
    assert [(s.path, s.line) for s in skipped] == [
        ("n.jsonl", 2),
        ("n.jsonl", 3),
        ("n.jsonl", 4),
        ("n.jsonl", 6),
        ("n.jsonl", 7),
    ]
    reasons = [s.reason for s in skipped]
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1].startswith("not a JSON object")
    assert reasons[2] == reasons[3] == 'missing or empty "text" field'
    assert "id" in reasons[4]
    assert str(skipped[0]).startswith("n.jsonl:2: invalid JSON")


def test_jsonl_invalid_utf8_line(tmp_path: Path) -> None:
    write(tmp_path, "n.jsonl", json.dumps({"text": BODY}).encode() + b'\n{"text": "caf\xe9"}\n')
    articles, skipped = scan(tmp_path)
    assert list(articles) == ["n.jsonl#1"]
    assert (skipped[0].line, skipped[0].reason) == (2, "not valid UTF-8 (byte 13 of the line)")


def test_duplicate_ids(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", BODY)
    write(
        tmp_path,
        "b.jsonl",
        "\n".join(
            json.dumps(r)
            for r in [
                {"id": "a.txt", "text": BODY2},  # collides with the file above
                {"id": "k", "text": BODY},
                {"id": "k", "text": BODY2},
            ]
        ),
    )
    articles, skipped = scan(tmp_path)
    assert list(articles) == ["a.txt", "k"]
    assert articles["a.txt"].text == BODY and articles["k"].text == BODY  # the first one wins
    assert [(s.path, s.line) for s in skipped] == [("b.jsonl", 1), ("b.jsonl", 3)]
    assert all(s.reason.startswith("duplicate id") for s in skipped)


# --- bad files -----------------------------------------------------------------


def test_binary_file(tmp_path: Path) -> None:
    write(tmp_path, "img.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert only_skip(tmp_path).reason.startswith("binary file")


def test_utf16_file(tmp_path: Path) -> None:
    write(tmp_path, "u16.txt", BODY.encode("utf-16"))
    assert "UTF-16" in only_skip(tmp_path).reason


# The tie between cp1250 and cp1252 that charset-normalizer reports on short Western text is the hard case.
LEGACY = [
    ("cp1252", "Café au lait is served."),
    ("latin-1", "Café in Etaville served crêpes.\n"),
    ("cp1252", "“We’ll see” – the naïve minister’s résumé in Zürich. " * 3),
    ("latin-1", "Die Straße in München ist groß und schön. " * 5),
    ("cp1250", "Příliš žluťoučký kůň úpěl ďábelské ódy. " * 3),
    ("cp1251", "Привет, это тест на русском языке. " * 3),
]


@pytest.mark.parametrize(("encoding", "text"), LEGACY)
def test_legacy_encodings_are_detected_and_read(tmp_path: Path, encoding: str, text: str) -> None:
    write(tmp_path, "legacy.txt", text.encode(encoding))
    articles, skipped = scan(tmp_path)
    assert skipped == []
    assert articles["legacy.txt"].text == text.strip()


def test_utf8_is_tried_first(tmp_path: Path) -> None:
    write(tmp_path, "u.txt", "Caf\u00e9 \u2013 cr\u00eapes \u4e2d\u6587.".encode())
    assert scan(tmp_path)[0]["u.txt"].text == "Caf\u00e9 \u2013 cr\u00eapes \u4e2d\u6587."


def test_binary_without_nul_bytes_is_still_skipped(tmp_path: Path) -> None:
    write(tmp_path, "noise.txt", bytes(range(1, 256)) * 8)
    assert only_skip(tmp_path).reason.startswith("binary file or unknown text encoding")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "empty file"),
        ("  \n\n\t\n", "empty file"),
        ("Sign up for Daily Newsletters\n\nComments are closed.", "no article text left after removing boilerplate"),
    ],
)
def test_empty(tmp_path: Path, content: str, reason: str) -> None:
    write(tmp_path, "e.txt", content)
    assert only_skip(tmp_path).reason == reason


def test_empty_jsonl(tmp_path: Path) -> None:
    write(tmp_path, "e.jsonl", "\n\n")
    assert only_skip(tmp_path).reason == "empty file"


def test_oversized_file(tmp_path: Path) -> None:
    write(tmp_path, "big.txt", BODY * 10)
    write(tmp_path, "small.txt", BODY)
    articles, skipped = scan(tmp_path, max_bytes=200)
    assert list(articles) == ["small.txt"]
    assert skipped[0].path == "big.txt" and skipped[0].reason.startswith("larger than 200 bytes")


def test_default_size_cap_message(tmp_path: Path) -> None:
    with open(tmp_path / "huge.txt", "wb") as f:  # sparse: costs no disk
        f.truncate(ingest.DEFAULT_MAX_BYTES + 1)
    assert only_skip(tmp_path).reason.startswith("larger than 20 MB")


def test_oversized_jsonl_line(tmp_path: Path) -> None:
    rows = [{"text": BODY}, {"text": BODY * 20}, {"text": BODY2}]
    write(tmp_path, "n.jsonl", "\n".join(json.dumps(r) for r in rows))
    articles, skipped = scan(tmp_path, max_bytes=300)
    assert list(articles) == ["n.jsonl#1", "n.jsonl#3"]
    assert skipped[0].line == 2 and skipped[0].reason.startswith("line larger than 300 bytes")


def test_symlinks(tmp_path: Path) -> None:
    root, outside = tmp_path / "corpus", tmp_path / "outside"
    write(outside, "secret.txt", "Outside text that must not be read.")
    write(root, "real.txt", BODY)
    (root / "escape.txt").symlink_to(outside / "secret.txt")
    (root / "escape_dir").symlink_to(outside, target_is_directory=True)
    (root / "inside.txt").symlink_to(root / "real.txt")
    (root / "dangling.txt").symlink_to(root / "missing.txt")
    articles, skipped = scan(root)
    assert list(articles) == ["inside.txt", "real.txt"]
    assert {(s.path, s.reason) for s in skipped} == {
        ("escape.txt", "symlink points outside the corpus"),
        ("escape_dir", "symlink points outside the corpus"),
        ("dangling.txt", "file vanished or is a broken symlink"),
    }


def test_permission_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulated: the tests may run as root, where chmod 000 does not stop reading."""
    write(tmp_path, "locked.txt", BODY)
    write(tmp_path, "open.txt", BODY2)

    def fake_open(path: object, *args: object, **kwargs: object) -> object:
        if str(path).endswith("locked.txt"):
            raise PermissionError(13, "Permission denied")
        return open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(ingest, "open", fake_open, raising=False)
    articles, skipped = scan(tmp_path)
    assert list(articles) == ["open.txt"]
    assert (skipped[0].path, skipped[0].reason) == ("locked.txt", "permission denied: cannot read the file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    assert only_skip(tmp_path).reason == "not a regular file"


def test_undecodable_file_name(tmp_path: Path) -> None:
    try:
        fd = os.open(os.fsencode(tmp_path) + b"/bad\xff.txt", os.O_CREAT | os.O_WRONLY)
    except OSError:
        pytest.skip("file system refuses non-UTF-8 names")
    os.write(fd, BODY.encode())
    os.close(fd)
    s = only_skip(tmp_path)
    assert s.path == "bad\ufffd.txt" and "not valid UTF-8" in s.reason


def test_unusual_file_names_and_nesting(tmp_path: Path) -> None:
    for rel in ["with space.txt", "ünïcødé 新闻.txt", "-leading-dash.txt", "sub/deeper/a.md", "sub/b.txt", "z.TXT"]:
        write(tmp_path, rel, f"{BODY} ({rel})")
    for rel in [".hidden.txt", ".git/config.txt", "notes.odt", "data.json", "sub/.cache/x.txt", "README"]:
        write(tmp_path, rel, BODY)
    articles, skipped = scan(tmp_path)
    assert skipped == []  # other extensions and hidden files are ignored, not errors
    assert list(articles) == [
        "-leading-dash.txt",
        "sub/b.txt",
        "sub/deeper/a.md",
        "with space.txt",
        "z.TXT",
        "ünïcødé 新闻.txt",
    ]
    assert articles["-leading-dash.txt"].title == lead_title(f"{BODY} (-leading-dash.txt)")
    assert articles["sub/deeper/a.md"].path == "sub/deeper/a.md"


def test_stable_ids_and_hashes(tmp_path: Path) -> None:
    write(tmp_path, "b/x.txt", f"Headline\n\n{BODY}")
    write(tmp_path, "a.jsonl", json.dumps({"text": BODY2}) + "\n" + json.dumps({"id": "q", "text": BODY}))
    write(tmp_path, "c.html", HTML.replace("{b1}", BODY).replace("{b2}", BODY2))
    first = [(a.id, a.hash) for a in scan_corpus(tmp_path)[0]]
    second = [(a.id, a.hash) for a in scan_corpus(str(tmp_path))[0]]
    assert first == second and len(first) == 4
    assert [i for i, _ in first] == ["a.jsonl#1", "q", "b/x.txt", "c.html"]


def test_root_errors(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        list(iter_corpus(tmp_path / "nope"))
    write(tmp_path, "f.txt", BODY)
    with pytest.raises(CorpusError, match="not a directory"):
        scan_corpus(tmp_path / "f.txt")


def test_each_skip_is_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path, "bin.txt", b"\x00\x01")
    write(tmp_path, "n.jsonl", "{bad\n")
    write(tmp_path, "ok.txt", BODY)
    with caplog.at_level(logging.WARNING, logger="qa.ingest"):
        _, skipped = scan(tmp_path)
    records = [r for r in caplog.records if r.name == "qa.ingest"]
    assert len(records) == len(skipped) == 2
    assert "bin.txt" in records[0].getMessage() and "n.jsonl:1" in records[1].getMessage()


def test_supported_suffixes() -> None:
    assert set(SUPPORTED_SUFFIXES) == {".txt", ".md", ".markdown", ".html", ".htm", ".jsonl", ".pdf", ".docx"}


# --- PDF and Word ----------------------------------------------------------------

PDF_LINES = [
    "NATO to stay in Afghanistan",
    "NATO ministers met in Brussels on Wednesday to discuss the mission in Afghan-",
    "istan, the caf\u00e9 owners of Z\u00fcrich said, and the \u201cpeace talks\u201d in Doha that the well-",
    "known delegations attended. The alliance said the decision on Afghanistan would",
    "be taken together.",
    "The ministers will meet again in June to review progress on the peace talks.",
]


def test_pdf_text_layer(tmp_path: Path) -> None:
    write(tmp_path, "report.pdf", make_pdf([PDF_LINES, ["The second page has one more sentence."]]))
    (a,) = scan(tmp_path)[0].values()
    assert a.title == "NATO to stay in Afghanistan"  # no metadata title: the headline line
    assert a.text.split("\n\n") == [
        "NATO ministers met in Brussels on Wednesday to discuss the mission in Afghanistan, the caf\u00e9 owners "
        "of Z\u00fcrich said, and the \u201cpeace talks\u201d in Doha that the well-known delegations attended. "
        "The alliance said the decision on Afghanistan would be taken together.",
        "The ministers will meet again in June to review progress on the peace talks.",
        "The second page has one more sentence.",
    ]


def test_pdf_metadata_title(tmp_path: Path) -> None:
    write(tmp_path, "t.pdf", make_pdf([[BODY]], title="Ministers meet"))
    write(tmp_path, "w.pdf", make_pdf([[BODY]], title="Microsoft Word - draft3.doc"))
    articles = scan(tmp_path)[0]
    assert (articles["t.pdf"].title, articles["t.pdf"].text) == ("Ministers meet", BODY)
    assert articles["w.pdf"].title.startswith("NATO ministers met")  # a placeholder is no title: the lead is


def test_scanned_pdf_is_skipped_with_a_reason(tmp_path: Path) -> None:
    write(tmp_path, "scan.pdf", make_pdf([[], []]))
    s = only_skip(tmp_path)
    assert s.reason.startswith("no text layer (scanned PDF?)") and "2 page(s)" in s.reason


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type", "not a readable PDF"),
        ("html.pdf", b"<html><body>not a pdf</body></html>", "not a readable PDF"),
        ("broken.docx", b"PK\x03\x04 not really a zip", "not a readable .docx file"),
        ("text.docx", BODY.encode(), "not a readable .docx file"),
    ],
)
def test_broken_documents_are_skipped(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    write(tmp_path, name, data)
    assert only_skip(tmp_path).reason.startswith(reason)


def test_docx(tmp_path: Path) -> None:
    write(tmp_path, "a.docx", make_docx([BODY, "", BODY2], heading="NATO to stay"))
    write(tmp_path, "b.docx", make_docx([BODY], title="From the properties"))
    articles = scan(tmp_path)[0]
    assert (articles["a.docx"].title, articles["a.docx"].text) == ("NATO to stay", f"{BODY}\n\n{BODY2}")
    assert (articles["b.docx"].title, articles["b.docx"].text) == ("From the properties", BODY)


def test_docx_zip_bomb_is_not_unpacked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "_MAX_DOCX_XML", 1000)
    write(tmp_path, "big.docx", make_docx([BODY * 20]))
    assert "unpacks to more than" in only_skip(tmp_path).reason


# --- what qa add and qa feed leave in the corpus -----------------------------------


def test_feed_list_and_state_are_not_articles(tmp_path: Path) -> None:
    write(tmp_path, "feeds.txt", "https://example.org/rss\n")
    write(tmp_path, "feeds/.state.json", '{"feeds": {}}')
    write(tmp_path, "notes/feeds.txt", f"Feeds\n\n{BODY}")  # only the top-level list is reserved
    articles, skipped = scan(tmp_path)
    assert list(articles) == ["notes/feeds.txt"] and skipped == []


def test_front_matter_double_quoted_values_are_json_strings(tmp_path: Path) -> None:
    write(tmp_path, "q.md", f'---\ntitle: "He said \\"no\\" \\u2013 twice"\nsource: \'Example\'\n---\n{BODY}\n')
    (a,) = scan(tmp_path)[0].values()
    assert (a.title, a.source) == ('He said "no" \u2013 twice', "Example")


def test_a_big_jsonl_file_is_read_whole_and_in_order(tmp_path: Path) -> None:
    """5,000 news-sized articles in one file (not timed: the speed of a busy machine proves nothing)."""
    text = "\n\n".join([BODY, BODY2] * 12)  # ~4 KB, like a news article
    with open(tmp_path / "big.jsonl", "w", encoding="utf-8") as f:
        for i in range(5000):
            f.write(json.dumps({"id": f"a{i}", "title": f"Title {i}", "text": text, "date": "2020-10-21"}) + "\n")
    articles, skipped = scan_corpus(tmp_path)
    assert not skipped
    assert [a.id for a in articles] == [f"a{i}" for i in range(5000)]
    assert [a.title for a in articles[::1000]] == [f"Title {i}" for i in range(0, 5000, 1000)]
    assert len({a.text for a in articles}) == 1 and {a.date for a in articles} == {"2020-10-21"}
