"""The bot's database: open-day bookings, sign-up dialogues, the outbox and reminders, the
admin log, what citizens asked (for :mod:`bot.insights`), and what several replicas must share
(the web session key, rate limits).

One interface, :class:`Store`, over two databases (:mod:`bot.store.backend`):

* SQLite, the embedded default: one file in ``DATA_DIR`` (WAL, ``synchronous=FULL``: a booking
  the citizen was told about survives a crash or a power cut); every write is one
  ``BEGIN IMMEDIATE`` transaction, which also keeps out another process on the same file.
* PostgreSQL, when ``DATABASE_URL=postgresql://…``: any number of replicas over one database.
  The rules hold across them because the database enforces them, never an in-process lock:
  a booking counts the seats and inserts holding a transaction-scoped advisory lock on its
  session; one active booking per person and per mobile number per session are unique
  indexes; a promotion, a reminder and a claim are conditional updates; an outbox message is
  claimed with ``FOR UPDATE SKIP LOCKED`` until ``claimed_until``, so a replica that dies
  holding it loses the claim and another one sends it.

The methods are grouped by concern, one module each: :mod:`~bot.store.bookings`,
:mod:`~bot.store.flows`, :mod:`~bot.store.outbox` (reminders too), :mod:`~bot.store.questions`,
:mod:`~bot.store.shared`. Every SQL statement of the project lives in this package, written
once in the SQL both databases accept. The schema is versioned (:mod:`~bot.store.schema`);
start-up applies whatever is missing, each migration in one transaction, on PostgreSQL by one
replica at a time (advisory lock).

Times are stored as UTC ISO-8601 text (sortable); callers pass and receive aware datetimes.
Statistics are kept per Beijing-time day (:func:`local_day`) and hold no user identity.
Names and phone numbers are never logged (phone numbers only through :func:`mask_phone`); a
database URL is logged without its password. Deleted rows are overwritten in SQLite
(``secure_delete``) and its write-ahead log emptied after personal data is deleted.

Faults: :meth:`Store.open` refuses a damaged SQLite file (``PRAGMA quick_check``) or an
unreachable PostgreSQL with :class:`StoreError`; a write that fails because the disk is full
or read-only, or the database is gone, raises :class:`StoreUnavailable`, logged once a minute.
"""

from __future__ import annotations

from bot.store.backend import is_postgres, redact
from bot.store.base import StoreBase
from bot.store.bookings import BookingsMixin
from bot.store.flows import FlowsMixin
from bot.store.outbox import OutboxMixin
from bot.store.questions import QuestionsMixin
from bot.store.records import (
    ACTIVE,
    CODE_ALPHABET,
    CODE_LENGTH,
    Booking,
    BookingListener,
    BookingRefused,
    BookResult,
    CancelResult,
    Draft,
    FeedbackCount,
    Flow,
    ForgetResult,
    MessageFor,
    Miss,
    MissDraft,
    OutboxMessage,
    OutcomeCount,
    SessionCount,
    StoreError,
    StoreUnavailable,
    local_day,
    mask_phone,
    new_code,
    user_key,
)
from bot.store.schema import MIGRATIONS, SCHEMA_VERSION
from bot.store.shared import SharedMixin

DB_NAME = "bot.sqlite3"


class Store(FlowsMixin, BookingsMixin, OutboxMixin, QuestionsMixin, SharedMixin, StoreBase):
    """Open with ``await Store.open(path or postgresql:// URL)``; close with
    ``await store.close()``."""


__all__ = ["ACTIVE", "CODE_ALPHABET", "CODE_LENGTH", "DB_NAME", "MIGRATIONS", "SCHEMA_VERSION",
           "BookResult", "Booking", "BookingListener", "BookingRefused", "CancelResult", "Draft",
           "FeedbackCount", "Flow", "ForgetResult", "MessageFor", "Miss", "MissDraft",
           "OutboxMessage", "OutcomeCount", "SessionCount", "Store", "StoreError",
           "StoreUnavailable", "is_postgres", "local_day", "mask_phone", "new_code", "redact",
           "user_key"]
