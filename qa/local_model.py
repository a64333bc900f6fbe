"""A local sentence-transformers folder as a model an index can be built with (`qa build --model PATH`).

Its id is the folder's name plus a hash of its files, so an edited folder is
another model: an index built with the old files refuses it, with the fix.
The manifest keeps the folder's path and hash, so opening the index later
registers the model again from there, without being told the path again.

The folder is read, not loaded, to register it (the JSON configs give its
dimension and window); the embedder checks the dimension once it has loaded.
A plain BERT-like model (Transformer, mean Pooling, Normalize) runs on ONNX
Runtime like the bundled one, its export cached under its own id; any other
runs on sentence-transformers. Both are fp32: no int8 or bf16 variant.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from . import settings
from .embed import Embedder, ModelSpec, register
from .errors import IndexFormatError, QAError
from .manifest import ModelInfo

log = logging.getLogger("qa.embed")

ID_PREFIX = "local:"
EXPORTABLE_TYPES = ("bert", "roberta", "xlm-roberta")  # model_type values the ONNX export handles
_NEVER_SEEN = 1 << 30  # a "model_max_length" this large means the tokenizer does not know the window


class ModelFolderError(QAError):
    """The folder given with --model is not a sentence-transformers model qa can use."""


@dataclass(frozen=True)
class LocalModel:
    """What qa knows of a local model folder without loading it."""

    path: Path  # resolved
    name: str  # the folder's name, safe in a file name
    files_hash: str  # sha256 of every file's relative path and bytes
    dim: int
    max_tokens: int
    heads: int
    exportable: bool  # Transformer + mean Pooling (+ Normalize) of a BERT-like model: the ONNX graph is exactly it

    @property
    def id(self) -> str:
        return f"{ID_PREFIX}{self.name}@{self.files_hash[:12]}"

    def spec(self) -> ModelSpec:
        return ModelSpec(self.id, self.dim, partial(load, self), self.max_tokens, self.path, self.files_hash)


def register_folder(path: str | Path) -> ModelSpec:
    """Inspect a model folder and make it loadable by its id; errors say what the folder lacks."""
    return register(inspect(path).spec())


def reopen(info: ModelInfo, where: Path | str) -> ModelSpec:
    """Register an index's local model from the folder its manifest names, if it is still the same."""
    fix = "put the folder back as it was, or rebuild the index with another model: qa build --full --model PATH"
    if not Path(info.path).is_dir():
        raise IndexFormatError(f"the index in {where} was built with the model folder {info.path}, now gone; {fix}")
    try:
        model = inspect(info.path)
    except ModelFolderError as exc:
        raise IndexFormatError(f"the model of the index in {where} cannot be used: {exc}; {fix}") from None
    if model.files_hash != info.hash:
        raise IndexFormatError(
            f"the files of the model folder {info.path} changed since the index in {where} was built with it "
            f"(it was {info.id!r}, now it is {model.id!r}), so its vectors would not match the index's; {fix}"
        )
    return register(model.spec())


def inspect(path: str | Path) -> LocalModel:
    """Read a sentence-transformers folder's configs: its dimension, window, and whether ONNX can run it."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ModelFolderError(f"model {path} is not a folder; pass a sentence-transformers model folder")
    folder = folder.resolve()
    modules = _json(folder / "modules.json", folder, shape=list)
    if not all(isinstance(m, dict) and isinstance(m.get("type"), str) for m in modules):
        raise ModelFolderError(f"{folder}/modules.json does not list sentence-transformers modules")
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if "Transformer" not in kinds:
        raise ModelFolderError(f"{folder} has no Transformer module (modules.json); qa needs a text transformer")
    base = folder / str(modules[kinds.index("Transformer")].get("path") or "")
    config = _json(base / "config.json", folder)
    if not (base / "tokenizer.json").is_file():
        raise ModelFolderError(
            f"{folder} has no tokenizer.json (qa counts word pieces with the fast tokenizer); write one with "
            "transformers: AutoTokenizer.from_pretrained(folder).save_pretrained(folder)"
        )
    dim = _first_size(config.get("hidden_size"), config.get("d_model"), config.get("dim"))
    mean_only = False
    for kind, module in zip(kinds, modules):
        where = folder / str(module.get("path") or "")
        if kind == "Pooling":  # its output: the token width times the number of pooling modes
            pooling = _json(where / "config.json", folder)
            width = _first_size(pooling.get("word_embedding_dimension"), pooling.get("embedding_dimension"), dim)
            modes = _pooling_modes(pooling)
            dim, mean_only = width and width * max(1, len(modes)), modes == ["mean"]
        elif kind == "Dense":
            dim = _first_size(_json(where / "config.json", folder).get("out_features"), dim)
    if dim is None:
        raise ModelFolderError(f"{folder}: neither its config.json nor its Pooling module says its width")
    st_config = _json(base / "sentence_bert_config.json", folder, required=False)
    exportable = (
        mean_only
        and set(kinds) <= {"Transformer", "Pooling", "Normalize"}
        and config.get("model_type") in EXPORTABLE_TYPES
        and not st_config.get("do_lower_case")
    )
    return LocalModel(
        path=folder,
        name=re.sub(r"[^\w.-]+", "_", folder.name) or "model",
        files_hash=folder_hash(folder),
        dim=dim,
        max_tokens=_window(st_config, _json(base / "tokenizer_config.json", folder, required=False), config),
        heads=int(config.get("num_attention_heads") or 1),
        exportable=exportable,
    )


def load(model: LocalModel) -> Embedder:
    """ONNX Runtime for an exportable model (not with QA_EMBED_BACKEND=sentence-transformers), else torch."""
    from .onnx_backend import EmbedBackendError, OnnxEmbedder, OnnxModel

    backend = settings.embed_backend()
    if model.exportable and backend != "sentence-transformers":
        graph = OnnxModel(model.path, model.id, model.name, model.dim, model.heads, model.max_tokens, model.files_hash)
        try:
            return OnnxEmbedder(model=graph)
        except EmbedBackendError as exc:
            log.info("ONNX backend unavailable for %s (%s); using sentence-transformers", model.id, exc)
    return _sentence_transformers(model)


def _sentence_transformers(model: LocalModel) -> Embedder:
    from .embed import SentenceTransformerEmbedder

    try:
        embedder = SentenceTransformerEmbedder(model.path, model.id)
    except Exception as exc:  # noqa: BLE001 - torch and transformers raise many kinds on a bad folder
        raise ModelFolderError(
            f"sentence-transformers cannot load the model in {model.path} ({type(exc).__name__}: {exc})"
        ) from exc
    if embedder.dim != model.dim:
        raise ModelFolderError(
            f"the model in {model.path} gives vectors of dim {embedder.dim}, its configs say {model.dim}"
        )
    return embedder


_HASHES: dict[tuple, str] = {}


def folder_hash(folder: Path) -> str:
    """sha256 of every file's relative path and bytes (hidden files aside); remembered while the files' stats hold."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not _hidden(p.relative_to(folder)))
    stamp = tuple((str(p.relative_to(folder)), *_stat(p)) for p in files)
    known = _HASHES.get((folder, stamp))
    if known is not None:
        return known
    h = hashlib.sha256()
    for p in files:
        h.update(p.relative_to(folder).as_posix().encode() + b"\0")
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    _HASHES[(folder, stamp)] = digest = h.hexdigest()
    return digest


def _stat(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ino


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _json(path: Path, folder: Path, required: bool = True, shape: type = dict):
    """A config file of the folder, as a dict (or list); a missing optional one is empty."""
    if not path.is_file():
        if not required:
            return shape()
        raise ModelFolderError(
            f"{folder} is not a sentence-transformers model folder ({path.relative_to(folder)} is missing); "
            "save one with SentenceTransformer.save(folder)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelFolderError(f"{path} is unreadable ({exc})") from None
    if not isinstance(data, shape):
        raise ModelFolderError(f"{path} is not a JSON {'object' if shape is dict else 'list'}")
    return data


def _first_size(*values) -> int | None:
    return next((v for v in values if isinstance(v, int) and not isinstance(v, bool) and v > 0), None)


def _pooling_modes(config: dict) -> list[str]:
    """The pooling modes, from either format ("pooling_mode": "mean", or "pooling_mode_mean_tokens": true)."""
    mode = config.get("pooling_mode")
    if isinstance(mode, str):
        return [mode]
    if isinstance(mode, list):
        return [str(m) for m in mode]
    flags = (k for k, on in config.items() if k.startswith("pooling_mode_") and on is True)
    return [k.removeprefix("pooling_mode_").removesuffix("_tokens") for k in flags]


def _window(st_config: dict, tokenizer_config: dict, config: dict) -> int:
    """The model's window in word pieces: max_seq_length, else the tokenizer's model_max_length, else the config's."""
    for value in (
        st_config.get("max_seq_length"),
        tokenizer_config.get("model_max_length"),
        config.get("max_position_embeddings"),
    ):
        if isinstance(value, int) and 0 < value < _NEVER_SEEN:
            return value
    raise ModelFolderError("the model's configs do not say how many word pieces it reads (max_seq_length)")
