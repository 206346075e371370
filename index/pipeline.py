"""The build's CPU work: each article's sentences, passages and terms, in worker processes when it pays.

Splitting and analysis are pure Python and hold the GIL, so threads would not help; a process pool does. Workers
start with ``forkserver`` (``spawn`` where it does not exist), never ``fork``: the bot's process has threads, and
a forked child would inherit their locks half-held. Each worker rebuilds the same sentence splitter from its
saved parameters, so its tokens are exactly the single-process path's (a test compares them). Terms come back as
one space-joined string per passage (no term contains a space): pickling a string is far cheaper than a list.
With ``counted=True`` the workers count them too: each passage's distinct terms as ids into a vocabulary shared
by the worker's whole chunk, with their counts (a ``Bag``), so the process writing the index merges small
vocabularies with numpy instead of walking every occurrence while the workers wait.
Each worker ends as soon as the process it works for dies, even by kill -9, and the forkserver and its resource
tracker end with the last worker, so a killed ``newsbot index`` leaves no process behind.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

from .analysis import analyze
from .passages import split_passages
from .sentences import SentenceSplitter

__all__ = ["PARALLEL_MIN", "Analysed", "Bag", "analyse", "analyse_one"]

log = logging.getLogger(__name__)

PARALLEL_MIN = 2_000  # articles: below this, starting worker processes costs more than it saves
_CHUNK = 250  # articles per task: large enough to amortise pickling, small enough to keep both cores busy


@dataclass(frozen=True, slots=True)
class Bag:
    """An article's passages as counted terms: each passage's distinct terms and how often each occurs.

    ``vocabulary`` is shared by every article a worker analysed in one chunk (pickled once for all of them), so
    ``ids`` index into it; the writer maps each vocabulary it meets once, not each occurrence.
    """

    vocabulary: list[str]
    ids: np.ndarray  # int32: every passage's distinct terms, passage after passage
    counts: np.ndarray  # int32: occurrences of each (its title's terms included, when titles are on)
    sizes: np.ndarray  # int32: distinct terms per passage


@dataclass(frozen=True, slots=True)
class Analysed:
    """One article's sentences, passages and terms (as strings, or counted in ``bag``)."""

    sentences: np.ndarray  # (s, 2) int64 character spans
    passages: tuple[tuple[int, int, int, int], ...]  # start, end, first sentence, number of sentences
    terms: tuple[str, ...]  # per passage: its terms (and its title's) joined by spaces; empty when counted
    bag: Bag | None = None


def analyse_one(
    title: str,
    text: str,
    splitter: SentenceSplitter,
    *,
    titles: bool,
    vocabulary: dict[str, int] | None = None,
    shared: list[str] | None = None,
) -> Analysed:
    """Sentences, passages and terms of one article (the single-process path, and each worker's).

    With ``vocabulary`` the terms are counted into a ``Bag`` instead of joined: ids are taken from (and new terms
    added to) ``vocabulary``, whose terms in id order the caller puts in ``shared`` (the bag's vocabulary) once
    every article using it is analysed; without ``shared``, this article's own terms are its vocabulary.
    """
    title_tokens = analyze(title) if titles else []
    title_terms = " ".join(title_tokens)
    sentences, passages = split_passages(text, splitter)
    rows = []
    terms = []
    for i, (start, end, first) in enumerate(passages):
        after = passages[i + 1][2] if i + 1 < len(passages) else len(sentences)
        rows.append((start, end, first, after - first))
    spans = np.asarray(sentences, dtype=np.int64).reshape(-1, 2)
    if vocabulary is None:
        for start, end, _, _ in rows:
            body = " ".join(analyze(text[start:end]))
            terms.append(f"{body} {title_terms}".strip() if title_terms else body)
        return Analysed(sentences=spans, passages=tuple(rows), terms=tuple(terms))
    own = shared is None
    shared = [] if shared is None else shared
    ids: list[int] = []
    counts: list[int] = []
    sizes: list[int] = []
    for start, end, _, _ in rows:
        counted = Counter(analyze(text[start:end]))
        counted.update(title_tokens)
        ids.extend([vocabulary.setdefault(term, len(vocabulary)) for term in counted])
        counts.extend(counted.values())
        sizes.append(len(counted))
    if own:
        shared.extend(vocabulary)
    bag = Bag(
        vocabulary=shared,
        ids=np.array(ids, dtype=np.int32),
        counts=np.array(counts, dtype=np.int32),
        sizes=np.array(sizes, dtype=np.int32),
    )
    return Analysed(sentences=spans, passages=tuple(rows), terms=(), bag=bag)


_WORKER: dict[str, Any] = {}


def _start_worker(parameters: Mapping[str, Any], titles: bool, parent: int, counted: bool = False) -> None:
    _WORKER["splitter"] = SentenceSplitter.from_parameters(parameters)
    _WORKER["titles"] = titles
    _WORKER["counted"] = counted
    threading.Thread(target=_end_with, args=(parent,), name="newsbot-parent-watch", daemon=True).start()


def _end_with(parent: int) -> None:
    """End this worker as soon as the process it works for has died (kill -9 included).

    A pool worker never notices on its own: it holds both ends of its task queue, so its read never ends; and the
    forkserver and its resource tracker live as long as any worker does. Its parent is the forkserver, not the
    process it works for, so PR_SET_PDEATHSIG would not fire; a pidfd of that process becomes readable when it
    exits (Linux 5.3+); elsewhere its pid is checked every second.
    """
    try:
        watched = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd here
        while _alive(parent):
            time.sleep(1)
        os._exit(1)
    select.select([watched], [], [])
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or its pid now another user's process
        return False
    return True


def _analyse_chunk(chunk: Sequence[tuple[str, str]]) -> list[Analysed]:
    splitter, titles = _WORKER["splitter"], _WORKER["titles"]
    if not _WORKER["counted"]:
        return [analyse_one(title, text, splitter, titles=titles) for title, text in chunk]
    return _count_chunk(chunk, splitter, titles)


def _count_chunk(chunk: Sequence[tuple[str, str]], splitter: SentenceSplitter, titles: bool) -> list[Analysed]:
    """A chunk's articles with their terms counted: one numpy count over the whole chunk's occurrences, so the
    Python work per occurrence is only the analysis itself (a ``Counter`` per passage cost more than joining)."""
    tokens: list[str] = []
    lengths: list[int] = []  # occurrences per passage
    articles = []
    for title, text in chunk:
        title_tokens = analyze(title) if titles else []
        sentences, passages = split_passages(text, splitter)
        rows = []
        for i, (start, end, first) in enumerate(passages):
            after = passages[i + 1][2] if i + 1 < len(passages) else len(sentences)
            rows.append((start, end, first, after - first))
            body = analyze(text[start:end])
            tokens.extend(body)
            tokens.extend(title_tokens)
            lengths.append(len(body) + len(title_tokens))
        articles.append((np.asarray(sentences, dtype=np.int64).reshape(-1, 2), tuple(rows)))
    vocabulary = list(dict.fromkeys(tokens))
    ids_of = {term: i for i, term in enumerate(vocabulary)}
    n_terms = max(len(vocabulary), 1)
    ids = np.fromiter(map(ids_of.__getitem__, tokens), dtype=np.int64, count=len(tokens))
    passage = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    keys, counts = np.unique(passage * n_terms + ids, return_counts=True)
    of_passage = keys // n_terms
    term = (keys - of_passage * n_terms).astype(np.int32)
    counts = counts.astype(np.int32)
    sizes = np.bincount(of_passage, minlength=len(lengths)).astype(np.int32)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    done = []
    first = 0
    for spans, rows in articles:
        last = first + len(rows)
        a, b = bounds[first], bounds[last]
        bag = Bag(vocabulary=vocabulary, ids=term[a:b].copy(), counts=counts[a:b].copy(), sizes=sizes[first:last])
        done.append(Analysed(sentences=spans, passages=rows, terms=(), bag=bag))
        first = last
    return done


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def analyse(
    articles: Sequence[tuple[str, str]],
    splitter: SentenceSplitter,
    *,
    titles: bool,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    counted: bool = False,
) -> Iterator[Analysed]:
    """Analyse ``(title, text)`` pairs in order; ``workers`` processes (both cores when None) for large batches.

    ``progress(done)`` is called as articles are finished. With ``counted`` each result's terms come counted in
    its ``bag`` (and its ``terms`` are empty).
    """
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers <= 1 or len(articles) < PARALLEL_MIN:
        yield from _in_process(articles, 0, splitter, titles, progress, counted)
        return
    chunks = [articles[i : i + _CHUNK] for i in range(0, len(articles), _CHUNK)]
    done = 0
    try:
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_context(),
            initializer=_start_worker,
            initargs=(splitter.parameters(), titles, os.getpid(), counted),
        ) as pool:
            for results in pool.map(_analyse_chunk, chunks):
                yield from results
                done += len(results)
                if progress:
                    progress(done)
        return
    except (BrokenProcessPool, OSError) as exc:
        # Workers can fail to start (a script without `if __name__ == "__main__":`, which they re-import, or a
        # process limit); the build goes on in this process, with the same terms, rather than failing.
        log.warning("analysis worker processes failed (%s); analysing in this process instead", exc)
    yield from _in_process(articles, done, splitter, titles, progress, counted)


def _in_process(
    articles: Sequence[tuple[str, str]],
    start: int,
    splitter: SentenceSplitter,
    titles: bool,
    progress: Callable[[int], None] | None,
    counted: bool,
) -> Iterator[Analysed]:
    for n, (title, text) in enumerate(articles[start:], start + 1):
        # Counted here, each article is its own vocabulary: the writer maps it at once.
        yield analyse_one(title, text, splitter, titles=titles, vocabulary={} if counted else None)
        if progress and (n % 500 == 0 or n == len(articles)):
            progress(n)
