"""Bounded load test of the web app's question API, on loopback only.

Starts `ui.py` on 127.0.0.1 (or uses --url, which must be a loopback URL),
warms it up, then runs N concurrent clients that call the Gradio API
endpoint `/ask` (the same one `gradio_client` users call) for a fixed time
or number of requests, and prints requests/s, latency percentiles, the error
count and the server's memory growth (resident set of the server process and
its children, sampled every half second, after warm-up versus at the end).

    python bench/loadtest.py                                  # shipped corpus, 8 clients, 60 s
    python bench/loadtest.py --news 2000 --clients 8 --seconds 60
    python bench/loadtest.py --url http://127.0.0.1:7860 --seconds 30

Goals (docs/RELIABILITY.md): 0 errors, memory growth under 10 %, p99 under 1 s.
Exit code 1 if a goal is missed (so it can gate a release), 0 otherwise.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
NEWS = SHARED / "data" / "news" / "articles.jsonl.gz"
SEED = SHARED / "eval" / "seed_questions.jsonl"
FALLBACK_QUESTIONS = [
    "How many NATO troops are in Afghanistan?",
    "Who is the spokesman for the Taliban?",
    "What did the company report for the quarter?",
    "Which team won the match?",
    "What did the minister announce?",
    "When will the new rules take effect?",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="an already running app (loopback only); default: start ui.py")
    ap.add_argument("--corpus", default=str(ROOT / "corpus"), help="corpus folder for the started app")
    ap.add_argument(
        "--news",
        type=int,
        default=0,
        metavar="N",
        help="instead of --corpus, the first N articles of ../shared/data/news (built once, then reused)",
    )
    ap.add_argument(
        "--workdir",
        default=os.environ.get("QA_BENCH_CACHE", str(Path.home() / ".cache" / "qa" / "load")),
        help="where the load-test corpus and index are kept between runs",
    )
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--max-requests", type=int, default=50_000, help="stop after this many requests in total")
    ap.add_argument(
        "--warmup",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="load with the same clients before measuring: model load, thread pools and allocator "
        "arenas settle, so memory growth measures leaks, not warm-up (the server's memory "
        "levels off after about 100 s of load: docs/RELIABILITY.md)",
    )
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument(
        "--client",
        choices=("http", "gradio"),
        default="http",
        help="http: Gradio's REST API with httpx (light, measures the server); "
        "gradio: gradio_client (what Python users call; costs ~80 ms CPU a request client-side)",
    )
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args(argv)
    if args.url and urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        ap.error("--url must point at 127.0.0.1: load tests only hit this machine's loopback")
    if args.clients < 1 or args.seconds <= 0 or args.seconds > 3600:
        ap.error("--clients must be >= 1 and --seconds between 0 and 3600")
    return args


def questions(news_titles: list[str]) -> list[str]:
    qs = []
    if SEED.exists():
        qs += [json.loads(line)["question"] for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    qs += [f"What happened: {t.lower()}?" for t in news_titles]
    return qs or FALLBACK_QUESTIONS


def news_corpus(workdir: Path, n: int) -> tuple[Path, list[str]]:
    """The first n news articles as one JSON-lines file (rewritten only if n changed)."""
    if not NEWS.exists():
        sys.exit(f"error: {NEWS} is absent; run without --news (the shipped corpus) or provide ../shared")
    corpus = workdir / f"news-{n}"
    corpus.mkdir(parents=True, exist_ok=True)
    target = corpus / "news.jsonl"
    titles, lines = [], []
    with gzip.open(NEWS, "rt", encoding="utf-8") as f:
        for line in f:
            if len(lines) >= n:
                break
            row = json.loads(line)
            lines.append(json.dumps({k: row.get(k) for k in ("id", "title", "text", "source", "date")}))
            titles.append(row.get("title") or "")
    data = "\n".join(lines) + "\n"
    if not target.exists() or target.read_text(encoding="utf-8") != data:
        target.write_text(data, encoding="utf-8")
    return corpus, [t for t in titles[:60] if t]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_index(corpus: Path, index: Path) -> None:
    print(f"building {index} from {corpus} (reused if up to date) ...", file=sys.stderr, flush=True)
    out = subprocess.run(
        [sys.executable, "-m", "qa", "build", "--corpus", str(corpus), "--index", str(index), "--quiet"],
        cwd=ROOT,
        text=True,
        capture_output=True,
    )
    if out.returncode != 0:
        sys.exit(out.stderr.strip() or "error: the build failed")
    print(out.stdout.strip(), file=sys.stderr)


def start_server(corpus: Path, index: Path, port: int, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "ui.py"),
            "--corpus",
            str(corpus),
            "--index",
            str(index),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def connect(url: str, timeout: float = 180.0):
    from gradio_client import Client

    deadline = time.monotonic() + timeout
    while True:
        try:
            return Client(url, verbose=False)
        except Exception as exc:  # noqa: BLE001 - not up yet
            if time.monotonic() > deadline:
                sys.exit(f"error: no app answered at {url} within {timeout:.0f}s ({exc})")
            time.sleep(0.5)


class MemorySampler(threading.Thread):
    """Resident memory of a process and its children, every half second."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.samples: list[int] = []
        self.stop = threading.Event()

    def cpu_seconds(self) -> float:
        import psutil

        total = 0.0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def rss(self) -> int:
        import psutil

        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(self.rss())
            self.stop.wait(0.5)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    i = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[i]


def http_caller(url: str):
    """One question through Gradio's REST API: POST /gradio_api/call/ask, then read the event stream."""
    import httpx

    client = httpx.Client(base_url=url, timeout=60)

    def call(question: str, k: int):
        r = client.post("gradio_api/call/ask", json={"data": [question, k, None, None, None]})
        r.raise_for_status()
        body = client.get(f"gradio_api/call/ask/{r.json()['event_id']}").text
        event = next((line[7:] for line in body.splitlines() if line.startswith("event: ")), "")
        data = next((line[6:] for line in body.splitlines() if line.startswith("data: ")), "null")
        if event != "complete":
            raise RuntimeError(f"{event or 'no event'}: {data[:150]}")
        return json.loads(data)[0]

    return call


def gradio_caller(url: str):
    client = connect(url)
    return lambda question, k: client.predict(question, k, api_name="/ask")


def run_load(
    url: str, qs: list[str], clients: int, seconds: float, max_requests: int, k: int, kind: str = "http"
) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    count = [0]
    deadline = [0.0]
    start_gate = threading.Barrier(clients + 1)

    def worker(n: int) -> None:
        call = http_caller(url) if kind == "http" else gradio_caller(url)
        start_gate.wait()
        i = n
        while time.monotonic() < deadline[0]:
            with lock:
                if count[0] >= max_requests:
                    return
                count[0] += 1
            q = qs[i % len(qs)]
            i += clients
            t = time.perf_counter()
            try:
                result = call(q, k)
                if not isinstance(result, dict) or "passages" not in result:
                    raise ValueError(f"unexpected reply {str(result)[:80]}")
                ok = True
            except Exception as exc:  # noqa: BLE001 - every failure is counted, the run goes on
                ok = False
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
            dt = time.perf_counter() - t
            if ok:
                with lock:
                    latencies.append(dt)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    deadline[0] = time.monotonic() + 3600  # set for real once every client is connected
    start_gate.wait()
    deadline[0] = time.monotonic() + seconds
    began = time.perf_counter()
    for t in threads:
        t.join(seconds + 120)
    elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies) + len(errors),
        "ok": len(latencies),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "seconds": round(elapsed, 1),
        "requests_per_s": round(len(latencies) / elapsed, 2) if elapsed else 0.0,
        "p50_ms": round(1000 * percentile(latencies, 0.50), 1),
        "p90_ms": round(1000 * percentile(latencies, 0.90), 1),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
        "max_ms": round(1000 * max(latencies), 1) if latencies else None,
        "mean_ms": round(1000 * statistics.fmean(latencies), 1) if latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(args.workdir)
    titles: list[str] = []
    proc = None
    tmp = None
    if args.url:
        url = args.url
    else:
        workdir.mkdir(parents=True, exist_ok=True)
        if args.news:
            corpus, titles = news_corpus(workdir, args.news)
        else:
            corpus = Path(args.corpus)
        index = workdir / f"index-{corpus.name}"
        build_index(corpus, index)
        port = free_port()
        tmp = tempfile.mkdtemp(prefix="qa-load-")
        proc = start_server(corpus, index, port, Path(tmp) / "server.log")
        url = f"http://127.0.0.1:{port}/"
    try:
        qs = questions(titles)
        connect(url)  # waits for the app
        cold = MemorySampler(proc.pid).rss() if proc is not None else None
        if args.warmup > 0:
            warm = run_load(url, qs, args.clients, args.warmup, args.max_requests, args.k, args.client)
            print(f"warm-up: {warm['requests']} requests, {warm['errors']} errors", file=sys.stderr)
        sampler = None
        if proc is not None:
            sampler = MemorySampler(proc.pid)
            sampler.start()
            time.sleep(1.0)
            server_cpu = sampler.cpu_seconds()
        load_before, client_cpu = os.getloadavg()[0], time.process_time()
        result = run_load(url, qs, args.clients, args.seconds, args.max_requests, args.k, args.client)
        result.update(
            client=args.client,
            clients=args.clients,
            questions=len(qs),
            url=url,
            cpus=os.cpu_count(),
            load_average=[round(load_before, 2), round(os.getloadavg()[0], 2)],
            client_cpu_s=round(time.process_time() - client_cpu, 1),
        )
        if sampler is not None:
            result["server_cpu_s"] = round(sampler.cpu_seconds() - server_cpu, 1)
            result["server_cpu_ms_per_request"] = round(1000 * result["server_cpu_s"] / max(1, result["requests"]), 1)
            sampler.stop.set()
            sampler.join()
            samples = sampler.samples
            base, mid, end, peak = samples[0], samples[len(samples) // 2], samples[-1], max(samples)
            result.update(
                rss_cold_mb=round(cold / 2**20, 1),
                rss_start_mb=round(base / 2**20, 1),
                rss_end_mb=round(end / 2**20, 1),
                rss_peak_mb=round(peak / 2**20, 1),
                memory_growth_pct=round(100 * (end - base) / base, 2),
                second_half_growth_pct=round(100 * (end - mid) / mid, 2),
            )
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    goals = {
        "zero errors": result["errors"] == 0,
        "p99 under 1 s": result["p99_ms"] < 1000,
        "memory growth under 10%": result.get("memory_growth_pct", 0.0) < 10,
    }
    result["goals_met"] = all(goals.values())
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['clients']} {result['client']} clients, {result['seconds']} s, {result['requests']} requests "
            f"({result['questions']} distinct questions) against {url}"
        )
        print(f"  throughput      {result['requests_per_s']} requests/s")
        print(
            f"  latency         p50 {result['p50_ms']} ms, p90 {result['p90_ms']} ms, p99 {result['p99_ms']} ms, "
            f"max {result['max_ms']} ms"
        )
        examples = f"  e.g. {result['error_examples']}" if result["errors"] else ""
        print(f"  errors          {result['errors']}{examples}")
        print(
            f"  machine         {result['cpus']} CPUs, load average {result['load_average'][0]} -> "
            f"{result['load_average'][1]}; this client used {result['client_cpu_s']} CPU s"
        )
        if "server_cpu_s" in result:
            print(f"  server CPU      {result['server_cpu_s']} s, {result['server_cpu_ms_per_request']} ms per request")
        if "memory_growth_pct" in result:
            print(
                f"  server memory   {result['rss_cold_mb']} MB before warm-up; "
                f"{result['rss_start_mb']} MB -> {result['rss_end_mb']} MB measured "
                f"(peak {result['rss_peak_mb']} MB, growth {result['memory_growth_pct']}%, "
                f"of which {result['second_half_growth_pct']}% in the second half)"
            )
        for goal, met in goals.items():
            print(f"  goal: {goal:<24} {'met' if met else 'MISSED'}")
    return 0 if result["goals_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
