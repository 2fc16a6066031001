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
import secrets
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from bot import metrics
from bot.channels import telegram as telegram_channel
from bot.channels import web as web_channel
from bot.channels import wechat as wechat_channel
from bot.dialogue import Dialogue, open_day_of
from bot.engine import Engine
from bot.insights import Recorder, load_salt
from bot.kb import KnowledgeError, load_knowledge
from bot.limits import SharedPersonLocks, SharedTokenBucket, SignedSessions
from bot.outbox import Scheduler
from bot.reload import KnowledgeWatcher, ReloadResult
from bot.settings import Settings
from bot.state import QUESTIONS_AT_ONCE, STATE, AppState
from bot.store import Store, StoreError

RELOAD_INTERVAL = 1.0  # seconds between two looks at the knowledge folder
SESSION_KEY_FILE = "web.secret"
# What one connection may cost the server (aiohttp's own settings; see the README's
# deployment notes): the request line and each header at most 8 KB, at most 100 headers, an
# idle keep-alive connection closed after 15 s. Bodies must arrive within
# bot.channels.web.BODY_TIMEOUT; MAX_CONCURRENT_REQUESTS bounds the requests handled at once.
HTTP_LIMITS = {"max_line_size": 8190, "max_field_size": 8190, "max_headers": 100,
               "keepalive_timeout": 15.0}

log = logging.getLogger("bot")

__all__ = ["HTTP_LIMITS", "QUESTIONS_AT_ONCE", "RELOAD_INTERVAL", "STATE", "AppState",
           "configure_logging", "create_app", "limit_connections", "serve"]


def create_app(settings: Settings, engine: Engine) -> web.Application:
    # The API handlers cap their own bodies at 16 KB; Telegram updates may be larger.
    app = web.Application(client_max_size=1024 * 1024)
    app[STATE] = AppState(settings, engine)
    app.cleanup_ctx.append(storage)  # first: the channels' start-up may use the store
    app.cleanup_ctx.append(live_reload)
    metrics.setup(app)
    web_channel.setup(app)
    if settings.telegram_token:
        telegram_channel.setup(app)
    if settings.wechat_token:  # GET/POST /wechat and the outbox of channel "wechat"
        wechat_channel.setup(app)
    return app


async def storage(app: web.Application) -> AsyncIterator[None]:
    """Open the database (migrating it), give the conversation the sign-up dialogue and run
    the reminder scheduler; on shutdown stop the scheduler and close the database."""
    state = app[STATE]
    store = await Store.open(state.settings.database)  # StoreError: serve() says it in one line
    state.store = store
    log.info("database: %s", store.describe())  # a URL without its password
    shared = store.kind == "postgresql"
    if shared:  # replicas: one session key, one salt and one rate limit for all of them
        state.sessions = SignedSessions(await store.shared_secret(SESSION_KEY_FILE, _now()))
        state.rate_limit = SharedTokenBucket(store, state.settings.rate_limit_per_minute)
        state.conversation.locks = SharedPersonLocks(store)  # one person's turns, all replicas
    else:
        state.sessions = _sessions(state.settings.data_dir)
    state.dialogue = Dialogue(store, lambda: open_day_of(state.engine.knowledge),
                              reminder_time=state.settings.reminder_time,
                              signups_per_client=state.settings.signups_per_client_per_day)
    state.conversation.dialogue = state.dialogue
    salt = await store.shared_secret("insights.salt", _now()) if shared else None
    recorder = state.recorder = _recorder(store, state.settings.data_dir,
                                          state.settings.misses_retention_days, salt)
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


def _sessions(data_dir: Path) -> SignedSessions:
    """The web sessions' signing key, kept in DATA_DIR so sessions survive a restart."""
    try:
        return SignedSessions(load_salt(data_dir, SESSION_KEY_FILE))
    except (OSError, RuntimeError) as exc:  # still safe: a key for this process only
        log.error("web sessions will not survive a restart: %s", exc)
        return SignedSessions(secrets.token_bytes(32))


def _now() -> datetime:
    return datetime.now(UTC)


def _recorder(store: Store, data_dir: Path, retention_days: int = 180,
              salt: bytes | None = None) -> Recorder | None:
    try:
        return Recorder(store, salt or load_salt(data_dir), retention_days=retention_days)
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
    limit_connections(app, settings.max_concurrent_requests)

    async def started(app: web.Application) -> None:  # the last start-up step: all is up
        print(f"Serving {mode} on http://{host}:{port}/ "
              f"({len(knowledge.entries)} entries, knowledge {knowledge.version})", flush=True)

    app.on_startup.append(started)
    try:
        web.run_app(app, sock=sock, print=None, shutdown_timeout=3, handle_signals=True,
                    access_log_format='%a "%r" %s %b %Tfs', **HTTP_LIMITS)  # type: ignore[arg-type]
    except StoreError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


def limit_connections(app: web.Application, limit: int) -> None:
    """At most ``limit`` requests are handled at once; the others wait their turn, so a
    flood costs queued sockets rather than ``limit`` × the memory of a handler."""
    gate = asyncio.Semaphore(limit)

    @web.middleware
    async def bounded(request: web.Request, handler: Callable[[web.Request],
                      Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        async with gate:
            return await handler(request)

    app.middlewares.insert(0, bounded)
