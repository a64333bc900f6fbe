"""End-to-end: `python ui.py` (qa.web.server) on a free loopback port, driven by Debian's Chromium through Playwright.

One server per module: it starts on a temporary copy of the shipped corpus (plus an article carrying
script payloads) with no index, so it also exercises the first-start build.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import CORPUS, ROOT, SEED_QUESTIONS
from tests.support.wait import wait_for

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 240  # model load + first build of 6 articles on a busy 2-core machine

# Fallback when ../shared is absent: the same seed question, its answer and its source article.
SEED = {
    "question": "Who replaced the fired US Secretary of Defense?",
    "answers": ["Christopher Miller"],
    "sources": ["000_e4fff1e13a0bbc77.txt"],
}
PAYLOAD = """---
title: <img src=x onerror="window.__qaXss=1;alert(1)">Harbour <b>festival</b>
source: <script>window.__qaXss=2</script>Coast Gazette
date: 2021-06-03
---
The harbour festival in Port Alva drew 9,400 visitors on Saturday. <script>window.__qaXss=3;alert('xss')</script>
Organisers said the lantern parade <img src=x onerror="window.__qaXss=4;alert(4)"> was the highlight of the evening.

The mayor, Ilse Varga, announced that the festival will return next June with a second stage.
"""
NEW_ARTICLE = (
    "Lunar greenhouse harvest\n\nThe lunar greenhouse at Shackleton crater, run by engineer Tove "
    "Lindqvist, grew 43 kilograms of basil in its first season.\n"
)


@dataclass
class Server:
    url: str
    corpus: Path
    index: Path
    proc: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp: Path, extra: list[str] = (), env: dict | None = None, ready=None):
    """ui.py on a copy of the shipped corpus (plus the payload article) on a free loopback port, up and built."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) for browser tests")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    corpus, index, log = tmp / "corpus", tmp / "index", tmp / "server.log"
    shutil.copytree(CORPUS, corpus)
    (corpus / "payload.md").write_text(PAYLOAD, encoding="utf-8")
    port = _free_port()
    env = dict(env or os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    argv = ["--corpus", str(corpus), "--index", str(index), "--host", "127.0.0.1", "--port", str(port), *extra]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "ui.py"), *argv],
            cwd=tmp,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    srv = Server(f"http://127.0.0.1:{port}/", corpus, index, proc, log)
    ready = ready or _http_ok
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:  # up, and the first build reported (the log line comes when it has committed)
        if proc.poll() is not None:
            pytest.fail(f"ui.py exited with {proc.returncode}:\n{srv.output()}")
        if "index: " in srv.output() and "documents" in srv.output() and ready(srv.url):
            return srv
        if time.monotonic() > deadline:
            _stop(srv)
            pytest.fail(f"ui.py did not get ready in {STARTUP_SECONDS}s:\n{srv.output()}")
        time.sleep(0.5)


def _stop(srv: Server) -> None:
    if srv.proc.poll() is None:
        os.killpg(srv.proc.pid, signal.SIGTERM)
        try:
            srv.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(srv.proc.pid, signal.SIGKILL)
            srv.proc.wait(5)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = _start(tmp_path_factory.mktemp("ui"))
    try:
        yield srv
    finally:
        _stop(srv)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) for browser tests")

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    pg.dialogs = []  # every alert/confirm the page tried to open
    pg.outside = []  # requests that left the machine
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on(
        "request",
        lambda r: (
            pg.outside.append(r.url) if not r.url.startswith((server.url.rstrip("/"), "data:", "blob:")) else None
        ),
    )
    pg.goto(server.url)
    pg.wait_for_selector("#qa-question textarea")
    yield pg
    ctx.close()


def _ask(page, question: str) -> None:
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")


def _seed() -> dict:
    if SEED_QUESTIONS.exists():
        for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["question"] == SEED["question"]:
                return row
    return SEED


def test_seed_question_shows_the_cited_passage_with_the_answer(page, server):
    seed = _seed()
    answer = seed["answers"][0]
    _ask(page, seed["question"])
    card = page.locator(".qa-card", has_text=answer).first
    card.wait_for()
    assert card.get_attribute("data-article") in seed["sources"]
    assert answer in card.locator("mark.qa-hl").inner_text()  # the answering sentence is the highlighted one
    line = page.locator(".qa-answer-text").inner_text()
    assert line.endswith("[1]")
    # the default 5 passages, one card per article span: no two cards show the same span of one article
    cards = page.locator(".qa-card")
    spans = [
        (
            cards.nth(i).get_attribute("data-article"),
            cards.nth(i).locator("button.qa-open").last.get_attribute("data-start"),
        )
        for i in range(cards.count())
    ]
    assert 1 <= len(spans) <= 5 and len(set(spans)) == len(spans)
    assert len({a for a, _ in spans}) == len(spans)  # one card per article; its other passages inside it
    titles = [t for t in cards.locator(".qa-title").all_inner_texts()]
    assert not any("e4fff1e13a0bbc77" in t or "_" in t for t in titles), titles  # never a file name as title
    headline_less = page.locator(".qa-card[data-article='000_e4fff1e13a0bbc77.txt'] .qa-title")
    assert headline_less.inner_text().startswith("NATO Secretary-General Jens Stoltenberg has warned")
    assert page.locator(".qa-card .qa-strength").count() == len(spans)  # evidence as a strength, not 1.000
    # qa/web/static/qa.css is applied: its 4px accent bar on the answer line
    assert page.locator(".qa-answer").evaluate("e => getComputedStyle(e).borderLeftWidth") == "4px"
    assert page.outside == []  # nothing fetched from the internet (fonts, analytics)


def test_open_article_shows_the_whole_text_with_the_passage_highlighted_in_view(page, server):
    seed = _seed()
    answer = seed["answers"][0]
    _ask(page, seed["question"])
    card = page.locator(".qa-card", has_text=answer).first
    card.wait_for()
    passage = card.locator(".qa-passage").inner_text()
    card.locator(".qa-actions > button.qa-open").click()
    focus = page.locator("#qa-article-panel #qa-focus")
    focus.wait_for()
    mark = focus.locator("mark.qa-hl")
    assert answer in mark.inner_text()
    assert " ".join(focus.inner_text().split()) == " ".join(passage.split())
    whole = page.locator("#qa-article-panel .qa-article-text").inner_text()
    assert len(whole) > len(passage)
    raw = (server.corpus / card.get_attribute("data-article")).read_text(encoding="utf-8")
    assert " ".join(raw.split()[-8:]) in " ".join(whole.split())  # the article's end, not just the passage
    page.wait_for_function(
        """() => { const r = document.querySelector('#qa-focus mark').getBoundingClientRect();
                   return r.bottom > 0 && r.top < window.innerHeight; }""",
        timeout=5000,
    )
    page.locator("button.qa-close").click()
    page.locator("#qa-article-panel .qa-article").wait_for(state="detached")


def test_script_payloads_show_as_text(page, server):
    _ask(page, "How many visitors did the harbour festival in Port Alva draw?")
    card = page.locator(".qa-card[data-article='payload.md']").first
    card.wait_for()
    assert "<script>window.__qaXss=3" in card.inner_text()
    assert '<img src=x onerror="window.__qaXss=1' in card.locator(".qa-title").inner_text()
    card.locator(".qa-actions > button.qa-open").click()
    page.locator("#qa-article-panel .qa-article").wait_for()
    article = page.locator("#qa-article-panel").inner_text()
    assert '<img src=x onerror="window.__qaXss=4;alert(4)">' in article
    assert "<script>window.__qaXss=2</script>Coast Gazette" in article
    page.wait_for_timeout(500)  # give any injected handler the chance to run
    assert page.dialogs == []
    assert page.evaluate("() => window.__qaXss") is None
    injected = page.evaluate(
        "() => document.querySelectorAll('#qa-result script, #qa-result img, #qa-result b, "
        "#qa-article-panel script, #qa-article-panel img, #qa-article-panel b').length"
    )
    assert injected == 0


def test_the_timeline_is_shown_and_a_bar_filters_to_its_dates(page, server):
    _ask(page, "What did NATO decide about troops in Afghanistan?")
    page.locator(".qa-timeline").wait_for()
    head = page.locator(".qa-timeline-head").inner_text()
    assert "matching articles by" in head
    bars = page.locator("button.qa-bar:not(.qa-bar-empty)")
    assert bars.count() >= 1
    bar = bars.first
    since, until = bar.get_attribute("data-since"), bar.get_attribute("data-until")
    bar.click()
    page.locator(".qa-bar-clear").wait_for()  # asked again with the bar's dates
    page.get_by_text("Options").click()
    assert page.locator("#qa-since input, #qa-since textarea").first.input_value() == since
    assert page.locator("#qa-until input, #qa-until textarea").first.input_value() == until
    dates = page.locator(".qa-card .qa-date").all_inner_texts()
    assert dates and all(since <= d <= until for d in dates), (since, until, dates)
    page.locator(".qa-bar-clear").click()
    page.locator(".qa-bar-clear").wait_for(state="detached")


def test_api_ask_returns_the_answer_json(server):
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    result = client.predict(question=SEED["question"], k=3, sources=None, since=None, until=None, api_name="/ask")
    assert set(result) == {"question", "no_answer", "reason", "warnings", "passages"}
    assert result["question"] == SEED["question"] and len(result["passages"]) == 3
    first = result["passages"][0]
    assert {
        "rank",
        "score",
        "text",
        "article_id",
        "title",
        "start",
        "end",
        "highlight",
        "highlight_text",
        "also_in",
    } <= set(first)
    text = next(iter(_articles(server.index, first["article_id"])))
    assert text[first["start"] : first["end"]] == first["text"]
    cli = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "--json", "-k", "3", "--index", str(server.index), SEED["question"]],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)
    for got, want in zip(result["passages"], expected["passages"]):  # scores may differ in the last bits
        assert got.pop("score") == pytest.approx(want.pop("score"), abs=1e-4)
    assert result == expected  # the same JSON as `qa ask --json`
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="empty"):
        client.predict(question="  ", k=3, sources=None, since=None, until=None, api_name="/ask")


def _articles(index: Path, article_id: str):
    """The cleaned text of article_id in the live generation (read from the index files)."""
    manifest = json.loads((index / "manifest.json").read_text())
    with open(index / manifest["files"]["articles"], encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["id"] == article_id:
                yield row["text"]


def test_upload_rebuild_then_answer_from_the_new_article(page, server, tmp_path):
    src = tmp_path / "lunar-greenhouse.txt"
    src.write_text(NEW_ARTICLE, encoding="utf-8")
    page.get_by_role("tab", name="Corpus & index").click()
    page.locator("#qa-upload input[type=file]").set_input_files(str(src))
    page.locator("#qa-upload", has_text="lunar-greenhouse.txt").wait_for()
    page.locator("#qa-add").click()
    page.locator("#qa-upload-result", has_text="Added 1 file").wait_for()
    assert (server.corpus / "lunar-greenhouse.txt").read_text(encoding="utf-8") == NEW_ARTICLE
    page.locator("#qa-status", has_text="1 added").wait_for()
    page.locator("#qa-rebuild").click()
    report = page.locator("#qa-report .qa-report")
    report.wait_for(timeout=180_000)
    assert "Added (1)" in report.inner_text() and "lunar-greenhouse.txt" in report.inner_text()
    page.locator("#qa-status", has_text="unchanged since the build").wait_for()
    page.get_by_role("tab", name="Ask").click()
    _ask(page, "How many kilograms of basil did the lunar greenhouse grow?")
    card = page.locator(".qa-card").first
    card.wait_for()
    assert card.get_attribute("data-article") == "lunar-greenhouse.txt"
    assert "43 kilograms" in page.locator(".qa-answer-text").inner_text()
    assert server.proc.poll() is None  # same process: no restart was needed


LOGIN = ("reader", "open:sesame")  # a password may hold ':'


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The app as shared on a network: a login, read-only, 2 questions a second (the fake model builds fast)."""
    from tests.support.fake import fake_env

    argv = ["--auth", ":".join(LOGIN), "--read-only", "--rate-limit", "2"]
    srv = _start(tmp_path_factory.mktemp("shared"), argv, fake_env())
    try:
        yield srv
    finally:
        _stop(srv)


def _log_in(pg, user: str, password: str) -> None:
    pg.get_by_label("username").fill(user)
    pg.get_by_label("password").fill(password)
    pg.get_by_role("button", name="Login").click()


def test_a_login_is_required_and_the_read_only_page_has_no_upload(browser, shared):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    try:
        pg.goto(shared.url)
        pg.get_by_label("password").wait_for()
        assert pg.locator("#qa-question").count() == 0  # nothing of the app before the login
        _log_in(pg, LOGIN[0], "wrong")
        pg.get_by_text("Incorrect Credentials").wait_for()
        _log_in(pg, *LOGIN)
        pg.wait_for_selector("#qa-question textarea")
        _ask(pg, "How many visitors did the harbour festival in Port Alva draw?")
        pg.locator(".qa-card[data-article='payload.md']").first.wait_for()
        pg.get_by_role("tab", name="Corpus & index").click()
        pg.locator("#qa-read-only").wait_for()
        assert pg.locator("#qa-upload, #qa-add, #qa-rebuild, input[type=file], #qa-urls, #qa-add-urls").count() == 0
    finally:
        ctx.close()


def test_the_api_needs_the_login_and_is_rate_limited(shared):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with pytest.raises(Exception):  # noqa: B017 - whatever gradio_client raises, no answer without the login
        Client(shared.url, verbose=False).predict(
            question="festival", k=1, sources=None, since=None, until=None, api_name="/ask"
        )
    client = Client(shared.url, auth=LOGIN, verbose=False)
    outcomes = []
    for _ in range(12):  # bounded: 12 quick questions against a limit of 2 a second
        try:
            client.predict(question="festival visitors", k=1, sources=None, since=None, until=None, api_name="/ask")
            outcomes.append("ok")
        except AppError as exc:
            assert "too many questions from your address" in str(exc)
            outcomes.append("limited")
    assert outcomes[0] == "ok" and "limited" in outcomes, outcomes
    time.sleep(1.1)  # the bucket refills
    assert client.predict(question="festival", k=1, sources=None, since=None, until=None, api_name="/ask")["passages"]
    assert "/add_urls" not in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    with pytest.raises(Exception):  # noqa: B017 - no such endpoint on a read-only app, whatever the client raises
        client.predict(urls=["https://example.com/"], api_name="/add_urls")


# --- --watch, Add by URL, sort, places and the API, on a server with the fake model (fast builds) ---------------

WAIT = 60.0  # seconds for the watcher to see a change, build and commit (its quiet time is 2 s)
FERRY = (
    "The ferry from Deltaport to the Quillon islands runs again from Monday, the harbour master said on the quay.",
    "Storms had kept the old ferry in port for three weeks, and islanders had been rowing their mail across.",
)


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """`ui.py --watch` on loopback with the fake model: the index follows the corpus by itself."""
    from tests.support.fake import fake_env

    srv = _start(tmp_path_factory.mktemp("watched"), ["--watch"], fake_env())
    try:
        yield srv
    finally:
        _stop(srv)


@pytest.fixture
def wpage(browser, watched):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(watched.url)
    pg.wait_for_selector("#qa-question textarea")
    yield pg
    ctx.close()


def _poll(predicate, what: str):
    return wait_for(predicate, what, WAIT, interval=0.5)


def _top(client, question: str) -> dict:
    passages = client.predict(question=question, k=1, sources=None, since=None, until=None, api_name="/ask")["passages"]
    return passages[0] if passages else {}


def test_watching_the_answers_follow_added_changed_and_deleted_files(watched, wpage):
    from gradio_client import Client

    client = Client(watched.url, verbose=False)
    q = "Who keeps the lighthouse of Epsilon Point?"
    assert _top(client, q).get("article_id") != "lighthouse.txt"
    (watched.corpus / "lighthouse.txt").write_text(
        "Lighthouse keeper\n\nThe lighthouse of Epsilon Point is kept by Oskar Brandvold since the spring.\n"
    )
    _poll(lambda: _top(client, q).get("article_id") == "lighthouse.txt", "an added file is answered from")
    (watched.corpus / "lighthouse.txt").write_text(
        "Lighthouse keeper\n\nThe lighthouse of Epsilon Point is kept by a robot named Zephyrine since the spring.\n"
    )
    _poll(lambda: "Zephyrine" in _top(client, q).get("text", ""), "a changed file is answered from")
    (watched.corpus / "lighthouse.txt").unlink()
    _poll(lambda: _top(client, q).get("article_id") != "lighthouse.txt", "a deleted file is no longer cited")
    wpage.get_by_role("tab", name="Corpus & index").click()
    panel = wpage.locator("#qa-status")
    panel.get_by_text("deleted: lighthouse.txt").wait_for()  # the last build, shown in the index panel
    assert "Watching" in panel.inner_text() and "Last build" in panel.inner_text()
    assert "index: " in watched.output() and "1 deleted" in watched.output()


def test_add_by_url_fetches_pages_and_lists_each_result(watched, wpage):
    from gradio_client import Client
    from http_fixture import LocalServer, article_page

    with LocalServer() as site:  # on 127.0.0.1: the app listens on loopback, so it may fetch from there
        good = site.route(
            "/2021/06/07/ferry-runs-again.html", article_page("Ferry runs again", list(FERRY), "2021-06-07")
        )
        missing = site.url("/no-such-story")
        wpage.get_by_role("tab", name="Corpus & index").click()
        wpage.locator("#qa-urls textarea").fill(f"{good}\n{missing}")
        wpage.locator("#qa-add-urls").click()
        result = wpage.locator("#qa-urls-result")
        result.get_by_text("1 added, 0 updated, 0 unchanged, 1 failed.").wait_for()
        assert "web/127.0.0.1/ferry-runs-again.md" in result.locator(".qa-url-added").inner_text()
        assert "HTTP 404 Not Found" in result.locator(".qa-url-failed").inner_text()
        assert wpage.locator("#qa-urls textarea").input_value() == missing  # only the failed one, to retry
        api = Client(watched.url, verbose=False).predict(urls=[good], api_name="/add_urls")
        assert api == {"added": [], "updated": [], "unchanged": [good], "failed": []}
    wpage.get_by_role("tab", name="Ask").click()
    question = "When does the ferry to the Quillon islands run again?"

    def answered() -> bool:
        _ask(wpage, question)
        card = wpage.locator(".qa-card").first
        card.wait_for()
        return card.get_attribute("data-article") == "web/127.0.0.1/ferry-runs-again.md"

    _poll(answered, "the added page is indexed by the watcher and answers")


def test_newest_first_and_the_place_of_a_wire_story_on_the_cards(watched, wpage):
    question = "NATO troops in Afghanistan and the harbour festival in Port Alva"
    wpage.get_by_text("Options").click()
    wpage.locator("#qa-sort").get_by_text("Newest first").click()
    k = wpage.locator("#qa-k input[type=number]")
    k.fill("10")
    k.blur()
    _ask(wpage, question)
    wpage.locator(".qa-card").first.wait_for()
    wpage.locator(".qa-card[data-article='payload.md']").wait_for()
    cards = wpage.locator(".qa-card")
    dates = cards.locator(".qa-date").all_inner_texts()
    assert len(dates) >= 2 and dates == sorted(dates, reverse=True)  # newest first (relevance puts NATO first)
    assert cards.first.locator(".qa-date").inner_text() == dates[0]  # undated cards last
    wire = wpage.locator(".qa-card[data-article='003_bd4f993c6f237ca7.txt'] .qa-meta").first
    wire.wait_for()
    assert wire.locator(".qa-place").inner_text() == "Brussels"
    assert " ".join(wire.inner_text().split()).startswith(
        "Reuters · Brussels"
    )  # the dateline's place beside the source
    head = wpage.locator(".qa-timeline-head").inner_text()
    n = int(head.split(" matching article")[0])
    assert n >= cards.count()  # the articles about the question, not only the cited ones


def _rest(base: str, endpoint: str, data: list) -> dict:
    """The raw REST route: POST /gradio_api/call/<endpoint> gives an event id, GET streams the result."""
    body = json.dumps({"data": data}).encode()
    req = urllib.request.Request(
        f"{base}gradio_api/call/{endpoint}", body, {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        event_id = json.loads(r.read())["event_id"]
    with urllib.request.urlopen(f"{base}gradio_api/call/{endpoint}/{event_id}", timeout=60) as r:
        stream = r.read().decode()
    event, payload = None, None
    for line in stream.splitlines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event in ("complete", "error"):
            payload = line[6:]
    assert event == "complete", stream
    return json.loads(payload)[0]


def test_ask_keeps_five_values_and_ask_sorted_takes_the_sort(watched):
    from gradio_client import Client

    q = "NATO troops in Afghanistan and the harbour festival in Port Alva"
    five = _rest(watched.url, "ask", [q, 10, None, None, None])
    assert [p["rank"] for p in five["passages"]] == list(range(1, len(five["passages"]) + 1))
    newest = _rest(watched.url, "ask_sorted", [q, 10, None, None, None, "newest"])
    dates = [p["date"] or "" for p in newest["passages"]]
    assert dates == sorted(dates, reverse=True) and len({d for d in dates if d}) >= 2
    assert sorted(p["rank"] for p in newest["passages"]) == [p["rank"] for p in five["passages"]]  # the same k best
    client = Client(watched.url, verbose=False)
    assert client.predict(question=q, k=10, sources=None, since=None, until=None, api_name="/ask") == five
    assert client.predict(question=q, k=10, api_name="/ask_sorted") == five  # sort left out: relevance
    assert client.predict(question=q, k=10, sort="newest", api_name="/ask_sorted") == newest
    wire = _rest(
        watched.url, "ask", ["How many troops does Germany plan to withdraw by early July?", 1, None, None, None]
    )
    first = wire["passages"][0]
    assert (first["article_id"], first["source"], first["place"]) == ("003_bd4f993c6f237ca7.txt", "Reuters", "Brussels")


def test_the_watcher_stops_with_the_server(watched):
    """Last in this module: SIGTERM stops the server, and the watcher with it (exit 0, 'stopped watching')."""
    os.killpg(watched.proc.pid, signal.SIGTERM)
    assert watched.proc.wait(30) == 0, watched.output()
    assert f"stopped watching {watched.corpus}" in watched.output()
