"""Peak memory and output size of ``newsbot index`` on single huge articles (issue 15, finding 2).

Run ``python bench/large_inputs.py`` (no data needed; a few minutes). Each input is written to a fresh folder
under /tmp and indexed by ``newsbot index`` in its own fresh process; the parent samples that process's whole tree
from /proc every 20 ms (the forkserver and its analysis workers included, ``bench/growth_measure.run_child``) and
the child reports its own ``ru_maxrss``. Then ``newsbot search``, ``brief`` and ``ask`` (lexical; ``--json`` and
``--context`` too) run against the index, each in a fresh process sampled the same way, and the longest line they
print (a quote, passage or context is one line) is measured.

The inputs, in words drawn from a Zipf-like vocabulary of 30,000 made-up words:

- ``line16``: a ``.txt`` of a title line and one 16 MB line without a sentence end;
- ``feed15``: a feed item as the bot saves it (``feeds/1/<id>.json``, a JSON record) whose text is 15 MB (what
  ``FETCH_MAX_BYTES`` lets a page bring), also without a sentence end;
- ``nospace16``: a title line and 16 MB of letters without any whitespace (the hard cut).

Prints a Markdown table and writes the raw JSON beside it (``--output``, default bench/results/large_inputs.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import growth_measure as gm  # noqa: E402

MB = 1_000_000
INPUTS = ("line16", "feed15", "nospace16")


def words(size: int, seed: int) -> str:
    """About ``size`` characters of space-separated made-up words, common ones far more often (no sentence end)."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(2, 11))) for _ in range(30_000)]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    out: list[str] = []
    total = 0
    while total < size:
        chunk = rng.choices(vocabulary, weights=weights, k=50_000)
        out.extend(chunk)
        total += sum(len(w) + 1 for w in chunk)
    text = " ".join(out)
    return text[: text.rfind(" ", 0, size)]


def write_input(kind: str, folder: Path) -> tuple[Path, str]:
    """Write input ``kind`` into ``folder`` (its articles folder); the file, and a question its text answers."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "line16":
        path = folder / "line16.txt"
        body = words(16 * MB, 1)
        path.write_text("A huge one-line article\n\n" + body + "\n", encoding="utf-8")
    elif kind == "feed15":
        path = folder / "feeds" / "1" / "huge-item.json"
        path.parent.mkdir(parents=True)
        body = words(15 * MB, 2)
        record = {
            "id": "huge-item",
            "title": "A huge feed item",
            "text": body,
            "date": "2024-05-01T12:00:00+00:00",
            "url": "https://example.com/huge",
            "source": "Example feed",
        }
        path.write_text(json.dumps(record), encoding="utf-8")
    elif kind == "nospace16":
        path = folder / "nospace16.txt"
        rng = random.Random(3)
        body = "huge word " + "".join(rng.choices("abcdefghij", k=16 * MB))
        path.write_text("A huge word without spaces\n\n" + body, encoding="utf-8")
    else:
        raise ValueError(f"unknown input {kind!r}; accepted: {', '.join(INPUTS)}")
    return path, " ".join(word for word in body[:200].split()[:8] if len(word) < 40)


def child(articles: str, index_dir: str) -> None:
    """Run ``newsbot index`` in this process and report its own peak; the parent samples the tree."""
    from bot.cli import main

    stdout = sys.stdout
    sys.stdout = sys.stderr  # the command's report goes to stderr; stdout carries the JSON result alone
    try:
        status = main(["index", "--articles", articles, "--index", index_dir])
    finally:
        sys.stdout = stdout
    gm.emit({"status": status, "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def child_command(argv: list[str]) -> None:
    """Run one reading command (``newsbot search ...``) in this process; the longest line it printed, its peak."""
    import contextlib
    import io

    from bot.cli import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(argv)
    text = printed.getvalue()
    if "--json" in argv:
        text = "\n".join(hit["text"] for hit in json.loads(text)["hits"])
    gm.emit(
        {
            "status": status,
            "longest_line": max((len(line) for line in text.splitlines()), default=0),
            "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def reading(articles: Path, index_dir: Path, question: str, env: dict[str, str]) -> dict[str, dict[str, float]]:
    """Each reading command on the index, in a fresh process: the longest line it printed (a quote or passage is
    one line) and the peak memory of its process."""
    commands = {
        "search": ["search", question, "--lexical"],
        "search --json": ["search", question, "--lexical", "--json"],
        "brief": ["brief", "-n", "3"],
        "brief topic": ["brief", question],
        "ask": ["ask", question, "--lexical"],
        "ask --context": ["ask", question, "--lexical", "--context"],
    }
    out = {}
    for name, command in commands.items():
        argv = [*command, "--articles", str(articles), "--index", str(index_dir)]
        result = gm.run_child([sys.executable, __file__, "--command", *argv], label=name, env=env, every=0.02)
        if result:
            out[name] = {"longest_line": result["longest_line"], "peak_mb": result["sampled"]["tree_rss_peak_mb"]}
    return out


def measure(kind: str, work: Path, env: dict[str, str]) -> dict[str, Any]:
    """Index one input in a fresh process; its tree's peak memory, and the longest output of the reading commands."""
    articles = work / kind / "articles"
    index_dir = work / kind / "index"
    path, question = write_input(kind, articles)
    command = [sys.executable, __file__, "--child", str(articles), str(index_dir)]
    result = gm.run_child(command, label=kind, cwd=work, every=0.02, env=env) or {}
    result["input_mb"] = path.stat().st_size / MB
    result["reading"] = reading(articles, index_dir, question, env) if result else {}
    return result


def table(results: dict[str, dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| input | size MB | `newsbot index`: tree peak MB (sampled) | its ru_maxrss MB | s | longest line printed by "
        "search / brief / ask | their peak MB |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for kind, r in results.items():
        if not r.get("sampled"):
            lines.append(f"| {kind} | failed | | | | | |")
            continue
        s = r["sampled"]
        groups = (("search", "search --json"), ("brief", "brief topic"), ("ask", "ask --context"))
        read = r["reading"]
        longest = " / ".join(str(max(read[k]["longest_line"] for k in keys if k in read)) for keys in groups)
        peaks = " / ".join(f"{max(read[k]['peak_mb'] for k in keys if k in read):.0f}" for keys in groups)
        lines.append(
            f"| {kind} | {r['input_mb']:.1f} | {s['tree_rss_peak_mb']:,.0f} | {r['ru_maxrss_mb']:,.0f} | "
            f"{s['wall_s']:.1f} | {longest} | {peaks} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=2, metavar=("ARTICLES", "INDEX"), help=argparse.SUPPRESS)
    parser.add_argument("--command", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.add_argument("--inputs", nargs="+", choices=INPUTS, default=list(INPUTS))
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "large_inputs.md")
    parser.add_argument("--label", default="", help="a name for this run in the output (e.g. 'before')")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.command:
        child_command(args.command)
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEMANTIC_ANSWERS": "0", "LOG_LEVEL": "WARNING"}
    with tempfile.TemporaryDirectory(prefix="newsbot-large-") as tmp:
        results = {kind: measure(kind, Path(tmp), env) for kind in args.inputs}
    text = table(results)
    print(text)
    header = f"## {args.label or 'run'} ({platform.node()}, load {os.getloadavg()[0]:.2f})\n\n"
    raw = "\n\n```json\n" + json.dumps(results, indent=1) + "\n```\n"
    with args.output.open("a", encoding="utf-8") as handle:
        handle.write(header + text + raw + "\n")


if __name__ == "__main__":
    main()
