"""The growth benchmark: what ``newsbot index`` and the running bot cost at 10k, 100k, 1M and 3M passages.

Run ``nice -n 10 python bench/retrieval.py`` (needs ../shared/data, ``pip install -e '.[bench]'``, and for the
"before issue 10" rows a second worktree at commit 088c363 with its own venv, see ``--baseline``); about 90
minutes on 2 cores. ``--quick`` measures 10k and 100k once with 200 questions (a few minutes).

Every measurement of every size runs in its own fresh subprocess (so a peak is that measurement's alone), under
``nice`` (the parent renices itself to 10 and the children inherit it). The parent samples the child's whole
process tree from /proc every 50 ms (the child and every descendant: the forkserver and its analysis workers)
and the child reports its own ``ru_maxrss``.

Corpora are JSON Lines files made by ``bench/corpus.articles_jsonl`` in a cache folder under /tmp (never in the
repository), one folder per size holding one ``articles.jsonl``; the number of articles is chosen from the
measured passage count of every real article, so "1M" means about 1,000,000 passages (the counts printed are
the ones the index holds). Queries: the first SQuAD dev questions whose analysis is not empty, the same for every
engine and size.

For each size (``--runs`` times; sizes in ``--once`` only in the first run):

- ours (this worktree): ``index.update(dir, folder, full=True)`` (build s, peak RSS of main process, workers and
  the tree, disk); ``index.load`` in three fresh processes (s, VmRSS split into anonymous and file-backed pages);
  in a fresh process: lexical ``index.answer`` p50/p95 (VmRSS after 200 answers) and ``idx.top(terms, 10)``
  p50/p95. At ``--semantic-sizes``: answers with the judge (``index.semantic.load_judge()``) on 200 questions,
  and answers per second over 400 questions in 1 thread, 2 threads and 2 forkserver processes, lexical and
  semantic. At ``--change-sizes``: adding one article (a new one-article .jsonl, ``index.update``, until a query
  finds it) and deleting it (file removed, ``index.update``), 5 each, then ``newsbot index`` twice unchanged.
- anchors on the same passages: tantivy indexing the passage texts (title + passage) with its own default
  tokenizer, tantivy on our tokens (whitespace tokenizer), bm25s on our tokens (numba backend when installed),
  rank_bm25 at 10k and 100k.
- baseline (commit 088c363, run with its own Python by bench/growth_baseline.py) at ``--baseline-sizes``.

Results are printed as Markdown and written with the raw JSON to ``--output`` (bench/results/growth.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import growth_measure as gm  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000, 3_000_000)
RANK_BM25_QUERIES = {10_000: 200, 100_000: 30}
BM25S_QUERIES = {3_000_000: 500}
SEMANTIC_QUESTIONS = 200
THROUGHPUT_QUESTIONS = 400
CHANGES = 5
SAMPLE_SECONDS = 0.05
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "newsbot-growth"
DEFAULT_BASELINE = ROOT.parent / "baseline"

# --------------------------------------------------------------------------------------------------- corpora


def corpus_folder(cache: Path, size: int) -> Path:
    """The folder holding ``articles.jsonl`` of about ``size`` passages (made once, then reused)."""
    import corpus
    import numpy as np

    folder = cache / f"corpus-{size}"
    target = folder / "articles.jsonl"
    if target.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    counts_file = cache / "real_counts.npy"
    if not counts_file.exists():
        from collections import Counter

        from index.passages import split_passages
        from index.sentences import SentenceSplitter

        texts = [a["text"] for a in corpus.real_articles()]
        splitter = SentenceSplitter(texts)
        counts = np.array([len(split_passages(t, splitter)[1]) for t in texts])
        # The index drops exact duplicate texts: a real article seen before counts once, and a renamed copy
        # counts only when it has a word found in fewer than RARE articles (else it is the original's text).
        first = np.zeros(len(texts), dtype=bool)
        seen: set[str] = set()
        for i, text in enumerate(texts):
            first[i] = text not in seen
            seen.add(text)
        df = Counter(w for t in texts for w in set(corpus._WORD.findall(t)))
        renamed = np.array([any(df[w] < corpus.RARE for w in corpus._WORD.findall(t)) for t in texts])
        np.save(counts_file, np.stack([counts * first, counts * (first & renamed)]))
    real, copies = np.load(counts_file)
    # Articles are the real ones in order, then renamed copies of them in order, again and again.
    if size <= real.sum():
        articles = int(np.searchsorted(np.cumsum(real), size)) + 1
    else:
        cycles, rest = divmod(size - int(real.sum()), int(copies.sum()))
        articles = (cycles + 1) * len(real) + int(np.searchsorted(np.cumsum(copies), rest)) + 1
    corpus.articles_jsonl(target, int((articles + 0.5) * 5.67))  # articles_jsonl asks passages / 5.67 articles
    return folder


def questions_file(cache: Path, n: int) -> Path:
    """The first ``n`` SQuAD dev questions whose analysis is not empty, as a JSON list (made once)."""
    path = cache / f"questions-{n}.json"
    if not path.exists():
        import corpus

        from index.analysis import analyze

        kept = [q for q in corpus.questions() if analyze(q)][:n]
        path.write_text(json.dumps(kept), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ children: ours


def child_build(size: int, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    import index

    folder = corpus_folder(cache, size)
    target = cache / f"ours-{size}"
    shutil.rmtree(target, ignore_errors=True)
    started = time.perf_counter()
    idx = index.update(target, str(folder), full=True)
    seconds = time.perf_counter() - started
    return {
        "build_s": seconds,
        "passages": len(idx),
        "articles": idx.article_count,
        "segments": len(idx.searcher.segments),
        "main_peak_mb": gm.peak_self_mb(),
        "disk_mb": gm.folder_mb(target),
        "corpus_mb": (folder / "articles.jsonl").stat().st_size / gm.MB,
    }


def child_load(size: int, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    import index

    started = time.perf_counter()
    idx = index.load(cache / f"ours-{size}")
    seconds = time.perf_counter() - started
    return {"load_s": seconds, "passages": len(idx), "after_load": gm.status_mb()}


def _questions(cache: Path, n: int) -> list[str]:
    return json.loads(questions_file(cache, n).read_text(encoding="utf-8"))


def child_query(size: int, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    import index

    questions = _questions(cache, args.queries)
    return gm.query_timings(index, index.load(cache / f"ours-{size}"), questions)


def child_semantic(size: int, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    import index
    import index.semantic

    questions = _questions(cache, args.queries)[: args.semantic_questions]
    idx = index.load(cache / f"ours-{size}")
    judge = index.semantic.load_judge()
    index.answer(idx, "warm up the model", judge=judge)
    judge._cache.clear()
    times = gm.timed(lambda q: index.answer(idx, q, judge=judge), questions)
    p50, p95 = gm.percentiles(times)
    return {
        "semantic_p50": p50,
        "semantic_p95": p95,
        "questions": len(questions),
        "intra_op_threads": judge.embedder.intra_op_threads,
        "after_answers": gm.status_mb(),
    }


_WORKER: dict[str, Any] = {}


def _start_worker(directory: str, semantic: bool) -> None:
    import index
    import index.semantic

    _WORKER["idx"] = index.load(directory)
    _WORKER["judge"] = index.semantic.load_judge() if semantic else None


def _answer_in_worker(question: str) -> int:
    import index

    return len(index.answer(_WORKER["idx"], question, judge=_WORKER["judge"]).quotes)


def _rate(run: Callable[[list[str]], None], questions: list[str]) -> dict[str, float]:
    cpu = os.times()
    started = time.perf_counter()
    run(questions)
    seconds = time.perf_counter() - started
    after = os.times()
    used = (after.user - cpu.user) + (after.system - cpu.system)
    return {"per_s": len(questions) / seconds, "seconds": seconds, "main_cpu_s": used}


def child_throughput(size: int, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Answers per second over the same questions: 1 thread, 2 threads, 2 processes; lexical and semantic."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    import index
    import index.semantic

    directory = str(cache / f"ours-{size}")
    every = _questions(cache, args.queries)
    questions = every[: args.throughput_questions]
    warm = every[-20:]
    idx = index.load(directory)
    for q in warm:
        index.answer(idx, q)
    result: dict[str, Any] = {"questions": len(questions)}
    for path in ("lexical", "semantic"):
        semantic = path == "semantic"
        judges = {1: index.semantic.load_judge()} if semantic else {}

        def one(q: str, threads: int = 1, judges: dict = judges) -> None:
            index.answer(idx, q, judge=judges.get(threads))

        def serial(qs: list[str], threads: int = 1, one: Callable = one) -> None:
            for q in qs:
                one(q, threads)

        def pooled(qs: list[str], one: Callable = one) -> None:
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(one, qs))

        configs: list[tuple[str, Callable[[list[str]], None], int]] = [
            ("1 thread", serial, 1),
            ("2 threads", pooled, 1),
        ]
        if semantic:
            judges[2] = index.semantic.load_judge(intra_op_threads=2)
            configs.append(("1 thread, 2 onnxruntime threads", lambda qs, one=one: serial(qs, 2, one), 2))
        for label, run, intra in configs:
            for judge in judges.values():
                judge._cache.clear()
            for q in warm[:4]:
                one(q, intra)
            for judge in judges.values():
                judge._cache.clear()
            result[f"{path}: {label}"] = {**_rate(run, questions), "intra_op_threads": intra if semantic else 0}
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(
            max_workers=2, mp_context=context, initializer=_start_worker, initargs=(directory, semantic)
        ) as pool:
            list(pool.map(_answer_in_worker, warm[:4]))  # both workers started, index and model loaded

            def processes(qs: list[str], pool: ProcessPoolExecutor = pool) -> None:
                list(pool.map(_answer_in_worker, qs))

            result[f"{path}: 2 processes"] = {**_rate(processes, questions), "intra_op_threads": 1 if semantic else 0}
            result[f"{path}: 2 processes"]["descendants_rss"] = [
                gm.status_mb(p) for p in gm.descendants_of(os.getpid())
            ]
    result["main_rss"] = gm.status_mb()
    return result


def child_changes(size: int, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Add one article and delete it again, ``CHANGES`` times; then ``newsbot index`` twice unchanged."""
    import index

    folder = corpus_folder(cache, size)
    target = cache / f"ours-{size}"
    adds, deletes, found = [], [], []
    for i in range(CHANGES):
        file = folder / f"growth-new-{i}.jsonl"
        file.write_text(json.dumps(gm.new_article(i + 1)) + "\n", encoding="utf-8")
        started = time.perf_counter()
        idx = index.update(target, str(folder))
        hits = idx.top(index.analyze(gm.new_word(i + 1)), 10)
        adds.append(time.perf_counter() - started)
        found.append(len(hits.docs) > 0 and idx.article_of(int(hits.docs[0])).id == f"growth-new-{i + 1}")
        file.unlink()
        started = time.perf_counter()
        idx = index.update(target, str(folder))
        hits = idx.top(index.analyze(gm.new_word(i + 1)), 10)
        deletes.append(time.perf_counter() - started)
        found.append(len(hits.docs) == 0)
    newsbot = Path(sys.executable).with_name("newsbot")
    runs = []
    for _ in range(2):
        started = time.perf_counter()
        out = subprocess.run(
            [str(newsbot), "index", "--articles", str(folder), "--index", str(target)],
            capture_output=True,
            text=True,
            check=True,
            cwd=cache,
        )
        runs.append({"wall_s": time.perf_counter() - started, "says": out.stdout.strip().splitlines()[:2]})
    return {"add_s": adds, "delete_s": deletes, "all_correct": all(found), "newsbot_index": runs}


# ------------------------------------------------------------------------------------- children: anchors


def child_prep(size: int, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Our passages as texts (title + passage) and as our terms, one line each, from our fresh full build."""
    import numpy as np

    import index

    out = cache / f"prep-{size}"
    if (out / "tokens.txt").exists():
        return {"cached": True}
    out.mkdir(parents=True, exist_ok=True)
    idx = index.load(cache / f"ours-{size}")
    searcher = idx.searcher
    if len(searcher.live_numbers()) != searcher.n_numbers:
        raise SystemExit("prep needs a fresh full build (no deleted passages)")
    tokens_file, texts_file = out / "tokens.tmp", out / "texts.tmp"
    with open(tokens_file, "w", encoding="utf-8") as tokens, open(texts_file, "w", encoding="utf-8") as texts:
        for segment in searcher._segments:  # the raw postings hold every passage's terms with their counts
            vocabulary = np.array(segment.vocabulary, dtype=object)
            terms = np.repeat(np.arange(len(vocabulary)), np.diff(segment.offsets))
            order = np.argsort(segment.docs, kind="stable")
            docs = np.repeat(segment.docs[order], segment.tf[order])
            words = vocabulary[np.repeat(terms[order], segment.tf[order])]
            bounds = np.searchsorted(docs, np.arange(segment.info.documents + 1))
            for local in range(segment.info.documents):
                tokens.write(" ".join(words[bounds[local] : bounds[local + 1]]) + "\n")
                number, start, end = (int(x) for x in segment.rows[local][:3])
                article = idx.store.article(number)
                texts.write(json.dumps(f"{article.title}\n{article.text[start:end]}") + "\n")
    (out / "tokens.tmp").replace(out / "tokens.txt")
    (out / "texts.tmp").replace(out / "texts.jsonl")
    return {"cached": False, "passages": searcher.n_numbers}


def _tokens(cache: Path, size: int) -> list[list[str]]:
    with open(cache / f"prep-{size}" / "tokens.txt", encoding="utf-8") as handle:
        return [line.split() for line in handle]


def _query_terms(cache: Path, args: argparse.Namespace) -> list[list[str]]:
    from index.analysis import analyze

    return [analyze(q) for q in _questions(cache, args.queries)]


_TANTIVY_TOKEN = re.compile(r"[^\W_]+")


def tantivy_terms(question: str) -> list[str]:
    """The question's terms as tantivy's default tokenizer makes them (split on non-alphanumerics, lower case,
    tokens of 40 bytes or more dropped)."""
    return [t.lower() for t in _TANTIVY_TOKEN.findall(question) if len(t.encode("utf-8")) < 40]


def child_tantivy(size: int, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    """tantivy on the passage texts with its default tokenizer (no stemming, no stopwords), frequencies only."""
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=False, tokenizer_name="default", index_option="freq")
    schema = builder.build()
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        started = time.perf_counter()
        idx = tantivy.Index(schema, path=tmp)
        writer = idx.writer(heap_size=512_000_000, num_threads=2)
        with open(cache / f"prep-{size}" / "texts.jsonl", encoding="utf-8") as handle:
            for line in handle:
                writer.add_document(tantivy.Document(body=json.loads(line)))
        writer.commit()
        writer.wait_merging_threads()
        result: dict[str, Any] = {"build_s": time.perf_counter() - started, "disk_mb": gm.folder_mb(Path(tmp))}
        result["main_peak_mb"] = gm.peak_self_mb()
        loads = []
        for _ in range(3):
            started = time.perf_counter()
            searcher = tantivy.Index.open(tmp).searcher()
            loads.append(time.perf_counter() - started)
        result["load_s"] = loads
        result["tantivy_segments"] = searcher.num_segments
        queries = [
            tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", t)) for t in tantivy_terms(q)]
            )
            for q in _questions(cache, args.queries)
        ]
        searcher.search(queries[0], 10)
        result["search_p50"], result["search_p95"] = gm.percentiles(
            gm.timed(lambda q: searcher.search(q, 10).hits, queries)
        )
        result["after_queries"] = gm.status_mb()
    return result


def child_tantivy_tokens(size: int, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    """tantivy on our terms (bench/segments.py's runner: whitespace tokenizer, frequencies only)."""
    import segments as segments_bench

    passages = _tokens(cache, size)
    queries = _query_terms(cache, args)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        found = segments_bench.run_tantivy(size, passages, queries, Path(tmp))
        found["disk_mb"] = gm.folder_mb(Path(tmp) / "tantivy")
    return {
        "build_s": found["build_s"],
        "load_s": found["load_s"],
        "search_p50": found["p50"],
        "search_p95": found["p95"],
        "disk_mb": found["disk_mb"],
        "main_peak_mb": gm.peak_self_mb(),
        "tantivy_segments": found["segments"],
    }


def child_bm25s(size: int, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    """bm25s on our terms: BM25+ with our k1=0.9, b=0.4, delta=1; numba backend for retrieval when installed."""
    import bm25s

    try:
        import numba  # noqa: F401

        backend = "numba"
    except ImportError:
        backend = "numpy"
    passages = _tokens(cache, size)
    queries = _query_terms(cache, args)
    before = gm.peak_self_mb()
    started = time.perf_counter()
    retriever = bm25s.BM25(method="bm25+", k1=0.9, b=0.4, delta=1.0, backend=backend)
    retriever.index(passages, show_progress=False)
    result: dict[str, Any] = {"build_s": time.perf_counter() - started, "backend": backend}
    result["build_growth_mb"] = gm.peak_self_mb() - before
    del passages
    asked = queries[: BM25S_QUERIES.get(size, len(queries))]
    retriever.retrieve([asked[0]], k=10, show_progress=False, n_threads=1)  # numba compiles here

    def one(q: list[str]) -> None:
        retriever.retrieve([q], k=10, show_progress=False, n_threads=1)

    result["search_p50"], result["search_p95"] = gm.percentiles(gm.timed(one, asked))
    result["queries"] = len(asked)
    result["main_peak_mb"] = gm.peak_self_mb()
    return result


def child_rank_bm25(size: int, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    """rank_bm25's BM25Plus on our terms (the oracle our scores equal), top-10 from its dense scores."""
    import numpy as np
    from rank_bm25 import BM25Plus

    passages = _tokens(cache, size)
    queries = _query_terms(cache, args)[: RANK_BM25_QUERIES[size]]
    started = time.perf_counter()
    ranker = BM25Plus(passages, k1=0.9, b=0.4)
    result: dict[str, Any] = {"build_s": time.perf_counter() - started}

    def one(q: list[str]) -> None:
        scores = ranker.get_scores(q)
        np.argpartition(-scores, 10)[:10]

    result["search_p50"], result["search_p95"] = gm.percentiles(gm.timed(one, queries))
    result["queries"] = len(queries)
    result["main_peak_mb"] = gm.peak_self_mb()
    return result


CHILDREN: dict[str, Callable[[int, Path, argparse.Namespace], dict[str, Any]]] = {
    "build": child_build,
    "load": child_load,
    "query": child_query,
    "semantic": child_semantic,
    "throughput": child_throughput,
    "changes": child_changes,
    "prep": child_prep,
    "tantivy": child_tantivy,
    "tantivy_tokens": child_tantivy_tokens,
    "bm25s": child_bm25s,
    "rank_bm25": child_rank_bm25,
}

# ---------------------------------------------------------------------------------------------------- parent


def run_child(command: list[str], *, label: str, cwd: Path | None = None) -> dict[str, Any] | None:
    """Run one measurement; sample its process tree's memory while it runs. None when it fails."""
    return gm.run_child(command, label=label, cwd=cwd, every=SAMPLE_SECONDS)


def ours(kind: str, size: int, cache: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    command = [sys.executable, __file__, "--child", kind, str(size), "--cache", str(cache)]
    command += ["--queries", str(args.queries), "--semantic-questions", str(args.semantic_questions)]
    command += ["--throughput-questions", str(args.throughput_questions)]
    return run_child(command, label=f"{kind} {size:,}")


def baseline(mode: str, size: int, cache: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    python = Path(args.baseline) / ".venv" / "bin" / "python"
    command = [str(python), str(BENCH / "growth_baseline.py"), mode, str(cache / f"baseline-{size}")]
    command += [str(corpus_folder(cache, size)), str(questions_file(cache, args.queries)), str(args.queries)]
    return run_child(command, label=f"baseline {mode} {size:,}")


def measure_size(size: int, run: int, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement of one size, one run; each in its own process."""
    record: dict[str, Any] = {"size": size, "run": run, "load_before": os.getloadavg()}

    def say(what: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] run {run} {size:,}: {what}", file=sys.stderr)

    say("build")
    record["build"] = ours("build", size, cache, args)
    if record["build"] is None:
        return record
    say(f"built {record['build']['passages']:,} passages in {record['build']['build_s']:.1f} s; loads")
    record["load"] = [ours("load", size, cache, args) for _ in range(3)]
    say("query")
    record["query"] = ours("query", size, cache, args)
    if size in args.semantic_sizes:
        say("semantic")
        record["semantic"] = ours("semantic", size, cache, args)
        if run <= args.throughput_runs:
            say("throughput")
            record["throughput"] = ours("throughput", size, cache, args)
    if not (cache / f"prep-{size}" / "tokens.txt").exists():
        say("prep")
        record["prep"] = ours("prep", size, cache, args)
    if size in args.change_sizes:
        say("changes")
        record["changes"] = ours("changes", size, cache, args)
    for anchor in args.anchors:
        if anchor == "rank_bm25" and size not in RANK_BM25_QUERIES:
            continue
        if anchor in ("bm25s", "tantivy_tokens") and size > args.token_anchors_max:
            continue  # both hold every passage's terms as Python lists: about 3 GB per million passages
        say(anchor)
        record[anchor] = ours(anchor, size, cache, args)
    if size in args.baseline_sizes and not (Path(args.baseline) / ".venv").is_dir():
        say(f"no baseline: {args.baseline}/.venv is missing (see --baseline)")
    elif size in args.baseline_sizes:
        say("baseline build")
        record["baseline_build"] = baseline("build", size, cache, args)
        if record["baseline_build"] is not None:
            record["baseline_load"] = [baseline("load", size, cache, args) for _ in range(3)]
            say("baseline query")
            record["baseline_query"] = baseline("query", size, cache, args)
            if run <= args.baseline_add_runs:
                say("baseline add")
                record["baseline_add"] = baseline("add", size, cache, args)
        shutil.rmtree(cache / f"baseline-{size}", ignore_errors=True)
    record["load_after"] = os.getloadavg()
    say("done")
    return record


# ----------------------------------------------------------------------------------------------------- tables


def _mm(values: Sequence[float], digits: int = 2) -> str:
    """min / median of repeated values, or the one value."""
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f}"


def _get(records: list[dict], *path: str | int) -> list[Any]:
    out = []
    for record in records:
        value: Any = record
        for key in path:
            if value is None:
                break
            value = value.get(key) if isinstance(value, dict) else (value[key] if len(value) > key else None)
        if value is not None:
            out.append(value)
    return out


def _flat(values: list[Any]) -> list[float]:
    out: list[float] = []
    for v in values:
        out.extend(v if isinstance(v, list) else [v])
    return out


def _loads(records: list[dict], key: str) -> list[float]:
    return [x["load_s"] for r in records for x in (r.get(key) or []) if x]


def _load_rss(records: list[dict], key: str) -> str:
    values = [x["after_load"] for r in records for x in (r.get(key) or []) if x]
    if not values:
        return "–"
    rss = _mm([v["VmRSS"] for v in values], 0)
    anon = statistics.median(v.get("RssAnon", 0) for v in values)
    file = statistics.median(v.get("RssFile", 0) for v in values)
    return f"{rss} ({anon:.0f} + {file:.0f})"


def _rss(values: list[dict]) -> str:
    if not values:
        return "–"
    rss = _mm([v["VmRSS"] for v in values], 0)
    return (
        f"{rss} ({statistics.median(v.get('RssAnon', 0) for v in values):.0f} + "
        f"{statistics.median(v.get('RssFile', 0) for v in values):.0f})"
    )


ANCHORS = (
    ("tantivy", "tantivy, passage texts, its default tokenizer"),
    ("tantivy_tokens", "tantivy, our terms"),
    ("bm25s", "bm25s, our terms"),
    ("rank_bm25", "rank_bm25, our terms"),
)


def _measured(by_size: dict[int, list[dict]]) -> Iterator[tuple[int, list[dict]]]:
    """(passages, records) of every size that was built, smallest first."""
    for size in sorted(by_size):
        if by_size[size]:
            yield by_size[size][0]["build"]["passages"], by_size[size]


def _build_row(passages: int, label: str, rs: list[dict], build: str, load: str | None = None) -> str:
    """One row of the build table: ``build`` names the records' build results, ``load`` their list of fresh
    loads (an anchor has none: it times its loads in its build child)."""
    workers = _mm(_get(rs, build, "sampled", "workers_rss_peak_mb"), 0) if build == "build" else "–"
    loads = _loads(rs, load) if load else _flat(_get(rs, build, "load_s"))
    return (
        f"| {passages:,} | {label} | {len(_get(rs, build))} | {_mm(_get(rs, build, 'build_s'), 1)} "
        f"| {_mm(_get(rs, build, 'main_peak_mb'), 0)} | {workers} "
        f"| {_mm(_get(rs, build, 'sampled', 'tree_rss_peak_mb'), 0)} | {_mm(_get(rs, build, 'disk_mb'), 0)} "
        f"| {_mm(loads, 3)} | {_load_rss(rs, load) if load else '–'} |"
    )


def _query_row(passages: int, label: str, rs: list[dict], key: str) -> str:
    """One row of the search and answers table (an anchor has no answer columns: they print as –)."""
    return (
        f"| {passages:,} | {label} | {_mm(_get(rs, key, 'search_p50'))} | {_mm(_get(rs, key, 'search_p95'))} "
        f"| {_mm(_get(rs, key, 'answer_p50'), 1)} | {_mm(_get(rs, key, 'answer_p95'), 1)} "
        f"| {_rss(_get(rs, key, 'after_200_answers'))} |"
    )


def tables(records: list[dict], args: argparse.Namespace) -> str:
    sizes = sorted({r["size"] for r in records})
    by_size = {s: [r for r in records if r["size"] == s and r.get("build")] for s in sizes}
    lines: list[str] = []
    add = lines.append
    add("### Build and load\n")
    add(
        "Build: `index.update(dir, folder, full=True)` for ours, `index.update(dir, folder)` (build + save) for the "
        "baseline, indexing + commit for the anchors. Peak MB: main = the process's own ru_maxrss; workers = the "
        "largest sampled sum of VmRSS of every descendant (forkserver + analysis workers; /proc every 50 ms); "
        "tree = the largest sampled sum of main + descendants. Load: a fresh process each, 3 per run. RSS after "
        "load: VmRSS (anonymous + file-backed pages, MB); the file-backed part is memory-mapped index files "
        "(article texts, fields) that were touched, shared with the page cache. Values are min / median over "
        "the runs (and the 3 loads of each run).\n"
    )
    add(
        "| passages | engine | runs | build s | peak MB main | peak MB workers | peak MB tree | disk MB | load s "
        "| RSS after load MB (anon + file) |"
    )
    add("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for passages, rs in _measured(by_size):
        add(_build_row(passages, "ours", rs, "build", "load"))
        if _get(rs, "baseline_build"):
            add(_build_row(passages, "before issue 10 (088c363)", rs, "baseline_build", "baseline_load"))
        for key, label in ANCHORS:
            if _get(rs, key):
                add(_build_row(passages, label, rs, key))
    add("\n### Search and answers\n")
    add(
        f"Top-10 search: `idx.top(terms, 10)` over the same {args.queries} analysed SQuAD questions (tantivy with "
        "its default tokenizer gets the same questions split and lower-cased as that tokenizer does, stopwords "
        "included; bm25s at 3M on its first 500 of them; rank_bm25 on 200 at 10k and 30 at 100k). Lexical "
        "answer: `index.answer(idx, q)` without a judge, same questions. RSS after 200 answers: VmRSS (anonymous + "
        "file-backed) in the same process. ms; min / median over runs of each run's p50 and p95.\n"
    )
    add("| passages | engine | search p50 | search p95 | answer p50 | answer p95 | RSS after 200 answers MB |")
    add("|---:|---|---:|---:|---:|---:|---:|")
    for passages, rs in _measured(by_size):
        add(_query_row(passages, "ours", rs, "query"))
        if _get(rs, "baseline_query"):
            add(_query_row(passages, "before issue 10 (088c363)", rs, "baseline_query"))
        for key, label in ANCHORS:
            if not _get(rs, key):
                continue
            if key == "bm25s":
                label += f" ({_get(rs, key, 'backend')[0]}, {_get(rs, key, 'queries')[0]} queries)"
            if key == "rank_bm25":
                label += f" ({_get(rs, key, 'queries')[0]} queries)"
            add(_query_row(passages, label, rs, key))
    semantic = [(s, by_size[s]) for s in sizes if _get(by_size[s], "semantic")]
    if semantic:
        add("\n### Semantic answers\n")
        add(
            f"`index.answer(idx, q, judge=index.semantic.load_judge())` (1 onnxruntime thread, the bot's "
            f"setting) on the first {args.semantic_questions} questions, judge cache empty at the start; ms, "
            "min / median over runs.\n"
        )
        add("| passages | answer p50 | answer p95 | RSS after (anon + file) MB |")
        add("|---:|---:|---:|---:|")
        for _size, rs in semantic:
            add(
                f"| {rs[0]['build']['passages']:,} | {_mm(_get(rs, 'semantic', 'semantic_p50'), 1)} "
                f"| {_mm(_get(rs, 'semantic', 'semantic_p95'), 1)} | {_rss(_get(rs, 'semantic', 'after_answers'))} |"
            )
    changes = [(s, by_size[s]) for s in sizes if _get(by_size[s], "changes") or _get(by_size[s], "baseline_add")]
    if changes:
        add("\n### Changes\n")
        add(
            "Add: a new one-article .jsonl written into the folder, `index.update(dir, folder)`, until `idx.top` "
            "of its unique word finds it; delete: the file removed, `index.update`, until the word is gone (every "
            f"one checked). {CHANGES} of each per run, in a fresh process; seconds, min / median over all. "
            "`newsbot index` unchanged: the console script run twice on the same folder and index after those "
            "changes (the first may merge the small segments); the second run's wall seconds, process start "
            "included (its own report in brackets). Baseline add: the same new file, then `index.update` (a full "
            "rebuild and save), until a query finds it.\n"
        )
        add(
            "| passages | add 1 article s | delete 1 article s | all found/gone | `newsbot index` 2nd run s "
            "| before issue 10: add 1 article s |"
        )
        add("|---:|---:|---:|---:|---:|---:|")
        for _size, rs in changes:
            second = [c["newsbot_index"][1] for c in _get(rs, "changes")]
            says = ""
            if second and second[0]["says"]:
                match = re.search(r"in ([\d.]+) s", " ".join(second[0]["says"]))
                says = f" ({match.group(1)} s)" if match else ""
            add(
                f"| {rs[0]['build']['passages']:,} | {_mm(_flat(_get(rs, 'changes', 'add_s')))} "
                f"| {_mm(_flat(_get(rs, 'changes', 'delete_s')))} "
                f"| {all(_get(rs, 'changes', 'all_correct')) if _get(rs, 'changes') else '–'} "
                f"| {_mm([s['wall_s'] for s in second])}{says} | {_mm(_get(rs, 'baseline_add', 'add_s'), 1)} |"
            )
    throughput = [(s, by_size[s]) for s in sizes if _get(by_size[s], "throughput")]
    if throughput:
        add("\n### Answers per second\n")
        add(
            f"The same {args.throughput_questions} questions answered in 1 thread, in 2 threads "
            "(ThreadPoolExecutor) and in 2 processes (ProcessPoolExecutor, forkserver; each worker `index.load`s "
            "the same directory, memory-mapped, and loads its own model), after warming; the judge's cache emptied "
            "before each configuration (each process starts with an empty one). min / median over runs.\n"
        )
        add("| passages | path | configuration | onnxruntime intra-op threads per call | answers/s | × one thread |")
        add("|---:|---|---|---:|---:|---:|")
        for _size, rs in throughput:
            runs = _get(rs, "throughput")
            for path in ("lexical", "semantic"):
                base = [t[f"{path}: 1 thread"]["per_s"] for t in runs]
                for label in ("1 thread", "2 threads", "2 processes", "1 thread, 2 onnxruntime threads"):
                    key = f"{path}: {label}"
                    if key not in runs[0]:
                        continue
                    rates = [t[key]["per_s"] for t in runs]
                    ratio = [t[key]["per_s"] / b for t, b in zip(runs, base, strict=True)]
                    intra = runs[0][key]["intra_op_threads"] or "–"
                    add(
                        f"| {rs[0]['build']['passages']:,} | {path} | {label} | {intra} | {_mm(rates, 1)} "
                        f"| {_mm(ratio, 2)} |"
                    )
    add("\n### Extrapolation to 10M passages\n")
    add(extrapolation(by_size))
    add("\n### Load average\n")
    add("| run | passages | 1/5/15-min load before | after |")
    add("|---:|---:|---|---|")
    for r in records:
        before = "/".join(f"{x:.2f}" for x in r.get("load_before", ()))
        after = "/".join(f"{x:.2f}" for x in r.get("load_after", ()))
        add(f"| {r['run']} | {r['size']:,} | {before} | {after} |")
    return "\n".join(lines)


def extrapolation(by_size: dict[int, list[dict]]) -> str:
    """A straight line through the two largest sizes' medians, evaluated at 10M passages."""
    sizes = [s for s in sorted(by_size) if by_size[s]]
    if len(sizes) < 2:
        return "(needs two sizes)"
    a, b = sizes[-2], sizes[-1]
    rows = []
    for label, path in (
        ("build s", ("build", "build_s")),
        ("peak MB tree", ("build", "sampled", "tree_rss_peak_mb")),
        ("disk MB", ("build", "disk_mb")),
        ("RSS after load MB", None),
    ):

        def value(size: int, path: tuple | None = path) -> float:
            if path is None:
                return statistics.median(x["after_load"]["VmRSS"] for r in by_size[size] for x in r["load"] if x)
            return statistics.median(_get(by_size[size], *path))

        na = by_size[a][0]["build"]["passages"]
        nb = by_size[b][0]["build"]["passages"]
        va, vb = value(a), value(b)
        slope = (vb - va) / (nb - na)
        at = vb + slope * (10_000_000 - nb)
        rows.append(f"| {label} | {va:,.1f} | {vb:,.1f} | {slope * 1e6:,.1f} | {at:,.0f} |")
    head = (
        f"A straight line through the medians at {by_size[a][0]['build']['passages']:,} and "
        f"{by_size[b][0]['build']['passages']:,} passages, evaluated at 10,000,000.\n\n"
        f"| measure | at {a:,} | at {b:,} | per million passages | at 10M |\n|---|---:|---:|---:|---:|"
    )
    return head + "\n" + "\n".join(rows)


# ------------------------------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--runs", type=int, default=3, help="runs of every size not in --once (default 3)")
    parser.add_argument("--once", type=int, nargs="*", default=[3_000_000], help="sizes measured in run 1 only")
    parser.add_argument("--queries", type=int, default=2000, help="questions for search and lexical answers")
    parser.add_argument("--semantic-questions", type=int, default=SEMANTIC_QUESTIONS)
    parser.add_argument("--throughput-questions", type=int, default=THROUGHPUT_QUESTIONS)
    parser.add_argument("--semantic-sizes", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--throughput-runs", type=int, default=3, help="runs that measure answers per second")
    parser.add_argument("--change-sizes", type=int, nargs="*", default=[1_000_000, 3_000_000])
    parser.add_argument("--anchors", nargs="*", default=["tantivy", "tantivy_tokens", "bm25s", "rank_bm25"])
    parser.add_argument(
        "--token-anchors-max", type=int, default=1_000_000, help="largest size bm25s and tantivy-on-our-terms run at"
    )
    parser.add_argument("--baseline", default=str(DEFAULT_BASELINE), help="worktree at 088c363 with its .venv")
    parser.add_argument("--baseline-sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--baseline-add-runs", type=int, default=1, help="runs that time the baseline's add")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="corpora and indexes (never the repository)")
    parser.add_argument("--output", default=str(BENCH / "results" / "growth.md"))
    parser.add_argument("--quick", action="store_true", help="10k and 100k, one run, 200 questions")
    parser.add_argument("--tables-from", metavar="RECORDS", help="print the tables of a run's records.json again")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    cache = Path(args.cache)
    if args.child:
        kind, size = args.child
        gm.emit(CHILDREN[kind](int(size), cache, args))
        return
    if args.tables_from:
        print(tables(json.loads(Path(args.tables_from).read_text(encoding="utf-8")), args))
        return
    if args.quick:
        args.sizes, args.runs, args.queries = [10_000, 100_000], 1, 200
        args.semantic_sizes = args.change_sizes = args.baseline_sizes = [100_000]
        args.semantic_questions, args.throughput_questions = 40, 60
    if os.nice(0) < 10:
        os.nice(10 - os.nice(0))
    cache.mkdir(parents=True, exist_ok=True)
    started = time.time()
    print(f"preparing corpora in {cache}", file=sys.stderr)
    for size in args.sizes:
        corpus_folder(cache, size)
    questions_file(cache, args.queries)
    records = []
    for run in range(1, args.runs + 1):
        for size in args.sizes:
            if run > 1 and size in args.once:
                continue
            records.append(measure_size(size, run, cache, args))
            Path(cache / "records.json").write_text(json.dumps(records, indent=1))
    text = tables(records, args)
    print(text)
    command = "nice -n 10 python bench/retrieval.py " + " ".join(sys.argv[1:])
    header = (
        "# The growth benchmark: newsbot's segmented index from 10k to 3M passages\n\n"
        f"Command: `{command}`  \nDate: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
        f"{(time.time() - started) / 60:.0f} minutes.  \n"
        f"Machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, shared with "
        "other engineers' jobs (load averages below).\n\n"
    )
    raw = "\n\n## Raw results\n\n```json\n" + json.dumps(records, indent=1) + "\n```\n"
    Path(args.output).write_text(header + text + raw, encoding="utf-8")


if __name__ == "__main__":
    main()
