"""The Gradio page: the Ask and Corpus & index tabs, their events, and the public API endpoints.

/ask (five values, by relevance, as ever) and /ask_sorted (the same plus sort) answer;
/add_urls adds pages as `qa add` does (absent from a read-only app).

Handlers turn the app's outcomes into HTML (qa.web.render) or widget updates;
the library's errors become messages on the page, or a gr.Error on the API.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import gradio as gr

from qa.errors import QAError
from qa.ingest import SUPPORTED_SUFFIXES
from qa.upload import MAX_UPLOAD_BYTES
from qa.web.app import (
    DEFAULT_K,
    MAX_K,
    MAX_URLS,
    ArticleGone,
    ArticleRequest,
    IndexNotReady,
    QAApp,
    RateLimited,
)
from qa.web.render import (
    ARTICLE_PLACEHOLDER,
    STAGES,
    Evidence,
    render_added,
    render_answer,
    render_article,
    render_build_note,
    render_examples,
    render_message,
    render_report,
    render_status,
    render_timeline,
    render_upload,
)

HEADER = (
    '<div id="qa-header"><h1>Ask your articles</h1>'
    "<p>Answers quote the passage and sentence they come from, with a citation you can open.</p></div>"
)
ASK_EVENT = dict(api_visibility="private", concurrency_limit=4, concurrency_id="ask", show_progress="minimal")


def static_text(name: str) -> str:
    """A file from qa/web/static, read from the installed package (not from the current folder)."""
    return (resources.files("qa.web") / "static" / name).read_text(encoding="utf-8")


def page_style() -> dict[str, Any]:
    """Theme and CSS: Gradio 6 takes them in launch(). System fonts: nothing is fetched from the web."""
    theme = gr.themes.Soft(
        primary_hue="blue",
        neutral_hue="slate",
        font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )
    return {"theme": theme, "css": static_text("qa.css")}


def status_panel(app: QAApp) -> str:
    """The index panel; an unreadable index shows why, a missing one how to build it; and the watcher's news."""
    watch = app.watch_state()
    try:
        status, skipped = app.status()
    except (QAError, OSError) as exc:
        return render_status(None, error=str(exc) if app.has_index() else None, watch=watch)
    return render_status(status, skipped, watch=watch)


def page_stamp(app: QAApp) -> tuple[int, int]:
    """What the page redraws the filters and the index panel on: the index generation and the watcher's news."""
    watch = app.watch_state()
    return app.generation(), watch.events if watch is not None else 0


def article_panel(app: QAApp, data: Any) -> str:
    """The article a card's "Open article" asked for (data is what the browser sent)."""
    try:
        opened = app.open_article(ArticleRequest.from_browser(data))
    except ArticleGone:
        return render_message(
            "This article is no longer in the index.", "The index was rebuilt since; ask the question again.", "warn"
        )
    except QAError:  # no index, or one that cannot be read
        return render_message("This article cannot be opened.", "Ask the question again.", "warn")
    req = opened.request
    return render_article(opened.article, req.start, req.end, req.highlight, opened.stale, nonce=f"{time.time():.6f}")


def _date_hint(span: tuple[str, str] | None, end: int) -> str:
    return f"e.g. {span[end]}, {span[end][:4]}, last month" if span else "e.g. 2021-06-03, 2021, 7 days ago"


def _client(request: gr.Request | None) -> str | None:
    """The asking client's address (what the rate limit counts by)."""
    client = getattr(request, "client", None)
    return getattr(client, "host", None)


def _event_data(evt: gr.EventData) -> dict:
    """What the page's js_on_load code sent with trigger() ({} if anything else)."""
    data = getattr(evt, "_data", None)
    return data if isinstance(data, dict) else {}


class Handlers:
    """The page's event handlers over one QAApp."""

    def __init__(self, app: QAApp):
        self.app = app
        self.examples = app.examples()

    def show_answer(
        self, question, k, sources, since, until, sort="relevance", request: gr.Request = None
    ) -> tuple[str, str]:
        """The answer panel (and an emptied article panel), or a message saying what to do."""
        return self.answer_html(question, k, sources, since, until, sort, request), ARTICLE_PLACEHOLDER

    def answer_html(self, question, k, sources, since, until, sort, request) -> str:
        if not (question or "").strip():  # a state of the page, not an error: show an example
            example = self.examples[0] if self.examples else "Who said what, and when?"
            return render_message("Type a question first.", "For example: " + example)
        try:
            result = self.app.ask_page(question, int(k), sources, since, until, client=_client(request), sort=sort)
        except IndexNotReady as exc:  # the banner above shows the build's progress
            return render_message("The index is not ready yet.", str(exc), "warn")
        except RateLimited as exc:
            return render_message("Slow down a little.", str(exc), "warn")
        except (QAError, ValueError) as exc:
            return render_message("This question cannot be answered as asked.", str(exc), "error")
        config = self.app.config()
        evidence = Evidence(result.similarity, config.min_dense_score, config.strong_dense_score)
        timeline = render_timeline(list(result.matching.values()), since, until)
        return render_answer(result.answer, result.hashes, evidence, timeline)

    def result_click(self, question, k, sources, sort, evt: gr.EventData, request: gr.Request = None) -> tuple:
        """A click in the answer: "Open" fills the article panel; a timeline bar sets the dates and asks again."""
        data = _event_data(evt)
        if "since" not in data:
            return article_panel(self.app, data), gr.skip(), gr.skip(), gr.skip()
        since, until = str(data.get("since") or ""), str(data.get("until") or "")
        html_out = self.answer_html(question, k, sources, since, until, sort, request)
        return ARTICLE_PLACEHOLDER, since, until, html_out

    def api_ask(
        self,
        question: str,
        k: int = DEFAULT_K,
        sources: list[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        request: gr.Request = None,
    ) -> dict:
        """Answer a question with ranked, cited passages: the same JSON as `qa ask --json`.

        Five values, as before (REST callers pass them all): the order is relevance, as `qa ask`'s default.
        """
        return self._api_answer(question, k, sources, since, until, "relevance", request)

    def api_ask_sorted(
        self,
        question: str,
        k: int = DEFAULT_K,
        sources: list[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        sort: str = "relevance",
        request: gr.Request = None,
    ) -> dict:
        """/ask with a sixth value, sort: "relevance" or "newest" (the k best, newest first, undated last).

        A separate endpoint because Gradio fills no missing trailing value of a REST call: a sixth
        input on /ask would break every caller that sends five.
        """
        return self._api_answer(question, k, sources, since, until, sort, request)

    def _api_answer(self, question, k, sources, since, until, sort, request) -> dict:
        try:
            answer, _ = self.app.ask(question, int(k), sources, since, until, client=_client(request), sort=sort)
        except (QAError, ValueError) as exc:
            raise gr.Error(str(exc)) from None
        return answer.to_dict()

    def api_add_urls(self, urls: list[str]) -> dict:
        """Fetch web pages into the corpus, as `qa add --json` does: {"added", "updated", "unchanged", "failed"}.

        urls: a list of http(s) addresses (at most MAX_URLS). With the app watching its corpus they are
        indexed by themselves; otherwise a rebuild indexes them.
        """
        try:
            return self.app.add_urls(urls).to_dict()
        except QAError as exc:
            raise gr.Error(str(exc)) from None

    def add_pages(self, text: str) -> tuple[str, str, str]:
        """The per-address results, the status, and the box left holding only the addresses that failed."""
        try:
            report = self.app.add_urls(text)
        except QAError as exc:
            return render_message("Nothing was added.", str(exc), "warn"), self.status(), text
        failed = "\n".join(f.url for f in report.failed)
        return render_added(report, watching=self.app.watcher is not None), self.status(), failed

    def pick_example(self, evt: gr.EventData):
        """The clicked example question into the box (only the page's own examples)."""
        question = _event_data(evt).get("question")
        return question if question in self.examples else gr.skip()

    def status(self) -> str:
        return status_panel(self.app)

    def add_files(self, files, overwrite) -> tuple[str, str, None]:
        """What was saved or refused, the status (now showing the corpus changed), and an emptied file box."""
        return render_upload(self.app.upload(files, overwrite), self.app.watcher is not None), self.status(), None

    def rebuild(self, full, progress=gr.Progress()) -> tuple[str, str]:
        """Starts a build (or follows the one running) and reports its progress until it ends."""
        started = self.app.builder.start(full=bool(full))
        note = "" if started else "A build is already running; showing its progress."
        progress(0, desc="starting")
        while (st := self.app.builder.state()).running:
            stage = STAGES.get(st.stage, st.stage)
            if st.total > 1:
                progress((st.done, st.total), desc=stage, unit="passages" if st.stage == "embedding" else "steps")
            else:
                progress(None if st.stage != "done" else 1.0, desc=stage)
            time.sleep(0.25)
        return render_report(st.report, st.error, note), self.status()

    def notes(self) -> tuple[str, str]:
        """The build banners of both tabs, as of now."""
        note = render_build_note(self.app.builder.state(), self.app.has_index())
        return note, note

    def tick(self, seen: tuple[int, int]) -> tuple:
        """Every second: the build banners; and, once a build commits (or the watcher has news), the filters and
        status of the new index."""
        note = render_build_note(self.app.builder.state(), self.app.has_index())
        stamp = page_stamp(self.app)
        if stamp == tuple(seen or ()):
            return note, note, gr.skip(), gr.skip(), gr.skip(), gr.skip(), seen
        sources, span = self.app.filters()
        return (
            note,
            note,
            gr.update(choices=sources, visible=bool(sources)),
            gr.update(visible=span is not None, placeholder=_date_hint(span, 0)),
            gr.update(visible=span is not None, placeholder=_date_hint(span, 1)),
            self.status(),
            stamp,
        )


@dataclass
class AskTab:
    """The Ask tab's widgets that events read or write."""

    note: gr.HTML
    question: gr.Textbox
    ask: gr.Button
    examples: gr.HTML
    k: gr.Slider
    sources: gr.Dropdown
    since: gr.Textbox
    until: gr.Textbox
    sort: gr.Radio
    result: gr.HTML
    article: gr.HTML


@dataclass
class BuildControls:
    """Rebuild index: absent from a read-only page."""

    rebuild: gr.Button
    full: gr.Checkbox
    report: gr.HTML


@dataclass
class UploadControls:
    """Add articles: absent from a read-only page."""

    files: gr.File
    overwrite: gr.Checkbox
    add: gr.Button
    result: gr.HTML


@dataclass
class UrlControls:
    """Add by URL: absent from a read-only page."""

    urls: gr.Textbox
    add: gr.Button
    result: gr.HTML


@dataclass
class CorpusTab:
    """The Corpus & index tab's widgets that events read or write (no controls when read-only)."""

    tab: gr.Tab
    note: gr.HTML
    status: gr.HTML
    refresh: gr.Button
    build: BuildControls | None
    upload: UploadControls | None
    urls: UrlControls | None


def _question_row() -> tuple[gr.Textbox, gr.Button]:
    with gr.Row(equal_height=True):
        question = gr.Textbox(
            placeholder="Ask a question about the articles, then press Enter",
            show_label=False,
            lines=1,
            max_lines=3,
            scale=5,
            autofocus=True,
            elem_id="qa-question",
            container=False,
        )
        ask = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="qa-ask")
    return question, ask


def _options(
    sources: list[str], dates: tuple[str, str] | None
) -> tuple[gr.Slider, gr.Dropdown, gr.Textbox, gr.Textbox, gr.Radio]:
    """The Options accordion: passages, order, sources, and a date range (hidden when the index has no dates)."""
    with gr.Accordion("Options", open=False, elem_id="qa-options"), gr.Row():
        k = gr.Slider(1, MAX_K, value=DEFAULT_K, step=1, label="Passages to show", min_width=200, elem_id="qa-k")
        sort = gr.Radio(
            [("Most relevant", "relevance"), ("Newest first", "newest")],
            value="relevance",
            label="Order",
            elem_id="qa-sort",
            min_width=200,
        )
        source_dd = gr.Dropdown(
            choices=sources,
            multiselect=True,
            label="Sources",
            elem_id="qa-sources",
            visible=bool(sources),
            min_width=200,
        )
        since, until = (_date_box(label, dates, end) for end, label in enumerate(("From date", "To date")))
    return k, source_dd, since, until, sort


def _date_box(label: str, dates: tuple[str, str] | None, end: int) -> gr.Textbox:
    """A date filter box (since: end=0, until: end=1), hidden when the index has no dates."""
    return gr.Textbox(
        label=label,
        placeholder=_date_hint(dates, end),
        visible=dates is not None,
        min_width=140,
        elem_id=("qa-since", "qa-until")[end],
    )


def _ask_tab(app: QAApp, examples: list[str]) -> AskTab:
    with gr.Tab("Ask", id="ask"):
        note = gr.HTML(render_build_note(app.builder.state(), app.has_index()), elem_id="qa-ask-note", js_on_load=None)
        question, ask = _question_row()
        example_box = gr.HTML(
            render_examples(examples),
            elem_id="qa-examples",
            js_on_load=static_text("examples.js"),
            visible=bool(examples),
        )
        k, sources, since, until, sort = _options(*app.filters())
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                result = gr.HTML("", elem_id="qa-result", js_on_load=static_text("cards.js"))
            with gr.Column(scale=2, min_width=320, elem_id="qa-article-col"):
                article_js = static_text("article.js").replace(
                    "__ARTICLE_PLACEHOLDER__", json.dumps(ARTICLE_PLACEHOLDER)
                )
                article = gr.HTML(ARTICLE_PLACEHOLDER, elem_id="qa-article-panel", js_on_load=article_js)
    return AskTab(note, question, ask, example_box, k, sources, since, until, sort, result, article)


def _index_column(app: QAApp) -> tuple[gr.HTML, gr.Button, BuildControls | None]:
    with gr.Column(scale=1, min_width=300):
        gr.Markdown("### Index")
        status = gr.HTML(status_panel(app), elem_id="qa-status", js_on_load=None)
        with gr.Row():
            rebuild = (
                None if app.read_only else gr.Button("Rebuild index", variant="primary", elem_id="qa-rebuild", scale=2)
            )
            refresh = gr.Button("Refresh status", variant="secondary", elem_id="qa-refresh", scale=1)
        if rebuild is None:
            gr.Markdown(
                "This app is read-only: its corpus and index change only on the server.", elem_id="qa-read-only"
            )
            return status, refresh, None
        full = gr.Checkbox(
            False,
            label="From scratch (ignore the old index and the embedding cache; "
            "needed after changing chunk settings or if the index is damaged)",
            elem_id="qa-full",
        )
        report = gr.HTML("", elem_id="qa-report", js_on_load=None)
    return status, refresh, BuildControls(rebuild, full, report)


def _upload_column(watching: bool) -> tuple[UploadControls, UrlControls]:
    then = "The app watches the corpus: the index follows by itself." if watching else "Then click **Rebuild index**."
    with gr.Column(scale=1, min_width=300):
        gr.Markdown("### Add articles")
        gr.Markdown(
            f"Files of type {', '.join(SUPPORTED_SUFFIXES)}, up to {MAX_UPLOAD_BYTES // (1 << 20)} MB "
            f"each, are saved into the corpus folder. {then}"
        )
        files = gr.File(
            file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), label="Article files", elem_id="qa-upload"
        )
        overwrite = gr.Checkbox(False, label="Replace files of the same name", elem_id="qa-overwrite")
        add = gr.Button("Add to corpus", elem_id="qa-add")
        upload_result = gr.HTML("", elem_id="qa-upload-result", js_on_load=None)
        gr.Markdown("### Add by URL")
        gr.Markdown(
            f"Web pages or PDFs, up to {MAX_URLS} addresses at a time: each one's main text, title and date is saved "
            "as `web/<host>/<name>.md`, as `qa add` does; adding one again updates it if the page changed."
        )
        urls = gr.Textbox(
            label="Addresses (one per line)",
            placeholder="https://example.com/2021/06/03/story.html",
            lines=3,
            max_lines=MAX_URLS,
            elem_id="qa-urls",
        )
        add_urls = gr.Button("Fetch and add", elem_id="qa-add-urls")
        url_result = gr.HTML("", elem_id="qa-urls-result", js_on_load=None)
    return UploadControls(files, overwrite, add, upload_result), UrlControls(urls, add_urls, url_result)


def _corpus_tab(app: QAApp) -> CorpusTab:
    with gr.Tab("Corpus & index", id="corpus") as tab:
        note = gr.HTML("", elem_id="qa-index-note", js_on_load=None)
        with gr.Row(equal_height=False):
            status, refresh, build = _index_column(app)
            upload, urls = (None, None) if app.read_only else _upload_column(app.watcher is not None)
    return CorpusTab(tab, note, status, refresh, build, upload, urls)


def _wire_ask(h: Handlers, ask: AskTab) -> None:
    """Enter, the Ask button and an example chip ask; a card's Open article fills the article panel."""
    inputs = [ask.question, ask.k, ask.sources, ask.since, ask.until, ask.sort]
    outputs = [ask.result, ask.article]
    for trigger in (ask.question.submit, ask.ask.click):
        trigger(h.show_answer, inputs, outputs, **ASK_EVENT)
    ask.examples.click(h.pick_example, None, ask.question, api_visibility="private", queue=False).then(
        h.show_answer, inputs, outputs, **ASK_EVENT
    )
    ask.result.click(
        h.result_click,
        [ask.question, ask.k, ask.sources, ask.sort],
        [ask.article, ask.since, ask.until, ask.result],
        api_visibility="private",
        concurrency_limit=4,
        concurrency_id="ask",
        show_progress="hidden",
    )


def _wire_corpus(h: Handlers, corpus: CorpusTab) -> None:
    """Upload, rebuild (no concurrency limit: a second click follows the running build) and refresh.

    A read-only page has no upload or rebuild controls, hence no events (no endpoints) for them.
    """
    if corpus.upload is not None:
        up = corpus.upload
        up.add.click(
            h.add_files, [up.files, up.overwrite], [up.result, corpus.status, up.files], api_visibility="private"
        )
    if corpus.urls is not None:  # one fetch at a time: each may take up to a minute per address
        corpus.urls.add.click(
            h.add_pages,
            corpus.urls.urls,
            [corpus.urls.result, corpus.status, corpus.urls.urls],
            api_visibility="private",
            concurrency_limit=1,
            concurrency_id="add_urls",
        )
    if corpus.build is not None:
        corpus.build.rebuild.click(
            h.rebuild,
            corpus.build.full,
            [corpus.build.report, corpus.status],
            api_visibility="private",
            concurrency_limit=None,
            show_progress_on=[corpus.status],
        )
    corpus.refresh.click(h.status, None, corpus.status, api_visibility="private")
    corpus.tab.select(h.status, None, corpus.status, api_visibility="private", show_progress="hidden")


def _wire_timer(h: Handlers, ask: AskTab, corpus: CorpusTab, seen_gen: gr.State) -> None:
    """A one-second tick keeps the build banners, the filters and the status in step with the index (and watcher)."""
    gr.Timer(1.0).tick(
        h.tick,
        seen_gen,
        [ask.note, corpus.note, ask.sources, ask.since, ask.until, corpus.status, seen_gen],
        api_visibility="private",
        concurrency_limit=None,
        show_progress="hidden",
        queue=False,
    )


def create_app(app: QAApp) -> gr.Blocks:
    """The Gradio Blocks for app (not launched). Public API: /ask, /ask_sorted and (unless read-only) /add_urls."""
    handlers = Handlers(app)
    with gr.Blocks(title="qa — cited answers", delete_cache=(3600, 3600)) as demo:
        seen_gen = gr.State(page_stamp(app))
        gr.HTML(HEADER, js_on_load=None)
        with gr.Tabs():
            ask = _ask_tab(app, handlers.examples)
            corpus = _corpus_tab(app)
        _wire_ask(handlers, ask)
        _wire_corpus(handlers, corpus)
        _wire_timer(handlers, ask, corpus, seen_gen)
        # The banners as they are when the page opens (the HTML above is from when the page was made).
        demo.load(handlers.notes, None, [ask.note, corpus.note], api_visibility="private", queue=False)
        gr.api(handlers.api_ask, api_name="ask", concurrency_limit=4, concurrency_id="ask")
        gr.api(handlers.api_ask_sorted, api_name="ask_sorted", concurrency_limit=4, concurrency_id="ask")
        if not app.read_only:
            gr.api(handlers.api_add_urls, api_name="add_urls", concurrency_limit=1, concurrency_id="add_urls")
    return demo
