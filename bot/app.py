"""Wiring: settings → knowledge → engine → conversation → channels, in one aiohttp server.

With no Telegram token the server is the web chat and the JSON API alone (the embedded
default); with one, the Telegram bot runs in the same process and event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from bot.conversation import Conversation
from bot.dialogue import Dialogue, Scheduler, open_day_of
from bot.engine import Engine
from bot.kb import Knowledge, KnowledgeError, load_knowledge
from bot.settings import Settings
from bot.store import Store

log = logging.getLogger("bot")


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

    def __post_init__(self) -> None:
        self.conversation = Conversation(lambda: self.engine)

    @property
    def knowledge(self) -> Knowledge:
        return self.engine.knowledge


STATE = web.AppKey("state", AppState)


def create_app(settings: Settings, engine: Engine) -> web.Application:
    from bot.channels import web as web_channel

    # The API handlers cap their own bodies at 16 KB; Telegram updates may be larger.
    app = web.Application(client_max_size=1024 * 1024)
    app[STATE] = AppState(settings, engine)
    app.cleanup_ctx.append(storage)  # first: the channels' start-up may use the store
    web_channel.setup(app)
    if settings.telegram_token:
        from bot.channels import telegram as telegram_channel

        telegram_channel.setup(app)
    return app


async def storage(app: web.Application) -> AsyncIterator[None]:
    """Open the database (migrating it), give the conversation the sign-up dialogue and run
    the reminder scheduler; on shutdown stop the scheduler and close the database."""
    state = app[STATE]
    try:
        store = await Store.open(state.settings.database)
    except Exception as exc:
        log.error("cannot open the database %s: %s", state.settings.database, exc)
        raise
    state.store = store
    state.dialogue = Dialogue(store, lambda: open_day_of(state.engine.knowledge),
                              reminder_time=state.settings.reminder_time)
    state.conversation.dialogue = state.dialogue
    scheduler = asyncio.create_task(Scheduler(state.dialogue).run(), name="open-day scheduler")
    try:
        yield
    finally:
        scheduler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await scheduler
        state.conversation.dialogue = None
        state.dialogue = None
        state.store = None
        await store.close()


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL, and Telegram URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def serve(settings: Settings) -> int:
    """Run until SIGINT/SIGTERM; the knowledge must be valid to start."""
    configure_logging(settings.log_level)
    try:
        knowledge = load_knowledge(settings.knowledge_dir)
    except KnowledgeError as exc:
        for problem in exc.problems:
            log.error("knowledge: %s", problem)
        print("The knowledge has errors; fix them (python run_bot.py validate) and start again.",
              file=sys.stderr)
        return 2
    app = create_app(settings, Engine(knowledge))
    mode = "web chat + API + Telegram" if settings.telegram_token else "web chat + API"
    print(f"Serving {mode} on http://{settings.host}:{settings.port}/ "
          f"({len(knowledge.entries)} entries, knowledge {knowledge.version})", flush=True)
    web.run_app(app, host=settings.host, port=settings.port, print=None,
                shutdown_timeout=3, handle_signals=True)
    return 0
