"""The bot's database: open-day bookings, sign-up dialogues, the outbox, the admin log, and
(for :mod:`bot.insights`) question counts, misses kept for review and 👍/👎 feedback.

One SQLite file in ``settings.data_dir`` (WAL mode, ``synchronous=FULL``: a booking the
citizen was told about survives a crash or a power cut). Every SQL statement of the project
lives in this module. The schema is versioned with ``PRAGMA user_version`` and grows only by
appending to :data:`MIGRATIONS`; start-up applies whatever is missing, each migration in one
transaction.

Concurrency: all statements of one :class:`Store` go through one connection and one
:class:`asyncio.Lock`, and every write is a ``BEGIN IMMEDIATE`` transaction, so "count the seats,
then insert" can never interleave with another booking, neither in this process nor in another
process (the command line) using the same file.

Times are stored as UTC ISO-8601 text (sortable); callers pass and receive aware datetimes.
Statistics are kept per Beijing-time day (:func:`local_day`). The statistics tables hold no user
identity: at most a salted hash that changes daily (``misses.asker``).
Names and phone numbers are never logged; phone numbers appear in logs only through
:func:`mask_phone`. Deleted rows are overwritten (``secure_delete``) and the write-ahead log is
emptied after a deletion of personal data (:meth:`Store.checkpoint`).

Faults: :meth:`Store.open` refuses a damaged file (``PRAGMA quick_check``) with
:class:`StoreError`; a write that fails because the disk is full or read-only raises
:class:`StoreUnavailable`, logged once a minute. The rules a script would bend are the
database's own: one active booking per person and per mobile number per session (unique
indexes), and :meth:`Store.book` counts a client address's sign-ups in the same transaction.
The SQL is kept to what PostgreSQL also accepts (partial unique indexes, ``ON CONFLICT``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import secrets
import sqlite3
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.kb import TZ

log = logging.getLogger("bot.store")
# aiosqlite logs every statement with its parameters at DEBUG: names and phone numbers.
logging.getLogger("aiosqlite").setLevel(logging.INFO)

DB_NAME = "bot.sqlite3"
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read out over the phone
CODE_LENGTH = 6
ACTIVE = ("booked", "waiting")
IN_FLOW_KEPT = 10_000  # people remembered as mid-sign-up (the oldest forgotten first)

# Each migration is a list of statements applied in one transaction; the schema version is the
# number of migrations applied. Never edit a released migration: append a new one.
MIGRATIONS: list[tuple[str, ...]] = [
    (  # 1: open-day sign-up
        """CREATE TABLE bookings (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            session_id TEXT NOT NULL,
            user_key TEXT NOT NULL,
            name TEXT NOT NULL,
            phone TEXT NOT NULL,
            lang TEXT NOT NULL DEFAULT 'zh',
            status TEXT NOT NULL CHECK (status IN ('booked', 'waiting', 'cancelled')),
            institution TEXT NOT NULL DEFAULT '',
            session_start TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            booked_at TEXT,
            reminded_at TEXT
        )""",
        # One active booking (booked or waiting) per person per session, whatever the races.
        """CREATE UNIQUE INDEX bookings_one_per_person ON bookings (session_id, user_key)
            WHERE status IN ('booked', 'waiting')""",
        "CREATE INDEX bookings_by_session ON bookings (session_id, status, id)",
        "CREATE INDEX bookings_by_user ON bookings (user_key)",
        """CREATE TABLE dialogues (
            user_key TEXT PRIMARY KEY,
            step TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            lang TEXT NOT NULL DEFAULT 'zh',
            updated_at TEXT NOT NULL
        )""",
        # Messages for a user other than the one being answered (waiting-list promotion,
        # reminders, "new sessions"): channels deliver them and mark them sent.
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            user_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            lang TEXT NOT NULL DEFAULT 'zh',
            text TEXT NOT NULL,
            actions TEXT NOT NULL DEFAULT '[]',
            dedupe TEXT UNIQUE,
            created_at TEXT NOT NULL,
            not_before TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at TEXT,
            failed_at TEXT
        )""",
        "CREATE INDEX outbox_pending ON outbox (sent_at, failed_at, not_before)",
        "CREATE INDEX outbox_by_user ON outbox (user_key)",
        """CREATE TABLE notify_requests (
            user_key TEXT PRIMARY KEY,
            lang TEXT NOT NULL DEFAULT 'zh',
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE admin_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )""",
        # Per-user preferences a channel wants to keep across restarts (the language, say).
        """CREATE TABLE user_prefs (
            user_key TEXT PRIMARY KEY,
            lang TEXT,
            updated_at TEXT NOT NULL
        )""",
    ),
    (  # 2: what citizens asked and how it went (bot/insights.py), with no user identity
        # One row per (day, channel, outcome, entry): counts and answer latency for the stats.
        """CREATE TABLE question_counts (
            day TEXT NOT NULL,
            channel TEXT NOT NULL,
            status TEXT NOT NULL,
            kind TEXT NOT NULL,
            entry_id TEXT NOT NULL DEFAULT '',
            count INTEGER NOT NULL DEFAULT 0,
            latency_ms_sum REAL NOT NULL DEFAULT 0,
            latency_ms_max REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (day, channel, status, kind, entry_id)
        )""",
        # Questions the bot could not answer outright (fallback, clarify) and answers people
        # marked 👎, for staff to review. ``asker`` is at most a salted, per-day hash.
        """CREATE TABLE misses (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            day TEXT NOT NULL,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('fallback', 'clarify', 'downvote')),
            question TEXT NOT NULL,
            normalized TEXT NOT NULL,
            pinyin TEXT NOT NULL DEFAULT '',
            lang TEXT NOT NULL DEFAULT 'zh',
            candidates TEXT NOT NULL DEFAULT '[]',
            entry_id TEXT,
            picked TEXT,
            asker TEXT,
            resolution TEXT CHECK (resolution IN ('added', 'out_of_scope')),
            resolved_entry TEXT,
            resolved_at TEXT
        )""",
        "CREATE INDEX misses_open ON misses (resolution, id)",
        "CREATE INDEX misses_by_day ON misses (day)",
        """CREATE TABLE feedback (
            day TEXT NOT NULL,
            channel TEXT NOT NULL,
            entry_id TEXT NOT NULL,
            up INTEGER NOT NULL DEFAULT 0,
            down INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, channel, entry_id)
        )""",
        # Normalised questions staff marked out of scope: never offered for review again.
        """CREATE TABLE review_marks (
            normalized TEXT PRIMARY KEY,
            decision TEXT NOT NULL CHECK (decision IN ('out_of_scope')),
            at TEXT NOT NULL
        )""",
    ),
]
MIGRATIONS.append((  # 3: sign-ups go to people, not scripts
    # A keyed hash of the client address a web booking came from (limits and `--suspicious`).
    "ALTER TABLE bookings ADD COLUMN client TEXT",
    "CREATE INDEX bookings_by_client ON bookings (client, created_at)",
    # One active booking per mobile number per session: before the rule, later duplicates go.
    """UPDATE bookings SET status = 'cancelled' WHERE status IN ('booked', 'waiting')
        AND id NOT IN (SELECT MIN(id) FROM bookings WHERE status IN ('booked', 'waiting')
                       GROUP BY session_id, phone)""",
    """CREATE UNIQUE INDEX bookings_one_per_phone ON bookings (session_id, phone)
        WHERE status IN ('booked', 'waiting')""",
    # What /healthz writes to prove the database can still be written.
    "CREATE TABLE health (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL)",
))
SCHEMA_VERSION = len(MIGRATIONS)
FAULT_LOG_INTERVAL = 60.0  # seconds between two log lines about an unwritable database


class StoreError(RuntimeError):
    """The database cannot be used (for example, it was written by a newer version)."""


class StoreUnavailable(StoreError):
    """The database cannot be written just now (disk full, read-only, I/O error): sign-ups
    wait, questions are still answered. Logged once a minute, not once per request."""


class BookingRefused(StoreError):
    """A booking the rules do not allow: ``reason`` is ``phone`` (that mobile number already
    holds a place in the session) or ``client_limit`` (too many sign-ups from one address)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_UNAVAILABLE = ("disk is full", "database or disk is full", "readonly", "read-only",
                "disk i/o error", "unable to open database", "no such file")
_last_fault_log = [0.0]


def _unavailable(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and any(
        p in str(exc).lower() for p in _UNAVAILABLE)


def _report_fault(path: Path, exc: BaseException) -> None:
    now = time.monotonic()
    if now - _last_fault_log[0] >= FAULT_LOG_INTERVAL or _last_fault_log[0] == 0.0:
        _last_fault_log[0] = now
        log.error("database %s cannot be written: %s (sign-ups answer 503 until it can; "
                  "this is logged once a minute)", path, exc)


# --------------------------------------------------------------------------- helpers


def mask_phone(phone: str | None) -> str:
    """'13812345678' → '138****5678': the only form in which a phone number may be logged."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) < 11:
        return "****"
    return f"{digits[-11:-8]}****{digits[-4:]}"


def user_key(channel: str, user_id: str) -> str:
    return f"{channel}:{user_id}"


def _ts(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (Asia/Shanghai or UTC)")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def local_day(moment: datetime) -> str:
    """The Beijing-time date of a moment, YYYY-MM-DD: what the statistics count by."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (Asia/Shanghai or UTC)")
    return moment.astimezone(TZ).date().isoformat()


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


_T = TypeVar("_T")


def _atomic(method: Callable[..., Awaitable[_T]]) -> Callable[..., Awaitable[_T]]:
    """Run a write as its own task that the caller's cancellation cannot interrupt: a
    transaction always ends with COMMIT or ROLLBACK, never half-way (a web request cancelled
    by a closed connection must not leave the connection inside a transaction)."""

    @functools.wraps(method)
    async def shielded(*args: Any, **kwargs: Any) -> _T:
        task = asyncio.ensure_future(method(*args, **kwargs))
        task.add_done_callback(_consume)
        return await asyncio.shield(task)

    return shielded


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve the outcome (the caller may have gone away), so asyncio does not report it."""
    if not task.cancelled():
        task.exception()


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Booking:
    id: int
    code: str
    session_id: str
    user_key: str
    name: str
    phone: str
    lang: str
    status: str  # booked | waiting | cancelled
    institution: str  # as it was when booked: the session may later leave the file
    session_start: datetime | None
    created_at: datetime
    updated_at: datetime
    booked_at: datetime | None
    reminded_at: datetime | None
    client: str | None = None  # keyed hash of the web client address, if any

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def _outbox(r: sqlite3.Row) -> OutboxMessage:
    return OutboxMessage(r["id"], r["user_key"], r["kind"], r["lang"], r["text"],
                         tuple((a, b) for a, b in json.loads(r["actions"])),
                         _dt(r["created_at"]), r["attempts"])  # type: ignore[arg-type]


def _booking(row: sqlite3.Row) -> Booking:
    return Booking(
        id=row["id"], code=row["code"], session_id=row["session_id"], user_key=row["user_key"],
        name=row["name"], phone=row["phone"], lang=row["lang"], status=row["status"],
        institution=row["institution"], session_start=_dt(row["session_start"]),
        created_at=_dt(row["created_at"]), updated_at=_dt(row["updated_at"]),  # type: ignore[arg-type]
        booked_at=_dt(row["booked_at"]), reminded_at=_dt(row["reminded_at"]),
        client=row["client"])


@dataclass(frozen=True)
class BookResult:
    booking: Booking
    created: bool  # False: the person already had an active booking for this session


@dataclass(frozen=True)
class Flow:
    """Where a person is in the sign-up dialogue, and what they have typed so far."""

    user_key: str
    step: str
    data: dict[str, Any]
    lang: str
    updated_at: datetime


@dataclass(frozen=True)
class Draft:
    """A message to put in the outbox: text in the recipient's language, and buttons."""

    kind: str
    text: str
    lang: str = "zh"
    actions: tuple[tuple[str, str], ...] = ()  # (action id, label)


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    user_key: str
    kind: str
    lang: str
    text: str
    actions: tuple[tuple[str, str], ...]
    created_at: datetime
    attempts: int

    @property
    def channel(self) -> str:
        return self.user_key.partition(":")[0]

    @property
    def user_id(self) -> str:
        return self.user_key.partition(":")[2]


@dataclass(frozen=True)
class SessionCount:
    session_id: str
    booked: int
    waiting: int
    institution: str  # from the latest booking: for sessions no longer in the file
    session_start: datetime | None


@dataclass(frozen=True)
class CancelResult:
    booking: Booking  # as it was before the cancellation
    promoted: tuple[Booking, ...]  # waiting-list people who got the freed seat


@dataclass(frozen=True)
class ForgetResult:
    bookings: int
    promoted: tuple[Booking, ...]


MessageFor = Callable[[Booking], Draft]
BookingListener = Callable[[str], None]  # called with booked | waiting | promoted | cancelled


@dataclass(frozen=True)
class MissDraft:
    """A question to keep for review: as asked, normalised, and what the engine thought."""

    kind: str  # fallback | clarify | downvote
    question: str
    normalized: str
    pinyin: str
    lang: str
    candidates: tuple[tuple[str, float], ...] = ()  # (entry id, score), best first
    entry_id: str | None = None  # downvote: the entry whose answer got the 👎
    asker: str | None = None  # a salted hash, never a user id


@dataclass(frozen=True)
class Miss:
    id: int
    at: datetime
    day: str
    channel: str
    kind: str
    question: str
    normalized: str
    pinyin: str
    lang: str
    candidates: tuple[tuple[str, float], ...]
    entry_id: str | None
    picked: str | None  # clarify: the entry the citizen then chose ('none': none of these)
    asker: str | None
    resolution: str | None  # added | out_of_scope | None (still open)
    resolved_entry: str | None


def _miss(row: sqlite3.Row) -> Miss:
    return Miss(
        id=row["id"], at=_dt(row["at"]), day=row["day"], channel=row["channel"],  # type: ignore[arg-type]
        kind=row["kind"], question=row["question"], normalized=row["normalized"],
        pinyin=row["pinyin"], lang=row["lang"],
        candidates=tuple((str(e), float(sc)) for e, sc in json.loads(row["candidates"])),
        entry_id=row["entry_id"], picked=row["picked"], asker=row["asker"],
        resolution=row["resolution"], resolved_entry=row["resolved_entry"])


@dataclass(frozen=True)
class OutcomeCount:
    """Questions of one day, channel, outcome and entry."""

    day: str
    channel: str
    status: str
    kind: str
    entry_id: str | None
    count: int
    latency_ms_sum: float
    latency_ms_max: float


@dataclass(frozen=True)
class FeedbackCount:
    entry_id: str
    up: int
    down: int


# --------------------------------------------------------------------------- the store


class Store:
    """Open with ``await Store.open(path)``; close with ``await store.close()``."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()
        self.writable = True  # False since a write failed on a full or read-only disk
        # Who saved a sign-up step in this process and has not finished: a scheduling hint
        # only (their requests go before a flood of questions), never used to decide a step.
        self._in_flow: OrderedDict[str, None] = OrderedDict()
        # Told of every committed booking change (the metrics count them); never raise.
        self.booking_listeners: list[BookingListener] = []

    def _booking_event(self, result: str, times: int = 1) -> None:
        for listener in list(self.booking_listeners):
            for _ in range(times):
                try:
                    listener(result)
                except Exception:
                    log.exception("a booking listener failed")

    @classmethod
    async def open(cls, path: str | Path, busy_timeout_ms: int = 10_000) -> Store:
        """Open (creating the folder and the file if needed) and bring the schema up to date."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        db = await aiosqlite.connect(path, isolation_level=None)  # we issue BEGIN ourselves
        try:
            if new:
                path.chmod(0o600)  # personal data: readable by the bot's user only
            db.row_factory = sqlite3.Row
            await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = await db.execute_fetchall("PRAGMA journal_mode = WAL")
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
            store = cls(db, path)
            await store._migrate()
        except sqlite3.DatabaseError as exc:
            await db.close()
            if isinstance(exc, sqlite3.OperationalError) and _unavailable(exc):
                raise StoreError(f"database {path} cannot be opened for writing: {exc}") from None
            raise StoreError(f"database {path} is damaged or not a database ({exc}); restore "
                             "it from a backup or move it away") from None
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        async with self._lock:
            await self._db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ transactions

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction, taken before reading (BEGIN IMMEDIATE): nothing else writes
        between our reads and our writes."""
        async with self._lock:
            if self._db.in_transaction:  # never expected; recover instead of failing forever
                log.warning("database %s: a transaction was left open; rolled back", self.path)
                await self._db.execute("ROLLBACK")
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
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
                    _report_fault(self.path, exc)
                    raise StoreUnavailable(str(exc)) from None
                raise

    async def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file and empty it, so that deleted
        rows (a /forget, the retention purge) do not linger in the ``-wal`` file."""
        async with self._lock:
            try:
                await self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                log.warning("database %s: checkpoint failed: %s", self.path, exc)

    async def health(self, now: datetime) -> None:
        """Raise unless the database answers and can be written (for /healthz)."""
        async with self._write() as db:
            await db.execute("INSERT INTO health (id, at) VALUES (1, ?) ON CONFLICT (id) "
                             "DO UPDATE SET at = excluded.at", (_ts(now),))

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            return list(await self._db.execute_fetchall(sql, params))

    async def schema_version(self) -> int:
        rows = await self._rows("PRAGMA user_version")
        return int(rows[0][0])

    async def _migrate(self) -> None:
        version = await self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema version {version}, newer than this bot "
                             f"knows ({SCHEMA_VERSION}); update the bot instead of downgrading")
        for number in range(version + 1, SCHEMA_VERSION + 1):
            async with self._write() as db:
                # another process may have migrated while we waited for the write lock
                current = int(next(iter(await db.execute_fetchall("PRAGMA user_version")))[0])
                if current >= number:
                    continue
                for statement in MIGRATIONS[number - 1]:
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {number}")
            log.info("database %s: schema migrated to version %d", self.path, number)

    # ------------------------------------------------------------------ dialogues

    def in_flow(self, key: str) -> bool:
        """Probably in the middle of a sign-up (a hint: see ``_in_flow``)."""
        return key in self._in_flow

    def _hint(self, key: str, active: bool) -> None:
        if active:
            self._in_flow[key] = None
            self._in_flow.move_to_end(key)
            while len(self._in_flow) > IN_FLOW_KEPT:
                self._in_flow.popitem(last=False)
        else:
            self._in_flow.pop(key, None)

    async def get_flow(self, key: str) -> Flow | None:
        rows = await self._rows("SELECT * FROM dialogues WHERE user_key = ?", (key,))
        if not rows:
            return None
        row = rows[0]
        return Flow(row["user_key"], row["step"], json.loads(row["data"]), row["lang"],
                    _dt(row["updated_at"]))  # type: ignore[arg-type]

    @_atomic
    async def save_flow(self, key: str, step: str, data: Mapping[str, Any], lang: str,
                        now: datetime) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO dialogues (user_key, step, data, lang, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_key) DO UPDATE SET "
                "step = excluded.step, data = excluded.data, lang = excluded.lang, "
                "updated_at = excluded.updated_at",
                (key, step, json.dumps(dict(data), ensure_ascii=False), lang, _ts(now)))
        self._hint(key, True)

    @_atomic
    async def clear_flow(self, key: str) -> None:
        async with self._write() as db:
            await db.execute("DELETE FROM dialogues WHERE user_key = ?", (key,))
        self._hint(key, False)

    @_atomic
    async def purge_flows(self, before: datetime) -> int:
        """Forget dialogues abandoned before ``before`` (what they held was never confirmed)."""
        async with self._write() as db:
            cursor = await db.execute("DELETE FROM dialogues WHERE updated_at < ?", (_ts(before),))
            return cursor.rowcount

    # ------------------------------------------------------------------ bookings

    @_atomic
    async def book(self, *, session_id: str, capacity: int, user_key: str, name: str, phone: str,
                   lang: str, institution: str, session_start: datetime,
                   now: datetime, client: str | None = None, client_limit: int = 0,
                   since: datetime | None = None) -> BookResult:
        """Book a seat, or a place on the waiting list when the session is full.

        Counting and inserting happen in one BEGIN IMMEDIATE transaction, so the number of
        ``booked`` rows never exceeds ``capacity`` however many people confirm at once. While
        anyone is waiting, newcomers wait too (freed seats go to the waiting list first).

        Raises :class:`BookingRefused` when ``phone`` already holds a place in the session
        (a unique index enforces it, also against other processes), or when ``client`` made
        ``client_limit`` (> 0) active sign-ups since ``since`` already.
        """
        async with self._write() as db:
            existing = await self._active(db, session_id, user_key)
            if existing is not None:
                return BookResult(existing, created=False)
            taken = await db.execute_fetchall(
                "SELECT 1 FROM bookings WHERE session_id = ? AND phone = ? "
                "AND status IN ('booked', 'waiting')", (session_id, phone))
            if taken:
                raise BookingRefused("phone")
            if client is not None and client_limit > 0 and since is not None:
                rows = await db.execute_fetchall(
                    "SELECT COUNT(*) FROM bookings WHERE client = ? AND created_at >= ? "
                    "AND status IN ('booked', 'waiting')", (client, _ts(since)))
                if int(next(iter(rows))[0]) >= client_limit:
                    raise BookingRefused("client_limit")
            booked, waiting = await self._counts(db, session_id)
            status = "booked" if booked < capacity and waiting == 0 else "waiting"
            code = await self._unused_code(db)
            stamp = _ts(now)
            try:
                await db.execute(
                    "INSERT INTO bookings (code, session_id, user_key, name, phone, lang, status, "
                    "institution, session_start, created_at, updated_at, booked_at, client) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (code, session_id, user_key, name, phone, lang, status, institution,
                     _ts(session_start), stamp, stamp, stamp if status == "booked" else None,
                     client))
            except sqlite3.IntegrityError as exc:
                if "phone" in str(exc):
                    raise BookingRefused("phone") from None
                raise
            booking = await self._by_code(db, code)
        assert booking is not None
        log.info("booking %s: session %s, %s, phone %s", code, session_id, status,
                 mask_phone(phone))
        self._booking_event(status)
        return BookResult(booking, created=True)

    async def booking(self, code: str) -> Booking | None:
        async with self._lock:
            return await self._by_code(self._db, code)

    async def active_booking(self, user_key: str, session_id: str) -> Booking | None:
        async with self._lock:
            return await self._active(self._db, session_id, user_key)

    async def bookings_of(self, user_key: str, active_only: bool = True) -> list[Booking]:
        sql = "SELECT * FROM bookings WHERE user_key = ?"
        if active_only:
            sql += " AND status IN ('booked', 'waiting')"
        rows = await self._rows(sql + " ORDER BY session_start, id", (user_key,))
        return [_booking(r) for r in rows]

    async def waiting_position(self, booking: Booking) -> int:
        """1 for the first person on the session's waiting list; 0 if not waiting."""
        if booking.status != "waiting":
            return 0
        rows = await self._rows("SELECT COUNT(*) FROM bookings WHERE session_id = ? "
                                "AND status = 'waiting' AND id <= ?",
                                (booking.session_id, booking.id))
        return int(rows[0][0])

    async def counts(self, session_id: str) -> tuple[int, int]:
        """(booked, waiting) of one session."""
        async with self._lock:
            return await self._counts(self._db, session_id)

    async def session_counts(self) -> dict[str, SessionCount]:
        """Every session that has active bookings, including sessions no longer in the file."""
        rows = await self._rows(
            "SELECT session_id, SUM(status = 'booked') AS booked, "
            "SUM(status = 'waiting') AS waiting, MAX(institution) AS institution, "
            "MIN(session_start) AS session_start FROM bookings "
            "WHERE status IN ('booked', 'waiting') GROUP BY session_id")
        return {r["session_id"]: SessionCount(r["session_id"], int(r["booked"]), int(r["waiting"]),
                                              r["institution"], _dt(r["session_start"]))
                for r in rows}

    @_atomic
    async def cancel(self, code: str, *, user_key: str | None, capacity: int | None,
                     now: datetime, message_for: MessageFor) -> CancelResult | None:
        """Cancel an active booking (only the owner's when ``user_key`` is given).

        A freed seat goes, in the same transaction, to the first person waiting, whose
        message is put in the outbox; ``capacity`` None means "no promotion" (the session is
        over or no longer listed).
        """
        async with self._write() as db:
            booking = await self._by_code(db, code)
            if booking is None or not booking.active or (
                    user_key is not None and booking.user_key != user_key):
                return None
            await db.execute("UPDATE bookings SET status = 'cancelled', updated_at = ? "
                             "WHERE id = ?", (_ts(now), booking.id))
            promoted: tuple[Booking, ...] = ()
            if capacity is not None and booking.status == "booked":
                promoted = await self._promote(db, booking.session_id, capacity, now, message_for)
        log.info("booking %s cancelled (%s); %d promoted from the waiting list", code,
                 booking.status, len(promoted))
        self._booking_event("cancelled")
        self._booking_event("promoted", len(promoted))
        return CancelResult(booking, promoted)

    @_atomic
    async def promote(self, session_id: str, capacity: int, now: datetime,
                      message_for: MessageFor) -> tuple[Booking, ...]:
        """Give free seats (after a capacity increase, say) to the waiting list, in order."""
        async with self._write() as db:
            promoted = await self._promote(db, session_id, capacity, now, message_for)
        self._booking_event("promoted", len(promoted))
        return promoted

    @_atomic
    async def sync_sessions(self, sessions: Mapping[str, tuple[str, datetime]]) -> int:
        """Keep each booking's copy of its session's institution and start up to date
        (``{session id: (institution, start)}``), for listings after the session leaves the
        file and for the retention period."""
        changed = 0
        async with self._write() as db:
            for session_id, (institution, start) in sessions.items():
                cursor = await db.execute(
                    "UPDATE bookings SET institution = ?, session_start = ? WHERE session_id = ? "
                    "AND (institution IS NOT ? OR session_start IS NOT ?)",
                    (institution, _ts(start), session_id, institution, _ts(start)))
                changed += cursor.rowcount
        return changed

    @_atomic
    async def purge_bookings(self, before: datetime) -> int:
        """Delete every booking of sessions that started before ``before`` (the retention
        period is over)."""
        async with self._write() as db:
            cursor = await db.execute("DELETE FROM bookings WHERE session_start < ?",
                                      (_ts(before),))
            count = cursor.rowcount
        if count:
            log.info("retention: deleted %d booking(s) of sessions before %s", count,
                     before.isoformat(timespec="minutes"))
            await self.checkpoint()
        return count

    async def export_rows(self, session_id: str | None = None) -> list[Booking]:
        sql = "SELECT * FROM bookings"
        params: tuple[Any, ...] = ()
        if session_id is not None:
            sql += " WHERE session_id = ?"
            params = (session_id,)
        sql += (" ORDER BY session_start, session_id, CASE status WHEN 'booked' THEN 0 "
                "WHEN 'waiting' THEN 1 ELSE 2 END, id")
        return [_booking(r) for r in await self._rows(sql, params)]

    # ------------------------------------------------------------------ reminders

    async def unreminded(self, session_ids: Iterable[str]) -> list[Booking]:
        """Booked seats of these sessions whose reminder has not been handed to the outbox."""
        ids = list(session_ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = await self._rows(f"SELECT * FROM bookings WHERE status = 'booked' AND "
                                f"reminded_at IS NULL AND session_id IN ({marks}) ORDER BY id", ids)
        return [_booking(r) for r in rows]

    @_atomic
    async def remind(self, code: str, draft: Draft, now: datetime) -> bool:
        """Mark the reminder sent and put it in the outbox, in one transaction: exactly once,
        across restarts. False if it was already done (or the booking is no longer booked)."""
        async with self._write() as db:
            cursor = await db.execute(
                "UPDATE bookings SET reminded_at = ? WHERE code = ? AND status = 'booked' "
                "AND reminded_at IS NULL", (_ts(now), code))
            if cursor.rowcount != 1:
                return False
            booking = await self._by_code(db, code)
            assert booking is not None
            await self._enqueue(db, booking.user_key, draft, now, dedupe=f"reminder:{code}")
        return True

    # ------------------------------------------------------------------ notify requests

    @_atomic
    async def add_notify_request(self, key: str, lang: str, now: datetime) -> bool:
        """Remember that this person wants to hear of new sessions; False if already asked."""
        async with self._write() as db:
            cursor = await db.execute(
                "INSERT INTO notify_requests (user_key, lang, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_key) DO NOTHING", (key, lang, _ts(now)))
            return cursor.rowcount == 1

    async def notify_requests(self) -> list[tuple[str, str]]:
        """(user key, language) of everyone waiting to hear of new sessions."""
        rows = await self._rows("SELECT user_key, lang FROM notify_requests ORDER BY created_at")
        return [(r["user_key"], r["lang"]) for r in rows]

    @_atomic
    async def fulfil_notify_request(self, key: str, draft: Draft, now: datetime) -> bool:
        """Drop the request and queue its message in one transaction (it is sent once)."""
        async with self._write() as db:
            cursor = await db.execute("DELETE FROM notify_requests WHERE user_key = ?", (key,))
            if cursor.rowcount != 1:
                return False
            await self._enqueue(db, key, draft, now)
        return True

    # ------------------------------------------------------------------ outbox

    @_atomic
    async def enqueue(self, key: str, draft: Draft, now: datetime,
                      dedupe: str | None = None) -> bool:
        """Queue a message for a user; with ``dedupe``, at most one message per that key."""
        async with self._write() as db:
            return await self._enqueue(db, key, draft, now, dedupe)

    async def pending_messages(self, now: datetime, *, channel: str | None = None,
                               key: str | None = None, limit: int = 50) -> list[OutboxMessage]:
        """Messages to deliver now, oldest first: of one channel, or of one user."""
        sql = ("SELECT * FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL "
               "AND not_before <= ?")
        params: list[Any] = [_ts(now)]
        if channel is not None:
            sql += " AND substr(user_key, 1, ?) = ?"
            params += [len(channel) + 1, f"{channel}:"]
        if key is not None:
            sql += " AND user_key = ?"
            params.append(key)
        rows = await self._rows(sql + " ORDER BY id LIMIT ?", [*params, limit])
        return [_outbox(r) for r in rows]

    @_atomic
    async def mark_sent(self, message_id: int, now: datetime) -> None:
        async with self._write() as db:
            await db.execute("UPDATE outbox SET sent_at = ?, attempts = attempts + 1 WHERE id = ?",
                             (_ts(now), message_id))

    @_atomic
    async def mark_failed(self, message_id: int, error: str, now: datetime,
                          retry_at: datetime | None) -> None:
        """A failed delivery: try again at ``retry_at``, or give up when it is None."""
        async with self._write() as db:
            if retry_at is None:
                await db.execute("UPDATE outbox SET failed_at = ?, attempts = attempts + 1, "
                                 "last_error = ? WHERE id = ?", (_ts(now), error[:500], message_id))
            else:
                await db.execute("UPDATE outbox SET not_before = ?, attempts = attempts + 1, "
                                 "last_error = ? WHERE id = ?",
                                 (_ts(retry_at), error[:500], message_id))

    @_atomic
    async def purge_outbox(self, before: datetime) -> int:
        """Delete messages older than ``before``: delivered, abandoned, and never fetched
        (a web visitor who never came back)."""
        async with self._write() as db:
            cursor = await db.execute("DELETE FROM outbox WHERE created_at < ?", (_ts(before),))
            return cursor.rowcount

    @_atomic
    async def take_messages(self, key: str, now: datetime, limit: int = 20) -> list[OutboxMessage]:
        """Hand out one user's due messages: marked sent and returned in one transaction, so
        concurrent polls get each message exactly once."""
        async with self._write() as db:
            rows = list(await db.execute_fetchall(
                "SELECT * FROM outbox WHERE user_key = ? AND sent_at IS NULL AND failed_at IS NULL "
                "AND not_before <= ? ORDER BY id LIMIT ?", (key, _ts(now), limit)))
            for row in rows:
                await db.execute("UPDATE outbox SET sent_at = ?, attempts = attempts + 1 "
                                 "WHERE id = ? AND sent_at IS NULL", (_ts(now), row["id"]))
        return [_outbox(r) for r in rows]

    # ------------------------------------------------------------------ personal data

    @_atomic
    async def forget(self, key: str, capacities: Mapping[str, int], now: datetime,
                     message_for: MessageFor) -> ForgetResult:
        """Delete everything stored about one person; seats they held go to the waiting
        lists of the sessions in ``capacities`` (those still open)."""
        async with self._write() as db:
            rows = await db.execute_fetchall(
                "SELECT session_id, status FROM bookings WHERE user_key = ? "
                "AND status IN ('booked', 'waiting')", (key,))
            freed = {r["session_id"] for r in rows if r["status"] == "booked"}
            active = len(rows)
            cursor = await db.execute("DELETE FROM bookings WHERE user_key = ?", (key,))
            count = cursor.rowcount
            for table in ("dialogues", "outbox", "notify_requests", "user_prefs"):
                await db.execute(f"DELETE FROM {table} WHERE user_key = ?", (key,))
            promoted: list[Booking] = []
            for session_id in sorted(freed):
                if session_id in capacities:
                    promoted += await self._promote(db, session_id, capacities[session_id], now,
                                                    message_for)
        log.info("personal data of one user deleted on request: %d booking(s); %d promoted",
                 count, len(promoted))
        await self.checkpoint()
        self._booking_event("cancelled", active)
        self._booking_event("promoted", len(promoted))
        return ForgetResult(count, tuple(promoted))

    async def get_lang(self, key: str) -> str | None:
        rows = await self._rows("SELECT lang FROM user_prefs WHERE user_key = ?", (key,))
        return rows[0]["lang"] if rows else None

    @_atomic
    async def set_lang(self, key: str, lang: str | None, now: datetime) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO user_prefs (user_key, lang, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_key) DO UPDATE SET lang = excluded.lang, "
                "updated_at = excluded.updated_at", (key, lang, _ts(now)))

    # ------------------------------------------------------------------ questions and misses

    @_atomic
    async def record_question(self, *, at: datetime, channel: str, status: str, kind: str,
                              entry_id: str | None, latency_ms: float,
                              miss: MissDraft | None = None) -> int | None:
        """Count one question (per day, channel, outcome and entry, with its latency) and,
        for one the bot could not answer outright, keep it for review: returns the miss id."""
        day = local_day(at)
        async with self._write() as db:
            await db.execute(
                "INSERT INTO question_counts (day, channel, status, kind, entry_id, count, "
                "latency_ms_sum, latency_ms_max) VALUES (?, ?, ?, ?, ?, 1, ?, ?) "
                "ON CONFLICT (day, channel, status, kind, entry_id) DO UPDATE SET "
                "count = count + 1, latency_ms_sum = latency_ms_sum + excluded.latency_ms_sum, "
                "latency_ms_max = MAX(latency_ms_max, excluded.latency_ms_max)",
                (day, channel, status, kind, entry_id or "", float(latency_ms), float(latency_ms)))
            if miss is None:
                return None
            return await self._insert_miss(db, at, channel, miss)

    @_atomic
    async def record_counts(self, counts: Iterable[OutcomeCount]) -> None:
        """Add many questions' counts at once (what the recorder gathered in memory)."""
        async with self._write() as db:
            for c in counts:
                await db.execute(
                    "INSERT INTO question_counts (day, channel, status, kind, entry_id, count, "
                    "latency_ms_sum, latency_ms_max) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (day, channel, status, kind, entry_id) DO UPDATE SET "
                    "count = count + excluded.count, "
                    "latency_ms_sum = latency_ms_sum + excluded.latency_ms_sum, "
                    "latency_ms_max = MAX(latency_ms_max, excluded.latency_ms_max)",
                    (c.day, c.channel, c.status, c.kind, c.entry_id or "", c.count,
                     c.latency_ms_sum, c.latency_ms_max))

    @_atomic
    async def record_misses(self, misses: Iterable[tuple[datetime, str, MissDraft]]) -> int:
        """Keep many misses for review in one transaction (what the recorder gathered): a
        flood of junk questions costs one fsync every few seconds, not one per question."""
        count = 0
        async with self._write() as db:
            for at, channel, miss in misses:
                await self._insert_miss(db, at, channel, miss)
                count += 1
        return count

    @_atomic
    async def purge_misses(self, before_day: str) -> int:
        """Forget the questions kept for review that were asked before ``before_day``."""
        async with self._write() as db:
            cursor = await db.execute("DELETE FROM misses WHERE day < ?", (before_day,))
            count = cursor.rowcount
        if count:
            log.info("retention: deleted %d recorded question(s) from before %s", count,
                     before_day)
            await self.checkpoint()
        return count

    @_atomic
    async def record_pick(self, miss_id: int, picked: str) -> bool:
        """What the citizen chose after a "did you mean" (an entry id, or 'none')."""
        async with self._write() as db:
            cursor = await db.execute(
                "UPDATE misses SET picked = ? WHERE id = ? AND kind = 'clarify' AND picked IS NULL",
                (picked, miss_id))
            return cursor.rowcount == 1

    @_atomic
    async def record_feedback(self, *, at: datetime, channel: str, entry_id: str, vote: str,
                              undo_at: datetime | None = None, miss: MissDraft | None = None,
                              drop_miss: int | None = None) -> int | None:
        """Count a 👍 (``vote='up'``) or 👎 (``'down'``) for an entry. ``undo_at``: the same
        person had voted the other way at that moment, which no longer counts (and the 👎's
        miss ``drop_miss`` goes). ``miss``: the question of a 👎, kept for review."""
        columns = {"up": "up", "down": "down"}
        column = columns[vote]
        async with self._write() as db:
            await db.execute(
                f"INSERT INTO feedback (day, channel, entry_id, {column}) VALUES (?, ?, ?, 1) "
                f"ON CONFLICT (day, channel, entry_id) DO UPDATE SET {column} = {column} + 1",
                (local_day(at), channel, entry_id))
            if undo_at is not None:
                other = columns["down" if vote == "up" else "up"]
                await db.execute(
                    f"UPDATE feedback SET {other} = MAX({other} - 1, 0) WHERE day = ? "
                    "AND channel = ? AND entry_id = ?", (local_day(undo_at), channel, entry_id))
            if drop_miss is not None:
                await db.execute("DELETE FROM misses WHERE id = ? AND kind = 'downvote' "
                                 "AND resolution IS NULL", (drop_miss,))
            if miss is None:
                return None
            return await self._insert_miss(db, at, channel, miss)

    @staticmethod
    async def _insert_miss(db: aiosqlite.Connection, at: datetime, channel: str,
                           miss: MissDraft) -> int:
        cursor = await db.execute(
            "INSERT INTO misses (at, day, channel, kind, question, normalized, pinyin, lang, "
            "candidates, entry_id, asker) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_ts(at), local_day(at), channel, miss.kind, miss.question, miss.normalized,
             miss.pinyin, miss.lang,
             json.dumps([[e, round(sc, 1)] for e, sc in miss.candidates], ensure_ascii=False),
             miss.entry_id, miss.asker))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def open_misses(self, kinds: Sequence[str] = ("fallback", "clarify", "downvote"),
                          since_day: str | None = None) -> list[Miss]:
        """Misses nobody has dealt with yet, oldest first; questions marked out of scope are
        left out, also when asked again later."""
        marks = ",".join("?" * len(kinds))
        sql = (f"SELECT * FROM misses WHERE resolution IS NULL AND kind IN ({marks}) "
               "AND normalized NOT IN (SELECT normalized FROM review_marks "
               "WHERE decision = 'out_of_scope')")
        params: list[Any] = list(kinds)
        if since_day is not None:
            sql += " AND day >= ?"
            params.append(since_day)
        return [_miss(r) for r in await self._rows(sql + " ORDER BY id", params)]

    async def misses(self, since_day: str | None = None) -> list[Miss]:
        """Every recorded miss (from ``since_day``, a YYYY-MM-DD Beijing date), oldest first."""
        sql, params = "SELECT * FROM misses", []
        if since_day is not None:
            sql += " WHERE day >= ?"
            params.append(since_day)
        return [_miss(r) for r in await self._rows(sql + " ORDER BY id", params)]

    @_atomic
    async def resolve_misses(self, ids: Iterable[int], resolution: str, entry_id: str | None,
                             now: datetime) -> int:
        """Close misses: ``added`` (now a phrasing of ``entry_id``) or ``out_of_scope``."""
        ids = list(ids)
        if not ids:
            return 0
        marks = ",".join("?" * len(ids))
        async with self._write() as db:
            cursor = await db.execute(
                f"UPDATE misses SET resolution = ?, resolved_entry = ?, resolved_at = ? "
                f"WHERE resolution IS NULL AND id IN ({marks})",
                (resolution, entry_id, _ts(now), *ids))
            return cursor.rowcount

    @_atomic
    async def mark_out_of_scope(self, ids: Iterable[int], normalized: Iterable[str],
                                now: datetime) -> int:
        """Staff say these questions are not for this bot: close the misses, and never offer
        the same (normalised) question for review again."""
        ids, forms = list(ids), sorted(set(normalized))
        async with self._write() as db:
            for form in forms:
                await db.execute(
                    "INSERT INTO review_marks (normalized, decision, at) VALUES (?, 'out_of_scope', ?) "
                    "ON CONFLICT (normalized) DO NOTHING", (form, _ts(now)))
            if not ids:
                return 0
            marks = ",".join("?" * len(ids))
            cursor = await db.execute(
                f"UPDATE misses SET resolution = 'out_of_scope', resolved_at = ? "
                f"WHERE resolution IS NULL AND id IN ({marks})", (_ts(now), *ids))
            return cursor.rowcount

    async def outcome_counts(self, since_day: str | None = None) -> list[OutcomeCount]:
        sql, params = "SELECT * FROM question_counts", []
        if since_day is not None:
            sql += " WHERE day >= ?"
            params.append(since_day)
        rows = await self._rows(sql + " ORDER BY day, channel, status, kind, entry_id", params)
        return [OutcomeCount(r["day"], r["channel"], r["status"], r["kind"], r["entry_id"] or None,
                             int(r["count"]), float(r["latency_ms_sum"]), float(r["latency_ms_max"]))
                for r in rows]

    async def feedback_counts(self, since_day: str | None = None) -> list[FeedbackCount]:
        """👍 and 👎 per entry, most 👎 first."""
        sql, params = "SELECT entry_id, SUM(up) AS up, SUM(down) AS down FROM feedback", []
        if since_day is not None:
            sql += " WHERE day >= ?"
            params.append(since_day)
        sql += " GROUP BY entry_id HAVING SUM(up) + SUM(down) > 0 ORDER BY down DESC, up DESC, entry_id"
        return [FeedbackCount(r["entry_id"], int(r["up"]), int(r["down"]))
                for r in await self._rows(sql, params)]

    # ------------------------------------------------------------------ suspicious sign-ups

    async def suspicious(self, min_count: int = 3, prefix: int = 8) -> list[tuple[str, Booking]]:
        """Active bookings that look scripted: ``min_count`` or more from one client address,
        or from mobile numbers sharing their first ``prefix`` digits (13912340001, …0002, …),
        each with why ("client <hash>" or "phone 1391234…"); grouped, biggest group first."""
        rows = await self._rows(
            "SELECT * FROM bookings WHERE status IN ('booked', 'waiting') ORDER BY id")
        bookings = [_booking(r) for r in rows]
        groups: dict[str, list[Booking]] = {}
        for b in bookings:
            if b.client:
                groups.setdefault(f"client {b.client}", []).append(b)
            groups.setdefault(f"phone {b.phone[:prefix]}…", []).append(b)
        out = []
        for reason, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            if len(members) >= min_count:
                out.extend((reason, b) for b in members)
        return out

    # ------------------------------------------------------------------ admin log

    @_atomic
    async def log_admin(self, actor: str, action: str, detail: str, now: datetime) -> None:
        """Record who did what and when (also written to the log)."""
        async with self._write() as db:
            await db.execute("INSERT INTO admin_log (at, actor, action, detail) VALUES (?, ?, ?, ?)",
                             (_ts(now), actor, action, detail))
        log.info("admin %s: %s %s", actor, action, detail)

    async def admin_log(self, limit: int = 100) -> list[tuple[datetime, str, str, str]]:
        rows = await self._rows("SELECT * FROM admin_log ORDER BY id DESC LIMIT ?", (limit,))
        return [(_dt(r["at"]), r["actor"], r["action"], r["detail"])  # type: ignore[misc]
                for r in rows]

    # ------------------------------------------------------------------ inside a transaction

    @staticmethod
    async def _by_code(db: aiosqlite.Connection, code: str) -> Booking | None:
        rows = await db.execute_fetchall("SELECT * FROM bookings WHERE code = ?", (code,))
        return _booking(next(iter(rows))) if rows else None

    @staticmethod
    async def _active(db: aiosqlite.Connection, session_id: str, key: str) -> Booking | None:
        rows = await db.execute_fetchall(
            "SELECT * FROM bookings WHERE session_id = ? AND user_key = ? "
            "AND status IN ('booked', 'waiting')", (session_id, key))
        return _booking(next(iter(rows))) if rows else None

    @staticmethod
    async def _counts(db: aiosqlite.Connection, session_id: str) -> tuple[int, int]:
        rows = await db.execute_fetchall(
            "SELECT COALESCE(SUM(status = 'booked'), 0), COALESCE(SUM(status = 'waiting'), 0) "
            "FROM bookings WHERE session_id = ?", (session_id,))
        row = next(iter(rows))
        return int(row[0]), int(row[1])

    @staticmethod
    async def _unused_code(db: aiosqlite.Connection) -> str:
        while True:
            code = new_code()
            rows = await db.execute_fetchall("SELECT 1 FROM bookings WHERE code = ?", (code,))
            if not rows:
                return code

    async def _promote(self, db: aiosqlite.Connection, session_id: str, capacity: int,
                       now: datetime, message_for: MessageFor) -> tuple[Booking, ...]:
        booked, _ = await self._counts(db, session_id)
        free = capacity - booked
        if free <= 0:
            return ()
        rows = await db.execute_fetchall(
            "SELECT * FROM bookings WHERE session_id = ? AND status = 'waiting' ORDER BY id "
            "LIMIT ?", (session_id, free))
        promoted = []
        for row in rows:
            await db.execute("UPDATE bookings SET status = 'booked', updated_at = ?, booked_at = ? "
                             "WHERE id = ?", (_ts(now), _ts(now), row["id"]))
            booking = await self._by_code(db, row["code"])
            assert booking is not None
            await self._enqueue(db, booking.user_key, message_for(booking), now,
                                dedupe=f"promoted:{booking.code}")
            promoted.append(booking)
            log.info("booking %s promoted from the waiting list of %s", booking.code, session_id)
        return tuple(promoted)

    @staticmethod
    async def _enqueue(db: aiosqlite.Connection, key: str, draft: Draft, now: datetime,
                       dedupe: str | None = None) -> bool:
        cursor = await db.execute(
            "INSERT INTO outbox (user_key, kind, lang, text, actions, dedupe, created_at, "
            "not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe) DO NOTHING",
            (key, draft.kind, draft.lang, draft.text,
             json.dumps([list(a) for a in draft.actions], ensure_ascii=False), dedupe,
             _ts(now), _ts(now)))
        return cursor.rowcount == 1


__all__ = ["DB_NAME", "MIGRATIONS", "SCHEMA_VERSION", "BookResult", "Booking", "BookingListener",
           "CancelResult", "Draft", "FeedbackCount", "Flow", "ForgetResult", "Miss", "MissDraft",
           "OutboxMessage", "OutcomeCount", "SessionCount", "Store", "StoreError", "StoreUnavailable",
           "BookingRefused", "local_day",
           "mask_phone", "user_key"]
