"""A tiny sentence-transformers model folder made on the spot: random weights, a small vocabulary.

It is a real model to qa (a BERT, mean pooling, normalisation, a fast tokenizer),
only small enough (hidden size 32, two layers, a window of 128 word pieces) that
building, exporting and embedding with it take seconds. Nothing is downloaded.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.support.corpus import _VERBS, _WORDS

HIDDEN = 32
WINDOW = 128
_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_EXTRA = "the a of in on near week report topic who what which when where was were is did".split()


def make_tiny_model(folder: Path, seed: int = 0, pooling: str = "mean") -> Path:
    """Save a tiny random sentence-transformers model in folder (the same files for the same arguments)."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = sorted(set(_WORDS) | set(_VERBS) | set(_EXTRA))
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,?!'\"-")
    vocab = _SPECIAL + words + chars + [f"##{c}" for c in chars]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp)
        (src / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
        tokenizer = BertTokenizerFast(vocab_file=str(src / "vocab.txt"), do_lower_case=True)
        torch.manual_seed(seed)
        config = BertConfig(
            vocab_size=len(vocab),
            hidden_size=HIDDEN,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=WINDOW,
        )
        BertModel(config).save_pretrained(src)
        tokenizer.save_pretrained(src)
        transformer = models.Transformer(str(src), max_seq_length=WINDOW)
        model = SentenceTransformer(
            modules=[transformer, models.Pooling(HIDDEN, pooling), models.Normalize()], device="cpu"
        )
        model.save(str(folder))
    return folder
