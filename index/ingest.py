"""Ingest: turn a folder (recursively) or a single file of articles into ``Article`` records.

Formats, by file name:

- ``.txt``: the first non-empty line is the title; a date line near the top (``Saturday, 23 May 2020 12:30``,
  ``23 May 2020``, ``May 23, 2020`` or ISO ``2020-05-23``) is the date; the rest is the body in paragraphs.
- ``.md``/``.markdown``: YAML front matter (``title``, ``date``, ``url``, ``id``), else the first ``#`` heading.
- ``.html``/``.htm``: title, date, canonical URL and main text extracted by trafilatura.
- ``.json`` (one record or a list), ``.jsonl``, ``.jsonl.gz``: records with ``id``, ``title``, ``text`` (or
  ``body``/``content``), ``date``, ``url``. JSON Lines are streamed, so a file of any size can be read.

Bad input never stops a run: any problem with one file or one record skips that file or record with a reason
(a short kind such as ``invalid JSON line``, plus a detail), and reading goes on. Text in UTF-16 or UTF-32 with
a byte-order mark, and legacy encodings such as Windows-1252, are decoded and reported. A record with a title
and no body is a headline: its title is its quotable text.

Small inputs never cause huge work: whole-file formats are capped in size, one JSON line in bytes, a gzip file
in how far it may expand, and ``id``, ``title``, ``date`` and ``url`` must be short scalars. Skips are counted by
reason with a bounded sample, so memory follows the articles kept, not what the input claims. Links that lead
outside the articles folder are never followed. Only ``ArticlesNotFound`` (the path itself is missing) is raised.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import gzip
import hashlib
import json
import logging
import os
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .dates import parse_date
from .errors import ArticlesNotFound
from .model import Article, IngestReport, Skipped

__all__ = [
    "BOMS",
    "SUPPORTED_SUFFIXES",
    "clean_paragraphs",
    "decode",
    "decode_legacy",
    "fingerprint",
    "ingest",
    "list_sources",
    "walk",
]

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".jsonl.gz")
MAX_DOCUMENT_BYTES = 64 << 20  # a whole-file format is read into memory at once; large collections use .jsonl
MAX_LINE_BYTES = 8 << 20  # one JSON line is one article: no news story needs more
GZIP_RATIO = 100  # honest text compresses about 3-10 times; a bomb, a thousand times
GZIP_FLOOR = 1 << 20  # tiny files compress badly, so they may always expand this far
MAX_FRONT_MATTER = 64 << 10
MAX_ID, MAX_TITLE, MAX_URL = 200, 1000, 2048
SAMPLE_PER_REASON, SAMPLE_TOTAL = 5, 100

_TEXT_FIELDS = ("text", "body", "content")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Whitespace and invisible format characters (BOM, zero-width, bidi controls): a text of only these is empty.
_INVISIBLE_ONLY = re.compile(r"[\s\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u206a-\u206f\ufeff]*")
# Byte-order marks as (mark, codec, name to report; None for UTF-8). UTF-32 first: its little-endian mark starts
# with UTF-16's. Feeds are decoded with the same table (index.feeds.decode_feed).
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", None),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


class _Skip(Exception):
    """Raised inside ingestion to pass over the current file or record with a reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def _inside(path: Path, real_root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(real_root)
    except (OSError, RuntimeError):  # a link loop
        return False


def walk(path: str | os.PathLike[str]) -> Iterator[tuple[Path, str | None]]:
    """Every candidate file under ``path`` (or ``path`` itself), sorted, hidden entries left out.

    Yields ``(file, None)`` for a file to read and ``(entry, reason)`` for an entry that is refused: a link that
    leads outside the articles folder, or a link to a folder (folders are never entered through links).

    Raises:
        ArticlesNotFound: the path does not exist.
    """
    root = Path(path)
    if root.is_file():
        yield root, None
        return
    if not root.is_dir():
        raise ArticlesNotFound(f"articles path {str(root)!r} does not exist")
    real_root = root.resolve()
    for folder, dirs, files in os.walk(root):  # followlinks=False: a linked folder is reported, never entered
        entered = []
        for name in sorted(d for d in dirs if not d.startswith(".")):
            entry = Path(folder, name)
            if entry.is_symlink():
                inside = _inside(entry, real_root)
                yield entry, "link to a folder (not followed)" if inside else "link outside the articles folder"
            else:
                entered.append(name)
        dirs[:] = entered
        for name in sorted(f for f in files if not f.startswith(".")):
            entry = Path(folder, name)
            if entry.is_symlink() and not _inside(entry, real_root):
                yield entry, "link outside the articles folder"
            else:
                yield entry, None


def fingerprint(path: str | os.PathLike[str]) -> dict[str, list[int]]:
    """Size and modification time of every candidate article file, keyed by path relative to ``path``."""
    root = Path(path)
    files = list_sources(root)
    base = root if root.is_dir() else root.parent
    out = {}
    for file in files:
        try:
            st = file.stat()
        except OSError:
            continue
        out[str(file.relative_to(base))] = [st.st_size, st.st_mtime_ns]
    return out


def list_sources(path: str | os.PathLike[str]) -> list[Path]:
    """The files under ``path`` that ingestion reads (see ``walk``).

    Raises:
        ArticlesNotFound: the path does not exist.
    """
    return [file for file, refused in walk(path) if refused is None]


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".jsonl.gz" if name.endswith(".jsonl.gz") else path.suffix.lower()


def _has_visible(text: str) -> bool:
    return _INVISIBLE_ONLY.fullmatch(text) is None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:160]


def decode_legacy(data: bytes) -> tuple[str, str] | None:
    """Decode text that is not UTF-8: Windows-1252 when it reads as plain text, else charset-normalizer's guess.

    Args:
        data: bytes that are not UTF-8 (article files, feeds that state no usable encoding).

    Returns:
        ``(text, encoding name)``, or None when no encoding reads the bytes as text.
    """
    from charset_normalizer import from_bytes  # only legacy files need it

    # Most old Western news archives are Windows-1252 (a superset of Latin-1's letters). charset-normalizer alone
    # often prefers a neighbouring code page (cp1250, cp1257) that turns "à" into "ŕ", so Windows-1252 is tried
    # first and kept when it reads as plain text.
    with contextlib.suppress(UnicodeDecodeError):
        text = data.decode("cp1252")
        if from_bytes(data, cp_isolation=["cp1252"]).best() is not None:
            return text, "Windows-1252"
    best = from_bytes(data).best()
    return (str(best), best.encoding) if best is not None else None


def decode(data: bytes) -> tuple[str, str | None]:
    """The text of a file's bytes, and the encoding it was decoded from when that was not UTF-8.

    Raises:
        _Skip: binary data, or bytes that no encoding reads as text.
    """
    for bom, codec, name in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), name
            except UnicodeDecodeError as exc:
                raise _Skip("not text", f"invalid {name or 'UTF-8'} at byte {exc.start}") from None
    if b"\x00" in data[:8192]:
        raise _Skip("binary file", "NUL bytes")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    legacy = decode_legacy(data)
    if legacy is None:
        raise _Skip("not text", "neither UTF-8 nor a legacy encoding reads it as text")
    return legacy


def clean_paragraphs(lines: list[str]) -> list[str]:
    """Group lines into paragraphs at blank lines, trailing spaces removed, lines inside a paragraph kept.

    Args:
        lines: the text's lines, without their line ends.

    Returns:
        The paragraphs, each stripped, none empty; the one rule for paragraphs of files, feeds and pages.
    """
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


def _scalar(name: str, value: object, limit: int) -> str | None:
    """A short string from a record field, None when absent. Anything else skips the record: it costs too much."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Skip("bad field", f"{name!r} must be a string, not {type(value).__name__}")
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise _Skip("bad field", f"{name!r} is {len(text):,} characters; the limit is {limit:,}")
    return text


def _date_field(value: object) -> dt.datetime | None:
    if isinstance(value, dt.date | str) or value is None:
        return parse_date(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return None  # a number is no date we can trust (seconds? days?)
    raise _Skip("bad field", f"'date' must be a string or a date, not {type(value).__name__}")


class _Collector:
    """Accumulates articles, counts skips and duplicates (keeping a bounded sample), for one run."""

    def __init__(self) -> None:
        self.articles: list[Article] = []
        self.skip_counts: Counter[str] = Counter()
        self.samples: list[Skipped] = []
        self.duplicate_count = 0
        self.duplicate_samples: list[Skipped] = []
        self.headlines = 0
        self.decoded: dict[str, str] = {}
        self.decoded_count = 0
        self._by_hash: dict[str, str] = {}
        self._ids: set[str] = set()

    def skip(self, source: str, reason: str, detail: str = "") -> None:
        log.debug("skipped %s: %s %s", source, reason, detail)
        self.skip_counts[reason] += 1
        if self.skip_counts[reason] <= SAMPLE_PER_REASON and len(self.samples) < SAMPLE_TOTAL:
            self.samples.append(Skipped(source, reason, detail))

    def note_decoded(self, source: str, encoding: str) -> None:
        if source not in self.decoded:
            self.decoded_count += 1
            if len(self.decoded) < SAMPLE_TOTAL:
                self.decoded[source] = encoding

    @contextlib.contextmanager
    def guard(self, source: str) -> Iterator[None]:
        """Whatever goes wrong inside skips ``source`` with a reason: one bad file or record never stops a run."""
        try:
            yield
        except _Skip as skip:
            self.skip(source, skip.reason, skip.detail)
        except RecursionError:
            self.skip(source, "unreadable", "nested too deeply")
        except Exception as exc:
            log.debug("could not read %s", source, exc_info=True)
            self.skip(source, "unreadable", f"{type(exc).__name__}: {_first_line(exc)}")

    def add(self, source: str, *, id_hint: object, title: object, text: object, date: object, url: object) -> None:
        """Add one article (validating its fields). Raises _Skip when it cannot be one."""
        id_text = _scalar("id", id_hint, MAX_ID)
        title_text = " ".join((_scalar("title", title, MAX_TITLE) or "").split())
        url_text = (_scalar("url", url, MAX_URL) or "").strip() or None
        when = _date_field(date)
        body = text if isinstance(text, str) and _has_visible(text) else ""
        for name, value in (("title", title_text), ("text", body)):
            bad = _SURROGATE.search(value)
            if bad:
                raise _Skip("invalid Unicode", f"lone surrogate in the {name} at character {bad.start()}")
        headline = False
        if not body:
            if not _has_visible(title_text):
                raise _Skip("no text")
            body, headline = title_text, True  # a headline is news too: its title is what gets quoted
        paragraphs = clean_paragraphs(body.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
        body = "\n\n".join(paragraphs)
        digest = hashlib.sha1(body.encode("utf-8")).hexdigest()
        if digest in self._by_hash:
            self.duplicate_count += 1
            if len(self.duplicate_samples) < SAMPLE_TOTAL:
                self.duplicate_samples.append(
                    Skipped(source, "duplicate", f"same text as article {self._by_hash[digest]!r}")
                )
            return
        article_id = id_text.strip() if id_text and id_text.strip() else digest[:16]
        if article_id in self._ids:
            article_id = f"{article_id}-{digest[:8]}"
        self._by_hash[digest] = article_id
        self._ids.add(article_id)
        self.headlines += headline
        self.articles.append(
            Article(
                id=article_id,
                title=title_text or _title_from_text(body),
                text=body,
                date=when,
                url=url_text,
                source=source,
            )
        )

    def add_record(self, source: str, record: object, id_fallback: str | None) -> None:
        if not isinstance(record, dict):
            raise _Skip("not an object", f"expected a JSON object, got {type(record).__name__}")
        text = next((record[f] for f in _TEXT_FIELDS if isinstance(record.get(f), str) and record[f].strip()), None)
        self.add(
            source,
            id_hint=record.get("id", record.get("_id")) or id_fallback,
            title=record.get("title"),
            text=text,
            date=record.get("date"),
            url=record.get("url"),
        )

    def report(self, files: int) -> IngestReport:
        return IngestReport(
            loaded=len(self.articles),
            skipped=tuple(self.samples),
            duplicates=tuple(self.duplicate_samples),
            files=files,
            skip_counts=tuple(self.skip_counts.most_common()),
            duplicate_count=self.duplicate_count,
            headlines=self.headlines,
            decoded=tuple(self.decoded.items()),
            decoded_count=self.decoded_count,
        )


def _ingest_txt(path: Path, text: str, out: _Collector) -> None:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
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
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def _ingest_markdown(path: Path, text: str, out: _Collector) -> None:
    import yaml  # only markdown needs it

    meta: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        if len(match.group(1)) > MAX_FRONT_MATTER:
            raise _Skip("invalid front matter", f"over {MAX_FRONT_MATTER:,} characters")
        try:
            loaded = yaml.safe_load(match.group(1))
        except Exception as exc:  # YAML errors, and dates or numbers its constructors cannot make
            raise _Skip("invalid front matter", _first_line(exc)) from None
        meta = loaded if isinstance(loaded, dict) else {}
        text = text[match.end() :]
    title = meta.get("title")
    body: list[str] = []
    for line in text.split("\n"):
        heading = _HEADING.match(line)
        if heading and heading.group(1) == "#":
            if not title:
                title = heading.group(2)
                continue
            first = not any(b.strip() for b in body)
            if first and isinstance(title, str) and " ".join(title.split()).casefold() == heading.group(2).casefold():
                continue  # the front matter's title repeated as the first heading is not the lead
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

    # favor_precision: without it, a page of navigation links alone comes back as an article titled "Home".
    doc = trafilatura.bare_extraction(
        text, with_metadata=True, include_comments=False, include_tables=False, favor_precision=True
    )
    if doc is None or not _has_visible(doc.text or ""):
        raise _Skip("no main text", "only navigation or boilerplate")
    lines = doc.text.split("\n")
    if doc.title and lines and lines[0].strip() == doc.title.strip():
        lines = lines[1:]
    out.add(str(path), id_hint=path.stem, title=doc.title, text="\n\n".join(lines), date=doc.date, url=doc.url)


def _ingest_json(path: Path, text: str, out: _Collector) -> None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Skip("invalid JSON", f"line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # a number too long to read, nesting too deep
        raise _Skip("invalid JSON", _first_line(exc) if isinstance(exc, ValueError) else "nested too deeply") from None
    if isinstance(data, list):
        if not data:
            raise _Skip("no records", "an empty JSON list")
        for n, record in enumerate(data, 1):
            with out.guard(f"{path}#{n}"):
                out.add_record(f"{path}#{n}", record, None)
    else:
        out.add_record(str(path), data, path.stem)


class _Bomb(Exception):
    """A gzip file expanded past its allowance."""


def _lines(handle: IO[bytes], *, limit: int, budget: int | None) -> Iterator[tuple[int, bytes | None]]:
    """Numbered lines of ``handle``; None for a line over ``limit`` bytes, which is read past, never kept.

    Raises:
        _Bomb: more than ``budget`` bytes came out of the file.
    """
    number = 0
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while True:
                if budget is not None and handle.tell() > budget:
                    raise _Bomb(number)
                rest = handle.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None
        else:
            yield number, line
        if budget is not None and handle.tell() > budget:
            raise _Bomb(number)


def _json_line(raw: bytes, source: str, out: _Collector) -> object:
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        text, encoding = decode(raw)
        if encoding:
            out.note_decoded(source, encoding)
        return json.loads(text)


def _ingest_jsonl(path: Path, out: _Collector) -> None:
    compressed = _suffix(path) == ".jsonl.gz"
    budget = max(GZIP_FLOOR, GZIP_RATIO * path.stat().st_size) if compressed else None
    records = 0
    line_no = 0
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
            for line_no, raw in _lines(handle, limit=MAX_LINE_BYTES, budget=budget):
                source = f"{path}:{line_no}"
                if raw is None:
                    records += 1
                    out.skip(source, "line too long", f"over {MAX_LINE_BYTES:,} bytes")
                    continue
                if not raw.strip():
                    continue
                records += 1
                with out.guard(source):
                    try:
                        record = _json_line(raw, str(path), out)
                    except json.JSONDecodeError as exc:
                        raise _Skip("invalid JSON line", f"column {exc.colno}: {exc.msg}") from None
                    except (ValueError, RecursionError) as exc:
                        detail = _first_line(exc) if isinstance(exc, ValueError) else "nested too deeply"
                        raise _Skip("invalid JSON line", detail) from None
                    out.add_record(source, record, None)
    except _Bomb as bomb:
        out.skip(
            f"{path}:{bomb.args[0]}",
            "decompression bomb",
            f"expands to over {GZIP_RATIO}× its {path.stat().st_size:,} bytes; stopped at line {bomb.args[0]}",
        )
        return
    except (EOFError, OSError, zlib.error) as exc:
        # A truncated or damaged gzip: keep what was read, report where it stopped.
        out.skip(f"{path}:{line_no + 1}", "truncated or damaged", f"ends early after line {line_no} ({exc})")
        return
    if records == 0:
        out.skip(str(path), "no records", "no JSON lines in the file")


def _ingest_file(file: Path, out: _Collector) -> None:
    suffix = _suffix(file)
    if suffix not in SUPPORTED_SUFFIXES:
        raise _Skip("unsupported file type", f"{suffix or '(none)'}; accepted: {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise _Skip("cannot read", exc.strerror or str(exc)) from None
    if size == 0:
        raise _Skip("empty file")
    if suffix in (".jsonl", ".jsonl.gz"):
        _ingest_jsonl(file, out)
        return
    if size > MAX_DOCUMENT_BYTES:
        raise _Skip("too large", f"{size:,} bytes; a {suffix} file may have {MAX_DOCUMENT_BYTES:,} (use .jsonl)")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _Skip("cannot read", exc.strerror or str(exc)) from None
    text, encoding = decode(data)
    if encoding:
        out.note_decoded(str(file), encoding)
    if not _has_visible(text):
        raise _Skip("empty file")
    if suffix == ".txt":
        _ingest_txt(file, text, out)
    elif suffix in (".md", ".markdown"):
        _ingest_markdown(file, text, out)
    elif suffix in (".html", ".htm"):
        _ingest_html(file, text, out)
    else:
        _ingest_json(file, text, out)


def ingest(path: str | os.PathLike[str], *, only: set[str] | None = None) -> tuple[list[Article], IngestReport]:
    """Read every article under ``path``.

    Args:
        path: a folder (walked recursively, hidden entries ignored, links out of it refused) or one file.
        only: read just these files (paths relative to ``path``, or to its folder when it is a file), as an
            incremental update does; None reads everything.

    Returns:
        The articles in a stable order (sorted file names, then record order) and the report of the run.

    Raises:
        ArticlesNotFound: the path does not exist.
    """
    out = _Collector()
    files = 0
    root = Path(path)
    base = root if root.is_dir() else root.parent
    for file, refused in walk(path):
        if only is not None and str(file.relative_to(base)) not in only:
            continue
        files += 1
        if refused:
            out.skip(str(file), refused)
            continue
        with out.guard(str(file)):
            _ingest_file(file, out)
    return out.articles, out.report(files)
