"""Retrieval and answer quality on public data, for each rank-bm25 variant.

- SciFact (BEIR): nDCG@10 over the 300 test queries; a document ranks by its best passage. Documents are
  indexed as title + abstract, as BEIR does. References: 0.665 (BEIR, Elasticsearch), 0.679 (Anserini).
- SQuAD v1.1 dev: how often the first hit lies in the gold paragraph (reference, plain BM25 over paragraphs:
  0.773) and in the top 5 (0.919); how often a gold answer string appears in the answer's quotes; how many
  questions are answered at each threshold, and how many off-topic questions (SciFact claims asked of the
  SQuAD articles) are wrongly answered.

Run ``python bench/quality.py`` (needs ../shared/data; a few minutes). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import json
import math
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import corpus

import index
from index import answers

# name -> (BM25 settings, title terms added to every passage)
CONFIGS = {
    "okapi (k1=1.5, b=0.75)": (index.Settings(variant="okapi"), False),
    "okapi (k1=0.9, b=0.4)": (index.Settings(variant="okapi", k1=0.9, b=0.4), False),
    "l (k1=1.5, b=0.75, δ=0.5)": (index.Settings(variant="l"), False),
    "plus (k1=1.5, b=0.75, δ=1)": (index.Settings(variant="plus"), False),
    "okapi (k1=1.5, b=0.75) + titles": (index.Settings(variant="okapi"), True),
    "okapi (k1=0.9, b=0.4) + titles": (index.Settings(variant="okapi", k1=0.9, b=0.4), True),
    "plus (k1=1.5, b=0.75, δ=1) + titles": (index.Settings(variant="plus"), True),
    "plus (k1=0.9, b=0.4, δ=1) + titles (default)": (index.DEFAULT_SETTINGS, True),
}
DEFAULT = "plus (k1=0.9, b=0.4, δ=1) + titles (default)"


def ndcg10(ranked: list[str], relevant: dict[str, int]) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def scifact(tmp: Path) -> dict[str, float]:
    data = corpus.require_data() / "beir-scifact"
    path = tmp / "scifact.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for r in corpus.read_jsonl(data / "corpus.jsonl.gz"):
            out.write(json.dumps({"id": r["_id"], "title": r["title"], "text": r["text"]}) + "\n")
    queries = {r["_id"]: r["text"] for r in corpus.read_jsonl(data / "queries.jsonl.gz")}
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with open(data / "qrels" / "test.tsv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels[row["query-id"]][row["corpus-id"]] = int(row["score"])
    results = {}
    for name, (settings, titles) in CONFIGS.items():
        idx = index.build(path, settings=settings, titles=titles)
        scores = []
        for qid, rel in qrels.items():
            best: dict[str, float] = {}
            for hit in idx.search(queries[qid], k=300):
                best.setdefault(hit.passage.article_id, hit.score)
            scores.append(ndcg10(list(best), rel))
        results[name] = sum(scores) / len(scores)
    return results


def squad(tmp: Path, with_answers: bool) -> dict[str, dict[str, float]]:
    data = corpus.require_data() / "squad-v1.1-dev"
    starts: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for p in corpus.read_jsonl(data / "paragraphs.jsonl.gz"):
        starts[p["article_id"]].append((p["article_char_offset"], p["id"]))
    for v in starts.values():
        v.sort()
    qa = list(corpus.read_jsonl(data / "qa.jsonl.gz"))
    claims = [r["text"] for r in corpus.read_jsonl(corpus.DATA / "beir-scifact" / "queries.jsonl.gz")][:1000]
    path = data / "articles.jsonl.gz"

    def paragraph_of(hit: index.Hit) -> str:
        offsets = starts[hit.passage.article_id]
        i = bisect.bisect_right(offsets, (hit.passage.start, "\uffff")) - 1
        return offsets[i][1]

    results = {}
    for name, (settings, titles) in CONFIGS.items():
        idx = index.build(path, settings=settings, titles=titles)
        first = top5 = 0
        for q in qa:
            hits = idx.search(q["question"], k=5)
            paragraphs = [paragraph_of(h) for h in hits]
            first += bool(paragraphs) and paragraphs[0] == q["paragraph_id"]
            top5 += q["paragraph_id"] in paragraphs
        row = {"first": first / len(qa), "top5": top5 / len(qa)}
        if with_answers or name == DEFAULT:
            row.update(answer_quality(idx, qa, claims))
        results[name] = row
    return results


def answer_quality(idx: index.Index, qa: list[dict], claims: list[str]) -> dict[str, float]:
    # Threshold 0 answers everything, so every best coverage is collected; thresholds are applied here.
    t = time.perf_counter()
    on_topic = [(index.answer(idx, q["question"], threshold=0.0), q["answers"]) for q in qa]
    seconds = (time.perf_counter() - t) / len(qa)
    off_topic = [index.answer(idx, c, threshold=0.0) for c in claims]

    def contains(answer: index.Answer, gold: list[str], n: int) -> bool:
        texts = [quote.text.casefold() for quote in answer.quotes[:n]]
        return any(g.casefold() in t for g in gold for t in texts)

    row = {
        "gold_in_first_quote": sum(contains(a, g, 1) for a, g in on_topic) / len(on_topic),
        "gold_in_quotes": sum(contains(a, g, 3) for a, g in on_topic) / len(on_topic),
        "ms_per_answer": seconds * 1000,
    }
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
        row[f"answered@{threshold}"] = sum(a.coverage >= threshold for a, _ in on_topic) / len(on_topic)
        row[f"off_topic_answered@{threshold}"] = sum(a.coverage >= threshold for a in off_topic) / len(off_topic)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--all-answers", action="store_true", help="answer quality for every variant, not just plus")
    parser.add_argument("--only", nargs="*", help="run only the configurations whose names contain these strings")
    args = parser.parse_args()
    if args.only:
        for name in list(CONFIGS):
            if name != DEFAULT and not any(part in name for part in args.only):
                del CONFIGS[name]
    with tempfile.TemporaryDirectory() as tmp:
        sf = scifact(Path(tmp))
        sq = squad(Path(tmp), args.all_answers)
    print("| BM25 variant | SciFact nDCG@10 | SQuAD gold paragraph first | SQuAD gold paragraph in top 5 |")
    print("|---|---:|---:|---:|")
    print("| reference | 0.665 (BEIR), 0.679 (Anserini) | 0.773 | 0.919 |")
    for name in CONFIGS:
        print(f"| {name} | {sf[name]:.3f} | {sq[name]['first']:.3f} | {sq[name]['top5']:.3f} |")
    print()
    print("| BM25 variant | gold answer in first quote | in any of 3 quotes | ms per answer |")
    print("|---|---:|---:|---:|")
    for name, row in sq.items():
        if "gold_in_quotes" in row:
            print(
                f"| {name} | {row['gold_in_first_quote']:.3f} | {row['gold_in_quotes']:.3f} | "
                f"{row['ms_per_answer']:.1f} |"
            )
    print()
    print("| answer threshold | SQuAD questions answered | off-topic (SciFact claims) answered |")
    print("|---:|---:|---:|")
    row = sq[DEFAULT]
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
        mark = " (default)" if threshold == answers.ANSWER_THRESHOLD else ""
        print(
            f"| {threshold}{mark} | {row[f'answered@{threshold}']:.3f} | {row[f'off_topic_answered@{threshold}']:.3f} |"
        )


if __name__ == "__main__":
    main()
