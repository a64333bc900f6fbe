"""Timing and memory helpers: fresh processes with their peak RSS, latency percentiles, sizes on disk."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import ROOT


@dataclass
class ProcResult:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        """The last line of stdout as JSON (the child's report)."""
        lines = [ln for ln in self.stdout.splitlines() if ln.strip()]
        if self.returncode != 0 or not lines:
            raise RuntimeError(f"benchmark child failed ({self.returncode}): {self.stderr[-2000:]}")
        return json.loads(lines[-1])


def run_process(cmd: list[str], env: dict | None = None, cwd: Path = ROOT, timeout: float = 7200) -> ProcResult:
    """Run cmd as a fresh process; its wall time and peak RSS.

    The peak is the kernel's high-water mark (VmHWM), polled every 10 ms: it
    starts afresh at exec, unlike wait4's ru_maxrss, which would report the
    size of this (large) benchmark process that the child was forked from.
    """
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"qa-bench-{os.getpid()}-{time.monotonic_ns()}"
    with open(f"{out_path}.out", "w+") as out, open(f"{out_path}.err", "w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env={**os.environ, **(env or {})}, cwd=cwd)
        deadline = started + timeout
        peak_kb = 0
        while True:
            peak_kb = max(peak_kb, _hwm_kb(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = ProcResult(seconds, peak_kb / 1024, proc.returncode, out.read(), err.read())
    for suffix in (".out", ".err"):
        Path(f"{out_path}{suffix}").unlink(missing_ok=True)
    return result


def _hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def python() -> str:
    return sys.executable


TXTAI_SIDE = Path(__file__).with_name("txtai_side.py")


def run_txtai(txtai_python: str, spec: dict, work: Path, name: str) -> tuple[dict, ProcResult | None]:
    """bench/txtai_side.py in txtai's own venv, as a fresh process: its report (the last stdout line), or
    {"error": ...} when the venv is missing or the child failed. The spec is written to work/<name>-input.json
    and txtai's index to work/<name>-index (emptied first)."""
    if not Path(txtai_python).exists():
        return {"error": f"{txtai_python} not found: create txtai's venv (see docs/BENCHMARKS.md)"}, None
    spec_path = work / f"{name}-input.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    out_dir = work / f"{name}-index"
    shutil.rmtree(out_dir, ignore_errors=True)
    run = run_process(
        [txtai_python, str(TXTAI_SIDE), str(spec_path), str(out_dir)], env={"TOKENIZERS_PARALLELISM": "false"}
    )
    try:
        return run.json(), run
    except RuntimeError as exc:
        return {"error": str(exc)[-500:]}, run


def percentiles(seconds: list[float]) -> dict:
    """p50/p95/p99/mean in milliseconds."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000
    if len(ms) == 0:
        return {"n": 0}
    return {
        "n": int(len(ms)),
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
        "mean": float(ms.mean()),
    }


def dir_bytes(path: Path, skip: tuple[str, ...] = ()) -> int:
    """Bytes of all files under path, except names starting with one of skip."""
    total = 0
    for p in Path(path).rglob("*"):
        if p.is_file() and not p.name.startswith(skip):
            total += p.stat().st_size
    return total


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def load_avg() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")
