"""Hostile input, end to end: corpus files through `qa build`, questions through `qa ask` and the API,
upload names through qa.upload, and the web server's listening address.

Every hostile corpus file is either ingested correctly or skipped with a
warning that names it (and its line, for JSON lines), and the good files
around it are still searchable. Questions get a sensible answer or a clear
error, in bounded time. The corpus is built once (fake embedder) and each
hostile case is its own test against that build.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qa import build
from qa.chunk import MAX_CHARS_PER_TOKEN
from qa.config import Config
from qa.errors import QAError, QuestionError
from qa.index import Index
from qa.manifest import read_manifest
from qa.retriever import Retriever
from qa.upload import UploadError, save_upload, save_uploads
from tests.conftest import ROOT
from tests.support.corpus import write_synthetic_corpus
from tests.support.fake import FakeEmbedder, fake_env

ARTICLE = (
    "{title}\n\nThe {place} council opened a new ferry terminal on Monday. Officials in {place} expect more trade.\n"
)
ODD_NAMES = [
    "with space.txt",
    "ünïcödé.txt",
    "emoji 😀.md",
    "-rf.txt",
    "--full.txt",
    "$(touch pwned).txt",
    "semi;colon.txt",
    "quote'\".txt",
    "new\nline.txt",
    "tab\tname.txt",
    "back\\slash.txt",
    "UPPER.TXT",
    "x" * 240 + ".txt",
    "evil\u202etxt.md",
    "<img src=x onerror=alert(1)>.txt",
    "%2e%2e%2fpercent.txt",
]
BIG_BYTES = 50 * 1024 * 1024


def _env() -> dict:
    return fake_env(dict(os.environ, HF_HUB_OFFLINE="1"))


def write_hostile_corpus(root: Path) -> Path:
    corpus, outside = root / "corpus", root / "outside"
    corpus.mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("Zebracorn secret kept outside the corpus.\n")
    (outside / "more.txt").write_text("Zebracorn second secret.\n")
    # Good files of every type.
    (corpus / "good.txt").write_text(ARTICLE.format(title="Harbour news", place="Alphaville"))
    (corpus / "good.md").write_text(
        "---\ntitle: Market day\ndate: 2021-03-04\n---\n# Market day\n\n"
        "The market in Betatown sold quinces to visitors from the coast.\n"
    )
    (corpus / "crlf_bom.txt").write_bytes("\ufeffFerry times\r\n\r\nThe Omicronville ferry runs at dawn.\r\n".encode())
    # Binary, undecodable, huge, empty.
    (corpus / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    (corpus / "binary.jsonl").write_bytes(b"\x00\x01\x02\x03" + bytes(range(256)) * 2)
    (corpus / "utf16.txt").write_bytes("Utf sixteen text about Rhoville.".encode("utf-16"))
    (corpus / "latin1.txt").write_bytes("Caf\u00e9 in Etaville served cr\u00eapes.\n".encode("latin-1"))
    with open(corpus / "big.txt", "wb") as f:
        block = b"The Thetacity archive holds many words. " * 4096
        for _ in range(BIG_BYTES // len(block) + 1):
            f.write(block)
        f.truncate(BIG_BYTES)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_text("   \n\n\t\n")
    (corpus / "empty.jsonl").write_text("\n\n")
    # A base64-like blob: the model reads it as [UNK], the chunks must stay small anyway.
    (corpus / "blob.txt").write_text("Blob\n\n" + "QUJD" * 250_000 + "\n\nThe Lambdaville blob ends here.\n")
    # HTML: deeply nested, reasonably nested, scripts and styles.
    (corpus / "nested.html").write_text(
        "<html><body>" + "<div>" * 100_000 + "Iotaville deep text." + "</div>" * 100_000 + "</body></html>"
    )
    (corpus / "nested_ok.html").write_text(
        "<html><body>" + "<div>" * 300 + "<p>The Kappatown school reopened after "
        "repairs to the roof.</p>" + "</div>" * 300 + "</body></html>"
    )
    (corpus / "scripts.html").write_text(
        "<html><head><title>Council vote</title><style>body{color:red} .gammaStyleWord{}</style>"
        "<script>var gammaScriptWord = 1; alert('xss')</script></head><body><article><h1>Council vote</h1>"
        "<p>The council of Gammaburg approved the bridge budget on Tuesday after a long debate.</p>"
        '<p onclick="alert(1)">Residents of Gammaburg welcomed the decision about the bridge.</p>'
        "<noscript>gammaNoscriptWord</noscript><script>document.write('gammaScriptTwo')</script>"
        '<iframe src="javascript:alert(2)"></iframe></article></body></html>'
    )
    # JSON lines, some broken.
    lines = [
        json.dumps(
            {
                "id": "j1",
                "title": "Lighthouse",
                "text": "The Deltaport lighthouse was repainted white.",
                "source": "Harbour Gazette",
            }
        ),
        '{"id": "j2", "title": "broken", "text": "unterminated',
        "[1, 2, 3]",
        json.dumps({"id": "j4", "title": "no text"}),
        json.dumps({"id": "j5", "text": "The Epsilonville orchard harvested pears."}),
    ]
    (corpus / "mixed.jsonl").write_bytes(
        ("\n".join(lines) + "\n").encode()
        + b'{"id": "j6", "text": "bad \xff"}\n'
        + json.dumps({"id": "j7", "text": "Zetaton mill reopened."}).encode()
        + b"\n"
    )
    # Symlinks: outside file, outside directory, inside file, dangling, loop; a FIFO; a directory named like a file.
    os.symlink(outside / "secret.txt", corpus / "escape.txt")
    os.symlink(outside, corpus / "escapedir")
    os.symlink(corpus / "good.txt", corpus / "inside_link.txt")
    os.symlink(corpus / "nowhere.txt", corpus / "dangling.txt")
    os.symlink(corpus / "loop.txt", corpus / "loop.txt")
    os.mkfifo(corpus / "pipe.txt")
    (corpus / "folder.txt").mkdir()
    # Unusual names, a deep folder, and a name that is not UTF-8.
    for i, name in enumerate(ODD_NAMES):
        (corpus / name).write_text(ARTICLE.format(title=f"Odd name {i}", place=f"Muville{i}"))
    deep = corpus.joinpath(*["deep"] * 40)
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_text(ARTICLE.format(title="Deep", place="Nuville"))
    (corpus / os.fsdecode(b"caf\xe9.txt")).write_text(ARTICLE.format(title="Bad name", place="Xiville"))
    return corpus


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("hostile")
    corpus = write_hostile_corpus(root)
    index = root / "index"
    out = subprocess.run(
        [sys.executable, "-m", "qa", "build", "--corpus", str(corpus), "--index", str(index)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    (corpus / "big.txt").unlink()  # 50 MB: not needed after the build
    skipped = {}
    for line in out.stdout.splitlines():
        m = re.match(r"  skipped (.+?)(?::(\d+))?: (.*)$", line)
        if m:
            skipped[(m[1], int(m[2]) if m[2] else None)] = m[3]
    index_obj = Index.open(index)
    return {
        "out": out,
        "skipped": skipped,
        "index": index,
        "corpus": corpus,
        "ids": set(index_obj.article_ids),
        "chunks": list(index_obj.chunks),
        "idx": index_obj,
        "retriever": Retriever(index_obj, FakeEmbedder()),
    }


def _assert_skipped(hostile: dict, path: str, reason: str, line: int | None = None) -> None:
    key = (path, line)
    assert key in hostile["skipped"], f"{path}:{line} not in the build report: {sorted(hostile['skipped'])}"
    assert reason in hostile["skipped"][key], hostile["skipped"][key]
    where = f"{path}:{line}" if line else path
    assert any(ln.startswith("warning:") and where in ln for ln in hostile["out"].stderr.splitlines()), (
        f"no warning naming {where}"
    )
    assert path not in hostile["ids"]


def _top_ids(hostile: dict, question: str, k: int = 3) -> list[str]:
    return [p.article_id for p in hostile["retriever"].ask(question, k=k, auto_refresh=False).passages]


def test_the_build_completes_and_reports(hostile):
    out = hostile["out"]
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    manifest = read_manifest(hostile["index"]).to_dict()
    assert len(manifest["skipped"]) == len(hostile["skipped"])
    assert manifest["counts"]["documents"] == len(hostile["ids"])


def test_good_files_get_in_and_are_searchable(hostile):
    for aid, question in [
        ("good.txt", "Alphaville ferry terminal"),
        ("good.md", "Betatown quinces"),
        ("crlf_bom.txt", "Omicronville ferry dawn"),
        ("j1", "Deltaport lighthouse"),
    ]:
        assert aid in hostile["ids"]
        assert _top_ids(hostile, question)[0] == aid
    article = hostile["idx"].article("good.md")
    assert (article.title, article.date) == ("Market day", "2021-03-04")
    assert hostile["idx"].article("crlf_bom.txt").text == "The Omicronville ferry runs at dawn."
    # Through the CLI as well.
    out = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "Betatown quinces", "--index", str(hostile["index"]), "--json"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["passages"][0]["article_id"] == "good.md"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("binary.txt", "binary"),
        ("binary.jsonl", "binary"),
        ("utf16.txt", "UTF-16"),
    ],
)
def test_binary_and_undecodable_files_are_skipped_by_name(hostile, path, reason):
    _assert_skipped(hostile, path, reason)


def test_a_latin1_file_is_detected_and_read(hostile):
    assert "latin1.txt" in hostile["ids"]
    assert hostile["idx"].article("latin1.txt").text == "Caf\u00e9 in Etaville served cr\u00eapes."


def test_a_50_mb_text_file_is_skipped_with_its_size(hostile):
    _assert_skipped(hostile, "big.txt", "larger than")
    assert "50 MB" in hostile["skipped"][("big.txt", None)]


@pytest.mark.parametrize("path", ["empty.txt", "blank.md", "empty.jsonl"])
def test_empty_files_are_skipped(hostile, path):
    _assert_skipped(hostile, path, "empty")


def test_deeply_nested_html_is_skipped_and_moderate_nesting_is_read(hostile):
    _assert_skipped(hostile, "nested.html", "nested too deeply")
    assert _top_ids(hostile, "Kappatown school roof")[0] == "nested_ok.html"


def test_scripts_styles_and_handlers_never_reach_the_index(hostile):
    assert _top_ids(hostile, "Gammaburg bridge budget")[0] == "scripts.html"
    text = hostile["idx"].article("scripts.html").text
    assert "Gammaburg approved the bridge budget" in text and "welcomed the decision" in text
    everything = " ".join(c["text"] + " " + c["title"] for c in hostile["chunks"])
    for word in (
        "gammaScriptWord",
        "gammaScriptTwo",
        "gammaStyleWord",
        "gammaNoscriptWord",
        "alert(",
        "onclick",
        "javascript:",
    ):
        assert word not in everything


def test_json_lines_with_broken_lines_keep_the_good_ones(hostile):
    assert {"j1", "j5", "j7"} <= hostile["ids"]
    for line, reason in [(2, "invalid JSON"), (3, "not a JSON object"), (4, '"text"'), (6, "UTF-8")]:
        _assert_skipped(hostile, "mixed.jsonl", reason, line)
    assert _top_ids(hostile, "Zetaton mill")[0] == "j7"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("escape.txt", "outside the corpus"),
        ("escapedir", "outside the corpus"),
        ("dangling.txt", "broken symlink"),
        ("loop.txt", "symlink"),
        ("pipe.txt", "not a regular file"),
    ],
)
def test_symlinks_out_of_the_corpus_and_special_files_are_skipped(hostile, path, reason):
    _assert_skipped(hostile, path, reason)


def test_nothing_from_outside_the_corpus_is_indexed(hostile):
    assert not any("Zebracorn" in c["text"] for c in hostile["chunks"])
    assert "inside_link.txt" in hostile["ids"]  # a link to a file inside the corpus is fine


@pytest.mark.parametrize("name", ODD_NAMES)
def test_unusual_file_names_are_ingested_under_their_name(hostile, name):
    i = ODD_NAMES.index(name)
    assert name in hostile["ids"]
    assert hostile["idx"].article(name).title == f"Odd name {i}"
    assert name in _top_ids(hostile, f"Muville{i} ferry terminal")


def test_a_name_that_is_not_utf8_is_skipped_and_a_deep_folder_is_read(hostile):
    _assert_skipped(hostile, "caf\ufffd.txt", "not valid UTF-8")
    deep = "/".join(["deep"] * 40) + "/deep.txt"
    assert deep in hostile["ids"]


def test_a_blob_without_spaces_is_chunked_into_bounded_pieces(hostile):
    chunks = [c for c in hostile["chunks"] if c["article_id"] == "blob.txt"]
    limit = Config().chunk_tokens * MAX_CHARS_PER_TOKEN
    assert len(chunks) > 10 and max(len(c["text"]) for c in chunks) <= limit
    assert _top_ids(hostile, "Lambdaville blob ends", k=1) == ["blob.txt"]


# ---------------------------------------------------------------------------
# Hostile questions: a sensible result or a clear error, never a crash or a hang.
# ---------------------------------------------------------------------------

QUESTIONS = {
    "empty": "",
    "whitespace": " \t\n\u00a0\u3000 ",
    "100k characters": "Who is the spokesman " * 5000,
    "100k without spaces": "x" * 100_000,
    "100k newlines": "\n" * 100_000 + "spokesman",
    "control characters": "who\x00is\x07the\x1b[31m Taliban spokesman\x7f\x0b?",
    "only control characters": "\x00\x01\x02\x1f",
    "Arabic": "من هو المتحدث باسم طالبان؟",
    "Chinese": "塔利班的发言人是谁？",
    "mixed scripts": "Who is the 发言人 of the طالبان?",
    "HTML": "<script>alert('x')</script><b onmouseover=alert(1)>Taliban</b> spokesman",
    "emoji": "🤔🤔🤔",
    "lone surrogate": "who is \ud800 the spokesman",
    "bidi override": "\u202ewho is the spokesman",
    "zero-width only": "\u200b\u200b\ufeff",
    "punctuation only": "?!?!...;;;",
    "stop words only": "the and of to is",
    "combining marks": "e\u0301" * 50_000,
    "SQL": "'; DROP TABLE vectors; --",
    "format strings": "%s %d {0} {__class__} ${HOME}",
}
EMPTY = {"empty", "whitespace", "only control characters"}


def _bounded(fn, seconds: float = 120):
    """Run fn in a thread; fail (instead of hanging the suite) if it has not returned after `seconds`.

    A deadline against a hang, far above any normal answer time: not a speed check."""
    result: dict = {}

    def run():
        try:
            result["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            result["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"no answer within {seconds}s"
    if "error" in result:
        raise result["error"]
    return result["value"]


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_hostile_questions_with_the_real_model(shipped_index, real_embedder, name):
    retriever = Retriever.load(shipped_index, real_embedder)
    for mode in ("hybrid", "dense", "lexical"):
        if name in EMPTY:
            with pytest.raises(QuestionError, match="empty"):
                _bounded(lambda m=mode: retriever.ask(QUESTIONS[name], mode=m))
            continue
        answer = _bounded(lambda m=mode: retriever.ask(QUESTIONS[name], k=5, mode=m))
        assert len(answer.passages) <= 5
        json.dumps(answer.to_dict(), ensure_ascii=False).encode("utf-8")  # serialisable for the UI and CLI
        for p in answer.passages:
            assert p.start <= p.highlight[0] <= p.highlight[1] <= p.end
        if len(QUESTIONS[name].strip()) > 2000:
            assert any("cut" in w for w in answer.warnings)


def test_the_spokesman_is_still_found_through_noise(shipped_index, real_embedder):
    retriever = Retriever.load(shipped_index, real_embedder)
    for name in ("control characters", "HTML"):
        answer = retriever.ask(QUESTIONS[name], k=3)
        assert any("Zabihullah Mujahid" in p.text for p in answer.passages), name


@pytest.mark.parametrize(
    "name",
    ["empty", "whitespace", "100k characters", "control characters", "Arabic", "Chinese", "HTML", "lone surrogate"],
)
def test_hostile_questions_through_the_cli(hostile, name):
    # argv cannot hold NUL; a lone surrogate goes in as the raw bytes a terminal could send
    question = QUESTIONS[name].replace("\x00", " ").encode("utf-8", "surrogatepass")
    out = subprocess.run(
        [
            sys.executable.encode(),
            b"-m",
            b"qa",
            b"ask",
            question,
            b"--index",
            str(hostile["index"]).encode(),
            b"--json",
        ],
        env=_env(),
        capture_output=True,
        timeout=120,
    )
    stderr = out.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr
    if name in EMPTY:
        assert out.returncode == 1 and stderr.startswith("error:") and "empty" in stderr
    else:
        assert out.returncode == 0, stderr
        assert isinstance(json.loads(out.stdout)["passages"], list)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be"),
        ({"k": -3}, "k must be"),
        ({"k": 2.5}, "k must be"),
        ({"mode": "magic"}, "mode"),
        ({"sources": [1, 2]}, "sources"),
        ({"sources": 7}, "sources"),
        ({"diversity": 5.0}, "diversity"),
        ({"diversity": float("nan")}, "diversity"),
    ],
)
def test_bad_options_are_clear_errors(hostile, kwargs, message):
    with pytest.raises(QAError, match=message):
        hostile["retriever"].ask("Alphaville", **kwargs)


def test_a_single_source_name_is_not_split_into_letters(hostile):
    # (a bare string used to be iterated character by character, silently matching nothing)
    answer = hostile["retriever"].ask("Deltaport lighthouse", sources="Harbour Gazette", auto_refresh=False)
    assert [p.article_id for p in answer.passages] == ["j1"]


def test_a_huge_k_is_capped_by_the_index(hostile):
    answer = hostile["retriever"].ask("Alphaville ferry", k=10**9, auto_refresh=False)
    assert 0 < len(answer.passages) <= len(hostile["chunks"])


# ---------------------------------------------------------------------------
# Uploads: names the upload tests in tests/test_upload.py do not try.
# ---------------------------------------------------------------------------

UPLOAD = b"Upload\n\nThe Sigmaville pier was rebuilt in stone.\n"


@pytest.fixture
def upload_dir(tmp_path: Path) -> Path:
    (tmp_path / "corpus").mkdir()
    return tmp_path / "corpus"


def _everything_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize(
    "name",
    [
        "x.txt/",
        "./x.txt",
        "../x.txt",
        "sub/../x.txt",
        "x.txt\x00.exe",
        "\\\\server\\share\\x.txt",
        "x.txt\n",
        "x.txt:stream",
        "/",
        "~/x.txt",
        "..\u2215x.txt\u202e",
        "x\u0000.md",
        "\ud800.txt",
    ],
)
def test_more_hostile_upload_names_are_refused(upload_dir, name):
    before = _everything_under(upload_dir.parent)
    with pytest.raises(UploadError):
        save_upload(upload_dir, name, UPLOAD)
    assert _everything_under(upload_dir.parent) == before


@pytest.mark.parametrize(
    "name", ["x\u2215..\u2215y.txt", "x\uff0f..\uff0fy.txt", "%2e%2e%2fx.txt", "CON.txt", "x..txt"]
)
def test_lookalike_separators_stay_plain_names_inside_the_corpus(upload_dir, name):
    saved = save_upload(upload_dir, name, UPLOAD)
    assert saved.path.parent == upload_dir and saved.path.read_bytes() == UPLOAD
    assert {p.parent for p in _everything_under(upload_dir.parent) if p.is_file()} == {upload_dir}


def test_a_name_too_long_for_the_filesystem_is_a_clear_refusal(upload_dir):
    name = "新闻" * 90 + ".txt"  # under the character limit, over 255 bytes in UTF-8
    result = save_uploads(upload_dir, [(name, UPLOAD)])
    assert result.saved == [] and len(result.rejected) == 1
    assert list(upload_dir.iterdir()) == []


def test_unicode_normalisation_cannot_sneak_past_the_overwrite_check(upload_dir):
    save_upload(upload_dir, "caf\u00e9.txt", UPLOAD)
    with pytest.raises(UploadError, match="already in the corpus"):
        save_upload(upload_dir, "cafe\u0301.txt", b"Other text.")
    assert [p.read_bytes() for p in upload_dir.iterdir()] == [UPLOAD]


def test_uploads_through_a_symlinked_subfolder_are_refused(upload_dir, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (upload_dir / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UploadError):
        save_upload(upload_dir, "link/x.txt", UPLOAD)
    assert list(outside.iterdir()) == []


# ---------------------------------------------------------------------------
# The web server listens on loopback only, unless told otherwise.
# ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _non_loopback_addresses() -> list[str]:
    import psutil

    out = []
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family == socket.AF_INET and not a.address.startswith("127."):
                out.append(a.address)
    return out


NEEDS_UI = pytest.mark.skipif(not (ROOT / "ui.py").exists(), reason="ui.py (the web app) is not in the project yet")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python ui.py` with default host, on a free port, over a small index (fake embedder). Its rate limit is
    raised: these tests send about 30 questions from one address as fast as the server answers, and the
    default 10 a second (tested in test_ui.py and test_ui_browser.py) would refuse some of them."""
    import psutil

    root = tmp_path_factory.mktemp("server")
    corpus, index = root / "corpus", root / "index"
    write_synthetic_corpus(corpus, range(5))
    build(corpus, index, embedder=FakeEmbedder(), progress=False)
    port = _free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, str(ROOT / "ui.py"), "--corpus", str(corpus), "--index", str(index)),
            *("--port", str(port), "--rate-limit", "1000"),
        ],
        env=dict(_env(), GRADIO_ANALYTICS_ENABLED="False"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=root,
    )
    try:
        listening: list[tuple[str, int]] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            conns = []
            for p in [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]:
                try:
                    conns += p.net_connections(kind="inet")
                except psutil.Error:
                    pass
            listening = [(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN]
            if any(port == p for _, p in listening):
                break
            time.sleep(0.3)
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        import httpx

        while time.monotonic() < deadline:  # listening is not yet serving the API
            try:
                if httpx.get(f"http://127.0.0.1:{port}/gradio_api/info", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield {"port": port, "listening": listening, "url": f"http://127.0.0.1:{port}/"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@NEEDS_UI
@pytest.mark.slow
def test_the_web_server_binds_to_loopback_only(server):
    assert server["listening"], "the server never started listening"
    assert all(ip == "127.0.0.1" for ip, _ in server["listening"]), server["listening"]
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=5):
        pass
    for address in _non_loopback_addresses():
        with pytest.raises(OSError):
            socket.create_connection((address, server["port"]), timeout=2).close()


@NEEDS_UI
@pytest.mark.slow
def test_the_web_server_refuses_uploads_over_the_size_cap(server):
    """The 10 MB cap holds at the HTTP layer too: Gradio refuses the request body before any handler runs."""
    import httpx

    from qa.upload import MAX_UPLOAD_BYTES

    def post(size: int) -> httpx.Response:
        return httpx.post(
            f"{server['url']}gradio_api/upload", files={"files": ("big.txt", b"a" * size, "text/plain")}, timeout=60
        )

    assert post(1000).status_code == 200  # the route is there: a refusal below is the cap, not a 404
    refused = post(MAX_UPLOAD_BYTES + 1)
    assert refused.status_code == 413, refused.text
    assert _api_ask(server["url"], '{"data": ["ferry", 1, null, null, null]}')[0] == "complete"


def _api_ask(url: str, body: str) -> tuple[str, str]:
    """One call of the app's `ask` endpoint through Gradio's REST API: (event, data)."""
    import httpx

    with httpx.Client(base_url=url, timeout=60) as client:
        r = client.post(
            "gradio_api/call/ask", content=body.encode("utf-8"), headers={"content-type": "application/json"}
        )
        if r.status_code != 200:
            return "rejected", r.text
        text = client.get(f"gradio_api/call/ask/{r.json()['event_id']}").text
    event = next((line[7:] for line in text.splitlines() if line.startswith("event: ")), "")
    data = next((line[6:] for line in text.splitlines() if line.startswith("data: ")), "")
    return event, data


HOSTILE_API_CALLS = [
    ('["harbour council budget", 3, null, null, null]', "complete"),
    ('["", 3, null, null, null]', "empty"),
    ("[null, 3, null, null, null]", "empty"),
    ('["\\u0000\\u0007", 3, null, null, null]', "empty"),
    ('["who \\ud800 voted", 3, null, null, null]', "complete"),  # a lone surrogate, as JSON allows
    ('["' + "harbour " * 12_500 + '", 3, null, null, null]', "complete"),
    ('["<script>alert(1)</script> ferry", 3, null, null, null]', "complete"),
    ('["من هو المتحدث 发言人", 3, null, null, null]', "complete"),
    ('["ferry", "abc", null, null, null]', "error"),
    ('["ferry", 1e9, null, null, null]', "between 1 and"),
    ('["ferry", 3, [1, 2], null, null]', "sources"),
    ('["ferry", 3, null, "yesterday", null]', "complete"),  # a relative date
    ('["ferry", 3, null, "some day", null]', "YYYY-MM-DD"),
    ('"not a list"', "rejected"),
]


@NEEDS_UI
@pytest.mark.parametrize(("args", "outcome"), HOSTILE_API_CALLS, ids=[f"c{i}" for i in range(len(HOSTILE_API_CALLS))])
@pytest.mark.slow
def test_hostile_calls_to_the_web_api_get_an_answer_or_a_clear_error(server, args, outcome):
    event, data = _api_ask(server["url"], '{"data": ' + args + "}")
    if outcome == "complete":
        assert event == "complete", data
        assert isinstance(json.loads(data)[0]["passages"], list)
    elif outcome == "rejected":
        assert event == "rejected", (event, data)
    else:
        assert event == "error", data
        message = json.loads(data)["error"]
        assert "Traceback" not in message and "object has no attribute" not in message
        assert outcome == "error" or outcome in message, message
    # The server is still up and answering.
    assert _api_ask(server["url"], '{"data": ["ferry", 1, null, null, null]}')[0] == "complete"


@NEEDS_UI
def test_hostile_file_names_are_escaped_in_the_web_app(hostile):
    """tests/test_ui*.py put payloads in titles, sources and text; here they come from file names and skip reasons."""
    from qa.web.app import QAApp
    from qa.web.page import article_panel, status_panel
    from qa.web.render import render_answer

    app = QAApp(hostile["corpus"], hostile["index"], embedder=FakeEmbedder())
    payload = "<img src=x onerror=alert(1)>.txt"
    answer, hashes = app.ask("Muville14 ferry terminal", 3)
    assert answer.passages[0].article_id == payload
    p = answer.passages[0]
    pages = [
        render_answer(answer, hashes),
        article_panel(
            app,
            {
                "article_id": p.article_id,
                "start": p.start,
                "end": p.end,
                "hs": p.highlight[0],
                "he": p.highlight[1],
                "hash": hashes[p.article_id],
            },
        ),
        status_panel(app),
    ]
    for html_out in pages:
        assert "<img" not in html_out.lower() and "onerror=alert(1)>" not in html_out
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in pages[0]
    assert "caf\ufffd.txt" in pages[2] and "not valid UTF-8" in pages[2]  # skipped files are listed, escaped
