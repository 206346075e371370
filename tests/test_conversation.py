"""Questions as a new user asks them of real news pages: names asked for, years that are topics, markup typed
into a question, filler quotes, and chatter in a shell (issue 19).

The pages are real ones kept in trafilatura's tests (tests/data/pages/README.md), served from the test site on
127.0.0.1 and added with ``newsbot fetch`` as a user adds them; the questions go through ``newsbot ask`` with the
default (semantic) path.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

import index
from index.semantic import load_judge

from .conftest import SEEDS, write
from .feed_server import HTML

PAGES = Path(__file__).resolve().parent / "data" / "pages"
IOS = "theverge.com.ios13.html"
EMISSIONS = "salon.com.emissions.html"
PARASITE = "reuters.com.parasite.html"


class Newsbot:
    """``await newsbot("ask", "...")``: the command line in-process over the test's own folders."""

    def __init__(self, tmp_path: Path, cli) -> None:
        self.cwd = tmp_path
        self.cli = cli
        self.env = {
            "ALLOW_PRIVATE_URLS": "1",  # the test site is on 127.0.0.1
            "DATA_DIR": str(tmp_path / "data"),
            "ARTICLES_DIR": str(tmp_path / "articles"),
            "INDEX_DIR": str(tmp_path / "index"),
        }
        shutil.copytree(SEEDS, tmp_path / "articles")

    def __call__(self, *args: str):
        return asyncio.to_thread(self.cli, *args, cwd=self.cwd, env=self.env)

    async def fetch(self, site, *names: str) -> None:
        """Serve each real page on the test site and add it with ``newsbot fetch``."""
        for name in names:
            site.serve(f"/{name}", (PAGES / name).read_bytes(), content_type=HTML)
            result = await self("fetch", site.url(f"/{name}"))
            assert result.code == 0, result.stderr
            assert result.stdout.startswith("Added "), result.stdout


@pytest.fixture
def newsbot(tmp_path, cli) -> Newsbot:
    return Newsbot(tmp_path, cli)


async def test_a_question_asking_which_countries_is_answered_by_the_sentence_that_names_them(site, newsbot):
    await newsbot.fetch(site, PARASITE)
    result = await newsbot("ask", "which countries support Haftar?")
    assert result.code == 0, result.stderr
    first = result.stdout.split("\n\n")[0]
    assert "Supported by the United Arab Emirates, Egypt, and Russia" in first, result.stdout


async def test_a_question_asking_which_movie_is_answered_by_the_sentence_that_names_it(site, newsbot):
    await newsbot.fetch(site, PARASITE)
    result = await newsbot("ask", "Which Korean movie did the actors' guild honour?")
    first = result.stdout.split("\n\n")[0]
    assert "South Korean thriller “Parasite” was the upset winner at the Screen Actors Guild" in first, result.stdout


async def test_a_year_in_the_question_is_a_word_of_the_topic_when_that_years_stories_do_not_answer(site, newsbot):
    await newsbot.fetch(site, IOS, EMISSIONS)  # the emissions of 2019, told on 10 January 2020
    result = await newsbot("ask", "How much did US emissions fall in 2019?")
    assert result.stdout.startswith("No story dated 2019 answers that; these are from stories of any date.\n")
    assert "total emissions fell 2 percent compared with the year before" in result.stdout
    assert "10 January 2020" in result.stdout
    # Stories of the range that answer are answered from, and the reply says the range was applied.
    result = await newsbot("ask", "Which feature did iOS 13 add to FaceTime in 2019?")
    assert result.stdout.startswith("Searched only the stories dated 2019.\n"), result.stdout
    assert "FaceTime" in result.stdout.split("\n\n")[0]


async def test_markup_typed_into_a_question_is_not_part_of_it(site, newsbot):
    await newsbot.fetch(site, PARASITE)
    plain = await newsbot("ask", "Parasite?")
    assert "“Parasite”" in plain.stdout
    for marked in ('<span style="color:red">Parasite</span>?', '<a href="https://example.com/p">Parasite</a>?',
                   "<b>Parasite</b>?<!-- pasted -->", "&lt;Parasite&gt;?"):
        assert (await newsbot("ask", marked)).stdout == plain.stdout, marked


async def test_a_word_inside_a_presentational_tag_does_not_sink_a_question_that_names_a_story(site, newsbot):
    # Text inside <b> is the user's: "bold" stays a word of the question. No article holds it, but "Parasite" is
    # held by one story alone, in its title: the question names that story, and is answered from it.
    await newsbot.fetch(site, PARASITE)
    bold = await newsbot("ask", "<b>bold</b> Parasite?")
    assert "“Parasite”" in bold.stdout.split("\n\n")[0], bold.stdout


async def test_thanks_in_a_shell_gets_a_greeting_without_telegram_commands(newsbot):
    result = await newsbot("ask", "thanks")
    assert result.stdout.startswith("Hello! I answer questions about the news articles I have")
    assert "/help" not in result.stdout


HARBOUR = {
    "tolls.txt": "Harbour bridge tolls to rise\n\nThe harbour bridge toll will rise from two pounds to three pounds "
    "in January, the council said. Commuters' groups called the rise unfair to people who cannot work from home.\n",
    "tours.txt": "Harbour tours resume\n\nThe harbour boat tour was put on hold while repairs were made to the "
    "bridge. Tickets bought for the cancelled tours will be honoured until the end of the year.\n",
}


def test_a_later_quote_that_does_not_answer_the_question_is_not_shown(tmp_path):
    for name, text in HARBOUR.items():
        write(tmp_path / "articles", name, text)
    idx = index.build(tmp_path / "articles")
    result = index.answer(idx, "How much will the harbour bridge toll rise to?", judge=load_judge())
    assert result.answered
    assert "three pounds in January" in result.quotes[0].text
    assert not [q.text for q in result.quotes if "tour" in q.text]


@pytest.mark.parametrize(
    ("message", "follows"),
    [
        ("and when was that announced?", True),
        ("who spotted it?", True),
        ("What about Egypt?", True),
        ("Who?", True),
        ("Which countries back Haftar?", False),
        ("How much did US emissions fall in 2019?", False),
        ("and what did the council say about the harbour bridge toll rise in January?", False),  # long: its own
    ],
)
def test_a_follow_up_is_short_and_points_back(message, follows):
    from index.followups import is_follow_up

    assert is_follow_up(message) is follows


def test_a_follow_up_carries_on_the_first_questions_subject():
    from index.followups import subject_of

    first = subject_of("How did iOS 13 fix FaceTime eye contact?")
    assert first == "iOS 13 fix FaceTime eye contact"
    assert subject_of("and when was that announced?", first) == "iOS 13 fix FaceTime eye contact announced"
