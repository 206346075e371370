"""Persistence: round trip, atomic replacement, a build killed midway, corrupt and old indexes, changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import index

from .conftest import ROOT, write


def test_round_trip(tmp_path, seed_index):
    seed_index.save(tmp_path / "ix")
    loaded = index.load(tmp_path / "ix")
    assert len(loaded) == len(seed_index)
    assert loaded.articles == seed_index.articles
    question = "Which air base did the GNA seize?"
    assert loaded.answer(question) == seed_index.answer(question)
    assert [h.score for h in loaded.search("Haftar")] == pytest.approx([h.score for h in seed_index.search("Haftar")])
    files = {p.name for p in next((tmp_path / "ix").glob("gen-*")).iterdir()}
    assert not any(f.endswith((".pkl", ".pickle")) for f in files)


def test_missing_index(tmp_path):
    with pytest.raises(index.IndexNotFound, match="newsbot index"):
        index.load(tmp_path / "none")


def _corrupt_current(ix: Path) -> Path:
    return ix / (ix / "CURRENT").read_text().strip()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda gen: (gen / "docs.npy").write_bytes(b"garbage"), id="truncated-array"),
        pytest.param(lambda gen: (gen / "meta.json").write_text("{not json"), id="bad-meta"),
        pytest.param(lambda gen: (gen / "vocabulary.json").unlink(), id="missing-file"),
        pytest.param(lambda gen: (gen.parent / "CURRENT").write_text("gen-nowhere\n"), id="dangling-current"),
    ],
)
def test_corrupt_index_gives_one_line(tmp_path, seed_index, damage):
    seed_index.save(tmp_path / "ix")
    damage(_corrupt_current(tmp_path / "ix"))
    with pytest.raises(index.IndexCorrupt) as info:
        index.load(tmp_path / "ix")
    message = str(info.value)
    assert "\n" not in message
    assert "newsbot index" in message


def test_old_format_index(tmp_path, seed_index):
    seed_index.save(tmp_path / "ix")
    meta_path = _corrupt_current(tmp_path / "ix") / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["format"] = 0
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(index.IndexCorrupt, match="format 0, this newsbot reads format 1"):
        index.load(tmp_path / "ix")


KILL_DURING_SAVE = """
import os, signal, sys
import index
idx = index.build(sys.argv[1])
def progress(stage, done, total):
    if stage == "saving" and done == 4:
        os.kill(os.getpid(), signal.SIGKILL)
idx.save(sys.argv[2], progress=progress)
"""


def test_build_killed_midway_keeps_previous_index(tmp_path, seeds_dir):
    ix = tmp_path / "ix"
    index.build(seeds_dir).save(ix)
    other = write(tmp_path / "other", "new.txt", "Completely different\n\nA story about volcanoes in Iceland.\n").parent
    proc = subprocess.run(
        [sys.executable, "-c", KILL_DURING_SAVE, str(other), str(ix)],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL
    assert len(list(ix.glob("gen-*"))) == 2, "the killed build left its partial generation behind"
    survivor = index.load(ix)
    assert survivor.answer("Which air base did the GNA seize?").answered
    assert not survivor.search("volcanoes")
    index.build(other).save(ix)
    assert len(list(ix.glob("gen-*"))) == 1, "the next save removes stale generations"
    assert index.load(ix).search("volcanoes")


def test_changes_are_detected(tmp_path):
    folder = tmp_path / "articles"
    write(folder, "a.txt", "A\n\nAlpha story.\n")
    write(folder, "b.txt", "B\n\nBeta story.\n")
    idx = index.build(folder)
    assert not idx.changes(folder)
    write(folder, "c.txt", "C\n\nGamma story.\n")
    (folder / "b.txt").unlink()
    write(folder, "a.txt", "A\n\nAlpha story, updated with more words.\n")
    os.utime(folder / "a.txt", ns=(1, 1))
    changes = idx.changes(folder)
    assert (changes.added, changes.removed, changes.modified) == (("c.txt",), ("b.txt",), ("a.txt",))
    assert changes.summary() == "1 new, 1 changed, 1 removed files"


def test_open_or_build_builds_once(tmp_path, seeds_dir):
    idx, built = index.open_or_build(tmp_path / "ix", seeds_dir)
    assert built
    again, built_again = index.open_or_build(tmp_path / "ix", seeds_dir)
    assert not built_again
    assert len(again) == len(idx)
