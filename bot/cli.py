"""The ``newsbot`` command: build the index, ask, search, and run the Telegram bot.

This is the entry point: the only place that reads ``.env`` and the environment and configures logging.
Expected failures (a missing folder, an unreadable index, bad settings) print one line and exit with status 2.
The bot's own modules (Telegram, the fetcher, the state) are imported inside the commands that use them, so that
``newsbot ask`` starts without loading them: the one place where our modules are imported inside functions.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import index
import index.semantic
from bot import __version__, archives
from bot.config import POSTGRES_URLS, Settings, load_settings, sqlite_path, without_password
from bot.errors import ConfigError
from index import plural, store
from index.backend import Archive
from index.errors import ArchiveUnavailable

if TYPE_CHECKING:
    from bot.polling import PollReport
    from bot.state import Feed, PostgresState, SQLiteState

__all__ = ["main"]

log = logging.getLogger(__name__)


def _environment() -> dict[str, str]:
    """The process environment over the values of a ``.env`` file in the working directory."""
    from dotenv import dotenv_values

    values = {k: v for k, v in dotenv_values(".env").items() if v is not None} if Path(".env").is_file() else {}
    return {**values, **os.environ}


class _Progress:
    """A tqdm bar per stage on a terminal; silent otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage, unit="" if stage == "saving" else " articles", leave=False)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _open(settings: Settings, quiet: bool = False) -> Archive:
    if settings.search_backend == "opensearch":
        return archives.open_cluster_archive(settings)
    progress = _Progress(sys.stderr.isatty() and not quiet)
    try:
        idx, built = index.open_or_build(settings.index_dir, settings.articles_dir, progress=progress)
    finally:
        progress.close()
    if built and not quiet:
        print(
            f"Built an index of {settings.articles_dir} in {settings.index_dir} ({idx.report.summary()}).",
            file=sys.stderr,
        )
    elif not built and not quiet:
        built_from = Path(idx.info.articles_path)
        if built_from.resolve() != settings.articles_dir.resolve():
            print(
                f"Note: this index was built from {built_from}, not ARTICLES_DIR={settings.articles_dir}.",
                file=sys.stderr,
            )
            return idx
        try:
            changes = idx.changes(settings.articles_dir)
        except index.ArticlesNotFound:
            changes = None
        if changes:
            print(
                f"Note: the articles changed since the index was built ({changes.summary()}); "
                "run `newsbot index` to include them.",
                file=sys.stderr,
            )
    return idx


def _article_json(article: index.Article) -> dict[str, Any]:
    record = store.article_record(article)  # the one serialiser; the CLI shows it without text and source
    return {key: record[key] for key in ("id", "title", "date", "url")}


def _print_json(data: dict[str, Any]) -> int:
    print(json.dumps(data, ensure_ascii=False, indent=2))
    return 0


def _span_json(text: str, start: int, end: int, **extra: Any) -> dict[str, Any]:
    return {"text": text, **extra, "start": start, "end": end}


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    """``newsbot index``: bring the archive (local, or the cluster's) up to date; print what was read and skipped."""
    if args.backend:
        settings = dataclasses.replace(settings, search_backend=args.backend)
    articles = settings.articles_dir
    target = archives.where(settings)
    progress = _Progress(sys.stderr.isatty())
    started = time.perf_counter()
    try:
        idx = archives.update(settings, full=args.full, progress=progress)
        changed = idx.changed  # a merge after it reopens the state, whose record names the last update's changes
        idx = archives.maintain(settings) or idx
    finally:
        progress.close()
    report = idx.report
    print(
        f"Changed articles: {len(changed.added)} added, {len(changed.changed)} changed, "
        f"{len(changed.removed)} removed" + (" (a full rebuild)" if args.full else "")
    )
    headlines = f" ({plural(report.headlines, 'headline')} only)" if report.headlines else ""
    print(
        f"Indexed {articles} into {target} in {time.perf_counter() - started:.1f} s: "
        f"{plural(idx.article_count, 'article')}{headlines}, {plural(len(idx), 'passage')}, "
        f"{report.skipped_count} skipped, {plural(report.duplicate_count, 'duplicate')}."
    )
    if report.skip_counts:
        print("  skipped by reason: " + ", ".join(f"{n} × {reason}" for reason, n in report.skip_counts))
    for item in report.skipped[: args.show]:
        print(f"  skipped: {item}")
    for item in report.duplicates[: args.show]:
        print(f"  duplicate: {item}")
    shown = min(args.show, len(report.skipped)) + min(args.show, len(report.duplicates))
    if report.skipped_count + report.duplicate_count > shown:
        print(f"  … {report.skipped_count + report.duplicate_count - shown} more not listed (--show N lists more)")
    for source, encoding in report.decoded[: args.show]:
        print(f"  decoded from {encoding}: {source}")
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    """``newsbot ask``: answer a question with quotes (or say why not), as text or JSON."""
    if args.n is not None and args.n < 1:
        print("newsbot: -n must be at least 1", file=sys.stderr)
        return 2
    idx = _open(settings, quiet=args.json)
    answer = index.answer(
        idx,
        args.question,
        limit=args.n or 3,
        stories=args.n or 5,
        judge=_judge(settings, args),
        now=_now(settings),
    )
    if answer.briefing is not None:
        return _print_briefing(answer.briefing, as_json=args.json, question=answer.question)
    if args.json:
        return _print_json(
            {
                "question": answer.question,
                "answered": answer.answered,
                "quotes": [
                    _span_json(
                        q.text,
                        q.start,
                        q.end,
                        score=q.score,
                        article=_article_json(q.article),
                        **({"context": _context_json(q)} if args.context else {}),
                    )
                    for q in answer.quotes
                ],
                "suggestions": list(answer.suggestions),
                "note": answer.note,
            }
        )
    if answer.note:
        print(answer.note)
    if not answer.answered:
        print(answer.message)
        if answer.suggestions:
            print("Nearest articles:")
            for title in answer.suggestions:
                print(f"  - {title}")
        return 0
    for n, quote in enumerate(answer.quotes, 1):
        source = quote.article.url or quote.article.source
        if args.context:
            start, end = index.paragraph_around(quote.article.text, quote.start, quote.end)
            text = quote.article.text
            print(f"{n}. {text[start : quote.start]}**{quote.text}**{text[quote.end : end]}")
        else:
            print(f"{n}. “{quote.text}”")
        print(f"   — {quote.article.title}, {index.date_text(quote.article.date)}" + (f" <{source}>" if source else ""))
        print()
    return 0


def _context_json(quote: index.Quote) -> dict[str, Any]:
    start, end = index.paragraph_around(quote.article.text, quote.start, quote.end)
    return {"text": quote.article.text[start:end], "start": start, "end": end}


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """``newsbot search``: the best passages by BM25, with scores."""
    idx = _open(settings, quiet=args.json)
    hits = index.search(idx, args.query, k=args.k, judge=_judge(settings, args))
    if args.json:
        return _print_json(
            {
                "query": args.query,
                "hits": [
                    _span_json(
                        h.passage.text, h.passage.start, h.passage.end, score=h.score, article=_article_json(h.article)
                    )
                    for h in hits
                ],
            }
        )
    if not hits:
        print("No passage contains any of those words.")
    for n, hit in enumerate(hits, 1):
        print(f"{n}. [{hit.score:.2f}] {hit.article.title} ({index.date_text(hit.article.date)})")
        print(f"   {hit.passage.text}")
        print()
    return 0


def cmd_brief(args: argparse.Namespace, settings: Settings) -> int:
    """``newsbot brief``: a digest of stories on a topic or the latest."""
    since = None
    if args.since:
        since = index.read_since(args.since, now=_now(settings))
        if since is None:
            print(
                f"newsbot: --since {args.since!r} is not a date (examples: --since 2020-05-01, --since yesterday)",
                file=sys.stderr,
            )
            return 2
    if args.n < 1:
        print("newsbot: -n must be at least 1", file=sys.stderr)
        return 2
    idx = _open(settings, quiet=args.json)
    briefing = index.brief(idx, args.topic, since=since, n=args.n)
    return _print_briefing(briefing, as_json=args.json)


def _print_briefing(briefing: index.Briefing, *, as_json: bool, question: str | None = None) -> int:
    if as_json:
        data: dict[str, Any] = {"question": question} if question is not None else {}
        return _print_json(
            {
                **data,
                "topic": briefing.topic,
                "since": briefing.since.isoformat() if briefing.since else None,
                "until": briefing.until.isoformat() if briefing.until else None,
                "duplicates_left_out": briefing.duplicates,
                "stories": [
                    {
                        "article": _article_json(story.article),
                        "quotes": [_span_json(q.text, q.start, q.end) for q in story.quotes],
                    }
                    for story in briefing.stories
                ],
            }
        )
    if not briefing.stories:
        print(briefing.message)
        return 0
    for n, story in enumerate(briefing.stories, 1):
        print(f"{n}. {story.article.title} ({index.date_text(story.article.date)})")
        for quote in story.quotes:
            print(f"   “{quote.text}”")
        print()
    if briefing.duplicates:
        print(f"({plural(briefing.duplicates, 'near-duplicate story', 'near-duplicate stories')} left out)")
    return 0


def _now(settings: Settings) -> dt.datetime:
    """The present in DEFAULT_TIMEZONE, so "yesterday" in a question is that zone's yesterday."""
    return dt.datetime.now(index.zone(settings.default_timezone) or dt.UTC)


def _judge(settings: Settings, args: argparse.Namespace) -> index.semantic.Judge | None:
    """The meaning model, unless turned off; when it cannot load, one line says so and answers are lexical."""
    if not settings.semantic_answers or getattr(args, "lexical", False):
        return None
    try:
        return index.semantic.load_judge()
    except index.ModelUnavailable as exc:
        print(f"newsbot: semantic answers off: {exc}; answering by words alone", file=sys.stderr)
        return None


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """``newsbot run``: the Telegram bot, until interrupted."""
    from bot.app import run

    return run(settings)


def _state(settings: Settings) -> SQLiteState | PostgresState:
    from bot.state import open_state

    return open_state(settings)


def _sqlite_source(settings: Settings, given: str | None) -> Path:
    """The SQLite file ``db copy`` reads: --from, else DATABASE_URL when it names one, else DATA_DIR's (where the
    state was before DATABASE_URL named a PostgreSQL database)."""
    if given:
        return sqlite_path(given)
    return sqlite_path(settings.state_url) or settings.data_dir / "newsbot.sqlite3"


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    """``newsbot db copy|check``: move a SQLite state into PostgreSQL; show a state's schema version and counts."""
    from bot.state import PostgresState, SQLiteState, open_state
    from bot.state.transfer import copy_state, counts

    if args.action == "check":
        with open_state(settings) as db:
            version, held = db.schema_version(), counts(db.engine)
        print(f"{without_password(settings.state_url)}: schema {version} (this newsbot's), "
              f"{plural(sum(held.values()), 'row')}")
        for table, n in held.items():
            print(f"  {table:<14}{n:>10}")
        return 0
    if args.source and sqlite_path(args.source) is None:
        print(f"newsbot: --from takes a sqlite:///PATH URL, not {without_password(args.source)!r}", file=sys.stderr)
        return 2
    to = args.to or (settings.database_url if settings.state_url.lower().startswith(POSTGRES_URLS) else None)
    if not to or not to.lower().startswith(POSTGRES_URLS):
        given = f", not {without_password(to)!r}" if to else ""
        print(f"newsbot: `newsbot db copy` needs --to postgresql://USER:PASSWORD@HOST:PORT/DATABASE (or DATABASE_URL "
              f"set to one){given}", file=sys.stderr)
        return 2
    path = _sqlite_source(settings, args.source)
    if not path.is_file():
        print(f"newsbot: there is no SQLite state at {path} to copy; pass --from sqlite:///PATH", file=sys.stderr)
        return 2
    with SQLiteState(path) as source, PostgresState(to) as target:
        copied = copy_state(source, target, replace=args.replace)
        print(f"Copied {path} into {target.shown} (schema {target.schema_version()}), in one transaction:")
    print(f"  {'table':<14}{'sqlite':>10}{'postgresql':>12}")
    for count in copied:
        print(f"  {count.table:<14}{count.source:>10}{count.target:>12}")
    print(f"Every count matches. Set DATABASE_URL={target.shown} (with its password) and start the bot.")
    return 0


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    """``newsbot feeds list|add|remove|pause|resume``: the feeds the bot (or ``newsbot poll``) follows, in DATA_DIR."""
    if args.action != "list" and not args.target:
        print(f"newsbot: `newsbot feeds {args.action}` needs the feed's {'URL' if args.action == 'add' else 'id'}",
              file=sys.stderr)
        return 2
    db = _state(settings)
    try:
        if args.action == "add":
            return _follow(args, settings, db)
        if args.action in ("remove", "pause", "resume"):
            number = args.target.lstrip("#")
            feed_id = int(number) if number.isdigit() and len(number) <= 18 else None
            if args.action == "remove":
                done = feed_id is not None and db.feeds.remove(feed_id)
            else:  # resuming also re-enables a disabled feed and makes it due now, as /feeds resume does
                done = feed_id is not None and db.feeds.pause(feed_id, args.action == "pause")
            if not done:
                print(f"newsbot: there is no feed {args.target!r}; `newsbot feeds list` shows the ids", file=sys.stderr)
                return 2
            verb = {"remove": "Stopped following", "pause": "Paused", "resume": "Resumed"}[args.action]
            print(f"{verb} feed #{feed_id}" + ("; its articles stay." if args.action == "remove" else "."))
        else:
            feeds = db.feeds.every()
            for feed in feeds:
                print(f"#{feed.id}\t{feed.url}\t{feed.label}\t{_feed_state(feed)}")
            if not feeds:
                print("No feeds are followed yet; add one with `newsbot feeds add URL`.")
    finally:
        db.close()
    return 0


def _follow(args: argparse.Namespace, settings: Settings, db: SQLiteState) -> int:
    """``newsbot feeds add URL``: read it once, follow the feed it is (or the one the page names), index its stories."""
    import asyncio

    from bot.errors import AlreadyFollowed, NotAFeed
    from bot.fetcher import FetchError
    from bot.polling import Followed, follow_feed, open_fetcher, policy_for
    from bot.state import AsyncState

    if not args.target.lower().startswith(("http://", "https://")):
        print(f"newsbot: {args.target!r} is not an http(s) URL", file=sys.stderr)
        return 2

    async def follow() -> Followed:
        async with open_fetcher(settings) as fetcher, AsyncState(db) as state:
            return await follow_feed(
                state, fetcher, settings.articles_dir, args.target, args.name, policy=policy_for(settings)
            )

    settings.articles_dir.mkdir(parents=True, exist_ok=True)
    try:
        followed = asyncio.run(follow())
    except AlreadyFollowed as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 2
    except (NotAFeed, FetchError) as exc:
        page = isinstance(exc, NotAFeed) and exc.page
        hint = f"; to add the page's own article, run `newsbot fetch {args.target}`" if page else ""
        print(f"newsbot: did not follow {args.target}: {exc}{hint}", file=sys.stderr)
        return 2
    feed, first = followed.feed, followed.first
    if followed.discovered_from:
        print(f"{followed.discovered_from} is a web page; following the feed it names, {feed.url}.")
    stories = plural(len(first.saved), "new story", "new stories")
    print(f"Following feed #{feed.id} ({feed.label}): it lists {plural(followed.items, 'item')}, {stories}.")
    if first.waiting:
        print(f"  {first.waiting} more come in the next polls (`newsbot poll`, or a running bot).")
    if first.note:
        print(f"  {first.note}")
    if first.saved:
        _update_quietly(settings)
    return 0


def _feed_state(feed: Feed) -> str:
    if feed.paused:
        return "paused"
    if feed.state.disabled:
        return f"disabled after {plural(feed.state.failures, 'failure')}: {feed.state.last_error}"
    if feed.last_fetch is None:
        return "not read yet"
    state = f"read {feed.last_fetch:%Y-%m-%d %H:%M} UTC, {feed.last_new} new"
    if feed.waiting:
        state += f", {feed.waiting} waiting to be fetched"
    if feed.last_note:
        state += f"; {feed.last_note}"
    return state + (f"; failing ({feed.state.failures}): {feed.state.last_error}" if feed.state.failures else "")


def cmd_poll(args: argparse.Namespace, settings: Settings) -> int:
    """``newsbot poll [--all]``: one round of every due feed (every unpaused feed with ``--all``), then an
    incremental update of the index with whatever is saved and not indexed yet (for cron)."""
    import asyncio

    from bot.polling import open_fetcher, policy_for, poll
    from bot.state import AsyncState

    if settings.log_level != "DEBUG":
        # The summary below names each failure once; the poller's own log line would say it again (cron mails both).
        logging.getLogger("bot.polling").setLevel(logging.WARNING)

    async def one_round(feed_ids: set[int] | None) -> PollReport:
        async with open_fetcher(settings) as fetcher, AsyncState(db) as state:
            return await poll(state, fetcher, settings.articles_dir, policy=policy_for(settings), feed_ids=feed_ids)

    settings.articles_dir.mkdir(parents=True, exist_ok=True)
    db = _state(settings)
    try:
        chosen = {f.id for f in db.feeds.every() if not f.paused and not f.state.disabled} if args.all else None
        report = asyncio.run(one_round(chosen))
        feeds = db.feeds.every()
    finally:
        db.close()
    if report.polled:
        stories = plural(len(report.articles), "new or changed story", "new or changed stories")
        print(f"Polled {plural(report.polled, 'feed')}: {stories}, {len(report.failed)} failed.")
    else:
        print(f"Polled 0 feeds: {_none_due(feeds, dt.datetime.now(dt.UTC))}")
    for feed, reason in report.failed:
        print(f"  feed #{feed.id} ({feed.label}): {reason}")
    for result in report.feeds:
        if result.note:
            print(f"  feed #{result.feed.id} ({result.feed.label}): {result.note}")
    for feed in report.disabled:
        print(f"  feed #{feed.id} is now disabled; `newsbot feeds list` shows why")
    # Whatever is saved and not indexed yet, by this poll or by one whose update failed (the index was busy, or
    # the process was killed after saving): compared with the index at every poll, not only when this one saved.
    if report.articles or _index_behind(settings):
        _update_quietly(settings)
    return 1 if report.polled and len(report.failed) == report.polled else 0  # cron mails when all failed


def _none_due(feeds: Sequence[Feed], now: dt.datetime) -> str:
    """Why a round polled nothing, and when the next feed is due."""
    if not feeds:
        return "no feed is followed; `newsbot feeds add URL` adds one."
    active = [f for f in feeds if not f.paused and not f.state.disabled]
    if not active:
        return "every feed is paused or disabled; `newsbot feeds list` shows them."
    feed = min(active, key=lambda f: f.state.next_due or now)
    when = max(feed.state.next_due or now, now)
    minutes = math.ceil((when - now).total_seconds() / 60)
    return f"none is due; the next is #{feed.id} ({feed.label}) at {when:%Y-%m-%d %H:%M} UTC (in {minutes} min)."


def _index_behind(settings: Settings) -> bool:
    """Whether the articles folder holds files the index has not taken in (any file, when there is no index)."""
    from index.ingest import list_sources

    try:
        return bool(archives.load(settings).changes(settings.articles_dir))
    except (index.IndexNotFound, index.IndexCorrupt):
        return bool(list_sources(settings.articles_dir))


def cmd_fetch(args: argparse.Namespace, settings: Settings) -> int:
    """``newsbot fetch URL``: add the article of one web page, then update the index."""
    import asyncio

    from bot.polling import Page, fetch_page, open_fetcher

    async def fetch() -> Page:
        async with open_fetcher(settings) as fetcher:
            return await fetch_page(fetcher, settings.articles_dir, args.url)

    settings.articles_dir.mkdir(parents=True, exist_ok=True)
    article, outcome = asyncio.run(fetch())
    if outcome == "unchanged":
        print(f"Already added: {article.title!r} ({article.url}) is unchanged.")
        return 0
    print(f"{'Added' if outcome == 'added' else 'Updated'} {article.title!r} ({article.url}).")
    _update_quietly(settings)
    return 0


def _update_quietly(settings: Settings) -> None:
    """An incremental update after new articles were saved; a busy index is one line, and the next poll retries."""
    try:
        idx = archives.update(settings)
        archives.maintain(settings)
    except index.IndexLocked:
        print(
            "newsbot: the index is being updated by another process (a running bot?); the stories are saved, and "
            "the next `newsbot poll` indexes them",
            file=sys.stderr,
        )
        return
    print(f"The index has {plural(idx.article_count, 'article')} ({len(idx.changed.added)} added, "
          f"{len(idx.changed.changed)} changed).")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbot", description="Answer questions about news articles with verbatim quotes."
    )
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    # Every command that reads articles or an index can be pointed at them, so it works from any folder.
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--articles", help="folder or file of articles (default: ARTICLES_DIR or seeds)")
    where.add_argument("--index", help="index directory (default: INDEX_DIR or var/index)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("index", parents=[where], help="bring the index up to date with the articles folder")
    p.add_argument("--full", action="store_true", help="rebuild from every file (else only what changed is read)")
    p.add_argument("--backend", choices=["local", "opensearch"], help="which archive (default: SEARCH_BACKEND)")
    p.add_argument("--show", type=int, default=10, metavar="N", help="list at most N skipped files (default 10)")
    p.set_defaults(func=cmd_index)
    p = sub.add_parser("ask", parents=[where], help="answer a question with quotes")
    p.add_argument("question")
    p.add_argument(
        "-n", type=int, help="at most N quotes, or N stories for a question about a time alone (default 3 and 5)"
    )
    p.add_argument("--context", action="store_true", help="show each quote inside its paragraph (**marked**)")
    p.add_argument("--lexical", action="store_true", help="answer by words alone, without the meaning model")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_ask)
    p = sub.add_parser("search", parents=[where], help="list the passages that best match a query")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=10, help="number of passages (default 10)")
    p.add_argument("--lexical", action="store_true", help="BM25 alone, without re-ranking by meaning")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("brief", parents=[where], help="a digest of stories, on a topic or the latest")
    p.add_argument("topic", nargs="?", help="what the stories should be about (default: the latest stories)")
    p.add_argument(
        "--since", metavar="DATE", help="only stories published since DATE (2020-05-01, yesterday, last week, May)"
    )
    p.add_argument("-n", type=int, default=5, help="number of stories (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_brief)
    p = sub.add_parser("feeds", help="list, add, remove, pause or resume the news feeds followed (kept in DATA_DIR)")
    p.add_argument("action", nargs="?", choices=["list", "add", "remove", "pause", "resume"], default="list")
    p.add_argument("target", nargs="?", help="the feed's URL (add) or id (remove, pause, resume)")
    p.add_argument("--name", help="a name for the feed (add; default: the feed's own title)")
    p.set_defaults(func=cmd_feeds)
    p = sub.add_parser("poll", parents=[where], help="read every feed that is due once, and index new stories")
    p.add_argument("--all", action="store_true", help="read every feed now (not paused or disabled ones), due or not")
    p.set_defaults(func=cmd_poll)
    p = sub.add_parser("fetch", parents=[where], help="add the article of one web page, and index it")
    p.add_argument("url")
    p.set_defaults(func=cmd_fetch)
    p = sub.add_parser("run", help="run the Telegram bot (needs TELEGRAM_BOT_TOKEN)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("db", help="the bot's state: copy a SQLite state into PostgreSQL, or check one")
    p.add_argument("action", choices=["copy", "check"])
    p.add_argument("--from", dest="source", metavar="URL",
                   help="copy: the SQLite state to read, sqlite:///PATH (default: DATABASE_URL's, else DATA_DIR's)")
    p.add_argument("--to", metavar="URL", help="copy: the PostgreSQL database to fill (default: DATABASE_URL's)")
    p.add_argument("--replace", action="store_true", help="copy: overwrite a database that holds a state already")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("backend", parents=[where], help="the archive on OpenSearch: copy the local index, or status")
    p.add_argument("action", choices=["copy", "status"])
    p.set_defaults(func=cmd_backend)
    return parser


# What fixes each expected error, said the command line's way (the core's messages say only what is wrong).
_HINTS: dict[type[index.NewsbotError], str] = {
    index.ArticlesNotFound: "pass --articles PATH or set ARTICLES_DIR",
    index.IndexNotFound: "build one with `newsbot index`",
    index.IndexCorrupt: "rebuild it with `newsbot index`",
    index.IndexWriteError: "free some space, or point --index (INDEX_DIR) at another disk",
    index.IndexLocked: "wait for the other update (a running bot's /reindex, say) to finish",
    ArchiveUnavailable: "check OPENSEARCH_URL and the cluster's health, then try again",
}


def cmd_backend(args: argparse.Namespace, settings: Settings) -> int:
    """``newsbot backend copy``: the local index into the OpenSearch cluster; ``status``: what the cluster holds."""
    if args.action == "copy":
        done = archives.copy_local_archive(settings)
        print(f"Copied {settings.index_dir} to {done.where} in {done.seconds:.1f} s.")
        archive = done.archive
    else:
        archive = archives.open_cluster_archive(settings)
    print(archives.describe(archive))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``newsbot`` command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(_environment(), require_token=args.command == "run")
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if getattr(args, "articles", None):
        settings = dataclasses.replace(settings, articles_dir=Path(args.articles))
    if getattr(args, "index", None):
        settings = dataclasses.replace(settings, index_dir=Path(args.index))
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The OpenSearch client logs every request, and each failed one with a traceback; newsbot says it in one line.
    logging.getLogger("opensearch").setLevel(logging.ERROR)
    try:
        status = args.func(args, settings)
        sys.stdout.flush()  # a closed pipe shows up here for short outputs, not at interpreter exit
        return status
    except BrokenPipeError:
        # The reader went away (`newsbot search ... | head -1`): nothing left to say, and nobody to say it to.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except index.NewsbotError as exc:
        hint = next((h for kind, h in _HINTS.items() if isinstance(exc, kind)), "")
        print(f"newsbot: {exc}" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback only at DEBUG
        log.debug("unexpected error", exc_info=True)
        print(
            f"newsbot: unexpected error ({exc.__class__.__name__}); run with LOG_LEVEL=DEBUG for details",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
