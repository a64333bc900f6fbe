"""The CPU's features that decide how the bundled model embeds, read at run time.

Why: bf16 matrix units (Intel AMX, AVX-512 BF16) run the model's matmuls several
times faster than fp32 (docs/BENCHMARKS.md); without them bf16 is emulated and
far slower, so a new index gets bf16 vectors only where the units exist.
The flags come from /proc/cpuinfo (Linux); torch's own dispatch level is added
only when asked, because importing torch costs seconds and `import qa` stays light.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

# Flags that matter to embedding, in the order they are reported.
RELEVANT = ("amx_bf16", "amx_int8", "amx_tile", "avx512_bf16", "avx512_vnni", "avx512f", "avx_vnni", "avx2", "fma")
BF16_UNITS = ("amx_bf16", "avx512_bf16")  # either one makes the bf16 path fast


@dataclass(frozen=True)
class CpuFeatures:
    """What this CPU offers the embedding model; `flags` holds only the RELEVANT ones."""

    flags: tuple[str, ...]
    known: bool  # False where /proc/cpuinfo could not be read: nothing is assumed then
    torch_capability: str | None = None  # torch.backends.cpu.get_cpu_capability(), e.g. "AVX2", "AVX512"

    @property
    def bf16_units(self) -> bool:
        return any(f in self.flags for f in BF16_UNITS)

    def summary(self) -> str:
        """A short label for logs and `qa status`, e.g. "avx2, fma; no bf16 units; torch AVX2"."""
        parts = [", ".join(self.flags) if self.flags else ("no relevant flags" if self.known else "flags unknown")]
        parts.append("bf16 units" if self.bf16_units else "no bf16 units")
        if self.torch_capability:
            parts.append(f"torch {self.torch_capability}")
        return "; ".join(parts)


def parse_flags(cpuinfo: str) -> tuple[str, ...]:
    """The RELEVANT flags of the first "flags" line of a /proc/cpuinfo text (all cores are alike)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            present = set(value.split())
            return tuple(f for f in RELEVANT if f in present)
    return ()


@functools.lru_cache(maxsize=1)
def _proc_flags() -> tuple[tuple[str, ...], bool]:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return (), False
    return parse_flags(text), "flags" in text


def torch_capability() -> str | None:
    """torch's CPU dispatch level, or None if torch is not importable."""
    try:
        import torch
    except ImportError:
        return None
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except AttributeError:  # torch < 2.1
        return None


def cpu_features(with_torch: bool = False) -> CpuFeatures:
    """This machine's features; with_torch adds torch's dispatch level (imports torch)."""
    flags, known = _proc_flags()
    return CpuFeatures(flags, known, torch_capability() if with_torch else None)


def bf16_fast() -> bool:
    """True where the CPU has bf16 matrix units: the decision for a new index's model (see qa.embed)."""
    return cpu_features().bf16_units
