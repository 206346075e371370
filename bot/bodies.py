"""Bounded bodies: read a response's body, decompressed, without ever holding more than the limit allows.

A ``Content-Length`` can lie and a compressed body can inflate a thousandfold (a gzip bomb), so neither is
trusted: the raw stream is read chunk by chunk, and each chunk is inflated a step at a time, never past what is
still allowed. A compression bomb costs no more memory than an honest body of the limit's size. Only gzip and
deflate (zlib-wrapped or raw) are accepted, as the fetcher asks for only those.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import httpx

from bot.errors import ResponseTooLarge, Unreachable

__all__ = ["read_body"]

_INFLATE_STEP = 1 << 20


class _BoundedDecoder:
    """Decodes a gzip or deflate body without ever producing more than the bytes still allowed.

    httpx's own decoders inflate each network chunk in full, so one 64 KiB chunk of a compression bomb would
    become tens of megabytes before any size check; here each step asks zlib for at most what is allowed.
    """

    def __init__(self, content_encoding: str, *, url: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip().lower() not in ("", "identity")]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise Unreachable(f"could not fetch {url}: unsupported Content-Encoding {content_encoding!r}", url=url)
        self._coding = codings[0] if codings else None
        self._url = url
        self._inflater = self._new_inflater()
        self._deflate_checked = False

    def _new_inflater(self) -> Any:
        if self._coding == "deflate":
            return zlib.decompressobj()  # zlib-wrapped; raw deflate is detected on the first chunk
        return zlib.decompressobj(zlib.MAX_WBITS | 16) if self._coding else None

    def pieces(self, data: bytes, room: int) -> Iterator[bytes]:
        """Decoded pieces of ``data`` of at most 1 MiB each, stopping once more than ``room`` bytes came out."""
        if self._inflater is None:
            yield data[: room + 1]
            return
        pending, produced = data, 0
        try:
            if self._coding == "deflate" and not self._deflate_checked and data:
                self._deflate_checked = True
                if (data[0] & 0x0F) != 8:  # no zlib header: servers often send raw deflate
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            while pending and produced <= room:
                out = self._inflater.decompress(pending, min(room + 1 - produced, _INFLATE_STEP))
                pending = self._inflater.unconsumed_tail
                if self._inflater.eof and self._inflater.unused_data:
                    pending = self._inflater.unused_data  # a gzip body may hold several members in a row
                    self._inflater = self._new_inflater()
                produced += len(out)
                if out:
                    yield out
        except zlib.error as exc:
            raise Unreachable(
                f"could not fetch {self._url}: broken {self._coding} body ({exc})", url=self._url
            ) from None


async def read_body(response: httpx.Response, *, url: str, limit: int, truncate: bool = False) -> bytes:
    """Read a streamed response's body, decoded (gzip, deflate), never holding more than ``limit`` bytes of it.

    Args:
        response: a response opened with ``client.stream(...)``, its body not read yet.
        url: the URL it came from, for the error messages.
        limit: the most decoded bytes accepted.
        truncate: keep the first ``limit`` bytes instead of failing (robots.txt: its first 500 KiB decide).

    Returns:
        The decoded body.

    Raises:
        ResponseTooLarge: more than ``limit`` bytes, unless ``truncate``.
        Unreachable: a Content-Encoding other than gzip or deflate, or a broken compressed body.
    """
    decoder = _BoundedDecoder(response.headers.get("content-encoding", ""), url=url)
    chunks: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        for piece in decoder.pieces(raw, limit - size):
            size += len(piece)
            if size > limit:
                if truncate:
                    chunks.append(piece[: len(piece) - (size - limit)])
                    return b"".join(chunks)
                raise ResponseTooLarge(f"{url} sent more than {limit} bytes (the limit)", url=url)
            chunks.append(piece)
    return b"".join(chunks)
