"""The archive on a real OpenSearch cluster (index.opensearch): same passages, same scores, safe writes.

These tests need the cluster that ``python3 services/opensearch.py start`` runs (``NEWSBOT_TEST_OPENSEARCH_DIR``);
without it they skip with the reason. Each test writes under an index prefix of its own and removes it after.
"""

from __future__ import annotations

import datetime as dt
import secrets

import numpy as np
import pytest

import index
from index.analysis import analyze
from index.articles import NewArticle
from index.backend import Archive, Commit
from index.errors import ArchiveUnavailable, IndexNotFound, IndexWriteError
from index.pipeline import analyse_one
from index.segments import IndexLocked
from index.sentences import SentenceSplitter

opensearch_py = pytest.importorskip("opensearchpy", reason="the opensearch extra is not installed")

from index.opensearch import ClusterConfig, OpenSearchWriter, connect, copy_index, open_archive  # noqa: E402
from index.opensearch.client import whole  # noqa: E402

STORIES = {
    "rates.txt": "Title: Bank holds rates\nDate: 2024-03-01\n\nThe central bank held interest rates at four percent. "
    "Its governor said inflation was easing slowly. Markets had expected the decision.\n\nBanks kept their "
    "mortgage offers unchanged after the announcement.",
    "storm.txt": "Title: Storm floods the coast\nDate: 2024-03-02\n\nA winter storm flooded the coastal town "
    "overnight. Rescue teams moved two hundred people to the school gym. The river rose three metres.\n\nThe mayor "
    "asked residents to stay home until the water falls.",
    "match.txt": "Title: Late goal wins the cup\nDate: 2024-02-20\n\nA late goal won the cup for the home side. The "
    "striker scored in the ninetieth minute. Fans filled the streets of the city.",
    "undated.txt": "Title: Library reopens\n\nThe city library reopened after a year of repairs. It now opens on "
    "Sundays, and the storm damage to its roof is repaired.",
}
QUESTIONS = [
    "What did the central bank do with interest rates?",
    "Where did the storm flood?",
    "Who scored the late goal?",
    "When does the library open?",
    "city storm",
]


@pytest.fixture
def cluster(opensearch):
    """A ClusterConfig of the test cluster under a fresh prefix, whose indices are deleted afterwards."""
    config = ClusterConfig(urls=opensearch.urls, prefix=f"t{secrets.token_hex(5)}", shards=2, replicas=0, timeout=30)
    yield config
    connect(config).indices.delete(index=f"{config.prefix}-*", ignore_unavailable=True, allow_no_indices=True)


@pytest.fixture
def local(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, text in STORIES.items():
        (folder / name).write_text(text)
    return index.update(tmp_path / "index", folder, workers=1)


def copied(local_index, config):
    with OpenSearchWriter(connect(config), config) as writer:
        return copy_index(local_index, writer)


def keyed(archive, scored):
    return [(archive.passage(int(n)).article_id, archive.passage(int(n)).start) for n in scored.docs]


def test_a_copied_archive_ranks_and_scores_as_the_local_one(local, cluster):
    remote = copied(local, cluster)
    assert isinstance(remote, Archive)
    assert (len(remote), remote.article_count) == (len(local), local.article_count)
    for question in QUESTIONS:
        terms = analyze(question)
        here, there = local.top(terms, 10), remote.top(terms, 10)
        assert keyed(remote, there) == keyed(local, here), question
        np.testing.assert_allclose(there.scores, here.scores, rtol=1e-6)
        assert remote.rarity(terms) == pytest.approx(local.rarity(terms))


def test_answers_and_articles_read_from_the_cluster_are_the_local_ones(local, cluster):
    copied(local, cluster)
    remote = open_archive(cluster)
    for question in QUESTIONS:
        mine, theirs = index.answer(local, question), index.answer(remote, question)
        assert [(q.article.id, q.text) for q in theirs.quotes] == [(q.article.id, q.text) for q in mine.quotes]
        for quote in theirs.quotes:
            assert quote.article.text[quote.start : quote.end] == quote.text
    assert [a.id for a in remote.newest_first] == [a.id for a in local.newest_first]
    assert remote.recent_titles(2) == local.recent_titles(2)
    for article in local.articles:
        assert remote.article(article.id) == article
        assert remote.article_sentences(article.id) == local.article_sentences(article.id)
        assert remote.first_seen(article.id) == local.first_seen(article.id)
    assert sorted(remote.catalog()) == sorted(local.catalog())
    assert remote.info.sources == local.info.sources
    assert remote.added_since(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) != []
    assert remote.added_since(dt.datetime.now(dt.UTC)) == []
    with pytest.raises(KeyError):
        remote.article("no such story")


def story(text: str, title: str, article_id: str, splitter: SentenceSplitter) -> tuple[NewArticle, list]:
    article = index.Article(id=article_id, title=title, text=text, source=f"{article_id}.txt")
    done = analyse_one(title, text, splitter, titles=True)
    item = NewArticle(
        article=article, file=f"{article_id}.txt", digest=article_id, first_seen=dt.datetime.now(dt.UTC).isoformat(),
        sentences=done.sentences,
    )  # fmt: skip
    return item, list(zip(done.passages, done.terms, strict=True))


def update(config, new: list[tuple[str, str, str]], dead: frozenset[int]) -> index.backend.Archive:
    """One incremental commit through the writer, as the update recipe makes it."""
    with OpenSearchWriter(connect(config), config) as writer:
        metadata = dict(writer.metadata())
        splitter = SentenceSplitter.from_parameters(writer.splitter())
        first = metadata["next_article"]
        articles = []
        for number, (article_id, title, text) in enumerate(new, first):
            item, passages = story(text, title, article_id, splitter)
            articles.append(item)
            writer.add_passages([(number, *p) for p, _ in passages], [t.split() for _, t in passages])
        metadata["next_article"] = first + len(new)
        record = {**writer.previous().meta["record"], "built_at": dt.datetime.now(dt.UTC).isoformat()}
        return writer.commit(
            Commit(
                full=False, articles=articles, numbers=list(range(first, first + len(new))), dead=dead,
                settings=writer.previous().settings, metadata=metadata, splitter=None, record=record,
            )
        )  # fmt: skip


def test_an_update_replaces_an_article_and_its_passages_at_once(local, cluster):
    before = copied(local, cluster)
    rates = next(n for n, article_id, _, _ in before.catalog() if article_id == "rates")
    after = update(
        cluster,
        [("rates", "Bank cuts rates", "The central bank cut interest rates to three percent on Friday.")],
        frozenset({rates}),
    )
    assert after.generation == before.generation + 1
    assert after.article("rates").title == "Bank cuts rates"
    found = after.top(analyze("interest rates"), 10)
    assert {after.article_of(int(n)).title for n in found.docs} == {"Bank cuts rates"}
    assert "four percent" not in " ".join(after.passage(int(n)).text for n in found.docs)
    assert after.article_count == before.article_count
    assert after.document_frequency("mortgag") == 0


def test_what_a_writer_leaves_uncommitted_is_never_seen(local, cluster):
    before = copied(local, cluster)
    terms = analyze("volcano eruption")

    def killed_before_commit():
        with OpenSearchWriter(connect(cluster), cluster) as writer:
            next_article = writer.metadata()["next_article"]
            writer.add_passages([(next_article, 0, 20, 0, 1)], [["volcano", "erupt"]])
            raise RuntimeError("killed before commit")

    with pytest.raises(RuntimeError, match="killed"):
        killed_before_commit()
    connect(cluster).indices.refresh(index=f"{cluster.prefix}-archive")
    now = open_archive(cluster)
    assert now.generation == before.generation
    assert len(now.top(terms, 10).docs) == 0
    assert now.document_frequency("volcano") == 0


def test_only_one_writer_at_a_time(local, cluster):
    copied(local, cluster)
    with OpenSearchWriter(connect(cluster), cluster), pytest.raises(IndexLocked, match="another newsbot"):
        OpenSearchWriter(connect(cluster), cluster).__enter__()
    with OpenSearchWriter(connect(cluster), cluster) as writer:  # released: the next one gets it
        assert writer.previous() is not None


def test_a_full_rebuild_swaps_the_alias_to_a_new_index(local, cluster):
    client = connect(cluster)
    before = copied(local, cluster)
    first = set(client.indices.get_alias(name=f"{cluster.prefix}-archive"))
    remote = copied(local, cluster)
    second = set(client.indices.get_alias(name=f"{cluster.prefix}-archive"))
    assert first.isdisjoint(second)
    assert len(remote) == len(local)
    terms = analyze(QUESTIONS[0])
    assert keyed(before, before.top(terms, 3)) == keyed(local, local.top(terms, 3)), "one opened before still answers"
    with OpenSearchWriter(client, cluster):  # the next writer removes the index no alias names
        pass
    assert not client.indices.exists(index=",".join(first))
    assert set(client.indices.get_alias(name=f"{cluster.prefix}-archive")) == second


def test_a_refused_bulk_write_is_reported_and_commits_nothing(local, cluster):
    before = copied(local, cluster)
    client = connect(cluster)
    alias = f"{cluster.prefix}-archive"
    client.indices.put_settings(index=alias, body={"index.blocks.write": True})
    try:
        with pytest.raises(IndexWriteError, match="refused 1 documents"):
            update(cluster, [("quake", "Quake", "An earthquake shook the valley.")], frozenset())
    finally:
        client.indices.put_settings(index=alias, body={"index.blocks.write": None})
    assert open_archive(cluster).generation == before.generation
    assert open_archive(cluster).document_frequency("earthquak") == 0


def test_no_archive_and_no_cluster_are_one_line_errors(cluster):
    with pytest.raises(IndexNotFound, match="no archive"):
        open_archive(cluster)
    gone = ClusterConfig(urls=("http://newsbot:s3cret@127.0.0.1:9",), prefix=cluster.prefix, timeout=2)
    with pytest.raises(ArchiveUnavailable) as caught:
        open_archive(gone)
    assert "cannot be reached" in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_command_line_copies_an_index_and_answers_from_the_cluster(local, cluster, cli, tmp_path):
    env = {"ARTICLES_DIR": str(tmp_path / "articles"), "INDEX_DIR": str(tmp_path / "index"), "SEMANTIC_ANSWERS": "0"}
    on_cluster = {**env, "SEARCH_BACKEND": "opensearch", "OPENSEARCH_URL": ",".join(cluster.urls),
                  "OPENSEARCH_INDEX_PREFIX": cluster.prefix, "OPENSEARCH_REPLICAS": "0"}  # fmt: skip
    copied_ = cli("backend", "copy", cwd=tmp_path, env=on_cluster)
    assert copied_.code == 0, copied_.stderr
    assert f"{cluster.prefix}-archive: 4 articles, {len(local)} passages, generation 1" in copied_.stdout
    for question in QUESTIONS[:3]:
        here = cli("ask", question, cwd=tmp_path, env=env)
        there = cli("ask", question, cwd=tmp_path, env=on_cluster)
        assert (there.code, there.stdout) == (0, here.stdout)
    assert cli("search", "storm", cwd=tmp_path, env=on_cluster).stdout == cli("search", "storm", cwd=tmp_path,
                                                                             env=env).stdout  # fmt: skip
    status = cli("backend", "status", cwd=tmp_path, env=on_cluster)
    assert status.stdout == copied_.stdout.splitlines()[-1] + "\n"


def test_the_command_line_says_in_one_line_that_the_cluster_is_unreachable(cli, tmp_path):
    env = {"SEARCH_BACKEND": "opensearch", "OPENSEARCH_URL": "http://127.0.0.1:9", "OPENSEARCH_USERNAME": "newsbot",
           "OPENSEARCH_PASSWORD": "hunter2", "OPENSEARCH_TIMEOUT": "2", "LOG_LEVEL": "DEBUG"}  # fmt: skip
    result = cli("ask", "Where did the storm flood?", cwd=tmp_path, env=env)
    assert result.code == 2
    assert result.stderr.startswith("newsbot: the OpenSearch cluster at http://127.0.0.1:9 cannot be reached")
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr


def test_newsbot_index_builds_the_clusters_archive_incrementally(cluster, cli, tmp_path):
    articles = tmp_path / "articles"
    articles.mkdir()
    for name, text in STORIES.items():
        (articles / name).write_text(text)
    env = {"ARTICLES_DIR": str(articles), "OPENSEARCH_URL": ",".join(cluster.urls), "SEMANTIC_ANSWERS": "0",
           "OPENSEARCH_INDEX_PREFIX": cluster.prefix, "OPENSEARCH_REPLICAS": "0"}  # fmt: skip
    first = cli("index", "--backend", "opensearch", cwd=tmp_path, env=env)
    assert first.code == 0, first.stderr
    assert "Changed articles: 4 added, 0 changed, 0 removed" in first.stdout
    assert f"into {cluster.prefix}-archive at {cluster.urls[0]}" in first.stdout
    (articles / "quake.txt").write_text("Title: Quake shakes the valley\n\nAn earthquake shook the valley at dawn.")
    second = cli("index", "--backend", "opensearch", cwd=tmp_path, env=env)
    assert "Changed articles: 1 added, 0 changed, 0 removed" in second.stdout
    assert "5 articles" in second.stdout
    assert open_archive(cluster).generation == 2, "an update, not a rebuild"
    answer = cli("ask", "What shook the valley?", cwd=tmp_path, env={**env, "SEARCH_BACKEND": "opensearch"})
    assert "An earthquake shook the valley at dawn." in answer.stdout
    assert not (tmp_path / "var").exists(), "nothing was written to a local index"


async def test_the_command_lines_feeds_and_fetch_write_into_the_cluster(cluster, site, tmp_path, cli):
    from .feed_server import HTML, article_page
    from .test_bot_news import TOLLS, VOTE, FeedCLI, publish

    newsbot = FeedCLI(tmp_path, cli)
    newsbot.env.update({"SEARCH_BACKEND": "opensearch", "OPENSEARCH_URL": ",".join(cluster.urls),
                        "OPENSEARCH_INDEX_PREFIX": cluster.prefix, "OPENSEARCH_REPLICAS": "0"})  # fmt: skip
    publish(site, "/harbour.rss", [("tolls", *TOLLS)])
    site.serve("/news/vote.html", article_page(VOTE[0], VOTE[1]), content_type=HTML)
    result = await newsbot("feeds", "add", site.url("/harbour.rss"), "--name", "Harbour Times")
    assert "Following feed #1 (Harbour Times): it lists 1 item, 1 new story." in result.stdout, result.stderr
    assert "The index has 1 article (1 added, 0 changed)." in result.stdout
    result = await newsbot("fetch", site.url("/news/vote.html"))
    assert "Added 'Council votes on harbour bridge tolls'" in result.stdout
    assert "The index has 2 articles (1 added, 0 changed)." in result.stdout
    assert open_archive(cluster).article_count == 2
    assert not (tmp_path / "index").exists(), "the local index was not touched"


def test_a_search_some_shards_failed_is_the_cluster_failing_not_an_answer():
    """A node killed mid-question (issue 17's fault test, seen once in CI): the cluster answered from the shards
    left, the question was declined as if the archive had nothing. A partial answer is a failure to retry."""
    config = ClusterConfig(urls=("http://127.0.0.1:9",))
    partial = {"_shards": {"total": 3, "successful": 2, "failed": 1}, "hits": {"hits": []}}
    with pytest.raises(ArchiveUnavailable, match="only part of the archive \\(1 of 3 shards failed\\)"):
        whole(config, "searching", partial)
    with pytest.raises(ArchiveUnavailable, match="failed while counting terms \\(HTTP 503\\)"):
        whole(config, "counting terms", {"error": {"type": "search_phase_execution_exception"}, "status": 503})
    complete = {"_shards": {"total": 3, "successful": 3, "failed": 0}, "hits": {"hits": []}}
    assert whole(config, "searching", complete) is complete
