"""The CPU's features that decide how the bundled model embeds, read at run time.

Why: bf16 is the default for a new index only where it beats fp32 ONNX Runtime.
With OpenVINO (a core dependency) any bf16 units do: on an AMD EPYC with
avx512_bf16 and no AMX it embedded 1.9x fp32 ONNX's word pieces/s, and on an AMX
machine 3.0x (issue 14). torch bf16 (the fallback where OpenVINO cannot load)
is trusted only with matrix units (AMX): on AVX-512 BF16 alone it ran 0.51-0.66x
fp32 ONNX under load and 1.54x on an idle machine (`python -m bench.limit`,
docs/BENCHMARKS.md, 2026-12-03), so it is not a safe default there. Without
either, bf16 is emulated, far slower still. So `bf16_fast` is BF16_UNITS with OpenVINO and
BF16_FAST_UNITS (AMX) without it.
The flags come from /proc/cpuinfo (Linux); torch's own dispatch level is added
only when asked, because importing torch costs seconds and `import qa` stays light.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

# Flags that matter to embedding, in the order they are reported.
RELEVANT = ("amx_bf16", "amx_int8", "amx_tile", "avx512_bf16", "avx512_vnni", "avx512f", "avx_vnni", "avx2", "fma")
BF16_UNITS = ("amx_bf16", "avx512_bf16")  # either one runs bf16 natively (not emulated)
BF16_FAST_UNITS = ("amx_bf16",)  # only these make torch bf16 faster than fp32 ONNX Runtime (measured, see above)


@dataclass(frozen=True)
class CpuFeatures:
    """What this CPU offers the embedding model; `flags` holds only the RELEVANT ones."""

    flags: tuple[str, ...]
    known: bool  # False where /proc/cpuinfo could not be read: nothing is assumed then
    torch_capability: str | None = None  # torch.backends.cpu.get_cpu_capability(), e.g. "AVX2", "AVX512"

    @property
    def bf16_units(self) -> bool:
        """bf16 runs natively (AMX or AVX-512 BF16), not emulated."""
        return any(f in self.flags for f in BF16_UNITS)

    @property
    def bf16_faster(self) -> bool:
        """bf16 runs on matrix units (AMX), faster than fp32: the default for a new index."""
        return any(f in self.flags for f in BF16_FAST_UNITS)

    def summary(self) -> str:
        """A short label for logs and `qa status`, e.g. "avx2, fma; no bf16 units; torch AVX2"."""
        parts = [", ".join(self.flags) if self.flags else ("no relevant flags" if self.known else "flags unknown")]
        if self.bf16_faster:
            parts.append("bf16 matrix units")
        else:
            parts.append("bf16 units without AMX" if self.bf16_units else "no bf16 units")
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
    """True where bf16 embeds faster than fp32 here: the decision for a new index's model (see qa.embed)."""
    from .openvino_backend import available

    features = cpu_features()
    return features.bf16_units if available() else features.bf16_faster
