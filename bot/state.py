"""The application's state: everything a request handler or a channel may need, in one place.

Its own module, below the wiring (:mod:`bot.app`) and the channels: a channel or
:mod:`bot.metrics` reads ``app[STATE]`` without importing the module that imports it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from bot.conversation import Conversation
from bot.dialogue import Dialogue
from bot.engine import Engine
from bot.insights import Recorder
from bot.kb import Knowledge
from bot.limits import Network, RateLimit, SignedSessions, TokenBucket, parse_networks
from bot.reload import KnowledgeWatcher
from bot.settings import Settings
from bot.store import Store

if TYPE_CHECKING:  # the type only: bot.metrics reads this state
    from bot.metrics import Metrics

QUESTIONS_AT_ONCE = 8  # web questions handled at once (a flood waits its turn in front)


@dataclass
class AppState:
    """Everything a request handler may need, stored once on the aiohttp application."""

    settings: Settings
    engine: Engine
    started: float = field(default_factory=time.time)
    loaded_at: float = field(default_factory=time.time)
    conversation: Conversation = field(init=False)
    store: Store | None = None  # opened by the storage cleanup context at start-up
    dialogue: Dialogue | None = None  # the open-day sign-up, once the store is open
    recorder: Recorder | None = None  # statistics and misses for review, once the store is open
    # Told (once per broken version) when edited knowledge cannot be loaded: the Telegram
    # channel appends a callback that messages the admins.
    notify_admins: list[Callable[[str], Awaitable[None]]] = field(default_factory=list)
    watcher: KnowledgeWatcher | None = None  # live reload; ``await watcher.reload()`` = /reload
    metrics: Metrics | None = None  # set by bot.metrics.setup
    sessions: SignedSessions | None = None  # issues the web sessions, once the data folder is open
    rate_limit: RateLimit = field(init=False)  # /api/* requests per client address
    trusted_proxies: tuple[Network, ...] = field(init=False)
    health_checked: float = float("-inf")  # when /healthz last wrote to the database
    # Web questions answered at once; sign-up steps pass by (bot.channels.web._turn).
    questions_gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(
        QUESTIONS_AT_ONCE))

    def __post_init__(self) -> None:
        self.conversation = Conversation(lambda: self.engine)
        self.rate_limit = TokenBucket(self.settings.rate_limit_per_minute)
        self.trusted_proxies = parse_networks(self.settings.trusted_proxies)

    @property
    def knowledge(self) -> Knowledge:
        return self.engine.knowledge


STATE = web.AppKey("state", AppState)




__all__ = ["QUESTIONS_AT_ONCE", "STATE", "AppState"]
