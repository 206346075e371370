"""Ingest: turn a folder (recursively) or a single file of articles into ``Article`` records.

Formats, by file name:

- ``.txt``: the first non-empty line is the title; a date line near the top (``Saturday, 23 May 2020 12:30``,
  ``23 May 2020``, ``May 23, 2020`` or ISO ``2020-05-23``) is the date; the rest is the body in paragraphs.
- ``.md``/``.markdown``: YAML front matter (``title``, ``date``, ``url``, ``id``), else the first ``#`` heading.
- ``.html``/``.htm``: title, date, canonical URL and main text extracted by trafilatura.
- ``.json`` (one record or a list), ``.jsonl``, ``.jsonl.gz``: records with ``id``, ``title``, ``text`` (or
  ``body``/``content``), ``date``, ``url``.

Bad input never stops a run: every file or record passed over is reported with its reason, and exact duplicate
texts are kept once. Only ``ArticlesNotFound`` (the path itself is missing) is raised.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import logging
import os
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import ArticlesNotFound
from .model import Article, IngestReport, Skipped

__all__ = ["SUPPORTED_SUFFIXES", "ingest", "list_sources", "naive_utc", "parse_date"]

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".jsonl.gz")
MAX_FILE_BYTES = 512 * 1024 * 1024

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_MON = rf"(?:{_MONTHS}|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
_WEEKDAY = r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s+"
_TIME = r"(?:,?\s+(?P<hh>\d{1,2}):(?P<mm>\d{2})(?::(?P<ss>\d{2}))?)?"
_DATE_LINE = re.compile(
    rf"^\s*(?:{_WEEKDAY})?(?:"
    rf"(?P<d1>\d{{1,2}})\s+(?P<m1>{_MON}),?\s+(?P<y1>\d{{4}})"
    rf"|(?P<m2>{_MON})\s+(?P<d2>\d{{1,2}}),?\s+(?P<y2>\d{{4}})"
    rf"){_TIME}\s*$",
    re.IGNORECASE,
)
_ISO_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\s*$")
_TEXT_FIELDS = ("text", "body", "content")


def parse_date(value: object) -> dt.datetime | None:
    """Read a publication date from a date line, an ISO 8601 string or a datetime.

    Args:
        value: ``"Saturday, 23 May 2020 12:30"``, ``"May 23, 2020"``, ``"2020-05-23T12:30:00Z"``, a ``date``...

    Returns:
        A datetime (time-zone aware only when the input said so), or None when it is not a date.
    """
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, str) or len(value) > 80:
        return None
    if _ISO_DATE.match(value):
        try:
            return dt.datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError:
            return None
    match = _DATE_LINE.match(value)
    if not match:
        return None
    g = match.groupdict()
    day, month, year = (g["d1"], g["m1"], g["y1"]) if g["d1"] else (g["d2"], g["m2"], g["y2"])
    month_number = _month_number(month)
    try:
        return dt.datetime(int(year), month_number, int(day), int(g["hh"] or 0), int(g["mm"] or 0), int(g["ss"] or 0))
    except ValueError:
        return None


def naive_utc(when: dt.datetime | None) -> dt.datetime | None:
    """Dates compare without time zones: an aware date becomes naive UTC, a naive one is taken as UTC."""
    if when is not None and when.tzinfo is not None:
        return when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


def _month_number(name: str) -> int:
    prefix = name.rstrip(".").lower()[:3]
    return [m[:3].lower() for m in _MONTHS.split("|")].index(prefix) + 1


def list_sources(path: str | os.PathLike[str]) -> list[Path]:
    """Every candidate article file under ``path`` (or ``path`` itself), sorted, hidden files left out.

    Raises:
        ArticlesNotFound: the path does not exist.
    """
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise ArticlesNotFound(f"articles path {str(root)!r} does not exist (pass --articles PATH or set ARTICLES_DIR)")
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(folder, f) for f in sorted(files) if not f.startswith("."))
    return found


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".jsonl.gz" if name.endswith(".jsonl.gz") else path.suffix.lower()


def _clean_paragraphs(lines: list[str]) -> list[str]:
    """Group lines into paragraphs at blank lines, trailing spaces removed, lines inside a paragraph kept."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if line.strip():
            current.append(line.rstrip())
        elif current:
            paragraphs.append("\n".join(current).strip())
            current = []
    if current:
        paragraphs.append("\n".join(current).strip())
    return paragraphs


def _title_from_text(text: str) -> str:
    words = text.split()
    return " ".join(words[:12]) + (" …" if len(words) > 12 else "")


class _Collector:
    """Accumulates articles, skips and duplicates for one run."""

    def __init__(self) -> None:
        self.articles: list[Article] = []
        self.skipped: list[Skipped] = []
        self.duplicates: list[Skipped] = []
        self._by_hash: dict[str, str] = {}
        self._ids: set[str] = set()

    def skip(self, source: str, reason: str) -> None:
        log.debug("skipped %s: %s", source, reason)
        self.skipped.append(Skipped(source, reason))

    def add(self, source: str, *, id_hint: object, title: object, text: object, date: object, url: object) -> None:
        if not isinstance(text, str) or not text.strip():
            self.skip(source, "no text")
            return
        paragraphs = _clean_paragraphs(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
        body = "\n\n".join(paragraphs)
        digest = hashlib.sha1(body.encode("utf-8")).hexdigest()
        if digest in self._by_hash:
            self.duplicates.append(Skipped(source, f"same text as article {self._by_hash[digest]!r}"))
            return
        article_id = str(id_hint).strip() if id_hint not in (None, "") else digest[:16]
        if article_id in self._ids:
            article_id = f"{article_id}-{digest[:8]}"
        title_text = " ".join(str(title).split()) if isinstance(title, str | int | float) and str(title).strip() else ""
        self._by_hash[digest] = article_id
        self._ids.add(article_id)
        self.articles.append(
            Article(
                id=article_id,
                title=title_text or _title_from_text(body),
                text=body,
                date=parse_date(date),
                url=url.strip() if isinstance(url, str) and url.strip() else None,
                source=source,
            )
        )

    def add_record(self, source: str, record: object, id_fallback: str | None) -> None:
        if not isinstance(record, dict):
            self.skip(source, f"expected a JSON object, got {type(record).__name__}")
            return
        text = next((record[f] for f in _TEXT_FIELDS if isinstance(record.get(f), str) and record[f].strip()), None)
        self.add(
            source,
            id_hint=record.get("id", record.get("_id")) or id_fallback,
            title=record.get("title"),
            text=text,
            date=record.get("date"),
            url=record.get("url"),
        )


def _read_text(path: Path, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (bad byte at offset {exc.start})") from None


def _ingest_txt(path: Path, text: str, out: _Collector) -> None:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    if not nonblank:
        out.skip(str(path), "empty file")
        return
    title_at = nonblank[0]
    date = None
    # The date line sits near the top: in the seed it follows the lead paragraph.
    for i in nonblank[1:8]:
        date = parse_date(lines[i].strip())
        if date:
            lines[i] = ""
            break
    out.add(
        str(path),
        id_hint=path.stem,
        title=lines[title_at].strip(),
        text="\n".join(lines[title_at + 1 :]),
        date=date,
        url=None,
    )


_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)


def _ingest_markdown(path: Path, text: str, out: _Collector) -> None:
    import yaml  # only markdown needs it

    meta: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            out.skip(str(path), f"front matter is not valid YAML ({str(exc).splitlines()[0]})")
            return
        meta = loaded if isinstance(loaded, dict) else {}
        text = text[match.end() :]
    title = meta.get("title")
    lines = text.split("\n")
    body = []
    for line in lines:
        heading = re.match(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if heading and not title and heading.group(1) == "#":
            title = heading.group(2)
            continue
        body.append(heading.group(2) if heading else line)
    out.add(
        str(path),
        id_hint=meta.get("id") or path.stem,
        title=title,
        text="\n".join(body),
        date=meta.get("date"),
        url=meta.get("url"),
    )


def _ingest_html(path: Path, text: str, out: _Collector) -> None:
    import trafilatura  # heavy import, only for HTML

    doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False, include_tables=False)
    if doc is None or not (doc.text or "").strip():
        out.skip(str(path), "no main text found in the HTML")
        return
    lines = doc.text.split("\n")
    if doc.title and lines and lines[0].strip() == doc.title.strip():
        lines = lines[1:]
    out.add(str(path), id_hint=path.stem, title=doc.title, text="\n\n".join(lines), date=doc.date, url=doc.url)


def _ingest_json(path: Path, text: str, out: _Collector) -> None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        out.skip(str(path), f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
        return
    if isinstance(data, list):
        for n, record in enumerate(data, 1):
            out.add_record(f"{path}#{n}", record, None)
    else:
        out.add_record(str(path), data, path.stem)


def _iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    opener: Callable[..., Any] = gzip.open if _suffix(path) == ".jsonl.gz" else open
    with opener(path, "rb") as handle:
        yield from enumerate(handle, 1)


def _ingest_jsonl(path: Path, out: _Collector) -> None:
    line_no = 0
    try:
        for line_no, raw in _iter_lines(path):
            if not raw.strip():
                continue
            source = f"{path}:{line_no}"
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                out.skip(source, f"invalid JSON line ({exc.__class__.__name__}: {str(exc)[:80]})")
                continue
            out.add_record(source, record, None)
    except (EOFError, OSError, zlib.error) as exc:
        # A truncated or damaged gzip: keep what was read, report where it stopped.
        out.skip(f"{path}:{line_no + 1}", f"file ends early or is damaged after line {line_no} ({exc})")


def ingest(path: str | os.PathLike[str]) -> tuple[list[Article], IngestReport]:
    """Read every article under ``path``.

    Args:
        path: a folder (walked recursively, hidden entries ignored) or one file.

    Returns:
        The articles in a stable order (sorted file names, then record order) and the report of the run.

    Raises:
        ArticlesNotFound: the path does not exist.
    """
    out = _Collector()
    files = list_sources(path)
    for file in files:
        suffix = _suffix(file)
        source = str(file)
        if suffix not in SUPPORTED_SUFFIXES:
            out.skip(source, f"unsupported file type {suffix or '(none)'!r}; accepted: {', '.join(SUPPORTED_SUFFIXES)}")
            continue
        try:
            size = file.stat().st_size
            if size == 0:
                out.skip(source, "empty file")
                continue
            if size > MAX_FILE_BYTES:
                out.skip(source, f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")
                continue
            if suffix in (".jsonl", ".jsonl.gz"):
                _ingest_jsonl(file, out)
                continue
            text = _read_text(file, file.read_bytes())
        except ValueError as exc:
            out.skip(source, str(exc))
            continue
        except OSError as exc:
            out.skip(source, f"cannot read ({exc.strerror or exc})")
            continue
        if not text.strip():
            out.skip(source, "empty file")
        elif suffix == ".txt":
            _ingest_txt(file, text, out)
        elif suffix in (".md", ".markdown"):
            _ingest_markdown(file, text, out)
        elif suffix in (".html", ".htm"):
            _ingest_html(file, text, out)
        else:
            _ingest_json(file, text, out)
    report = IngestReport(
        loaded=len(out.articles), skipped=tuple(out.skipped), duplicates=tuple(out.duplicates), files=len(files)
    )
    return out.articles, report
