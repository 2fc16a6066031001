"""Shared by the web tests: the real app, served over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache

from aiohttp import web

from bot.app import create_app
from bot.engine import Engine
from bot.kb import load_knowledge
from bot.settings import Settings
from tests.paths import ROOT


@cache
def shipped_engine() -> Engine:
    """The engine over the shipped knowledge, built once per test process (about a second)."""
    return Engine(load_knowledge(ROOT / "knowledge"))


def make_app() -> web.Application:
    settings = Settings(knowledge_dir=ROOT / "knowledge", host="127.0.0.1", port=0,
                        telegram_token=None)
    return create_app(settings, shipped_engine())


@asynccontextmanager
async def serve(app: web.Application | None = None) -> AsyncIterator[tuple[str, web.Application]]:
    """Run the app on a free port; yield its base URL (``http://127.0.0.1:<port>``) and the app."""
    app = app if app is not None else make_app()
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}", app
    finally:
        await runner.cleanup()
