"""Wiring: settings → knowledge → engine → conversation → channels, in one aiohttp server.

With no Telegram token the server is the web chat and the JSON API alone (the embedded
default); with one, the Telegram bot runs in the same process and event loop.

At start-up (aiohttp cleanup contexts, in this order): the database is opened, with the
sign-up dialogue, its scheduler and the recorder of questions for statistics and review
(:mod:`bot.insights`); then the knowledge folder is watched (:class:`~bot.reload.
KnowledgeWatcher`, every second): a valid edit replaces ``state.engine``, a broken one is sent
once to every callback in ``state.notify_admins``. ``GET /metrics`` comes from
:mod:`bot.metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from bot.conversation import Conversation
from bot.dialogue import Dialogue, Scheduler, open_day_of
from bot.engine import Engine
from bot.insights import Recorder, load_salt
from bot.kb import Knowledge, KnowledgeError, load_knowledge
from bot.reload import KnowledgeWatcher, ReloadResult
from bot.settings import Settings
from bot.store import Store

if TYPE_CHECKING:
    from bot.metrics import Metrics

RELOAD_INTERVAL = 1.0  # seconds between two looks at the knowledge folder

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
    recorder: Recorder | None = None  # statistics and misses for review, once the store is open
    # Told (once per broken version) when edited knowledge cannot be loaded: the Telegram
    # channel appends a callback that messages the admins.
    notify_admins: list[Callable[[str], Awaitable[None]]] = field(default_factory=list)
    watcher: KnowledgeWatcher | None = None  # live reload; ``await watcher.reload()`` = /reload
    metrics: Metrics | None = None  # set by bot.metrics.setup

    def __post_init__(self) -> None:
        self.conversation = Conversation(lambda: self.engine)

    @property
    def knowledge(self) -> Knowledge:
        return self.engine.knowledge


STATE = web.AppKey("state", AppState)


def create_app(settings: Settings, engine: Engine) -> web.Application:
    from bot import metrics
    from bot.channels import web as web_channel

    # The API handlers cap their own bodies at 16 KB; Telegram updates may be larger.
    app = web.Application(client_max_size=1024 * 1024)
    app[STATE] = AppState(settings, engine)
    app.cleanup_ctx.append(storage)  # first: the channels' start-up may use the store
    app.cleanup_ctx.append(live_reload)
    metrics.setup(app)
    web_channel.setup(app)
    if settings.telegram_token:
        from bot.channels import telegram as telegram_channel

        telegram_channel.setup(app)
    if settings.wechat_token:  # GET/POST /wechat and the outbox of channel "wechat"
        from bot.channels import wechat as wechat_channel

        wechat_channel.setup(app)
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
    recorder = state.recorder = _recorder(store, state.settings.data_dir)
    state.conversation.recorder = recorder
    scheduler = asyncio.create_task(Scheduler(state.dialogue).run(), name="open-day scheduler")
    flusher = asyncio.create_task(recorder.run(), name="question counts") if recorder else None
    try:
        yield
    finally:
        for task in (scheduler, flusher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        state.conversation.recorder = None
        state.recorder = None
        if recorder is not None:
            try:
                await recorder.flush()
            except Exception:
                log.exception("could not write the last question counts")
        state.conversation.dialogue = None
        state.dialogue = None
        state.store = None
        await store.close()


def _recorder(store: Store, data_dir: Path) -> Recorder | None:
    try:
        return Recorder(store, load_salt(data_dir))
    except (OSError, RuntimeError) as exc:  # answering matters more than the statistics
        log.error("questions are not recorded for statistics and review: %s", exc)
        return None


async def live_reload(app: web.Application) -> AsyncIterator[None]:
    """Watch the knowledge folder: a valid edit swaps ``state.engine``; a broken one is
    reported once per broken version to every callback in ``state.notify_admins``."""
    state = app[STATE]

    def build(directory: Path) -> Engine:  # in a worker thread
        current = state.engine
        try:
            return Engine(load_knowledge(directory), clock=current.clock,
                          thresholds=current.thresholds)
        except Exception:
            if state.metrics is not None:
                state.metrics.knowledge_failed()
            raise

    def loaded(engine: Engine) -> None:
        state.engine = engine
        state.loaded_at = time.time()
        if state.metrics is not None:
            state.metrics.knowledge_reloaded()

    async def broken(result: ReloadResult) -> None:
        text = result.describe()
        for notify in list(state.notify_admins):
            try:
                await notify(text)
            except Exception:
                log.exception("could not tell the admins about the broken knowledge")

    watcher = KnowledgeWatcher(state.settings.knowledge_dir, state.engine.knowledge.version,
                               loaded, broken, build=build, interval=RELOAD_INTERVAL)
    state.watcher = watcher
    task = asyncio.create_task(watcher.run(), name="knowledge watcher")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        state.watcher = None


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
    try:  # bound here so that PORT=0 prints the port really chosen, and a busy port is clear
        sock = socket.create_server((settings.host, settings.port))
    except OSError as exc:
        print(f"Cannot listen on {settings.host}:{settings.port}: {exc.strerror} "
              "(set HOST/PORT to a free address)", file=sys.stderr)
        return 2
    host, port = sock.getsockname()[:2]
    app = create_app(settings, Engine(knowledge))
    mode = "web chat + API + Telegram" if settings.telegram_token else "web chat + API"
    mode += " + WeChat" if settings.wechat_token else ""
    print(f"Serving {mode} on http://{host}:{port}/ "
          f"({len(knowledge.entries)} entries, knowledge {knowledge.version})", flush=True)
    web.run_app(app, sock=sock, print=None, shutdown_timeout=3, handle_signals=True)
    return 0
