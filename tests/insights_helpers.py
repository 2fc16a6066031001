"""Shared by the live-reload, review, statistics and metrics tests: the real app over real HTTP
on 127.0.0.1, with its database and a copy of the knowledge in the test's own folder."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot.app import STATE, AppState, create_app
from bot.engine import Engine
from bot.kb import load_knowledge
from bot.settings import Settings
from tests.paths import ROOT, copy_knowledge
from tests.web_helpers import CookieSessions, serve


def knowledge_copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    copy_knowledge(target)
    return target


def settings_for(tmp_path: Path, knowledge: Path) -> Settings:
    return Settings(knowledge_dir=knowledge, data_dir=tmp_path / "data", host="127.0.0.1",
                    port=0, telegram_token=None)


def save(path: Path, text: str) -> None:
    """Replace a file in one step, as an editor that saves atomically does."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    save(path, text.replace(old, new, 1))


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 5.0,
                     what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        await asyncio.sleep(0.1)


@dataclass
class Client:
    """The API as several people: ``session`` names a person, who keeps the cookie the server
    issued them."""

    base: str
    http: aiohttp.ClientSession
    app: web.Application
    people: CookieSessions = field(default_factory=CookieSessions)

    @property
    def state(self) -> AppState:
        return self.app[STATE]

    async def ask(self, question: str, session: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {"question": question, **extra}
        async with self.http.post(f"{self.base}/api/ask", json=body,
                                  headers=self.people.headers(session)) as response:
            assert response.status == 200, await response.text()
            self.people.remember(session, response)
            return await response.json()

    async def press(self, action: str, session: str | None = None) -> dict[str, Any]:
        body = {"action": action}
        async with self.http.post(f"{self.base}/api/action", json=body,
                                  headers=self.people.headers(session)) as response:
            assert response.status == 200, await response.text()
            self.people.remember(session, response)
            return await response.json()

    async def health(self) -> dict[str, Any]:
        async with self.http.get(f"{self.base}/healthz") as response:
            assert response.status == 200
            return await response.json()

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of ``GET /metrics``: (name, sorted labels) → value."""
        async with self.http.get(f"{self.base}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            text = await response.text()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}


@asynccontextmanager
async def running(settings: Settings, engine: Engine | None = None) -> AsyncIterator[Client]:
    """The real app (storage, live reload, metrics, web channel) on a free port."""
    engine = engine or Engine(load_knowledge(settings.knowledge_dir))
    async with serve(create_app(settings, engine)) as (base, app), \
            aiohttp.ClientSession() as http:
        yield Client(base, http, app)


def run_cli(*args: str, data_dir: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``python run_bot.py …`` in a child process, with DATA_DIR pointing at the test's folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "KNOWLEDGE_"))}
    env.update(DATA_DIR=str(data_dir), PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, str(ROOT / "run_bot.py"), *args], input=stdin,
                          capture_output=True, text=True, encoding="utf-8", env=env, cwd=ROOT,
                          timeout=120, check=False)


def all_text_in_database(path: Path) -> str:
    """Every value of every row of every table, as one string (to look for what must not be
    there)."""
    raw = sqlite3.connect(path)
    try:
        tables = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(repr(row) for table in tables
                         for row in raw.execute(f"SELECT * FROM {table}"))  # noqa: S608
    finally:
        raw.close()
