"""Build time and memory of two worktrees side by side in one run, alternating, with tantivy on our tokens.

``nice -n 10 python bench/build_side.py --before /path/to/old/worktree --size 100000 --runs 3`` runs, in each run,
``index.update(full=True)`` of the old worktree's code and of this one's (each in a fresh process through
bench/retrieval.py's build child, its process tree's memory sampled), then tantivy on our terms (retrieval.py's
``tantivy_tokens`` child). Besides wall seconds it records the main process's CPU seconds (user + system): on a
machine shared with other jobs the wall time drifts, the CPU the main process spends while the workers wait less.
Prints min / median per engine as Markdown and writes the raw JSON next to ``--output``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import growth_measure as gm  # noqa: E402

_CHILD = """
import resource, sys
sys.argv = ['retrieval.py']
sys.path.insert(0, {bench!r})
import retrieval, growth_measure as gm
from pathlib import Path
result = retrieval.child_build({size}, Path({cache!r}), None)
usage = resource.getrusage(resource.RUSAGE_SELF)
result['main_cpu_s'] = usage.ru_utime + usage.ru_stime
gm.emit(result)
"""


def build(root: Path, size: int, cache: Path, label: str) -> dict | None:
    code = _CHILD.format(bench=str(root / "bench"), size=size, cache=str(cache))
    return gm.run_child([sys.executable, "-c", code], label=label, cwd=root)


def anchor(kind: str, size: int, cache: Path, queries: int) -> dict | None:
    command = [sys.executable, str(BENCH / "retrieval.py"), "--child", kind, str(size), "--cache", str(cache)]
    return gm.run_child([*command, "--queries", str(queries)], label=f"{kind} {size:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", required=True, help="a worktree (or export) of the code to compare with")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--cache", default="/tmp/newsbot-growth")
    parser.add_argument("--output", default=str(BENCH / "results" / "build-side.json"))
    args = parser.parse_args()
    if os.nice(0) < 10:
        os.nice(10 - os.nice(0))
    cache = Path(args.cache)
    records: dict[str, list[dict]] = {"before": [], "after": [], "tantivy_tokens": []}
    for run in range(1, args.runs + 1):
        for name, root in (("before", Path(args.before)), ("after", ROOT)):
            found = build(root, args.size, cache, f"{name} build {args.size:,}")
            if found is not None:
                found["load"] = os.getloadavg()
                records[name].append(found)
                print(
                    f"run {run} {name}: {found['build_s']:.1f} s, main cpu {found['main_cpu_s']:.1f} s, "
                    f"tree {found['sampled']['tree_rss_peak_mb']:.0f} MB, load {found['load'][0]:.1f}",
                    file=sys.stderr,
                )
        if not (cache / f"prep-{args.size}" / "tokens.txt").exists():
            anchor("prep", args.size, cache, args.queries)
        found = anchor("tantivy_tokens", args.size, cache, args.queries)
        if found is not None:
            records["tantivy_tokens"].append(found)
            print(f"run {run} tantivy on our tokens: {found['build_s']:.1f} s", file=sys.stderr)
        Path(args.output).write_text(json.dumps(records, indent=1), encoding="utf-8")
    print("| engine | runs | build s | main CPU s | peak MB tree | search p50 ms | search p95 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, found in records.items():

        def mm(key: str, scale: float = 1.0, rs: list[dict] = found) -> str:
            values = [r[key] * scale for r in rs if key in r]
            return f"{min(values):.2f} / {statistics.median(values):.2f}" if values else "–"

        tree = [r["sampled"]["tree_rss_peak_mb"] for r in found]
        peak = f"{min(tree):.0f} / {statistics.median(tree):.0f}" if tree else "–"
        p50, p95 = mm("search_p50"), mm("search_p95")  # tantivy_tokens reports ms
        print(f"| {name} | {len(found)} | {mm('build_s')} | {mm('main_cpu_s')} | {peak} | {p50} | {p95} |")


if __name__ == "__main__":
    main()
