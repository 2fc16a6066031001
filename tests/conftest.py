"""Shared fixtures: the shipped knowledge, loaded once, and an engine with a fixed clock."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.engine import Engine
from bot.kb import TZ, Knowledge, load_knowledge
from tests.paths import ROOT

FIXED_NOW = datetime(2022, 9, 1, 10, 0, tzinfo=TZ)  # before the ceremony and the expo


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge(ROOT / "knowledge")


@pytest.fixture(scope="session")
def engine(knowledge: Knowledge) -> Engine:
    return Engine(knowledge, clock=lambda: FIXED_NOW)
