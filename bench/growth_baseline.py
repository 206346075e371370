"""One measurement of the code before issue 10 (commit 088c363), for bench/retrieval.py's growth table.

Run by bench/retrieval.py with the baseline worktree's own Python (``/work/wt/baseline/.venv/bin/python``), so
``import index`` is that commit's package: an in-memory build (``index.update`` = build + save of one
generation), ``index.load`` parsing ``articles.jsonl``, single-process analysis. Not meant to be run by hand::

    python bench/growth_baseline.py MODE INDEX_DIR CORPUS_DIR QUESTIONS_JSON N_QUESTIONS

MODE is build, load, query or add. Prints one JSON line.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import growth_measure as gm  # bench/ is sys.path[0]; the repository root is not, so ``index`` is the baseline's

import index


def build(index_dir: Path, corpus_dir: Path) -> dict:
    shutil.rmtree(index_dir, ignore_errors=True)
    started = time.perf_counter()
    idx = index.update(index_dir, str(corpus_dir))
    seconds = time.perf_counter() - started
    return {
        "build_s": seconds,
        "passages": len(idx),
        "articles": len(idx.articles),
        "main_peak_mb": gm.peak_self_mb(),
        "disk_mb": gm.folder_mb(index_dir),
    }


def load(index_dir: Path) -> dict:
    started = time.perf_counter()
    idx = index.load(index_dir)
    seconds = time.perf_counter() - started
    return {"load_s": seconds, "passages": len(idx), "after_load": gm.status_mb()}


def query(index_dir: Path, questions: list[str]) -> dict:
    return gm.query_timings(index, index.load(index_dir), questions)


def add(index_dir: Path, corpus_dir: Path) -> dict:
    """Add one article file and update: before issue 10 that is a full rebuild and save."""
    file = corpus_dir / "growth-new-baseline.jsonl"
    file.write_text(json.dumps(gm.new_article(0)) + "\n", encoding="utf-8")
    try:
        started = time.perf_counter()
        idx = index.update(index_dir, str(corpus_dir))
        found = idx.top(index.analyze(gm.new_word(0)), 10)
        seconds = time.perf_counter() - started
        ok = len(found.docs) > 0
    finally:
        file.unlink(missing_ok=True)
    return {"add_s": seconds, "found": bool(ok), "main_peak_mb": gm.peak_self_mb()}


def main() -> None:
    mode, index_dir, corpus_dir, questions_file, n_questions = sys.argv[1:6]
    questions = json.loads(Path(questions_file).read_text(encoding="utf-8"))[: int(n_questions)]
    if mode == "build":
        result = build(Path(index_dir), Path(corpus_dir))
    elif mode == "load":
        result = load(Path(index_dir))
    elif mode == "query":
        result = query(Path(index_dir), questions)
    elif mode == "add":
        result = add(Path(index_dir), Path(corpus_dir))
    else:
        raise SystemExit(f"unknown mode {mode!r}: build, load, query or add")
    result["version"] = getattr(index, "__file__", "?")
    gm.emit(result)


if __name__ == "__main__":
    main()
