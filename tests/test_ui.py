"""The web app without a browser: escaping, highlight markup, states, builds during searches, the API endpoint."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time

import pytest

from qa.domain import Answer, Article, Passage
from qa.errors import QAError, QuestionError
from qa.web import page, render, server
from qa.web.app import MAX_K, IndexNotReady, QAApp
from qa.web.builds import BuildState
from tests.conftest import ROOT

PAYLOADS = ("<script>window.__x=1</script>", '<img src=x onerror="alert(1)">', '"><svg onload=alert(2)>')
EVIL = " and ".join(PAYLOADS)


def _passage(text: str, hl: tuple[int, int], **kw) -> Passage:
    base = dict(
        rank=1,
        score=0.8123,
        text=text,
        article_id="a.txt",
        title="Title",
        source="Src",
        date="2021-01-02",
        start=100,
        end=100 + len(text),
        highlight=(100 + hl[0], 100 + hl[1]),
    )
    base.update(kw)
    return Passage(**base)


def _no_markup_from(payloads, html_out: str) -> None:
    """None of the payloads survives as markup: no such tag and no event-handler attribute."""
    for p in payloads:
        assert p not in html_out
    lowered = html_out.lower()
    for tag in ("<script", "<img", "<svg"):
        assert tag not in lowered, tag


def test_card_escapes_everything_from_the_article():
    text = f"Intro. The answer is {EVIL}. Outro."
    a = text.index("The answer")
    p = _passage(
        text,
        (a, a + len(f"The answer is {EVIL}.")),
        title=f"T {EVIL}",
        source=f"S {EVIL}",
        date="2021<b>",
        article_id=f'id"{EVIL}',
        also_in=[{"article_id": f"x{EVIL}", "title": EVIL, "source": EVIL, "date": None, "start": 0, "end": 5}],
    )
    out = render.render_passage(p, article_hash='h"><script>')
    _no_markup_from(PAYLOADS, out)
    assert "&lt;script&gt;window.__x=1&lt;/script&gt;" in out
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in out
    assert 'data-hash="h&quot;&gt;&lt;script&gt;"' in out


def test_highlight_wraps_exactly_the_answering_sentence():
    text = "First sentence. The <b>answer</b> is 42. Last one."
    a = text.index("The")
    b = text.index("42.") + 3
    out = render.render_passage(_passage(text, (a, b)))
    assert '<mark class="qa-hl">The &lt;b&gt;answer&lt;/b&gt; is 42.</mark>' in out
    assert out.count("<mark") == 1
    assert ">First sentence. <mark" in out and "</mark> Last one.</p>" in out


@pytest.mark.parametrize(("start", "end"), [(-1, 3), (3, 2), (0, 999), (2, 2)])
def test_bad_offsets_give_plain_escaped_text(start, end):
    out = render.highlight_html("a <i>b</i> c", start, end)
    assert "<mark" not in out and out == "a &lt;i&gt;b&lt;/i&gt; c"


def test_answer_line_is_the_best_sentence_with_citation():
    text = "Other words here. Christopher Miller replaced him. More."
    a = text.index("Christopher")
    p1 = _passage(text, (a, text.index("him.") + 4))
    p2 = _passage("Second passage text.", (0, 20), rank=2, article_id="b.txt")
    out = render.render_answer(Answer("q", [p1, p2]), {"a.txt": "h1"})
    assert '<p class="qa-answer-text">Christopher Miller replaced him. <span class="qa-cite">[1]</span></p>' in out
    assert out.count('class="qa-card"') == 2 and "[2]" in out
    assert 'data-hash="h1"' in out and "qa-weak" not in out


def test_no_answer_state_keeps_flagged_passages_viewable():
    p = _passage("Weak evidence text.", (0, 19))
    out = render.render_answer(Answer("q", [p], no_answer=True, reason="the closest passage is only 0.12 similar"))
    assert "No passage clearly answers this." in out and "The closest passage is only 0.12 similar." in out
    assert "qa-weak" in out and 'class="qa-card"' in out and "qa-answer-text" not in out
    empty = render.render_answer(Answer("q", [], no_answer=True, reason="no passage matches the question"))
    assert "No passage clearly answers this." in empty and 'class="qa-card"' not in empty


def test_article_view_marks_passage_and_answer_and_escapes():
    text = f"Head {EVIL}. Cited passage starts. The answer sentence. Passage ends. Tail."
    start, end = text.index("Cited"), text.index("Tail")
    hs, he = text.index("The answer"), text.index("Passage ends")
    art = Article(id="x.md", title=EVIL, text=text, source=EVIL, date="2021-01-02", url="javascript:alert(1)")
    out = render.render_article(art, start, end, (hs, he))
    _no_markup_from(PAYLOADS, out)
    assert (
        '<span class="qa-cited" id="qa-focus">Cited passage starts. <mark class="qa-hl">The answer sentence. '
        "</mark>Passage ends. </span>Tail." in out
    )
    assert "javascript:" not in out  # only http(s) links are rendered
    linked = render.render_article(
        Article(id="y", title="t", text="abc", url='https://e.x/?a="><script>'), 0, 3, (0, 3)
    )
    assert 'href="https://e.x/?a=&quot;&gt;&lt;script&gt;"' in linked and 'rel="noopener noreferrer nofollow"' in linked


def test_article_view_without_valid_offsets_or_changed_since():
    art = Article(id="x", title="t", text="Some text.")
    assert "qa-focus" not in render.render_article(art, 5, 500, (5, 6))
    stale = render.render_article(art, 0, 4, (0, 4), stale=True)
    assert "changed since the answer" in stale and "qa-focus" not in stale


def test_messages_and_reports_are_escaped():
    assert "&lt;b&gt;" in render.render_message("<b>", "x")
    from qa.builder import BuildReport
    from qa.domain import Skipped

    rep = BuildReport(documents=2, chunks=3, added=["<a.txt>"], skipped=[Skipped("<bad>.txt", "binary <file>", None)])
    out = render.render_report(rep)
    assert "Added (1)" in out and "&lt;a.txt&gt;" in out and "binary &lt;file&gt;" in out and "<bad>" not in out
    assert "did not run" in render.render_report(None, "another build is running")


def test_the_build_report_counts_one_and_many_in_words():
    from qa.builder import BuildReport

    one = render.render_report(BuildReport(documents=1, chunks=1, added=["a"], embedded=1))
    assert "1 document, 1 chunk (1 passage embedded)" in one
    many = render.render_report(BuildReport(documents=2, chunks=1_500, changed=["a"], embedded=0))
    assert "2 documents, 1,500 chunks (0 passages embedded)" in many


@pytest.fixture
def app_with_index(corpus_copy, tmp_path, fake_embedder):
    (corpus_copy / "payload.md").write_text(
        "---\ntitle: <img src=x onerror=alert(1)>Harbour festival\nsource: Coast <script>Gazette</script>\n"
        "date: 2021-06-03\n---\nThe harbour festival in Port Alva drew 9,400 visitors. <script>alert(2)</script>\n",
        encoding="utf-8",
    )
    app = QAApp(corpus_copy, tmp_path / "index", embedder=fake_embedder)
    assert app.builder.start()
    state = app.builder.wait(60)
    assert state.error is None and state.report is not None and len(state.report.added) == 6
    return app


def test_app_answers_and_renders_escaped(app_with_index):
    app = app_with_index
    answer, hashes = app.ask("How many visitors did the harbour festival in Port Alva draw?", 3)
    assert answer.passages[0].article_id == "payload.md" and set(hashes) >= {"payload.md"}
    out = render.render_answer(answer, hashes)
    assert "9,400" in out and "<script>" not in out and "<img" not in out
    sources, span = app.filters()
    assert "Coast <script>Gazette</script>" in sources and span is not None and span[1] == "2021-06-03"
    only, _ = app.ask("festival visitors", 5, sources=["Coast <script>Gazette</script>"])
    assert {p.article_id for p in only.passages} == {"payload.md"}
    later, _ = app.ask("NATO troops in Afghanistan", 5, since="2021-01-01")
    assert later.passages and all(p.date and p.date >= "2021-01-01" for p in later.passages)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        app.ask("NATO", 5, since="not a date at all")
    p = answer.passages[0]
    data = {
        "article_id": p.article_id,
        "start": p.start,
        "end": p.end,
        "hs": p.highlight[0],
        "he": p.highlight[1],
        "hash": hashes[p.article_id],
    }
    article = page.article_panel(app, data)
    assert 'id="qa-focus"' in article and "<mark" in article and "<script>" not in article
    assert "changed since" in page.article_panel(app, dict(data, hash="0" * 64))
    assert "no longer in the index" in page.article_panel(app, dict(data, article_id="gone.txt"))
    assert "qa-focus" not in page.article_panel(app, dict(data, start="x"))  # junk from the browser: no crash


def test_empty_question_and_bounds(app_with_index):
    for q in ("", "   ", None):
        with pytest.raises(QuestionError, match="empty"):
            app_with_index.ask(q)
    with pytest.raises(QuestionError, match="between 1 and"):
        app_with_index.ask("NATO", MAX_K + 1)


def test_no_index_yet(tmp_path, corpus_copy, fake_embedder):
    app = QAApp(corpus_copy, tmp_path / "none", embedder=fake_embedder)
    with pytest.raises(IndexNotReady, match="Rebuild"):
        app.ask("anything")
    assert "No index yet" in page.status_panel(app)


def test_status_panel_reports_corpus_changes(app_with_index):
    app = app_with_index
    assert "unchanged since the build" in page.status_panel(app)
    (app.corpus / "new.txt").write_text("New headline\n\nA brand new article about lighthouses.", encoding="utf-8")
    out = page.status_panel(app)
    assert "changed since the build: 1 added" in out and "Documents" in out and "Built at" in out


def test_upload_goes_through_the_library(app_with_index, tmp_path):
    src = tmp_path / "up"
    src.mkdir()
    (src / "fine.txt").write_text("Fine headline\n\nFine text.", encoding="utf-8")
    (src / "x.exe").write_bytes(b"MZ")
    result = app_with_index.upload([str(src / "fine.txt"), str(src / "x.exe")], overwrite=False)
    assert [s.name for s in result.saved] == ["fine.txt"] and [r.path for r in result.rejected] == ["x.exe"]
    out = render.render_upload(result)
    assert "Added 1 file(s)" in out and "Refused (1)" in out
    again = app_with_index.upload([str(src / "fine.txt")], overwrite=False)
    assert "already in the corpus" in again.rejected[0].reason


class _GatedEmbedder:
    """Blocks the build thread's embedding until released; questions pass straight through."""

    def __init__(self, inner):
        self.inner, self.model_id, self.dim = inner, inner.model_id, inner.dim
        self.gate, self.waiting = threading.Event(), threading.Event()

    def count(self, texts):
        return self.inner.count(texts)

    def embed(self, texts, progress=False):
        if threading.current_thread().name == "qa-build":
            self.waiting.set()
            assert self.gate.wait(30)
        return self.inner.embed(texts)


def test_searches_work_during_a_rebuild_and_switch_when_it_commits(app_with_index, fake_embedder):
    app = app_with_index
    gated = _GatedEmbedder(fake_embedder)
    app._embedder = gated
    q = "Which engineer runs the lunar greenhouse at Shackleton crater?"
    (app.corpus / "moon.txt").write_text(
        "Lunar greenhouse\n\nEngineer Tove Lindqvist runs the lunar greenhouse at Shackleton crater.", encoding="utf-8"
    )
    before = app.generation()
    assert app.builder.start()
    assert gated.waiting.wait(30)
    assert not app.builder.start()  # a second click while one runs
    state = app.builder.state()
    assert state.running and state.stage == "embedding"
    assert "being rebuilt" in render.render_build_note(state, app.has_index())
    answer, _ = app.ask(q, 3)  # served by the previous index meanwhile
    assert "moon.txt" not in {p.article_id for p in answer.passages}
    gated.gate.set()
    state = app.builder.wait(30)
    assert state.report is not None and state.report.added == ["moon.txt"]
    assert app.generation() == before + 1
    answer, _ = app.ask(q, 3)
    assert answer.passages[0].article_id == "moon.txt"
    assert render.render_build_note(app.builder.state(), True) == ""


def test_build_errors_are_reported_not_raised(tmp_path, fake_embedder):
    app = QAApp(tmp_path / "missing-corpus", tmp_path / "index", embedder=fake_embedder)
    assert app.builder.start()
    state = app.builder.wait(30)
    assert state.report is None and "does not exist" in state.error


def test_page_exposes_only_its_api_endpoints(app_with_index):
    demo = page.create_app(app_with_index)
    public = [d for d in demo.config["dependencies"] if d.get("api_visibility", "public") == "public"]
    assert [d["api_name"] for d in public] == ["ask", "ask_sorted", "add_urls"]


def test_cli_defaults_to_loopback():
    args = server.parser().parse_args([])
    assert (args.host, args.port, args.corpus, args.index) == ("127.0.0.1", 7860, "corpus", "index")
    assert server.is_loopback("127.0.0.1") and server.is_loopback("::1") and server.is_loopback("localhost")
    assert not server.is_loopback("0.0.0.0") and not server.is_loopback("192.168.1.4")


@pytest.fixture
def fake_launch(monkeypatch, tmp_path):
    """server.main with the app and Gradio's launch replaced: returns (run(argv) -> exit code, launch kwargs, apps)."""
    launched: dict = {}
    apps: list = []
    monkeypatch.delenv("QA_AUTH", raising=False)

    class Demo:
        def queue(self, **kw):
            return self

        def launch(self, **kw):
            launched.update(kw)

    class App:
        def __init__(self, corpus, index_dir, read_only=False, limiter=None, fetch_options=None, config=None):
            self.read_only, self.limiter, self.fetch_options, self.config = read_only, limiter, fetch_options, config
            apps.append(self)

        def warm(self):
            pass

    monkeypatch.setattr(server, "QAApp", App)
    monkeypatch.setattr(server, "create_app", lambda app: Demo())
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "manifest.json").write_text("{}")

    def run(argv):
        return server.main(["--corpus", str(tmp_path / "none"), "--index", str(tmp_path / "index"), *argv])

    return run, launched, apps


@pytest.mark.parametrize(
    ("argv", "host", "warned"),
    [
        ([], "127.0.0.1", ""),
        (["--host", "::1"], "::1", ""),
        (["--host", "0.0.0.0", "--read-only"], "0.0.0.0", "anyone who can reach this machine can ask questions\n"),
        (["--host", "0.0.0.0", "--auth", "ann:pw"], "0.0.0.0", "whoever logs in can ask questions, upload files"),
    ],
)
def test_the_server_listens_where_it_is_told_and_warns_off_loopback(fake_launch, capsys, argv, host, warned):
    """Loopback unless told otherwise; told otherwise, it says who can then reach it. Never a public share link."""
    run, launched, _ = fake_launch
    assert run(argv) == 0
    assert launched["server_name"] == host and launched["share"] is False
    err = capsys.readouterr().err
    assert (warned in err) if warned else "warning" not in err, err


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.4", "::"])
def test_the_server_refuses_the_network_without_a_login_or_read_only(fake_launch, capsys, host):
    run, launched, apps = fake_launch
    assert run(["--host", host]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: refusing to listen on {host}") and "--auth USER:PASSWORD" in err
    assert "--read-only" in err and "QA_AUTH" in err and "--auth-file" in err
    assert launched == {} and apps == []


def test_the_login_comes_from_auth_auth_file_or_qa_auth(fake_launch, monkeypatch, tmp_path, capsys):
    run, launched, apps = fake_launch
    assert run(["--host", "0.0.0.0", "--auth", "ann:s3:cret"]) == 0
    assert launched["auth"] == [("ann", "s3:cret")] and launched["max_file_size"] > 1
    secret = tmp_path / "login"
    secret.write_text("# the login\nbob:pw\n", encoding="utf-8")
    assert run(["--host", "0.0.0.0", "--auth-file", str(secret)]) == 0 and launched["auth"] == [("bob", "pw")]
    monkeypatch.setenv("QA_AUTH", "cy:pw2")
    assert run(["--host", "0.0.0.0"]) == 0 and launched["auth"] == [("cy", "pw2")]
    assert run(["--auth", "dee:pw3"]) == 0 and launched["auth"] == [("dee", "pw3")]  # the option wins
    monkeypatch.delenv("QA_AUTH")
    assert run(["--host", "0.0.0.0", "--read-only", "--rate-limit", "3"]) == 0
    assert launched["auth"] is None and launched["max_file_size"] == 1  # not even Gradio's own upload route
    assert apps[-1].read_only and apps[-1].limiter.rate == 3
    capsys.readouterr()
    for bad in (["--auth", "nopassword"], ["--auth", ":pw"], ["--auth-file", str(tmp_path / "missing")]):
        assert run(bad) == 2
        assert "error:" in capsys.readouterr().err
    assert run(["--rate-limit", "0"]) == 2


def test_rate_limiter_is_a_bounded_token_bucket_per_client():
    from qa.web.limits import RateLimiter

    now = [0.0]
    lim = RateLimiter(rate=10, max_clients=3, clock=lambda: now[0])
    assert all(lim.allow("a") for _ in range(10)) and not lim.allow("a")  # a burst of 10, then refused
    assert lim.allow("b")  # others are not affected
    now[0] += 0.1
    assert lim.allow("a") and not lim.allow("a")  # 10 a second: one more after 0.1 s
    for c in "cdefg":
        lim.allow(c)
    assert len(lim) == 3  # memory is bounded
    assert "at most 10 a second" in lim.message()
    with pytest.raises(ValueError):
        RateLimiter(rate=0)


def test_ask_beyond_the_rate_limit_gets_a_clear_message(app_with_index):
    import gradio as gr

    from qa.web.limits import RateLimiter

    app_with_index.limiter = RateLimiter(rate=2)
    h = page.Handlers(app_with_index)

    class Request:
        class client:  # noqa: N801 - the shape of gradio.Request.client
            host = "10.0.0.7"

    for _ in range(2):
        assert h.api_ask("festival visitors", 1, request=Request())["passages"]
    with pytest.raises(gr.Error, match="too many questions from your address"):
        h.api_ask("festival visitors", 1, request=Request())
    out, _ = h.show_answer("festival visitors", 1, None, None, None, request=Request())
    assert "Slow down" in out and "at most 2 a second" in out


def test_read_only_page_has_no_upload_or_rebuild_at_all(app_with_index):
    from qa.web.app import ReadOnly

    app_with_index.read_only = True
    demo = page.create_app(app_with_index)
    ids = {c["props"].get("elem_id") for c in demo.config["components"]}
    assert {"qa-question", "qa-status", "qa-refresh", "qa-read-only"} <= ids
    assert not ids & {"qa-upload", "qa-add", "qa-rebuild", "qa-full", "qa-overwrite", "qa-urls", "qa-add-urls"}
    names = {fn.fn.__name__ for fn in demo.fns.values() if fn.fn is not None}
    assert "show_answer" in names and not names & {"add_files", "rebuild", "add_pages", "api_add_urls"}
    public = [d["api_name"] for d in demo.config["dependencies"] if d.get("api_visibility") == "public"]
    assert public == ["ask", "ask_sorted"]  # no endpoints, not just hidden
    with pytest.raises(ReadOnly):
        app_with_index.upload([], False)
    with pytest.raises(ReadOnly):
        app_with_index.add_urls("https://example.com/a")


def test_missing_corpus_and_index_is_a_clear_error(tmp_path, capsys):
    assert server.main(["--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "idx")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_importing_qa_does_not_import_gradio():
    code = (
        "import sys, qa, qa.upload, qa.cli, qa.builder, qa.retriever, qa.status, qa.web.render, qa.web.app; "
        "print('gradio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_build_note_shows_stage_and_progress():
    st = BuildState(running=True, stage="reading corpus", done=0, total=1, started=time.time())
    assert "<progress></progress>" in render.render_build_note(st, True)  # unknown length: indeterminate bar
    st = BuildState(running=True, stage="embedding", done=30, total=120)
    note = render.render_build_note(st, True)
    assert 'value="25"' in note and "embedding passages 30/120" in note and "previous index" in note
    assert render.render_build_note(BuildState(running=False), True) == ""


def test_unreadable_index_is_explained_not_crashed(tmp_path, corpus_copy, fake_embedder):
    index = tmp_path / "index"
    index.mkdir()
    (index / "manifest.json").write_text("{not json", encoding="utf-8")
    app = QAApp(corpus_copy, index, embedder=fake_embedder)
    assert app.generation() == -1 and app.filters() == ([], None)
    with pytest.raises(QAError, match="qa build --full"):
        app.ask("NATO")
    assert "qa build --full" in page.status_panel(app)
    page.create_app(app)  # the page still comes up, with the reason in the index panel


def test_the_server_answers_with_the_settings_it_is_given(fake_launch, capsys):
    run, _, apps = fake_launch
    assert run(["--set", "max_missing_names=0.7", "--set", "min_reader_logit=off"]) == 0
    assert apps[0].config.max_missing_names == 0.7 and apps[0].config.min_reader_logit is None
    assert run(["--set", "max_mising_names=0.7"]) == 2 and len(apps) == 1
    assert capsys.readouterr().err.strip() == (
        "error: no setting named 'max_mising_names'; did you mean max_missing_names?"
    )


def test_the_apps_answers_use_its_settings(app_with_index, fake_embedder):
    from qa.config import Config

    app = app_with_index
    question = "How many visitors did the harbour festival in Port Alva draw?"
    assert app.config() == Config() and not app.ask(question)[0].no_answer
    strict = QAApp(app.corpus, app.index_dir, embedder=fake_embedder, config=Config(min_dense_score=1.0))
    answer, _ = strict.ask(question)
    assert answer.no_answer and "similar" in answer.reason and strict.config().min_dense_score == 1.0


def test_qa_serve_starts_this_app(monkeypatch):
    from qa.cli import main as qa_main

    calls = []
    monkeypatch.setattr(server, "main", lambda argv: calls.append(argv) or 0)
    assert qa_main(["serve", "--port", "7999", "--corpus", "c", "--index", "i"]) == 0
    assert calls == [["--corpus", "c", "--index", "i", "--host", "127.0.0.1", "--port", "7999", "--rate-limit", "10"]]
    calls.clear()
    assert qa_main(["serve", "--host", "0.0.0.0", "--auth", "a:b", "--read-only", "--rate-limit", "2.5"]) == 0
    assert calls[0][-5:] == ["--auth", "a:b", "--read-only", "--rate-limit", "2.5"]
    calls.clear()
    assert qa_main(["serve", "--watch", "--sync-feeds", "30", "--allow-private-urls"]) == 0
    assert calls[0][-6:] == ["--allow-private-urls", "--rate-limit", "10", "--watch", "--sync-feeds", "30"]
    assert server.parser().parse_args(calls[0][-6:])  # ui.py takes what qa serve hands on
    calls.clear()
    assert qa_main(["serve", "--set", "max_missing_names=0.7", "--set", "rerank_passages=5"]) == 0
    assert calls[0][-4:] == ["--set", "max_missing_names=0.7", "--set", "rerank_passages=5"]
    assert server.parser().parse_args(calls[0]).settings == ["max_missing_names=0.7", "rerank_passages=5"]


def test_page_css_and_scripts_are_the_package_files(tmp_path, corpus_copy, fake_embedder):
    """qa.css and the js_on_load scripts ship in qa/web/static and reach the page unchanged."""
    from importlib import resources

    static = resources.files("qa.web") / "static"
    css = (static / "qa.css").read_text(encoding="utf-8")
    assert "#qa-article-col {" in css and page.page_style()["css"] == css
    demo = page.create_app(QAApp(corpus_copy, tmp_path / "none", embedder=fake_embedder))
    scripts = {c["props"].get("elem_id"): c["props"].get("js_on_load") for c in demo.config["components"]}
    assert scripts["qa-result"] == (static / "cards.js").read_text(encoding="utf-8")
    assert scripts["qa-examples"] == (static / "examples.js").read_text(encoding="utf-8")
    article_js = scripts["qa-article-panel"]
    assert "scrollIntoView" in article_js and "__ARTICLE_PLACEHOLDER__" not in article_js
    assert json.dumps(render.ARTICLE_PLACEHOLDER) in article_js


def test_passages_of_one_article_that_touch_or_overlap_are_one_card():
    text = "Alpha one. Beta two. Gamma three. Delta four. Far away five."
    cut = lambda a, b: (text.index(a), text.index(b) + len(b))  # noqa: E731
    s1, e1 = cut("Alpha", "two.")
    s2, e2 = cut("Beta", "three.")  # overlaps the first
    s3, e3 = cut("Gamma", "four.")  # overlaps the second only: a chain
    s4, e4 = cut("Far", "five.")  # apart

    def mk(rank, s, e, hl, aid="a.txt"):
        return Passage(rank, 0.5, text[s:e], aid, "T", None, None, s, e, cut(*hl))

    ps = [
        mk(1, s2, e2, ("Beta", "two.")),
        mk(2, s1, e1, ("Beta", "two.")),  # the same sentence highlighted by two passages
        mk(3, s4, e4, ("Far", "five.")),
        mk(4, s3, e3, ("Delta", "four.")),
        mk(5, 0, 10, ("Alpha", "one."), aid="b.txt"),
    ]
    cards = render.group_passages(ps)
    assert [c.lead.article_id for c in cards] == ["a.txt", "b.txt"]
    first = cards[0]
    assert [p.rank for p in first.spans] == [2, 1, 4] and [p.rank for p in first.more] == [3]
    assert first.text == text[s1:e3] and first.highlights == [cut("Beta", "two."), cut("Delta", "four.")]
    out = render.render_answer(Answer("q", ps))
    assert out.count('class="qa-card"') == 2 and out.split("qa-cards", 1)[1].count("Beta two.") == 1
    assert "1 more in this article" in out and 'data-start="' + str(s4) + '"' in out
    assert '<span class="qa-cite">[1]</span>' in out and "[2]" in out and "[3]" not in out


def test_a_wire_story_card_lists_its_sources_with_dates_and_each_opens():
    also = [
        {
            "article_id": "w2.txt",
            "title": "Copy <b>two</b>",
            "source": "AFP",
            "date": "2021-05-02",
            "start": 4,
            "end": 9,
        },
        {"article_id": "w1.txt", "title": "Copy one", "source": "AP", "date": "2021-05-01", "start": 0, "end": 5},
    ]
    out = render.render_answer(Answer("q", [_passage("The wire sentence.", (0, 18), also_in=also)]))
    assert "Also in 2 sources:" in out and "&lt;b&gt;two&lt;/b&gt;" in out
    assert out.index("2021-05-01") < out.index("2021-05-02")  # by date
    assert 'data-article="w2.txt" data-start="4" data-end="9"' in out and 'data-article="w1.txt"' in out


@pytest.mark.parametrize(
    ("sim", "no_answer", "level"),
    [
        (0.62, False, "strong"),
        (0.45, False, "strong"),
        (0.38, False, "weak"),
        (None, False, "weak"),
        (0.7, True, "no answer"),
    ],
)
def test_evidence_strength_from_the_no_answer_decision_and_the_cosine(sim, no_answer, level):
    s = render.strength(sim, no_answer, 0.30, 0.45)
    assert s.level == level and 0 <= s.fill <= 100
    p = _passage("Some evidence.", (0, 14))
    ev = render.Evidence({} if sim is None else {(p.article_id, p.start, p.end): sim})
    out = render.render_answer(Answer("q", [p], no_answer=no_answer, reason="weak"), None, ev)
    assert ("no clear answer" if level == "no answer" else f"{level} evidence") in out
    assert ">score 0.812" not in out and "retrieval score 0.812" in out  # the raw score only in the tooltip


@pytest.mark.parametrize(
    ("dates", "unit", "bars", "undated"),
    [
        (["2021-05-01", "2021-05-03", "2021-05-03", None], "day", 3, 1),
        (["2021-01-04", "2021-04-20"], "week", 16, 0),
        (["2020-01-15", "2021-05-03", "bad"], "month", 17, 1),
        (["2020-10-21", "2021-05-03"], "week", 29, 0),
        (["2001-01-01", "2021-05-03"], "year", 21, 0),
        ([None, None], "day", 0, 2),
    ],
)
def test_timeline_picks_day_week_month_or_year_by_the_span(dates, unit, bars, undated):
    got_unit, got, got_undated = render.timeline_buckets(dates)
    assert (got_unit, len(got), got_undated) == (unit, bars, undated)
    assert sum(b.count for b in got) == len(dates) - undated
    assert all(b.first <= b.last for b in got) and all(a.last < b.first for a, b in zip(got, got[1:]))


def test_timeline_bars_filter_to_their_days():
    out = render.render_timeline(["2021-05-01", "2021-05-03", None])
    assert (
        out.count('<button type="button" class="qa-bar') == 3
        and "1 without a date" in out
        and "3 matching articles by day" in out
    )
    assert 'data-since="2021-05-02" data-until="2021-05-02"' in out and "qa-bar-empty" in out
    assert "show all dates" not in out and "show all dates" in render.render_timeline(["2021-05-01"], "2021-05-01")
    assert render.render_timeline([]) == ""


def test_page_asks_with_sort_dates_and_timeline(app_with_index):
    h = page.Handlers(app_with_index)
    out, _ = h.show_answer("NATO troops in Afghanistan and the harbour festival", 10, None, None, None, "newest")
    assert "qa-timeline" in out and "evidence" in out
    dates = re.findall(r'<span class="qa-date">([\d-]+)</span>', out.split("qa-cards", 1)[1])
    assert dates == sorted(dates, reverse=True)

    class Evt:
        _data = {"since": "2021-06-01", "until": "2021-06-30"}

    article, since, until, html_out = h.result_click("festival visitors", 5, None, "relevance", Evt())
    assert (since, until) == ("2021-06-01", "2021-06-30") and "payload.md" in html_out and "show all dates" in html_out
    assert "2020-10-21" not in html_out.split("qa-cards", 1)[1]
    out, _ = h.show_answer("NATO troops", 5, None, "2021", "last month", "relevance")
    assert "qa-card" in out or "No passage" in out


def test_api_ask_sorted_takes_a_sixth_value_and_ask_keeps_five(app_with_index):
    import gradio as gr

    h = page.Handlers(app_with_index)
    q = "NATO troops in Afghanistan and the harbour festival"
    newest = h.api_ask_sorted(q, 10, None, None, None, "newest")
    dates = [p["date"] or "" for p in newest["passages"]]
    assert len(set(dates)) > 1 and dates == sorted(dates, reverse=True)
    relevance = h.api_ask(q, 10, None, None, None)  # five values: by relevance, as ever
    assert [p["rank"] for p in relevance["passages"]] == list(range(1, len(relevance["passages"]) + 1))
    assert h.api_ask_sorted(q, 10, None, None, None) == relevance  # sort left out: relevance
    assert sorted(p["rank"] for p in newest["passages"]) == [p["rank"] for p in relevance["passages"]]
    with pytest.raises(gr.Error, match="sort must be one of relevance, newest"):
        h.api_ask_sorted(q, 10, None, None, None, "oldest")


def test_the_timeline_counts_the_articles_matching_the_question_not_only_the_cited(app_with_index):
    app = app_with_index
    result = app.ask_page("NATO troops in Afghanistan", 1)
    cited = {p.article_id for p in result.answer.passages}
    assert len(cited) == 1 and cited <= set(result.matching) and len(result.matching) >= 3
    assert "payload.md" not in result.matching  # the harbour festival is not about NATO
    out, _ = page.Handlers(app).show_answer("NATO troops in Afghanistan", 1, None, None, None)
    assert f"{len(result.matching)} matching articles by" in out and out.count('class="qa-card"') == 1
    assert not result.answer.no_answer
    later = app.ask_page("NATO troops in Afghanistan", 1, since="2020-10-21")
    assert later.matching and all(d and d >= "2020-10-21" for d in later.matching.values())
    assert set(later.matching) < set(result.matching)
    flagged = app.ask_page("NATO troops in Afghanistan", 1, since="2021-01-01")  # only the festival is that late
    assert flagged.answer.no_answer and flagged.answer.passages and flagged.matching == {}
    shown = page.Handlers(app).show_answer("NATO troops", 1, None, "2021-01-01", None)[0]
    assert "qa-bars" not in shown and "show all dates" in shown  # no chart, but the way back from the filter
    view = app.retriever()
    assert view.matching_articles("xylophone quokka marmalade") == []  # nothing about it: nothing matches
    assert app.ask("NATO troops", 1)[0].passages  # the API answer is unchanged by all this


def test_cards_show_the_place_of_a_wire_story(app_with_index):
    app = app_with_index
    (app.corpus / "wire.txt").write_text(
        "BRUSSELS, Oct. 22, 2020 (Reuters) – The lighthouse keepers of Flanders voted to strike on Thursday, "
        "their union said.\n",
        encoding="utf-8",
    )
    app.builder.run()
    answer = app.ask_page("Did the lighthouse keepers of Flanders strike?", 3).answer
    assert {p.article_id: p.place for p in answer.passages}["wire.txt"] == "Brussels"
    assert answer.to_dict()["passages"][0]["place"] == "Brussels"  # in the API's JSON too (qa ask --json)
    out, _ = page.Handlers(app).show_answer("Did the lighthouse keepers of Flanders strike?", 3, None, None, None)
    card = out.split('data-article="wire.txt"', 1)[1].split("</article>", 1)[0]
    assert (
        '<span class="qa-source">Reuters</span> · <span class="qa-place">Brussels</span> · '
        '<span class="qa-date">2020-10-22</span>' in card
    )
    others = out.split('data-article="wire.txt"', 1)[0]
    assert "qa-place" not in others  # articles without a dateline show no place
    copy = {"article_id": "b.txt", "title": "B", "source": "AP", "date": "2021-01-03", "place": "Doha", "start": 0}
    escaped = render.render_card(
        render.Card((_passage("Text.", (0, 5), place="<b>Kabul</b>", also_in=[dict(copy, end=5)]),)), 1
    )
    assert '<span class="qa-place">&lt;b&gt;Kabul&lt;/b&gt;</span>' in escaped
    assert '<span class="qa-source">AP</span> · <span class="qa-place">Doha</span>' in escaped  # a wire copy's own


def test_warming_loads_the_model_and_the_reader_the_no_answer_check_uses(
    tmp_path, corpus_copy, fake_embedder, monkeypatch
):
    import qa.reader

    loaded: list[str] = []

    def fake_load_reader():
        loaded.append("reader")
        return None  # as an install without the weights: warming must not fail either

    monkeypatch.setattr(qa.reader, "load_reader", fake_load_reader)
    app = QAApp(corpus_copy, tmp_path / "none", embedder=fake_embedder)
    app.warm()  # no index yet: the default settings, whose no-answer check reads with the reader
    assert loaded == ["reader"]
