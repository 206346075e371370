"""The one writer of an archive in OpenSearch: the ``ArchiveWriter`` of index.backend.

``OpenSearchWriter(client, config)`` is a context manager. Entering takes the write lock, a document created
with ``op_type=create`` in ``<prefix>-lock`` (a second writer gets ``IndexLocked``); the lock is a lease renewed
as the writer works, so a writer killed mid-build blocks the next one for at most ``LEASE``. Entering also
finishes or undoes what a killed writer left: deletions its commit recorded but did not run are run, passages
of an uncommitted generation are deleted, and archive indices the alias does not name are removed.

Writes:

- ``add_passages`` sends bulk requests of passages (id ``p<number>``, so a retried request overwrites instead
  of duplicating). Items that fail (a node gone, a full queue) are retried with backoff, up to ``ATTEMPTS``
  times; what still fails raises ``IndexWriteError`` naming how many and why, and nothing of the update is
  committed. The first batch tells an incremental update from a full build: a full build numbers articles from
  0 again (below the committed ``next_article``), and writes into a NEW index.
- ``commit`` writes the articles, then the ``meta`` document (the commit point: it names the new generation and
  the article numbers to delete), runs the deletions of replaced and removed articles with their passages,
  and refreshes, so the whole update becomes searchable at once. A full build then moves the alias to the new
  index in one atomic ``_aliases`` request: questions never see half an archive. The old index is deleted when
  the next writer opens, so an archive opened before the swap keeps answering from it until then.
- ``abandon`` deletes what was written since the last commit.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..backend import Commit, PassageRow
from ..bm25 import Settings
from ..core import DEFAULT_SETTINGS
from ..dates import naive_utc
from ..errors import ArchiveUnavailable, IndexNotFound, IndexWriteError
from ..segments import IndexLocked
from . import schema
from .archive import OpenSearchArchive, micros, settings_record
from .client import ClusterConfig, unavailable

__all__ = ["ATTEMPTS", "LEASE", "OpenSearchWriter"]

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=10)
ATTEMPTS = 4  # tries of a bulk item before the update fails
_CHUNK = 2000  # documents per bulk request
_LOCK_ID = "writer"


class OpenSearchWriter:
    """Writes one archive in an OpenSearch cluster, holding its lock while open."""

    def __init__(self, client: Any, config: ClusterConfig) -> None:
        self.client = client
        self.config = config
        self.alias = schema.alias(config.prefix)
        self._token = uuid.uuid4().hex
        self._lease: tuple[int, int] | None = None  # seq_no, primary_term of our lock document
        self._renewed = 0.0
        self._previous: OpenSearchArchive | None = None
        self._target: str | None = None  # the index this update writes passages into
        self._full = False
        self._next_passage = 0
        self._written = 0
        self._pending: list[tuple[str, dict[str, Any]]] = []  # passages not sent yet
        self._frequencies: collections.Counter[str] = collections.Counter()  # a full build's, for BM25Okapi
        self._made_with: Settings | None = None  # the settings a full build's new index was created with

    # -------------------------------------------------------------------------------------------------- lock

    def __enter__(self) -> OpenSearchWriter:
        with unavailable(self.config, "taking the write lock"):
            self._take_lock()
            try:
                self._recover()
            except BaseException:
                self._release()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._target is not None and exc[0] is not None:
                self.abandon()
        finally:
            with unavailable(self.config, "releasing the write lock"):
                self._release()

    def _lock_body(self) -> dict[str, Any]:
        until = dt.datetime.now(dt.UTC) + LEASE
        return {"owner": self._token, "host": socket.gethostname(), "pid": os.getpid(), "until": until.isoformat()}

    def _take_lock(self) -> None:
        from opensearchpy import ConflictError

        index = schema.lock_index(self.config.prefix)
        if not self.client.indices.exists(index=index):
            try:
                self.client.indices.create(
                    index=index, body={"settings": {"number_of_shards": 1, "number_of_replicas": self.config.replicas}}
                )
            except Exception as error:  # another writer created it first: that is fine
                if "resource_already_exists" not in str(error):
                    raise
        try:
            done = self.client.index(index=index, id=_LOCK_ID, body=self._lock_body(), op_type="create", refresh="true")
        except ConflictError:
            held = self.client.get(index=index, id=_LOCK_ID)
            holder = held["_source"]
            if dt.datetime.fromisoformat(holder["until"]) > dt.datetime.now(dt.UTC):
                raise IndexLocked(
                    f"another newsbot (pid {holder.get('pid')} on {holder.get('host')}) is updating the archive "
                    f"{self.alias!r}; its lock lasts until {holder['until']}"
                ) from None
            log.warning("taking over the archive lock of a writer that stopped renewing it (%s)", holder)
            try:
                done = self.client.index(
                    index=index, id=_LOCK_ID, body=self._lock_body(), refresh="true",
                    if_seq_no=held["_seq_no"], if_primary_term=held["_primary_term"],
                )  # fmt: skip
            except ConflictError:
                raise IndexLocked(f"another newsbot took the lock of the archive {self.alias!r} first") from None
        self._lease = (done["_seq_no"], done["_primary_term"])
        self._renewed = time.monotonic()

    def _renew(self) -> None:
        """Extend the lease when a third of it has passed (a build of millions of passages takes minutes)."""
        from opensearchpy import ConflictError

        if self._lease is None or time.monotonic() - self._renewed < LEASE.total_seconds() / 3:
            return
        try:
            done = self.client.index(
                index=schema.lock_index(self.config.prefix), id=_LOCK_ID, body=self._lock_body(),
                if_seq_no=self._lease[0], if_primary_term=self._lease[1],
            )  # fmt: skip
        except ConflictError:
            raise IndexLocked(f"this writer lost the lock of the archive {self.alias!r} (it expired)") from None
        self._lease = (done["_seq_no"], done["_primary_term"])
        self._renewed = time.monotonic()

    def _release(self) -> None:
        from opensearchpy import ConflictError, NotFoundError

        if self._lease is None:
            return
        lease, self._lease = self._lease, None
        try:
            self.client.delete(
                index=schema.lock_index(self.config.prefix), id=_LOCK_ID, refresh="true",
                if_seq_no=lease[0], if_primary_term=lease[1],
            )  # fmt: skip
        except (ConflictError, NotFoundError):
            log.warning("the archive lock was taken over before this writer released it")

    # ------------------------------------------------------------------------------------------ recovery

    def _recover(self) -> None:
        """Finish the deletions a committed generation recorded, and drop what no commit made visible."""
        try:
            self._previous = OpenSearchArchive.open(self.client, self.config)
        except IndexNotFound:
            self._previous = None
        named = set(self.client.indices.get_alias(name=self.alias)) if self._previous is not None else set()
        pattern = schema.new_index_name(self.config.prefix, "*")
        for name in self.client.indices.get(index=pattern, ignore_unavailable=True, allow_no_indices=True):
            if name not in named:
                log.info("removing the archive index %s that no commit made current", name)
                self.client.indices.delete(index=name)
        if self._previous is None:
            return
        meta = self._previous.meta
        generation = self._previous.generation
        stale = {"bool": {"filter": [{"range": {"gen": {"gt": generation}}}]}}
        self._delete_where(stale)
        if meta.get("dead"):
            self._delete_dead(meta["dead"])
            self._write_meta(self.alias, {**meta, "dead": []})
        self.client.indices.refresh(index=self.alias)

    # ------------------------------------------------------------------------------------------- reading

    def previous(self) -> OpenSearchArchive | None:
        """The committed state this writer builds on, or None when there is none."""
        return self._previous

    def metadata(self) -> Mapping[str, Any]:
        """The committed state's metadata (empty when none)."""
        return dict(self._previous.meta["metadata"]) if self._previous is not None else {}

    def splitter(self) -> Mapping[str, Any] | None:
        """The committed sentence splitter's parameters, or None."""
        return self._previous.meta.get("splitter") if self._previous is not None else None

    # ------------------------------------------------------------------------------------------- writing

    def reserve(self, articles: Sequence[Any]) -> None:
        """Refuse now, before a long analysis, when the archive cannot take writes: OpenSearch blocks an index's
        writes (``read_only_allow_delete``) when a node's disk passes the flood-stage watermark."""
        del articles  # the cluster's disk is the cluster's to watch; only its verdict is known here
        if self._previous is None:
            return
        with unavailable(self.config, "checking the archive can take writes"):
            found = self.client.indices.get_settings(index=self.alias, name="index.blocks.*", flat_settings=True)
        for name, entry in found.items():
            blocked = [key for key, value in entry.get("settings", {}).items() if str(value).lower() == "true"]
            if blocked:
                raise IndexWriteError(
                    f"the OpenSearch index {name} refuses writes ({', '.join(blocked)}; a node's disk may be past "
                    "its flood-stage watermark); nothing was written"
                )

    @property
    def _generation(self) -> int:
        return self._previous.generation + 1 if self._previous is not None else 1

    def _begin(self, full: bool) -> str:
        """The index this update writes into: a new one for a full build (or a first one), else the alias."""
        if self._target is not None:
            return self._target
        full = full or self._previous is None
        self._full = full
        if full:
            # The commit names the settings; until then the best guess (a wrong one is corrected at commit).
            settings = self._commit_settings or (self._previous.settings if self._previous else DEFAULT_SETTINGS)
            self._made_with = settings
            name = schema.new_index_name(self.config.prefix, uuid.uuid4().hex[:12])
            with unavailable(self.config, "creating the archive index"):
                self.client.indices.create(
                    index=name, body=schema.body(settings, shards=self.config.shards, replicas=self.config.replicas)
                )
            self._target = name
            self._next_passage = 0
        else:
            self._target = self.alias
            self._next_passage = int(self._previous.meta.get("next_passage", 0)) if self._previous else 0
        return self._target

    _commit_settings = None  # set by ``prepare``: the settings a first build's new index is made with

    def prepare(self, *, full: bool, settings: Any) -> None:
        """Say, before the first passages, whether this update is a full build and with which BM25 settings.

        Optional: without it, the first batch's article numbers tell (see the module docstring), and a new
        archive's settings come from the last commit.
        """
        self._commit_settings = settings
        self._begin(full)

    def add_passages(self, rows: Sequence[PassageRow], terms: Sequence[list[str]]) -> None:
        """Write passages (each row with its analysed terms), invisible to readers until ``commit``."""
        if not rows:
            return
        if self._target is None:
            committed_next = int(self.metadata().get("next_article", 0))
            self._begin(full=rows[0][0] < committed_next)
        generation = self._generation
        documents = []
        for (article, start, end, first, count), words in zip(rows, terms, strict=True):
            number = self._next_passage
            self._next_passage += 1
            documents.append((f"p{number}", {
                "kind": "passage", "gen": generation, "number": number, "article": article,
                "start": start, "end": end, "first": first, "count": count, "terms": " ".join(words),
                "length": len(words),
            }))  # fmt: skip
            if self._full:
                self._frequencies.update(set(words))
        # Buffered: the recipe hands over one article's passages at a time, and a request per article would cost
        # a round trip each (70 s for 10,000 passages on the test cluster instead of a few).
        self._pending.extend(documents)
        if len(self._pending) >= _CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._pending and self._target is not None:
            pending, self._pending = self._pending, []
            self._bulk(self._target, pending, "writing passages")
            self._written += len(pending)

    def _bulk(self, index: str, documents: list[tuple[str, dict[str, Any]]], doing: str) -> None:
        """Index ``documents`` (id, source) by id; failed items are retried, and what keeps failing raises."""
        for start in range(0, len(documents), _CHUNK):
            self._renew()
            pending = documents[start : start + _CHUNK]
            for attempt in range(ATTEMPTS):
                failed = self._send(index, pending, doing)
                if not failed:
                    break
                reasons = sorted({reason for _, reason in failed})
                log.warning("%d of %d documents failed while %s (%s); retrying", len(failed), len(pending), doing,
                            "; ".join(reasons[:3]))  # fmt: skip
                by_id = dict(pending)
                pending = [(doc_id, by_id[doc_id]) for doc_id, _ in failed]
                time.sleep(0.5 * 2**attempt)  # backoff for a cluster that is busy or electing a new primary
            else:
                raise IndexWriteError(
                    f"the OpenSearch cluster refused {len(failed)} documents while {doing} after {ATTEMPTS} attempts "
                    f"({'; '.join(reasons[:3])}); nothing of this update was committed"
                )

    def _send(self, index: str, documents: list[tuple[str, dict[str, Any]]], doing: str) -> list[tuple[str, str]]:
        """One bulk request; the ids that failed and why (a request that fails whole counts every id)."""
        body: list[dict[str, Any]] = []
        for doc_id, source in documents:
            body += [{"index": {"_index": index, "_id": doc_id}}, source]
        try:
            with unavailable(self.config, doing):
                answer = self.client.bulk(body=body, timeout=f"{int(self.config.timeout * 6)}s",
                                          request_timeout=self.config.timeout * 6)  # fmt: skip
        except ArchiveUnavailable as error:
            return [(doc_id, str(error)) for doc_id, _ in documents]
        if not answer.get("errors"):
            return []
        failed = []
        for item in answer["items"]:
            result = item["index"]
            if result.get("status", 500) >= 300:
                error = result.get("error", {})
                reason = error.get("type", "error") if isinstance(error, dict) else str(error)
                if result.get("status") == 400:  # a document the mapping refuses: retrying cannot help
                    raise IndexWriteError(f"OpenSearch refused a document while {doing}: {error}")
                failed.append((result["_id"], f"HTTP {result.get('status')} {reason}"))
        return failed

    def _delete_where(self, query: dict[str, Any]) -> int:
        answer = self.client.delete_by_query(
            index=self.alias, body={"query": query}, conflicts="proceed", refresh=False,
            request_timeout=self.config.timeout * 6,
        )  # fmt: skip
        if answer.get("failures"):
            raise IndexWriteError(f"deleting replaced passages failed in OpenSearch: {answer['failures'][:2]}")
        return int(answer.get("deleted", 0))

    def _delete_dead(self, dead: Sequence[int]) -> None:
        for start in range(0, len(dead), 10_000):
            numbers = list(dead[start : start + 10_000])
            self._delete_where({"bool": {"should": [
                {"bool": {"filter": [{"term": {"kind": "passage"}}, {"terms": {"article": numbers}}]}},
                {"bool": {"filter": [{"term": {"kind": "article"}}, {"terms": {"number": numbers}}]}},
            ]}})  # fmt: skip

    def _write_meta(self, index: str, meta: dict[str, Any]) -> None:
        self.client.index(index=index, id="meta", body={"kind": "meta", "gen": meta["gen"], "payload": meta})

    def commit(self, commit: Commit) -> OpenSearchArchive:
        """Make the passages added and this commit's articles and deletions visible at once; the new state."""
        if self._target is None:
            self._commit_settings = self._commit_settings or commit.settings
            self._begin(commit.full)
        if commit.full != self._full:
            raise IndexWriteError(
                f"this update wrote its passages as {'a full build' if self._full else 'an update'} but commits "
                f"{'a full build' if commit.full else 'an update'}; nothing was committed"
            )
        self._flush()
        target = self._target
        assert target is not None
        generation = self._generation
        documents = []
        for item, number in zip(commit.articles, commit.numbers, strict=True):
            a = item.article
            date = a.date.isoformat() if isinstance(a.date, dt.datetime) else ""
            source = {
                "kind": "article", "gen": generation, "number": number, "id": a.id, "title": a.title,
                "date": date, "url": a.url or "", "source": a.source, "file": item.file, "digest": item.digest,
                "first_seen": item.first_seen, "seen": micros(dt.datetime.fromisoformat(item.first_seen)),
                "payload": {"text": a.text, "sentences": [int(x) for x in item.sentences.reshape(-1)]},
            }  # fmt: skip
            when = _when(a.date)
            if when is not None:
                source["when"] = when
            documents.append((f"a{number}", source))
        self._bulk(target, documents, "writing articles")
        splitter = commit.splitter if commit.splitter is not None else self.splitter()
        meta = {
            "gen": generation,
            "metadata": dict(commit.metadata),
            "splitter": dict(splitter) if splitter is not None else None,
            "record": _jsonable(dict(commit.record)),
            "settings": settings_record(commit.settings),
            "next_passage": self._next_passage,
            "dead": [] if commit.full else sorted(int(n) for n in commit.dead),
            "okapi_floor": self._okapi_floor(commit),
        }
        with unavailable(self.config, "committing the update"):
            if commit.full and commit.settings != self._made_with:
                self._rescore_with(target, commit.settings)
            self._write_meta(target, meta)  # the commit point
            if meta["dead"]:
                self._delete_dead(meta["dead"])
                self._write_meta(target, {**meta, "dead": []})
            self.client.indices.refresh(index=target)
            if commit.full:
                self._swap(target)
            self._previous = OpenSearchArchive.open(self.client, self.config)
        self._target = None
        self._written = 0
        return self._previous

    def _okapi_floor(self, commit: Commit) -> float:
        """BM25Okapi's IDF floor, epsilon x the mean IDF of the vocabulary: known exactly from a full build's
        terms; an incremental update keeps the last full build's (it only reaches terms in over half the
        passages)."""
        if not commit.full:
            return float(self._previous.meta.get("okapi_floor", 0.0)) if self._previous is not None else 0.0
        df = np.fromiter(self._frequencies.values(), dtype=np.float64, count=len(self._frequencies))
        if not len(df):
            return 0.0
        idf = np.log(self._next_passage - df + 0.5) - np.log(df + 0.5)
        return commit.settings.epsilon * float(idf.mean())

    def _rescore_with(self, target: str, settings: Settings) -> None:
        """A full build for new BM25 settings began with the old ones' similarity: change it (closed index)."""
        self.client.indices.close(index=target, wait_for_active_shards="all")
        self.client.indices.put_settings(index=target, body={"index": {"similarity": {
            schema.SIMILARITY: schema.similarity(settings)}}})  # fmt: skip
        self.client.indices.open(index=target, wait_for_active_shards="all")
        self.client.cluster.health(index=target, wait_for_status="yellow", request_timeout=self.config.timeout * 6)

    def _swap(self, target: str) -> None:
        """Point the alias at ``target`` in one request. The indices it named before stay until the next writer
        opens (``_recover`` removes them), so archives opened before the swap keep answering meanwhile."""
        old = list(self.client.indices.get_alias(name=self.alias)) if self.client.indices.exists_alias(
            name=self.alias) else []  # fmt: skip
        actions: list[dict[str, Any]] = [{"remove": {"index": name, "alias": self.alias}} for name in old]
        actions.append({"add": {"index": target, "alias": self.alias}})
        self.client.indices.update_aliases(body={"actions": actions})

    def abandon(self) -> None:
        """Drop everything written since the last commit; the committed state stays."""
        target, self._target = self._target, None
        self._pending = []
        if target is None:
            return
        try:
            with unavailable(self.config, "dropping an unfinished update"):
                if self._full:
                    self.client.indices.delete(index=target, ignore_unavailable=True)
                else:
                    self._delete_where({"bool": {"filter": [{"range": {"gen": {"gt": self._generation - 1}}}]}})
        except ArchiveUnavailable as error:
            # The next writer removes it (``_recover``); readers never see it (its generation is uncommitted).
            log.warning("could not drop an unfinished update now (%s); the next update will", error)


def _when(date: dt.datetime | None) -> int | None:
    naive = naive_utc(date)
    return micros(naive.replace(tzinfo=dt.UTC)) if naive is not None else None


def _jsonable(value: Any) -> Any:
    """The build record with tuples as lists, so it reads back as it was written."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
