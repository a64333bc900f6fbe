"""Corpus reading: every format, every way a file can be bad, determinism."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest

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


def test_html_invalid_utf8_without_charset(tmp_path: Path) -> None:
    write(tmp_path, "bad.html", b"<html><body><p>Caf\xe9 au lait</p></body></html>")
    s = only_skip(tmp_path)
    assert s.reason.startswith("not valid UTF-8 (byte 18)") and "charset" in s.reason


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


def test_invalid_utf8(tmp_path: Path) -> None:
    write(tmp_path, "latin.txt", b"Caf\xe9 au lait is served.")
    s = only_skip(tmp_path)
    assert (s.path, s.reason) == ("latin.txt", "not valid UTF-8 (byte 3); re-save the file as UTF-8")


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
    for rel in [".hidden.txt", ".git/config.txt", "notes.pdf", "data.json", "sub/.cache/x.txt", "README"]:
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
    assert set(SUPPORTED_SUFFIXES) == {".txt", ".md", ".markdown", ".html", ".htm", ".jsonl"}


def test_jsonl_ingest_is_fast(tmp_path: Path) -> None:
    """20,000 articles must take well under 10 s; 5,000 here keeps the suite quick."""
    text = "\n\n".join([BODY, BODY2] * 12)  # ~4 KB, like a news article
    with open(tmp_path / "big.jsonl", "w", encoding="utf-8") as f:
        for i in range(5000):
            f.write(json.dumps({"id": f"a{i}", "title": f"Title {i}", "text": text, "date": "2020-10-21"}) + "\n")
    start = time.perf_counter()
    articles, skipped = scan_corpus(tmp_path)
    assert time.perf_counter() - start < 5.0
    assert len(articles) == 5000 and not skipped
