"""Settings: every problem reported at once, the token never echoed, `newsbot run` exits 2."""

from __future__ import annotations

import pytest

from bot.config import load_settings
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
