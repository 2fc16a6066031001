"""Shared fixtures: the shipped knowledge, loaded once, and an engine with a fixed clock; the
fake Bot API; the headless browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from bot.engine import Engine
from bot.kb import TZ, Knowledge, load_knowledge
from tests.fake_bot_api import FakeBotApi
from tests.paths import ROOT
from tests.web_helpers import chromium

FIXED_NOW = datetime(2022, 9, 1, 10, 0, tzinfo=TZ)  # before the ceremony and the expo


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge(ROOT / "knowledge")


@pytest.fixture(scope="session")
def engine(knowledge: Knowledge) -> Engine:
    return Engine(knowledge, clock=lambda: FIXED_NOW)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """A fresh fake Telegram Bot API on 127.0.0.1."""
    async with FakeBotApi() as api:
        yield api


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium, one per test module."""
    async with chromium() as launched:
        yield launched
