"""The store's core: opening either database, migrating it, transactions, health."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from bot.store import schema
from bot.store.backend import Backend, SqliteBackend, Tx, open_backend
from bot.store.records import BookingListener, Row, StoreError, _ts

log = logging.getLogger("bot.store")


class StoreBase:
    """What every concern of the store shares: the backend, transactions, listeners."""

    def __init__(self, backend: Backend) -> None:
        self._db = backend
        # Told of every committed booking change (the metrics count them); never raise.
        self.booking_listeners: list[BookingListener] = []
        self._init_flows()

    def _init_flows(self) -> None:  # overridden by FlowsMixin
        return None

    @classmethod
    async def open(cls, where: str | Path) -> Self:
        """Open the SQLite file ``where`` (creating its folder) or, for a ``postgresql://``
        URL, a connection pool; bring the schema up to date."""
        backend = await open_backend(where)
        try:
            store = cls(backend)
            await store._migrate()
        except BaseException:
            await backend.close()
            raise
        return store

    @property
    def kind(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.kind

    @property
    def path(self) -> Path:
        """The SQLite file (only for SQLite)."""
        if not isinstance(self._db, SqliteBackend):
            raise AttributeError("a PostgreSQL store has no file")
        return self._db.path

    @property
    def writable(self) -> bool:
        """False since a write failed on a full or read-only disk (or a database gone)."""
        return self._db.writable

    def describe(self) -> str:
        return self._db.describe()

    def _booking_event(self, result: str, times: int = 1) -> None:
        for listener in list(self.booking_listeners):
            for _ in range(times):
                try:
                    listener(result)
                except Exception:
                    log.exception("a booking listener failed")

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Tx]:
        async with self._db.transaction() as tx:
            yield tx

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await self._db.fetch(sql, params)

    async def checkpoint(self) -> None:
        """Empty SQLite's write-ahead log after personal data was deleted."""
        await self._db.checkpoint()

    async def health(self, now: datetime) -> None:
        """Raise unless the database answers and can be written (for /healthz)."""
        async with self._write() as db:
            await db.execute("INSERT INTO health (id, at) VALUES (1, ?) ON CONFLICT (id) "
                             "DO UPDATE SET at = excluded.at", (_ts(now),))

    async def schema_version(self) -> int:
        return await self._db.schema_version()

    async def _migrate(self) -> None:
        # schema.MIGRATIONS and SCHEMA_VERSION are read at call time: tests change them
        version = await self.schema_version()
        if version > schema.SCHEMA_VERSION:
            raise StoreError(f"{self.describe()} has schema version {version}, newer than this "
                             f"bot knows ({schema.SCHEMA_VERSION}); update the bot instead of "
                             "downgrading")
        await self._db.migrate(schema.MIGRATIONS, schema.SCHEMA_VERSION)
