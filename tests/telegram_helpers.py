"""Shared by the Telegram tests: the whole app on 127.0.0.1, its bot talking to the fake Bot API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.app import create_app
from bot.channels.telegram import BOT
from bot.engine import Engine
from bot.settings import Settings
from tests.fake_bot_api import FakeBotApi


@contextlib.asynccontextmanager
async def running(fake: FakeBotApi, engine: Engine, data_dir: Path,
                  **settings: Any) -> AsyncIterator[tuple[web.Application, int]]:
    """The whole server started (storage, scheduler, Telegram polling the fake API or on its
    webhook) on a free port: the app and the port. The outbox is read every 0.1 s, so that
    messages the dialogue queues (reminders, promotions) go out within a test's patience."""
    app = create_app(Settings(telegram_token=fake.token, telegram_api_base_url=fake.base_url,
                              data_dir=data_dir, port=0, **settings), engine)
    app[BOT].outbox_interval = 0.1
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield app, runner.addresses[0][1]
    finally:
        await runner.cleanup()
