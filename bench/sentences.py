"""Sentence splitting: today's splitter (index.analysis) against index.sentences, and nltk 3.10 against 3.9.2.

Sections, all run by default (``--sections`` picks some):

- ``calls``: what one of Punkt's regex calls costs through ``nltk.redos`` (nltk 3.10), through the ``regex``
  engine with and without its timeout, and through ``re``; and what reading the process CPU clock costs.
- ``stages``: ``index.build``'s stages on Reuters (reading, Punkt training, splitting, analysis, postings,
  saving), timed the way ``index.core.build`` runs them, with each splitter.
- ``corpora``: training and splitting time on Reuters, SQuAD and SciFact (each corpus trains its own
  splitter, as its own index would), min and median over ``--runs``; and the number of articles whose spans
  differ between index.sentences and nltk's own tokenizer with the same parameters, and between
  index.sentences and today's splitter.
- ``nltk``: today's splitting (nltk's own Punkt, trained as index.analysis trains it) under the installed nltk
  and under another interpreter (``--other-python``, e.g. a venv with nltk 3.9.2), same inputs, same
  timing; articles whose spans differ, with the sentences that differ.
- ``redos``: index.sentences and its two scanning patterns on adversarial paragraphs of 40,000 and 640,000
  characters made of Punkt's metacharacters; time should grow linearly with the length, not quadratically.

Run ``python bench/sentences.py --runs 3 --other-python /path/to/nltk-3.9.2-venv/bin/python`` (needs
../shared/data; about ten minutes). The worker that runs under the other interpreter is this file
(``--worker``); it needs only nltk there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
CORPORA = {
    "Reuters": "reuters21578/articles.jsonl.gz",
    "SQuAD": "squad-v1.1-dev/articles.jsonl.gz",
    "SciFact": "beir-scifact/corpus.jsonl.gz",
}
SECTIONS = ("calls", "stages", "corpora", "nltk", "redos")


def timed(function: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    """Wall-clock seconds of ``runs`` calls, and the last call's result."""
    seconds, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def summary(seconds: list[float]) -> str:
    return f"{min(seconds):.2f} / {statistics.median(seconds):.2f}"


# ---------------------------------------------------------------------------------------------------------------
# The worker: today's splitting with whatever nltk this interpreter has. Imports nothing but nltk and stdlib.


def worker(source: str, target: str) -> None:
    import nltk
    from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTrainer

    job = json.loads(Path(source).read_text(encoding="utf-8"))
    out: dict[str, Any] = {"nltk": nltk.__version__, "corpora": {}}
    for name, corpus in job["corpora"].items():

        def train(corpus: dict[str, Any] = corpus) -> PunktSentenceTokenizer:
            trainer = PunktTrainer()
            trainer.train(corpus["training_text"], finalize=False)
            trainer.finalize_training()
            params = trainer.get_params()
            params.abbrev_types |= set(job["abbreviations"])
            return PunktSentenceTokenizer(params)

        train_seconds, tokenizer = timed(train, job["runs"])

        def split(corpus: dict[str, Any] = corpus, tokenizer: PunktSentenceTokenizer = tokenizer) -> list[Any]:
            return [
                [
                    (start + a, start + b)
                    for start, end in paragraphs
                    for a, b in tokenizer.span_tokenize(text[start:end])
                ]
                for text, paragraphs in zip(corpus["texts"], corpus["paragraphs"], strict=True)
            ]

        split_seconds, spans = timed(split, job["runs"])
        out["corpora"][name] = {"train": train_seconds, "split": split_seconds, "spans": spans}
    Path(target).write_text(json.dumps(out), encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------
# The sections, run in the project's environment.


def load_corpora() -> dict[str, list[Any]]:
    """Articles of each corpus, ingested as ``index.build`` ingests them."""
    from index.ingest import ingest

    if not DATA.is_dir():
        sys.exit(f"benchmarks need the evaluation data at {DATA}")
    return {name: ingest(DATA / path)[0] for name, path in CORPORA.items()}


def section_calls() -> None:
    import re

    import regex
    from nltk import redos
    from nltk.tokenize.punkt import PunktLanguageVars

    language = PunktLanguageVars()
    paragraph = (
        "Shares of Acme Corp. rose 3.5 pct to 12.50 dlrs on Monday, the company said. "
        "Mr. Smith, the chairman, said the U.S. unit would be sold. It expects a profit in 1987."
    )
    cases = [
        ("token type: numeric sub", r"^-?[\.,]?\d[\d,\.-]*\.?$", 0, "sub", ("##number##", "company")),
        ("token: ellipsis match", r"\.\.+$", 0, "match", ("said.",)),
        ("line: word findall (33 tokens)", language._word_tokenizer_re().pattern, re.VERBOSE, "findall", (paragraph,)),
        ("paragraph: candidates finditer", language.period_context_re().pattern, re.VERBOSE, "finditer", (paragraph,)),
        ("sentence: realign match", language.re_boundary_realignment.pattern, re.MULTILINE, "match", ("It ends.",)),
    ]
    print("## One regex call: re, regex, regex with timeout=5.0, nltk.redos (ns per call, best of 5)\n")
    print("| call | re | regex | regex, timeout | nltk.redos |")
    print("|---|---:|---:|---:|---:|")
    number = 20_000
    for name, source, flags, method, args in cases:
        patterns: list[tuple[Any, dict[str, Any]]] = [
            (re.compile(source, flags), {}),
            (regex.compile(source, flags), {}),
            (regex.compile(source, flags), {"timeout": 5.0}),
            (redos.compile(source, flags), {}),
        ]
        row = []
        for pattern, options in patterns:
            call = getattr(pattern, method)
            if method == "finditer":

                def run(call: Any = call, options: dict[str, Any] = options, args: tuple[str, ...] = args) -> Any:
                    return list(call(*args, **options))
            else:

                def run(call: Any = call, options: dict[str, Any] = options, args: tuple[str, ...] = args) -> Any:
                    return call(*args, **options)

            row.append(min(timeit.repeat(run, number=number, repeat=5)) / number * 1e9)
        print(f"| {name} | " + " | ".join(f"{ns:,.0f}" for ns in row) + " |")
    print("\n| clock | ns per read |\n|---|---:|")
    for clock in (time.perf_counter, time.monotonic, time.process_time):
        print(f"| {clock.__name__} | {min(timeit.repeat(clock, number=100_000, repeat=5)) / 100_000 * 1e9:,.0f} |")
    print(
        "\nregex reads clock() (CLOCK_PROCESS_CPUTIME_ID, like time.process_time) at the start of every match "
        "attempt when a timeout is set.\n"
    )


def _clear_caches() -> None:
    """Empty the analyzer's and the splitter's caches, so every run starts cold as a new process would."""
    from index import analysis, sentences

    analysis._MATCH_TERMS.clear()
    analysis._term.cache_clear()
    sentences._TYPES.clear()



class Old:
    """The splitter newsbot used before index.sentences: nltk's own Punkt trainer and tokenizer (for comparison)."""

    def __init__(self, sample=()) -> None:
        from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTrainer

        from index.wordlists import NEWS_ABBREVIATIONS

        chunks, size = [], 0
        for text in sample:
            if size >= 1_000_000:
                break
            chunks.append(text)
            size += len(text)
        trainer = PunktTrainer()
        trainer.train("\n\n".join(chunks)[:1_000_000], finalize=False)
        trainer.finalize_training()
        params = trainer.get_params()
        params.abbrev_types |= NEWS_ABBREVIATIONS
        self._tokenizer = PunktSentenceTokenizer(params)

    def spans(self, text, start=0, end=None):
        end = len(text) if end is None else end
        return [(start + a, start + b) for a, b in self._tokenizer.span_tokenize(text[start:end])]

def section_stages(runs: int) -> None:
    from postings import build_postings  # bench/postings.py: scripts here run with bench/ on sys.path

    from index.analysis import analyze
    from index.core import DEFAULT_SETTINGS
    from index.core import build as build_index
    from index.ingest import ingest
    from index.passages import split_passages
    from index.sentences import SentenceSplitter as New

    path = DATA / CORPORA["Reuters"]
    print(f"## index.build's stages on Reuters, seconds (min / median of {runs})\n")
    print("| stage | nltk Punkt (the old splitter) | index.sentences.SentenceSplitter |")
    print("|---|---:|---:|")
    results: dict[str, dict[str, list[float]]] = {}
    for label, splitter_class in (("old", Old), ("new", New)):
        times: dict[str, list[float]] = {}
        for _ in range(runs):
            _clear_caches()
            clock = time.perf_counter()

            def lap(stage: str, times: dict[str, list[float]] = times) -> None:
                nonlocal clock
                now = time.perf_counter()
                times.setdefault(stage, []).append(now - clock)
                clock = now

            articles, _ = ingest(path)
            lap("reading")
            splitter = splitter_class(a.text for a in articles)
            lap("Punkt training")
            split = [split_passages(a.text, splitter) for a in articles]  # type: ignore[arg-type]
            lap("sentence splitting")
            tokens: list[list[str]] = []
            for article, (_, passages) in zip(articles, split, strict=True):
                title = analyze(article.title)
                tokens.extend(analyze(article.text[start:end]) + title for start, end, _ in passages)
            lap("analysis")
            postings = build_postings(tokens, DEFAULT_SETTINGS)
            lap("BM25 postings")
            del postings
        with tempfile.TemporaryDirectory() as folder:
            index = build_index(path)
            started = time.perf_counter()
            index.save(folder)
            times["saving"] = [time.perf_counter() - started]
        results[label] = times
    for stage in results["old"]:
        print(f"| {stage} | {summary(results['old'][stage])} | {summary(results['new'][stage])} |")
    totals = {label: sum(min(v) for v in times.values()) for label, times in results.items()}
    print(f"| sum of the minima | {totals['old']:.2f} | {totals['new']:.2f} |\n")


def _paragraph_spans_of(texts: list[str]) -> list[list[tuple[int, int]]]:
    from index.passages import paragraph_spans

    return [paragraph_spans(text) for text in texts]


def section_corpora(corpora: dict[str, list[Any]], runs: int) -> None:
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    from index.sentences import SentenceSplitter as New

    print(f"## Training and splitting, seconds (min / median of {runs}); articles whose spans differ\n")
    print(
        "| corpus | articles | paragraphs | train old | train new | split old | split new "
        "| params equal | differ from nltk's own tokenizer | differ from old |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    totals = {"train old": 0.0, "train new": 0.0, "split old": 0.0, "split new": 0.0}
    differ_all = [0, 0]
    for name, articles in corpora.items():
        texts = [a.text for a in articles]
        paragraphs = _paragraph_spans_of(texts)
        old_train, old = timed(lambda texts=texts: Old(texts), runs)
        _clear_caches()
        new_train, new = timed(lambda texts=texts: New(texts), runs)
        parameters = new.parameters()

        def split_with(splitter: Any, texts: list[str] = texts, paragraphs: list[Any] = paragraphs) -> list[Any]:
            return [
                [span for start, end in spans for span in splitter.spans(text, start, end)]
                for text, spans in zip(texts, paragraphs, strict=True)
            ]

        old_split, old_spans = timed(lambda old=old: split_with(old), runs)
        new_split: list[float] = []
        for _ in range(runs):
            _clear_caches()
            fresh = New.from_parameters(parameters)  # cold caches, as a new build has
            seconds, new_spans = timed(lambda fresh=fresh: split_with(fresh), 1)
            new_split += seconds
        reference = PunktSentenceTokenizer(new.punkt_parameters())
        nltk_spans = [
            [(start + a, start + b) for start, end in spans for a, b in reference.span_tokenize(text[start:end])]
            for text, spans in zip(texts, paragraphs, strict=True)
        ]
        old_params = old._tokenizer._params
        equal = (
            old_params.abbrev_types == set(parameters["abbrev_types"])
            and old_params.collocations == {tuple(pair) for pair in parameters["collocations"]}
            and old_params.sent_starters == set(parameters["sent_starters"])
            and {k: v for k, v in old_params.ortho_context.items() if v} == parameters["ortho_context"]
        )
        differ_nltk = sum(ours != theirs for ours, theirs in zip(new_spans, nltk_spans, strict=True))
        differ_old = sum(ours != theirs for ours, theirs in zip(new_spans, old_spans, strict=True))
        differ_all[0] += differ_nltk
        differ_all[1] += differ_old
        for key, seconds in (
            ("train old", old_train),
            ("train new", new_train),
            ("split old", old_split),
            ("split new", new_split),
        ):
            totals[key] += min(seconds)
        print(
            f"| {name} | {len(texts):,} | {sum(map(len, paragraphs)):,} | {summary(old_train)} | {summary(new_train)} "
            f"| {summary(old_split)} | {summary(new_split)} | {'yes' if equal else 'NO'} "
            f"| {differ_nltk} | {differ_old} |"
        )
    print(
        f"| all (sum of minima) | | | {totals['train old']:.2f} | {totals['train new']:.2f} "
        f"| {totals['split old']:.2f} | {totals['split new']:.2f} | | {differ_all[0]} | {differ_all[1]} |\n"
    )


def _run_worker(python: str, job: Path, folder: str) -> dict[str, Any]:
    target = Path(folder) / f"out-{abs(hash(python))}.json"
    subprocess.run([python, __file__, "--worker", str(job), str(target)], check=True)
    return json.loads(target.read_text(encoding="utf-8"))


def section_nltk(corpora: dict[str, list[Any]], runs: int, other_python: str | None) -> None:
    from index.analysis import _ABBREVIATIONS
    from index.sentences import SentenceSplitter, _training_text

    print(f"## Today's splitting under two nltk versions, seconds (min / median of {runs})\n")
    if not other_python:
        print("(skipped: pass --other-python with an interpreter that has another nltk, e.g. 3.9.2)\n")
        return
    with tempfile.TemporaryDirectory() as folder:
        job = Path(folder) / "job.json"
        texts = {name: [a.text for a in articles] for name, articles in corpora.items()}
        job.write_text(
            json.dumps(
                {
                    "runs": runs,
                    "abbreviations": sorted(_ABBREVIATIONS),
                    "corpora": {
                        name: {
                            "texts": corpus,
                            "paragraphs": _paragraph_spans_of(corpus),
                            "training_text": _training_text(corpus),
                        }
                        for name, corpus in texts.items()
                    },
                }
            ),
            encoding="utf-8",
        )
        installed = _run_worker(sys.executable, job, folder)
        other = _run_worker(other_python, job, folder)
    ours = {name: [[tuple(span) for span in spans] for spans in installed["corpora"][name]["spans"]] for name in texts}
    for name, corpus in texts.items():  # index.sentences agrees with the installed nltk article for article
        splitter = SentenceSplitter(corpus)
        mine = [
            [span for start, end in spans for span in splitter.spans(text, start, end)]
            for text, spans in zip(corpus, _paragraph_spans_of(corpus), strict=True)
        ]
        ours[name] = [a if a == b else None for a, b in zip(ours[name], mine, strict=True)]
    print(
        f"| corpus | train nltk {installed['nltk']} | train nltk {other['nltk']} | split nltk {installed['nltk']} ",
        end="",
    )
    print(f"| split nltk {other['nltk']} | articles that differ | index.sentences differs from {installed['nltk']} |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    examples = []
    for name in texts:
        mine, theirs = installed["corpora"][name], other["corpora"][name]
        differ = [number for number, (a, b) in enumerate(zip(mine["spans"], theirs["spans"], strict=True)) if a != b]
        print(
            f"| {name} | {summary(mine['train'])} | {summary(theirs['train'])} | {summary(mine['split'])} "
            f"| {summary(theirs['split'])} | {len(differ)} of {len(texts[name]):,} "
            f"| {sum(spans is None for spans in ours[name])} |"
        )
        for number in differ:
            text = texts[name][number]
            a = {tuple(span) for span in mine["spans"][number]}
            b = {tuple(span) for span in theirs["spans"][number]}
            examples.append(
                (
                    f"{name} {corpora[name][number].id}",
                    [text[s:e] for s, e in sorted(a - b)],
                    [text[s:e] for s, e in sorted(b - a)],
                )
            )
    print(f"\nSentences that differ (nltk {installed['nltk']} / nltk {other['nltk']}), ` | ` between sentences:\n")
    for where, mine_only, theirs_only in examples:
        print(
            f"- {where}\n  - {installed['nltk']}: {' | '.join(mine_only)}"
            f"\n  - {other['nltk']}: {' | '.join(theirs_only)}"
        )
    print()


def section_redos() -> None:
    import random

    from index.sentences import _PERIOD_CONTEXT, _WORD, SentenceSplitter

    splitter = SentenceSplitter()
    rng = random.Random(7)
    meta = list(".?!,;:-'\"()[]{}“”‘’«»*@&#` \t\na1A")
    makers: dict[str, Callable[[int], str]] = {
        "dots": lambda n: "." * n,
        "spaced dots": lambda n: ". " * (n // 2),
        "hyphens": lambda n: "-" * n,
        "one word": lambda n: "a" * n,
        "a.a.a.": lambda n: "a." * (n // 2),
        "quotes then x": lambda n: "'" * (n - 1) + "x",
        "closing quotes": lambda n: "”" * n,
        "bangs": lambda n: "!" * n,
        "Mr. Mr. Mr.": lambda n: "Mr. " * (n // 4),
        "a, a, a,": lambda n: "a, " * (n // 3),
        "random metacharacters": lambda n: "".join(rng.choice(meta) for _ in range(n)),
    }
    small, large = 40_000, 640_000
    print(
        f"## Adversarial paragraphs: seconds at {small:,} and {large:,} characters (best of 3), and the growth "
        f"exponent log(t_large / t_small) / log({large // small}): 1 is linear, 2 quadratic\n"
    )
    print("| input | spans() | exponent | word findall | exponent | candidates finditer | exponent |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, make in makers.items():
        cells = []
        for function in (
            lambda text: SentenceSplitter.from_parameters(splitter.parameters()).spans(text),
            _WORD.findall,
            lambda text: sum(1 for _ in _PERIOD_CONTEXT.finditer(text)),
        ):
            first, last = (
                min(timed(lambda text=text, function=function: function(text), 3)[0])
                for text in (make(small), make(large))
            )
            growth = math.log(last / first) / math.log(large / small) if first > 0 and last > 0 else float("nan")
            cells.append(f"{first:.4f} / {last:.4f} | {growth:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (min and median are shown)")
    parser.add_argument("--sections", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--other-python", help="an interpreter with another nltk version, for the nltk section")
    parser.add_argument("--worker", nargs=2, metavar=("JOB", "OUT"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker(*options.worker)
        return
    sys.path.insert(0, str(ROOT))
    import nltk

    print(f"Python {sys.version.split()[0]}, nltk {nltk.__version__}, {os.cpu_count()} cores; wall-clock seconds.\n")
    corpora = load_corpora() if {"corpora", "nltk"} & set(options.sections) else {}
    for section in options.sections:
        if section == "calls":
            section_calls()
        elif section == "stages":
            section_stages(options.runs)
        elif section == "corpora":
            section_corpora(corpora, options.runs)
        elif section == "nltk":
            section_nltk(corpora, options.runs, options.other_python)
        elif section == "redos":
            section_redos()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
