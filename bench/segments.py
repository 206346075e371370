"""The segmented engine (index/segments/) against the single-array Postings, tantivy, bm25s and rank_bm25.

Run ``python bench/segments.py`` (needs ../shared/data and ``pip install -e '.[bench]'``; about half an hour on 2
cores, longer with 3M). Each size and engine runs in its own process, so peak memory is that run's alone.
Passages come from bench/corpus.py (real passages, grown by renamed repeats); queries are SQuAD dev questions,
analysed like any question (those that analyse to nothing are left out, for every engine alike).

Engines, all answering the same queries with top-10:

- ``postings``: the single-array ``Postings`` of bench/postings.py (one CSR, weights precomputed), and rank_bm25 at
  10k/100k.
- ``segments``: index/segments/ built as one segment, then as ten segments with 1% of the passages deleted;
  also the time to add one article (5 passages) and to delete one, until the new searcher answers.
- ``tantivy``: the tantivy package indexing the same token lists joined by spaces, with its whitespace
  tokenizer (so it sees exactly our terms), term frequencies without positions; queries are boolean OR
  queries of the same terms. Its BM25 is Lucene's (k1=1.2, b=0.75): latency is comparable, scores are not.
- ``bm25s``: bm25s on the same tokens, method bm25+ with our k1=0.9, b=0.4, delta=1 (dense scoring).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import corpus
from postings import Postings, build_postings

from index.analysis import analyze
from index.bm25 import Settings
from index.segments import SegmentedIndex, open_searcher, write_segment

SIZES = (10_000, 100_000, 1_000_000, 3_000_000)
ENGINES = ("postings", "segments", "tantivy", "bm25s")
RANK_BM25_QUERIES = {10_000: 200, 100_000: 30}
BM25S_QUERIES = {1_000_000: 300, 3_000_000: 100}  # dense scoring: about 0.1 s a query at 1M
SETTINGS = Settings(variant="plus", k1=0.9, b=0.4)
ARTICLE = 5  # passages per article in the rows (article number = passage number // ARTICLE)
REPEATS = 5


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(times: list[float]) -> tuple[float, float]:
    ms = sorted(t * 1000 for t in times)
    return statistics.median(ms), ms[int(0.95 * (len(ms) - 1))]


CPU: dict[str, tuple[float, float]] = {}  # the last timed() run's CPU-time percentiles, by label


def timed(fn: Callable[[Any], Any], queries: list[Any], label: str = "") -> tuple[float, float]:
    """Wall-clock p50 and p95 in ms; CPU-time percentiles go to CPU[label] (the machine is shared)."""
    times, cpu = [], []
    for q in queries:
        c = time.process_time()
        t = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    CPU[label] = percentiles(cpu)
    return percentiles(times)


def min_median(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f}"


def load_inputs(cache: Path, size: int, n_queries: int) -> tuple[list[list[str]], list[list[str]]]:
    real = json.loads(cache.read_text())
    passages = corpus.grow(real, size)
    del real
    queries = [q for q in (analyze(q) for q in corpus.questions(n_queries)) if q]
    return passages, queries


def exact_mismatches(top: Callable[[list[str]], Any], scores: Callable[[list[str]], np.ndarray], queries) -> int:
    """Queries whose top-10 scores differ from the best 10 of the dense scores (an exactness check)."""
    bad = 0
    for q in queries:
        found = top(q)
        dense = scores(q)
        ref = np.sort(dense[np.isfinite(dense)])[::-1][: len(found.scores)]
        bad += not np.allclose(found.scores, ref, rtol=1e-4)
    return bad


# ----------------------------------------------------------------------------------------------------- children


def run_postings(size: int, passages, queries) -> dict:
    before = rss_mb()
    t = time.perf_counter()
    postings = build_postings(passages, SETTINGS)
    result: dict[str, Any] = {"build_s": time.perf_counter() - t, "build_peak_mb": rss_mb() - before}
    result["postings"] = len(postings.docs)
    postings.top(queries[0], 10)
    result["p50"], result["p95"] = timed(lambda q: postings.top(q, 10), queries, "main")
    result["mismatches"] = exact_mismatches(lambda q: postings.top(q, 10), postings.scores, queries[:200])
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        arrays = {
            "offsets": postings.offsets,
            "docs": postings.docs,
            "weights": postings.weights,
            "base": postings.base,
        }
        for key, value in arrays.items():
            np.save(Path(tmp, f"{key}.npy"), value, allow_pickle=False)
        Path(tmp, "vocabulary.json").write_text(json.dumps(list(postings.vocabulary)))
        loads = []
        for _ in range(3):
            t = time.perf_counter()
            loaded = {k: np.load(Path(tmp, f"{k}.npy"), mmap_mode="r") for k in arrays}
            vocab = json.loads(Path(tmp, "vocabulary.json").read_text())
            Postings(vocab, loaded["offsets"], loaded["docs"], loaded["weights"], loaded["base"], size)
            loads.append(time.perf_counter() - t)
        result["load_s"] = loads
    if size in RANK_BM25_QUERIES:
        from rank_bm25 import BM25Plus

        t = time.perf_counter()
        ref = BM25Plus(passages, k1=SETTINGS.k1, b=SETTINGS.b)
        result["rank_bm25_build_s"] = time.perf_counter() - t
        result["rank_bm25_p50"], result["rank_bm25_p95"] = timed(
            ref.get_scores, queries[: RANK_BM25_QUERIES[size]], "rank_bm25_"
        )
    return result


def _article(passages: list[list[str]], number: int) -> list[list[str]]:
    """Five real-looking passages with one new name each, as a fresh article would bring."""
    start = (number * 7919) % (len(passages) - ARTICLE)
    return [[*p, f"newname{number}"] for p in passages[start : start + ARTICLE]]


def _changes(writer: SegmentedIndex, passages, queries, first_article: int) -> dict[str, list[float]]:
    """Seconds to add one article (5 passages) and to delete one, each until the new searcher has answered."""
    adds, deletes = [], []
    for i in range(REPEATS):
        rows = np.array([[first_article + i, j] for j in range(ARTICLE)])
        t = time.perf_counter()
        searcher = writer.add(_article(passages, i), rows=rows)
        searcher.top(queries[i], 10)
        adds.append(time.perf_counter() - t)
        assert searcher.document_frequency(f"newname{i}") == ARTICLE
    for i in range(REPEATS):
        victim = (1 + i * 997) % (len(passages) // ARTICLE)
        t = time.perf_counter()
        searcher = writer.delete_where(0, [victim])
        searcher.top(queries[i], 10)
        deletes.append(time.perf_counter() - t)
    return {"add_s": adds, "delete_s": deletes}


def run_segments(size: int, passages, queries, workdir: Path) -> dict:
    rows = np.stack([np.arange(size) // ARTICLE, np.arange(size) % ARTICLE], axis=1)
    result: dict[str, Any] = {}
    # (b) one segment
    one = workdir / "one"
    before = rss_mb()
    t = time.perf_counter()
    writer = SegmentedIndex.open(one, settings=SETTINGS)
    searcher = writer.add(passages, rows=rows)
    result["build_s"] = time.perf_counter() - t
    result["build_peak_mb"] = rss_mb() - before
    result["postings"] = searcher.segments[0].segment.postings
    result["disk_mb"] = sum(p.stat().st_size for p in one.rglob("*") if p.is_file()) / 2**20
    writer.close()
    del writer, searcher
    gc.collect()
    loads = []
    for _ in range(3):
        t = time.perf_counter()
        searcher = open_searcher(one)
        loads.append(time.perf_counter() - t)
        del searcher
        gc.collect()
    result["load_s"] = loads
    writer = SegmentedIndex.open(one)
    searcher = writer.searcher
    searcher.top(queries[0], 10)
    result["p50"], result["p95"] = timed(lambda q: searcher.top(q, 10), queries, "main")
    result["mismatches"] = exact_mismatches(lambda q: searcher.top(q, 10), searcher.scores, queries[:200])
    result.update({f"one_{k}": v for k, v in _changes(writer, passages, queries, size // ARTICLE + 1).items()})
    writer.close()
    del writer, searcher
    gc.collect()
    shutil.rmtree(one)
    # (c) ten segments, 1% of the passages deleted (random, in one commit)
    many = workdir / "many"
    t = time.perf_counter()
    writer = SegmentedIndex.open(many, settings=SETTINGS)
    bounds = np.linspace(0, size, 11).astype(int)
    for a, b in itertools.pairwise(bounds.tolist()):
        writer.add_segment(write_segment(many, passages[a:b], rows=rows[a:b]))
    result["many_build_s"] = time.perf_counter() - t
    doomed = random.Random(7).sample(range(size), size // 100)
    t = time.perf_counter()
    searcher = writer.delete(doomed)
    result["many_delete_1pct_s"] = time.perf_counter() - t
    writer.close()
    del writer, searcher
    gc.collect()
    loads = []
    for _ in range(3):
        t = time.perf_counter()
        searcher = open_searcher(many)
        loads.append(time.perf_counter() - t)
        del searcher
        gc.collect()
    result["many_load_s"] = loads
    writer = SegmentedIndex.open(many)
    searcher = writer.searcher
    searcher.top(queries[0], 10)
    result["many_p50"], result["many_p95"] = timed(lambda q: searcher.top(q, 10), queries, "many_")
    result["many_mismatches"] = exact_mismatches(lambda q: searcher.top(q, 10), searcher.scores, queries[:200])
    result.update({f"many_{k}": v for k, v in _changes(writer, passages, queries, size // ARTICLE + 1).items()})
    names = [e.segment.name for e in writer.searcher.segments]
    t = time.perf_counter()
    merged = writer.merge(names)
    result["merge_all_s"] = time.perf_counter() - t
    merged.top(queries[0], 10)
    result["merged_p50"], result["merged_p95"] = timed(lambda q: merged.top(q, 10), queries, "merged_")
    writer.close()
    result["process_peak_mb"] = rss_mb()
    return result


def run_tantivy(size: int, passages, queries, workdir: Path) -> dict:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=False, tokenizer_name="ws", index_option="freq")
    schema = builder.build()
    path = workdir / "tantivy"
    path.mkdir()
    analyzer = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
    before = rss_mb()
    t = time.perf_counter()
    index = tantivy.Index(schema, path=str(path))
    index.register_tokenizer("ws", analyzer)
    writer = index.writer(heap_size=512_000_000, num_threads=2)
    for tokens in passages:
        writer.add_document(tantivy.Document(body=" ".join(tokens)))
    writer.commit()
    writer.wait_merging_threads()
    result: dict[str, Any] = {"build_s": time.perf_counter() - t, "build_peak_mb": rss_mb() - before}
    loads = []
    for _ in range(3):
        t = time.perf_counter()
        reopened = tantivy.Index.open(str(path))
        reopened.register_tokenizer("ws", analyzer)
        searcher = reopened.searcher()
        loads.append(time.perf_counter() - t)
    result["load_s"] = loads
    result["segments"] = searcher.num_segments
    compiled = [
        tantivy.Query.boolean_query([(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", t)) for t in q])
        for q in queries
    ]
    searcher.search(compiled[0], 10)
    result["p50"], result["p95"] = timed(lambda q: searcher.search(q, 10).hits, compiled, "main")
    return result


def run_bm25s(size: int, passages, queries) -> dict:
    import bm25s

    before = rss_mb()
    t = time.perf_counter()
    retriever = bm25s.BM25(method="bm25+", k1=SETTINGS.k1, b=SETTINGS.b, delta=1.0)
    retriever.index(passages, show_progress=False)
    result: dict[str, Any] = {"build_s": time.perf_counter() - t, "build_peak_mb": rss_mb() - before}
    retriever.retrieve([queries[0]], k=10, show_progress=False, n_threads=1)
    asked = queries[: BM25S_QUERIES.get(size, len(queries))]
    result["p50"], result["p95"] = timed(
        lambda q: retriever.retrieve([q], k=10, show_progress=False, n_threads=1), asked, "main"
    )
    result["bm25s_queries"] = len(asked)
    return result


def child(size: int, engine: str, n_queries: int, cache: Path) -> dict:
    passages, queries = load_inputs(cache, size, n_queries)
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        workdir = Path(tmp)
        if engine == "postings":
            result = run_postings(size, passages, queries)
        elif engine == "segments":
            result = run_segments(size, passages, queries, workdir)
        elif engine == "tantivy":
            result = run_tantivy(size, passages, queries, workdir)
        else:
            result = run_bm25s(size, passages, queries)
    result.update(size=size, engine=engine, queries=len(queries))
    for label, (p50, p95) in CPU.items():
        prefix = "" if label == "main" else label
        result[f"{prefix}cpu_p50"], result[f"{prefix}cpu_p95"] = p50, p95
    result.setdefault("process_peak_mb", rss_mb())
    return result


# ------------------------------------------------------------------------------------------------------- parent


def print_tables(rows: list[dict]) -> None:
    by = {(r["size"], r["engine"]): r for r in rows}
    sizes = sorted({r["size"] for r in rows})
    n_queries = rows[0]["queries"]
    print(
        f"\nBM25Plus k1=0.9 b=0.4, top-10 over {n_queries} SQuAD questions; ms unless marked; "
        "load s: min / median of 3\n"
    )
    print(
        "| passages | engine | build s | build peak MB (process) | load s | p50 | p95 | CPU p50 | CPU p95 "
        "| exact top-10 |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        for engine, label, prefix in (
            ("postings", "today's Postings", ""),
            ("segments", "segments, 1 segment", ""),
            ("segments", "segments, 10 segments + 1% deleted", "many_"),
            ("segments", "segments, those 10 merged into 1", "merged_"),
            ("tantivy", "tantivy (same tokens)", ""),
            ("bm25s", "bm25s (same tokens)", ""),
        ):
            r = by.get((size, engine))
            if r is None or f"{prefix}p50" not in r:
                continue
            build = r.get(f"{prefix}build_s", r.get("merge_all_s") if prefix == "merged_" else None)
            build_s = f"{build:.2f}" if build is not None else "–"
            peak = f"{r['build_peak_mb']:.0f} ({r['process_peak_mb']:.0f})" if not prefix else "–"
            load = r.get(f"{prefix}load_s")
            load_s = min_median(load) if load else "–"
            exact = r.get(f"{prefix}mismatches")
            exact_s = f"{200 - exact}/200" if exact is not None else "–"
            extra = f" ({r['segments']} segments)" if engine == "tantivy" else ""
            if engine == "bm25s" and r.get("bm25s_queries", n_queries) != n_queries:
                extra = f" ({r['bm25s_queries']} queries)"
            cpu = f"{r[f'{prefix}cpu_p50']:.2f} | {r[f'{prefix}cpu_p95']:.2f}" if f"{prefix}cpu_p50" in r else "– | –"
            print(
                f"| {size:,} | {label}{extra} | {build_s} | {peak} | {load_s} "
                f"| {r[f'{prefix}p50']:.2f} | {r[f'{prefix}p95']:.2f} | {cpu} | {exact_s} |"
            )
        r = by.get((size, "postings"))
        if r and "rank_bm25_p50" in r:
            print(
                f"| {size:,} | rank_bm25 ({RANK_BM25_QUERIES[size]} queries) | {r['rank_bm25_build_s']:.2f} | – | – "
                f"| {r['rank_bm25_p50']:.1f} | {r['rank_bm25_p95']:.1f} | – | – | – |"
            )
    print(f"\nChanges until the new searcher has answered a query, seconds, min / median of {REPEATS}\n")
    print(
        "| passages | add 1 article, 1 segment | delete 1 article, 1 segment | add 1 article, 10 segments "
        "| delete 1 article, 10 segments | delete 1% in one commit | merge 10 segments |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        r = by.get((size, "segments"))
        if r is None:
            continue
        print(
            f"| {size:,} | {min_median(r['one_add_s'])} | {min_median(r['one_delete_s'])} "
            f"| {min_median(r['many_add_s'])} | {min_median(r['many_delete_s'])} "
            f"| {r['many_delete_1pct_s']:.2f} | {r['merge_all_s']:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--engines", nargs="*", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        size, engine, cache = args.child
        print(json.dumps(child(int(size), engine, args.queries, Path(cache))))
        return
    corpus.require_data()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp, "real.json")
        t = time.perf_counter()
        cache.write_text(json.dumps(corpus.real_passages()))
        print(f"analysed the real passages in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        for size in args.sizes:
            for engine in args.engines:
                command = [sys.executable, __file__, "--queries", str(args.queries), "--child", str(size), engine]
                out = subprocess.run([*command, str(cache)], capture_output=True, text=True, check=False)
                if out.returncode != 0:
                    print(f"{engine} at {size:,} failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                    continue
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"done {engine} {size:,}: {json.dumps(rows[-1])}", file=sys.stderr)
    print_tables(rows)


if __name__ == "__main__":
    main()
