"""qa.fetch and `qa add`: limits, refusals and saved files, all against a server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import http_fixture
import pytest
from doc_fixtures import make_pdf
from http_fixture import article_page

from qa import fetch
from qa.fetch import FEEDS, PAGES, Fetcher, FetchError, FetchOptions, is_public_address, normalize_url
from qa.ingest import scan_corpus
from qa.webpage import add_urls, host_name, slugify, url_slug

ROOT = Path(__file__).resolve().parent.parent
P1 = "NATO ministers met in Brussels on Wednesday to discuss the mission in Afghanistan, where troops served for years."
P2 = "The alliance said the decision would be taken together, officials told reporters after the meeting ended."
P3 = "The ministers will meet again in June to review progress on the peace talks in Doha, officials said."
PAGE = article_page("NATO to stay in Afghanistan", [P1, P2, P3])


server, corpus = http_fixture.server, http_fixture.corpus  # the shared fixtures


def fetch_error(url: str, accept=PAGES, **options) -> str:
    with Fetcher(FetchOptions(**options)) as f, pytest.raises(FetchError) as info:
        f.get(url, accept)
    assert str(info.value).startswith(info.value.url) and "\n" not in str(info.value)  # one line naming the URL
    return info.value.reason


# --- the fetch layer ---------------------------------------------------------------


def test_a_page_is_fetched_with_its_type_and_charset(server):
    url = server.route("/p", PAGE.encode("cp1252"), content_type="text/html; charset=windows-1252")
    with Fetcher() as f:
        got = f.get(url)
    assert (got.status, got.content_type, got.charset, got.final_url) == (200, "text/html", "windows-1252", url)
    assert got.body == PAGE.encode("cp1252")
    assert "text/html" in server.requests[0][1]["accept"] and server.requests[0][1]["user-agent"].startswith("qa/")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only http and https URLs are fetched (got file:)"),
        ("ftp://127.0.0.1/x", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("example.com/news", "not a URL"),
        ("", "not a URL"),
        ("http://", "no host name"),
        ("http://127.0.0.1:notaport/", "not a valid URL"),
    ],
)
def test_only_http_and_https_urls(url, reason):
    with pytest.raises(FetchError, match="^.*" + reason.replace("(", r"\(").replace(")", r"\)")):
        normalize_url(url)


def test_a_404_and_a_server_error_name_their_status(server):
    assert fetch_error(server.url("/missing")) == "HTTP 404 Not Found"
    server.route("/boom", "oops", status=500)
    assert fetch_error(server.url("/boom")).startswith("HTTP 500")


def test_wrong_content_type_is_refused(server):
    server.route("/img", b"\x89PNG\r\n", content_type="image/png")
    assert fetch_error(server.url("/img")) == "content type image/png is not an HTML page or a PDF"
    server.route("/page", PAGE)
    assert fetch_error(server.url("/page"), FEEDS) == "content type text/html is not an RSS or Atom feed"
    server.route("/none", PAGE, content_type="")
    assert "content type missing" in fetch_error(server.url("/none"))


def test_a_huge_page_is_cut_off_while_streaming(server):
    block = b"<p>" + b"word " * 20_000 + b"</p>"  # 100 KB
    server.route("/declared", block * 120)  # 12 MB with a Content-Length: refused before reading
    assert fetch_error(server.url("/declared")) == "larger than 10 MB (Content-Length 11.4 MB); not downloaded"
    sent = []
    # No length, 100 MB if read to the end: the cap stops the download.
    server.route("/streamed", content_length=False, stream=lambda: (sent.append(1) or block for _ in range(1000)))
    assert fetch_error(server.url("/streamed")) == "larger than 10 MB; stopped downloading"
    assert len(sent) < 200  # the client hung up long before the end
    assert "larger than 1 MB" in fetch_error(server.url("/streamed"), max_bytes=1 << 20)


def test_a_slow_drip_is_stopped_by_the_total_timeout(server):
    import time

    def drip():
        for _ in range(50):
            time.sleep(0.1)
            yield b"<p>x</p>"

    server.route("/slow", stream=drip)
    assert "took longer than 0.5 s" in fetch_error(server.url("/slow"), total_timeout=0.5)


def test_redirects_are_followed_up_to_five(server):
    server.route("/end", PAGE)
    for i in range(5):
        server.redirect(f"/r{i}", f"/r{i + 1}" if i < 4 else "/end", status=(301, 302, 303, 307, 308)[i])
    with Fetcher() as f:
        got = f.get(server.url("/r0"))
    assert got.final_url == server.url("/end") and got.url == server.url("/r0")
    server.redirect("/six", "/r0")
    assert fetch_error(server.url("/six")) == "more than 5 redirects"


def test_a_redirect_loop_is_named(server):
    server.redirect("/a", "/b")
    server.redirect("/b", "/a")
    assert fetch_error(server.url("/a")) == f"redirect loop (back to {server.url('/a')})"
    assert server.hits() == {"/a": 1, "/b": 1}


def test_a_redirect_to_another_scheme_is_refused(server):
    server.redirect("/to-file", "file:///etc/passwd")
    assert "redirected to a URL that is not fetched" in fetch_error(server.url("/to-file"))


def test_a_refused_connection_is_one_line(server):
    port = server.port
    server.__exit__()  # nothing listens there any more
    assert fetch_error(f"http://127.0.0.1:{port}/").startswith("cannot connect or read")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata: link-local
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:10.0.0.1", False),
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_public_addresses(address, public):
    assert is_public_address(address) is public  # pure: nothing is contacted


def test_private_addresses_are_refused_when_asked(server):
    server.route("/p", PAGE)
    for url in (server.url("/p"), f"http://localhost:{server.port}/p"):
        reason = fetch_error(url, allow_private=False)
        assert reason.startswith("refused:") and "loopback, link-local or private" in reason
    assert server.requests == []  # refused before connecting
    with Fetcher() as f:  # the default (the CLI's) allows them
        assert f.get(server.url("/p")).status == 200


def test_every_redirect_hop_is_checked(server, monkeypatch):
    """127.0.0.1 stands in for a public host here; the redirect points at 127.0.0.2, which is not."""
    monkeypatch.setattr(fetch, "is_public_address", lambda a: a == "127.0.0.1")
    server.route("/p", PAGE)
    server.redirect("/hop", f"http://127.0.0.2:{server.port}/p")
    with Fetcher(FetchOptions(allow_private=False)) as f:
        assert f.get(server.url("/p")).status == 200  # the stand-in public host is fetched
        with pytest.raises(FetchError, match="refused: 127.0.0.2 resolves to 127.0.0.2"):
            f.get(server.url("/hop"))
    assert server.hits() == {"/p": 1, "/hop": 1}


def test_the_connected_address_is_checked_too(server, monkeypatch):
    """DNS that says "public" to the check and then "127.0.0.1" to the connect is caught at the peer."""
    monkeypatch.setattr(Fetcher, "_check_host", lambda self, asked, url: None)
    server.route("/p", PAGE)
    reason = fetch_error(server.url("/p"), allow_private=False)
    assert reason.startswith("refused: 127.0.0.1 resolves to 127.0.0.1")


def test_conditional_requests(server):
    server.route("/f", "<rss/>", content_type="application/rss+xml", etag='"v1"')
    with Fetcher() as f:
        first = f.get(server.url("/f"), FEEDS)
        again = f.get(server.url("/f"), FEEDS, etag=first.etag)
    assert (first.status, first.etag, again.status, again.not_modified, again.body) == (200, '"v1"', 304, True, b"")
    assert server.requests[1][1]["if-none-match"] == '"v1"'


# --- names of saved files ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("https://example.com/2020/10/21/nato-to-stay.html", "nato-to-stay"),
        ("https://example.com/news/world/nato-to-stay/index.html", "nato-to-stay"),
        ("https://example.com/news/story/12345", "news-12345"),
        ("https://example.com/", ""),
        ("https://example.com/../../etc/passwd", "passwd"),
        ("https://example.com/%2e%2e%2f%2e%2e%2fsecret", "secret"),
        ("https://example.com/.hidden", "hidden"),
        ("https://example.com/Caf%C3%A9-Z%C3%BCrich", "cafe-zurich"),
        ("https://example.com/" + "long-" * 40 + "end", ("long-" * 16).rstrip("-")),
    ],
)
def test_url_slugs(url, slug):
    assert url_slug(url) == slug


def test_host_names_are_safe_folder_names():
    assert host_name("https://WWW.Example.COM:8443/x") == "www.example.com"
    assert host_name("https://bücher.example/x") == "xn--bcher-kva.example"
    assert host_name("http://[::1]:8000/") == "1"
    assert host_name("http://.../") == "unknown-host"
    assert slugify("新闻") == "" and slugify("  Hello, World!  ") == "hello-world"


# --- qa add -------------------------------------------------------------------------


def test_add_saves_the_article_with_front_matter(server, corpus):
    url = server.route("/2020/10/21/nato-to-stay.html", PAGE)
    report = add_urls(corpus, [url])
    assert report.to_dict() == {"added": [url], "updated": [], "unchanged": [], "failed": []}
    saved = corpus / "web" / "127.0.0.1" / "nato-to-stay.md"
    assert report.added[0].path == "web/127.0.0.1/nato-to-stay.md" and saved.is_file()
    text = saved.read_text(encoding="utf-8")
    assert text.startswith(f'---\ntitle: "NATO to stay in Afghanistan"\ndate: "2020-10-21"\nurl: "{url}"\n')
    (article,), skipped = scan_corpus(corpus)
    assert skipped == []
    assert (article.id, article.title, article.date, article.source, article.url) == (
        "web/127.0.0.1/nato-to-stay.md",
        "NATO to stay in Afghanistan",
        "2020-10-21",
        "Example News",
        url,
    )
    assert article.text == f"{P1}\n{P2}\n{P3}"
    for boilerplate in ("Home", "cookies", "Sidebar headline", "commentWord", "Copyright", "trackingScriptWord"):
        assert boilerplate not in article.text


def test_adding_again_rewrites_only_when_the_text_changed(server, corpus):
    url = server.route("/nato-story", PAGE)
    add_urls(corpus, [url])
    saved = corpus / "web" / "127.0.0.1" / "nato-story.md"
    before = saved.stat().st_mtime_ns
    assert add_urls(corpus, [url]).to_dict()["unchanged"] == [url]
    assert saved.stat().st_mtime_ns == before
    server.route("/nato-story", article_page("NATO to stay in Afghanistan", [P1, P2, P3, "A correction was added."]))
    assert add_urls(corpus, [url]).to_dict()["updated"] == [url]
    assert "A correction was added." in saved.read_text(encoding="utf-8")
    assert [p.name for p in saved.parent.iterdir()] == ["nato-story.md"]  # no temporary files left


def test_two_urls_with_the_same_slug_get_two_files(server, corpus):
    a = server.route("/world/nato.html", PAGE)
    b = server.route("/politics/nato.html", article_page("Another NATO story", [P3, P2]))
    report = add_urls(corpus, [a, b, a])
    assert [s.path for s in report.added] == ["web/127.0.0.1/nato.md", report.added[1].path]
    assert report.added[1].path.startswith("web/127.0.0.1/nato-") and len(report.added[1].path) == len(
        "web/127.0.0.1/nato-12345678.md"
    )
    assert report.to_dict()["unchanged"] == [a]  # the same URL again finds its own file
    assert add_urls(corpus, [b]).to_dict()["unchanged"] == [b]
    titles = sorted(a.title for a in scan_corpus(corpus)[0])
    assert titles == ["Another NATO story", "NATO to stay in Afghanistan"]


def test_a_redirected_url_is_saved_under_its_final_address(server, corpus):
    final = server.route("/articles/nato-to-stay", PAGE)
    short = server.redirect("/s/abc", "/articles/nato-to-stay", status=301)
    report = add_urls(corpus, [short])
    assert report.to_dict()["added"] == [short] and report.added[0].path == "web/127.0.0.1/nato-to-stay.md"
    assert f'url: "{final}"' in (corpus / report.added[0].path).read_text(encoding="utf-8")
    assert add_urls(corpus, [final]).to_dict()["unchanged"] == [final]


def test_a_pdf_url_is_saved_as_text(server, corpus):
    pdf = make_pdf([["Harbour report", P1, P2]], title="Harbour report")
    url = server.route("/files/harbour-report.pdf", pdf, content_type="application/pdf")
    report = add_urls(corpus, [url])
    assert report.added[0].path == "web/127.0.0.1/harbour-report.md"
    (article,), _ = scan_corpus(corpus)
    assert article.title == "Harbour report" and P1 in article.text


def test_failures_are_reported_and_the_rest_goes_on(server, corpus):
    good = server.route("/good", PAGE)
    server.route("/empty", "<html><body><script>x()</script></body></html>")
    server.route("/img", b"GIF89a", content_type="image/gif")
    urls = [server.url("/missing"), "file:///etc/passwd", server.url("/img"), server.url("/empty"), good]
    report = add_urls(corpus, urls)
    assert report.to_dict()["added"] == [good]
    assert [(f.url, f.reason) for f in report.failed] == [
        (server.url("/missing"), "HTTP 404 Not Found"),
        ("file:///etc/passwd", "only http and https URLs are fetched (got file:)"),
        (server.url("/img"), "content type image/gif is not an HTML page or a PDF"),
        (server.url("/empty"), "no article text found on the page"),
    ]


def test_an_unexpected_error_is_contained_to_its_url(server, corpus, monkeypatch):
    import qa.webpage

    real = qa.webpage.extract_html

    def flaky(html, url=None):
        if "bad" in (url or ""):
            raise RuntimeError("parser bug")
        return real(html, url=url)

    monkeypatch.setattr(qa.webpage, "extract_html", flaky)
    bad, good = server.route("/bad", PAGE), server.route("/good", PAGE)
    report = add_urls(corpus, [bad, good])
    assert report.to_dict()["added"] == [good]
    assert report.to_dict()["failed"] == [{"url": bad, "reason": "unexpected error (RuntimeError: parser bug)"}]


def test_never_saves_through_a_symlinked_folder(server, corpus, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (corpus / "web").symlink_to(outside, target_is_directory=True)
    report = add_urls(corpus, [server.route("/p", PAGE)])
    assert report.added == [] and "symlink" in report.failed[0].reason
    assert list(outside.iterdir()) == []


def test_a_missing_corpus_is_an_error(tmp_path):
    from qa.errors import CorpusError

    with pytest.raises(CorpusError, match="does not exist"):
        add_urls(tmp_path / "nope", ["http://127.0.0.1/"])


def test_cli_add_json(server, corpus):
    good = server.route("/2020/nato.html", PAGE)
    missing = server.url("/gone")
    out = qa("add", good, missing, "--corpus", str(corpus), "--json")
    assert out.returncode == 1  # something failed
    assert json.loads(out.stdout) == {
        "added": [good],
        "updated": [],
        "unchanged": [],
        "failed": [{"url": missing, "reason": "HTTP 404 Not Found"}],
    }
    assert out.stderr.strip().splitlines() == [f"error: {missing}: HTTP 404 Not Found"]
    out = qa("add", good, "--corpus", str(corpus))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"unchanged web/127.0.0.1/nato.md  ({good})",
        "0 added, 0 updated, 1 unchanged, 0 failed",
    ]
    out = qa("add", good, "--corpus", str(corpus / "missing"))
    assert out.returncode == 1 and out.stderr.startswith("error: corpus directory") and "Traceback" not in out.stderr


def qa(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
