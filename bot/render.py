"""Telegram HTML for answers, sources, help and reports.

Every quote, title and user-supplied string is escaped; quotes go in ``<blockquote>``. Messages stay within
Telegram's 4096 characters by dropping whole quotes, never by cutting one.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from telegram.constants import MessageLimit

import index
from index import plural

if TYPE_CHECKING:
    from bot.services import ReindexReport, Stats
    from bot.state import Feed

__all__ = [
    "MAX_MESSAGE",
    "MAX_TOPIC",
    "answer",
    "briefing",
    "context",
    "duration",
    "echo",
    "examples",
    "fit",
    "quote_block",
    "reindex_report",
    "source_line",
    "split_messages",
    "stats",
    "usage_ask",
    "why",
]

MAX_MESSAGE = MessageLimit.MAX_TEXT_LENGTH  # 4096 characters of text after entities are parsed
MAX_TOPIC = 200  # characters: a topic is a few words; a longer one is refused, never stored or echoed whole


def echo(text: str, limit: int = 60) -> str:
    """A user's own words repeated in a reply: escaped, and cut to ``limit`` characters so a reply stays short."""
    text = " ".join(text.split())
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def split_messages(blocks: list[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Join ``blocks`` into as few messages as fit, each within ``limit``, splitting only between blocks.

    A block longer than a whole message on its own is dropped (callers cut user text with ``echo`` first).
    """
    messages: list[str] = []
    current = ""
    for block in blocks:
        if len(block) > limit:
            continue
        if current and len(current) + 1 + len(block) > limit:
            messages.append(current)
            current = block
        else:
            current = f"{current}\n{block}" if current else block
    if current:
        messages.append(current)
    return messages


# What fixes each expected error, said the chat's way (the core's messages say only what is wrong).
_HINTS: dict[type[index.NewsbotError], str] = {
    index.ArticlesNotFound: "check ARTICLES_DIR in the bot's settings",
    index.IndexCorrupt: "/reindex rebuilds it",
    index.IndexWriteError: "free some space on the index disk, then /reindex",
}


def failure(exc: index.NewsbotError) -> str:
    """An expected error as one escaped line for a chat, with what fixes it."""
    hint = next((h for kind, h in _HINTS.items() if isinstance(exc, kind)), "")
    return escape(str(exc)) + (f"; {escape(hint)}" if hint else "")


def source_line(article: index.Article) -> str:
    """``— <a href=url>Title</a>, 23 May 2020`` (the title is plain text when there is no URL)."""
    title = escape(article.title)
    if article.url and article.url.startswith(("http://", "https://")):
        title = f'<a href="{escape(article.url, quote=True)}">{title}</a>'
    return f"— {title}, {index.date_text(article.date)}"


def quote_block(quote: index.Quote) -> str:
    """A quote in a blockquote, with its source line under it."""
    return f"<blockquote>{escape(quote.text)}</blockquote>\n{source_line(quote.article)}"


def fit(head: str, blocks: list[str], tail: str = "", limit: int = MAX_MESSAGE) -> str:
    """Join ``head``, as many whole ``blocks`` as fit in order, and ``tail``, within ``limit`` characters."""
    parts = [head] if head else []
    size = len(head) + len(tail) + 2
    for block in blocks:
        if size + len(block) + 2 > limit:
            continue  # drop the whole quote; a later, shorter one may still fit
        parts.append(block)
        size += len(block) + 2
    if tail:
        parts.append(tail)
    return "\n\n".join(parts)


def answer(result: index.Answer, *, page: int = 0, followed: str | None = None) -> str:
    """The reply to a question: quotes with sources, or why there is none and the nearest titles; ``followed``: the
    earlier question a follow-up was read with, said first."""
    notes = ([f"Following your question “{echo(followed, 120)}”."] if followed else []) + (
        [escape(result.note)] if result.note else []
    )
    note = f"<i>{' '.join(notes)}</i>\n\n" if notes else ""
    if result.kind == "small talk":
        return escape(result.message) + " Send /help for examples."
    if not result.answered:
        lines = [note + escape(result.message or "The articles do not answer that question.")]
        if result.suggestions:
            lines.append("Nearest articles: " + "; ".join(f"<i>{escape(t)}</i>" for t in result.suggestions))
        return "\n".join(lines)
    if not result.quotes:
        return "No more quotes for this question." if page else "The articles do not answer that question."
    text = fit(note.rstrip("\n"), [quote_block(q) for q in result.quotes])
    if text == note.rstrip("\n"):  # not one quote fits
        first = result.quotes[0].article
        return f"The best passage is too long for one Telegram message; it is in {source_line(first)}."
    return text


def context(result: index.Answer) -> str:
    """Each quote inside its paragraph, the quote in bold and the paragraph verbatim, with its (linked) source.

    A paragraph too long for one message is shown around the quote, cut at word boundaries with "…".
    """
    blocks = []
    budget = MAX_MESSAGE // max(1, len(result.quotes)) - 200
    for quote in result.quotes:
        text = quote.article.text
        start, end = index.paragraph_around(text, quote.start, quote.end)
        before, after = text[start : quote.start], text[quote.end : end]
        room = max(0, budget - len(quote.text)) // 2
        if len(before) > room:
            before = "…" + before[len(before) - room :].split(" ", 1)[-1]
        if len(after) > room:
            after = after[:room].rsplit(" ", 1)[0] + "…"
        blocks.append(
            f"{escape(before)}<b>{escape(quote.text)}</b>{escape(after)}\n{source_line(quote.article)}"
        )
    return fit("<b>In context</b>", blocks) if blocks else "No quotes to show in context."


def why(result: index.Answer) -> str:
    """The question's terms and what each quote matched, for the "Why" button."""
    shown = result.terms[:40]  # a pasted essay must not push the explanation past one message
    terms = ", ".join(escape(t) for t in shown) + (f" … ({len(result.terms)} in all)" if len(result.terms) > 40 else "")
    terms = terms or "none"
    lines = [f"<b>Search terms</b> (after stemming and stopwords): {terms}"]
    if result.answered:
        lines.append(f"The best quote holds {result.coverage:.0%} of the question's weight (rarer words weigh more).")
    for n, quote in enumerate(result.quotes, 1):
        matched = ", ".join(escape(t) for t in quote.terms) or "—"
        lines.append(f"{n}. score {quote.score:.2f}, matched: {matched} — <i>{escape(quote.article.title)}</i>")
    return fit("", lines)


# For a bot with nothing indexed yet: questions of the kind news answers, about no story in particular.
GENERIC_EXAMPLES = ("What did the minister say about the budget?", "When does the strike start?")


def examples(idx: index.Index | None, n: int = 2) -> list[str]:
    """Questions to show as examples: the titles of the newest stories the bot serves (a title asks about its own
    story, so the bot can answer it whatever news it reads), else generic ones."""
    titles = list(idx.recent_titles(n)) if idx is not None and idx.article_count else []
    return titles or list(GENERIC_EXAMPLES[:n])


def usage_ask(idx: index.Index | None) -> str:
    """The /ask usage line, with an example question the bot can answer."""
    return f"Usage: /ask <i>your question</i>, for example /ask {escape(examples(idx, 1)[0])}"


def help_text(idx: index.Index | None, *, bot_username: str) -> str:
    """The /start and /help message: what the bot does, how to ask, examples, and what is indexed."""
    if idx is not None and idx.article_count:
        built = index.date_text(idx.built_at, time=True)
        articles = f"{plural(idx.article_count, 'article')} ({plural(len(idx), 'passage')}), indexed {built} UTC"
    elif idx is not None:
        articles = "no articles yet: nothing is indexed until the first stories arrive"
    else:
        articles = "the articles are still being indexed"
    return (
        "I answer questions about a collection of news articles by quoting them word for word, with sources.\n\n"
        "<b>In a private chat</b> just send a question.\n"
        f"<b>In groups</b> use /ask <i>question</i>, mention @{escape(bot_username)}, or reply to one of my messages.\n"
        f"<b>Anywhere</b> type @{escape(bot_username)} <i>question</i> to share a quote.\n"
        "<b>Briefings</b>: /brief [<i>topic</i>] for a digest now; /subscribe HH:MM [<i>topic</i>] for one every day "
        "(/subscriptions, /unsubscribe, /timezone).\n"
        "<b>Following</b>: /follow <i>topic</i> sends each new story on it as it arrives (/following, /unfollow); "
        "/feeds lists the news feeds I read.\n\n"
        "Try:\n" + "\n".join(f"• {escape(e)}" for e in examples(idx)) + f"\n\nI know {articles}."
    )


def briefing(result: index.Briefing) -> list[str]:
    """A briefing as one or more messages, split between stories and never inside one."""
    head = f"<b>Briefing: {echo(result.topic, MAX_TOPIC)}</b>" if result.topic else "<b>Latest stories</b>"
    if result.since is not None:
        head += f" since {index.date_text(result.since)}"
    if not result.stories:
        return [f"{head}\n{escape(result.message)}"]
    items = []
    for n, story in enumerate(result.stories, 1):
        quotes = "\n".join(f"<blockquote>{escape(q.text)}</blockquote>" for q in story.quotes)
        item = f"<b>{n}.</b> {source_line(story.article).removeprefix('— ')}\n{quotes}"
        if len(item) <= MAX_MESSAGE - len(head) - 2:
            items.append(item)
    if result.duplicates:
        items.append(
            f"<i>{plural(result.duplicates, 'near-duplicate story', 'near-duplicate stories')} left out.</i>"
        )
    messages: list[str] = []
    current = head
    for item in items:
        if len(current) + 2 + len(item) > MAX_MESSAGE:
            messages.append(current)
            current = item
        else:
            current = f"{current}\n\n{item}"
    messages.append(current)
    return messages


def feed_lines(feeds: Sequence[Feed], interval: float) -> list[str]:
    """The /feeds listing: each feed with its state (last fetch, new items, errors), as lines to fit messages."""
    if not feeds:
        return ["No feeds are followed yet. Admins add one with /feeds add URL [name]."]
    lines = [f"<b>Feeds</b> (polled every {round(interval / 60) or 1} min or as they ask):"]
    for feed in feeds:
        if feed.paused:
            state = "paused"
        elif feed.state.disabled:
            state = f"disabled after {plural(feed.state.failures, 'failure')}: {echo(feed.state.last_error, 120)}"
        elif feed.last_fetch is None:
            state = "not read yet"
        else:
            state = f"read {feed.last_fetch:%Y-%m-%d %H:%M} UTC, {feed.last_new} new"
            if feed.waiting:
                state += f", {feed.waiting} waiting to be fetched"
            if feed.last_note:
                state += f"; {echo(feed.last_note, 200)}"
            if feed.state.failures:
                state += f"; failing ({feed.state.failures}): {echo(feed.state.last_error, 120)}"
        lines.append(f"#{feed.id} {echo(feed.label, 60)} — {state}")
    return lines


def reindex_report(report: ReindexReport) -> str:
    """What a reindex changed and skipped, for the admin who asked."""
    changes = report.changes
    ingest = report.report
    lines = [
        f"<b>Reindexed</b> in {report.seconds:.1f} s: {plural(report.articles, 'article')}, "
        f"{plural(report.passages, 'passage')}.",
        f"Added {len(changes.added)}, changed {len(changes.changed)}, removed {len(changes.removed)}; "
        f"skipped {plural(ingest.skipped_count, 'file or record', 'files or records')}, "
        f"{plural(ingest.duplicate_count, 'duplicate')}.",
    ]
    for skipped in ingest.skipped[:5]:
        detail = f" ({escape(skipped.detail)})" if skipped.detail else ""
        lines.append(f"• skipped {escape(Path(skipped.source).name)}: {escape(skipped.reason)}{detail}")
    if ingest.skipped_count > 5:
        lines.append(f"• … and {ingest.skipped_count - 5} more")
    return "\n".join(lines)


def duration(seconds: float) -> str:
    """``2d 3h 4m`` or ``3h 4m 5s``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h {minutes}m" if days else f"{hours}h {minutes}m {secs}s"


def stats(idx: index.Index, counters: Stats, feeds: Sequence[Feed] = (), fetched_today: int = 0) -> str:
    """The /stats message: the index, the sources (feeds, stories fetched today, the latest error) and counters."""
    median = counters.median_ms
    lines = [
        f"<b>Index</b>: {plural(idx.article_count, 'article')}, {plural(len(idx), 'passage')}, "
        f"built {idx.built_at:%Y-%m-%d %H:%M} UTC "
        f"in {idx.info.build_seconds:.1f} s."
    ]
    if feeds:
        paused = sum(f.paused for f in feeds)
        disabled = sum(f.state.disabled and not f.paused for f in feeds)
        line = (
            f"<b>Sources</b>: {plural(len(feeds), 'feed')} ({len(feeds) - paused - disabled} active, {paused} paused, "
            f"{disabled} disabled), {plural(fetched_today, 'story', 'stories')} fetched today"
        )
        failing = [f for f in feeds if f.state.last_error and f.state.failures]
        if failing:
            worst = max(failing, key=lambda f: f.state.failures)
            line += f"; last error: #{worst.id} {echo(worst.state.last_error, 150)}"
        lines.append(line + ".")
    lines.append(
        f"<b>Questions answered</b> since start: {counters.answered}"
        + (f", median {median:.0f} ms" if median is not None else "")
        + f".\n<b>Uptime</b>: {duration(counters.uptime)}."
    )
    return "\n".join(lines)
