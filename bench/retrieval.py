"""Retrieval speed: our engine against rank_bm25 and a dense numpy scorer, at 10k, 100k and 1M passages.

Run ``python bench/retrieval.py`` (needs ../shared/data; about ten minutes on 2 cores). Each size runs in its own
process so that peak memory is that size's alone. Queries are SQuAD dev questions, analysed like any
question; every engine answers the same queries with top-10. See bench/corpus.py for how 1M passages are made.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import corpus

from index.analysis import analyze
from index.bm25 import Postings, Settings, build_postings

SIZES = (10_000, 100_000, 1_000_000)
RANK_BM25_QUERIES = {10_000: 200, 100_000: 30}  # rank_bm25 is too slow for more; not run at 1M


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(times: list[float]) -> tuple[float, float]:
    ms = sorted(t * 1000 for t in times)
    return statistics.median(ms), ms[int(0.95 * (len(ms) - 1))]


def timed(fn, queries):
    times = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t)
    return percentiles(times)


def child(size: int, variant: str, n_queries: int) -> dict:
    passages = corpus.grow(corpus.real_passages(), size)
    queries = [analyze(q) for q in corpus.questions(n_queries)]
    before = rss_mb()
    t = time.perf_counter()
    settings = Settings(variant=variant, k1=0.9, b=0.4) if variant == "plus" else Settings(variant=variant)
    postings = build_postings(passages, settings)
    build_s = time.perf_counter() - t
    build_peak = rss_mb() - before
    result = {
        "size": size,
        "variant": variant,
        "build_s": build_s,
        "build_peak_mb": build_peak,
        "postings": len(postings.docs),
        "terms": len(postings.vocabulary),
    }
    postings.top(queries[0], 10)  # allocate the per-thread accumulator outside the timings
    result["ours_p50"], result["ours_p95"] = timed(lambda q: postings.top(q, 10), queries)

    def dense(q):
        scores = postings.scores(q)
        top = np.argpartition(-scores, 10)[:10]
        return top[np.argsort(-scores[top])]

    result["dense_p50"], result["dense_p95"] = timed(dense, queries[:200])
    # Same answers as the dense scorer (exactness check, not a timing).
    mismatches = 0
    for q in queries[:200]:
        ours = postings.top(q, 10)
        ref = np.sort(postings.scores(q))[::-1][: len(ours.scores)]
        mismatches += not np.allclose(ours.scores, ref, rtol=1e-4)
    result["mismatches"] = mismatches
    with tempfile.TemporaryDirectory() as tmp:
        arrays = {
            "offsets": postings.offsets,
            "docs": postings.docs,
            "weights": postings.weights,
            "base": postings.base,
        }
        for k, v in arrays.items():
            np.save(Path(tmp, f"{k}.npy"), v, allow_pickle=False)
        Path(tmp, "vocabulary.json").write_text(json.dumps(list(postings.vocabulary)))
        t = time.perf_counter()
        loaded = {k: np.load(Path(tmp, f"{k}.npy"), mmap_mode="r") for k in arrays}
        vocab = json.loads(Path(tmp, "vocabulary.json").read_text())
        reloaded = Postings(vocab, loaded["offsets"], loaded["docs"], loaded["weights"], loaded["base"], size)
        result["load_s"] = time.perf_counter() - t
        reloaded.top(queries[0], 10)
        result["loaded_p50"], _ = timed(lambda q: reloaded.top(q, 10), queries[:300])
    result["process_peak_mb"] = rss_mb()
    result["index_mb"] = (postings.docs.nbytes + postings.weights.nbytes + postings.offsets.nbytes) / 2**20
    if size in RANK_BM25_QUERIES:
        from rank_bm25 import BM25L, BM25Okapi, BM25Plus

        cls = {"okapi": BM25Okapi, "l": BM25L, "plus": BM25Plus}[variant]
        t = time.perf_counter()
        ref = cls(passages, k1=settings.k1, b=settings.b)
        result["rank_bm25_build_s"] = time.perf_counter() - t
        result["rank_bm25_p50"], result["rank_bm25_p95"] = timed(ref.get_scores, queries[: RANK_BM25_QUERIES[size]])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--variant", default="plus", help="okapi, l or plus (default: plus, as newsbot uses)")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.variant, args.queries)))
        return
    corpus.require_data()
    rows = []
    for size in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(size), "--variant", args.variant, "--queries", str(args.queries)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"done {size}", file=sys.stderr)
    print(f"\nBM25 variant {args.variant}, top-10, {args.queries} SQuAD questions; times in ms unless marked\n")
    print(
        "| passages | postings | build s | build peak MB (process) | load s | ours p50 | ours p95 "
        "| dense numpy p50 | dense p95 | rank_bm25 p50 | rank_bm25 p95 | same top-10 as dense |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        rb = f"{r['rank_bm25_p50']:.1f} | {r['rank_bm25_p95']:.1f}" if "rank_bm25_p50" in r else "not run | not run"
        print(
            f"| {r['size']:,} | {r['postings']:,} | {r['build_s']:.2f} "
            f"| {r['build_peak_mb']:.0f} ({r['process_peak_mb']:.0f}) | {r['load_s']:.2f} "
            f"| {r['ours_p50']:.2f} | {r['ours_p95']:.2f} | {r['dense_p50']:.1f} | {r['dense_p95']:.1f} | {rb} "
            f"| {200 - r['mismatches']}/200 |"
        )


if __name__ == "__main__":
    main()
