"""qa.watch.CorpusWatcher and `qa watch`: the index follows the corpus, one build per burst of changes.

Every wait is bounded (poll up to 60 s) and every watcher is stopped at the end.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from html import escape
from pathlib import Path

import pytest
from http_fixture import LocalServer

from qa.errors import CorpusError
from qa.manifest import MANIFEST, read_manifest
from qa.retriever import Retriever
from qa.watch import CorpusWatcher
from tests.support.fake import FakeEmbedder, fake_env
from tests.support.wait import wait_for
from tests.support.watched import HARBOUR, LIGHTHOUSE, LIGHTHOUSE2, make_corpus

ROOT = Path(__file__).resolve().parent.parent
WAIT = 60.0


def fake_embedder_env() -> dict[str, str]:
    """The environment for a `qa` subprocess that builds with the fake embedder (the one place that says how)."""
    return fake_env(dict(os.environ, HF_HUB_OFFLINE="1"))


def indexed(index: Path) -> dict[str, str]:
    """article id -> content hash in the committed index ({} before the first build)."""
    if not (index / MANIFEST).exists():
        return {}
    return {aid: entry.hash for aid, entry in read_manifest(index).articles.items()}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_corpus(tmp_path)


@pytest.fixture
def watcher_for(tmp_path: Path, fake_embedder):
    """Make a started CorpusWatcher; it is stopped at the end of the test, whatever happens."""
    started: list[CorpusWatcher] = []

    def make(corpus: Path, **kw) -> CorpusWatcher:
        kw.setdefault("debounce", 0.3)
        w = CorpusWatcher(corpus, tmp_path / "index", embedder=fake_embedder, **kw).start()
        started.append(w)
        return w

    yield make
    for w in started:
        w.stop(timeout=WAIT)
        assert not w._worker.is_alive()


def test_the_index_follows_added_changed_and_deleted_files(corpus, tmp_path, watcher_for):
    index = tmp_path / "index"
    reports = []
    w = watcher_for(corpus, on_build=reports.append)
    wait_for(lambda: "harbour.txt" in indexed(index), "the first build at start")

    (corpus / "sub").mkdir()
    (corpus / "sub" / "lighthouse.md").write_text(LIGHTHOUSE, encoding="utf-8")
    wait_for(lambda: "sub/lighthouse.md" in indexed(index), "an added file is indexed")
    answer = Retriever.load(index, embedder=FakeEmbedder()).ask("Who kept the lighthouse of Epsilon Point?")
    assert answer.passages[0].article_id == "sub/lighthouse.md"

    old = indexed(index)["sub/lighthouse.md"]
    (corpus / "sub" / "lighthouse.md").write_text(LIGHTHOUSE2, encoding="utf-8")
    wait_for(lambda: indexed(index).get("sub/lighthouse.md") not in (None, old), "a changed file is re-indexed")
    answer = Retriever.load(index, embedder=FakeEmbedder()).ask("Which robot runs the lighthouse?")
    assert "Zephyrine" in answer.passages[0].text

    (corpus / "harbour.txt").unlink()
    wait_for(lambda: list(indexed(index)) == ["sub/lighthouse.md"], "a deleted file leaves the index")
    wait_for(lambda: not w.building and w.builds >= 4, "the last build's report")  # it is sent after the commit
    assert w.builds == len(reports)
    assert [r.added for r in reports[:2]] == [["harbour.txt"], ["sub/lighthouse.md"]]


def test_a_thousand_files_copied_at_once_are_one_build(corpus, tmp_path, watcher_for):
    index = tmp_path / "index"
    w = watcher_for(corpus, debounce=1.5)
    wait_for(lambda: w.builds == 1, "the first build")
    for i in range(1000):
        (corpus / f"a{i:04}.txt").write_text(f"Item {i}\n\nThe market sold {i} quinces on day {i}.\n")
    wait_for(lambda: len(indexed(index)) == 1001, "all 1,000 files indexed")
    time.sleep(2 * w.debounce)  # a stray second build would have started by now
    assert (w.builds, w.building) == (2, False)


def test_hidden_temporary_and_other_files_do_not_trigger_builds(corpus, tmp_path, watcher_for):
    w = watcher_for(corpus)
    wait_for(lambda: w.builds == 1 and not w.building, "the first build")
    (corpus / ".hidden.txt").write_text(HARBOUR)
    (corpus / ".git").mkdir()
    (corpus / ".git" / "HEAD.md").write_text(HARBOUR)
    (corpus / "notes.json").write_text("{}")
    (corpus / "harbour.txt").read_text()  # reading (as a build does) is no change
    time.sleep(4 * w.debounce)
    assert w.builds == 1
    assert w.relevant(str(corpus / "x" / "a.PDF"), False) and w.relevant(str(corpus / "x"), True)
    assert not w.relevant(str(corpus / "feeds" / ".state.json"), False)
    assert not w.relevant(str(tmp_path / "elsewhere.txt"), False)


def test_an_index_inside_the_corpus_does_not_rebuild_itself(corpus, fake_embedder):
    w = CorpusWatcher(corpus, corpus / "index", embedder=fake_embedder, debounce=0.3).start()
    try:
        wait_for(lambda: w.builds == 1 and not w.building, "the first build")
        time.sleep(4 * w.debounce)
        assert w.builds == 1  # its own chunks.*.jsonl files were ignored
    finally:
        w.stop(timeout=WAIT)


def test_a_failing_build_is_reported_and_watching_goes_on(corpus, tmp_path, fake_embedder):
    index = tmp_path / "index"
    index.write_text("not a directory")
    errors = []
    w = CorpusWatcher(corpus, index, embedder=fake_embedder, debounce=0.3, on_error=errors.append).start()
    try:
        wait_for(lambda: errors, "the error is reported")
        assert "not a directory" in str(errors[0])
        index.unlink()
        (corpus / "b.txt").write_text(LIGHTHOUSE)
        wait_for(lambda: w.builds == 1, "a build after the next change")
    finally:
        w.stop(timeout=WAIT)


def test_feeds_are_synced_on_a_timer_and_a_quiet_sync_builds_nothing(corpus, tmp_path, watcher_for):
    index = tmp_path / "index"
    text = "The Deltaport ferry to the islands runs again from next week, the mayor said on the quay. " * 15
    with LocalServer() as server:
        item = (
            f"<item><guid>ferry-1</guid><title>Ferry runs again</title><link>{server.url('/ferry')}</link>"
            f"<pubDate>Wed, 21 Oct 2020 10:00:00 GMT</pubDate><description>{escape(text)}</description></item>"
        )
        rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Gazette</title>{item}</channel></rss>'
        feed = server.route("/rss.xml", rss, content_type="application/rss+xml", etag='"1"')
        (corpus / "feeds.txt").write_text(feed + "\n")
        syncs = []
        w = watcher_for(corpus, sync_feeds_minutes=0.3 / 60, on_sync=syncs.append)
        entry = "feeds/127-0-0-1-rss-xml/ferry-runs-again.md"
        wait_for(lambda: entry in indexed(index), "the feed entry is indexed")
        # Quiet: the entry's late file events may still owe a build, so wait for none to be pending too.
        wait_for(lambda: not w.building and not w.pending and w.syncs >= 3, "more syncs")
        builds = w.builds
        time.sleep(1.5)
        assert w.builds == builds and w.syncs > 3  # syncs went on; nothing changed, nothing was built
        assert server.hits()["/ferry"] == 0 and syncs[0].to_dict()["new"] == 1
        assert all(s.to_dict()["unchanged"] == 1 for s in syncs[1:])


def test_bad_arguments(tmp_path, corpus):
    with pytest.raises(CorpusError, match="does not exist"):
        CorpusWatcher(tmp_path / "missing", tmp_path / "index")
    with pytest.raises(ValueError, match="positive"):
        CorpusWatcher(corpus, tmp_path / "index", sync_feeds_minutes=0)


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_cli_watch_builds_follows_and_stops_on_ctrl_c(corpus, tmp_path, sigint):
    """Ctrl-C stops it, also when started with SIGINT ignored (as a script's background job is)."""
    index = tmp_path / "index"
    disposition = signal.SIG_IGN if sigint == "ignored" else signal.SIG_DFL
    # PYTHONFAULTHANDLER: if the process hangs, SIGABRT makes it print every thread's stack (read below).
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa", "watch", "--corpus", str(corpus), "--index", str(index)],
        cwd=ROOT,
        env={**fake_embedder_env(), "PYTHONFAULTHANDLER": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, disposition),  # noqa: PLW1509 - no threads in the child yet
    )
    lines: queue.Queue[str] = queue.Queue()
    errors: list[str] = []  # read as it comes: a full stderr pipe would block the process
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in proc.stdout], daemon=True).start()
    err_reader = threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)
    err_reader.start()

    def stopped() -> int:
        try:
            return proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            proc.wait(10)
            err_reader.join(10)
            pytest.fail(f"qa watch did not stop within {WAIT:g} s of Ctrl-C; its stderr:\n{''.join(errors)}")

    def next_line(what: str) -> str:
        try:
            return lines.get(timeout=WAIT)
        except queue.Empty:
            pytest.fail(f"no output within {WAIT:g} s: {what}")

    try:
        assert next_line("start") == f"watching {corpus} -> {index} (Ctrl-C stops)"
        assert next_line("first build").startswith("built: 1 document, ")
        (corpus / "lighthouse.txt").write_text(LIGHTHOUSE)
        second = next_line("second build")
        assert second.startswith("built: 2 documents, ") and ": 1 added, 0 changed" in second
        proc.send_signal(signal.SIGINT)
        assert stopped() == 0
        assert next_line("the stop message") == f"stopped watching {corpus}"
        err_reader.join(10)
        assert "".join(errors) == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert sorted(indexed(index)) == ["harbour.txt", "lighthouse.txt"]
