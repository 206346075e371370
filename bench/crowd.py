"""50 users asking at once: how long each waits for its answer when Telegram's outgoing limit paces the replies.

Run ``python bench/crowd.py --baseline DIR`` (DIR: a checkout of the code to compare with, e.g.
``git archive main | tar -x -C DIR``); a few minutes. Each user asks ``--questions`` questions about the seed
article, one after the other (the next when the answer to the last arrived), all ``--users`` at once, through the
real Application (polling, ``AIORateLimiter``, handlers, answers in threads) against the fake Bot API of
``tests/fake_telegram.py`` on 127.0.0.1. The wait is from the question reaching the fake server to its answer
arriving there. The index is the seed article, so answering is quick and the replies are paced by the rate
limiter (about 30 requests a second in all): with a "typing" action before every answer, every answer cost two
requests and 50 users waited twice the floor of 50 / 30 = 1.67 s.

Every run is its own process, with ``PYTHONPATH`` set to the code measured (its ``bot``, ``index`` and
``tests`` packages), before and after alternating, ``--runs`` of each on both paths (semantic: the default;
lexical: ``SEMANTIC_ANSWERS=0``). The fake server does not refuse requests over 30 a second (Telegram tolerates
bursts, and PTB's limiter is a leaky bucket that allows one of 30), so each run reports the most requests the
bot sent in any one second, to show the pacing held. Results are printed as Markdown and written with the raw
JSON to ``--output``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = (
    "Which air base did the GNA seize?",
    "Who threatened Turkish targets with an airstrike?",
    "What did the GNA forces destroy with drones?",
    "Who supports Haftar's Libyan National Army?",
    "What did Turkey's foreign ministry say about Haftar's forces?",
    "Who is the chief of staff of Haftar's air force?",
    "Who leads the Government of National Accord?",
)
FLOOR_RATE = 30.0  # requests a second: Telegram's outgoing limit, which AIORateLimiter keeps to


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _crowd(users: int, questions: int, semantic: bool, work: Path) -> dict[str, Any]:
    """One run, in the code on ``sys.path``: start the bot, warm it up, then let the crowd ask."""
    from tests.bot_harness import make_settings, running
    from tests.fake_telegram import Chat, FakeTelegram, start_server

    fake = FakeTelegram()
    server = await start_server(fake)
    stamps: list[tuple[float, str]] = []
    original = fake.call

    def timed(method: str, params: dict[str, Any]) -> Any:
        stamps.append((time.monotonic(), method))
        return original(method, params)

    fake.call = timed
    settings = make_settings(fake, work, questions_per_minute=10 * questions, semantic_answers=semantic)
    try:
        async with running(settings) as app:
            warm = Chat(fake, chat_id=999, user_id=999, app=app)
            for question in QUESTIONS:  # the model and the seed sentences' embeddings are ready before the crowd
                await warm.send(question)
                await warm.next_reply(seconds=120)
            chats = [Chat(fake, chat_id=10_000 + n, user_id=10_000 + n, app=app) for n in range(users)]
            waits: list[float] = []
            quoted = 0

            async def user(n: int, chat: Chat) -> None:
                nonlocal quoted
                for k in range(questions):
                    started = time.monotonic()
                    await chat.send(QUESTIONS[(n + k) % len(QUESTIONS)])
                    reply = await chat.next_reply(seconds=300)
                    waits.append(time.monotonic() - started)
                    quoted += "<blockquote>" in reply.html

            began = time.monotonic()
            await asyncio.gather(*(user(n, chat) for n, chat in enumerate(chats)))
            total = time.monotonic() - began
    finally:
        server.stop()
    during = [(t, m) for t, m in stamps if began <= t and m != "getUpdates"]
    times = [t for t, _ in during]
    busiest = max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)
    return {
        "users": users,
        "questions": questions,
        "semantic": semantic,
        "answers": len(waits),
        "quoted": quoted,
        "p50": _percentile(waits, 0.5),
        "p95": _percentile(waits, 0.95),
        "max": max(waits),
        "total": total,
        "requests": len(during),
        "typing": sum(1 for _, m in during if m == "sendChatAction"),
        "busiest_second": busiest,
    }


def child(args: argparse.Namespace) -> None:
    import bot

    with tempfile.TemporaryDirectory(prefix="crowd-") as work:
        result = _crowd(args.users, args.questions, args.path == "semantic", Path(work))
        record = asyncio.run(result)
    record["code"] = str(Path(bot.__file__).resolve().parent.parent)
    print(json.dumps(record))


def run_one(tree: Path, path: str, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--path", path]
    command += ["--users", str(args.users), "--questions", str(args.questions)]
    done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the run in {tree} failed:\n{done.stderr[-3000:]}")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(record["code"]) != tree.resolve():
        raise SystemExit(f"the run meant for {tree} imported the bot from {record['code']}")
    return record


def _span(values: list[float], digits: int = 2) -> str:
    return f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f}"


def report(records: list[dict[str, Any]], labels: dict[str, str], args: argparse.Namespace) -> str:
    floor = args.users / FLOOR_RATE
    lines = [
        f"# {args.users} users asking at once ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores, load before {records[0]['load'][0]:.2f})",
        "",
        f"{args.users} users x {args.questions} questions, each user asking the next when the last was answered; "
        f"min / median over {args.runs} runs. Floor: {args.users} / {FLOOR_RATE:.0f} = {floor:.2f} s; target: p95 "
        f"within 10% of it ({floor * 1.1:.2f} s).",
        "",
        "| path | code | wait p50 s | wait p95 s | total s | requests | typing actions | busiest second |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for path in ("semantic", "lexical"):
        for key, label in labels.items():
            rows = [r for r in records if r["path"] == path and r["label"] == key]
            if not rows:
                continue
            lines.append(
                f"| {path} | {label} | {_span([r['p50'] for r in rows])} | {_span([r['p95'] for r in rows])} | "
                f"{_span([r['total'] for r in rows], 1)} | {_span([r['requests'] for r in rows], 0)} | "
                f"{_span([r['typing'] for r in rows], 0)} | {_span([r['busiest_second'] for r in rows], 0)} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="a checkout of the code to compare with (before)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--paths", default="semantic,lexical")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "crowd.md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--path", default="semantic", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    trees = {"after": ROOT}
    labels = {"after": "this branch"}
    if args.baseline is not None:
        if not (args.baseline / "bot" / "handlers.py").is_file():
            raise SystemExit(f"--baseline {args.baseline} is not a checkout of newsbot")
        shutil.copytree(ROOT / "seeds", args.baseline / "seeds", dirs_exist_ok=True)
        trees = {"before": args.baseline, **trees}
        labels = {"before": f"before ({args.baseline.name})", **labels}
    records = []
    for run in range(args.runs):
        for path in args.paths.split(","):
            for key, tree in trees.items():
                load = os.getloadavg()
                record = {**run_one(tree, path, args), "label": key, "path": path, "run": run, "load": load}
                print(json.dumps(record), flush=True)
                records.append(record)
    text = report(records, labels, args)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    raw = "\n".join(json.dumps(r) for r in records)
    args.output.write_text(f"{text}\n<details><summary>raw</summary>\n\n```json\n{raw}\n```\n</details>\n")


if __name__ == "__main__":
    main()
