"""The manifest and its commits: which segments and tombstones make the index's current state.

``CURRENT`` names the manifest of the latest commit with its checksum and moves with one ``os.replace``; a
manifest lists the segments in order with their tombstones, the BM25 settings and the caller's metadata.
Committing writes the new manifest durably before ``CURRENT`` moves, so a kill at any moment leaves the previous
state loadable; files no manifest names are removed by the next writer. (tantivy's ``segment_register``.)
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import store
from ..bm25 import Settings
from ..errors import IndexCorrupt, IndexNotFound
from .format import FORMAT_VERSION, Progress, SegmentEntry, SegmentInfo, read_verified, settings_json


@dataclass(frozen=True, slots=True)
class Manifest:
    """One commit point: the ordered segments, the BM25 settings and the caller's metadata (do not mutate it)."""

    generation: int
    settings: Settings
    segments: tuple[SegmentEntry, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        """The manifest's file name."""
        return f"manifest-{self.generation:010d}.json"

    def files(self) -> set[str]:
        """Names under the root that this manifest needs (the manifest file itself included)."""
        out = {self.file_name}
        for entry in self.segments:
            out.add(entry.segment.name)
            if entry.tombstones:
                out.add(entry.tombstones)
        return out


# ------------------------------------------------------------------------------------------------------- manifest


def _manifest_json(manifest: Manifest) -> bytes:
    doc = {
        "format": FORMAT_VERSION,
        "generation": manifest.generation,
        "bm25": settings_json(manifest.settings),
        "segments": [
            {
                "name": e.segment.name,
                "documents": e.segment.documents,
                "terms": e.segment.terms,
                "postings": e.segment.postings,
                "rows_width": e.segment.rows_width,
                "checksum": e.segment.checksum,
                "deleted": e.deleted,
                "tombstones": e.tombstones,
                "tombstones_checksum": e.tombstones_checksum,
            }
            for e in manifest.segments
        ],
        "metadata": manifest.metadata,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False).encode("utf-8")


def _read_current(root: Path) -> tuple[str, str]:
    try:
        text = (root / "CURRENT").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IndexNotFound(f"no index at {str(root)!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"index at {str(root)!r} is unreadable ({exc.__class__.__name__})") from None
    parts = text.split()
    if len(parts) != 2 or not parts[0].startswith("manifest-") or "/" in parts[0]:
        raise IndexCorrupt(f"index at {str(root)!r} has a damaged CURRENT file")
    return parts[0], parts[1]


def read_manifest(root: Path) -> Manifest:
    """The manifest ``CURRENT`` names, verified (IndexNotFound when there is none, IndexCorrupt when damaged)."""
    name, checksum = _read_current(root)
    data = read_verified(root / name, checksum, f"manifest {name} at {str(root)!r}")
    try:
        doc = json.loads(data)
        if doc["format"] != FORMAT_VERSION:
            raise IndexCorrupt(
                f"index at {str(root)!r} has format {doc['format']!r}, this newsbot reads {FORMAT_VERSION}"
            )
        segments = tuple(
            SegmentEntry(
                segment=SegmentInfo(
                    name=str(s["name"]),
                    documents=int(s["documents"]),
                    terms=int(s["terms"]),
                    postings=int(s["postings"]),
                    rows_width=int(s["rows_width"]),
                    checksum=str(s["checksum"]),
                ),
                deleted=int(s["deleted"]),
                tombstones=s["tombstones"],
                tombstones_checksum=s["tombstones_checksum"],
            )
            for s in doc["segments"]
        )
        manifest = Manifest(
            generation=int(doc["generation"]),
            settings=Settings(**doc["bm25"]),
            segments=segments,
            metadata=dict(doc["metadata"]),
        )
        if manifest.file_name != name:
            raise ValueError("generation does not match the file name")
    except IndexCorrupt:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(
            f"manifest {name} at {str(root)!r} is inconsistent ({exc.__class__.__name__})"
        ) from None
    return manifest


def commit_manifest(root: Path, manifest: Manifest, progress: Progress | None) -> None:
    """Write the manifest, then atomically point CURRENT at it (both fsynced, as index/store.py does)."""
    data = _manifest_json(manifest)
    if progress:
        progress("manifest")
    store.write_durably(root / manifest.file_name, data, exclusive=False)
    if progress:
        progress("current")
    tmp = root / f"CURRENT.{os.getpid()}.{threading.get_ident()}.tmp"
    store.write_durably(tmp, f"{manifest.file_name} {store.checksum(data)}\n".encode(), exclusive=False)
    os.replace(tmp, root / "CURRENT")
    store.fsync_dir(root)
    if progress:
        progress("committed")


def remove_files(root: Path, names: Iterable[str]) -> None:
    """Remove these files and folders under ``root`` (one already gone is fine)."""
    for name in names:
        path = root / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def our_files(root: Path) -> set[str]:
    """Every name under the root that a segmented index writes (LOCK excepted)."""
    return {
        p.name
        for p in root.iterdir()
        if p.name.startswith(("seg-", "del-", "manifest-"))
        or (p.name.startswith("CURRENT.") and p.name.endswith(".tmp"))
    }
