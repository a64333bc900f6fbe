"""Turn results.json into the printed table, docs/BENCHMARKS.md's figures and the cost plot."""

from __future__ import annotations

from pathlib import Path


def _f(x, digits: int = 1) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def goals(r: dict) -> list[tuple[str, str, str, bool | None]]:
    """(goal, target, measured, met) for each goal of the issue."""
    rows: list[tuple[str, str, str, bool | None]] = []
    b = r.get("build", {})
    ratio = b.get("ratio_chunks_per_s_process")
    rows.append(
        (
            "full build vs txtai (chunks/s, whole process)",
            "≥ 2.5×",
            _f(ratio, 2) + "×" if ratio else "n/a",
            None if ratio is None else ratio >= 2.5,
        )
    )
    ratio_8 = (b.get("int8") or {}).get("ratio_chunks_per_s_process")
    if ratio_8:
        rows.append(
            ("full build vs txtai, qa with the int8 model (opt-in)", "≥ 2.5×", _f(ratio_8, 2) + "×", ratio_8 >= 2.5)
        )
    ratio_i = b.get("ratio_chunks_per_s_index")
    rows.append(
        (
            "full build vs txtai (chunks/s, indexing call only)",
            "≥ 2.5×",
            _f(ratio_i, 2) + "×" if ratio_i else "n/a",
            None if ratio_i is None else ratio_i >= 2.5,
        )
    )
    natural = b.get("ratio_articles_per_s_natural")
    if natural is not None:
        label = "full build vs txtai in its natural use (articles/s, whole process)"
        rows.append((label, "≥ 5×", _f(natural, 2) + "×", natural >= 5))
    lean = b.get("ratio_bytes_per_article_natural")
    if lean is not None:
        rows.append(("index bytes per article vs txtai in its natural use", "≤ 0.7×", _f(lean, 2) + "×", lean <= 0.7))
    inc = r.get("incremental", {}).get("change_1pct", {})
    share = inc.get("share_of_full_process")
    rows.append(
        (
            "rebuild after changing 1% (whole process)",
            "≤ 3% of a full build (issue 14; ≤ 5% before)",
            f"{share:.1%}" if share is not None else "n/a",
            None if share is None else share <= 0.03,
        )
    )
    q = r.get("query", {}).get("sizes", {})
    big = q.get("100000")
    if big:
        e = big["end_to_end"]
        for pct, goal, before in (("p50", 5, 15), ("p99", 12, 40)):
            target = f"≤ {goal} ms (issue 14; ≤ {before} ms before)"
            rows.append((f"query {pct} at 100k chunks", target, f"{e[pct]:.1f} ms", e[pct] <= goal))
    m = r.get("million", {})
    if m.get("k100"):
        rows.append(
            (
                f"search p99 at {m['n']:,} vectors (k=100)",
                "≤ 20 ms",
                f"{m['k100']['p99']:.1f} ms",
                m["k100"]["p99"] <= 20,
            )
        )
        rows.append(
            (f"recall@10 at {m['n']:,} vectors", "≥ 0.97", f"{m['recall_at_10']:.3f}", m["recall_at_10"] >= 0.97)
        )
    real = r.get("realrecall", {})
    ef = str(r.get("million", {}).get("spec", {}).get("efSearch", ""))
    point = real.get("ef_curve", {}).get(ef)
    if point:
        rows.append(
            (
                f"recall@10 on {real['n']:,} real embeddings (efSearch={ef})",
                "≥ 0.97",
                f"{point['recall_at_10']:.3f}",
                point["recall_at_10"] >= 0.97,
            )
        )
    return rows


def table(r: dict) -> str:
    """The short summary printed at the end of a run."""
    lines = ["", "goal | target | measured | met", "--- | --- | --- | ---"]
    for g, target, got, met in goals(r):
        lines.append(f"{g} | {target} | {got} | {'yes' if met else 'NO' if met is not None else '?'}")
    q = r.get("query", {}).get("sizes", {})
    if q:
        lines += ["", "index | chunks | dense | p50 ms | p95 ms | p99 ms | embed p50 | dense p50 | bm25 p50"]
        for label, e in q.items():
            s = e["stages"]
            lines.append(
                f"{label} | {e['chunks']:,} | {e['dense']['type']} | {e['end_to_end']['p50']:.1f} | "
                f"{e['end_to_end']['p95']:.1f} | {e['end_to_end']['p99']:.1f} | {s['embed']['p50']:.1f} | "
                f"{s['dense']['p50']:.2f} | {s['lexical']['p50']:.1f}"
            )
    return "\n".join(lines)


def markdown(r: dict, plot_name: str) -> str:
    """The measured part of docs/BENCHMARKS.md (the prose around it is written by hand below the marker)."""
    m = r.get("machine", {})
    commands: dict[str, list[str]] = {}
    for name, section in r.items():
        if isinstance(section, dict) and section.get("command"):
            load = section.get("load_avg")
            commands.setdefault(section["command"], []).append(
                f"{name}, load {load:.1f}" if isinstance(load, (int, float)) and load == load else name
            )
    made_by = "; ".join(f"`{c}` ({', '.join(names)})" for c, names in commands.items()) or "`python -m bench.run`"
    out = [
        "# Benchmarks",
        "",
        f"Produced by {made_by} (load average at the end of each section), first run started "
        f"{m.get('date', '?')}: "
        f"{m.get('cpus')} cores, Python {m.get('python')}, faiss {m.get('faiss')}, onnxruntime "
        f"{m.get('onnxruntime')}. The machine is shared with other jobs: absolute times are noisy (compare the "
        "load averages), the ratios measured in the same section are the figures to trust.",
        "",
        "## Goals",
        "",
        "| goal | target | measured | met |",
        "| --- | --- | --- | --- |",
    ]
    for g, target, got, met in goals(r):
        out.append(f"| {g} | {target} | {got} | {'yes' if met else '**no**' if met is not None else '?'} |")
    out += _embed_md(r.get("embed")) + _build_md(r.get("build"), r.get("incremental"))
    out += _query_md(r.get("query")) + _million_md(r.get("million")) + _realrecall_md(r.get("realrecall"))
    out += _cold_md(r.get("coldstart"))
    out += _int8_md(r.get("int8"), r.get("embed"))
    out += ["", f"![cost against corpus size]({plot_name})", ""]
    from .notes import NOTES

    out += ["", NOTES.strip(), ""]
    return "\n".join(out)


def _int8_md(i: dict | None, e: dict | None) -> list[str]:
    if not i:
        return []
    sub = i["subsample"]
    out = [
        "",
        "## int8 quantization",
        "",
        f"SciFact subsample: {sub['documents']:,} documents (all {sub['judged']} judged for the "
        f"{sub['queries']} test claims, plus seeded random distractors), indexed with each model.",
        "",
        "| model | mode | nDCG@10 | Recall@10 | Recall@100 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label in ("fp32", "int8"):
        for mode, m in i[label]["metrics"].items():
            out.append(f"| {label} | {mode} | {m['nDCG@10']:.4f} | {m['Recall@10']:.4f} | {m['Recall@100']:.4f} |")
    loss = i["ndcg10_loss"]
    out.append("")
    out.append(
        f"nDCG@10 lost by int8: hybrid {loss['hybrid']:+.4f}, dense {loss['dense']:+.4f}: the quality rule "
        f"(< 0.005) is **{'passed' if i['adopt_int8'] else 'failed'}** on this subsample "
        "(see Decisions below for what adoption still needs)."
    )
    if e and "onnx-int8" in e:
        out.append(
            f"Throughput (embedding section): int8 {e['onnx-int8']['texts_per_s']:.1f} texts/s against fp32 "
            f"{e['onnx']['texts_per_s']:.1f}."
        )
    return out


def _embed_md(e: dict | None) -> list[str]:
    if not e:
        return []
    out = [
        "",
        "## Embedding backends",
        "",
        f"{e['texts']} real chunk texts of the news slice ({e['tokens']:,} word pieces), best of 2 "
        "interleaved rounds. ONNX Runtime runs each text alone on one worker thread per core; "
        "sentence-transformers encodes batches of 32 with torch on every core; OpenVINO bf16 (where the CPU has "
        "bf16 units) runs length-bucketed batches of 8 on every core; builds run them on OpenVINO's parallel "
        "streams (openvino-bf16-streams: one batch per stream at a time).",
        "",
        "| backend | texts/s | tokens/s | one question p50 ms | cosine vs sentence-transformers (min / mean) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in ("onnx", "sentence-transformers", "onnx-int8", "openvino-bf16", "openvino-bf16-streams"):
        if name in e:
            x = e[name]
            one = e.get("one_question_ms", {}).get(name, {})
            out.append(
                f"| {name} | {x['texts_per_s']:.1f} | {x['tokens_per_s']:,.0f} | {_f(one.get('p50'))} | "
                f"{x['cos_vs_st_min']:.6f} / {x['cos_vs_st_mean']:.6f} |"
            )
    if "onnx" in e and "sentence-transformers" in e:
        out.append("")
        out.append(
            f"ONNX / sentence-transformers throughput: "
            f"{e['onnx']['texts_per_s'] / e['sentence-transformers']['texts_per_s']:.2f}×."
        )
    if "onnx" in e and "openvino-bf16" in e:
        ratio = e["openvino-bf16"]["texts_per_s"] / e["onnx"]["texts_per_s"]
        out += ["", f"OpenVINO bf16 / ONNX fp32 throughput: {ratio:.2f}×."]
    if "openvino-bf16" in e and "openvino-bf16-streams" in e:
        ratio = e["openvino-bf16-streams"]["texts_per_s"] / e["openvino-bf16"]["texts_per_s"]
        out += ["", f"OpenVINO bf16 on parallel streams (builds) / one stream (questions) throughput: {ratio:.2f}×."]
    if "int8_vs_fp32" in e:
        i = e["int8_vs_fp32"]
        out.append(
            f"int8 vs fp32 ONNX: cosine min {i['cos_min']:.4f}, mean {i['cos_mean']:.4f}; "
            f"agreement of each text's 10 nearest neighbours {i['top10_overlap']:.3f}."
        )
    return out


def _build_md(b: dict | None, inc: dict | None) -> list[str]:
    if not b:
        return []
    out = [
        "",
        "## Full build: qa vs txtai (same chunks, same model)",
        "",
        f"qa builds with its default model, `{b.get('model', '?')}` on {b.get('runtime', 'ONNX Runtime')}, "
        "txtai with the same "
        "model on sentence-transformers. The last rows are qa's build with the int8 weights of the model "
        "(`QA_EMBED_BACKEND=onnx-int8`, not the default), in the same run.",
        "",
        "| | qa | txtai | qa / txtai |",
        "| --- | --- | --- | --- |",
    ]
    tx = b.get("txtai") or {}
    ok = "error" not in tx and tx

    def row(name, ours, theirs, fmt=1, higher_better=True):
        ratio = ours / theirs if ok and theirs else None
        out.append(
            f"| {name} | {_f(ours, fmt)} | {_f(theirs, fmt) if ok else 'n/a'} | "
            f"{_f(ratio, 2) + '×' if ratio else 'n/a'} |"
        )

    row("articles", b["articles"], None)
    row("chunks", b["chunks"], tx.get("chunks"), 0)
    row("wall time of the build, whole process (s)", b["process_s"], tx.get("build_wall_s"))
    row("time in the build / index call (s)", b["build_s"], tx.get("index_s"))
    row("articles/s (whole process)", b["articles_per_s"], None, 2)
    row("chunks/s (whole process)", b["chunks_per_s"], tx.get("chunks_per_s_process"), 2)
    row("chunks/s (build / index call)", b["chunks"] / b["build_s"], tx.get("chunks_per_s_index"), 2)
    row("peak RSS (MB)", b["peak_rss_mb"], tx.get("peak_rss_mb"), 0)
    row("index on disk per chunk (bytes)", b["index_bytes_per_chunk"], tx.get("index_bytes_per_chunk"), 0)
    int8 = b.get("int8")
    if int8:
        row("qa with the int8 model: chunks/s (whole process)", int8["chunks_per_s"], tx.get("chunks_per_s_process"), 2)
        row("qa with the int8 model: peak RSS (MB)", int8["peak_rss_mb"], tx.get("peak_rss_mb"), 0)
        out.append(f"\nint8 / fp32 build throughput in this run: {b['ratio_int8_vs_fp32']:.2f}×.")
    if tx.get("error"):
        out.append(f"\ntxtai did not run: {tx['error']}")
    nat = b.get("txtai_natural") or {}
    if nat and "error" not in nat:
        qa_bytes = b["index_bytes"] / b["articles"]
        out += [
            "",
            "The same articles as each tool's user indexes them: qa's `qa build`, txtai one row per paragraph with "
            "`Embeddings(content=True, hybrid=True)`, each in a fresh process (bench/txtai_side.py).",
            "",
            "| natural use | qa | txtai | qa / txtai |",
            "| --- | --- | --- | --- |",
            f"| rows embedded | {b['chunks']:,} chunks | {nat['chunks']:,} paragraphs | |",
            f"| articles/s (whole process) | {_f(b['articles_per_s'], 2)} | {_f(nat['articles_per_s_process'], 2)} | "
            f"{_f(b['ratio_articles_per_s_natural'], 2)}× |",
            f"| index on disk per article (bytes) | {_f(qa_bytes, 0)} | {_f(nat['index_bytes_per_article'], 0)} | "
            f"{_f(b['ratio_bytes_per_article_natural'], 2)}× |",
            f"| peak RSS (MB) | {_f(b['peak_rss_mb'], 0)} | {_f(nat['peak_rss_mb'], 0)} | |",
        ]
    elif nat.get("error"):
        out.append(f"\ntxtai (natural use) did not run: {nat['error']}")
    files = b.get("files", {})
    if files:
        out.append("")
        out.append(
            "qa index on disk by file kind (bytes per chunk): "
            + ", ".join(f"{k} {v / max(1, b['chunks']):,.0f}" for k, v in sorted(files.items(), key=lambda kv: -kv[1]))
        )
    if inc:
        out += [
            "",
            "## Incremental rebuilds",
            "",
            f"Slice of {inc['articles']} articles; the full build above took {b['process_s']:.1f} s (whole process).",
            "The 1% change is the median of "
            + ", ".join(f"{x:.2f}" for x in inc.get("change_1pct", {}).get("process_s_samples", []))
            + " s (whole process; each a new edit of the same articles).",
            "",
            "| change | articles | chunks embedded | wall time (s) | share of the full build | time in the build "
            "(s), share of the full build's |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for label, what in (("change_1pct", "changed"), ("add_1pct", "added")):
            x = inc.get(label)
            if x:
                share = x.get("share_of_full_process")
                inner = x.get("share_of_full_build")
                in_build = f"{x['build_s']:.2f}, {inner:.1%}" if inner is not None and "build_s" in x else "n/a"
                out.append(
                    f"| {label.replace('_', ' ').replace('pct', '%')} | {x[what]} {what} | {x['embedded']} "
                    f"| {x['process_s']:.2f} | {share:.1%} | {in_build} |"
                    if share is not None
                    else "| n/a |"
                )
    return out


def _query_md(q: dict | None) -> list[str]:
    if not q:
        return []
    out = [
        "",
        "## Query latency, end to end",
        "",
        f"`Retriever.ask(question, k=5)` (hybrid: embedding, dense + BM25 search, fusion, passages, highlighting) "
        f"over {q['questions']} questions, one by one, in a fresh process after 5 warm-up questions. "
        "Stages are timed alone on the same questions.",
        "",
        "| index | chunks | vectors real / synthetic (rest: repeated texts) | dense | p50 ms | p95 ms | p99 ms "
        "| embed p50 | dense p50 / p99 | BM25 p50 / p99 | recall@10 | RSS per chunk | index on disk per chunk |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, e in q["sizes"].items():
        s, end = e["stages"], e["end_to_end"]
        vec = e.get("build") or {}
        vecs = f"≤ {vec.get('slice_vectors', 0):,} / {vec['synthetic_vectors']:,}" if vec else "all real"
        rec = e.get("recall_at_10")
        out.append(
            f"| {label} | {e['chunks']:,} | {vecs} | {e['dense']['type']} | {end['p50']:.1f} | {end['p95']:.1f} | "
            f"{end['p99']:.1f} | {s['embed']['p50']:.1f} | {s['dense']['p50']:.2f} / {s['dense']['p99']:.2f} | "
            f"{s['lexical']['p50']:.1f} / {s['lexical']['p99']:.1f} | {_f(rec, 3)} | "
            f"{e['rss_bytes_per_chunk']:,.0f} B | {e['index_bytes_per_chunk']:,.0f} B |"
        )
    sized = sorted((e["chunks"], e) for e in q["sizes"].values())
    if len(sized) >= 2 and sized[-1][0] > sized[-2][0]:
        (n1, a), (n2, b) = sized[-2], sized[-1]
        grow = (b["rss"]["after_queries"]["rss_mb"] - a["rss"]["after_queries"]["rss_mb"]) * 2**20 / (n2 - n1)
        out.append("")
        out.append(
            f"Resident memory grows by {grow:,.0f} bytes per chunk between {n1:,} and {n2:,} chunks "
            f"(RSS after the questions; the model and libraries are the fixed part). manifest.json is "
            f"{b['manifest_bytes'] / max(1, b['articles']):,.0f} bytes per article on disk"
            + (
                f" and {b['manifest_python_mb'] * 2**20 / max(1, b['articles']):,.0f} bytes per article as "
                "Python objects once parsed"
                if b.get("manifest_python_mb")
                else ""
            )
            + "."
        )
    if "txtai_slice" in q:
        t = q["txtai_slice"]
        same = q.get("qa_slice_p50_same_conditions", q["sizes"]["slice"]["end_to_end"]["p50"])
        out.append("")
        out.append(
            f"txtai on the slice (its `search`, dense only, no highlighting; timed in the build section): p50 "
            f"{t['p50']:.1f} ms, p95 {t['p95']:.1f} ms, p99 {t['p99']:.1f} ms; qa end to end in the same "
            f"conditions: p50 {same:.1f} ms, so qa / txtai p50 = {same / t['p50']:.2f}× (txtai embeds "
            "the question with sentence-transformers on torch)."
        )
    builds = [(label, e["build"]) for label, e in q["sizes"].items() if e.get("build")]
    if builds:
        out.append("")
        out.append(
            "Scaled indexes were built in-process from the news corpus and paragraph-rotated variants of it; "
            "time without the model (reading, chunking, BM25, FAISS, writing): "
            + "; ".join(
                f"{label}: {b['seconds_without_model']:.0f} s for {b['chunks']:,} chunks" for label, b in builds
            )
            + "."
        )
    return out


def _million_md(m: dict | None) -> list[str]:
    if not m:
        return []
    out = [
        "",
        f"## Dense search alone at {m['n']:,} vectors",
        "",
        "Exact (flat) search latency by size, one query, k=100, one thread:",
        "",
        "| vectors | p50 ms | p95 ms | p99 ms |",
        "| --- | --- | --- | --- |",
    ]
    for size, x in m["flat_by_size"].items():
        out.append(f"| {int(size):,} | {x['p50']:.2f} | {x['p95']:.2f} | {x['p99']:.2f} |")
    s = m["spec"]
    out += [
        "",
        f"HNSW (M={s.get('M')}, efConstruction={s.get('efConstruction')}, efSearch={s.get('efSearch')}) "
        f"built in {m['build_s']:.0f} s; {m['index_bytes_per_vector']:,.0f} bytes per vector in memory.",
        "",
        "| search | p50 ms | p95 ms | p99 ms | recall@10 vs exact |",
        "| --- | --- | --- | --- | --- |",
        f"| k=100 (as the retriever asks) | {m['k100']['p50']:.2f} | {m['k100']['p95']:.2f} | "
        f"{m['k100']['p99']:.2f} | |",
        f"| k=10 | {m['k10']['p50']:.2f} | {m['k10']['p95']:.2f} | {m['k10']['p99']:.2f} | {m['recall_at_10']:.3f} |",
    ]
    for ef, x in m.get("ef_curve", {}).items():
        out.append(
            f"| k=10, efSearch={ef} | {x['p50']:.2f} | {x['p95']:.2f} | {x['p99']:.2f} | {x['recall_at_10']:.3f} |"
        )
    return out


def _realrecall_md(x: dict | None) -> list[str]:
    if not x:
        return []
    s = x["spec"]
    out = [
        "",
        f"## HNSW recall on real embeddings ({x['n']:,} vectors)",
        "",
        f"Real vectors of the model ({', '.join(Path(p).parent.name if '/' in p else p for p in x['sources'])}), "
        f"{x['queries']} real questions; HNSW M={s.get('M')}, efConstruction={s.get('efConstruction')}, "
        f"built in {x['build_s']:.0f} s.",
        "",
        "| efSearch | p50 ms | p99 ms | recall@10 vs exact |",
        "| --- | --- | --- | --- |",
    ]
    for ef, v in x["ef_curve"].items():
        out.append(f"| {ef} | {v['p50']:.2f} | {v['p99']:.2f} | {v['recall_at_10']:.3f} |")
    return out


def _cold_md(c: dict | None) -> list[str]:
    if not c:
        return []
    out = [
        "",
        "## Cold start",
        "",
        "| what | seconds |",
        "| --- | --- |",
        f"| `python -c 'import qa'` | {c['import_qa_s']:.2f} |",
    ]
    for label in ("onnx", "sentence-transformers"):
        x = c.get(f"qa_ask_{label}_s")
        if x:
            out.append(f"| `qa ask` as a fresh process, {label} backend (median of 3) | {x['median']:.2f} |")
    ui = c.get("ui_first_answer_s")
    out.append(f"| `python ui.py` start until its first answer (/ask API) | {_f(ui, 2)} |")
    return out


def plot(r: dict, path: Path) -> None:
    """Latency and on-disk size against corpus size (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    sizes = r.get("query", {}).get("sizes", {})
    pts = sorted((e["chunks"], e) for e in sizes.values())
    if pts:
        xs = [p[0] for p in pts]
        ax1.plot(xs, [p[1]["end_to_end"]["p50"] for p in pts], "o-", label="ask() end to end p50")
        ax1.plot(xs, [p[1]["end_to_end"]["p99"] for p in pts], "o--", label="ask() end to end p99")
        ax1.plot(xs, [p[1]["stages"]["embed"]["p50"] for p in pts], "s:", label="question embedding p50")
        ax1.plot(xs, [p[1]["stages"]["lexical"]["p50"] for p in pts], "^:", label="BM25 p50")
    m = r.get("million", {})
    flat = m.get("flat_by_size", {})
    dense_pts = sorted((e["chunks"], e["stages"]["dense"]["p50"]) for e in sizes.values())
    if flat:
        ax1.plot(
            [int(k) for k in flat],
            [v["p50"] for v in flat.values()],
            "x-",
            color="grey",
            label="exact search p50 (k=100)",
        )
    if m.get("k100"):
        dense_pts.append((m["n"], m["k100"]["p50"]))
        dense_pts.sort()
    if dense_pts:
        ax1.plot([p[0] for p in dense_pts], [p[1] for p in dense_pts], "d-", label="dense search as built, p50")
    ax1.axhline(15, color="green", lw=0.6, ls="--")
    ax1.axhline(40, color="red", lw=0.6, ls="--")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("chunks in the index")
    ax1.set_ylabel("ms per question")
    ax1.set_title("Query cost")
    ax1.legend(fontsize=6, loc="lower right")
    if pts:
        ax2.plot(xs, [p[1]["index_bytes_per_chunk"] for p in pts], "o-", label="index on disk / chunk")
        ax2.plot(xs, [max(p[1]["rss_bytes_per_chunk"], 1) for p in pts], "s-", label="resident memory / chunk")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("chunks in the index")
    ax2.set_ylabel("bytes per chunk")
    ax2.set_title("Space cost")
    if pts:
        ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Re-render the report from a results.json (e.g. after adding a section)."""
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m bench.report")
    ap.add_argument("results", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    results = json.loads(args.results.read_text())
    plot_path = args.out.parent / "bench_cost.png"
    plot(results, plot_path)
    args.out.write_text(markdown(results, plot_path.name), encoding="utf-8")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
