"""Regenerate docs/screenshots/: the web app at 1280x800 (laptop) and 390x844 (phone).

    python -m bench.screenshots [--out docs/screenshots]

It copies the shipped corpus into a temporary folder, adds two wire copies of one paragraph of
article 003 (dated, from two made-up papers) so that an answer shows a collapsed wire story and a
timeline, starts `python ui.py` on a free loopback port with a login (the real model), and takes:
an answer, an article open, a no-answer result and the login page. PNGs are palette-quantised
to keep them small. Needs Debian's chromium and playwright (the browser tests' setup).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
LOGIN = ("demo", "demo-password")
SIZES = {"laptop": (1280, 800), "phone": (390, 844)}
WIRE = (
    "The NATO official said the safety of coalition troops would be “a top priority at every step and we are "
    "taking all necessary steps to protect our personnel from harm”.\n\n"
    "“Any Taliban attack during the evacuation will be fully responded. We plan to complete our evacuation in a "
    "few months,” he said.\n"
)
WIRE_COPIES = {
    "wire/courier-nato-evacuation.md": ("NATO plans its Afghan evacuation", "Daily Courier", "2021-05-03"),
    "wire/post-nato-evacuation.md": ("Allies to leave Afghanistan within months", "Evening Post", "2021-05-05"),
}
ANSWER_Q = "How will NATO respond to a Taliban attack during the evacuation?"
ARTICLE_Q = "How many troops does Germany plan to withdraw by early July?"
NO_ANSWER_Q = "What is the capital of Australia?"
STARTUP_SECONDS = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _corpus(tmp: Path) -> Path:
    corpus = tmp / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    for rel, (title, source, date) in WIRE_COPIES.items():
        path = corpus / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\ntitle: {title}\nsource: {source}\ndate: {date}\n---\n{WIRE}", encoding="utf-8")
    return corpus


def _serve(tmp: Path, corpus: Path) -> tuple[subprocess.Popen, str, Path]:
    port, log = _free_port(), tmp / "server.log"
    argv = [sys.executable, str(ROOT / "ui.py"), "--corpus", str(corpus), "--index", str(tmp / "index")]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--auth", ":".join(LOGIN)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if proc.poll() is not None:
            raise SystemExit(f"ui.py exited:\n{text}")
        if "index: " in text and "documents" in text:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                return proc, url, log
            except OSError:
                pass
        time.sleep(0.5)
    _stop(proc)
    raise SystemExit(f"ui.py was not ready in {STARTUP_SECONDS}s:\n{log.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _save(page, path: Path) -> None:
    from PIL import Image

    page.wait_for_timeout(400)  # let transitions settle
    page.screenshot(path=str(path))
    Image.open(path).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"{path} ({path.stat().st_size // 1024} KB)")


def _ask(page, question: str) -> None:
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    page.locator("#qa-result .qa-result").wait_for()
    page.wait_for_function("() => !document.querySelector('#qa-result .pending, #qa-result .generating')")


def shoot(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qa-shots-") as tmp_name:
        tmp = Path(tmp_name)
        proc, url, _ = _serve(tmp, _corpus(tmp))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for name, (w, h) in SIZES.items():
                    ctx = browser.new_context(viewport={"width": w, "height": h}, device_scale_factor=1)
                    page = ctx.new_page()
                    page.set_default_timeout(120_000)
                    page.goto(url)
                    page.get_by_label("password").wait_for()
                    _save(page, out / f"{name}-login.png")
                    page.get_by_label("username").fill(LOGIN[0])
                    page.get_by_label("password").fill(LOGIN[1])
                    page.get_by_role("button", name="Login").click()
                    page.wait_for_selector("#qa-question textarea")
                    page.locator("#qa-ask-note .qa-build-note").wait_for(state="detached")
                    _ask(page, ANSWER_Q)
                    page.locator(".qa-also").first.wait_for()
                    page.evaluate("document.querySelector('.qa-answer').scrollIntoView({block: 'start'})")
                    _save(page, out / f"{name}-answer.png")
                    _ask(page, ARTICLE_Q)
                    page.locator(".qa-card button.qa-open").last.wait_for()
                    page.locator(".qa-card").first.locator(".qa-actions > button.qa-open").click()
                    page.locator("#qa-article-panel #qa-focus").wait_for()
                    _save(page, out / f"{name}-article.png")
                    if page.locator("button.qa-close").is_visible():
                        page.locator("button.qa-close").click()
                    _ask(page, NO_ANSWER_Q)
                    page.locator(".qa-noanswer").wait_for()
                    _save(page, out / f"{name}-noanswer.png")
                    ctx.close()
                browser.close()
        finally:
            _stop(proc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    shoot(Path(ap.parse_args(argv).out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
