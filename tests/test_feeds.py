"""qa.feeds and `qa feed`: RSS and Atom against a local server, counting requests to prove what is fetched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html import escape
from pathlib import Path

import http_fixture
import pytest
from http_fixture import LocalServer, article_page

from qa import feeds
from qa.errors import CorpusError
from qa.feeds import FULL_TEXT_CHARS, add_feed, feed_list, sync_feeds
from qa.fetch import FetchError
from qa.ingest import scan_corpus

ROOT = Path(__file__).resolve().parent.parent
LEAD = "The harbour of Deltaport reopened on Monday after two years of repairs to its sea wall."
MORE = (
    "Engineers from the port authority said the new wall would withstand storms of the kind that flooded the "
    "old town in 2018. Fishing boats returned to the inner harbour within hours of the opening, and the ferry "
    "to the islands will run again from next week, the mayor said at a ceremony on the quay. "
)
FULL = LEAD + " " + MORE * 4  # the whole article, carried by the feed itself
TEASER = "Council approves the bridge budget after a long debate [\u2026]"
BRIDGE = [
    "The Gammaburg council approved the bridge budget on Tuesday after a debate that lasted until midnight.",
    "The new bridge will link the two halves of the town, which the river has divided for centuries.",
]
MARKET = ["The market in Betatown sold quinces to visitors from the coast on Saturday, traders said."]


server, corpus = http_fixture.server, http_fixture.corpus  # the shared fixtures


def rss(server: LocalServer, items: list[dict], title: str = "Deltaport Gazette") -> str:
    """RSS 2.0: each item has guid, title, link (a path on the server), pubDate, description, content."""
    parts = []
    for it in items:
        content = f"<content:encoded>{escape(it['content'])}</content:encoded>" if it.get("content") else ""
        guid = f"<guid isPermaLink='false'>{it['guid']}</guid>" if it.get("guid") else ""
        parts.append(
            f"<item>{guid}<title>{escape(it['title'])}</title><link>{server.url(it['link'])}</link>"
            f"<pubDate>{it.get('date', 'Wed, 21 Oct 2020 10:00:00 GMT')}</pubDate>"
            f"<description>{escape(it.get('summary', ''))}</description>{content}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{title}</title><link>{server.url('/')}</link><description>News</description>"
        + "".join(parts)
        + "</channel></rss>"
    )


def atom(server: LocalServer, e: dict) -> str:
    """Atom 1.0 with one entry: id, title, link (a path on the server), published/updated, summary."""
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Betatown Atom</title><id>urn:betatown</id><updated>2021-03-04T08:00:00Z</updated>"
        f"<entry><id>{e['guid']}</id><title>{escape(e['title'])}</title>"
        f'<link rel="alternate" href="{server.url(e["link"])}"/><published>{e["date"]}</published>'
        f"<updated>{e['date']}</updated><summary>{escape(e.get('summary', ''))}</summary></entry></feed>"
    )


ITEMS = [
    {"guid": "harbour-1", "title": "Deltaport harbour reopens", "link": "/a/harbour", "content": f"<p>{FULL}</p>"},
    {"guid": "bridge-2", "title": "Bridge budget approved", "link": "/a/bridge", "summary": TEASER},
]


def serve_pages(server: LocalServer) -> None:
    server.route("/a/harbour", article_page("Deltaport harbour reopens", [FULL]))
    server.route("/a/bridge", article_page("Bridge budget approved", BRIDGE, date="2019-01-01"))
    server.route("/b/market", article_page("Quinces at the market", MARKET, date="2021-03-04"))


def page_hits(server: LocalServer) -> int:
    return sum(n for path, n in server.hits().items() if path.startswith(("/a/", "/b/")))


def test_rss_entries_are_saved_from_the_feed_or_their_page(server, corpus):
    serve_pages(server)
    url = server.route("/rss.xml", rss(server, ITEMS), content_type="application/rss+xml", etag='"r1"')
    report = sync_feeds(corpus, urls=[url])
    assert report.to_dict() == {"feeds": 1, "new": 2, "updated": 0, "unchanged": 0, "failed": []}
    assert server.hits()["/a/harbour"] == 0  # its full text came with the feed
    assert server.hits()["/a/bridge"] == 1  # a teaser: the page was fetched
    folder = "feeds/127-0-0-1-rss-xml"
    assert sorted(s.path for s in report.new) == [
        f"{folder}/bridge-budget-approved.md",
        f"{folder}/deltaport-harbour-reopens.md",
    ]
    articles = {a.id: a for a in scan_corpus(corpus)[0]}
    harbour, bridge = (
        articles[f"{folder}/deltaport-harbour-reopens.md"],
        articles[f"{folder}/bridge-budget-approved.md"],
    )
    assert (harbour.title, harbour.date, harbour.source, harbour.url) == (
        "Deltaport harbour reopens",
        "2020-10-21",
        "Deltaport Gazette",
        server.url("/a/harbour"),
    )
    assert harbour.text == FULL.strip()
    assert bridge.date == "2020-10-21"  # the entry's date, not the page's 2019-01-01
    assert bridge.text == "\n".join(BRIDGE) and "Sidebar" not in bridge.text
    assert sorted(articles) == sorted(s.path for s in report.new)  # the state file is no article


def test_a_sync_without_changes_fetches_no_page_and_uses_the_etag(server, corpus):
    serve_pages(server)
    url = server.route("/rss.xml", rss(server, ITEMS), content_type="application/rss+xml", etag='"r1"')
    sync_feeds(corpus, urls=[url])
    before = page_hits(server)
    report = sync_feeds(corpus, urls=[url])
    assert report.to_dict() == {"feeds": 1, "new": 0, "updated": 0, "unchanged": 2, "failed": []}
    assert page_hits(server) == before
    feed_requests = [h for p, h in server.requests if p == "/rss.xml"]
    assert len(feed_requests) == 2 and feed_requests[1]["if-none-match"] == '"r1"'  # answered 304
    state = json.loads((corpus / "feeds" / ".state.json").read_text())
    assert state["feeds"][url]["etag"] == '"r1"'


def test_atom_with_last_modified(server, corpus):
    serve_pages(server)
    entry = {
        "guid": "urn:market",
        "title": "Quinces at the market",
        "link": "/b/market",
        "date": "2021-03-04T08:00:00Z",
    }
    stamp = "Thu, 04 Mar 2021 08:00:00 GMT"
    url = server.route("/atom", atom(server, entry), content_type="application/atom+xml", last_modified=stamp)
    first = sync_feeds(corpus, urls=[url])
    assert first.to_dict()["new"] == 1 and server.hits()["/b/market"] == 1
    (article,) = scan_corpus(corpus)[0]
    assert (article.title, article.date, article.source) == ("Quinces at the market", "2021-03-04", "Betatown Atom")
    second = sync_feeds(corpus, urls=[url])
    assert second.to_dict()["unchanged"] == 1 and server.hits()["/b/market"] == 1
    assert server.requests[-1][1]["if-modified-since"] == stamp


def test_without_validators_the_feed_is_read_again_but_no_page_is(server, corpus):
    serve_pages(server)
    url = server.route("/rss.xml", rss(server, ITEMS), content_type="text/xml")
    sync_feeds(corpus, urls=[url])
    before = page_hits(server)
    assert sync_feeds(corpus, urls=[url]).to_dict()["unchanged"] == 2
    assert page_hits(server) == before and server.hits()["/rss.xml"] == 2


def test_a_feed_that_changes_between_syncs(server, corpus):
    serve_pages(server)
    url = server.route("/rss.xml", rss(server, ITEMS), content_type="application/rss+xml", etag='"r1"')
    sync_feeds(corpus, urls=[url])
    changed = [
        {**ITEMS[0], "content": f"<p>{FULL} A correction: the wall is four metres high.</p>"},
        ITEMS[1],
        {"guid": "market-3", "title": "Quinces at the market", "link": "/b/market", "summary": "Quinces."},
    ]
    server.route("/rss.xml", rss(server, changed), content_type="application/rss+xml", etag='"r2"')
    report = sync_feeds(corpus, urls=[url])
    assert report.to_dict() == {"feeds": 1, "new": 1, "updated": 1, "unchanged": 1, "failed": []}
    assert [s.url for s in report.updated] == [server.url("/a/harbour")]
    assert server.hits()["/b/market"] == 1 and server.hits()["/a/bridge"] == 1  # the unchanged teaser: not again
    texts = " ".join(a.text for a in scan_corpus(corpus)[0])
    assert "four metres high" in texts and MARKET[0] in texts


def test_entries_are_keyed_by_guid_else_link(server, corpus):
    serve_pages(server)
    items = [{"title": "Quinces at the market", "link": "/b/market", "summary": "Quinces."}]  # no guid
    url = server.route("/rss.xml", rss(server, items), content_type="application/rss+xml")
    sync_feeds(corpus, urls=[url])
    state = json.loads((corpus / "feeds" / ".state.json").read_text())
    assert list(state["feeds"][url]["entries"]) == [server.url("/b/market")]
    # The same title under a new guid is another entry: it gets its own file.
    items2 = [{**ITEMS[0], "guid": "harbour-1"}, {**ITEMS[0], "guid": "harbour-1-again", "link": "/a/harbour2"}]
    server.route("/a/harbour2", article_page("Deltaport harbour reopens", [FULL]))
    url2 = server.route("/two.xml", rss(server, items2), content_type="application/rss+xml")
    report = sync_feeds(corpus, urls=[url2])
    paths = sorted(s.path for s in report.new)
    assert len(paths) == 2 and paths[0] != paths[1] and all(p.startswith("feeds/127-0-0-1-two-xml/") for p in paths)


def test_teasers_are_told_apart_by_length_and_ending(server, corpus):
    long_teaser = "Officials met for the budget. " * (FULL_TEXT_CHARS // 30 + 5) + "Continue reading \u2192"
    assert len(long_teaser) > FULL_TEXT_CHARS
    items = [
        {"guid": "t1", "title": "Bridge budget approved", "link": "/a/bridge", "summary": long_teaser},
        {"guid": "t2", "title": "Short full text", "link": "/a/short", "content": "<p>" + LEAD + "</p>"},
    ]
    serve_pages(server)
    server.route("/a/short", article_page("Short full text", [LEAD, MORE]))
    url = server.route("/rss.xml", rss(server, items), content_type="application/rss+xml")
    sync_feeds(corpus, urls=[url])
    assert server.hits()["/a/bridge"] == 1 and server.hits()["/a/short"] == 1  # both fetched: neither is whole
    assert any(MORE.strip() in a.text for a in scan_corpus(corpus)[0])


def test_a_failing_entry_is_reported_and_tried_again_next_time(server, corpus):
    serve_pages(server)
    items = [*ITEMS, {"guid": "gone", "title": "Gone", "link": "/a/gone", "summary": "Soon."}]
    url = server.route("/rss.xml", rss(server, items), content_type="application/rss+xml", etag='"r1"')
    report = sync_feeds(corpus, urls=[url])
    assert report.to_dict()["new"] == 2
    assert report.to_dict()["failed"] == [{"url": server.url("/a/gone"), "reason": "HTTP 404 Not Found"}]
    server.route("/a/gone", article_page("Gone", MARKET))
    # The ETag was not kept while an entry was missing: the feed is read whole and the entry retried.
    second = sync_feeds(corpus, urls=[url]).to_dict()
    assert second == {"feeds": 1, "new": 1, "updated": 0, "unchanged": 2, "failed": []}
    assert sync_feeds(corpus, urls=[url]).to_dict()["unchanged"] == 3  # all saved: now a 304
    feed_requests = [headers for path, headers in server.requests if path == "/rss.xml"]
    assert ["if-none-match" in h for h in feed_requests] == [False, False, True]


def test_a_broken_feed_does_not_stop_the_others(server, corpus):
    serve_pages(server)
    good = server.route("/rss.xml", rss(server, ITEMS), content_type="application/rss+xml")
    bad = server.route("/bad.xml", "<html><p>not a feed</p>", content_type="application/xml")
    report = sync_feeds(corpus, urls=[server.url("/missing.xml"), bad, "ftp://x/feed", good])
    assert report.to_dict()["new"] == 2 and report.feeds == 4
    reasons = {f.url: f.reason for f in report.failed}
    assert reasons[server.url("/missing.xml")] == "HTTP 404 Not Found"
    assert reasons[bad].startswith("not a readable RSS or Atom feed")
    assert reasons["ftp://x/feed"].startswith("only http and https")


def test_add_feed_remembers_it_once(server, corpus):
    serve_pages(server)
    url = server.route("/rss.xml", rss(server, ITEMS), content_type="application/rss+xml", etag='"r1"')
    assert add_feed(corpus, url).to_dict()["new"] == 2
    assert add_feed(corpus, "  " + url + "  ").to_dict()["unchanged"] == 2
    assert add_feed(corpus, url.replace("http://", "HTTP://") + "#top").to_dict()["unchanged"] == 2
    assert (corpus / "feeds.txt").read_text() == url + "\n" and feed_list(corpus) == [url]
    with pytest.raises(FetchError, match="HTTP 404 Not Found; the feed was not added"):
        add_feed(corpus, server.url("/nothing.xml"))
    assert feed_list(corpus) == [url]
    assert [a.id for a in scan_corpus(corpus)[0] if "feeds.txt" in a.id] == []  # the list is no article


def test_a_damaged_state_file_is_an_error_that_says_what_to_do(server, corpus):
    (corpus / "feeds").mkdir()
    (corpus / "feeds" / ".state.json").write_text("{not json")
    with pytest.raises(CorpusError, match="delete it to start over"):
        sync_feeds(corpus, urls=[server.url("/rss.xml")])


def test_a_tampered_state_cannot_send_files_elsewhere(server, corpus):
    serve_pages(server)
    url = server.route("/rss.xml", rss(server, ITEMS[:1]), content_type="application/rss+xml")
    sync_feeds(corpus, urls=[url])
    state_path = corpus / "feeds" / ".state.json"
    state = json.loads(state_path.read_text())
    state["feeds"][url]["folder"] = "../../outside"
    for entry in state["feeds"][url]["entries"].values():
        entry["file"], entry["fingerprint"] = "../../escape.md", "changed"
    state_path.write_text(json.dumps(state))
    sync_feeds(corpus, urls=[url])
    written = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.md"))
    assert written == ["feeds/127-0-0-1-rss-xml/deltaport-harbour-reopens.md"]
    assert not (corpus.parent / "escape.md").exists() and not (corpus.parent / "outside").exists()


def test_cli_feed_add_and_sync(server, corpus):
    serve_pages(server)
    url = server.route("/rss.xml", rss(server, ITEMS), content_type="application/rss+xml", etag='"r1"')
    out = qa("feed", "add", url, "--corpus", str(corpus))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == f"following {url} (listed in {corpus / 'feeds.txt'})"
    assert out.stdout.splitlines()[-1] == "1 feed(s): 2 new, 0 updated, 0 unchanged, 0 failed"
    out = qa("feed", "sync", "--corpus", str(corpus), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"feeds": 1, "new": 0, "updated": 0, "unchanged": 2, "failed": []}
    out = qa("feed", "add", server.url("/nope.xml"), "--corpus", str(corpus))
    assert out.returncode == 1 and out.stderr.splitlines() == [
        f"error: {server.url('/nope.xml')}: HTTP 404 Not Found; the feed was not added"
    ]


def qa(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_feed_module_names():
    assert feeds.STATE_FILE == "feeds/.state.json" and feeds.FEEDS_DIR == "feeds"
