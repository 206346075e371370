"""How similar are Reuters stories that are "the same story"? Measures word-shingle Jaccard on candidate pairs.

Candidate pairs share at least one uncommon 5-word shingle. For each pair we compute the Jaccard similarity of
their 3-word shingle sets (``index.briefs.similarity``) and print the distribution with examples from each band,
so the near-duplicate threshold used by briefings (``index.briefs.NEAR_DUPLICATE``) can be read off real data.

Run ``python bench/dedup.py`` (needs ../shared/data; under a minute).
"""

from __future__ import annotations

import random
import sys
from collections import defaultdict
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import corpus

import index
from index.briefs import NEAR_DUPLICATE, SHORT_NEAR_DUPLICATE, SHORT_WORDS, shingles, similarity

BANDS = [(0.0, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (0.6, 0.8), (0.8, 1.01)]


def main() -> None:
    articles, _ = index.ingest(corpus.require_data() / "reuters21578" / "articles.jsonl.gz")
    sets = [shingles(a.text, 3) for a in articles]
    words = [len(a.text.split()) for a in articles]
    buckets: dict[int, list[int]] = defaultdict(list)
    for i, a in enumerate(articles):
        for s in shingles(a.text, 5):
            buckets[hash(s)].append(i)
    pairs = set()
    for members in buckets.values():
        if 1 < len(members) <= 8:
            pairs.update(combinations(sorted(set(members)), 2))
    scored = [(similarity(sets[i], sets[j]), i, j) for i, j in pairs]
    print(f"{len(articles)} stories, {len(scored)} candidate pairs sharing an uncommon 5-word shingle\n")
    print("| Jaccard of 3-word shingles | pairs | example titles |")
    print("|---|---:|---|")
    rng = random.Random(7)
    for low, high in BANDS:
        band = [(s, i, j) for s, i, j in scored if low <= s < high]
        example = rng.choice(band) if band else None
        text = f"{articles[example[1]].title} / {articles[example[2]].title}" if example else ""
        print(f"| {low:.1f} to {min(high, 1):.1f} | {len(band)} | {text[:110]} |")
    print("\n| pairs at or above | long stories (both 60+ words) | short stories | same title (long / short) |")
    print("|---|---:|---:|---:|")
    for threshold in (0.5, 0.6, 0.7, 0.8, 0.9):
        long_pairs = [(i, j) for s, i, j in scored if s >= threshold and min(words[i], words[j]) >= SHORT_WORDS]
        short_pairs = [(i, j) for s, i, j in scored if s >= threshold and min(words[i], words[j]) < SHORT_WORDS]
        same = [
            sum(articles[i].title == articles[j].title for i, j in p) / max(1, len(p))
            for p in (long_pairs, short_pairs)
        ]
        print(f"| {threshold} | {len(long_pairs)} | {len(short_pairs)} | {same[0]:.2f} / {same[1]:.2f} |")
    print(
        f"\nRule used by briefings: long stories at >= {NEAR_DUPLICATE}, short (< {SHORT_WORDS} words) at >= "
        f"{SHORT_NEAR_DUPLICATE}. Short pairs just below {SHORT_NEAR_DUPLICATE} (kept apart):"
    )
    short_below = [
        x
        for x in scored
        if NEAR_DUPLICATE <= x[0] < SHORT_NEAR_DUPLICATE and min(words[x[1]], words[x[2]]) < SHORT_WORDS
    ]
    for s, i, j in sorted(short_below, reverse=True)[:5]:
        print(f"  {s:.2f}  {articles[i].title[:55]!r} ~ {articles[j].title[:55]!r}")
    print(f"Long pairs just above {NEAR_DUPLICATE} (merged):")
    long_above = [x for x in scored if x[0] >= NEAR_DUPLICATE and min(words[x[1]], words[x[2]]) >= SHORT_WORDS]
    for s, i, j in sorted(long_above)[:5]:
        print(f"  {s:.2f}  {articles[i].title[:55]!r} ~ {articles[j].title[:55]!r}")


if __name__ == "__main__":
    main()
