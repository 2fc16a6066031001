"""Per-person order and limits on Telegram: the flood gate, one chat's updates one after the
other, and each user's language choice (kept in the database).

:func:`load_lang` and :func:`flood_gate` run before every other handler (groups -2 and -1).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseUpdateProcessor

from bot.channels.telegram.render import plain
from bot.channels.telegram.updates import Context, acknowledge, log
from bot.messages import say
from bot.store import Store, user_key

if TYPE_CHECKING:  # the type only: the channel registers these handlers
    from bot.channels.telegram.channel import TelegramBot


class LangPrefs:
    """Each user's /lang choice, kept in the database (``user_prefs``) so it survives a
    restart, with a small in-memory cache in front: :meth:`load` (once per update, before the
    handlers) makes :meth:`get` a dictionary look-up."""

    def __init__(self, store: Callable[[], Store | None], size: int = 10_000) -> None:
        self._store = store  # a getter: the store is opened after the bot is built
        self._size = size
        self._langs: OrderedDict[int, str | None] = OrderedDict()  # None: no choice made

    def get(self, user_id: int) -> str | None:
        return self._langs.get(user_id)

    async def load(self, user_id: int) -> str | None:
        if user_id in self._langs:
            self._langs.move_to_end(user_id)
            return self._langs[user_id]
        store = self._store()
        lang = await store.get_lang(user_key("telegram", str(user_id))) if store else None
        self._remember(user_id, lang)
        return lang

    async def set(self, user_id: int, lang: str, now: datetime) -> None:
        store = self._store()
        if store is not None:
            await store.set_lang(user_key("telegram", str(user_id)), lang, now)
        self._remember(user_id, lang)

    def drop(self, user_id: int) -> None:
        """Forget the cached choice (the person's data was deleted)."""
        self._langs.pop(user_id, None)

    def _remember(self, user_id: int, lang: str | None) -> None:
        self._langs[user_id] = lang
        self._langs.move_to_end(user_id)
        while len(self._langs) > self._size:
            self._langs.popitem(last=False)


class FloodGate:
    """At most ``limit`` messages per user in a ``window`` of seconds that starts with their
    first message; the next one earns a single notice, the rest of that window is ignored."""

    def __init__(self, limit: int = 20, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._seen: dict[int, tuple[float, int]] = {}  # user → (window start, messages in it)
        self._prune_at = 10_000

    def check(self, user_id: int) -> Literal["ok", "notice", "silent"]:
        now = self.clock()
        start, count = self._seen.get(user_id, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        count += 1
        self._seen[user_id] = (start, count)
        if len(self._seen) > self._prune_at:
            self._seen = {u: v for u, v in self._seen.items() if now - v[0] < self.window}
            self._prune_at = 2 * len(self._seen) + 10_000
        if count <= self.limit:
            return "ok"
        return "notice" if count == self.limit + 1 else "silent"

    async def verdict(self, user_id: int) -> Literal["ok", "notice", "silent"]:
        """What the handlers ask: :meth:`check` here; across replicas, the shared count."""
        return self.check(user_id)


class SharedFloodGate(FloodGate):
    """The same limit counted in the shared database (replicas over PostgreSQL): a person
    whose updates reach two replicas gets ``limit`` a minute in all, not ``limit`` on each.

    The count is the store's token bucket (one upsert per update, the web API's rate limit
    uses the same); the single notice is remembered by the replica that refused, so a person
    may be told once per replica, never once per message."""

    def __init__(self, store: Store, limit: int = 20, window: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(limit, window, clock)  # wall clock: the replicas' clocks agree
        self.store = store
        self._told: dict[int, float] = {}  # user → when this replica gave the notice

    async def verdict(self, user_id: int) -> Literal["ok", "notice", "silent"]:
        now = self.clock()
        per_minute = max(1, round(self.limit * 60.0 / self.window))
        wait = await self.store.rate_hit(f"telegram-flood:{user_id}", per_minute, now)
        if wait is None:
            return "ok"
        if now - self._told.get(user_id, float("-inf")) < self.window:
            return "silent"
        self._told[user_id] = now
        if len(self._told) > self._prune_at:
            self._told = {u: t for u, t in self._told.items() if now - t < self.window}
        return "notice"


class PerChatOrder(BaseUpdateProcessor):
    """Updates of different chats run concurrently; one chat's updates run in arrival order."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}  # chat → (lock, updates using it)

    async def do_process_update(self, update: object, coroutine: object) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine  # type: ignore[misc]
            return
        lock, users = self._locks.get(chat.id, (asyncio.Lock(), 0))
        self._locks[chat.id] = (lock, users + 1)
        try:
            async with lock:
                await coroutine  # type: ignore[misc]
        finally:
            lock, users = self._locks[chat.id]
            if users == 1:
                del self._locks[chat.id]
            else:
                self._locks[chat.id] = (lock, users - 1)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


async def load_lang(bot: TelegramBot, update: Update, context: Context) -> None:
    """Before every update: the user's saved language into the cache ``lang_of`` reads."""
    user = update.effective_user
    if user is None:
        return
    try:
        await bot.prefs.load(user.id)
    except Exception as exc:  # the Telegram language is a fine fallback
        log.warning("language preference of a user not loaded: %s", exc)


async def flood_gate(bot: TelegramBot, update: Update, context: Context) -> None:
    query = update.callback_query
    if query is not None and query.from_user is not None:  # button presses count too
        verdict = await bot.flood.verdict(query.from_user.id)
        if verdict == "ok":
            return
        await acknowledge(query)
        if verdict == "notice":
            await bot.send(update, context, plain(say("telegram.flood", bot.lang_of(query.from_user))))
        raise ApplicationHandlerStop
    message = update.message
    if message is None or message.from_user is None or not bot.addressed(message, context):
        return
    verdict = await bot.flood.verdict(message.from_user.id)
    if verdict == "ok":
        return
    if verdict == "notice":
        await bot.send(update, context, plain(say("telegram.flood", bot.lang_of(message.from_user))))
    raise ApplicationHandlerStop
