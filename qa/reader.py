"""The sentence reader: a small cross-encoder that scores how well a sentence answers a question.

Why: the lexical and bi-encoder highlighters score a sentence by what it shares with
the question, so a sentence that restates the question beats the one that answers it.
A cross-encoder reads question and sentence together and was trained for exactly this
choice (bench/train_reader.py; figures in qa/models/reader/README.md). It ships as an
int8 ONNX graph with its tokenizer, so answering needs ONNX Runtime, not torch.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import QAError

log = logging.getLogger("qa.reader")

WEIGHTS = Path(__file__).resolve().parent / "models" / "reader"
_FILES = ("model.onnx", "tokenizer.json", "reader.json")


class ReaderError(QAError):
    """The reader's weights are present but unusable."""


class SentenceReader:
    """Scores (question, sentence) pairs with the shipped cross-encoder; one ONNX call per question."""

    def __init__(self, folder: Path = WEIGHTS, onnx_file: Path | None = None):
        missing = [name for name in _FILES if not (folder / name).is_file()]
        if missing:
            raise ReaderError(
                f"the reader in {folder} lacks {', '.join(missing)}: reinstall qa, or rebuild it with "
                "`python -m bench.train_reader`"
            )
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ReaderError(f"the reader needs {exc.name}: pip install onnxruntime tokenizers") from exc
        try:
            meta = json.loads((folder / "reader.json").read_text(encoding="utf-8"))
            self.model_id: str = meta["model_id"]
            self.max_length: int = int(meta["max_length"])
            self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
            options = ort.SessionOptions()
            # One core per question: on every core it was no faster (14.8 vs 12.5 ms a question,
            # bench.answer_cost), and the app answers several questions at once.
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            self._session = ort.InferenceSession(
                str(onnx_file or folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - json, tokenizers and ONNX Runtime raise their own types
            raise ReaderError(
                f"cannot load the reader from {folder} ({type(exc).__name__}: {exc}); reinstall qa"
            ) from exc
        # Long pairs lose words from the longer of the two first ([CLS] q [SEP] s [SEP] ≤ max_length).
        self._tok.enable_truncation(self.max_length, strategy="longest_first")
        self._tok.no_padding()

    def score(self, question: str, sentences: list[str]) -> np.ndarray:
        """One float32 score per sentence (a logit: higher = more likely to answer the question).

        The sentences are one padded batch. The int8 graph quantises activations per
        batch, so a score can move slightly with its batch-mates; rankings are what
        the reader was measured on.
        """
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        encodings = self._tok.encode_batch([(question, s) for s in sentences])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)  # [PAD] is 0
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for i, e in enumerate(encodings):
            n = len(e.ids)
            ids[i, :n] = e.ids
            mask[i, :n] = 1
            types[i, :n] = e.type_ids
        logits = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        return np.asarray(logits, dtype=np.float32).reshape(len(sentences))


@lru_cache(maxsize=1)
def load_reader() -> SentenceReader | None:
    """The shipped reader, loaded once per process; None (and why, in the log) when it is not installed."""
    if not WEIGHTS.is_dir():
        log.warning("no sentence reader: %s is absent (an install without the reader's weights)", WEIGHTS)
        return None
    return SentenceReader(WEIGHTS)


_warned: set[str] = set()
# The weights' files (size, mtime) when they last failed to load, and why: not retried until they change.
_failure: tuple[tuple, str] | None = None


def _weights_state() -> tuple:
    """What the weights' files look like now; a reinstall or a rebuild changes it (a few stat calls)."""
    state = []
    for name in _FILES:
        try:
            info = (WEIGHTS / name).stat()
            state.append((name, info.st_size, info.st_mtime_ns))
        except OSError:
            state.append((name, None, None))
    return (str(WEIGHTS), *state)


def reader_or_none(without: str) -> SentenceReader | None:
    """The shipped reader, or None when it is not installed or cannot load: the caller then does
    `without` it (logged once per process, not at every question), rather than failing every question.

    Why remember a failure: the web app answers each question through a fresh Retriever view, so broken
    weights would be re-read (17 MB) at every question. They are tried again once their files change,
    so a repaired install is picked up without a restart.
    """
    global _failure
    state = _weights_state()
    failure = _failure[1] if _failure is not None and _failure[0] == state else None
    if failure is None:
        try:
            reader = load_reader()
        except ReaderError as exc:
            failure = str(exc)
            _failure = (state, failure)
    if failure is not None:
        _warn_once(f"{failure}; {without} without the reader")
        return None
    if reader is None:
        _warn_once(f"no sentence reader installed: {without} without it")
    return reader


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning("%s", message)
