"""Benchmark corpora from ../shared/data: real passages, and a 1M-passage corpus grown from them.

Real passages come from Reuters-21578, SQuAD dev and SciFact, split and analysed exactly as ``index.build``
does. A corpus larger than the real one (1M passages) is made by repeating the real passages; in every repeat
after the first, each term that occurs in fewer than ``RARE`` real passages is renamed (``term#copy``). So
common words ("said", "pct") grow their posting lists linearly, as they would in a larger news corpus, while
the vocabulary keeps growing with new rare names, as Heaps' law says it does, instead of every rare term's
posting list multiplying by the number of copies.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.analysis import analyze  # noqa: E402
from index.model import Article  # noqa: E402
from index.passages import split_passages  # noqa: E402
from index.sentences import SentenceSplitter  # noqa: E402

# NEWSBOT_DATA points elsewhere, e.g. from a worktree that is not a sibling of ../shared.
DATA = Path(os.environ.get("NEWSBOT_DATA") or ROOT.parent / "shared" / "data")
RARE = 50


def require_data() -> Path:
    if not DATA.is_dir():
        sys.exit(f"benchmarks need the evaluation data at {DATA}")
    return DATA


def read_jsonl(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def real_texts() -> list[str]:
    data = require_data()
    texts = [r["text"] for r in read_jsonl(data / "reuters21578" / "articles.jsonl.gz") if r["text"].strip()]
    texts += [r["text"] for r in read_jsonl(data / "squad-v1.1-dev" / "articles.jsonl.gz")]
    texts += [f"{r['title']}\n\n{r['text']}" for r in read_jsonl(data / "beir-scifact" / "corpus.jsonl.gz")]
    return texts


def real_passages() -> list[list[str]]:
    """Every real passage's terms (about 150k passages)."""
    texts = real_texts()
    splitter = SentenceSplitter(texts)
    out = []
    for text in texts:
        article = Article(id="", title="", text=text)
        _, passages = split_passages(article.text, splitter)
        out.extend(analyze(text[s:e]) for s, e, _ in passages)
    return out


def grow(passages: list[list[str]], size: int) -> list[list[str]]:
    """``size`` passages: the real ones, then renamed repeats (see the module docstring)."""
    if size <= len(passages):
        return passages[:size]
    df = Counter(t for p in passages for t in set(p))
    rare = {t for t, n in df.items() if n < RARE}
    out = list(passages)
    copy = 1
    names: dict[str, str] = {}
    while len(out) < size:
        names.clear()
        suffix = f"#{copy}"
        for p in passages:
            if len(out) >= size:
                break
            out.append([(names.get(t) or names.setdefault(t, t + suffix)) if t in rare else t for t in p])
        copy += 1
    return out


def questions(limit: int | None = None) -> list[str]:
    data = require_data()
    qs = [r["question"] for r in read_jsonl(data / "squad-v1.1-dev" / "qa.jsonl.gz")]
    return qs[:limit] if limit else qs


_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")


def real_articles() -> list[dict]:
    """The real articles of the three data sets as JSON records (id, title, text, date)."""
    data = require_data()
    out = []
    for r in read_jsonl(data / "reuters21578" / "articles.jsonl.gz"):
        if r["text"].strip():
            out.append({"id": r["id"], "title": r["title"] or "", "text": r["text"], "date": r["date"]})
    for r in read_jsonl(data / "squad-v1.1-dev" / "articles.jsonl.gz"):
        out.append({"id": r["id"], "title": r["title"], "text": r["text"], "date": None})
    for r in read_jsonl(data / "beir-scifact" / "corpus.jsonl.gz"):
        out.append({"id": f"scifact-{r['_id']}", "title": r["title"], "text": r["text"], "date": None})
    return out


def articles_jsonl(path: Path, passages: int) -> Path:
    """A JSON Lines file of about ``passages`` passages: the real articles, then renamed repeats.

    As ``grow`` does for terms: in every repeat after the first, each word found in fewer than ``RARE`` real
    articles gets the copy's number ("Tripoli" -> "Tripoli3"), so common words' postings grow with the corpus
    while new rare names keep coming, and no repeat is an exact duplicate. Written once and reused (``path``).
    """
    if path.exists():
        return path
    articles = real_articles()
    per_article = 5.67  # passages per article, measured on these articles (893,187 passages of 157,616)
    df = Counter(w for a in articles for w in set(_WORD.findall(a["text"])))
    rare = {w for w, n in df.items() if n < RARE}
    wanted = int(passages / per_article)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        for n in range(wanted):
            copy, article = divmod(n, len(articles))
            record = dict(articles[article])
            if copy:
                suffix = str(copy)

                def rename(match: re.Match[str], suffix: str = suffix) -> str:
                    word = match.group(0)
                    return word + suffix if word in rare else word

                record = {**record, "id": f"{record['id']}#{copy}", "text": _WORD.sub(rename, record["text"])}
                record["title"] = _WORD.sub(rename, record["title"])
            out.write(json.dumps(record) + "\n")
    tmp.replace(path)
    return path
