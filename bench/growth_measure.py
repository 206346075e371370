"""Measuring helpers shared by bench/retrieval.py and bench/growth_baseline.py: memory from /proc, percentiles.

Standard library only, and no import of ``index``: bench/growth_baseline.py runs under the baseline worktree's
Python (the code before issue 10), so whatever it imports must not pull in this worktree's ``index``.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

MB = 1024 * 1024


def status_mb(pid: int | str = "self") -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon, RssFile and RssShmem of a process in MB (empty when it is gone)."""
    out: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    out[key] = int(value.split()[0]) / 1024
    except (OSError, ValueError):
        return {}
    return out


def peak_self_mb() -> float:
    """This process's own peak resident memory (ru_maxrss), MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (every thread's list; /proc/<pid>/task/<tid>/children)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as handle:
                found.extend(int(p) for p in handle.read().split())
        except OSError:
            continue
    return found


def descendants_of(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...)."""
    out: list[int] = []
    stack = children_of(pid)
    while stack:
        child = stack.pop()
        out.append(child)
        stack.extend(children_of(child))
    return out


def percentiles(seconds: Iterable[float]) -> tuple[float, float]:
    """Median and 95th percentile, in ms."""
    ms = sorted(s * 1000 for s in seconds)
    return statistics.median(ms), ms[int(0.95 * (len(ms) - 1))]


def timed(fn: Callable[[Any], Any], items: Iterable[Any]) -> list[float]:
    """Wall seconds of ``fn(item)`` for each item."""
    times = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - started)
    return times


def query_timings(index: Any, idx: Any, questions: list[str]) -> dict[str, Any]:
    """Lexical answers, then top-10 searches, over ``questions`` with whichever ``index`` package is imported
    (ours or the baseline's: both have ``answer``, ``analyze`` and ``Index.top``); ms, and memory on the way."""
    result: dict[str, Any] = {"after_load": status_mb()}
    times = []
    for n, question in enumerate(questions, 1):
        started = time.perf_counter()
        index.answer(idx, question)
        times.append(time.perf_counter() - started)
        if n == 200:
            result["after_200_answers"] = status_mb()
    result["answer_p50"], result["answer_p95"] = percentiles(times)
    terms = [index.analyze(q) for q in questions]
    idx.top(terms[0], 10)
    result["search_p50"], result["search_p95"] = percentiles(timed(lambda t: idx.top(t, 10), terms))
    result["terms"] = [" ".join(t) for t in terms[:50]]  # to compare the two analyzers
    result["after_queries"] = status_mb()
    return result


def folder_mb(path: Path) -> float:
    """Bytes of every file under ``path`` (apparent size), MB."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / MB


def emit(result: dict[str, Any]) -> None:
    """A child's result: one JSON line, the last on stdout."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


NEW_WORD = "zorblaxian"


def new_article(number: int) -> dict[str, Any]:
    """A one-article record with a word no other article has (``NEW_WORD`` + letters), for the change timings."""
    word = NEW_WORD + "".join(chr(ord("a") + int(d)) for d in str(number))
    text = (
        f"The {word} delegation arrived in Geneva on Tuesday for talks on shipping tariffs. Officials said the "
        f"{word} proposal would cut duties on grain and steel by a fifth over three years.\n\n"
        "Trade ministers from twelve countries attended the first session, which ended without a statement."
    )
    return {"id": f"growth-new-{number}", "title": f"{word.title()} trade talks open", "text": text, "date": None}


def new_word(number: int) -> str:
    """The unique word of ``new_article(number)``."""
    return NEW_WORD + "".join(chr(ord("a") + int(d)) for d in str(number))


def run_child(
    command: list[str], *, label: str, cwd: Path | None = None, every: float = 0.05, env: dict[str, str] | None = None
) -> dict[str, Any] | None:
    """Run one measurement in a fresh process, sampling its whole process tree's memory from /proc every ``every``
    seconds; its last stdout line is its JSON result, to which ``sampled`` is added. None when it fails."""
    with tempfile.TemporaryFile("w+") as err, tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, cwd=cwd, env=env)
        main_peak = tree_peak = workers_peak = 0.0
        hwm: dict[int, float] = {}
        while process.poll() is None:
            main = status_mb(process.pid).get("VmRSS", 0.0)
            below = descendants_of(process.pid)
            workers = 0.0
            for pid in below:
                status = status_mb(pid)
                workers += status.get("VmRSS", 0.0)
                hwm[pid] = max(hwm.get(pid, 0.0), status.get("VmHWM", 0.0))
            main_peak = max(main_peak, main)
            workers_peak = max(workers_peak, workers)
            tree_peak = max(tree_peak, main + workers)
            time.sleep(every)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        lines = out.read().strip().splitlines()
        if process.returncode != 0 or not lines:
            tail = err.read().strip().splitlines()[-5:]
            print(f"  {label} failed ({process.returncode}): {' | '.join(tail)}", file=sys.stderr)
            return None
    result = json.loads(lines[-1])
    result["sampled"] = {
        "main_rss_peak_mb": main_peak,
        "workers_rss_peak_mb": workers_peak,
        "tree_rss_peak_mb": tree_peak,
        "descendant_hwm_mb": sorted(hwm.values(), reverse=True)[:4],
        "wall_s": wall,
    }
    return result
