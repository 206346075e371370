"""Copying a local archive (the segmented ``Index``) into an OpenSearch cluster without reading article files.

Every live article is copied with its stored text, fields, first-seen time and sentence spans, under the same
article number; every live passage with its offsets, in passage-number order. A passage's terms are analysed
again from its stored text (and its article's title, when the archive adds title terms) with the same analyzer
version the local archive was built with, which the copy checks, so they are the terms the local engine indexed.
The copy is one full build on the cluster's side: it lands in a new index and the alias moves when it is whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .. import store
from ..analysis import ANALYZER_VERSION, analyze
from ..articles import NewArticle
from ..backend import Commit
from ..errors import IndexCorrupt
from ..local import Index
from .archive import OpenSearchArchive
from .writer import OpenSearchWriter

__all__ = ["copy_index"]

_BATCH = 5000  # passages per add_passages call


def copy_index(
    source: Index, writer: OpenSearchWriter, *, progress: Callable[[int, int], None] | None = None
) -> OpenSearchArchive:
    """Copy ``source`` through ``writer`` (entered) as a full build; the cluster's new archive.

    Raises:
        IndexCorrupt: ``source`` was analysed by another analyzer version than this newsbot's.
        ArchiveUnavailable, IndexWriteError: the cluster failed; its previous archive stays.
    """
    meta = dict(source.searcher.metadata)
    if meta.get("analyzer") != ANALYZER_VERSION:
        raise IndexCorrupt(f"the local index was analysed with analyzer {meta.get('analyzer')}, not {ANALYZER_VERSION}")
    titles = bool(meta.get("titles"))
    writer.prepare(full=True, settings=source.settings)
    numbers = source.searcher.live_numbers()
    title_terms: dict[int, list[str]] = {}
    rows: list[Any] = []
    terms: list[list[str]] = []
    for done, number in enumerate(numbers, 1):
        art, start, end, first, count = (int(x) for x in source.searcher.rows(int(number)))
        article = source.store.article(art)
        if titles and art not in title_terms:
            title_terms = {art: analyze(article.title)}  # passages of one article are adjacent: keep one
        rows.append((art, start, end, first, count))
        terms.append(analyze(article.text[start:end]) + (title_terms[art] if titles else []))
        if len(rows) >= _BATCH:
            writer.add_passages(rows, terms)
            rows, terms = [], []
            if progress:
                progress(done, len(numbers))
    writer.add_passages(rows, terms)
    articles, article_numbers = [], []
    for number, file, digest, seen in source.store.columns("file", "digest", "first_seen"):
        articles.append(
            NewArticle(
                article=source.store.article(number), file=file, digest=digest, first_seen=seen,
                sentences=source.store.sentences(number),
            )
        )  # fmt: skip
        article_numbers.append(number)
    splitter = None
    if source.root is not None and "splitter" in meta:
        splitter = json.loads((source.root / meta["splitter"]["file"]).read_text(encoding="utf-8"))
    info = source.info
    record = {
        "built_at": info.built_at.isoformat(),
        "build_seconds": info.build_seconds,
        "sources": {path: list(v) for path, v in info.sources.items()},
        "files": {path: list(v) for path, v in info.files.items()},
        "report": _report(source),
        "changed": {"added": list(source.changed.added), "changed": list(source.changed.changed),
                    "removed": list(source.changed.removed)},
    }  # fmt: skip
    keep = ("format", "analyzer", "titles", "articles_path", "next_article")
    return writer.commit(
        Commit(
            full=True,
            articles=articles,
            numbers=article_numbers,
            dead=frozenset(),
            settings=source.settings,
            metadata={key: meta[key] for key in keep if key in meta},
            splitter=splitter,
            record=record,
        )
    )


def _report(source: Index) -> dict[str, Any]:
    return store.report_record(source.report)
