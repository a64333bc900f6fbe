"""The web app's ingestion, in-process with the fake model: --watch (the index follows the corpus, the panel
says what the last build and feed sync did) and Add by URL (qa add from the page and the API, private
addresses refused unless allowed). Every wait is bounded (60 s) and every watcher is stopped."""

from __future__ import annotations

from html import escape
from pathlib import Path

import gradio as gr
import http_fixture
import pytest
from http_fixture import article_page

from qa.fetch import FetchOptions
from qa.web import page, render, server
from qa.web.app import MAX_URLS, NoURLs, QAApp
from qa.web.builds import BuildFailed
from tests.support.wait import wait_for
from tests.support.watched import LIGHTHOUSE, LIGHTHOUSE2, make_corpus

WAIT = 60.0
P1 = "The ferry from Deltaport to the Quillon islands runs again from Monday, the harbour master said on the quay."
P2 = "Storms had kept the old ferry in port for three weeks, and islanders had been rowing their mail across."

http_server = http_fixture.server  # the local HTTP server (127.0.0.1) pages are fetched from


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_corpus(tmp_path)


@pytest.fixture
def watching(corpus, tmp_path, fake_embedder):
    """Make a QAApp that watches its corpus (debounce 0.3 s); stopped at the end, whatever happens."""
    apps: list[QAApp] = []

    def make(**kw) -> QAApp:
        app = QAApp(corpus, tmp_path / "index", embedder=fake_embedder, fetch_options=kw.pop("fetch_options", None))
        apps.append(app)
        lines: list[str] = []
        app.watch(debounce=0.3, report=lines.append, **kw)
        app.lines = lines
        return app

    yield make
    for app in apps:
        app.stop_watching(timeout=WAIT)
        assert not app.watcher._watcher._worker.is_alive()


def _top(app: QAApp, question: str) -> tuple[str, str]:
    """(article id, text) of the best passage, or ('', '') when the app cannot answer yet."""
    try:
        answer, _ = app.ask(question, 1)
    except Exception:  # noqa: BLE001 - the first build may still be running
        return "", ""
    return (answer.passages[0].article_id, answer.passages[0].text) if answer.passages else ("", "")


def test_watching_the_app_answers_follow_added_changed_and_deleted_files(watching, corpus):
    app = watching()
    wait_for(lambda: _top(app, "When did the harbour of Deltaport reopen?")[0] == "harbour.txt", "the first build")

    (corpus / "lighthouse.txt").write_text(LIGHTHOUSE, encoding="utf-8")
    wait_for(lambda: _top(app, "Who kept the lighthouse of Epsilon Point?")[0] == "lighthouse.txt", "an added file")
    (corpus / "lighthouse.txt").write_text(LIGHTHOUSE2, encoding="utf-8")
    wait_for(lambda: "Zephyrine" in _top(app, "Which robot runs the lighthouse?")[1], "a changed file")
    (corpus / "harbour.txt").unlink()
    wait_for(lambda: _top(app, "When did the harbour of Deltaport reopen?")[0] == "lighthouse.txt", "a deleted file")

    state = wait_for(lambda: (s := app.watch_state()).last_build and "1 deleted" in s.last_build.summary and s, "news")
    assert state.last_build.error is None and state.last_build.details == ("deleted: harbour.txt",)
    assert app.builder.state().report.deleted == ["harbour.txt"]  # built through the app's runner (progress banner)
    panel = page.status_panel(app)
    assert "Watching" in panel and "Last build" in panel and "deleted: harbour.txt" in panel
    assert "Last feed sync" not in panel  # no --sync-feeds
    assert any(line.startswith("index: 1 document, ") for line in app.lines)
    assert "the watcher rebuilds it shortly" not in panel
    # the page redraws the panel on the watcher's news, not only on a new generation
    assert page.page_stamp(app) == (app.generation(), state.events)
    with pytest.raises(RuntimeError, match="already watching"):
        app.watch()


def test_a_failed_build_and_a_failed_feed_are_shown_in_the_panel(watching, corpus, tmp_path, http_server):
    (tmp_path / "index").write_text("not a directory")
    feed = http_server.route("/gone.xml", "", status=404)
    (corpus / "feeds.txt").write_text(feed + "\n")
    app = watching(sync_feeds_minutes=60, fetch_options=FetchOptions(allow_private=True))
    state = wait_for(lambda: (s := app.watch_state()).last_build and s.last_sync and s, "a build and a sync")
    assert "not a directory" in state.last_build.error and state.last_sync.error is None
    assert state.last_sync.details == (f"{feed}: HTTP 404 Not Found",)
    panel = page.status_panel(app)
    assert "failed" in panel and "not a directory" in panel and f"{escape(feed)}: HTTP 404" in panel
    assert "feeds synced every 60 min" in panel and "Last feed sync" in panel
    assert any(line.startswith("index: error: ") for line in app.lines)


def test_the_runner_waits_for_a_running_build_then_builds_again(corpus, tmp_path, fake_embedder):
    app = QAApp(corpus, tmp_path / "index", embedder=fake_embedder)
    assert app.builder.start()  # a click, then the watcher's turn while it runs
    (corpus / "lighthouse.txt").write_text(LIGHTHOUSE, encoding="utf-8")
    report = app.builder.run()  # after the running build: it may have read the corpus before the new file
    assert report.documents == 2 and not app.builder.state().running
    assert sorted(app.retriever().index.article_ids) == ["harbour.txt", "lighthouse.txt"]
    broken = QAApp(tmp_path / "missing", tmp_path / "index2", embedder=fake_embedder)
    with pytest.raises(BuildFailed, match="does not exist"):
        broken.builder.run()


# --- Add by URL ---------------------------------------------------------------------------


def test_add_by_url_saves_pages_and_reports_each_address(corpus, tmp_path, fake_embedder, http_server):
    app = QAApp(corpus, tmp_path / "index", embedder=fake_embedder, fetch_options=FetchOptions(allow_private=True))
    app.builder.run()
    good = http_server.route("/2021/06/03/ferry-runs-again.html", article_page("Ferry runs again", [P1, P2]))
    missing = http_server.url("/nothing-here")
    report = app.add_urls(f"{good}\n  {missing} {good}\n")  # spaces and repeats: each address once
    assert report.to_dict() == {
        "added": [good],
        "updated": [],
        "unchanged": [],
        "failed": [{"url": missing, "reason": "HTTP 404 Not Found"}],
    }
    assert (corpus / "web" / "127.0.0.1" / "ferry-runs-again.md").is_file()
    h = page.Handlers(app)
    out, status, box = h.add_pages(good)
    assert "0 added, 0 updated, 1 unchanged, 0 failed." in out and "qa-url-unchanged" in out
    assert "web/127.0.0.1/ferry-runs-again.md" in out and box == ""
    out, _, box = h.add_pages(f"{good}\n{missing}")
    assert "HTTP 404 Not Found" in out and "qa-url-failed" in out and box == missing  # the failed ones stay to retry
    assert "changed since the build: 1 added" in status  # the new page waits for a rebuild (not watching)
    assert h.api_add_urls([good]) == {"added": [], "updated": [], "unchanged": [good], "failed": []}
    with pytest.raises(gr.Error, match="at most"):
        h.api_add_urls([f"{good}?{i}" for i in range(MAX_URLS + 1)])
    out, _, box = h.add_pages("   ")
    assert "Nothing was added" in out and "one per line" in out
    for bad in ("", None, [1, 2]):
        with pytest.raises(NoURLs):
            app.add_urls(bad)
    added = render.render_added(app.add_urls(f"{good}"), watching=True)
    assert "follows by itself" not in added  # nothing new was saved: nothing to index


def test_add_by_url_refuses_private_addresses_unless_allowed(corpus, tmp_path, fake_embedder, http_server):
    url = http_server.route("/ferry.html", article_page("Ferry runs again", [P1, P2]))
    app = QAApp(corpus, tmp_path / "index", embedder=fake_embedder)  # the default: public addresses only
    (failure,) = app.add_urls(url).failed
    assert "refused: 127.0.0.1 resolves to 127.0.0.1, a loopback, link-local or private address" in failure.reason
    assert not (corpus / "web").exists() and http_server.hits()["/ferry.html"] == 0


def test_the_server_allows_private_addresses_on_loopback_or_when_told(monkeypatch, tmp_path):
    apps = []
    monkeypatch.setattr(server, "_launch", lambda app, *a: apps.append(app) or 0)
    monkeypatch.setattr(server, "_start_startup_build", lambda app: None)
    monkeypatch.setattr(server.QAApp, "embedder", lambda self, model_id=None: None)
    monkeypatch.delenv("QA_AUTH", raising=False)
    (tmp_path / "corpus").mkdir()
    base = ["--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index")]
    for argv, private in [
        ([], True),
        (["--host", "0.0.0.0", "--auth", "a:b"], False),
        (["--host", "0.0.0.0", "--auth", "a:b", "--allow-private-urls"], True),
        (["--host", "192.168.1.4", "--read-only"], False),
    ]:
        assert server.main(base + argv) == 0
        assert apps[-1].fetch_options.allow_private is private, argv


def test_the_server_watches_until_it_stops(monkeypatch, tmp_path, capsys):
    """--watch: the watcher replaces the start-up build, and is stopped when the server returns."""
    events = []

    class App(QAApp):
        def watch(self, sync_feeds_minutes=None, **kw):
            events.append(("watch", sync_feeds_minutes))

        def stop_watching(self, timeout=None):
            events.append(("stop", None))

        def warm(self):
            pass

    monkeypatch.setattr(server, "QAApp", App)
    monkeypatch.setattr(server, "_launch", lambda app, *a: events.append(("serve", None)) or 0)
    monkeypatch.setattr(server, "_start_startup_build", lambda app: events.append(("startup build", None)))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    base = ["--corpus", str(corpus), "--index", str(tmp_path / "index")]
    assert server.main([*base, "--watch", "--sync-feeds", "15"]) == 0
    assert events == [("watch", 15.0), ("serve", None), ("stop", None)]
    out = capsys.readouterr().out
    assert f"index: watching {corpus} -> {tmp_path / 'index'}, feeds every 15 min" in out
    assert out.rstrip().endswith(f"stopped watching {corpus}")

    def impatient(self, timeout=None):  # Ctrl-C again while the watcher waits for its build
        raise KeyboardInterrupt

    monkeypatch.setattr(App, "stop_watching", impatient)
    assert server.main([*base, "--watch"]) == 0  # no traceback: one line says what was left
    captured = capsys.readouterr()
    assert f"stopped watching {corpus} without waiting for the build in progress" in captured.err
    assert "Traceback" not in captured.err + captured.out
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "manifest.json").write_text("{}")  # an index: a missing corpus alone can be served
    for argv, message in [
        (["--sync-feeds", "15"], "--sync-feeds works with --watch"),
        (["--watch", "--sync-feeds", "0"], "positive number of minutes"),
        (["--watch", "--corpus", str(tmp_path / "none")], "--watch needs the corpus directory"),
    ]:
        assert server.main(base + argv) == 2
        assert message in capsys.readouterr().err
