"""Settings: a wrong value stops start-up with one clear line naming it, never the secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError
from tests.paths import ROOT


def test_defaults_serve_the_web_chat_on_localhost(tmp_path: Path) -> None:
    settings = Settings.from_env({}, dotenv=tmp_path / "missing.env")
    assert (settings.host, settings.port, settings.telegram_token) == ("127.0.0.1", 8080, None)


def test_abuse_limits_default_and_can_be_turned_off(tmp_path: Path) -> None:
    settings = Settings.from_env({}, dotenv=tmp_path / "missing.env")
    assert (settings.signups_per_client_per_day, settings.rate_limit_per_minute,
            settings.misses_retention_days, settings.trusted_proxies) == (3, 60, 180, "")
    off = Settings.from_env({"SIGNUPS_PER_CLIENT_PER_DAY": "0", "RATE_LIMIT_PER_MINUTE": "0",
                             "TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8 ::1"},
                            dotenv=tmp_path / "missing.env")
    assert (off.signups_per_client_per_day, off.rate_limit_per_minute) == (0, 0)


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# staff settings\nPORT=9000\nADMIN_IDS='11, 22'\nLOG_LEVEL=debug\n",
                      encoding="utf-8")
    settings = Settings.from_env({"PORT": "9100"}, dotenv=dotenv)
    assert settings.port == 9100 and settings.admin_ids == {11, 22} and settings.log_level == "DEBUG"


@pytest.mark.parametrize(("env", "named"), [
    ({"PORT": "eighty"}, "PORT"),
    ({"ADMIN_IDS": "12,bob"}, "ADMIN_IDS"),
    ({"TELEGRAM_BOT_TOKEN": "not a token"}, "TELEGRAM_BOT_TOKEN"),
    ({"TELEGRAM_WEBHOOK_URL": "http://example.org/hook"}, "TELEGRAM_WEBHOOK_URL"),
    ({"TELEGRAM_WEBHOOK_URL": "https://example.org/hook"}, "TELEGRAM_WEBHOOK_SECRET"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ({"REMINDER_TIME": "25:00"}, "REMINDER_TIME"),
    ({"SIGNUPS_PER_CLIENT_PER_DAY": "-1"}, "SIGNUPS_PER_CLIENT_PER_DAY"),
    ({"RATE_LIMIT_PER_MINUTE": "lots"}, "RATE_LIMIT_PER_MINUTE"),
    ({"TRUSTED_PROXIES": "10.0.0.0/8, proxy.local"}, "TRUSTED_PROXIES"),
    ({"MISSES_RETENTION_DAYS": "0"}, "MISSES_RETENTION_DAYS"),
    ({"MAX_CONCURRENT_REQUESTS": "0"}, "MAX_CONCURRENT_REQUESTS"),
])
def test_a_wrong_setting_is_named(tmp_path: Path, env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env, dotenv=tmp_path / "missing.env")


def test_start_up_stops_with_one_line_and_no_secret(tmp_path: Path) -> None:
    secret = "123456:SECRET-never-print-me"
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": secret, "PORT": "eighty", "DATA_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "run_bot.py"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "PORT" in run.stderr
    assert secret not in run.stdout + run.stderr


def test_postgresql_selects_the_shared_store_and_refuses_telegram_polling(tmp_path: Path) -> None:
    missing = tmp_path / "missing.env"
    url = "postgresql://qqm:s3cret-pw@db.internal/qqm"
    settings = Settings.from_env({"DATABASE_URL": url}, dotenv=missing)
    assert settings.database == url and settings.shared_database
    assert "s3cret-pw" not in repr(settings)
    assert Settings.from_env({}, dotenv=missing).database == Path.cwd() / "data" / "bot.sqlite3"
    with pytest.raises(SettingsError, match="DATABASE_URL must be postgresql://"):
        Settings.from_env({"DATABASE_URL": "mysql://x/y"}, dotenv=missing)
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_URL is required with DATABASE_URL"):
        Settings.from_env({"DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": "123:abc"}, dotenv=missing)
    webhook = Settings.from_env({"DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": "123:abc",
                                 "TELEGRAM_WEBHOOK_URL": "https://bot.example/tg",
                                 "TELEGRAM_WEBHOOK_SECRET": "x"}, dotenv=missing)
    assert webhook.telegram_webhook_url == "https://bot.example/tg"


def test_polling_with_postgresql_stops_start_up_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://qqm:s3cret-pw@127.0.0.1:1/qqm",
           "TELEGRAM_BOT_TOKEN": "123:abc", "DATA_DIR": str(tmp_path)}
    env.pop("TELEGRAM_WEBHOOK_URL", None)
    done = subprocess.run([sys.executable, str(ROOT / "run_bot.py")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "TELEGRAM_WEBHOOK_URL is required" in lines[0], done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout


def test_an_unreachable_postgresql_stops_start_up_without_the_password(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://qqm:s3cret-pw@127.0.0.1:1/qqm",
           "DATA_DIR": str(tmp_path), "PORT": "0"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    done = subprocess.run([sys.executable, str(ROOT / "run_bot.py")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Cannot start: database postgresql://qqm:***@127.0.0.1:1/qqm cannot be reached" \
        in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout
