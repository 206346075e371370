"""Replicas (issue 18): questions answered per second by 1, 2 and 3 ``newsbot run`` processes behind nginx, sharing one
PostgreSQL database, against the fake Bot API (tests/fake_telegram.py); the p95 reply latency; the database's
round trips per question.

Run ``python bench/replicas.py`` with ``NEWSBOT_TEST_DATABASE_URL`` set (``python3 services/postgres.py start``) and
nginx installed (``python3 services/nginx.py install``); ``--questions``, ``--runs``, ``--lexical``. Each run starts
the replicas afresh on a database of its own (one writes the local index, the others read it), waits until each set
its webhook, then POSTs the questions to nginx as Telegram would (50 users, at most 16 in flight) and takes the
time from the first POST to the last reply; a reply's latency is from its question's POST to the reply reaching the
fake Bot API. The round trips are the replicas' ``newsbot_database_statements_total`` (/metrics) over the questions.
Results: min and median over the runs, one line each, and a JSON line.

All replicas share the machine's cores (2 here): the figure shows what the shared state costs, not how N machines
scale; the README says what N machines give.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

import index  # noqa: E402
from tests.fake_telegram import TOKEN, Chat, FakeTelegram, start_server  # noqa: E402
from tests.services import DATABASE_URL, fresh_database, proxy  # noqa: E402
from tests.test_replicas_nginx import QUESTION, SECRET, Replica, post, start, until  # noqa: E402

USERS = 50


async def one_run(
    replicas: int, questions: int, *, semantic: bool, work: Path, base_url: str, baseline: Path | None = None
) -> dict:
    """One measurement: ``replicas`` processes on a fresh database; or, with ``baseline`` (a checkout of newsbot
    before replicas, such as main), one process of that code on its SQLite file (its limits and buttons in memory)."""
    fake = FakeTelegram()
    server = await start_server(fake)
    articles = work / "articles"
    if not articles.exists():
        articles.mkdir()
        for seed in (ROOT / "seeds").iterdir():
            (articles / seed.name).write_bytes(seed.read_bytes())
        index.open_or_build(work / "index", articles)
    try:
        with fresh_database(base_url) as database:
            running = [Replica(f"r{n}", work, {}) for n in range(replicas)]
            async with proxy([f"127.0.0.1:{r.port}" for r in running], path="/hook") as url:
                env = {
                    "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": fake.base_url, "WEBHOOK_URL": url,
                    "WEBHOOK_SECRET_TOKEN": SECRET, "DATABASE_URL": database, "ARTICLES_DIR": str(articles),
                    "INDEX_DIR": str(work / "index"), "DATA_DIR": str(work / "data"),
                    "SEMANTIC_ANSWERS": "1" if semantic else "0", "QUESTIONS_PER_MINUTE": "1000",
                    "REINDEX_ON_START": "0",
                }
                if baseline is not None:
                    env.update(DATABASE_URL=f"sqlite:///{work / 'data' / 'newsbot.sqlite3'}", PYTHONPATH=str(baseline))
                for n, replica in enumerate(running):
                    replica.env.update(env, WEBHOOK_PORT=str(replica.port), HEALTH_PORT=str(replica.health),
                                       INDEX_WRITER="1" if n == 0 else "0")
                try:
                    await start(running, fake)
                    return await measure(fake, running, url, questions)
                finally:
                    for replica in running:
                        await replica.stop()
    finally:
        server.stop()


async def measure(fake: FakeTelegram, running: list[Replica], url: str, questions: int) -> dict:
    chats = [Chat(fake, chat_id=9000 + n, user_id=9000 + n) for n in range(USERS)]
    asked = [chats[n % USERS].message(QUESTION) for n in range(questions)]
    posted: dict[tuple[int, int], float] = {}
    statements_before = await statements(running)
    limit = asyncio.Semaphore(16)

    async def ask(http: httpx.AsyncClient, message: dict) -> None:
        async with limit:
            posted[(message["chat"]["id"], message["message_id"])] = time.monotonic()
            await post(http, url, "message", message)

    replied: dict[tuple[int, int], float] = {}
    seen = 0

    def collect() -> bool:
        nonlocal seen
        now = time.monotonic()
        for sent in fake.sent[seen:]:
            key = (sent.chat_id, sent.reply_to)
            if key in posted and key not in replied:
                replied[key] = now
        seen = len(fake.sent)
        return len(replied) == questions

    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60) as http:
        sending = asyncio.gather(*(ask(http, m) for m in asked))
        await until(fake, f"{questions} replies", collect)
        await sending
    seconds = max(replied.values()) - started
    latencies = sorted(replied[k] - posted[k] for k in replied)
    trips = (await statements(running)) - statements_before
    return {
        "questions_per_second": questions / seconds,
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "round_trips_per_question": trips / questions,
    }


async def statements(running: list[Replica]) -> float:
    """The replicas' statements to the database so far (0 where there is no /metrics: the baseline)."""
    total = 0.0
    for replica in running:
        try:
            metrics = await replica.metrics()
        except httpx.ConnectError:
            continue
        total += metrics.get(("newsbot_database_statements_total", ()), 0.0)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--lexical", action="store_true", help="SEMANTIC_ANSWERS=0 (answers by words alone)")
    parser.add_argument("--baseline", type=Path, help="also measure one process of this checkout (before replicas)")
    args = parser.parse_args()

    base_url = os.environ.get(DATABASE_URL)
    if not base_url:
        sys.exit(f"set {DATABASE_URL} (python3 services/postgres.py start)")
    results = {}
    setups: list[tuple[str, int, Path | None]] = [(f"{n}", n, None) for n in args.replicas]
    if args.baseline:
        setups.insert(0, ("baseline", 1, args.baseline.resolve()))
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-replicas-") as folder:
        for name, n, baseline in setups:
            runs = []
            for run in range(args.runs):
                work = Path(folder) / f"{name}-{run}"
                work.mkdir()
                runs.append(asyncio.run(one_run(n, args.questions, semantic=not args.lexical, work=work,
                                                base_url=base_url, baseline=baseline)))
            q = [r["questions_per_second"] for r in runs]
            p95 = [r["p95_ms"] for r in runs]
            trips = [r["round_trips_per_question"] for r in runs]
            results[name] = {"questions_per_second": {"max": max(q), "median": statistics.median(q)},
                          "p95_ms": {"min": min(p95), "median": statistics.median(p95)},
                          "round_trips_per_question": {"min": min(trips), "median": statistics.median(trips)}}
            label = "baseline (1 process, SQLite, before replicas)" if baseline else f"{n} replica(s), PostgreSQL"
            print(f"{label}: {max(q):.1f} questions/s best, {statistics.median(q):.1f} median; p95 "
                  f"{min(p95):.0f} ms best, {statistics.median(p95):.0f} ms median; "
                  f"{statistics.median(trips):.1f} database round trips per question", flush=True)
    print(json.dumps({"questions": args.questions, "runs": args.runs, "semantic": not args.lexical,
                      "replicas": results}))


if __name__ == "__main__":
    main()
