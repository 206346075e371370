"""The index on disk: round trip, incremental updates, a kill mid-update, damage, full disks, private files."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import index

from .cli_harness import process_env
from .conftest import ROOT, small_filesystem, write

QUESTION = "Which air base did the GNA seize?"


def test_round_trip(tmp_path, seeds_dir):
    built = index.update(tmp_path / "ix", seeds_dir)
    loaded = index.load(tmp_path / "ix")
    assert len(loaded) == len(built)
    assert loaded.articles == built.articles
    assert index.answer(loaded, QUESTION) == index.answer(built, QUESTION)
    reloaded = [h.score for h in index.search(loaded, "Haftar")]
    assert reloaded == pytest.approx([h.score for h in index.search(built, "Haftar")])
    files = [p.name for p in (tmp_path / "ix").rglob("*")]
    assert not any(f.endswith((".pkl", ".pickle")) for f in files)


def test_missing_index(tmp_path):
    with pytest.raises(index.IndexNotFound, match="no index at"):
        index.load(tmp_path / "none")


def _one(folder: Path, pattern: str) -> Path:
    (found,) = folder.glob(pattern)
    return found


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda ix: _one(ix, "seg-*/docs.npy").write_bytes(b"garbage"), id="truncated-array"),
        pytest.param(lambda ix: _one(ix, "manifest-*.json").write_text("{not json"), id="bad-manifest"),
        pytest.param(lambda ix: _one(ix, "art-*/text.bin").unlink(), id="missing-file"),
        pytest.param(lambda ix: (ix / "CURRENT").write_text("manifest-0000000099.json abc\n"), id="dangling-current"),
        pytest.param(lambda ix: _one(ix, "info-*.json").write_text("{}"), id="bad-info"),
    ],
)
def test_corrupt_index_gives_one_line(tmp_path, seeds_dir, damage):
    index.update(tmp_path / "ix", seeds_dir)
    damage(tmp_path / "ix")
    with pytest.raises(index.IndexCorrupt) as info:
        index.load(tmp_path / "ix")
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "ix") in message, "the message names the index it is about"


@pytest.mark.parametrize("file", ["seg-*/docs.npy", "seg-*/tf.npy", "art-*/text.bin", "art-*/sentences.npy"])
def test_damage_that_keeps_sizes_is_detected(tmp_path, seeds_dir, file):
    index.update(tmp_path / "ix", seeds_dir)
    path = _one(tmp_path / "ix", file)
    data = bytearray(path.read_bytes())
    data[len(data) - 3] ^= 0x5A  # inside the payload, past any header
    path.write_bytes(bytes(data))
    with pytest.raises(index.IndexCorrupt) as info:
        index.load(tmp_path / "ix")
    assert "\n" not in str(info.value)
    assert "damaged" in str(info.value) or "checksum" in str(info.value)


def test_an_older_format_is_rebuilt(tmp_path, seeds_dir):
    old = tmp_path / "ix"
    (old / "gen-20260101000000-1-1").mkdir(parents=True)
    (old / "CURRENT").write_text("gen-20260101000000-1-1\n")
    with pytest.raises(index.IndexNotFound, match="older format"):
        index.load(old)
    idx, built = index.open_or_build(old, seeds_dir)
    assert built
    assert index.answer(idx, QUESTION).answered
    assert not list(old.glob("gen-*"))


KILL_DURING_UPDATE = """
import os, signal, sys
import index
def progress(stage, done, total):
    if stage == sys.argv[3]:
        os.kill(os.getpid(), signal.SIGKILL)
index.update(sys.argv[2], sys.argv[1], progress=progress, workers=1)
"""


@pytest.mark.parametrize("stage", ["indexing", "saving"])
def test_update_killed_midway_keeps_previous_index(tmp_path, seeds_dir, stage):
    ix = tmp_path / "ix"
    articles = tmp_path / "articles"
    write(articles, "seed.txt", (seeds_dir / "000_1ac90010c147ba5d.txt").read_text(encoding="utf-8"))
    index.update(ix, articles)
    write(articles, "new.txt", "Completely different\n\nA story about volcanoes in Iceland.\n")
    proc = subprocess.run(
        [sys.executable, "-c", KILL_DURING_UPDATE, str(articles), str(ix), stage],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    survivor = index.load(ix)
    assert index.answer(survivor, QUESTION).answered
    assert not index.search(survivor, "volcanoes")
    updated = index.update(ix, articles)
    assert index.search(updated, "volcanoes")
    names = {p.name.split("-")[0] for p in ix.iterdir()}
    assert names <= {"CURRENT", "LOCK", "manifest", "seg", "del", "art", "info", "splitter"}
    assert len(list(ix.glob("art-*"))) == 2, "the killed update's leftovers are gone"


def test_changes_are_detected(tmp_path):
    folder = tmp_path / "articles"
    write(folder, "a.txt", "A\n\nAlpha story.\n")
    write(folder, "b.txt", "B\n\nBeta story.\n")
    idx = index.update(tmp_path / "ix", folder)
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


def _folder(tmp_path: Path, n: int) -> Path:
    folder = tmp_path / "articles"
    for i in range(n):
        write(folder, f"s{i:03d}.txt", f"Story {i}\n\nHarbour {i} reopened after the storm, officials said.\n")
    return folder


def test_an_unchanged_folder_is_not_read_again(tmp_path):
    folder = _folder(tmp_path, 20)
    first = index.update(tmp_path / "ix", folder)
    assert first.report.files == 20
    second = index.update(tmp_path / "ix", folder)
    assert second.info == first.info, "nothing changed: no file read, no commit"


def test_incremental_updates_read_only_what_changed_and_score_like_a_rebuild(tmp_path):
    folder = _folder(tmp_path, 30)
    index.update(tmp_path / "ix", folder)
    write(folder, "new.txt", "Volcano\n\nThe Reykjanes volcano erupted near the harbour.\n")
    write(folder, "s003.txt", "Story 3\n\nHarbour 3 stays closed, the port authority said on Monday.\n")
    (folder / "s007.txt").unlink()
    idx = index.update(tmp_path / "ix", folder)
    assert idx.report.files == 2, "only the new and the changed file were read"
    assert (idx.changed.added, idx.changed.changed, idx.changed.removed) == (("new",), ("s003",), ("s007",))
    assert idx.article_count == 30
    assert "stays closed" in index.answer(idx, "Is harbour 3 closed?").quotes[0].text
    assert not any(q.article.id == "s007" for q in index.answer(idx, "harbour 7 reopened storm", limit=10).quotes)
    fresh = index.update(tmp_path / "fresh", folder, full=True)
    for query in ("harbour storm", "volcano erupted", "port authority Monday", "officials said"):
        ours = [(h.article.id, round(h.score, 4)) for h in index.search(idx, query, k=40)]
        assert ours == [(h.article.id, round(h.score, 4)) for h in index.search(fresh, query, k=40)]


def test_an_update_keeps_one_copy_of_a_text_and_ids_unique(tmp_path):
    folder = _folder(tmp_path, 5)
    first = index.update(tmp_path / "ix", folder)
    write(folder, "copy.txt", (folder / "s001.txt").read_text(encoding="utf-8"))
    write(folder, "later/s002.txt", "Story 2b\n\nA ferry ran aground off harbour 2 on Tuesday.\n")
    idx = index.update(tmp_path / "ix", folder)
    ids = [a.id for a in idx.articles]
    assert len(ids) == len(set(ids)) == 6, "the copy of a staying text is left out; the taken id gets a suffix"
    assert index.search(idx, "ferry ran aground")[0].article.id.startswith("s002-")
    assert idx.first_seen("s001") == first.first_seen("s001")
    stored = idx.store
    by_lookup = [(n, stored.field(n, "id"), stored.field(n, "digest")) for n in stored.numbers()]
    assert list(stored.columns("id", "digest")) == by_lookup


def _spellings(folder: Path) -> dict[str, str]:
    """The same folder named five ways (the working folder is ``folder``'s parent)."""
    link = folder.parent / "link"
    if not link.exists():
        link.symlink_to(folder.name)
    return {
        "relative": folder.name,
        "absolute": str(folder),
        "trailing slash": f"{folder.name}/",
        "dotted": f"./{folder.name}/../{folder.name}",
        "link": "link",
    }


@pytest.mark.parametrize("first", ["relative", "absolute", "link"])
def test_the_articles_folder_is_the_same_however_it_is_spelled(tmp_path, monkeypatch, first):
    # Issue 15, finding 1: `newsbot index --articles $PWD/a` after `--articles a` committed an EMPTY index.
    folder = _folder(tmp_path, 6)
    monkeypatch.chdir(tmp_path)
    spellings = _spellings(folder)
    built = index.update("ix", spellings[first])
    assert built.article_count == 6
    for name, spelling in spellings.items():
        again = index.update("ix", spelling)
        assert again.article_count == 6, name
        assert not again.changed, f"{name}: the same folder, nothing changed, nothing rebuilt"
        rebuilt = index.update("ix", spelling, full=True)
        assert rebuilt.article_count == 6, f"{name}: a full rebuild"
        assert {a.id for a in rebuilt.articles} == {a.id for a in built.articles}
        assert rebuilt.first_seen("s001") == built.first_seen("s001")
    write(folder, "s002.txt", "Story 2\n\nHarbour 2 closed again after a second storm.\n")
    changed = index.update("ix", spellings["link"])
    assert changed.changed.changed == ("s002",)
    assert changed.article_count == 6


def test_an_index_that_names_its_folder_the_old_way_is_still_that_folder(tmp_path, monkeypatch):
    # Before issue 15 the folder was stored as spelled ("articles"); the same folder spelled otherwise is the same.
    folder = _folder(tmp_path, 4)
    monkeypatch.chdir(tmp_path)
    first = index.update("ix", folder)
    from index.segments import SegmentedIndex

    with SegmentedIndex.open("ix") as writer:
        writer.update_metadata({**writer.searcher.metadata, "articles_path": "articles/"})
    again = index.update("ix", str(folder))
    assert again.article_count == 4
    assert again.info.built_at == first.info.built_at, "recognised as the same folder: nothing read or rebuilt"


def test_a_rebuild_forced_by_other_settings_keeps_every_article(tmp_path):
    # The same bug by another road: any change that forces a rebuild (titles, BM25 settings) emptied the index.
    folder = _folder(tmp_path, 5)
    index.update(tmp_path / "ix", folder)
    assert index.update(tmp_path / "ix", folder, titles=False).article_count == 5
    okapi = index.Settings(variant="okapi", k1=1.5, b=0.75)
    assert index.update(tmp_path / "ix", folder, settings=okapi).article_count == 5
    assert index.update(tmp_path / "another", folder).article_count == 5


def test_an_update_never_commits_the_loss_of_articles_whose_files_are_there(tmp_path):
    # The safety net under finding 1: whatever a plan says, articles read from files that are still there must
    # be in the committed state; a plan that would drop them is refused and nothing is written.
    from index import core

    folder = _folder(tmp_path, 5)
    ix = tmp_path / "ix"
    previous = index.update(ix, folder)
    files_before = sorted(p.name for p in ix.iterdir())
    articles, _ = index.ingest(folder)
    wrong = core._Plan(full=True, read=None, dead=set())  # a rebuild that thinks the old articles stay
    new, staying = core._admit(articles, previous, wrong, folder)
    with pytest.raises(index.IndexWriteError, match="would drop 5 articles whose files are still there"):
        core._check_nothing_lost(previous, wrong, articles, new, staying, core.fingerprint(folder))
    assert sorted(p.name for p in ix.iterdir()) == files_before
    unread = core._Plan(full=False, read=set(), dead={0})  # an incremental plan that kills an unchanged file's article
    new, staying = core._admit([], previous, unread, folder)
    with pytest.raises(index.IndexWriteError, match="would drop 1 article whose files are still there"):
        core._check_nothing_lost(previous, unread, [], new, staying, core.fingerprint(folder))


def test_merges_keep_scores_and_drop_deleted_passages(tmp_path):
    folder = _folder(tmp_path, 5)
    ix = tmp_path / "ix"
    index.update(ix, folder)
    for i in range(12):  # many small updates make many small segments
        write(folder, f"extra{i}.txt", f"Extra {i}\n\nA ferry number {i} sailed from the harbour.\n")
        index.update(ix, folder)
    before = index.load(ix)
    merged = index.maintain(ix)
    assert merged is not None
    assert len(merged.searcher.segments) < len(before.searcher.segments)
    for query in ("ferry harbour", "storm officials"):
        assert [h.score for h in index.search(merged, query, k=20)] == pytest.approx(
            [h.score for h in index.search(before, query, k=20)]
        )


def disk_bytes(folder: Path) -> tuple[int, int]:
    """Bytes of every file under ``folder``: their sizes, and the blocks they take on disk."""
    files = [p.stat() for p in folder.rglob("*") if p.is_file()]
    return sum(f.st_size for f in files), sum(f.st_blocks * 512 for f in files)


def _story(rng, number: int) -> str:
    words = [f"w{rng.randint(0, 20_000)}" for _ in range(rng.randint(100, 900))]
    sentences = [" ".join(words[i : i + 15]).capitalize() + "." for i in range(0, len(words), 15)]
    return json.dumps({"id": f"a{number}", "title": f"Story {number}", "text": " ".join(sentences)})


def test_removed_articles_give_their_disk_back(tmp_path):
    # Issue 15, finding 3: article batches kept the texts of removed articles forever: 300 live articles went
    # 2.0 -> 8.4 MB after 6 add/remove cycles. Merges compact batches: the index stays within 1.5x a fresh build.
    import random

    rng = random.Random(3)
    folder, ix = tmp_path / "articles", tmp_path / "ix"
    folder.mkdir()
    made = 0
    for _ in range(300):
        write(folder, f"{made}.json", _story(rng, made))
        made += 1
    index.update(ix, folder)
    for _ in range(6):
        for path in rng.sample(sorted(folder.iterdir()), 150):
            path.unlink()
        index.maintain(ix)
        index.update(ix, folder)
        index.maintain(ix)
        for _ in range(150):
            write(folder, f"{made}.json", _story(rng, made))
            made += 1
        idx = index.update(ix, folder)
        idx = index.maintain(ix) or idx
        assert idx.article_count == 300
    fresh = index.update(tmp_path / "fresh", folder, full=True)
    assert {a.id for a in idx.articles} == {a.id for a in fresh.articles}
    ours, theirs = disk_bytes(ix), disk_bytes(tmp_path / "fresh")
    assert ours[0] <= 1.5 * theirs[0], f"{ours[0] / theirs[0]:.2f}x a fresh build's bytes"
    assert ours[1] <= 1.5 * theirs[1], f"{ours[1] / theirs[1]:.2f}x a fresh build's disk blocks"


def test_maintain_compacts_batches_and_keeps_every_article_findable(tmp_path):
    folder = _folder(tmp_path, 40)
    ix = tmp_path / "ix"
    index.update(ix, folder)
    for i in range(0, 40, 2):  # half the articles go: their batch is half dead
        (folder / f"s{i:03d}.txt").unlink()
    before = index.update(ix, folder)
    compacted = index.maintain(ix)
    assert compacted is not None, "maintain compacts the batch (it returned None before issue 15)"
    assert sum(len(b.numbers) for b in compacted.store.batches) == 20
    assert [a.id for a in compacted.articles] == [a.id for a in before.articles]


    def passages(idx: index.Index) -> list[tuple]:
        live = idx.searcher.live_numbers().tolist()
        return [(p.article_id, p.start, p.end, p.text, tuple(idx.passage_sentences(n))) for n in live
                for p in [idx.passage(n)]]

    assert passages(compacted) == passages(before)
    assert compacted.first_seen("s001") == before.first_seen("s001")
    loaded = index.load(ix)
    assert index.answer(loaded, "harbour 13 reopened").quotes[0].article.id == "s013"
    assert index.maintain(ix) is None, "nothing left to do"


def test_a_reader_of_the_state_a_compaction_replaced_reads_again(tmp_path):
    # A process that read CURRENT just before a compaction finds the old batch gone: it must read the new state
    # (load retries on a missing file), not report the index as damaged.
    from index import local
    from index.segments import open_searcher

    folder = _folder(tmp_path, 40)
    ix = tmp_path / "ix"
    index.update(ix, folder)
    for i in range(0, 40, 2):
        (folder / f"s{i:03d}.txt").unlink()
    index.update(ix, folder)
    stale = open_searcher(ix)  # what a reader had read when the compaction ran
    assert index.maintain(ix) is not None
    with pytest.raises(FileNotFoundError):
        local._open_state(ix, stale)
    assert index.load(ix).article_count == 20


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``, by pid, with its start time (so a reused pid is not taken for it)."""
    out, stack = {}, _children(pid)
    while stack:
        child = stack.pop()
        started = _started(child)
        if started:
            out[child] = started
            stack += _children(child)
    return out


def _started(pid: int) -> str | None:
    """The start time of a live process (None when it is gone or a zombie waiting to be reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return None if fields[0] in "ZX" else fields[19]


def _wait_until(condition, bound: float, every: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or ``bound`` seconds have passed (a bound on a hang, not a timing)."""
    import time

    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


@pytest.mark.slow
def test_kill_9_of_newsbot_index_leaves_no_process_behind(tmp_path):
    # Issue 15, finding 4: after kill -9 of `newsbot index`, the forkserver, its resource tracker and a worker were
    # still alive 36 s later. Workers (and the processes serving them) end when the process they work for dies.
    folder = tmp_path / "articles"
    body = " ".join(f"Harbour {{i}} reopened after the storm number {n}, officials said." for n in range(30))
    lines = [json.dumps({"id": f"a{i}", "title": f"Story {i}", "text": body.format(i=i)}) for i in range(8000)]
    write(folder, "many.jsonl", "\n".join(lines) + "\n")
    command = [sys.executable, "-m", "bot.cli", "index", "--articles", str(folder), "--index", str(tmp_path / "ix")]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    proc = subprocess.Popen(command, cwd=tmp_path, env=process_env(), **quiet)
    try:
        seen: dict[int, str] = {}

        def workers_started() -> bool:
            seen.update(_descendants(proc.pid))
            return len(seen) >= 4 or proc.poll() is not None  # forkserver, resource tracker, two workers

        assert _wait_until(workers_started, 120), "the analysis workers never started"
        assert proc.poll() is None, "the build ended before it could be killed"
        proc.kill()
        assert proc.wait(30) == -signal.SIGKILL
        alive = lambda: {pid for pid, started in seen.items() if _started(pid) == started}  # noqa: E731
        assert _wait_until(lambda: not alive(), 30), f"still alive after the kill: {sorted(alive())}"
    finally:
        proc.kill()
        proc.wait()
        for pid, started in seen.items():  # the test's own leftovers, if it failed
            if _started(pid) == started:
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_index_files_are_private(tmp_path, seeds_dir, umask):
    # Issue 15, finding 5: INDEX_DIR/LOCK was 0644 (it was opened with the process's umask); every file and folder
    # the index writes is its owner's only, whatever the umask, through an update, a merge and a writer's open.
    from index.segments import SegmentedIndex

    old = os.umask(umask)
    try:
        ix = tmp_path / "ix"
        index.update(ix, seeds_dir)
        write(tmp_path / "more", "a.txt", "A\n\nAlpha story.\n")
        index.update(ix, tmp_path / "more")
        index.maintain(ix)
        with SegmentedIndex.open(tmp_path / "segments"):
            pass
    finally:
        os.umask(old)
    for folder in (ix, tmp_path / "segments"):
        assert folder.stat().st_mode & 0o077 == 0
        for path in folder.rglob("*"):
            assert path.stat().st_mode & 0o077 == 0, f"{path.name} is {oct(path.stat().st_mode & 0o777)}"


def test_an_existing_lock_file_is_made_private(tmp_path, seeds_dir):
    ix = tmp_path / "ix"
    index.update(ix, seeds_dir)
    (ix / "LOCK").chmod(0o644)  # left by an older newsbot
    index.update(ix, seeds_dir, full=True)
    assert (ix / "LOCK").stat().st_mode & 0o777 == 0o600


def test_analysis_in_worker_processes_gives_the_same_terms(tmp_path):
    from index.pipeline import analyse
    from index.sentences import SentenceSplitter

    body = "Harbour {i} said on Monday. " * 20 + "The U.S. Army left.\n\nA second one."
    pairs = [(f"Title {i}", body.format(i=i)) for i in range(60)]
    splitter = SentenceSplitter(text for _, text in pairs)
    here = list(analyse(pairs, splitter, titles=True, workers=1))
    import index.pipeline

    index.pipeline.PARALLEL_MIN, saved = 10, index.pipeline.PARALLEL_MIN
    try:
        there = list(analyse(pairs, splitter, titles=True, workers=2))
        counted_there = list(analyse(pairs, splitter, titles=True, workers=2, counted=True))
    finally:
        index.pipeline.PARALLEL_MIN = saved
    counted_here = list(analyse(pairs, splitter, titles=True, workers=1, counted=True))
    assert [a.terms for a in there] == [a.terms for a in here]
    # Counted by the workers (a vocabulary per chunk) or here (one per article): the same counts per passage.
    expected = [[Counter(t.split()) for t in a.terms] for a in here]
    for results in (counted_there, counted_here):
        assert [_bag_counts(a.bag) for a in results] == expected
        assert [a.passages for a in results] == [a.passages for a in here]
    assert [a.passages for a in there] == [a.passages for a in here]
    assert all(np.array_equal(a.sentences, b.sentences) for a, b in zip(there, here, strict=True))


def _bag_counts(bag) -> list[Counter]:
    """Each passage's term counts in a Bag of the analysis pipeline."""
    bounds = np.concatenate([[0], np.cumsum(bag.sizes)])
    return [
        Counter({bag.vocabulary[int(t)]: int(n) for t, n in zip(bag.ids[a:b], bag.counts[a:b], strict=True)})
        for a, b in itertools.pairwise(bounds)
    ]


def _fill_disk_except(mount: Path, keep: int) -> Path:
    filler = mount / "filler"
    free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
    filler.write_bytes(b"\0" * max(0, free - keep))
    return filler


@pytest.fixture
def small_disk(tmp_path):
    """A real 4 MB file system (tmpfs), for what only a full disk shows. Needs root to mount."""
    yield from small_filesystem(tmp_path, "4m")


def _big(tmp_path: Path, n: int = 40) -> Path:
    folder = tmp_path / "big"
    for i in range(n):
        write(folder, f"s{i}.txt", f"Story {i}\n\n" + f"Harbour {i} news about ships and cargo. " * 200)
    return folder


@pytest.mark.slow
def test_full_disk_keeps_the_old_index_and_leaves_nothing_behind(small_disk, tmp_path, seeds_dir):
    ix = small_disk / "ix"
    index.update(ix, seeds_dir)
    before = sorted(p.name for p in ix.iterdir())
    bigger = _big(tmp_path)
    filler = _fill_disk_except(small_disk, keep=200_000)
    for _ in range(3):  # each retry fails the same way and adds nothing
        with pytest.raises(index.IndexWriteError, match=r"no space left on the index disk \([\d.]+ MB needed"):
            index.update(ix, bigger)
        assert sorted(p.name for p in ix.iterdir()) == before, "nothing of the failed update remains"
    assert index.answer(index.load(ix), QUESTION).answered
    filler.unlink()
    assert index.search(index.update(ix, bigger), "harbour cargo")


def test_disk_filling_up_during_an_update(small_disk, tmp_path, seeds_dir):
    ix = small_disk / "ix"
    index.update(ix, seeds_dir)
    before = sorted(p.name for p in ix.iterdir())

    def another_process_fills_the_disk(stage: str, done: int, total: int) -> None:
        if stage == "indexing":
            _fill_disk_except(small_disk, keep=0)

    with pytest.raises(index.IndexWriteError, match="no space left on the index disk"):
        index.update(ix, _big(tmp_path, 20), progress=another_process_fills_the_disk, workers=1)
    assert sorted(p.name for p in ix.iterdir()) == before
    assert index.answer(index.load(ix), QUESTION).answered


def test_a_script_without_a_main_guard_still_builds_in_one_process(tmp_path):
    # Worker processes re-import the calling script; without `if __name__ == "__main__":` they cannot start.
    articles = tmp_path / "articles"
    articles.mkdir()
    for i in range(40):
        (articles / f"a{i}.txt").write_text(f"Harbour story {i}\n\nThe harbour bridge opened on day {i}.\n")
    script = tmp_path / "script.py"
    script.write_text(
        "import index, index.pipeline\n"
        "index.pipeline.PARALLEL_MIN = 10\n"
        f"idx = index.update({str(tmp_path / 'ix')!r}, {str(articles)!r}, workers=2)\n"
        "print(idx.article_count)\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=process_env(), check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "40"
    assert "analysing in this process instead" in result.stderr


def test_a_worker_chunk_spread_over_several_segments_builds_the_index_one_process_builds(tmp_path, monkeypatch):
    # A worker's chunk shares one vocabulary; a segment that ends inside the chunk holds only the terms its own
    # passages use (a term without postings is a corrupt segment).
    import index.local
    import index.pipeline

    articles = tmp_path / "articles"
    for i in range(40):
        write(articles, f"a{i}.txt", f"Harbour story {i}\n\nThe harbour bridge{i} opened on day {i}.\n")
    monkeypatch.setattr(index.local, "SEGMENT_PASSAGES", 3)
    monkeypatch.setattr(index.pipeline, "PARALLEL_MIN", 10)
    here = index.update(tmp_path / "here", articles, workers=1)
    there = index.update(tmp_path / "there", articles, workers=2)
    assert len(there.searcher.segments) > 1
    assert [there.document_frequency(f"bridge{i}") for i in range(40)] == [1] * 40
    for question in (["harbour"], ["bridge7", "day"], ["bridge39"]):
        found, expected = there.top(question, 5), here.top(question, 5)
        assert [there.article_of(int(n)).id for n in found.docs] == [here.article_of(int(n)).id for n in expected.docs]
        np.testing.assert_allclose(found.scores, expected.scores)
