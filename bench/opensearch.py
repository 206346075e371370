"""The archive on OpenSearch beside the local engine, in one run: speed, memory and agreement.

Scale (``--sizes``): the corpus of bench/retrieval.py (real Reuters, SQuAD and SciFact articles, grown with renamed
copies) built by the shared recipe (``update_archive``) into the local segmented index and into the cluster;
build time, the cluster's resident memory (every node JVM) beside this process's, search p50/p95 (``top`` of 10
for SQuAD questions, through the client) and answer p50/p95 (lexical ``index.answer``), and the top-10 overlap.

Quality (``--quality``): SQuAD dev (gold paragraph first, lexical path), SciFact (nDCG@10) and the Reuters
questions of bench/questions/news.jsonl (answer quoted), each local index copied to the cluster
(``copy_index``): top-10 overlap of the two rankings, and the figures on each backend.

    python3 services/opensearch.py start --nodes 3 --dir /tmp/os
    python bench/opensearch.py --opensearch-dir /tmp/os --sizes 100000 --quality

Times are the median (and min) of ``--repeat`` passes over the questions; the machine's two cores run the three
JVMs and this process, so the cluster's figures are an upper bound of what separate machines would give.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import corpus  # noqa: E402
import quality  # noqa: E402
import retrieval  # noqa: E402

import index  # noqa: E402
from index.analysis import analyze  # noqa: E402
from index.core import update_archive  # noqa: E402
from index.opensearch import ClusterConfig, OpenSearchWriter, connect, copy_index  # noqa: E402

LEXICAL = quality.Path_("lexical", {"judge": None})
if not corpus.DATA.is_dir():  # a git worktree one folder deeper than the checkout ../shared is next to
    corpus.DATA = Path(os.environ.get("NEWSBOT_SHARED_DATA", "/work/shared/data"))


def service() -> Any:
    return importlib.import_module("services.opensearch")


def cluster_rss_mb(rundir: str) -> float:
    nodes = service().load_cluster(rundir)["nodes"]
    return sum(service()._rss_mb(n["pid"]) for n in nodes if service()._alive(n))


def own_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(call: Any, items: list[Any], repeat: int) -> tuple[float, float, float]:
    """p50 and p95 (ms) of the median pass, and the min pass's p50, over ``repeat`` passes."""
    passes = []
    for _ in range(repeat):
        times = []
        for item in items:
            started = time.perf_counter()
            call(item)
            times.append((time.perf_counter() - started) * 1000)
        passes.append((percentile(times, 0.5), percentile(times, 0.95)))
    passes.sort()
    p50, p95 = passes[len(passes) // 2]
    return p50, p95, passes[0][0]


def keyed(archive: Any, top: Any) -> list[tuple[str, int]]:
    return [(archive.passage(int(n)).article_id, archive.passage(int(n)).start) for n in top.docs]


def overlap(local: Any, remote: Any, questions: list[str], k: int = 10) -> tuple[float, float]:
    """Mean top-k overlap (shared passages / the passages of either) and the share of questions whose top k are
    identical, in order."""
    shared = identical = 0.0
    for question in questions:
        terms = analyze(question)
        mine, theirs = keyed(local, local.top(terms, k)), keyed(remote, remote.top(terms, k))
        either = set(mine) | set(theirs)
        shared += len(set(mine) & set(theirs)) / len(either) if either else 1.0  # both empty: they agree
        identical += mine == theirs
    return shared / len(questions), identical / len(questions)


def config_for(args: argparse.Namespace, prefix: str) -> ClusterConfig:
    urls = tuple(service().urls(args.opensearch_dir))
    return ClusterConfig(urls=urls, prefix=prefix, shards=args.shards, replicas=args.replicas, timeout=120)


def drop(config: ClusterConfig) -> None:
    connect(config).indices.delete(index=f"{config.prefix}-*", ignore_unavailable=True, allow_no_indices=True)


def scale(args: argparse.Namespace, size: int, tmp: Path) -> dict[str, Any]:
    folder = retrieval.corpus_folder(Path(args.cache), size)
    questions = [q for q in corpus.questions() if analyze(q)][: args.queries]
    row: dict[str, Any] = {"size": size}
    started = time.perf_counter()
    local = index.update(tmp / f"local-{size}", folder)
    row["local build s"] = time.perf_counter() - started
    row["passages"] = len(local)
    config = config_for(args, f"bench-{size}")
    drop(config)
    before = cluster_rss_mb(args.opensearch_dir)
    started = time.perf_counter()
    with OpenSearchWriter(connect(config), config) as writer:
        remote = update_archive(writer, folder)
    row["cluster build s"] = time.perf_counter() - started
    row["cluster RSS MB (before, after)"] = (round(before), round(cluster_rss_mb(args.opensearch_dir)))
    stats = connect(config).indices.stats(index=f"{config.prefix}-archive")["_all"]["primaries"]
    row["cluster primary store MB, bytes per passage"] = (
        stats["store"]["size_in_bytes"] / 1e6, stats["store"]["size_in_bytes"] / len(local)
    )
    row["local index MB"] = sum(f.stat().st_size for f in (tmp / f"local-{size}").rglob("*") if f.is_file()) / 1e6
    row["local RSS MB"] = round(own_rss_mb())
    assert len(remote) == len(local), (len(remote), len(local))
    for name, archive in (("local", local), ("cluster", remote)):
        terms = [analyze(q) for q in questions]
        row[f"{name} search p50/p95 (min p50) ms"] = timed(lambda t, a=archive: a.top(t, 10), terms, args.repeat)
        row[f"{name} answer p50/p95 (min p50) ms"] = timed(
            lambda q, a=archive: index.answer(a, q), questions[: args.answers], args.repeat
        )
    row["top-10 overlap, identical"] = overlap(local, remote, questions)
    if not args.keep:
        drop(config)
    return row


def copied(args: argparse.Namespace, local: Any, prefix: str) -> Any:
    config = config_for(args, prefix)
    drop(config)
    with OpenSearchWriter(connect(config), config) as writer:
        return copy_index(local, writer)


def answers_quoted(archive: Any, items: list[dict]) -> tuple[float, list[str]]:
    quoted, first = 0, []
    for item in items:
        result = index.answer(archive, item["question"])
        text = " ".join(q.text for q in result.quotes)
        quoted += any(a.lower() in text.lower() for a in item["answers"])
        first.append(result.quotes[0].text if result.quotes else "")
    return quoted / len(items), first


def quality_rows(args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    data = corpus.require_data()
    rows = []
    _calibration, test, starts = quality.squad_sets(1, args.sample)
    squad = index.build(data / "squad-v1.1-dev" / "articles.jsonl.gz")
    remote = copied(args, squad, "bench-squad")
    questions = [q["question"] for q in test]
    row = {"set": f"SQuAD dev ({len(test)} questions)", "top-10 overlap, identical": overlap(squad, remote, questions)}
    row["gold paragraph first (local, cluster)"] = (
        quality.paragraph_first(squad, test, starts, LEXICAL)[0],
        quality.paragraph_first(remote, test, starts, LEXICAL)[0],
    )
    rows.append(row)
    scifact, queries, qrels = quality.scifact_index(tmp, index.DEFAULT_SETTINGS, True)
    remote = copied(args, scifact, "bench-scifact")
    row = {"set": f"SciFact ({len(qrels)} queries)", "top-10 overlap, identical": overlap(
        scifact, remote, [queries[q] for q in qrels])}  # fmt: skip
    row["nDCG@10 (local, cluster)"] = (
        quality.scifact_ndcg(scifact, queries, qrels, LEXICAL),
        quality.scifact_ndcg(remote, queries, qrels, LEXICAL),
    )
    rows.append(row)
    reuters = index.build(data / "reuters21578" / "articles.jsonl.gz")
    remote = copied(args, reuters, "bench-reuters")
    items = [json.loads(line) for line in quality.lines("news.jsonl")]
    here, mine = answers_quoted(reuters, items)
    there, theirs = answers_quoted(remote, items)
    rows.append({
        "set": f"Reuters, bench/questions/news.jsonl ({len(items)} questions)",
        "top-10 overlap, identical": overlap(reuters, remote, [i["question"] for i in items]),
        "answer quoted (local, cluster)": (here, there),
        "same first quote": sum(a == b for a, b in zip(mine, theirs, strict=True)) / len(items),
    })  # fmt: skip
    if not args.keep:
        for prefix in ("bench-squad", "bench-scifact", "bench-reuters"):
            drop(config_for(args, prefix))
    return rows


def show(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(show(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opensearch-dir", default=os.environ.get("NEWSBOT_TEST_OPENSEARCH_DIR"), required=False)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000])
    parser.add_argument("--queries", type=int, default=500, help="SQuAD questions timed for search")
    parser.add_argument("--answers", type=int, default=200, help="of them, timed for answers")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shards", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--sample", type=int, default=1000, help="SQuAD test questions for --quality")
    parser.add_argument("--cache", default=str(retrieval.DEFAULT_CACHE))
    parser.add_argument("--keep", action="store_true", help="leave the bench indices in the cluster")
    args = parser.parse_args()
    if not args.opensearch_dir:
        sys.exit("give --opensearch-dir (the folder of `python3 services/opensearch.py start`)")
    nodes = len(service().urls(args.opensearch_dir))
    print(f"# OpenSearch beside the local engine: {nodes} node(s), {args.shards} shards, {args.replicas} replica(s)")
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-os-") as name:
        tmp = Path(name)
        for size in args.sizes:
            for key, value in scale(args, size, tmp).items():
                print(f"| {key} | {show(value)} |", flush=True)
        if args.quality:
            for row in quality_rows(args, tmp):
                print()
                for key, value in row.items():
                    print(f"| {key} | {show(value)} |", flush=True)


if __name__ == "__main__":
    main()
