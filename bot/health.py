"""Health and metrics over HTTP, on a small port of their own (``HEALTH_PORT``; off by default, 127.0.0.1 unless
``HEALTH_LISTEN`` says otherwise): ``GET /healthz`` (the process is alive: its event loop answers), ``GET /readyz``
(it can serve: the index loaded, the database reachable, the meaning model loaded or given up on) and
``GET /metrics`` (Prometheus' text format).

The metrics are ``prometheus_client``'s, in a registry of the application's own (a process may hold several
applications, the tests do): questions asked, answers by kind, answer latency, feeds polled and failed, jobs run
(where the lease was won), Telegram errors and retries, and the statements sent to a PostgreSQL server. The
server is tornado's (python-telegram-bot's webhook server already brings it) on the bot's event loop, so
``/readyz`` awaits the database as the handlers do.
Telegram calls are counted by ``CountingRateLimiter``, which wraps each request ``AIORateLimiter`` makes: every
call after the first of one request is a retry (after Telegram's "retry after"), and every ``TelegramError`` an
error, by its class.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter

Readiness = Callable[[], Coroutine[Any, Any, list[str]]]
"""What keeps the process from serving, one line each (an empty list: ready); ``Services.problems``."""

__all__ = ["CountingRateLimiter", "HealthServer", "Metrics"]

log = logging.getLogger(__name__)

# Answer latency buckets, seconds: an answer by meaning takes ~0.1-0.3 s on two cores; a briefing several.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The bot's counters and histograms, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.questions = Counter("newsbot_questions", "Questions asked (before the flood limit)", registry=r)
        self.answers = Counter(
            "newsbot_answers", "Answers sent, by kind (quotes, none, briefing, more, context, why)", ["kind"],
            registry=r,
        )
        self.latency = Histogram(
            "newsbot_answer_seconds", "Seconds from a question to its answer computed", buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.feeds_polled = Counter("newsbot_feeds_polled", "Feeds read by polls in this process", registry=r)
        self.feeds_failed = Counter("newsbot_feeds_failed", "Feed reads that failed", registry=r)
        self.jobs = Counter("newsbot_jobs", "Jobs this process ran (it held the lease), by job", ["job"], registry=r)
        self.telegram_errors = Counter(
            "newsbot_telegram_errors", "Telegram Bot API calls that failed, by error", ["error"], registry=r
        )
        self.telegram_retries = Counter(
            "newsbot_telegram_retries", "Telegram Bot API calls made again after Telegram said to retry later",
            registry=r,
        )

    def watch_database(self, engine: object) -> None:
        """Show the statements ``engine`` sent to its server (``statements``, PostgreSQL's engine counts them) as
        ``newsbot_database_statements_total``: the database's round trips."""
        if hasattr(engine, "statements"):
            self.registry.register(_Statements(engine))

    def answered(self, kind: str, seconds: float) -> None:
        """One answer of ``kind`` computed in ``seconds``."""
        self.answers.labels(kind).inc()
        self.latency.observe(seconds)

    def text(self) -> bytes:
        """Every metric in Prometheus' text format."""
        return generate_latest(self.registry)


class _Statements:
    """A collector that reads an engine's statement count when scraped."""

    def __init__(self, engine: object) -> None:
        self.engine = engine

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "newsbot_database_statements", "Statements sent to the database server (its round trips)",
            value=self.engine.statements,
        )


class CountingRateLimiter(AIORateLimiter):
    """``AIORateLimiter`` that counts Telegram's errors and the retries it makes into ``metrics``."""

    def __init__(self, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        """The request through ``AIORateLimiter``, each call of it counted."""
        attempts = 0

        async def counted(*call_args: Any, **call_kwargs: Any) -> Any:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                self.metrics.telegram_retries.inc()
            try:
                return await callback(*call_args, **call_kwargs)
            except TelegramError as exc:
                self.metrics.telegram_errors.labels(type(exc).__name__).inc()
                raise

        return await super().process_request(counted, args, kwargs, endpoint, data, rate_limit_args)


class _Handler(tornado.web.RequestHandler):
    def initialize(self, ready: Readiness, metrics: Metrics) -> None:
        self.ready = ready
        self.metrics = metrics

    def _reply(self, status: int, text: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(text + "\n")


class _Live(_Handler):
    async def get(self) -> None:
        self._reply(200, "ok")


class _Ready(_Handler):
    async def get(self) -> None:
        problems = await self.ready()
        self._reply(503 if problems else 200, "\n".join(problems) if problems else "ready")


class _Metrics(_Handler):
    async def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(self.metrics.text())


class HealthServer:
    """The health and metrics server of one application, on the running event loop.

    Args:
        ready: what ``/readyz`` checks (``Services.problems``).
        metrics: what ``/metrics`` shows.
        listen: the address (127.0.0.1 by default: metrics are for the machine's own collector).
        port: the port; 0 picks a free one (``port`` then says which).
    """

    def __init__(self, ready: Readiness, metrics: Metrics, listen: str, port: int) -> None:
        parts = {"ready": ready, "metrics": metrics}
        app = tornado.web.Application(
            [(r"/healthz", _Live, parts), (r"/readyz", _Ready, parts), (r"/metrics", _Metrics, parts)]
        )
        self._server = tornado.httpserver.HTTPServer(app)
        sockets = tornado.netutil.bind_sockets(port, address=listen)
        self._server.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        log.info("health and metrics on http://%s:%d/ (/healthz, /readyz, /metrics)", listen, self.port)

    async def close(self) -> None:
        """Stop listening and close the open connections."""
        self._server.stop()
        await self._server.close_all_connections()
