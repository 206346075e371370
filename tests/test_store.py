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
    assert index.answer(loaded, question) == index.answer(seed_index, question)
    reloaded = [h.score for h in index.search(loaded, "Haftar")]
    assert reloaded == pytest.approx([h.score for h in index.search(seed_index, "Haftar")])
    files = {p.name for p in next((tmp_path / "ix").glob("gen-*")).iterdir()}
    assert not any(f.endswith((".pkl", ".pickle")) for f in files)


def test_missing_index(tmp_path):
    with pytest.raises(index.IndexNotFound, match="no index at"):
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
    assert str(tmp_path / "ix") in message, "the message names the index it is about"


def test_old_format_index(tmp_path, seed_index):
    seed_index.save(tmp_path / "ix")
    meta_path = _corrupt_current(tmp_path / "ix") / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["format"] = 0
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(index.IndexCorrupt, match="format 0, this newsbot reads format 2"):
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
    assert index.answer(survivor, "Which air base did the GNA seize?").answered
    assert not index.search(survivor, "volcanoes")
    index.build(other).save(ix)
    assert len(list(ix.glob("gen-*"))) == 1, "the next save removes stale generations"
    assert index.search(index.load(ix), "volcanoes")


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
    assert (changes.added, changes.removed, changes.changed) == (("c.txt",), ("b.txt",), ("a.txt",))
    assert changes.summary() == "1 new, 1 changed, 1 removed files"


def test_open_or_build_builds_once(tmp_path, seeds_dir):
    idx, built = index.open_or_build(tmp_path / "ix", seeds_dir)
    assert built
    again, built_again = index.open_or_build(tmp_path / "ix", seeds_dir)
    assert not built_again
    assert len(again) == len(idx)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param("weights.npy", id="flipped-weight"),
        pytest.param("docs.npy", id="scrambled-docs"),
        pytest.param("passages.npy", id="scrambled-passages"),
        pytest.param("articles.jsonl", id="flipped-article-byte"),
    ],
)
def test_damage_that_keeps_sizes_is_detected(tmp_path, seed_index, damage):
    seed_index.save(tmp_path / "ix")
    path = _corrupt_current(tmp_path / "ix") / damage
    data = bytearray(path.read_bytes())
    middle = len(data) - 40  # inside the payload, past the .npy header
    data[middle] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(index.IndexCorrupt) as info:
        index.load(tmp_path / "ix")
    assert "\n" not in str(info.value)
    assert damage in str(info.value)


def test_index_files_are_private(tmp_path, seed_index):
    seed_index.save(tmp_path / "ix")
    gen = _corrupt_current(tmp_path / "ix")
    assert (tmp_path / "ix").stat().st_mode & 0o077 == 0
    assert gen.stat().st_mode & 0o077 == 0
    for path in [*gen.iterdir(), tmp_path / "ix" / "CURRENT"]:
        assert path.stat().st_mode & 0o077 == 0, path.name


def _fill_disk_except(mount: Path, keep: int) -> Path:
    filler = mount / "filler"
    free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
    filler.write_bytes(b"\0" * max(0, free - keep))
    return filler


@pytest.fixture
def small_disk(tmp_path):
    """A real 4 MB file system (tmpfs), for what only a full disk shows. Needs root to mount."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, check=False
    ).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.slow
def test_full_disk_keeps_the_old_index_and_leaves_nothing_behind(small_disk, tmp_path, seed_index):
    ix = small_disk / "ix"
    seed_index.save(ix)
    folder = tmp_path / "big"
    for i in range(40):
        write(folder, f"s{i}.txt", f"Story {i}\n\n" + f"Harbour {i} news about ships and cargo. " * 200)
    bigger = index.build(folder)
    filler = _fill_disk_except(small_disk, keep=200_000)
    for _ in range(3):  # each retry fails the same way and adds nothing
        with pytest.raises(index.IndexWriteError, match=r"no space left on the index disk \([\d.]+ MB needed"):
            bigger.save(ix)
        assert len(list(ix.glob("gen-*"))) == 1, "the failed generation is removed at once"
    assert index.answer(index.load(ix), "Which air base did the GNA seize?").answered
    filler.unlink()
    bigger.save(ix)
    assert index.search(index.load(ix), "harbour cargo")


def test_disk_filling_up_during_a_save(small_disk, tmp_path, seed_index):
    ix = small_disk / "ix"
    seed_index.save(ix)
    folder = tmp_path / "big"
    for i in range(20):
        write(folder, f"s{i}.txt", f"Story {i}\n\n" + f"Harbour {i} news about ships and cargo. " * 100)
    bigger = index.build(folder)

    def another_process_fills_the_disk(stage: str, done: int, total: int) -> None:
        if stage == "saving" and done == 1:
            _fill_disk_except(small_disk, keep=0)

    with pytest.raises(index.IndexWriteError, match="no space left on the index disk"):
        bigger.save(ix, progress=another_process_fills_the_disk)
    assert len(list(ix.glob("gen-*"))) == 1
    assert index.answer(index.load(ix), "Which air base did the GNA seize?").answered
