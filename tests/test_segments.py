"""Segments score exactly like rank-bm25 on the live passages; commits survive kill -9; damage is caught."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from index.bm25 import Settings
from index.errors import IndexCorrupt, IndexNotFound, InvalidOption
from index.segments import (
    IndexLocked,
    MergePolicy,
    SegmentedIndex,
    open_searcher,
    plan_merges,
    write_counted_segment,
    write_segment,
)
from index.segments import searcher as segments_module

from .conftest import ROOT
from .test_bm25 import assert_same_ranking

ORACLES = {"okapi": BM25Okapi, "l": BM25L, "plus": BM25Plus}
WORDS = [f"w{i}" for i in range(10)]

documents = st.lists(st.sampled_from(WORDS), min_size=0, max_size=8)
queries = st.lists(st.sampled_from([*WORDS, "unknown"]), min_size=1, max_size=5)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.lists(documents, min_size=1, max_size=6)),
        st.tuples(st.just("delete"), st.lists(st.integers(0, 10**6), min_size=1, max_size=4)),
        st.tuples(st.just("merge"), st.integers(0, 10**6), st.integers(1, 4)),
    ),
    min_size=1,
    max_size=7,
)


def live_corpus(searcher, corpus: dict[int, list[str]]) -> tuple[np.ndarray, list[list[str]]]:
    """Live global numbers and their passages, found through the rows (column 0 = the model's passage id)."""
    numbers = searcher.live_numbers()
    return numbers, [corpus[int(searcher.rows(int(n))[0])] for n in numbers]


def check_against_oracles(searcher, live_docs, numbers, query, k, variant, fresh=None) -> None:
    ours_all = searcher.scores(query)
    assert len(ours_all) == searcher.n_numbers
    dead = np.setdiff1d(np.arange(searcher.n_numbers), numbers)
    assert np.all(np.isneginf(ours_all[dead])), "deleted passages score -inf"
    matched = [i for i, doc in enumerate(live_docs) if set(doc) & set(query)]
    top = searcher.top(query, k)
    if not any(live_docs):
        assert len(top.docs) == 0
        return
    ref = ORACLES[variant](live_docs).get_scores(query)
    ours = ours_all[numbers]
    assert_same_ranking(ours, ref)
    if fresh is not None:
        np.testing.assert_allclose(ours, fresh.scores(query), rtol=1e-6, atol=1e-9)
    # top: only live passages with a query term, the oracle's best scores in order, each its own oracle score
    position = {int(n): i for i, n in enumerate(numbers)}
    assert len(top.docs) == min(k, len(matched))
    assert {position[int(d)] for d in top.docs} <= set(matched)
    expected = sorted((ref[i] for i in matched), reverse=True)[:k]
    np.testing.assert_allclose(top.scores, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(top.scores, [ref[position[int(d)]] for d in top.docs], rtol=1e-5, atol=1e-6)
    for term in set(query):
        assert searcher.document_frequency(term) == sum(term in doc for doc in live_docs)


@settings(max_examples=80, deadline=None)
@given(
    ops=operations,
    query_list=st.lists(queries, min_size=1, max_size=3),
    variant=st.sampled_from(sorted(ORACLES)),
    small_segment=st.sampled_from([0, 4096]),
)
def test_any_history_scores_like_a_fresh_build_and_rank_bm25(ops, query_list, variant, small_segment):
    # small_segment 0 sends every segment through MaxScore; 4096 scores these small ones whole.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(segments_module, "_SMALL_SEGMENT", small_segment)
        replay(ops, query_list, variant)


def replay(ops, query_list, variant) -> None:
    bm25 = Settings(variant=variant)
    corpus: dict[int, list[str]] = {}
    expected_live: list[int] = []
    with tempfile.TemporaryDirectory() as tmp, SegmentedIndex.open(Path(tmp, "ix"), settings=bm25) as writer:
        for step, op in enumerate(ops):
            searcher = writer.searcher
            if op[0] == "add":
                ids = list(range(len(corpus), len(corpus) + len(op[1])))
                corpus.update(zip(ids, op[1], strict=True))
                expected_live += ids
                searcher = writer.add(op[1], rows=np.asarray(ids).reshape(-1, 1))
            elif op[0] == "delete":
                if searcher.n_numbers == 0:
                    continue
                numbers = sorted({n % searcher.n_numbers for n in op[1]})
                gone = {int(searcher.rows(n)[0]) for n in numbers}
                expected_live = [i for i in expected_live if i not in gone]
                searcher = writer.delete(numbers)
            else:
                entries = searcher.segments
                if not entries:
                    continue
                start = op[1] % len(entries)
                names = [e.segment.name for e in entries[start : start + op[2]]]
                searcher = writer.merge(names)
            numbers, live_docs = live_corpus(searcher, corpus)
            assert [int(searcher.rows(int(n))[0]) for n in numbers] == expected_live, "merges keep the global order"
            assert len(searcher) == len(expected_live)
            fresh = None
            if live_docs:
                with SegmentedIndex.open(Path(tmp, f"fresh-{step}"), settings=bm25) as other:
                    fresh = other.add(live_docs)
            for query in query_list:
                for k in (1, 3, 10):
                    check_against_oracles(searcher, live_docs, numbers, query, k, variant, fresh)


@pytest.mark.parametrize("small_segment", [0, 4096])
@pytest.mark.parametrize("variant", sorted(ORACLES))
def test_ties_go_to_the_lower_global_number_across_segments(tmp_path, variant, small_segment, monkeypatch):
    monkeypatch.setattr(segments_module, "_SMALL_SEGMENT", small_segment)
    with SegmentedIndex.open(tmp_path, settings=Settings(variant=variant)) as writer:
        for _ in range(3):
            writer.add([["a", "b"], ["c"], ["a", "b"]])
        assert writer.searcher.top(["a"], 3).docs.tolist() == [0, 2, 3]
        assert writer.delete([0, 3]).top(["a"], 3).docs.tolist() == [2, 5, 6]


@pytest.mark.parametrize("small_segment", [0, 4096])
def test_a_small_segment_is_skipped_only_when_it_cannot_compete(tmp_path, small_segment, monkeypatch):
    monkeypatch.setattr(segments_module, "_SMALL_SEGMENT", small_segment)
    big = [["common", f"x{i}"] for i in range(300)] + [["rare", "rare", "common"]]
    with SegmentedIndex.open(tmp_path, settings=Settings(variant="plus")) as writer:
        writer.add(big)
        searcher = writer.add([["common"], ["rare"]])
        docs = [*big, ["common"], ["rare"]]
        for query in (["rare"], ["common"], ["rare", "common"], ["common", "x5"]):
            check_against_oracles(searcher, docs, np.arange(len(docs)), query, 5, "plus")


@settings(max_examples=60, deadline=None)
@given(passages=st.lists(documents, min_size=1, max_size=12), seed=st.integers(0, 2**32 - 1))
def test_passages_counted_before_writing_give_the_same_segment_files(passages, seed):
    """The local build counts terms in its analysis workers; the files must be those of the plain term lists."""
    from collections import Counter

    rng = np.random.default_rng(seed)
    terms = sorted({t for p in passages for t in p} | {"unused"})  # a shared vocabulary has terms of other passages
    terms = [terms[i] for i in rng.permutation(len(terms))]  # any order: the workers number terms as they meet them
    position = {t: i for i, t in enumerate(terms)}
    counted = [Counter(p) for p in passages]
    ids = np.array([position[t] for c in counted for t in c], dtype=np.int32)
    counts = np.array([n for c in counted for n in c.values()], dtype=np.int32)
    sizes = np.array([len(c) for c in counted], dtype=np.int32)
    rows = np.arange(len(passages) * 2).reshape(-1, 2)
    with tempfile.TemporaryDirectory() as tmp:
        plain = write_segment(tmp, passages, rows=rows)
        if not len(ids):
            ids = counts = np.zeros(0, dtype=np.int32)
        again = write_counted_segment(tmp, terms=terms, ids=ids, counts=counts, sizes=sizes, rows=rows)
        meta = [json.loads((Path(tmp) / info.name / "segment.json").read_bytes()) for info in (plain, again)]
    assert meta[0] == meta[1]
    assert (plain.documents, plain.terms, plain.postings) == (again.documents, again.terms, again.postings)


def test_round_trip_keeps_scores_rows_and_metadata(tmp_path):
    docs = [["libya", "air", "base"], ["haftar", "forces"], [], ["air", "strike", "air"]]
    rows = np.array([[0, 0, 10], [0, 11, 30], [1, 0, 0], [1, 1, 40]])
    with SegmentedIndex.open(tmp_path, settings=Settings(variant="plus", k1=0.9, b=0.4)) as writer:
        writer.add(docs[:2], rows=rows[:2], metadata={"punkt": {"abbrev": ["u.s"]}})
        writer.add(docs[2:], rows=rows[2:])
        before = writer.delete([1])
    assert not [p for p in tmp_path.rglob("*") if p.suffix in {".pkl", ".pickle"}]
    with SegmentedIndex.open(tmp_path) as reopened:
        writer_view = reopened.searcher
    for again in (open_searcher(tmp_path), writer_view):
        assert again.metadata == {"punkt": {"abbrev": ["u.s"]}}
        assert again.settings == Settings(variant="plus", k1=0.9, b=0.4)
        assert (len(again), again.n_numbers) == (3, 4)
        assert [again.is_live(n) for n in (1, 3, 99)] == [False, True, False]
        assert again.rows(3).tolist() == [1, 1, 40]
        np.testing.assert_array_equal(again.scores(["air"]), before.scores(["air"]))
        assert again.top(["air", "haftar"], 5).docs.tolist() == before.top(["air", "haftar"], 5).docs.tolist()


def test_whole_articles_are_deleted_through_their_rows(tmp_path):
    with SegmentedIndex.open(tmp_path) as writer:
        writer.add([["a"], ["b"], ["c"]], rows=np.array([[7], [7], [8]]))
        writer.add([["a"], ["d"]], rows=np.array([[9], [7]]))
        assert writer.searcher.numbers_where(0, [7]).tolist() == [0, 1, 4]
        searcher = writer.delete_where(0, [7])
        assert searcher.live_numbers().tolist() == [2, 3]
        assert searcher.document_frequency("a") == 1
        assert searcher.top(["b", "d"], 5).docs.tolist() == []


def test_an_empty_index_answers_nothing(tmp_path):
    with SegmentedIndex.open(tmp_path) as writer:
        assert len(writer.searcher) == 0
        assert writer.searcher.top(["a"], 3).docs.tolist() == []
        writer.add([["a"]])
        searcher = writer.delete([0])
        assert searcher.top(["a"], 3).docs.tolist() == []
        assert searcher.document_frequency("a") == 0
        assert searcher.scores(["a"]).tolist() == [-np.inf]
        assert writer.merge([searcher.segments[0].segment.name]).segments == ()


def test_bad_arguments_name_what_is_accepted(tmp_path):
    with SegmentedIndex.open(tmp_path) as writer:
        with pytest.raises(InvalidOption, match="at least one passage"):
            writer.add([])
        with pytest.raises(InvalidOption, match=r"shape \(2, m\)"):
            writer.add([["a"], ["b"]], rows=np.zeros(3, dtype=np.int64))
        writer.add([["a"]], rows=np.zeros((1, 2), dtype=np.int64))
        with pytest.raises(InvalidOption, match="2 columns"):
            writer.add([["a"]], rows=np.zeros((1, 3), dtype=np.int64))
        with pytest.raises(InvalidOption, match=r"outside 0\.\.0"):
            writer.delete([5])
        first = writer.add([["b"]], rows=np.zeros((1, 2), dtype=np.int64)).segments[0].segment.name
        writer.add([["c"]], rows=np.zeros((1, 2), dtype=np.int64))
        last = writer.searcher.segments[2].segment.name
        with pytest.raises(InvalidOption, match="adjacent"):
            writer.merge([first, last])
        with pytest.raises(InvalidOption, match="bm42"):
            writer.merge(["bm42"])
    with pytest.raises(InvalidOption, match="rebuild to change them"):
        SegmentedIndex.open(tmp_path, settings=Settings(variant="l"))
    with pytest.raises(IndexNotFound):
        open_searcher(tmp_path / "nowhere")


def test_one_writer_at_a_time(tmp_path):
    writer = SegmentedIndex.open(tmp_path)
    with pytest.raises(IndexLocked, match="another writer"):
        SegmentedIndex.open(tmp_path)
    writer.close()
    SegmentedIndex.open(tmp_path).close()


# --------------------------------------------------------------------------------------------------- merge policy


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        pytest.param([(100, 0)] * 9, [], id="nine-small-wait"),
        pytest.param([(100, 0)] * 10, [range(0, 10)], id="ten-small-merge"),
        pytest.param([(100, 0)] * 23, [range(0, 10), range(10, 20)], id="at-most-ten-at-once"),
        pytest.param([(500_000, 0)] + [(100, 0)] * 10, [range(1, 11)], id="big-one-stays"),
        pytest.param([(50_000, 0)] * 10 + [(800, 0)], [range(0, 10)], id="tier-of-similar-size"),
        pytest.param([(1000, 300), (1000, 100)], [range(0, 1)], id="thirty-percent-deleted"),
        pytest.param([(100, 0)] * 4 + [(5000, 0)] + [(100, 0)] * 6, [], id="only-adjacent"),
        pytest.param([(40, 40)], [range(0, 1)], id="all-deleted"),
    ],
)
def test_tiered_policy(segments, expected):
    assert plan_merges(segments, policy=MergePolicy()) == expected


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        pytest.param([(100, 0)] * 2, [], id="two-small-wait"),
        pytest.param([(100, 0)] * 3, [range(0, 3)], id="three-small-merge"),
        pytest.param([(5000, 0)] * 3 + [(100, 0)] * 2, [], id="larger-tiers-still-wait-for-ten"),
        pytest.param([(1000, 200), (1000, 100)], [range(0, 1)], id="a-fifth-deleted"),
    ],
)
def test_a_policy_that_merges_small_segments_sooner(segments, expected):
    policy = MergePolicy(floor_segments=3, deleted_ratio=0.2)
    assert plan_merges(segments, policy=policy) == expected


def test_policy_merges_through_the_writer(tmp_path):
    with SegmentedIndex.open(tmp_path) as writer:
        for i in range(10):
            writer.add([[f"t{i}", "common"]])
        assert len(writer.plan_merges()) == 1
        searcher = writer.maybe_merge()
        assert len(searcher.segments) == 1
        assert searcher.document_frequency("common") == 10
        assert writer.plan_merges() == []


def test_bad_policy_is_refused():
    with pytest.raises(InvalidOption, match="deleted_ratio"):
        MergePolicy(deleted_ratio=0)
    with pytest.raises(InvalidOption, match="floor_segments"):
        MergePolicy(floor_segments=1)


# ---------------------------------------------------------------------------------------- merges in the background


def test_merge_in_a_background_thread_keeps_deletes_that_arrive_meanwhile(tmp_path):
    corpus = {i: [f"w{i % 7}", f"w{i % 3}", "all"] for i in range(40)}
    with SegmentedIndex.open(tmp_path, settings=Settings(variant="plus")) as writer:
        for start in range(0, 40, 10):
            writer.add([corpus[i] for i in range(start, start + 10)], rows=np.arange(start, start + 10).reshape(-1, 1))
        writer.delete_where(0, [0, 11])  # before the merge starts: dropped by the merge itself
        names = [e.segment.name for e in writer.searcher.segments[:3]]
        merge = writer.begin_merge(names)
        with pytest.raises(InvalidOption, match="already being merged"):
            writer.begin_merge(names[1:2])
        writing, proceed, failures = threading.Event(), threading.Event(), []

        def hold(step: str) -> None:
            if step == "segment:docs.npy":
                writing.set()
                proceed.wait()

        def run() -> None:
            try:
                merge.run(progress=hold)
            except BaseException as exc:  # reported to the test thread below
                failures.append(exc)
                writing.set()

        worker = threading.Thread(target=run)
        worker.start()
        writing.wait()
        # Meanwhile the old manifest serves, and deletes and adds arrive on merged and unmerged segments.
        writer.delete_where(0, [5, 12, 25, 33])
        writer.add([["late", "all"]], rows=np.array([[40]]))
        corpus[40] = ["late", "all"]
        assert writer.searcher.top(["w5"], 3).docs.size
        proceed.set()
        worker.join()
        assert not failures
        writer.delete_where(0, [21])  # after the merge ran, before it commits
        searcher = writer.commit_merge(merge)
        assert [e.segment.documents for e in searcher.segments] == [28, 10, 1]
        expected = [i for i in range(41) if i not in {0, 11, 5, 12, 25, 33, 21}]
        numbers = searcher.live_numbers()
        assert [int(searcher.rows(int(n))[0]) for n in numbers] == expected
        live_docs = [corpus[i] for i in expected]
        for query in (["all"], ["w5", "w1"], ["late", "w2"]):
            check_against_oracles(searcher, live_docs, numbers, query, 5, "plus")
    reopened = open_searcher(tmp_path)
    assert reopened.live_numbers().tolist() == searcher.live_numbers().tolist()
    assert {p.name for p in tmp_path.iterdir()} == reopened.manifest.files() | {"CURRENT", "LOCK"}


# ------------------------------------------------------------------------------------------------- kill -9, damage

KILLED_COMMIT = """
import os, signal, sys
import numpy as np
from index.segments import SegmentedIndex
root, operation, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
steps = []
def progress(step):
    steps.append(step)
    if len(steps) == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
writer = SegmentedIndex.open(root, progress=progress)
if operation == "add":
    writer.add([["volcano", "iceland"], ["volcano"]], rows=np.array([[90], [91]]))
elif operation == "delete":
    writer.delete_where(0, [1])
else:
    writer.merge([e.segment.name for e in writer.searcher.segments])
print(len(steps))
"""


def _seed(root: Path) -> None:
    with SegmentedIndex.open(root, settings=Settings(variant="plus")) as writer:
        writer.add([["air", "base"], ["haftar", "volcano"]], rows=np.array([[0], [1]]))
        writer.add([["air", "strike"]], rows=np.array([[2]]))


def _state(root: Path) -> tuple[list[int], list[float]]:
    searcher = open_searcher(root)
    rows = [int(searcher.rows(int(n))[0]) for n in searcher.live_numbers()]
    return rows, searcher.scores(["volcano", "air"])[searcher.live_numbers()].round(6).tolist()


def _run(root: Path, operation: str, kill_at: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", KILLED_COMMIT, str(root), operation, str(kill_at)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("operation", ["add", "delete", "merge"])
def test_kill_at_every_step_of_a_commit_leaves_a_loadable_index(tmp_path, operation):
    done = tmp_path / "done"
    _seed(done)
    before = _state(done)
    finished = _run(done, operation, 0)
    assert finished.returncode == 0, finished.stderr
    after = _state(done)
    n_steps = int(finished.stdout)
    assert n_steps >= 4
    for kill_at in range(1, n_steps + 1):
        root = tmp_path / f"killed-{kill_at}"
        _seed(root)
        killed = _run(root, operation, kill_at)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert _state(root) in (before, after)
        # A kill before CURRENT moves keeps the previous index; the next writer removes the leftovers.
        with SegmentedIndex.open(root) as writer:
            names = {p.name for p in root.iterdir()}
            assert names == writer.manifest.files() | {"CURRENT", "LOCK"}
            writer.add([["after", "volcano"]], rows=np.array([[99]]))
        assert open_searcher(root).document_frequency("after") == 1


def _reseal(root: Path, segment: str, file_name: str, data: bytes) -> None:
    """Rewrite one segment file *with* valid checksums all along the chain, as a buggy writer would."""
    folder = root / segment
    (folder / file_name).write_bytes(data)
    meta = json.loads((folder / "segment.json").read_text())
    meta["files"][file_name] = [len(data), xxhash.xxh3_64_hexdigest(data)]
    meta_bytes = json.dumps(meta).encode()
    (folder / "segment.json").write_bytes(meta_bytes)
    manifest_name = (root / "CURRENT").read_text().split()[0]
    manifest = json.loads((root / manifest_name).read_text())
    for entry in manifest["segments"]:
        if entry["name"] == segment:
            entry["checksum"] = xxhash.xxh3_64_hexdigest(meta_bytes)
    manifest_bytes = json.dumps(manifest).encode()
    (root / manifest_name).write_bytes(manifest_bytes)
    (root / "CURRENT").write_text(f"{manifest_name} {xxhash.xxh3_64_hexdigest(manifest_bytes)}\n")


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _flip(path: Path, where: float = 0.9) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0x5A
    path.write_bytes(bytes(data))


def _segment(root: Path) -> Path:
    return next(root.glob("seg-*"))


DAMAGE = [
    pytest.param(lambda root: _flip(_segment(root) / "docs.npy"), id="flipped-docs"),
    pytest.param(lambda root: _flip(_segment(root) / "tf.npy"), id="flipped-tf"),
    pytest.param(lambda root: _flip(_segment(root) / "offsets.npy"), id="flipped-offsets"),
    pytest.param(lambda root: _flip(_segment(root) / "lengths.npy"), id="flipped-lengths"),
    pytest.param(lambda root: _flip(_segment(root) / "vocabulary.json", 0.5), id="flipped-vocabulary"),
    pytest.param(lambda root: _flip(_segment(root) / "segment.json", 0.5), id="flipped-segment-json"),
    pytest.param(lambda root: _flip(next(root.glob("manifest-*")), 0.5), id="flipped-manifest"),
    pytest.param(lambda root: _flip(next(root.glob("del-*")), 0.99), id="flipped-tombstones"),
    pytest.param(lambda root: (root / "CURRENT").write_text("manifest-0000000099.json 0\n"), id="dangling-current"),
    pytest.param(lambda root: (root / "CURRENT").write_text("garbage"), id="garbage-current"),
    pytest.param(
        lambda root: (_segment(root) / "docs.npy").write_bytes((_segment(root) / "docs.npy").read_bytes()[:-4]),
        id="truncated-docs",
    ),
    pytest.param(lambda root: (_segment(root) / "rows.npy").unlink(), id="missing-rows"),
    pytest.param(
        lambda root: _reseal(
            root, _segment(root).name, "docs.npy", _npy(np.load(_segment(root) / "docs.npy")[::-1].copy())
        ),
        id="scrambled-doc-ids-resealed",
    ),
    pytest.param(
        lambda root: _reseal(root, _segment(root).name, "docs.npy", _npy(np.load(_segment(root) / "docs.npy") + 50)),
        id="doc-ids-out-of-range-resealed",
    ),
    pytest.param(
        lambda root: _reseal(
            root, _segment(root).name, "lengths.npy", _npy(np.load(_segment(root) / "lengths.npy") + 1)
        ),
        id="lengths-inconsistent-resealed",
    ),
    pytest.param(
        lambda root: _reseal(
            root,
            _segment(root).name,
            "vocabulary.json",
            json.dumps(json.loads((_segment(root) / "vocabulary.json").read_text())[::-1]).encode(),
        ),
        id="vocabulary-unsorted-resealed",
    ),
    pytest.param(
        lambda root: _reseal(
            root, _segment(root).name, "tf.npy", _npy(np.load(_segment(root) / "tf.npy").astype("f4"))
        ),
        id="float-term-frequencies-resealed",
    ),
]


@pytest.mark.parametrize("damage", DAMAGE)
def test_damage_gives_index_corrupt_in_one_line(tmp_path, damage):
    with SegmentedIndex.open(tmp_path, settings=Settings(variant="plus")) as writer:
        writer.add([[f"w{i % 5}", f"w{i % 3}", "x"] for i in range(60)], rows=np.arange(60).reshape(-1, 1))
        writer.delete([3, 10])
    damage(tmp_path)
    for opener in (open_searcher, SegmentedIndex.open):
        with pytest.raises(IndexCorrupt) as info:
            opener(tmp_path)
        assert "\n" not in str(info.value)
        assert str(tmp_path) in str(info.value), "the message names the index (each edge adds how to rebuild)"


def test_a_segment_written_apart_is_committed_later(tmp_path):
    with SegmentedIndex.open(tmp_path) as writer:
        info = write_segment(tmp_path, [["a", "b"], ["b"]])
        searcher = writer.add_segment(info)
        assert searcher.document_frequency("b") == 2
        with pytest.raises(InvalidOption, match="already in the index"):
            writer.add_segment(info)


def test_files_of_replaced_manifests_are_removed(tmp_path):
    with SegmentedIndex.open(tmp_path) as writer:
        writer.add([["a"]])
        writer.add([["b"]])
        writer.delete([0])
        searcher = writer.merge([e.segment.name for e in writer.searcher.segments])
        assert {p.name for p in tmp_path.iterdir()} == searcher.manifest.files() | {"CURRENT", "LOCK"}
    assert os.path.exists(tmp_path / "CURRENT")


def test_a_damaged_new_segment_is_never_committed(tmp_path):
    with SegmentedIndex.open(tmp_path) as writer:
        writer.add([["a"]])
        info = write_segment(tmp_path, [["b", "c"], ["c"]])
        _flip(tmp_path / info.name / "docs.npy")
        with pytest.raises(IndexCorrupt):
            writer.add_segment(info)
        assert writer.manifest.generation == 1
        assert open_searcher(tmp_path).document_frequency("c") == 0
        with pytest.raises(InvalidOption, match="JSON-serialisable"):
            writer.update_metadata({"when": object()})
        assert writer.update_metadata({"punkt": [1, 2]}).metadata == {"punkt": [1, 2]}


def test_replacing_an_article_is_one_commit(tmp_path):
    with SegmentedIndex.open(tmp_path, settings=Settings(variant="plus")) as writer:
        writer.add([["old", "text"], ["more", "old"], ["other"]], rows=np.array([[0], [0], [1]]))
        generation = writer.manifest.generation
        searcher = writer.add([["new", "text"]], rows=np.array([[0]]), delete_where=(0, [0]))
        assert writer.manifest.generation == generation + 1
        assert searcher.live_numbers().tolist() == [2, 3]
        assert (searcher.document_frequency("old"), searcher.document_frequency("new")) == (0, 1)
        check_against_oracles(searcher, [["other"], ["new", "text"]], np.array([2, 3]), ["text", "other"], 3, "plus")
