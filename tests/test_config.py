"""Settings: every problem reported at once, the token never echoed, `newsbot run` exits 2."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import database_password, load_settings, sqlite_path, without_password
from bot.errors import ConfigError

from .cli_harness import run_process
from .conftest import ROOT

GOOD_TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"


def test_defaults():
    settings = load_settings({})
    assert str(settings.articles_dir) == "seeds"
    assert str(settings.index_dir) == "var/index"
    assert settings.questions_per_minute == 5
    assert settings.allowed_chat_ids is None


def test_all_values_parsed():
    settings = load_settings(
        {
            "TELEGRAM_BOT_TOKEN": GOOD_TOKEN,
            "ADMIN_USER_IDS": "1, 2,3",
            "ALLOWED_CHAT_IDS": "-100,5",
            "QUESTIONS_PER_MINUTE": "7",
            "LOG_LEVEL": "debug",
            "WEBHOOK_URL": "https://bot.example/hook",
            "WEBHOOK_SECRET_TOKEN": "s3cret_-",
            "DEFAULT_TIMEZONE": "Europe/Istanbul",
        },
        require_token=True,
    )
    assert settings.admin_user_ids == {1, 2, 3}
    assert settings.allowed_chat_ids == {-100, 5}
    assert (settings.questions_per_minute, settings.log_level) == (7, "DEBUG")
    assert GOOD_TOKEN not in repr(settings)


def test_every_problem_is_listed_once():
    bad_token = "123456:short-secret"
    with pytest.raises(ConfigError) as info:
        load_settings(
            {
                "TELEGRAM_BOT_TOKEN": bad_token,
                "ADMIN_USER_IDS": "12,alice",
                "QUESTIONS_PER_MINUTE": "lots",
                "LOG_LEVEL": "LOUD",
                "WEBHOOK_URL": "ftp://x",
                "WEBHOOK_PORT": "99999",
                "TELEGRAM_BASE_URL": "localhost:8081",
                "DEFAULT_TIMEZONE": "Mars/Base",
            },
            require_token=True,
        )
    message = str(info.value)
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "ADMIN_USER_IDS: 'alice'",
        "QUESTIONS_PER_MINUTE",
        "LOG_LEVEL",
        "WEBHOOK_URL",
        "WEBHOOK_PORT",
        "TELEGRAM_BASE_URL",
        "DEFAULT_TIMEZONE",
    ):
        assert name in message
    assert "short-secret" not in message


def test_run_without_token_exits_2(tmp_path):
    out = run_process("run", cwd=tmp_path, env={"ADMIN_USER_IDS": "x"})
    assert out.returncode == 2
    assert "TELEGRAM_BOT_TOKEN: missing" in out.stderr
    assert "ADMIN_USER_IDS: 'x' is not a numeric Telegram id" in out.stderr
    assert "Traceback" not in out.stderr


def test_env_example_and_readme_list_every_setting():
    import re

    source = (ROOT / "bot" / "config.py").read_text(encoding="utf-8")
    read = set(re.findall(r'get\("([A-Z_]+)"\)', source))
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    assert read == listed
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in read), sorted(n for n in read if f"`{n}`" not in readme)


def test_the_state_is_the_sqlite_file_in_data_dir_unless_database_url_names_another():
    assert load_settings({}).state_url == "sqlite:///var/newsbot.sqlite3"
    assert load_settings({"DATA_DIR": "/srv/newsbot"}).state_url == "sqlite:////srv/newsbot/newsbot.sqlite3"
    assert sqlite_path(load_settings({"DATA_DIR": "/srv/newsbot"}).state_url) == Path("/srv/newsbot/newsbot.sqlite3")
    assert sqlite_path(load_settings({"DATABASE_URL": "sqlite:///state/bot.sqlite3"}).state_url) == Path(
        "state/bot.sqlite3"
    ), "relative to the working folder"
    url = "postgresql://newsbot:pa%40ss@db.example.com:5432/newsbot?sslmode=require"
    settings = load_settings({"DATABASE_URL": url})
    assert settings.state_url == url
    assert sqlite_path(url) is None
    assert "pa%40ss" not in repr(settings)
    assert load_settings({"DATABASE_URL": "postgres://db/newsbot"}).state_url == "postgres://db/newsbot"


def test_a_database_url_is_shown_without_its_password():
    assert without_password("postgresql://newsbot:pa%40ss@db:5432/newsbot?sslmode=require") == (
        "postgresql://newsbot@db:5432/newsbot?sslmode=require"
    )
    assert without_password("postgres://db/newsbot?password=hunter2&connect_timeout=5") == (
        "postgres://db/newsbot?connect_timeout=5"
    )
    assert without_password("postgresql:///newsbot?host=/run/postgresql") == "postgresql:///newsbot?host=/run/postgresql"
    assert database_password("postgresql://newsbot:pa%40ss@db/newsbot") == "pa%40ss"
    assert database_password("postgres://db/newsbot?password=hunter2") == "hunter2"
    assert database_password("postgresql://db/newsbot") is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("mysql://root:hunter2@db/newsbot", "'mysql'… is neither sqlite:///PATH", id="other-engine"),
        pytest.param("var/newsbot.sqlite3", "is neither sqlite:///PATH", id="a-bare-path"),
        pytest.param("sqlite:///", "sqlite:/// needs the file's path", id="no-path"),
        pytest.param("postgresql://newsbot:hunter2@db:port/newsbot", "'postgresql://newsbot@db:port/newsbot' is not a "
                     "valid URL", id="bad-port"),
    ],
)
def test_a_malformed_database_url_is_one_problem_that_never_echoes_the_password(url, expected):
    with pytest.raises(ConfigError) as info:
        load_settings({"DATABASE_URL": url})
    assert expected in str(info.value)
    assert "hunter2" not in str(info.value)


def test_the_database_password_is_redacted_from_every_log_record(caplog):
    from bot.app import redact_secrets

    redact_secrets(database_url="postgresql://newsbot:s3cr%2Ft-pw@db:5432/newsbot")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("bot.state").debug("connecting to postgresql://newsbot:s3cr%2Ft-pw@db:5432/newsbot")
        logging.getLogger("bot").warning("the password was %s", "s3cr/t-pw")
    assert "s3cr" not in caplog.text
    assert caplog.text.count("[password]") == 2


def test_the_opensearch_backend_reads_its_cluster_settings():
    assert load_settings({}).search_backend == "local"
    assert load_settings({}).opensearch is None
    settings = load_settings({
        "SEARCH_BACKEND": "opensearch", "OPENSEARCH_URL": "https://a:9200, https://b:9200/",
        "OPENSEARCH_USERNAME": "newsbot", "OPENSEARCH_PASSWORD": "hunter2", "OPENSEARCH_INDEX_PREFIX": "news",
        "OPENSEARCH_SHARDS": "3", "OPENSEARCH_REPLICAS": "2", "OPENSEARCH_TIMEOUT": "5",
    })  # fmt: skip
    cluster = settings.opensearch
    assert cluster is not None
    assert cluster.urls == ("https://a:9200", "https://b:9200")
    assert (cluster.username, cluster.password, cluster.prefix) == ("newsbot", "hunter2", "news")
    assert (cluster.shards, cluster.replicas, cluster.timeout, cluster.verify_certs) == (3, 2, 5.0, True)
    assert "hunter2" not in repr(settings)


def test_opensearch_settings_problems_are_listed_without_the_password():
    with pytest.raises(ConfigError) as info:
        load_settings({"SEARCH_BACKEND": "elastic"})
    assert "SEARCH_BACKEND: 'elastic' is not one of local, opensearch" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_settings({"SEARCH_BACKEND": "opensearch"})
    assert "OPENSEARCH_URL: missing" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_settings({
            "SEARCH_BACKEND": "opensearch", "OPENSEARCH_URL": "ftp://user:hunter2@a", "OPENSEARCH_PASSWORD": "x",
            "OPENSEARCH_VERIFY_CERTS": "maybe", "OPENSEARCH_CA_CERTS": "/no/such/ca.pem",
        })  # fmt: skip
    message = str(info.value)
    assert "hunter2" not in message
    assert "is not an http:// or https:// URL" in message
    assert "OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD: give both or neither" in message
    assert "OPENSEARCH_VERIFY_CERTS: 'maybe'" in message
    assert "OPENSEARCH_CA_CERTS: '/no/such/ca.pem'" in message
