"""Validate the evaluation question sets in this folder and print how many there are of each sort.

Checks, each problem reported with its file and line:

- ``everyday.txt`` and ``smalltalk.txt``: UTF-8, one message per line, no blank lines, no spaces around a line,
  no repeated line, no line in both files, at least 120 and 80 lines.
- ``news.jsonl``: one JSON object per line with exactly the fields ``id`` (``n001``…), ``question``,
  ``article_id``, ``answers``, ``style`` and ``kind``; ids and questions unique; ``style`` and ``kind`` from the
  accepted values; at least 120 questions. Every answer is a non-empty, single-line exact substring of its
  article's text in Reuters-21578 (``../shared/data``), and also of the text newsbot indexes for that article
  (``index.ingest``, which tidies whitespace and keeps only the first of several identical texts, so the
  ``article_id`` must be the copy it keeps). No answer may appear in its own question.

A warning, not a failure: an answer that crosses a sentence boundary as newsbot splits that article (Punkt
trained on the whole collection, as ``index.build`` does), so only a quote of two or more sentences holds it.

Run ``python bench/questions/check.py`` (the project installed, the data in ``../shared/data``). It prints the
counts and exits 0, or lists every problem and exits 1; 2 means the data or the ``index`` package is missing.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

QUESTIONS_DIR = Path(__file__).resolve().parent
REPO_ROOT = QUESTIONS_DIR.parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
REUTERS = Path("reuters21578") / "articles.jsonl.gz"

MINIMUM_LINES = {"everyday.txt": 120, "smalltalk.txt": 80}
MINIMUM_NEWS = 120
FIELDS = ("id", "question", "article_id", "answers", "style", "kind")
STYLES = ("lexical", "paraphrase")
KINDS = ("number", "date", "name", "reason", "other")
NEWS_ID = re.compile(r"n\d{3,}")


@dataclass(frozen=True, slots=True)
class NewsQuestion:
    """One question about a specific Reuters story, as read from ``news.jsonl``."""

    line: int
    id: str
    question: str
    article_id: str
    answers: tuple[str, ...]
    style: str
    kind: str


@dataclass(frozen=True, slots=True)
class ReutersArticle:
    """The fields of a Reuters-21578 story that the checks and counts need."""

    text: str
    month: str


def _normalised(text: str) -> str:
    return " ".join(text.casefold().split())


def check_message_lines(path: Path, *, minimum: int) -> tuple[list[str], list[str]]:
    """Read a one-message-per-line file and check its format.

    Args:
        path: ``everyday.txt`` or ``smalltalk.txt``.
        minimum: the fewest lines the file must have.

    Returns:
        The lines (without their line ends) and the problems found, each naming the file and line.
    """
    name = path.name
    try:
        raw = path.read_bytes().decode("utf-8")
    except OSError as error:
        return [], [f"{name}: cannot be read ({error.strerror})"]
    except UnicodeDecodeError as error:
        return [], [f"{name}: not UTF-8 at byte {error.start}; save it as UTF-8"]
    problems = []
    if raw and not raw.endswith("\n"):
        problems.append(f"{name}: the last line has no line end")
    lines = raw.split("\n")[:-1] if raw.endswith("\n") else raw.split("\n")
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if "\r" in line:
            problems.append(f"{name}:{number}: carriage return; use Unix line ends")
        if not line.strip():
            problems.append(f"{name}:{number}: blank line; every line must hold one message")
            continue
        if line != line.strip():
            problems.append(f"{name}:{number}: spaces around {line!r}; remove them")
        if line in seen:
            problems.append(f"{name}:{number}: {line!r} repeats line {seen[line]}")
        seen.setdefault(line, number)
    if len(lines) < minimum:
        problems.append(f"{name}: {len(lines)} lines, at least {minimum} are needed")
    return lines, problems


def _news_record(number: int, record: object) -> tuple[NewsQuestion | None, list[str]]:
    where = f"news.jsonl:{number}"
    if not isinstance(record, dict):
        return None, [f"{where}: expected a JSON object, got {type(record).__name__}"]
    problems = []
    if tuple(record) != FIELDS:
        problems.append(f"{where}: fields {list(record)}; expected exactly {list(FIELDS)} in that order")
    for field in ("id", "question", "article_id", "style", "kind"):
        value = record.get(field)
        if not isinstance(value, str) or not value.strip() or value != value.strip():
            problems.append(f"{where}: {field} {value!r} must be a non-empty string without surrounding spaces")
    answers = record.get("answers")
    if not isinstance(answers, list) or not answers:
        problems.append(f"{where}: answers {answers!r} must be a non-empty list of strings")
        answers = []
    for answer in answers:
        if not isinstance(answer, str) or not answer.strip() or answer != answer.strip() or "\n" in answer:
            problems.append(f"{where}: answer {answer!r} must be a non-empty one-line string without outer spaces")
    if len(set(map(str, answers))) != len(answers):
        problems.append(f"{where}: answers {answers!r} repeat a string")
    if isinstance(record.get("id"), str) and not NEWS_ID.fullmatch(record["id"]):
        problems.append(f"{where}: id {record['id']!r} must look like n001")
    if record.get("style") not in STYLES:
        problems.append(f"{where}: style {record.get('style')!r} must be one of {', '.join(STYLES)}")
    if record.get("kind") not in KINDS:
        problems.append(f"{where}: kind {record.get('kind')!r} must be one of {', '.join(KINDS)}")
    if problems:
        return None, problems
    question = NewsQuestion(
        line=number,
        id=record["id"],
        question=record["question"],
        article_id=record["article_id"],
        answers=tuple(answers),
        style=record["style"],
        kind=record["kind"],
    )
    return question, []


def read_news(path: Path) -> tuple[list[NewsQuestion], list[str]]:
    """Read ``news.jsonl`` and check each record's format, and that ids and questions are unique.

    Args:
        path: the JSON Lines file of news questions.

    Returns:
        The well-formed questions and the problems found, each naming the line.
    """
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        return [], [f"news.jsonl: cannot be read ({error.strerror})"]
    except UnicodeDecodeError as error:
        return [], [f"news.jsonl: not UTF-8 at byte {error.start}; save it as UTF-8"]
    questions: list[NewsQuestion] = []
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            problems.append(f"news.jsonl:{number}: blank line; every line must hold one JSON object")
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"news.jsonl:{number}: not JSON ({error.msg} at column {error.colno})")
            continue
        question, record_problems = _news_record(number, record)
        problems += record_problems
        if question:
            questions.append(question)
    line_of_id: dict[str, int] = {}
    line_of_question: dict[str, int] = {}
    for question in questions:
        if question.id in line_of_id:
            problems.append(f"news.jsonl:{question.line}: id {question.id!r} repeats line {line_of_id[question.id]}")
        line_of_id.setdefault(question.id, question.line)
        wording = _normalised(question.question)
        if wording in line_of_question:
            problems.append(f"news.jsonl:{question.line}: the question repeats line {line_of_question[wording]}")
        line_of_question.setdefault(wording, question.line)
    if len(questions) < MINIMUM_NEWS:
        problems.append(f"news.jsonl: {len(questions)} valid questions, at least {MINIMUM_NEWS} are needed")
    return questions, problems


def read_reuters(path: Path) -> dict[str, ReutersArticle]:
    """Read the Reuters-21578 stories.

    Args:
        path: ``reuters21578/articles.jsonl.gz`` of the shared evaluation data.

    Returns:
        Each story's text and month (``1987-03``), by id.
    """
    articles = {}
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            articles[record["id"]] = ReutersArticle(text=record["text"], month=(record["date"] or "")[:7])
    return articles


def check_news_answers(
    questions: Iterable[NewsQuestion], *, articles: dict[str, ReutersArticle], indexed: dict[str, str]
) -> list[str]:
    """Check that each question's article exists and holds every one of its answers, verbatim.

    Args:
        questions: the well-formed news questions.
        articles: the Reuters stories by id, as in the shared data.
        indexed: the article texts newsbot indexes, by id (identical texts kept once).

    Returns:
        The problems found, each naming the line.
    """
    problems = []
    for question in questions:
        where = f"news.jsonl:{question.line}"
        article = articles.get(question.article_id)
        if article is None:
            problems.append(f"{where}: article_id {question.article_id!r} is not a Reuters-21578 story id")
            continue
        if question.article_id not in indexed:
            problems.append(
                f"{where}: newsbot drops {question.article_id!r} as a copy of an earlier story's text; "
                "use the id of the first copy"
            )
        for answer in question.answers:
            if answer not in article.text:
                problems.append(f"{where}: answer {answer!r} is not in the text of {question.article_id}")
            elif question.article_id in indexed and answer not in indexed[question.article_id]:
                problems.append(f"{where}: answer {answer!r} spans whitespace that newsbot's ingest changes")
            if answer.casefold() in question.question.casefold():
                problems.append(f"{where}: answer {answer!r} is written in the question itself")
    return problems


def _indexed_texts(reuters: Path) -> dict[str, str]:
    sys.path.insert(0, str(REPO_ROOT))
    from index.ingest import ingest

    articles, _ = ingest(reuters)
    return {article.id: article.text for article in articles}


def sentence_warnings(questions: Iterable[NewsQuestion], *, indexed: dict[str, str]) -> list[str]:
    """Find answers that no single sentence holds, as newsbot splits the articles into sentences.

    Args:
        questions: the news questions.
        indexed: the article texts newsbot indexes, by id, in the order it reads them.

    Returns:
        One warning per answer that crosses a sentence boundary (or is missing from the indexed text).
    """
    from index.passages import split_passages
    from index.sentences import SentenceSplitter

    splitter = SentenceSplitter(indexed.values())
    warnings = []
    for question in questions:
        text = indexed.get(question.article_id)
        if text is None:
            continue
        sentences, _ = split_passages(text, splitter)
        for answer in question.answers:
            start = text.find(answer)
            end = start + len(answer)
            if start < 0 or not any(first <= start and end <= last for first, last in sentences):
                warnings.append(
                    f"news.jsonl:{question.line}: answer {answer!r} crosses a sentence boundary as newsbot splits "
                    f"{question.article_id}; only a quote of several sentences can hold it"
                )
    return warnings


def _print_counts(
    lines: dict[str, list[str]], questions: list[NewsQuestion], articles: dict[str, ReutersArticle]
) -> None:
    for name, file_lines in lines.items():
        print(f"{name}: {len(file_lines)} messages")
    print(f"news.jsonl: {len(questions)} questions")
    styles = Counter(q.style for q in questions)
    kinds = Counter(q.kind for q in questions)
    months = Counter(articles[q.article_id].month for q in questions if q.article_id in articles)
    print("  by style: " + ", ".join(f"{style} {styles[style]}" for style in STYLES))
    print("  by kind:  " + ", ".join(f"{kind} {kinds[kind]}" for kind in KINDS))
    print("  by month: " + ", ".join(f"{month} {count}" for month, count in sorted(months.items())))
    both = Counter((q.style, q.kind) for q in questions)
    print("  style x kind: " + "; ".join(f"{s}: " + " ".join(f"{k} {both[s, k]}" for k in KINDS) for s in STYLES))
    texts = [article.text for article in articles.values()]
    elsewhere = sum(
        1
        for q in questions
        if q.article_id in articles and sum(any(answer in text for answer in q.answers) for text in texts) > 1
    )
    print(f"  questions whose answer is also in another story (copies, follow-ups): {elsewhere}")


def main(argv: list[str] | None = None) -> int:
    """Check the question sets and print their counts.

    Args:
        argv: command-line arguments (``--questions DIR``, ``--data DIR``); ``sys.argv`` when None.

    Returns:
        0 when every check passes, 1 when any fails, 2 when the data or the ``index`` package is missing.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=QUESTIONS_DIR, help="folder with the question files")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared evaluation data folder")
    options = parser.parse_args(argv)
    reuters = options.data / REUTERS
    if not reuters.is_file():
        print(f"the Reuters-21578 stories are not at {reuters}; pass --data with the shared data folder")
        return 2
    try:
        indexed = _indexed_texts(reuters)
    except ImportError as error:
        print(f"cannot import newsbot's index package ({error}); install the project: pip install -e .")
        return 2

    problems: list[str] = []
    lines: dict[str, list[str]] = {}
    for name, minimum in MINIMUM_LINES.items():
        lines[name], file_problems = check_message_lines(options.questions / name, minimum=minimum)
        problems += file_problems
    everyday, smalltalk = (set(lines[name]) for name in MINIMUM_LINES)
    problems += [f"{line!r} is in both everyday.txt and smalltalk.txt" for line in sorted(everyday & smalltalk)]
    questions, news_problems = read_news(options.questions / "news.jsonl")
    problems += news_problems
    articles = read_reuters(reuters)
    problems += check_news_answers(questions, articles=articles, indexed=indexed)

    _print_counts(lines, questions, articles)
    warnings = sentence_warnings(questions, indexed=indexed)
    if warnings:
        print(f"\n{len(warnings)} warning(s):")
        for warning in warnings:
            print(f"  {warning}")
    if problems:
        print(f"\n{len(problems)} problem(s):")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
