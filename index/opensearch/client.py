"""Connecting to an OpenSearch cluster, and turning what goes wrong there into newsbot's errors.

``ClusterConfig`` is what the CLI and the bot read from ``OPENSEARCH_*`` (bot/config.py builds it; index/ never
reads the environment). ``connect`` makes an ``opensearchpy.OpenSearch`` client over every node given, with
retries on timeouts and dead nodes. ``unavailable`` wraps a client call: a cluster that cannot be reached, times
out or answers a server error raises ``ArchiveUnavailable`` with one line that never holds the password.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ArchiveUnavailable, IndexCorrupt, InvalidOption

__all__ = ["ClusterConfig", "connect", "unavailable", "whole"]


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Where the cluster is and how newsbot's indices are made there."""

    urls: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    verify_certs: bool = True
    prefix: str = "newsbot"
    shards: int = 1
    replicas: int = 1
    timeout: float = 10.0  # seconds for one request (a bulk request gets six times as long)

    def __post_init__(self) -> None:
        if not self.urls:
            raise InvalidOption("OPENSEARCH_URL names no node; give one or more URLs separated by commas")
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidOption(f"{shown(url)!r} is not an http:// or https:// URL of an OpenSearch node")
        if not self.prefix or self.prefix != self.prefix.lower() or not self.prefix.replace("-", "").isalnum():
            raise InvalidOption(f"index prefix {self.prefix!r}: use lower-case letters, digits and '-'")

    @property
    def where(self) -> str:
        """The node URLs without any credentials, for messages."""
        return ",".join(shown(url) for url in self.urls)


def shown(url: str) -> str:
    """``url`` without a user name or password."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def connect(config: ClusterConfig) -> Any:
    """A client over every node of ``config`` (nothing is sent until it is used).

    One client per cluster and credentials in a process, shared by every archive and writer: it is thread-safe,
    and its connection pools would otherwise be made anew (and left to the garbage collector) at every update.
    """
    return _client(config.urls, config.username, config.password, config.ca_certs, config.verify_certs, config.timeout)


@functools.cache
def _client(
    urls: tuple[str, ...],
    username: str | None,
    password: str | None,
    ca_certs: str | None,
    verify: bool,
    timeout: float,
) -> Any:
    from opensearchpy import OpenSearch  # the opensearch extra; imported here so the local engine never needs it

    options: dict[str, Any] = {
        "hosts": list(urls),
        "timeout": timeout,
        "max_retries": 2,
        "retry_on_timeout": True,
        # Connections kept per node: the bot asks from many threads at once (urllib3's default of 1 opened and
        # dropped a connection for most requests under 20 concurrent chats).
        "pool_maxsize": 16,
        "verify_certs": verify,
        "ssl_show_warn": verify,
    }
    if username is not None:
        options["http_auth"] = (username, password or "")
    if ca_certs:
        options["ca_certs"] = ca_certs
    return OpenSearch(**options)


def _reason(error: Exception) -> str:
    info = getattr(error, "info", None)
    status = getattr(error, "status_code", None)
    if isinstance(info, dict) and isinstance(info.get("error"), dict):
        detail = info["error"].get("reason") or info["error"].get("type")
        return f"HTTP {status}: {detail}"
    if isinstance(status, int):
        return f"HTTP {status}: {getattr(error, 'error', '') or error.__class__.__name__}"
    return error.__class__.__name__


@contextlib.contextmanager
def unavailable(config: ClusterConfig, doing: str) -> Iterator[None]:
    """Raise ``ArchiveUnavailable`` for a cluster that cannot be reached or fails while ``doing`` something.

    Client errors (4xx) other than authentication pass through unchanged: they are ours to handle.
    """
    from opensearchpy import exceptions

    try:
        yield
    except (exceptions.ConnectionError, exceptions.ConnectionTimeout) as error:
        raise ArchiveUnavailable(
            f"the OpenSearch cluster at {config.where} cannot be reached while {doing} ({error.__class__.__name__})"
        ) from None
    except (exceptions.AuthenticationException, exceptions.AuthorizationException) as error:
        raise ArchiveUnavailable(
            f"the OpenSearch cluster at {config.where} refused newsbot's credentials while {doing} ({_reason(error)})"
        ) from None
    except exceptions.TransportError as error:
        status = error.status_code if isinstance(error.status_code, int) else 0
        if status and status < 500 and status != 429:
            raise
        raise ArchiveUnavailable(
            f"the OpenSearch cluster at {config.where} failed while {doing} ({_reason(error)})"
        ) from None


def whole(config: ClusterConfig, doing: str, response: dict[str, Any]) -> dict[str, Any]:
    """``response`` (of a search, or one of a multi-search) if every shard answered it; else ``ArchiveUnavailable``.

    A search that some shards failed (a node down, its shards' copies not yet promoted) still answers, from the
    shards that did: counts too low, passages missing. Served as such it would decline a question the archive
    answers, or remember a wrong document frequency, so it is a failure to retry, not an answer.
    """
    error = response.get("error")
    if error is not None:
        status = response.get("status")
        if isinstance(status, int) and status < 500 and status != 429:
            reason = error.get("reason") if isinstance(error, dict) else error
            raise IndexCorrupt(f"{doing} in the archive failed: {reason}")
        raise ArchiveUnavailable(f"the OpenSearch cluster at {config.where} failed while {doing} (HTTP {status})")
    shards = response.get("_shards") or {}
    if shards.get("failed"):
        raise ArchiveUnavailable(
            f"the OpenSearch cluster at {config.where} answered {doing} from only part of the archive "
            f"({shards['failed']} of {shards.get('total', '?')} shards failed)"
        )
    return response
