"""What the WeChat channel remembers of its own, behind one small interface.

Three things, none of them in the shared store yet: which messages were already taken (WeChat
retries a message it got no passive reply to; every try must get the same answer), the numbers
each follower was last offered (a typed "2" presses the second), and who unfollowed the
account (no more reminders to them). :class:`LocalMemory` keeps the first two in this process
and the third in ``DATA_DIR/wechat.sqlite3``: right for one server process. Several replicas
behind one URL need all three in the shared database instead (see the README); only this
module would change, the channel talks to :class:`Memory`.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import aiosqlite

from bot.channels.lines import Numbered

MAX_TRACKED = 10_000  # followers (offered numbers) and message ids remembered at once
SEEN_FOR = 120.0  # seconds a processed message id is remembered (WeChat retries within ~15 s)
CHOICES_FOR = 1800.0  # seconds the numbers offered to a follower stay valid

T = TypeVar("T")


@dataclass
class Offered:
    """The numbered choices shown to a follower last, in the language they were shown in."""

    numbered: Numbered
    lang: str
    at: float


@dataclass
class Seen(Generic[T]):
    """One message being processed or done: every retry awaits the same task."""

    task: asyncio.Task[T]
    at: float
    deferred: bool = False  # answered "success"; the reply goes through the API


class Memory(Protocol[T]):
    """The WeChat channel's own state; :class:`LocalMemory` is the one implementation."""

    def take(self, key: str, work: Awaitable[T]) -> tuple[Seen[T], bool]:
        """The message ``key``'s processing, started from ``work`` on its first try; and
        whether this is that first try (``work`` is closed unused on a retry)."""

    def offered(self, openid: str) -> Offered | None: ...

    def offer(self, openid: str, numbered: Numbered, lang: str) -> None:
        """Remember what ``openid``'s numbers press now (nothing numbered: forget them)."""

    def is_unfollowed(self, openid: str) -> bool: ...

    async def unfollowed(self, openid: str, now: datetime) -> None: ...

    async def followed(self, openid: str) -> None: ...

    def in_flight(self) -> list[asyncio.Task[T]]: ...

    async def close(self) -> None: ...


def _hash(openid: str) -> str:
    return hashlib.sha256(openid.encode()).hexdigest()


class LocalMemory(Generic[T]):
    """:class:`Memory` for one process: message ids and offered numbers in bounded in-memory
    maps; who unfollowed (a SHA-256 of the OpenID, never the OpenID) in a small SQLite file,
    also kept in memory so that a message costs no database access."""

    def __init__(self, db: aiosqlite.Connection, gone: set[str]) -> None:
        self._db = db
        self._gone = gone
        self._offered: OrderedDict[str, Offered] = OrderedDict()
        self._seen: OrderedDict[str, Seen[T]] = OrderedDict()

    @classmethod
    async def open(cls, path: Path) -> LocalMemory[T]:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        await db.execute("CREATE TABLE IF NOT EXISTS unfollowed "
                         "(openid_hash TEXT PRIMARY KEY, at TEXT NOT NULL)")
        await db.commit()
        async with db.execute("SELECT openid_hash FROM unfollowed") as cursor:
            gone = {row[0] async for row in cursor}
        return cls(db, gone)

    async def close(self) -> None:
        self._seen.clear()
        await self._db.close()

    # ------------------------------------------------------------------ messages taken

    def take(self, key: str, work: Awaitable[T]) -> tuple[Seen[T], bool]:
        now = time.monotonic()
        self._forget_old(now)
        seen = self._seen.get(key)
        if seen is not None:
            close = getattr(work, "close", None)
            if close is not None:
                close()  # a coroutine never awaited would warn
            return seen, False
        seen = self._seen[key] = Seen(asyncio.ensure_future(work), now)
        if len(self._seen) > MAX_TRACKED:
            self._seen.popitem(last=False)
        return seen, True

    def _forget_old(self, now: float) -> None:
        while self._seen:
            key, oldest = next(iter(self._seen.items()))
            if now - oldest.at < SEEN_FOR or not oldest.task.done():
                break
            del self._seen[key]

    def in_flight(self) -> list[asyncio.Task[T]]:
        return [seen.task for seen in self._seen.values()]

    # ------------------------------------------------------------------ offered numbers

    def offered(self, openid: str) -> Offered | None:
        offered = self._offered.get(openid)
        if offered is None or time.monotonic() - offered.at > CHOICES_FOR:
            return None
        return offered

    def offer(self, openid: str, numbered: Numbered, lang: str) -> None:
        self._offered.pop(openid, None)
        if numbered.options:
            self._offered[openid] = Offered(numbered, lang, time.monotonic())
            while len(self._offered) > MAX_TRACKED:
                self._offered.popitem(last=False)

    # ------------------------------------------------------------------ followers

    def is_unfollowed(self, openid: str) -> bool:
        return _hash(openid) in self._gone

    async def unfollowed(self, openid: str, now: datetime) -> None:
        digest = _hash(openid)
        self._gone.add(digest)
        self._offered.pop(openid, None)
        await self._db.execute("INSERT OR REPLACE INTO unfollowed VALUES (?, ?)",
                               (digest, now.isoformat()))
        await self._db.commit()

    async def followed(self, openid: str) -> None:
        digest = _hash(openid)
        if digest not in self._gone:
            return
        self._gone.discard(digest)
        await self._db.execute("DELETE FROM unfollowed WHERE openid_hash = ?", (digest,))
        await self._db.commit()


__all__ = ["CHOICES_FOR", "MAX_TRACKED", "SEEN_FOR", "LocalMemory", "Memory", "Offered", "Seen"]
