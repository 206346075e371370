"""The newsbot command line as a user runs it, in a working folder with an environment (in-process, mostly)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .cli_harness import run_process
from .conftest import ROOT, SEED_TITLE, write


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    return tmp_path


def test_ask_builds_the_index_on_first_use(workdir, cli):
    out = cli("ask", "Which air base did the GNA seize?", cwd=workdir)
    assert out.code == 0, out.stderr
    assert "Al-Watiya Air Base" in out.stdout
    assert f"— {SEED_TITLE}, 23 May 2020" in out.stdout
    assert "Built an index of seeds" in out.stderr
    assert (workdir / "var" / "index" / "CURRENT").is_file()


def test_ask_json_shape(workdir, cli):
    out = cli("ask", "--json", "Which air base did the GNA seize?", cwd=workdir)
    assert out.code == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"question", "answered", "quotes", "suggestions", "note"}
    assert data["answered"] is True
    quote = data["quotes"][0]
    assert set(quote) == {"text", "score", "start", "end", "article"}
    assert set(quote["article"]) == {"id", "title", "date", "url"}
    assert quote["article"]["date"] == "2020-05-23T12:30:00"
    text = (workdir / "seeds" / "000_1ac90010c147ba5d.txt").read_text(encoding="utf-8")
    assert quote["text"] in text


def test_ask_off_topic(workdir, cli):
    out = cli("ask", "Who won the football World Cup?", cwd=workdir)
    assert out.code == 0
    assert "do not" in out.stdout
    assert SEED_TITLE in out.stdout


def test_search_and_changed_articles_note(workdir, cli):
    assert cli("index", cwd=workdir).code == 0
    write(workdir / "seeds", "extra.txt", "Extra\n\nAnother story.\n")
    out = cli("search", "Pantsir", "-k", "1", cwd=workdir)
    assert out.code == 0
    assert "Pantsir" in out.stdout
    assert "the articles changed since the index was built (1 new" in out.stderr


def test_index_says_what_this_run_changed(workdir, cli):
    assert cli("index", cwd=workdir).code == 0
    write(workdir / "seeds", "extra.txt", "Extra\n\nAnother story about the harbour.\n")
    assert "Changed articles: 1 added, 0 changed, 0 removed" in cli("index", cwd=workdir).stdout
    again = cli("index", cwd=workdir).stdout
    assert "Changed articles: 0 added, 0 changed, 0 removed" in again, "nothing changed in the second run"


def test_index_with_the_folder_spelled_otherwise_keeps_every_article(workdir, cli):
    # Issue 15, finding 1: cron and the bot, or .env and a shell, spell ARTICLES_DIR differently.
    assert cli("index", "--articles", "seeds", cwd=workdir).code == 0
    for spelling in (str(workdir / "seeds"), "seeds/", str(workdir / "seeds") + "/"):
        for extra in ((), ("--full",)):
            out = cli("index", "--articles", spelling, *extra, cwd=workdir)
            assert out.code == 0, out.stderr
            assert ": 1 article, 11 passages" in out.stdout, (spelling, extra, out.stdout)
            answer = cli("ask", "Which air base did the GNA seize?", "--articles", spelling, cwd=workdir)
            assert "Al-Watiya Air Base" in answer.stdout, (spelling, extra)


def test_index_reports_skips(workdir, cli):
    write(workdir / "seeds", "broken.json", "{")
    out = cli("index", cwd=workdir)
    assert out.code == 0
    assert "1 article, " in out.stdout
    assert "1 skipped" in out.stdout
    assert "broken.json: invalid JSON" in out.stdout


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param(
            ("ask", "hi"), {"ARTICLES_DIR": "nowhere"}, "articles path 'nowhere' does not exist", id="missing-folder"
        ),
        pytest.param(("index", "--articles", "nowhere"), {}, "does not exist", id="missing-folder-flag"),
        pytest.param(("ask", "hi"), {"LOG_LEVEL": "LOUD"}, "LOG_LEVEL: 'LOUD' is not one of", id="bad-setting"),
        pytest.param(("ask", "air base", "-n", "0"), {}, "-n must be at least 1", id="ask-zero-quotes"),
        pytest.param(("search", "air", "-k", "0"), {}, "k must be a positive number", id="search-zero-hits"),
    ],
)
def test_errors_are_one_line_exit_2(workdir, args, env, message, cli):
    out = cli(*args, cwd=workdir, env=env)
    assert out.code == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_unreadable_index_exit_2(workdir, cli):
    (workdir / "var" / "index").mkdir(parents=True)
    (workdir / "var" / "index" / "CURRENT").write_text("manifest-0000000007.json 0123456789abcdef\n")
    out = cli("ask", "air base", cwd=workdir)
    assert out.code == 2
    assert out.stderr.count("\n") == 1
    assert "newsbot index" in out.stderr


def test_brief_command(workdir, cli):
    out = cli("brief", "libya", "--json", cwd=workdir)
    assert out.code == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["topic"] == "libya"
    assert data["stories"][0]["article"]["title"] == SEED_TITLE
    text = (workdir / "seeds" / "000_1ac90010c147ba5d.txt").read_text(encoding="utf-8")
    assert all(q["text"] in text for s in data["stories"] for q in s["quotes"])
    human = cli("brief", cwd=workdir)
    assert f"1. {SEED_TITLE} (23 May 2020)" in human.stdout
    later = cli("brief", "--since", "2021-01-01", cwd=workdir)
    assert "No stories to brief published since 1 January 2021." in later.stdout
    assert "The newest articles are from 23 May 2020." in later.stdout
    bad = cli("brief", "--since", "someday", cwd=workdir)
    assert bad.code == 2
    assert "is not a date" in bad.stderr


def test_n_limits_the_stories_of_a_question_about_a_time_alone(workdir, cli):
    for day in range(1, 5):
        write(workdir / "seeds", f"oil-{day}.txt", f"Oil story {day}\n{day} March 1987\n\nOil rose on day {day}.\n")
    question = "what happened in 1987?"
    two = cli("ask", question, "-n", "2", cwd=workdir)
    assert two.code == 0, two.stderr
    assert re.findall(r"^\d+\. Oil story", two.stdout, re.MULTILINE) == ["1. Oil story", "2. Oil story"]
    assert len(json.loads(cli("ask", question, "-n", "1", "--json", cwd=workdir).stdout)["stories"]) == 1
    every = cli("ask", question, cwd=workdir)
    assert len(re.findall(r"^\d+\. Oil story", every.stdout, re.MULTILINE)) == 4, "without -n: up to 5 stories"
    quotes = cli("ask", "Which air base did the GNA seize?", cwd=workdir)
    assert len(re.findall(r"^\d+\. “", quotes.stdout, re.MULTILINE)) <= 3, "without -n: up to 3 quotes"


def test_counts_of_one_are_singular(tmp_path, cli):
    write(tmp_path / "one", "pier.txt", "Pier repaired\n\nThe old pier was repaired.\n")
    built = cli("ask", "Was the pier repaired?", "--articles", "one", cwd=tmp_path)
    assert "(1 article loaded from 1 file, 0 skipped, 0 duplicates)" in built.stderr
    write(tmp_path / "one", "pier.txt", "Pier repaired\n\nThe old pier was repaired.\nTwice.\n")
    indexed = cli("index", "--articles", "one", cwd=tmp_path).stdout
    assert ": 1 article, 1 passage, 0 skipped, 0 duplicates." in indexed


def test_version_is_the_package_version(tmp_path):
    from importlib import metadata

    out = run_process("--version", cwd=tmp_path)
    assert out.returncode == 0
    assert out.stdout == f"newsbot {metadata.version('newsbot')}\n"


def test_ask_search_and_brief_work_outside_the_clone(tmp_path, cli):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    missing = cli("ask", "Which air base did the GNA seize?", cwd=elsewhere)
    assert missing.code == 2
    assert "--articles" in missing.stderr, "the message names the option that fixes it"
    where = ("--articles", str(ROOT / "seeds"), "--index", str(tmp_path / "ix"))
    ask = cli("ask", *where, "Which air base did the GNA seize?", cwd=elsewhere)
    assert ask.code == 0, ask.stderr
    assert "Al-Watiya Air Base" in ask.stdout
    assert (tmp_path / "ix" / "CURRENT").is_file()
    search = cli("search", *where, "Pantsir", "-k", "1", cwd=elsewhere)
    assert "Pantsir" in search.stdout
    brief = cli("brief", *where, "libya", cwd=elsewhere)
    assert SEED_TITLE in brief.stdout
    assert not (elsewhere / "var").exists(), "nothing is written where the user happens to stand"


def test_a_closed_pipe_ends_quietly(workdir):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written, as with `| head -0`
    try:
        proc = run_process("search", "air base", "-k", "10", cwd=workdir, stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert proc.returncode == 0
    assert "BrokenPipe" not in proc.stderr
    assert "unexpected error" not in proc.stderr


def test_ask_with_context(workdir, cli):
    out = cli("ask", "--context", "Which air base did the GNA seize?", cwd=workdir)
    assert out.code == 0, out.stderr
    assert "**Last week, the army of Libya’s UN-recognized" in out.stdout
    data = json.loads(cli("ask", "--json", "--context", "Which air base did the GNA seize?", cwd=workdir).stdout)
    quote = data["quotes"][0]
    text = (workdir / "seeds" / "000_1ac90010c147ba5d.txt").read_text(encoding="utf-8")
    assert quote["context"]["text"] in text
    assert quote["text"] in quote["context"]["text"]


def test_semantic_answers_can_be_turned_off(workdir, cli):
    out = cli("ask", "Which air base did the GNA seize?", cwd=workdir, env={"SEMANTIC_ANSWERS": "0"})
    assert out.code == 0
    assert "Al-Watiya Air Base" in out.stdout
    assert "semantic" not in out.stderr


def test_a_model_that_cannot_load_says_so_once_and_answers_by_words(workdir, cli, monkeypatch):
    import index.semantic

    def unavailable(**_options):
        raise index.ModelUnavailable("onnxruntime is not installed (pip install 'onnxruntime>=1.20,<2')")

    monkeypatch.setattr(index.semantic, "load_judge", unavailable)  # a platform without onnxruntime
    out = cli("ask", "Which air base did the GNA seize?", cwd=workdir)
    assert out.code == 0
    assert "Al-Watiya Air Base" in out.stdout
    assert out.stderr.count("semantic answers off: onnxruntime is not installed") == 1


def test_brief_since_relative_words(workdir, cli):
    out = cli("brief", "--since", "last week", cwd=workdir)
    assert out.code == 0
    assert "No stories to brief published since" in out.stdout
    assert "The newest articles are from 23 May 2020." in out.stdout


def test_no_command_prints_more_than_a_passage_per_hit(workdir, cli):
    # Issue 15, finding 2: `newsbot search` and `brief` printed a 16.5 MB one-line article whole.
    import random

    from index.passages import MAX_PASSAGE_CHARS

    rng = random.Random(7)
    words = ["harbour", "ferry", "storm", "officials", "grain", "tariff"] + [f"w{i}" for i in range(3000)]
    body = " ".join(rng.choice(words) for _ in range(60_000))
    write(workdir / "seeds", "huge.txt", f"A huge one-line story about the harbour ferry\n2024-05-01\n\n{body}\n")
    question = "harbour ferry storm officials"
    runs = [
        ("search", question, "--lexical"),
        ("brief",),
        ("brief", question),
        ("ask", question, "--lexical", "-n", "5"),
        ("ask", question, "--lexical", "-n", "5", "--context"),
    ]
    for args in runs:
        out = cli(*args, cwd=workdir, env={"SEMANTIC_ANSWERS": "0"})
        assert out.code == 0, out.stderr
        assert "harbour" in out.stdout.lower(), args
        assert max(len(line) for line in out.stdout.splitlines()) <= MAX_PASSAGE_CHARS + 10, args
    found = json.loads(cli("search", question, "--lexical", "--json", cwd=workdir).stdout)
    assert found["hits"]
    assert all(len(h["text"]) <= MAX_PASSAGE_CHARS for h in found["hits"])
    answer = json.loads(cli("ask", question, "--lexical", "--json", "--context", "-n", "5", cwd=workdir).stdout)
    for quote in answer["quotes"]:
        assert len(quote["context"]["text"]) <= MAX_PASSAGE_CHARS
        assert quote["text"] in quote["context"]["text"]
