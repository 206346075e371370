"""The update recipe over the search-backend seam against the previous main: a full build and an incremental update.

Run ``python bench/recipe.py --baseline ../main`` (needs ../shared/data, or ``--data``). Each run is a fresh
process that imports ``index`` from one checkout (``--baseline``, then this one, alternating so that both see the
same machine load): a full build of Reuters-21578 (one JSON Lines file, about 21,000 articles) into an empty
folder, then an update after one article file is added (only that file is read). Printed: seconds, min / median
over ``--runs``, and the peak resident memory of the process and its workers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ = Path("reuters21578") / "articles.jsonl.gz"

CHILD = """
import json, resource, shutil, sys, time
from pathlib import Path
import index
work = Path(sys.argv[1])
articles = work / "articles"
articles.mkdir()
shutil.copy(sys.argv[2], articles / "reuters.jsonl.gz")
started = time.perf_counter()
built = index.update(work / "ix", articles, full=True)
full = time.perf_counter() - started
(articles / "new.txt").write_text("Harbour reopens\\n\\nThe harbour reopened on Monday after the storm.\\n")
started = time.perf_counter()
updated = index.update(work / "ix", articles)
incremental = time.perf_counter() - started
peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print(json.dumps({"full": full, "incremental": incremental, "passages": len(updated), "peak_mb": peak / 1024,
                  "module": index.__file__}))
"""


def run(checkout: Path, data: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="newsbot-recipe-") as work:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, work, str(data / READ)],
            env={"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"},
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode:
        raise SystemExit(f"the run on {checkout} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout of the previous main")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="the shared data folder")
    args = parser.parse_args()
    trees = {"baseline": args.baseline.resolve(), "this": ROOT}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(args.runs):
        for name, tree in trees.items():
            results[name].append(run(tree, args.data))
    print(f"Reuters-21578, {results['this'][0]['passages']} passages; seconds, min / median of {args.runs}\n")
    print("| | full build | incremental update (one new file) | peak RSS, MB (max of process, workers) |")
    print("|---|---:|---:|---:|")
    for name, runs in results.items():
        cells = []
        for key in ("full", "incremental", "peak_mb"):
            values = [r[key] for r in runs]
            cells.append(f"{min(values):.2f} / {statistics.median(values):.2f}")
        print(f"| {name} ({Path(runs[0]['module']).parent.parent.name}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
