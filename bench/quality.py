"""Answer and retrieval quality on public data: the lexical and semantic paths side by side, with latency.

Sets (../shared/data and bench/questions):

- SQuAD v1.1 dev, split by article: a third of the articles is the **calibration** split, on which every
  threshold and weight is fitted; the rest is the **test** split, reported. Questions are asked of the 48 SQuAD
  articles. "Gold quoted" means the question is answered and a gold answer string is in one of its three quotes.
- SciFact (BEIR): nDCG@10 over the 300 test queries, a document ranked by its best passage (search only).
- Off-topic, which a news bot must decline: SciFact claims asked of SQuAD (half for calibration), SQuAD questions
  asked of Reuters-21578 (calibration-split questions for calibration, test-split ones reported), and our own
  everyday and small-talk messages asked of Reuters (reported only).
- News: bench/questions/news.jsonl asked of Reuters (reported only; never fitted on).

Each path answers with the weights and threshold the product uses (index/answers.py), which bench/fit.py chose
on the calibration sets; nothing here is fitted, and none of the sets reported here was used for fitting.

Run ``python bench/quality.py`` (needs ../shared/data; ``--paths lexical`` for the fast path alone, ``--sample``
for fewer SQuAD questions, ``--variants`` for the older table of BM25 variants). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import json
import math
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import corpus

import index
from index import answers

QUESTIONS = Path(__file__).resolve().parent / "questions"

# name -> (BM25 settings, title terms added to every passage), for --variants
VARIANTS = {
    "okapi (k1=1.5, b=0.75)": (index.Settings(variant="okapi"), False),
    "okapi (k1=0.9, b=0.4)": (index.Settings(variant="okapi", k1=0.9, b=0.4), False),
    "l (k1=1.5, b=0.75, δ=0.5)": (index.Settings(variant="l"), False),
    "plus (k1=1.5, b=0.75, δ=1)": (index.Settings(variant="plus"), False),
    "okapi (k1=0.9, b=0.4) + titles": (index.Settings(variant="okapi", k1=0.9, b=0.4), True),
    "plus (k1=1.5, b=0.75, δ=1) + titles": (index.Settings(variant="plus"), True),
    "plus (k1=0.9, b=0.4, δ=1) + titles (default)": (index.DEFAULT_SETTINGS, True),
}


@dataclass(frozen=True)
class Path_:
    """One way of answering: a name and its options for ``index.answer`` and ``index.search``."""

    name: str
    options: dict


@dataclass(frozen=True)
class Outcome:
    """One question's result: the confidence the threshold is compared with, and where the gold answer was."""

    confidence: float
    first: bool
    anywhere: bool
    kind: str
    seconds: float


def ndcg10(ranked: list[str], relevant: dict[str, int]) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def _contains(text: str, gold: Sequence[str]) -> bool:
    folded = text.casefold()
    return any(g.casefold() in folded for g in gold)


def ask_all(
    idx: index.Index, questions: Sequence[str], golds: Sequence[Sequence[str]] | None, path: Path_, threshold: float
) -> list:
    """Every question answered as the product answers it (at the path's ``threshold``: the quotes after the first
    must reach it too, and a named date is searched without its range when its stories do not answer); a declined
    answer counts as below it. Gold checked if given."""
    out = []
    for n, question in enumerate(questions):
        started = time.perf_counter()
        answer = index.answer(idx, question, threshold=threshold, **path.options)
        seconds = time.perf_counter() - started
        gold = golds[n] if golds is not None else ()
        texts = [q.text for q in answer.quotes]
        out.append(
            Outcome(
                confidence=answer.confidence if answer.quotes else -math.inf,
                first=bool(texts) and _contains(texts[0], gold),
                anywhere=any(_contains(t, gold) for t in texts),
                kind=getattr(answer, "kind", "answer"),
                seconds=seconds,
            )
        )
    return out


def answered(outcomes: Sequence[Outcome], threshold: float) -> float:
    return sum(o.confidence >= threshold for o in outcomes) / len(outcomes)


def squad_sets(seed: int, sample: int | None) -> tuple[list[dict], list[dict], dict]:
    """SQuAD questions of the calibration and test splits (split by article), and paragraph offsets."""
    data = corpus.require_data() / "squad-v1.1-dev"
    qa = list(corpus.read_jsonl(data / "qa.jsonl.gz"))
    articles = sorted({q["article_id"] for q in qa})
    calibration_articles = set(articles[::3])
    calibration = [q for q in qa if q["article_id"] in calibration_articles]
    test = [q for q in qa if q["article_id"] not in calibration_articles]
    rng = random.Random(seed)
    if sample:
        calibration = rng.sample(calibration, min(len(calibration), sample // 2))
        test = rng.sample(test, min(len(test), sample))
    starts: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for p in corpus.read_jsonl(data / "paragraphs.jsonl.gz"):
        starts[p["article_id"]].append((p["article_char_offset"], p["id"]))
    for v in starts.values():
        v.sort()
    return calibration, test, starts


def paragraph_first(idx: index.Index, qa: Sequence[dict], starts: dict, path: Path_) -> tuple[float, float]:
    """How often the first hit lies in the gold paragraph, and how often it is in the top 5."""
    first = top5 = 0
    for q in qa:
        hits = index.search(idx, q["question"], k=5, **path.options)
        paragraphs = []
        for hit in hits:
            offsets = starts[hit.passage.article_id]
            i = bisect.bisect_right(offsets, (hit.passage.start, "\uffff")) - 1
            paragraphs.append(offsets[i][1])
        first += bool(paragraphs) and paragraphs[0] == q["paragraph_id"]
        top5 += q["paragraph_id"] in paragraphs
    return first / len(qa), top5 / len(qa)


def scifact_index(tmp: Path, settings: index.Settings, titles: bool) -> tuple[index.Index, dict, dict]:
    data = corpus.require_data() / "beir-scifact"
    path = tmp / "scifact.jsonl"
    if not path.exists():
        with open(path, "w", encoding="utf-8") as out:
            for r in corpus.read_jsonl(data / "corpus.jsonl.gz"):
                out.write(json.dumps({"id": r["_id"], "title": r["title"], "text": r["text"]}) + "\n")
    queries = {r["_id"]: r["text"] for r in corpus.read_jsonl(data / "queries.jsonl.gz")}
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with open(data / "qrels" / "test.tsv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels[row["query-id"]][row["corpus-id"]] = int(row["score"])
    return index.build(path, settings=settings, titles=titles), queries, qrels


def scifact_ndcg(idx: index.Index, queries: dict, qrels: dict, path: Path_) -> float:
    scores = []
    for qid, rel in qrels.items():
        best: dict[str, float] = {}
        for hit in index.search(idx, queries[qid], k=100, **path.options):
            best.setdefault(hit.passage.article_id, hit.score)
        scores.append(ndcg10(list(best), rel))
    return sum(scores) / len(scores)


def lines(name: str) -> list[str]:
    return [line for line in (QUESTIONS / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def run_variants(tmp: Path) -> None:
    """The older table: each BM25 variant's retrieval quality (lexical search only)."""
    lexical = Path_("lexical", {})
    _, test, starts = squad_sets(0, None)
    squad_all = test + squad_sets(0, None)[0]
    print("| BM25 variant | SciFact nDCG@10 | SQuAD gold paragraph first | SQuAD gold paragraph in top 5 |")
    print("|---|---:|---:|---:|")
    print("| reference | 0.665 (BEIR), 0.679 (Anserini) | 0.773 | 0.919 |")
    squad_path = corpus.require_data() / "squad-v1.1-dev" / "articles.jsonl.gz"
    for name, (settings, titles) in VARIANTS.items():
        sf, queries, qrels = scifact_index(tmp, settings, titles)
        sq = index.build(squad_path, settings=settings, titles=titles)
        first, top5 = paragraph_first(sq, squad_all, starts, lexical)
        print(f"| {name} | {scifact_ndcg(sf, queries, qrels, lexical):.3f} | {first:.3f} | {top5:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", nargs="*", default=["lexical", "semantic"], help="lexical and/or semantic")
    parser.add_argument("--sample", type=int, default=3000, help="SQuAD test questions (0: all; default 3000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variants", action="store_true", help="print the BM25 variant table and stop")
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.variants:
            run_variants(tmp)
            return
        run(args, tmp)


def _path(name: str) -> Path_:
    if name == "lexical":
        return Path_("lexical", {"judge": None})
    from index.semantic import load_judge

    return Path_("semantic", {"judge": load_judge()})


def run(args: argparse.Namespace, tmp: Path) -> None:
    data = corpus.require_data()
    calibration, test, starts = squad_sets(args.seed, args.sample or None)
    squad = index.build(data / "squad-v1.1-dev" / "articles.jsonl.gz")
    reuters = index.build(data / "reuters21578" / "articles.jsonl.gz")
    scifact, queries, qrels = scifact_index(tmp, index.DEFAULT_SETTINGS, True)
    claims = [r["text"] for r in corpus.read_jsonl(data / "beir-scifact" / "queries.jsonl.gz")][:1000]
    news = [json.loads(line) for line in lines("news.jsonl")]
    everyday, smalltalk = lines("everyday.txt"), lines("smalltalk.txt")
    rows: dict[str, dict[str, float]] = {}
    for name in args.paths:
        path = _path(name)
        threshold = answers.SEMANTIC_THRESHOLD if name == "semantic" else answers.ANSWER_THRESHOLD
        print(f"[{name}] threshold {threshold}; testing", file=sys.stderr)
        on = ask_all(squad, [q["question"] for q in test], [q["answers"] for q in test], path, threshold)
        first, top5 = paragraph_first(squad, test, starts, path)
        row = {
            "threshold": threshold,
            "squad_quoted": sum(o.anywhere and o.confidence >= threshold for o in on) / len(on),
            "squad_first_quote": sum(o.first and o.confidence >= threshold for o in on) / len(on),
            "squad_answered": answered(on, threshold),
            "paragraph_first": first,
            "paragraph_top5": top5,
            "scifact_ndcg10": scifact_ndcg(scifact, queries, qrels, path),
            "claims_on_squad": answered(ask_all(squad, claims[500:], None, path, threshold), threshold),
            "squad_on_reuters": answered(
                ask_all(reuters, [q["question"] for q in test][:1000], None, path, threshold), threshold
            ),
            "everyday_declined": 1 - answered(ask_all(reuters, everyday, None, path, threshold), threshold),
            "smalltalk_declined": 1 - answered(ask_all(reuters, smalltalk, None, path, threshold), threshold),
        }
        news_outcomes = ask_all(reuters, [q["question"] for q in news], [q["answers"] for q in news], path, threshold)
        for style in ("lexical", "paraphrase", None):
            chosen = [o for o, q in zip(news_outcomes, news, strict=True) if style in (None, q["style"])]
            key = f"news_{style or 'all'}"
            row[f"{key}_first"] = sum(o.first and o.confidence >= threshold for o in chosen)
            row[f"{key}_quoted"] = sum(o.anywhere and o.confidence >= threshold for o in chosen)
            row[f"{key}_n"] = len(chosen)
        times = [o.seconds * 1000 for o in news_outcomes] + [o.seconds * 1000 for o in on[:300]]
        row["ms_p50"], row["ms_p95"] = statistics.median(times), percentile(times, 0.95)
        rows[name] = row
    report(rows, len(test), len(calibration))


def report(rows: dict[str, dict[str, float]], n_test: int, n_calibration: int) -> None:
    names = list(rows)
    print(f"\nSQuAD test split: {n_test} questions; calibration split: {n_calibration}.\n")
    print("| measure | target | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    lines_ = [
        ("answer threshold (fitted on calibration by bench/fit.py)", "", "threshold", "{:.2f}"),
        ("SQuAD gold answer quoted", "≥ 0.87", "squad_quoted", "{:.3f}"),
        ("SQuAD gold answer in the first quote", "", "squad_first_quote", "{:.3f}"),
        ("SQuAD questions answered", "", "squad_answered", "{:.3f}"),
        ("SQuAD gold paragraph first (search)", "≥ 0.83", "paragraph_first", "{:.3f}"),
        ("SQuAD gold paragraph in top 5 (search)", "", "paragraph_top5", "{:.3f}"),
        ("SciFact nDCG@10 (search)", "≥ 0.73", "scifact_ndcg10", "{:.3f}"),
        ("SciFact claims asked of SQuAD: answered", "", "claims_on_squad", "{:.3f}"),
        ("SQuAD questions asked of Reuters: answered", "≤ 0.04", "squad_on_reuters", "{:.3f}"),
        ("everyday questions declined", "≥ 0.93", "everyday_declined", "{:.3f}"),
        ("small talk declined or greeted", "1.00", "smalltalk_declined", "{:.3f}"),
        ("answer time p50, ms (Reuters, one thread)", "≤ 300", "ms_p50", "{:.0f}"),
        ("answer time p95, ms", "≤ 600", "ms_p95", "{:.0f}"),
    ]
    for label, target, key, fmt in lines_:
        print(f"| {label} | {target} | " + " | ".join(fmt.format(rows[n][key]) for n in names) + " |")
    for style in ("all", "lexical", "paraphrase"):
        cells = []
        for n in names:
            first, quoted, total = (rows[n][f"news_{style}_{part}"] for part in ("first", "quoted", "n"))
            cells.append(f"{first:.0f} / {quoted:.0f} of {total:.0f}")
        print(f"| news questions ({style}): right sentence first / in the quotes | | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
