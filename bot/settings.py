"""Settings from the environment (and an optional ``.env`` file), checked once at start-up.

A wrong value stops the bot with one line naming the variable, instead of failing later in
the middle of a conversation. Secrets are only ever read from here and never printed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.limits import parse_networks

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_KNOWLEDGE = Path(__file__).resolve().parent / "knowledge"  # inside an installed wheel


def _default_knowledge() -> Path:
    """A checkout's own ``knowledge/`` (what staff edit), else the copy shipped in the package.

    A checkout is recognised by its ``pyproject.toml`` beside ``knowledge/``; an installed
    package sits in ``site-packages``, where neither is."""
    if (ROOT / "pyproject.toml").is_file() and (ROOT / "knowledge").is_dir():
        return ROOT / "knowledge"
    return SHIPPED_KNOWLEDGE


def default_data_dir() -> Path:
    """``./data`` under the current directory: never inside the installed package."""
    return Path.cwd() / "data"


DEFAULT_KNOWLEDGE = _default_knowledge()
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """One wrong setting, with the variable's name in the message."""


@dataclass(frozen=True)
class Settings:
    knowledge_dir: Path = DEFAULT_KNOWLEDGE
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "INFO"
    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_base_url: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    admin_ids: frozenset[int] = frozenset()
    reminder_time: str = "10:00"
    signups_per_client_per_day: int = 3  # bookings + waiting places per client address; 0 = off
    rate_limit_per_minute: int = 60  # requests to /api/* per client address; 0 = off
    trusted_proxies: str = ""  # whose X-Forwarded-For to believe (addresses or networks)
    misses_retention_days: int = 180  # how long questions kept for review are kept
    max_concurrent_requests: int = 1000  # requests handled at once (more wait their turn)
    database_url: str | None = field(default=None, repr=False)  # postgresql://… (a password)
    wechat_token: str | None = field(default=None, repr=False)
    wechat_app_id: str | None = None
    wechat_app_secret: str | None = field(default=None, repr=False)
    wechat_aes_key: str | None = field(default=None, repr=False)  # set: safe mode (AES)
    wechat_api_base_url: str = "https://api.weixin.qq.com"

    @property
    def database(self) -> Path | str:
        """Where bookings, sign-up dialogues and the outbox live: the PostgreSQL URL of
        ``DATABASE_URL``, else the SQLite file in DATA_DIR."""
        return self.database_url or self.data_dir / "bot.sqlite3"

    @property
    def shared_database(self) -> bool:
        """PostgreSQL: several replicas may share it (webhook only, shared limits)."""
        return self.database_url is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None,
                 dotenv: Path | None = None) -> Settings:
        values = dict(read_dotenv(dotenv if dotenv is not None else Path.cwd() / ".env"))
        values.update(os.environ if env is None else env)

        def get(name: str) -> str | None:
            value = values.get(name, "").strip()
            return value or None

        token = get("TELEGRAM_BOT_TOKEN")
        if token and not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
            raise SettingsError("TELEGRAM_BOT_TOKEN does not look like a bot token "
                                "(digits, a colon, then letters; ask @BotFather)")
        secret = get("TELEGRAM_WEBHOOK_SECRET")
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise SettingsError("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of "
                                "A-Z, a-z, 0-9, _ and -")
        webhook = get("TELEGRAM_WEBHOOK_URL")
        if webhook and not webhook.startswith("https://"):
            raise SettingsError("TELEGRAM_WEBHOOK_URL must start with https://")
        if webhook and not secret:
            raise SettingsError("TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL")
        base = get("TELEGRAM_API_BASE_URL")
        if base and not re.fullmatch(r"https?://\S+", base):
            raise SettingsError("TELEGRAM_API_BASE_URL must be an http(s) URL, "
                                "e.g. http://127.0.0.1:8081/bot")
        port_text = get("PORT") or "8080"
        if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise SettingsError(f"PORT must be a number from 0 to 65535, not '{port_text}'")
        level = (get("LOG_LEVEL") or "INFO").upper()
        if level not in _LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}")
        admins = set()
        for part in re.split(r"[,\s]+", get("ADMIN_IDS") or ""):
            if not part:
                continue
            if not re.fullmatch(r"-?\d+", part):
                raise SettingsError(f"ADMIN_IDS must be Telegram user ids separated by commas; "
                                    f"'{part}' is not a number")
            admins.add(int(part))
        reminder = get("REMINDER_TIME") or "10:00"
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", reminder):
            raise SettingsError("REMINDER_TIME must be HH:MM (24-hour, Asia/Shanghai)")
        numbers = {name: _count(get, name, default) for name, default in (
            ("SIGNUPS_PER_CLIENT_PER_DAY", 3), ("RATE_LIMIT_PER_MINUTE", 60),
            ("MISSES_RETENTION_DAYS", 180), ("MAX_CONCURRENT_REQUESTS", 1000))}
        database_url = get("DATABASE_URL")
        if database_url and not re.fullmatch(r"postgres(ql)?://\S+", database_url):
            raise SettingsError("DATABASE_URL must be postgresql://user:password@host/database "
                                "(leave it empty for the SQLite file in DATA_DIR)")
        if database_url and token and not webhook:
            raise SettingsError("TELEGRAM_WEBHOOK_URL is required with DATABASE_URL: replicas "
                                "sharing a PostgreSQL database cannot all poll Telegram "
                                "(only one may), so Telegram updates must come by webhook")
        proxies = get("TRUSTED_PROXIES") or ""
        try:
            parse_networks(proxies)
        except ValueError:
            raise SettingsError("TRUSTED_PROXIES must be IP addresses or networks separated by "
                                "commas, e.g. 127.0.0.1, 10.0.0.0/8") from None
        if numbers["MISSES_RETENTION_DAYS"] < 1:
            raise SettingsError("MISSES_RETENTION_DAYS must be at least 1")
        if numbers["MAX_CONCURRENT_REQUESTS"] < 1:
            raise SettingsError("MAX_CONCURRENT_REQUESTS must be at least 1")
        wechat = _wechat(get)
        return cls(
            knowledge_dir=Path(get("KNOWLEDGE_DIR") or DEFAULT_KNOWLEDGE),
            data_dir=Path(get("DATA_DIR") or default_data_dir()),
            host=get("HOST") or "127.0.0.1",
            port=int(port_text),
            log_level=level,
            telegram_token=token,
            telegram_api_base_url=base,
            telegram_webhook_url=webhook,
            telegram_webhook_secret=secret,
            admin_ids=frozenset(admins),
            reminder_time=reminder,
            signups_per_client_per_day=numbers["SIGNUPS_PER_CLIENT_PER_DAY"],
            rate_limit_per_minute=numbers["RATE_LIMIT_PER_MINUTE"],
            trusted_proxies=proxies,
            misses_retention_days=numbers["MISSES_RETENTION_DAYS"],
            max_concurrent_requests=numbers["MAX_CONCURRENT_REQUESTS"],
            database_url=database_url,
            **wechat,
        )


def _count(get: Callable[[str], str | None], name: str, default: int) -> int:
    """A whole number of 0 or more (0 usually turns the limit off)."""
    text = get(name)
    if text is None:
        return default
    if not text.isdigit():
        raise SettingsError(f"{name} must be a whole number (0 or more), not '{text}'")
    return int(text)


def _wechat(get: Callable[[str], str | None]) -> dict[str, str | None]:
    """The WeChat Official Account settings, all checked when WECHAT_TOKEN is set."""
    token = get("WECHAT_TOKEN")
    base = get("WECHAT_API_BASE_URL") or "https://api.weixin.qq.com"
    if not re.fullmatch(r"https?://\S+", base):
        raise SettingsError("WECHAT_API_BASE_URL must be an http(s) URL, "
                            "e.g. https://api.weixin.qq.com")
    if not token:
        return {"wechat_api_base_url": base}
    if not re.fullmatch(r"[A-Za-z0-9]{3,32}", token):
        raise SettingsError("WECHAT_TOKEN must be 3-32 letters and digits (as set in the "
                            "Official Account's server configuration)")
    app_id = get("WECHAT_APP_ID")
    if not app_id or not re.fullmatch(r"wx[0-9A-Za-z]{16}", app_id):
        raise SettingsError("WECHAT_APP_ID must be the account's AppID (wx and 16 letters or "
                            "digits) when WECHAT_TOKEN is set")
    secret = get("WECHAT_APP_SECRET")
    if not secret or not re.fullmatch(r"[0-9A-Za-z]{32}", secret):
        raise SettingsError("WECHAT_APP_SECRET must be the account's AppSecret (32 letters or "
                            "digits) when WECHAT_TOKEN is set")
    aes = get("WECHAT_AES_KEY")
    if aes and not re.fullmatch(r"[A-Za-z0-9]{43}", aes):
        raise SettingsError("WECHAT_AES_KEY must be the 43-character EncodingAESKey "
                            "(letters and digits), or empty for plain mode")
    return {"wechat_token": token, "wechat_app_id": app_id, "wechat_app_secret": secret,
            "wechat_aes_key": aes, "wechat_api_base_url": base}


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=value lines; '#' comments and blank lines ignored; quotes around values removed."""
    if not path.is_file():
        return {}
    out = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip().removeprefix("export ").strip()] = value
    return out
