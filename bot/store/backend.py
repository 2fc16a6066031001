"""The two databases the store runs on, behind one small interface (:class:`Backend`).

* :class:`SqliteBackend` — the embedded default: one file in ``DATA_DIR`` (WAL,
  ``synchronous=FULL``, ``secure_delete``), one connection and one :class:`asyncio.Lock`; every
  write is ``BEGIN IMMEDIATE``, so a transaction's reads and writes never interleave with another
  writer, in this process or another one (the command line).
* :class:`PostgresBackend` — several replicas over one database: an asyncpg pool; the default
  READ COMMITTED isolation, with :meth:`Backend.lock` (a transaction-scoped advisory lock) where
  a transaction must count and then write (seats of a session), conditional updates where one
  statement decides (a reminder, a claim), and ``FOR UPDATE SKIP LOCKED`` to hand each outbox
  message to one replica.

The store's queries are written once, with ``?`` placeholders, in the SQL both accept; the
PostgreSQL backend numbers the placeholders (``$1``…) and translates the DDL type names.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import aiosqlite

from bot.store.records import Row, StoreError, StoreUnavailable

log = logging.getLogger("bot.store")
# aiosqlite logs every statement with its parameters at DEBUG: names and phone numbers.
logging.getLogger("aiosqlite").setLevel(logging.INFO)

FAULT_LOG_INTERVAL = 60.0  # seconds between two log lines about an unwritable database
MIGRATION_LOCK = 0x5151_4D31  # advisory lock id: one replica migrates at a time ("QQM1")
_last_fault_log = [0.0]


class Tx(Protocol):
    """One open transaction."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        ...

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        ...


class Backend(Protocol):
    kind: str  # "sqlite" | "postgresql"
    writable: bool  # False since a write failed (full disk, database gone)
    skip_locked: str  # appended to a claiming SELECT: " FOR UPDATE SKIP LOCKED" or ""
    integrity_errors: tuple[type[BaseException], ...]

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def lock(self, tx: Tx, name: str) -> None:
        """Hold ``name`` until the transaction ends (other replicas wait for it)."""
        ...

    async def schema_version(self) -> int: ...

    async def migrate(self, migrations: Sequence[Sequence[str]], version: int) -> None: ...

    async def checkpoint(self) -> None: ...

    async def close(self) -> None: ...

    def describe(self) -> str:
        """Which database, for logs and /healthz (never a password)."""
        ...


def _report_fault(where: str, exc: BaseException) -> None:
    now = time.monotonic()
    if now - _last_fault_log[0] >= FAULT_LOG_INTERVAL or _last_fault_log[0] == 0.0:
        _last_fault_log[0] = now
        log.error("database %s cannot be written: %s (sign-ups answer 503 until it can; "
                  "this is logged once a minute)", where, exc)


# --------------------------------------------------------------------------- SQLite

_UNAVAILABLE = ("disk is full", "database or disk is full", "readonly", "read-only",
                "disk i/o error", "unable to open database", "no such file")


def _unavailable(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and any(
        p in str(exc).lower() for p in _UNAVAILABLE)


class _SqliteTx:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self._db.execute(sql, params)
        return cursor.rowcount

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self._db.execute_fetchall(sql, params))


class SqliteBackend:
    kind = "sqlite"
    skip_locked = ""  # BEGIN IMMEDIATE already keeps every other writer out
    integrity_errors: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()
        self.writable = True

    @classmethod
    async def open(cls, path: Path, busy_timeout_ms: int = 10_000) -> SqliteBackend:
        """Open (creating the folder and the file if needed); refuse a damaged file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        db = await aiosqlite.connect(path, isolation_level=None)  # we issue BEGIN ourselves
        try:
            if new:
                path.chmod(0o600)  # personal data: readable by the bot's user only
            db.row_factory = sqlite3.Row
            await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = await _wal(db, busy_timeout_ms)
            if next(iter(mode))[0].lower() != "wal":
                log.warning("database %s: WAL mode unavailable, using %s", path, list(mode))
            await db.execute("PRAGMA synchronous = FULL")
            await db.execute("PRAGMA foreign_keys = ON")
            # Deleted names and numbers are overwritten, not left in free pages.
            await db.execute("PRAGMA secure_delete = ON")
            check = [str(r[0]) for r in await db.execute_fetchall("PRAGMA quick_check")]
            if check != ["ok"]:
                raise StoreError(f"database {path} is damaged ({'; '.join(check[:3])}); "
                                 "restore it from a backup or move it away")
        except sqlite3.DatabaseError as exc:
            await db.close()
            raise _open_error(path, exc) from None
        except BaseException:
            await db.close()
            raise
        return cls(db, path)

    def describe(self) -> str:
        return f"SQLite {self.path}"

    async def close(self) -> None:
        async with self._lock:
            await self._db.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """One write transaction, taken before reading (BEGIN IMMEDIATE): nothing else writes
        between our reads and our writes."""
        async with self._lock:
            if self._db.in_transaction:  # never expected; recover instead of failing forever
                log.warning("database %s: a transaction was left open; rolled back", self.path)
                await self._db.execute("ROLLBACK")
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield _SqliteTx(self._db)
                except BaseException:
                    if self._db.in_transaction:
                        await self._db.execute("ROLLBACK")
                    raise
                await self._db.execute("COMMIT")
                self.writable = True
            except sqlite3.OperationalError as exc:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        await self._db.execute("ROLLBACK")
                if _unavailable(exc):
                    self.writable = False
                    _report_fault(str(self.path), exc)
                    raise StoreUnavailable(str(exc)) from None
                raise

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._lock:
            return list(await self._db.execute_fetchall(sql, params))

    async def lock(self, tx: Tx, name: str) -> None:
        return None  # the transaction holds the whole database already

    async def schema_version(self) -> int:
        return int((await self.fetch("PRAGMA user_version"))[0][0])

    async def migrate(self, migrations: Sequence[Sequence[str]], version: int) -> None:
        for number in range(await self.schema_version() + 1, version + 1):
            async with self.transaction() as tx:
                # another process may have migrated while we waited for the write lock
                current = int((await tx.fetch("PRAGMA user_version"))[0][0])
                if current >= number:
                    continue
                for statement in migrations[number - 1]:
                    await tx.execute(statement)
                await tx.execute(f"PRAGMA user_version = {int(number)}")
            log.info("database %s: schema migrated to version %d", self.path, number)

    async def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file and empty it, so that deleted
        rows (a /forget, the retention purge) do not linger in the ``-wal`` file."""
        async with self._lock:
            try:
                await self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                log.warning("database %s: checkpoint failed: %s", self.path, exc)


async def _wal(db: aiosqlite.Connection, busy_timeout_ms: int) -> Iterable[sqlite3.Row]:
    """Switch to WAL. Replicas starting together on one file race for this switch, and
    SQLite answers "database is locked" at once instead of waiting the busy timeout: the
    switch is tried again within that time (the file is not damaged)."""
    waited = 0.0
    while True:
        try:
            return await db.execute_fetchall("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or waited * 1000 >= busy_timeout_ms:
                raise
        await asyncio.sleep(0.05)
        waited += 0.05


def _open_error(path: Path, exc: sqlite3.DatabaseError) -> StoreError:
    if isinstance(exc, sqlite3.OperationalError) and _unavailable(exc):
        return StoreError(f"database {path} cannot be opened for writing: {exc}")
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return StoreError(f"database {path} is locked by another process ({exc}); "
                          "stop the other bot using it, or give each its own DATA_DIR")
    return StoreError(f"database {path} is damaged or not a database ({exc}); restore "
                      "it from a backup or move it away")


# --------------------------------------------------------------------------- PostgreSQL


def redact(url: str) -> str:
    """A database URL without its password: the only form in which it may be logged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def is_postgres(url: str | Path) -> bool:
    return isinstance(url, str) and url.startswith(("postgresql://", "postgres://"))


@functools.lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """``?`` placeholders → ``$1``, ``$2``… (the store's SQL has no ``?`` inside literals)."""
    pieces = sql.split("?")
    out = [pieces[0]]
    for i, piece in enumerate(pieces[1:], start=1):
        out.append(f"${i}{piece}")
    return "".join(out)


def postgres_ddl(statement: str) -> str:
    """A migration statement in PostgreSQL's words: row ids are identity columns, ``REAL``
    is double precision (SQLite's REAL is 8 bytes, PostgreSQL's 4)."""
    statement = re.sub(r"\bINTEGER PRIMARY KEY\b",
                       "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", statement)
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", statement)


def _rowcount(status: str) -> int:
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _PgTx:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return _rowcount(await self._conn.execute(numbered(sql), *params))

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self._conn.fetch(numbered(sql), *params))


class PostgresBackend:
    kind = "postgresql"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, pool: Any, url: str) -> None:
        import asyncpg

        self._pool = pool
        self.url = redact(url)
        self.writable = True
        self.integrity_errors = (asyncpg.IntegrityConstraintViolationError,)
        # Faults that mean "the database cannot be used just now", not a bug in a query.
        self._faults: tuple[type[BaseException], ...] = (
            OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
            asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError,
            asyncpg.DiskFullError, asyncpg.ReadOnlySQLTransactionError,
            asyncpg.AdminShutdownError, TimeoutError)

    @classmethod
    async def open(cls, url: str, max_size: int = 10) -> PostgresBackend:
        import asyncpg

        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=max_size,
                                             command_timeout=60)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            raise StoreError(f"database {redact(url)} cannot be reached: {exc}") from None
        return cls(pool, url)

    def describe(self) -> str:
        return f"PostgreSQL {self.url}"

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                yield _PgTx(conn)
            self.writable = True
        except self._faults as exc:
            self.writable = False
            _report_fault(self.url, exc)
            raise StoreUnavailable(str(exc)) from None

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            async with self._pool.acquire() as conn:
                return list(await conn.fetch(numbered(sql), *params))
        except self._faults as exc:
            raise StoreUnavailable(str(exc)) from None

    async def lock(self, tx: Tx, name: str) -> None:
        await tx.fetch("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (name,))

    async def schema_version(self) -> int:
        rows = await self.fetch("SELECT to_regclass('schema_version') IS NOT NULL")
        if not rows[0][0]:
            return 0
        return int((await self.fetch("SELECT COALESCE(MAX(version), 0) FROM schema_version"))[0][0])

    async def migrate(self, migrations: Sequence[Sequence[str]], version: int) -> None:
        """Bring the schema up to ``version`` holding an advisory lock: replicas that start
        together wait, then find the work done."""
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                                   "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ "
                                   "NOT NULL DEFAULT now())")
                current = int(await conn.fetchval(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_version"))
                for number in range(current + 1, version + 1):
                    async with conn.transaction():
                        for statement in migrations[number - 1]:
                            await conn.execute(postgres_ddl(statement))
                        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)",
                                           number)
                    log.info("database %s: schema migrated to version %d", self.url, number)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)

    async def checkpoint(self) -> None:
        return None  # PostgreSQL reclaims deleted rows itself (VACUUM)


async def open_backend(where: str | Path) -> Backend:
    """A ``postgresql://`` URL opens PostgreSQL; anything else is a SQLite file path."""
    if is_postgres(where):
        return await PostgresBackend.open(str(where))
    return await SqliteBackend.open(Path(where))
