"""Running one benchmark measurement in the code of another checkout, for before/after tables in one run.

The measurement is the calling script run again with ``--child`` in its own process, with ``PYTHONPATH`` set to
the checkout measured (its ``bot``, ``index`` and ``tests``), so both sides share the machine's load of the
moment. The child prints one JSON record last, with ``code``: where it imported the code from.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_in(tree: Path, script: str, arguments: list[str]) -> dict[str, Any]:
    """Run ``script --child *arguments`` with the code of ``tree``; its last line of output, as JSON.

    Raises:
        SystemExit: the run failed (with the end of its stderr), or imported the code from elsewhere.
    """
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, str(Path(script).resolve()), "--child", *arguments]
    done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the run in {tree} failed:\n{done.stderr[-3000:]}")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(record["code"]) != tree.resolve():
        raise SystemExit(f"the run meant for {tree} imported its code from {record['code']}")
    return record


def span(values: list[float], digits: int = 1) -> str:
    """``min / median``, as the README's tables show a measurement over runs."""
    return f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f}"


def save(output: Path, text: str, records: list[dict[str, Any]]) -> None:
    """Print the tables, and write them with the raw records to ``output``."""
    print(text)
    output.parent.mkdir(parents=True, exist_ok=True)
    raw = "\n".join(json.dumps(r) for r in records)
    output.write_text(f"{text}\n<details><summary>raw</summary>\n\n```json\n{raw}\n```\n</details>\n")


def trees(root: Path, baseline: Path | None) -> tuple[dict[str, Path], dict[str, str]]:
    """The checkouts to measure (``before`` when a baseline is given, then ``after``: this one), and their labels."""
    if baseline is None:
        return {"after": root}, {"after": "this branch"}
    if not (baseline / "index" / "__init__.py").is_file():
        raise SystemExit(f"--baseline {baseline} is not a checkout of newsbot")
    return {"before": baseline, "after": root}, {"before": f"before ({baseline.name})", "after": "this branch"}
