"""Answers per second on 1 and 2 worker threads, and the semantic answer's p50/p95, before and after a change.

Run ``python bench/throughput.py --index DIR --baseline TREE`` (DIR: an index built by ``newsbot index`` or
``bench/retrieval.py --child build 1000000``, e.g. 1M passages of bench/corpus.py's real articles and their renamed
copies, with seeds/ added; TREE: a checkout of the code to compare with, e.g. ``git archive main | tar -x -C
TREE``). Each measurement is its own process with ``PYTHONPATH`` set to the code measured: it loads the index and
the model (``index.semantic.load_judge()``, 1 onnxruntime thread, the bot's setting), answers 20 warm-up
questions (SQuAD dev questions not in the measured set), then answers the measured questions with
``ThreadPoolExecutor(workers)``, as the bot's default (answers in threads) does: the news and everyday questions
of ``bench/questions`` and SQuAD dev questions, ``--questions`` in all, each once, so the judge's cache of
sentence vectors only holds what earlier questions of the run put there. Answers per second is questions /
wall seconds; with 1 worker each answer is timed too (p50 / p95 ms). Before and after alternate, ``--runs``
times. Results are printed as Markdown and written with the raw JSON to ``--output``.

``--compare cores`` measures what the issue asks literally, answers per second on 2 cores against 1: 2 answer
threads each time, the process pinned to one core (``os.sched_setaffinity``) or given both. (``--compare threads``,
the default, compares 1 answer thread with 2 on both cores; since the embedding's batches run on a pool of two
threads, one answer thread already uses both cores while it embeds.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

from sidebyside import run_in, save, span, trees  # noqa: E402  (bench/ is the script's folder, first on sys.path)

WARM = 20


def questions(n: int) -> tuple[list[str], list[str]]:
    """``n`` measured questions (news, everyday, then SQuAD dev) and the warm-up ones, none shared."""
    import corpus

    news = [json.loads(line)["question"] for line in (BENCH / "questions" / "news.jsonl").open(encoding="utf-8")]
    everyday = (BENCH / "questions" / "everyday.txt").read_text(encoding="utf-8").splitlines()
    squad = corpus.questions(n + WARM)
    measured = list(dict.fromkeys(news + everyday + squad))[:n]
    warm = [q for q in squad if q not in set(measured)][:WARM]
    return measured, warm


def child(args: argparse.Namespace) -> dict[str, Any]:
    if args.cpus:  # before any thread starts (the embedding's pool, onnxruntime's): threads inherit it
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cpus]))
    # Imported before bench/corpus.py (which puts this worktree first on sys.path), so the code measured is
    # the one PYTHONPATH names.
    import index
    import index.semantic

    measured, warm = questions(args.questions)
    idx = index.load(args.index)
    judge = index.semantic.load_judge() if args.path == "semantic" else None
    for q in warm:
        index.answer(idx, q, judge=judge)
    times: list[float] = []

    def one(q: str) -> bool:
        started = time.perf_counter()
        answered = index.answer(idx, q, judge=judge).answered
        times.append(time.perf_counter() - started)
        return answered

    cpu = os.times()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        answered = sum(pool.map(one, measured))
    seconds = time.perf_counter() - started
    after = os.times()
    ordered = sorted(times)
    return {
        "per_s": len(measured) / seconds,
        "seconds": seconds,
        "cpu_s": (after.user - cpu.user) + (after.system - cpu.system),
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "answered": answered,
        "questions": len(measured),
        "passages": len(idx),
        "code": str(Path(index.__file__).resolve().parent.parent),
    }


def run_one(tree: Path, path: str, config: int, args: argparse.Namespace) -> dict[str, Any]:
    """One child; ``config`` is the number of answer threads, or with ``--compare cores`` of cores."""
    workers, cpus = (2, config) if args.compare == "cores" else (config, 0)
    options = ["--index", str(args.index), "--path", path, "--workers", str(workers), "--cpus", str(cpus)]
    return run_in(tree, __file__, [*options, "--questions", str(args.questions)])


def report(records: list[dict[str, Any]], labels: dict[str, str], args: argparse.Namespace) -> str:
    loads = [r["load"][0] for r in records]
    one, two = ("1 core", "2 cores") if args.compare == "cores" else ("1 thread", "2 threads")
    lines = [
        f"# Answers per second, 1 vs 2 {args.compare} ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.node()}, "
        f"{os.cpu_count()} cores, loads {', '.join(f'{load:.1f}' for load in loads)})",
        "",
        f"{records[0]['passages']:,} passages ({args.index}); {records[0]['questions']} questions, each once; "
        f"min / median over {args.runs} runs.",
        "",
        f"| path | code | {one} answers/s | {two} answers/s | {two} / {one} | p50 ms | p95 ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for path in args.paths.split(","):
        for key, label in labels.items():
            ones = [r for r in records if r["path"] == path and r["label"] == key and r["config"] == 1]
            twos = [r for r in records if r["path"] == path and r["label"] == key and r["config"] == 2]
            if not ones or not twos:
                continue
            ratios = [b["per_s"] / a["per_s"] for a, b in zip(ones, twos, strict=False)]
            lines.append(
                f"| {path} | {label} | {span([r['per_s'] for r in ones])} | {span([r['per_s'] for r in twos])} | "
                f"{span(ratios, 2)}x | {span([r['p50_ms'] for r in ones])} | {span([r['p95_ms'] for r in ones])} |"
            )
    lines += ["", f"Ratios pair each run's {two} rate with the same run's {one} rate; p50 / p95 are of the {one} runs."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="the index to answer from")
    parser.add_argument("--baseline", type=Path, help="a checkout of the code to compare with (before)")
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--paths", default="semantic,lexical")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "throughput.md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--path", default="semantic", help=argparse.SUPPRESS)
    parser.add_argument("--compare", choices=("threads", "cores"), default="threads")
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--cpus", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    checkouts, labels = trees(ROOT, args.baseline)
    records = []
    for run in range(args.runs):
        for path in args.paths.split(","):
            for key, tree in checkouts.items():
                for config in (1, 2):
                    load = os.getloadavg()
                    record = {**run_one(tree, path, config, args), "label": key, "path": path, "config": config}
                    record.update(run=run, load=load)
                    print(json.dumps(record), flush=True)
                    records.append(record)
    save(args.output, report(records, labels, args), records)


if __name__ == "__main__":
    main()
