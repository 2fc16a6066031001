"""What the store hands out and takes in (records), its errors and small helpers: shared by
every concern of the store and by both databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from bot.kb import TZ

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read out over the phone
CODE_LENGTH = 6
ACTIVE = ("booked", "waiting")

Row = Any  # sqlite3.Row or asyncpg.Record: both read by column name and by position


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


def _outbox(r: Row) -> OutboxMessage:
    return OutboxMessage(r["id"], r["user_key"], r["kind"], r["lang"], r["text"],
                         tuple((a, b) for a, b in json.loads(r["actions"])),
                         _dt(r["created_at"]), r["attempts"])  # type: ignore[arg-type]


def _booking(row: Row) -> Booking:
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


def _miss(row: Row) -> Miss:
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

