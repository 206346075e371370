"""The index drill (issue 15): a long random history of adds, removes, changes, merges and full rebuilds.

Run ``python bench/drill.py`` (1,000 steps, seven to eight minutes on 2 cores; ``--steps N`` for fewer; the test suite
runs 70 in tests/test_drill.py). It works in a temporary folder (``--work`` to keep it) with an articles folder
that every step names one of four ways, as cron, the bot, ``.env`` and a shell do: relative to the working folder
(``articles``), absolute, with a trailing slash, and through a symbolic link to it.

Each step is one of:

- ``add``: 1 to 12 new article files (JSON records, or JSON Lines files of several), then ``newsbot index``'s
  work: ``index.update`` and ``index.maintain``;
- ``remove``: 1 to 12 files deleted, then the same;
- ``change``: 1 to 4 files rewritten (a record's text changed, a JSON Lines file losing or gaining records);
- ``merge``: ``index.maintain`` alone;
- ``full``: ``index.update(full=True)`` and ``index.maintain``.

After every step the drill checks that the index's live articles are exactly those the folder holds (by id and
text: the drill knows what it wrote), and compares the index's size on disk with a fresh build of the same folder
(a full build in a new directory), both the files' bytes and the disk blocks they take. It stops at the first
step that breaks either rule (the index lost or kept an article, or grew past ``--ratio``, 1.5 by default) and
exits with status 1. The result is printed as one JSON line: steps by kind, the largest and the last ratios, the
live articles, the seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import index  # noqa: E402

KINDS = ("add", "remove", "change", "merge", "full")
WEIGHTS = (34, 30, 16, 12, 8)
SPELLINGS = ("relative", "absolute", "trailing slash", "link")


def disk(folder: Path) -> tuple[int, int]:
    """The bytes of every file under ``folder``, and the disk blocks they take (bytes)."""
    files = [p.stat() for p in folder.rglob("*") if p.is_file()]
    return sum(f.st_size for f in files), sum(f.st_blocks * 512 for f in files)


class Drill:
    """The articles folder, what it holds, and the index kept of it."""

    def __init__(self, work: Path, seed: int) -> None:
        self.work = work
        self.rng = random.Random(seed)
        self.folder = work / "articles"
        self.folder.mkdir(parents=True)
        (work / "link").symlink_to("articles")
        self.index_dir = work / "index"
        self.files: dict[str, dict[str, str]] = {}  # file name -> {article id: text}
        self.made = 0
        self.vocabulary = [self._word() for _ in range(6000)]
        os.chdir(work)  # "articles" is relative to here

    def _word(self) -> str:
        return "".join(self.rng.choices("abcdefghijklmnoprstuvwy", k=self.rng.randint(3, 10)))

    def spelling(self) -> str:
        """The articles folder, named one of four ways at random."""
        way = self.rng.choice(SPELLINGS)
        return {
            "relative": "articles",
            "absolute": str(self.folder),
            "trailing slash": "articles/",
            "link": "link",
        }[way]

    def _text(self) -> str:
        """A new article text: 1 to 4 paragraphs of sentences of made-up words (unique: it carries its number)."""
        paragraphs = []
        for _ in range(self.rng.randint(1, 4)):
            sentences = []
            for _ in range(self.rng.randint(2, 8)):
                words = self.rng.choices(self.vocabulary, k=self.rng.randint(6, 24))
                sentences.append(" ".join(words).capitalize() + ".")
            paragraphs.append(" ".join(sentences))
        self.made += 1
        return f"Item {self.made}. " + "\n\n".join(paragraphs)

    def _records(self, n: int) -> dict[str, str]:
        out = {}
        for _ in range(n):
            self.made += 1
            out[f"a{self.made}"] = self._text()
        return out

    def _write(self, name: str, records: dict[str, str]) -> None:
        path = self.folder / name
        rows = [{"id": key, "title": f"Story {key}", "text": text} for key, text in records.items()]
        if name.endswith(".jsonl"):
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        else:
            path.write_text(json.dumps(rows[0]), encoding="utf-8")
        self.files[name] = records

    def add(self) -> None:
        for _ in range(self.rng.randint(1, 12)):
            if self.rng.random() < 0.2:
                self._write(f"f{self.made + 1}.jsonl", self._records(self.rng.randint(2, 6)))
            else:
                self._write(f"f{self.made + 1}.json", self._records(1))

    def remove(self) -> None:
        for name in self.rng.sample(sorted(self.files), min(len(self.files), self.rng.randint(1, 12))):
            (self.folder / name).unlink()
            del self.files[name]

    def change(self) -> None:
        for name in self.rng.sample(sorted(self.files), min(len(self.files), self.rng.randint(1, 4))):
            records = dict(self.files[name])
            if name.endswith(".jsonl") and len(records) > 1 and self.rng.random() < 0.5:
                del records[self.rng.choice(sorted(records))]
            elif name.endswith(".jsonl") and self.rng.random() < 0.5:
                records.update(self._records(1))
            else:
                key = self.rng.choice(sorted(records))
                records[key] = self._text()
            self._write(name, records)
            stat = (self.folder / name).stat()  # a rewrite within the same tick must still look changed
            os.utime(self.folder / name, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))

    def expected(self) -> dict[str, str]:
        return {key: text for records in self.files.values() for key, text in records.items()}

    def step(self, kind: str) -> index.Index | None:
        if kind in ("add", "remove", "change"):
            getattr(self, kind)()
        if kind == "merge":
            return index.maintain(self.index_dir)
        idx = index.update(self.index_dir, self.spelling(), full=kind == "full")
        return index.maintain(self.index_dir) or idx


def run(steps: int, seed: int, work: Path, ratio: float, out: Any = sys.stderr) -> dict[str, Any]:
    """Run the drill; its result (``ok`` False at the first broken rule, which ``problem`` names)."""
    started = time.perf_counter()
    drill = Drill(work, seed)
    for _ in range(20):
        drill.add()
    idx = index.update(drill.index_dir, drill.spelling())
    counts = dict.fromkeys(KINDS, 0)
    result: dict[str, Any] = {"steps": 0, "seed": seed, "ok": True, "max_ratio_bytes": 0.0, "max_ratio_blocks": 0.0}
    fresh_dir = work / "fresh"
    for number in range(1, steps + 1):
        kind = drill.rng.choices(KINDS, WEIGHTS)[0]
        if kind == "remove" and len(drill.files) < 30:
            kind = "add"
        idx = drill.step(kind) or index.load(drill.index_dir)
        counts[kind] += 1
        held = {a.id: a.text for a in idx.articles}
        expected = drill.expected()
        if held != expected:
            lost, extra = sorted(set(expected) - set(held)), sorted(set(held) - set(expected))
            wrong = sorted(k for k in set(held) & set(expected) if held[k] != expected[k])
            result.update(ok=False, problem=f"step {number} ({kind}): lost {lost[:5]}, extra {extra[:5]}, "
                          f"changed {wrong[:5]}")
            break
        shutil.rmtree(fresh_dir, ignore_errors=True)
        fresh = index.update(fresh_dir, drill.folder, full=True)
        assert fresh.article_count == len(expected)
        ours, theirs = disk(drill.index_dir), disk(fresh_dir)
        bytes_ratio, blocks_ratio = ours[0] / theirs[0], ours[1] / theirs[1]
        result["max_ratio_bytes"] = max(result["max_ratio_bytes"], bytes_ratio)
        result["max_ratio_blocks"] = max(result["max_ratio_blocks"], blocks_ratio)
        result.update(steps=number, last_ratio_bytes=bytes_ratio, last_ratio_blocks=blocks_ratio)
        if number % 50 == 0:
            print(f"step {number}: {len(expected)} articles, {ours[0] / 1e6:.2f} MB ({bytes_ratio:.2f}x bytes, "
                  f"{blocks_ratio:.2f}x blocks), {len(idx.searcher.segments)} segments, "
                  f"{len(idx.store.batches)} batches", file=out)
        if max(bytes_ratio, blocks_ratio) > ratio:
            result.update(ok=False, problem=f"step {number} ({kind}): {bytes_ratio:.2f}x a fresh build's bytes, "
                          f"{blocks_ratio:.2f}x its blocks")
            break
    result.update(
        kinds=counts,
        articles=idx.article_count,
        index_mb=round(disk(drill.index_dir)[0] / 1e6, 2),
        seconds=round(time.perf_counter() - started, 1),
    )
    for key in ("max_ratio_bytes", "max_ratio_blocks", "last_ratio_bytes", "last_ratio_blocks"):
        if key in result:
            result[key] = round(result[key], 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--ratio", type=float, default=1.5, help="the largest size on disk allowed, x a fresh build's")
    parser.add_argument("--work", type=Path, help="keep the drill's folders here (default: a temporary folder)")
    args = parser.parse_args()
    if args.work:
        args.work.mkdir(parents=True)
        result = run(args.steps, args.seed, args.work.resolve(), args.ratio)
    else:
        with tempfile.TemporaryDirectory(prefix="newsbot-drill-") as tmp:
            result = run(args.steps, args.seed, Path(tmp), args.ratio)
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
