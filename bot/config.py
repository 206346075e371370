"""Settings: one frozen object built from a mapping (normally the environment), every problem reported at once.

Only the entry point (``bot.cli``) reads ``.env`` and ``os.environ``; everything else receives a ``Settings``.
Every variable is listed, with a comment, in ``.env.example``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.errors import ConfigError
from index.dates import zone
from index.errors import InvalidOption
from index.opensearch.client import ClusterConfig

__all__ = ["Settings", "database_password", "load_settings", "sqlite_path", "without_password"]

SQLITE_URL = "sqlite:///"  # then the file's path: sqlite:///var/newsbot.sqlite3, sqlite:////srv/newsbot.sqlite3
POSTGRES_URLS = ("postgresql://", "postgres://")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the CLI and the bot can be configured with."""

    token: str = field(default="", repr=False)  # never printed: repr hides it
    base_url: str | None = None
    base_file_url: str | None = None
    admin_user_ids: frozenset[int] = frozenset()
    allowed_chat_ids: frozenset[int] | None = None
    articles_dir: Path = Path("seeds")
    index_dir: Path = Path("var/index")
    data_dir: Path = Path("var")
    database_url: str | None = field(default=None, repr=False)  # None: DATA_DIR/newsbot.sqlite3; may hold a password
    log_level: str = "INFO"
    questions_per_minute: int = 5
    max_upload_bytes: int = 2_000_000
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str | None = field(default=None, repr=False)
    default_timezone: str = "UTC"
    reindex_on_start: bool = True
    semantic_answers: bool = True
    allow_private_urls: bool = False
    feed_interval: float = 1800.0  # seconds between polls of a feed (its ttl and headers may lengthen it)
    feed_max_failures: int = 10
    fetch_max_bytes: int = 15_000_000
    fetch_timeout: float = 30.0
    retention_days: int = 0  # 0: keep fetched articles forever
    follow_per_hour: int = 4
    follow_max_age_hours: int = 48  # a followed story must be this recent (published, else first seen)
    answer_workers: int = 0
    job_lease: float = 60.0  # seconds a job's holder may go silent before another process takes the job over
    health_port: int = 0  # /healthz, /readyz, /metrics; 0: off
    health_listen: str = "127.0.0.1"
    index_writer: bool = True  # with a local index, the one process of a machine that writes it
    search_backend: str = "local"  # "local": the index in INDEX_DIR; "opensearch": the archive in a cluster
    opensearch: ClusterConfig | None = None  # the cluster (OPENSEARCH_*) when search_backend is "opensearch"

    @property
    def state_url(self) -> str:
        """Where the bot's state lives: DATABASE_URL, else the SQLite file ``DATA_DIR/newsbot.sqlite3``."""
        return self.database_url or f"{SQLITE_URL}{self.data_dir / 'newsbot.sqlite3'}"


def sqlite_path(url: str) -> Path | None:
    """The file a ``sqlite:///PATH`` URL names (PATH relative to the working folder, or absolute with a fourth
    slash, as SQLAlchemy reads it); None for any other URL."""
    return Path(url[len(SQLITE_URL) :]) if url.startswith(SQLITE_URL) else None


def database_password(url: str) -> str | None:
    """The password a PostgreSQL URL carries (in its user part, as written there, or as ``?password=``); None if
    none."""
    try:
        parts = urlsplit(url)
        given = [value for key, value in parse_qsl(parts.query) if key == "password"]
        return parts.password or (given[0] if given else None)
    except ValueError:
        return None


def without_password(url: str) -> str:
    """``url`` fit to show and log: a PostgreSQL URL without its password (user, host, port and database stay)."""
    if sqlite_path(url) is not None:
        return url
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        user = parts.username or ""
        query = "&".join(p for p in parts.query.split("&") if p and not p.lower().startswith("password="))
    except ValueError:
        return url.partition("://")[0] + "://…"
    # Put together by hand: urlunsplit drops an empty host (postgresql:///newsbot?host=/run/postgresql).
    return f"{parts.scheme}://{user}{'@' if user else ''}{host}{parts.path}{'?' if query else ''}{query}"


def _database_url(raw: str | None, problems: list[str]) -> str | None:
    """DATABASE_URL checked for its form; the value is never echoed whole (it may hold a password)."""
    if raw is None:
        return None
    if raw.startswith(SQLITE_URL):
        if raw == SQLITE_URL:
            problems.append("DATABASE_URL: sqlite:/// needs the file's path (example: sqlite:///var/newsbot.sqlite3)")
        return raw
    if raw.lower().startswith(POSTGRES_URLS):
        try:
            parts = urlsplit(raw)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as exc:
            problems.append(f"DATABASE_URL: {without_password(raw)!r} is not a valid URL ({exc})")
            return raw
        return raw
    scheme = raw.partition(":")[0] if ":" in raw else raw[:12]
    problems.append(
        f"DATABASE_URL: {scheme!r}… is neither sqlite:///PATH (a file, relative or, with a fourth slash, absolute) "
        "nor postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    )
    return raw


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
_SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def _ids(name: str, raw: str, problems: list[str]) -> frozenset[int]:
    values = set()
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            values.add(int(part))
        except ValueError:
            problems.append(f"{name}: {part!r} is not a numeric Telegram id (example: {name}=123456789,987654321)")
    return frozenset(values)


def _int(name: str, raw: str | None, default: int, low: int, high: int, problems: list[str]) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name}: {raw!r} is not a whole number (allowed {low} to {high})")
        return default
    if not low <= value <= high:
        problems.append(f"{name}: {value} is outside {low} to {high}")
    return value


def _flag(name: str, raw: str | None, default: bool, problems: list[str]) -> bool:
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    problems.append(f"{name}: {raw!r} is not 1 or 0 (also accepted: true/false, yes/no, on/off)")
    return default


BACKENDS = ("local", "opensearch")


def _opensearch(get: Any, backend: str, problems: list[str]) -> ClusterConfig | None:
    """The cluster OPENSEARCH_* describe, when OPENSEARCH_URL is set (``newsbot backend copy`` and ``newsbot index
    --backend opensearch`` use it whatever SEARCH_BACKEND says); SEARCH_BACKEND=opensearch requires it."""
    raw = get("OPENSEARCH_URL")
    if not raw:
        if backend == "opensearch":
            problems.append("OPENSEARCH_URL: missing (SEARCH_BACKEND=opensearch needs node URLs, comma-separated)")
        return None
    ca_certs = get("OPENSEARCH_CA_CERTS")
    if ca_certs and not Path(ca_certs).is_file():
        problems.append(f"OPENSEARCH_CA_CERTS: {ca_certs!r} is not a readable file (a PEM file of CA certificates)")
    username, password = get("OPENSEARCH_USERNAME"), get("OPENSEARCH_PASSWORD")
    if (username is None) != (password is None):
        problems.append("OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD: give both or neither")
    try:
        return ClusterConfig(
            urls=tuple(url.strip().rstrip("/") for url in raw.split(",") if url.strip()),
            username=username,
            password=password,
            ca_certs=ca_certs,
            verify_certs=_flag("OPENSEARCH_VERIFY_CERTS", get("OPENSEARCH_VERIFY_CERTS"), True, problems),
            prefix=get("OPENSEARCH_INDEX_PREFIX") or "newsbot",
            shards=_int("OPENSEARCH_SHARDS", get("OPENSEARCH_SHARDS"), 1, 1, 1024, problems),
            replicas=_int("OPENSEARCH_REPLICAS", get("OPENSEARCH_REPLICAS"), 1, 0, 16, problems),
            timeout=float(_int("OPENSEARCH_TIMEOUT", get("OPENSEARCH_TIMEOUT"), 10, 1, 600, problems)),
        )
    except InvalidOption as error:
        problems.append(f"OPENSEARCH_URL or OPENSEARCH_INDEX_PREFIX: {error}")
        return None


def load_settings(env: Mapping[str, str], *, require_token: bool = False) -> Settings:
    """Build settings from ``env``.

    Args:
        env: variable names to values, such as ``os.environ`` merged with ``.env``.
        require_token: True when the Telegram bot is about to run.

    Returns:
        The settings.

    Raises:
        ConfigError: listing every missing or malformed variable (never echoing the token).
    """
    problems: list[str] = []

    def get(name: str) -> str | None:
        value = env.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    token = get("TELEGRAM_BOT_TOKEN") or ""
    if require_token and not token:
        problems.append("TELEGRAM_BOT_TOKEN: missing (get one from @BotFather; see README)")
    elif token and not _TOKEN_SHAPE.match(token):
        problems.append("TELEGRAM_BOT_TOKEN: does not look like a bot token (digits, a colon, then 35 characters)")
    level = (get("LOG_LEVEL") or "INFO").upper()
    if level not in _LEVELS:
        problems.append(f"LOG_LEVEL: {level!r} is not one of {', '.join(_LEVELS)}")
    allowed_raw = get("ALLOWED_CHAT_IDS")
    webhook_url = get("WEBHOOK_URL")
    if webhook_url and not webhook_url.startswith("https://") and not webhook_url.startswith("http://127.0.0.1"):
        problems.append(f"WEBHOOK_URL: {webhook_url!r} must start with https:// (Telegram only calls HTTPS webhooks)")
    secret = get("WEBHOOK_SECRET_TOKEN")
    if secret and not _SECRET_SHAPE.match(secret):
        problems.append("WEBHOOK_SECRET_TOKEN: use 1 to 256 characters among A-Z, a-z, 0-9, _ and -")
    for name in ("TELEGRAM_BASE_URL", "TELEGRAM_BASE_FILE_URL"):
        value = get(name)
        if value and not re.match(r"^https?://", value):
            problems.append(
                f"{name}: {value!r} must be an http:// or https:// URL (example: http://127.0.0.1:8081/bot)"
            )
    timezone = get("DEFAULT_TIMEZONE") or "UTC"
    if zone(timezone) is None:
        problems.append(f"DEFAULT_TIMEZONE: {timezone!r} is not an IANA time zone (example: Europe/Istanbul)")
    backend = (get("SEARCH_BACKEND") or "local").lower()
    if backend not in BACKENDS:
        problems.append(f"SEARCH_BACKEND: {backend!r} is not one of {', '.join(BACKENDS)}")
    cluster = _opensearch(get, backend, problems)
    settings = Settings(
        token=token,
        base_url=get("TELEGRAM_BASE_URL"),
        base_file_url=get("TELEGRAM_BASE_FILE_URL"),
        admin_user_ids=_ids("ADMIN_USER_IDS", get("ADMIN_USER_IDS") or "", problems),
        allowed_chat_ids=_ids("ALLOWED_CHAT_IDS", allowed_raw, problems) if allowed_raw else None,
        articles_dir=Path(get("ARTICLES_DIR") or "seeds"),
        index_dir=Path(get("INDEX_DIR") or "var/index"),
        data_dir=Path(get("DATA_DIR") or "var"),
        database_url=_database_url(get("DATABASE_URL"), problems),
        log_level=level,
        questions_per_minute=_int("QUESTIONS_PER_MINUTE", get("QUESTIONS_PER_MINUTE"), 5, 1, 1000, problems),
        max_upload_bytes=_int("MAX_UPLOAD_BYTES", get("MAX_UPLOAD_BYTES"), 2_000_000, 1, 20_000_000, problems),
        webhook_url=webhook_url,
        webhook_listen=get("WEBHOOK_LISTEN") or "127.0.0.1",
        webhook_port=_int("WEBHOOK_PORT", get("WEBHOOK_PORT"), 8443, 1, 65535, problems),
        webhook_secret=secret,
        default_timezone=timezone,
        reindex_on_start=_flag("REINDEX_ON_START", get("REINDEX_ON_START"), True, problems),
        semantic_answers=_flag("SEMANTIC_ANSWERS", get("SEMANTIC_ANSWERS"), True, problems),
        allow_private_urls=_flag("ALLOW_PRIVATE_URLS", get("ALLOW_PRIVATE_URLS"), False, problems),
        feed_interval=60.0 * _int("FEED_INTERVAL_MINUTES", get("FEED_INTERVAL_MINUTES"), 30, 1, 1440, problems),
        feed_max_failures=_int("FEED_MAX_FAILURES", get("FEED_MAX_FAILURES"), 10, 1, 1000, problems),
        fetch_max_bytes=_int("FETCH_MAX_BYTES", get("FETCH_MAX_BYTES"), 15_000_000, 100_000, 200_000_000, problems),
        fetch_timeout=float(_int("FETCH_TIMEOUT_SECONDS", get("FETCH_TIMEOUT_SECONDS"), 30, 1, 300, problems)),
        retention_days=_int("RETENTION_DAYS", get("RETENTION_DAYS"), 0, 0, 36_500, problems),
        follow_per_hour=_int("FOLLOW_MESSAGES_PER_HOUR", get("FOLLOW_MESSAGES_PER_HOUR"), 4, 1, 60, problems),
        follow_max_age_hours=_int("FOLLOW_MAX_AGE_HOURS", get("FOLLOW_MAX_AGE_HOURS"), 48, 1, 8760, problems),
        answer_workers=_int("ANSWER_WORKERS", get("ANSWER_WORKERS"), 0, 0, 16, problems),
        job_lease=float(_int("JOB_LEASE_SECONDS", get("JOB_LEASE_SECONDS"), 60, 3, 3600, problems)),
        health_port=_int("HEALTH_PORT", get("HEALTH_PORT"), 0, 0, 65535, problems),
        health_listen=get("HEALTH_LISTEN") or "127.0.0.1",
        index_writer=_flag("INDEX_WRITER", get("INDEX_WRITER"), True, problems),
        search_backend=backend,
        opensearch=cluster,
    )
    if problems:
        raise ConfigError("configuration problems:\n" + "\n".join(f"  {p}" for p in problems))
    return settings
