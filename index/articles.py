"""The article store: article texts and fields on disk, memory-mapped, in immutable batches.

Every article gets a global number when it enters the index, never reused; passages refer to it by that number
(``rows[:, 0]`` in the segments), so segment merges never touch articles. Articles added together are one batch,
a directory ``art-<id>/``::

    batch.json      count, fields, and every file's size and xxh3 checksum
    numbers.npy     int64 (n,): the articles' global numbers, ascending
    text.bin        the texts, UTF-8, one after another
    text.npy        int64 (n + 1,): byte offsets of each text in text.bin
    fields.bin      every other field (id, title, date, url, source, file, digest, first seen), UTF-8
    fields.npy      int64 (n * F + 1,): byte offsets, article-major
    sentences.npy   int64 (S, 2): every article's sentence spans, character offsets into its text
    spans.npy       int64 (n + 1,): where each article's sentences start in sentences.npy

Nothing is parsed at load: the blobs are memory-mapped after their checksums are verified (which reads them once
into the page cache), and an ``Article`` is made only when one is asked for (a bounded cache keeps the recent
ones), so memory follows the articles in use, not the corpus. Damage of any kind raises ``IndexCorrupt``.
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import io
import itertools
import json
import mmap
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import store
from .dates import parse_date
from .errors import IndexCorrupt
from .model import Article

__all__ = ["FIELDS", "ArticleStore", "Batch", "NewArticle", "compact", "write_batch"]

FIELDS = ("id", "title", "date", "url", "source", "file", "digest", "first_seen")
_F = len(FIELDS)
_CACHE = 4096  # articles kept as objects: the ones questions are answered from


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An article about to be stored, with what the index keeps beside it."""

    article: Article
    file: str  # the source file, relative to the articles root ("" when unknown)
    digest: str  # of title and text: tells a changed article from an unchanged one
    first_seen: str  # ISO time it first entered an index of this lineage
    sentences: np.ndarray  # (s, 2) int64 character spans into article.text


def write_batch(root: Path, articles: Sequence[NewArticle], numbers: Sequence[int]) -> tuple[str, str]:
    """Write a new batch under ``root`` durably; returns ``(directory name, checksum of batch.json)``."""

    def items() -> Iterator[tuple[bytes, list[bytes], np.ndarray]]:
        for item in articles:
            a = item.article
            date = a.date.isoformat() if isinstance(a.date, dt.datetime) else ""
            values = (a.id, a.title, date, a.url or "", a.source, item.file, item.digest, item.first_seen)
            yield (
                a.text.encode("utf-8", "surrogatepass"),
                [v.encode("utf-8", "surrogatepass") for v in values],
                np.asarray(item.sentences, dtype=np.int64).reshape(-1, 2),
            )

    return _write_batch(root, numbers, items())


def compact(root: Path, batches: Sequence[Batch], live: np.ndarray) -> tuple[str, str] | None:
    """One new batch of the live articles of ``batches`` (adjacent, in order), copied byte for byte under the same
    numbers, so segments' rows still point at them; None when none is live. The dead ones' bytes are not copied:
    this is how the disk of removed articles is given back (``index.maintain``)."""

    def live_positions(batch: Batch) -> np.ndarray:
        return np.flatnonzero(np.isin(batch.numbers, live))

    numbers = [int(n) for batch in batches for n in batch.numbers[live_positions(batch)]]
    if not numbers:
        return None

    def items() -> Iterator[tuple[bytes, list[bytes], np.ndarray]]:
        for batch in batches:
            for position in live_positions(batch).tolist():
                yield batch.raw(position)

    return _write_batch(root, numbers, items())


def _write_batch(
    root: Path, numbers: Sequence[int], items: Iterable[tuple[bytes, list[bytes], np.ndarray]]
) -> tuple[str, str]:
    """Write a batch of ``(text, fields, sentences)`` items, the texts and fields streamed to disk as they come."""
    name = f"art-{uuid.uuid4().hex[:16]}"
    folder = root / name
    folder.mkdir(mode=0o700)
    text_lengths: list[int] = []
    field_lengths: list[int] = []
    sentence_parts: list[np.ndarray] = []
    streamed = {}
    with store.DurableFile(folder / "text.bin") as texts, store.DurableFile(folder / "fields.bin") as fields:
        for text, values, sentences in items:
            texts.write(text)
            text_lengths.append(len(text))
            for value in values:
                fields.write(value)
                field_lengths.append(len(value))
            sentence_parts.append(sentences)
        streamed["text.bin"] = {"size": texts.size, "xxh3": texts.close()}
        streamed["fields.bin"] = {"size": fields.size, "xxh3": fields.close()}
    arrays = {
        "numbers.npy": np.asarray(numbers, dtype=np.int64),
        "text.npy": _offsets(text_lengths),
        "fields.npy": _offsets(field_lengths),
        "sentences.npy": np.concatenate(sentence_parts) if sentence_parts else np.zeros((0, 2), dtype=np.int64),
        "spans.npy": _offsets([len(part) for part in sentence_parts]),
    }
    described = dict(streamed)
    for file, array in arrays.items():
        data = store.npy_bytes(array)
        store.write_durably(folder / file, data)
        described[file] = {"size": len(data), "xxh3": store.checksum(data)}
    order = ("numbers.npy", "text.bin", "text.npy", "fields.bin", "fields.npy", "sentences.npy", "spans.npy")
    header = json.dumps({"count": len(numbers), "fields": list(FIELDS), "files": {f: described[f] for f in order}})
    store.write_durably(folder / "batch.json", header.encode())
    store.fsync_dir(folder)
    return name, store.checksum(header.encode())


def _offsets(lengths: Sequence[int]) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


class Batch:
    """One batch, verified and memory-mapped.

    Raises:
        FileNotFoundError: a file is missing (removed by a writer since the state naming it was read).
        IndexCorrupt: a file is damaged or inconsistent.
    """

    def __init__(self, root: Path, name: str, checksum: str) -> None:
        self.name = name
        self.checksum = checksum
        folder = root / name
        what = f"article batch {name} at {str(root)!r}"
        try:
            header_bytes = (folder / "batch.json").read_bytes()
            if store.checksum(header_bytes) != checksum:
                raise ValueError("batch.json checksum mismatch")
            header = json.loads(header_bytes)
            if header.get("fields") != list(FIELDS):
                raise ValueError("fields of another format")
            self._maps: list[mmap.mmap] = []
            arrays = {}
            for file, expected in header["files"].items():
                view = self._map(folder / file)
                if len(view) != expected["size"] or store.checksum(view) != expected["xxh3"]:
                    raise ValueError(f"{file} checksum mismatch")
                if file.endswith(".npy"):
                    arrays[file] = np.load(io.BytesIO(view), allow_pickle=False)
                else:
                    arrays[file] = view
            self.numbers: np.ndarray = arrays["numbers.npy"]
            self._text: mmap.mmap | bytes = arrays["text.bin"]
            self._text_offsets: np.ndarray = arrays["text.npy"]
            self._fields: mmap.mmap | bytes = arrays["fields.bin"]
            self._field_offsets: np.ndarray = arrays["fields.npy"]
            self._sentences: np.ndarray = arrays["sentences.npy"]
            self._spans: np.ndarray = arrays["spans.npy"]
            n = int(header["count"])
            consistent = (
                len(self.numbers) == n
                and len(self._text_offsets) == n + 1
                and len(self._field_offsets) == n * _F + 1
                and len(self._spans) == n + 1
                and int(self._text_offsets[-1]) == len(self._text)
                and int(self._field_offsets[-1]) == len(self._fields)
                and int(self._spans[-1]) == len(self._sentences)
                and bool(np.all(np.diff(self.numbers) > 0))
            )
            if not consistent:
                raise ValueError("counts and offsets disagree")
        except FileNotFoundError:
            raise  # a writer in another process replaced the state as it was read: the reader tries again
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(f"{what} is damaged ({exc})") from None

    @staticmethod
    def _map(path: Path) -> mmap.mmap | bytes:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                return b""
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)

    def position(self, number: int) -> int:
        """Where article ``number`` is in this batch (-1 when it is not here)."""
        i = int(np.searchsorted(self.numbers, number))
        return i if i < len(self.numbers) and int(self.numbers[i]) == number else -1

    def field(self, position: int, name: str) -> str:
        """Field ``name`` of the article at ``position`` in this batch."""
        j = position * _F + FIELDS.index(name)
        start, end = int(self._field_offsets[j]), int(self._field_offsets[j + 1])
        return bytes(self._fields[start:end]).decode("utf-8", "surrogatepass")

    def column(self, name: str) -> list[str]:
        """Field ``name`` of every article in this batch, by position: one pass instead of a lookup each."""
        j = FIELDS.index(name)
        n = len(self.numbers)
        starts = self._field_offsets[j : n * _F : _F].tolist()
        ends = self._field_offsets[j + 1 : n * _F + 1 : _F].tolist()
        data = self._fields
        return [data[start:end].decode("utf-8", "surrogatepass") for start, end in zip(starts, ends, strict=True)]

    def text(self, position: int) -> str:
        """The text of the article at ``position``."""
        start, end = int(self._text_offsets[position]), int(self._text_offsets[position + 1])
        return bytes(self._text[start:end]).decode("utf-8", "surrogatepass")

    def sentences(self, position: int) -> np.ndarray:
        """Sentence spans of the article at ``position``."""
        return self._sentences[int(self._spans[position]) : int(self._spans[position + 1])]

    def raw(self, position: int) -> tuple[bytes, list[bytes], np.ndarray]:
        """The stored bytes of the article at ``position``: its text, each field, and its sentence spans."""
        start, end = int(self._text_offsets[position]), int(self._text_offsets[position + 1])
        bounds = self._field_offsets[position * _F : (position + 1) * _F + 1].tolist()
        fields = [bytes(self._fields[a:b]) for a, b in itertools.pairwise(bounds)]
        return bytes(self._text[start:end]), fields, np.array(self.sentences(position), dtype=np.int64)

    def sizes(self, live: np.ndarray) -> tuple[int, int]:
        """Bytes of this batch's articles (texts, fields and sentence spans), and how many of them are dead ones'."""
        each = np.diff(self._text_offsets) + self._field_offsets[_F::_F] - self._field_offsets[:-1:_F]
        each = each + 16 * np.diff(self._spans)
        dead = ~np.isin(self.numbers, live)
        return int(each.sum()), int(each[dead].sum())


class ArticleStore:
    """The live articles of one index state, over its batches: by number, by id, in date order.

    Args:
        batches: the batches, in the order they were written (their numbers increase from one to the next).
        live: the numbers of the articles that are live (the others are replaced or removed ones).
    """

    def __init__(self, batches: Sequence[Batch], live: np.ndarray) -> None:
        self.batches = tuple(batches)
        self.live = np.asarray(live, dtype=np.int64)
        self._firsts = [int(b.numbers[0]) if len(b.numbers) else -1 for b in self.batches]
        self._cache: collections.OrderedDict[int, Article] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._by_id: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.live)

    def _locate(self, number: int) -> tuple[Batch, int]:
        i = bisect.bisect_right(self._firsts, number) - 1
        if i >= 0:
            batch = self.batches[i]
            position = batch.position(number)
            if position >= 0:
                return batch, position
        raise KeyError(number)

    def article(self, number: int) -> Article:
        """The article with this number. Raises KeyError when there is none."""
        with self._lock:
            found = self._cache.get(number)
            if found is not None:
                self._cache.move_to_end(number)
                return found
        batch, position = self._locate(number)
        article = Article(
            id=batch.field(position, "id"),
            title=batch.field(position, "title"),
            text=batch.text(position),
            date=parse_date(batch.field(position, "date") or None),
            url=batch.field(position, "url") or None,
            source=batch.field(position, "source"),
        )
        with self._lock:
            self._cache[number] = article
            while len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
        return article

    def field(self, number: int, name: str) -> str:
        """One stored field of article ``number`` (see ``FIELDS``) without making an Article."""
        batch, position = self._locate(number)
        return batch.field(position, name)

    def sentences(self, number: int) -> np.ndarray:
        """Sentence spans of article ``number`` (character offsets into its text)."""
        batch, position = self._locate(number)
        return batch.sentences(position)

    def number_of(self, article_id: str) -> int:
        """The live article with this id. Raises KeyError when there is none."""
        if self._by_id is None:
            self._by_id = {article_id: number for number, article_id in self.columns("id")}
        return self._by_id[article_id]

    def columns(self, *names: str) -> Iterator[tuple[int, ...]]:
        """``(number, *fields)`` of every live article, ascending (for whole-index scans such as an update's)."""
        for batch in self.batches:
            values = [batch.column(name) for name in names]
            numbers = batch.numbers.tolist()
            for position in np.flatnonzero(np.isin(batch.numbers, self.live)).tolist():
                yield (numbers[position], *(column[position] for column in values))

    def numbers(self) -> Iterator[int]:
        """Live article numbers, ascending."""
        return (int(n) for n in self.live)
