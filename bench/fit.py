"""Fit the answer weights and thresholds on the calibration sets only (never on the sets bench/quality.py reports).

Calibration: the SQuAD calibration split (a third of the articles, see quality.py) asked of SQuAD, as questions
to answer; as questions to decline, the first 500 SciFact claims asked of SQuAD and the calibration questions
asked of Reuters-21578. For every question the candidate sentences are collected once, with their features
(coverage, context, kind, BM25 share and, on the semantic path, cosine); a grid of weights is then tried on them.

For each weight setting, the threshold is the lowest that keeps answered off-topic questions at or under
``MAX_OFF_TOPIC`` in *each* off-topic set (claims asked of SQuAD, and SQuAD questions asked of the news
collection: a news bot must hold the line on both); the setting kept is the one that then quotes the gold answer
most often (answered, and the gold answer in one of the three best sentences). Prints the fitted ``Weights`` and
thresholds for index/answers.py.

Run ``python bench/fit.py`` (needs ../shared/data; about half an hour with the semantic path on 2 cores).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import corpus
import quality

import index
from index import answers

MAX_OFF_TOPIC = 0.03  # a margin under the 5 % the reported off-topic sets may reach
GRID = {
    "cosine": (0.5, 1.0, 1.5, 2.0),
    "context": (0.0, 0.5, 1.0),
    "kind": (0.0, 0.1, 0.2, 0.3),
    "bm25": (0.0, 0.15, 0.3, 0.5),
    "decision_coverage": (0.0, 0.25, 0.5, 1.0),
}


@dataclass
class Candidates:
    """The judged sentences of one question: a row of features each, and whether it holds a gold answer."""

    features: np.ndarray  # (n, 6): coverage, context, kind, bm25, cosine, quote coverage
    gold: np.ndarray  # (n,) bool


def collect(idx: index.Index, questions: list[str], golds: list[list[str]] | None, judge) -> list[Candidates]:
    """Candidate sentences of every question, as the answer path scores them before weighing."""
    out = []
    base = answers.DEFAULT_WEIGHTS
    for n, question in enumerate(questions):
        terms = index.analyze(question)
        if not terms:
            out.append(Candidates(np.zeros((0, 6)), np.zeros(0, bool)))
            continue
        rarity = idx.rarity(terms)
        total = sum(rarity.values())
        top = idx.top(terms, answers.CANDIDATE_PASSAGES)
        if not len(top.docs):
            out.append(Candidates(np.zeros((0, 6)), np.zeros(0, bool)))
            continue
        sentences = answers._sentences(
            idx, top.docs.tolist(), top.scores.tolist(), rarity, total, answers._asks_for(question), base
        )
        if judge is not None:
            answers._judge(idx, question, sentences, judge, base)
        chosen = sentences[: answers.JUDGED_SENTENCES]
        rows, gold = [], []
        for s in chosen:
            text = idx.article_of(s.passage).text[s.start : s.end]
            rows.append((s.coverage, s.context, s.kind, s.bm25, s.cosine, s.coverage))
            gold.append(golds is not None and any(g.casefold() in text.casefold() for g in golds[n]))
        out.append(Candidates(np.array(rows, dtype=float).reshape(-1, 6), np.array(gold, dtype=bool)))
        if n % 200 == 0:
            print(f"  {n}/{len(questions)}", file=sys.stderr)
    return out


def save(path: Path, on: list[Candidates], off: list[Candidates]) -> None:
    arrays = {}
    for name, items in (("on", on), ("off", off)):
        for n, c in enumerate(items):
            arrays[f"{name}_{n}_f"], arrays[f"{name}_{n}_g"] = c.features, c.gold
    np.savez_compressed(path, n_on=len(on), n_off=len(off), **arrays)


def load(path: Path) -> tuple[list[Candidates], list[Candidates]]:
    data = np.load(path)
    return tuple(
        [Candidates(data[f"{name}_{n}_f"], data[f"{name}_{n}_g"]) for n in range(int(data[f"n_{name}"]))]
        for name in ("on", "off")
    )


def evaluate(
    on: list[Candidates], off: list[list[Candidates]], w: dict[str, float], semantic: bool, max_off_topic: float
) -> tuple[float, float]:
    """(gold quoted, threshold) for one weight setting: the threshold keeps each off-topic set at the limit."""

    def best(c: Candidates) -> tuple[float, bool]:
        if not len(c.features):
            return -math.inf, False
        f = c.features
        score = f[:, 0] + w["context"] * f[:, 1] + w["kind"] * f[:, 2] + w["bm25"] * f[:, 3]
        if semantic:
            score = score + w["cosine"] * f[:, 4]
        order = np.argsort(-score, kind="stable")
        top = order[0]
        decision = f[top, 4] + w["decision_coverage"] * f[top, 5] if semantic else f[top, 5]
        return float(decision), bool(c.gold[order[:3]].any())

    on_scores = [best(c) for c in on]
    threshold = -math.inf
    for negatives in off:
        off_scores = sorted((best(c)[0] for c in negatives), reverse=True)
        allowed = int(max_off_topic * len(off_scores))
        if allowed < len(off_scores):
            threshold = max(threshold, off_scores[allowed] + 1e-6)
    quoted = sum(d >= threshold and g for d, g in on_scores) / len(on_scores)
    return quoted, threshold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", nargs="*", default=["lexical", "semantic"])
    parser.add_argument("--sample", type=int, default=3000, help="as in quality.py, for the same calibration split")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", type=Path, help="keep the collected candidates in this .npz, and reuse them")
    parser.add_argument("--max-off-topic", type=float, default=MAX_OFF_TOPIC)
    args = parser.parse_args()
    data = corpus.require_data()
    calibration, _, _ = quality.squad_sets(args.seed, args.sample or None)
    squad = index.build(data / "squad-v1.1-dev" / "articles.jsonl.gz")
    reuters = index.build(data / "reuters21578" / "articles.jsonl.gz")
    claims = [r["text"] for r in corpus.read_jsonl(data / "beir-scifact" / "queries.jsonl.gz")][:500]
    questions = [q["question"] for q in calibration]
    for name in args.paths:
        judge = None
        if name == "semantic":
            from index.semantic import load_judge

            judge = load_judge()
        cache = args.cache.with_suffix(f".{name}.npz") if args.cache else None
        if cache is not None and cache.exists():
            on, both = load(cache)
            off = [both[:500], both[500:]]
        else:
            print(f"[{name}] collecting", file=sys.stderr)
            on = collect(squad, questions, [q["answers"] for q in calibration], judge)
            off = [collect(squad, claims, None, judge), collect(reuters, questions[:500], None, judge)]
            if cache is not None:
                save(cache, on, off[0] + off[1])
        keys = list(GRID) if name == "semantic" else ["context", "kind", "bm25"]
        results = []
        for values in itertools.product(*(GRID[k] for k in keys)):
            w = {**{k: getattr(answers.DEFAULT_WEIGHTS, k) for k in GRID}, **dict(zip(keys, values, strict=True))}
            quoted, threshold = evaluate(on, off, w, name == "semantic", args.max_off_topic)
            results.append((quoted, threshold, w))
        results.sort(key=lambda r: -r[0])
        print(f"\n{name}: best settings on the calibration split (off-topic answered <= {args.max_off_topic:.0%})")
        for quoted, threshold, w in results[:5]:
            print(f"  gold quoted {quoted:.3f}  threshold {threshold:.3f}  {w}")
        chosen = answers.SEMANTIC_WEIGHTS if name == "semantic" else answers.LEXICAL_WEIGHTS
        default = {k: getattr(chosen, k) for k in GRID}
        quoted, threshold = evaluate(on, off, default, name == "semantic", args.max_off_topic)
        print(f"  (index/answers.py's weights: gold quoted {quoted:.3f}, threshold {threshold:.3f})")


if __name__ == "__main__":
    main()
