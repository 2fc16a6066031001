"""Messages for someone other than the person answered: reminders, notify requests and
the outbox, each message handed to exactly one replica."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store.backend import Tx
from bot.store.records import Booking, Draft, OutboxMessage, _atomic, _booking, _outbox, _ts

log = logging.getLogger("bot.store")
CLAIM_SECONDS = 60.0  # how long a replica's claim on an outbox message holds, unless marked


class OutboxMixin:
    """The outbox half of :class:`bot.store.Store` (see there)."""

    # Who claims outbox messages (this replica), and the clock claims expire by: the wall
    # clock, whatever clock the caller's ``now`` comes from (tests fix that one).
    replica = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    claim_clock: Callable[[], datetime] = staticmethod(lambda: datetime.now(UTC))

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
            changed = await db.execute(
                "UPDATE bookings SET reminded_at = ? WHERE code = ? AND status = 'booked' "
                "AND reminded_at IS NULL", (_ts(now), code))
            if changed != 1:
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
            changed = await db.execute(
                "INSERT INTO notify_requests (user_key, lang, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_key) DO NOTHING", (key, lang, _ts(now)))
            return changed == 1

    async def notify_requests(self) -> list[tuple[str, str]]:
        """(user key, language) of everyone waiting to hear of new sessions."""
        rows = await self._rows("SELECT user_key, lang FROM notify_requests ORDER BY created_at")
        return [(r["user_key"], r["lang"]) for r in rows]

    @_atomic
    async def fulfil_notify_request(self, key: str, draft: Draft, now: datetime) -> bool:
        """Drop the request and queue its message in one transaction (it is sent once)."""
        async with self._write() as db:
            changed = await db.execute("DELETE FROM notify_requests WHERE user_key = ?", (key,))
            if changed != 1:
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

    @_atomic
    async def pending_messages(self, now: datetime, *, channel: str | None = None,
                               key: str | None = None, limit: int = 50) -> list[OutboxMessage]:
        """Claim the messages to deliver now, oldest first (of one channel, or of one user):
        each is handed to one caller, on one replica, until :meth:`mark_sent` or
        :meth:`mark_failed`, or until the claim expires after :data:`CLAIM_SECONDS` (the
        replica died while sending), when the next caller gets it again. The claim skips rows
        another replica is claiming at that moment (``FOR UPDATE SKIP LOCKED``)."""
        wall = self.claim_clock()
        sql = ("SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL "
               "AND not_before <= ? AND (claimed_until IS NULL OR claimed_until <= ?)")
        params: list[Any] = [_ts(now), _ts(wall)]
        if channel is not None:
            sql += " AND substr(user_key, 1, ?) = ?"
            params += [len(channel) + 1, f"{channel}:"]
        if key is not None:
            sql += " AND user_key = ?"
            params.append(key)
        sql += " ORDER BY id LIMIT ?" + self._db.skip_locked
        async with self._write() as db:
            rows = await db.fetch(
                f"UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id IN ({sql}) "
                "RETURNING *",
                [self.replica, _ts(wall + timedelta(seconds=CLAIM_SECONDS)), *params, limit])
        return sorted((_outbox(r) for r in rows), key=lambda m: m.id)

    @_atomic
    async def mark_sent(self, message_id: int, now: datetime) -> None:
        async with self._write() as db:
            await db.execute("UPDATE outbox SET sent_at = ?, attempts = attempts + 1, claimed_until = NULL "
                             "WHERE id = ?",
                             (_ts(now), message_id))

    @_atomic
    async def mark_failed(self, message_id: int, error: str, now: datetime,
                          retry_at: datetime | None) -> None:
        """A failed delivery: try again at ``retry_at``, or give up when it is None."""
        async with self._write() as db:
            if retry_at is None:
                await db.execute("UPDATE outbox SET failed_at = ?, attempts = attempts + 1, "
                                 "last_error = ?, claimed_until = NULL WHERE id = ?",
                                 (_ts(now), error[:500], message_id))
            else:
                await db.execute("UPDATE outbox SET not_before = ?, attempts = attempts + 1, "
                                 "last_error = ?, claimed_until = NULL WHERE id = ?",
                                 (_ts(retry_at), error[:500], message_id))

    @_atomic
    async def purge_outbox(self, before: datetime) -> int:
        """Delete messages older than ``before``: delivered, abandoned, and never fetched
        (a web visitor who never came back)."""
        async with self._write() as db:
            changed = await db.execute("DELETE FROM outbox WHERE created_at < ?", (_ts(before),))
            return changed

    @_atomic
    async def take_messages(self, key: str, now: datetime, limit: int = 20) -> list[OutboxMessage]:
        """Hand out one user's due messages: marked sent and returned in one transaction, so
        concurrent polls get each message exactly once."""
        async with self._write() as db:
            rows = list(await db.fetch(
                "SELECT * FROM outbox WHERE user_key = ? AND sent_at IS NULL AND failed_at IS NULL "
                "AND not_before <= ? ORDER BY id LIMIT ?" + self._db.skip_locked,
                (key, _ts(now), limit)))
            for row in rows:
                await db.execute("UPDATE outbox SET sent_at = ?, attempts = attempts + 1 "
                                 "WHERE id = ? AND sent_at IS NULL", (_ts(now), row["id"]))
        return [_outbox(r) for r in rows]

    @staticmethod
    async def _enqueue(db: Tx, key: str, draft: Draft, now: datetime,
                       dedupe: str | None = None) -> bool:
        changed = await db.execute(
            "INSERT INTO outbox (user_key, kind, lang, text, actions, dedupe, created_at, "
            "not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe) DO NOTHING",
            (key, draft.kind, draft.lang, draft.text,
             json.dumps([list(a) for a in draft.actions], ensure_ascii=False), dedupe,
             _ts(now), _ts(now)))
        return changed == 1
