"""Open-day bookings: seats, the waiting list and its promotion, deleting a person's data,
suspicious sign-ups and the admin log."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.store.backend import Tx
from bot.store.records import (
    Booking,
    BookingRefused,
    BookResult,
    CancelResult,
    ForgetResult,
    MessageFor,
    SessionCount,
    _atomic,
    _booking,
    _dt,
    _ts,
    mask_phone,
    new_code,
)

log = logging.getLogger("bot.store")


class BookingsMixin:
    """The bookings half of :class:`bot.store.Store` (see there)."""

    # ------------------------------------------------------------------ bookings

    @_atomic
    async def book(self, *, session_id: str, capacity: int, user_key: str, name: str, phone: str,
                   lang: str, institution: str, session_start: datetime,
                   now: datetime, client: str | None = None, client_limit: int = 0,
                   since: datetime | None = None) -> BookResult:
        """Book a seat, or a place on the waiting list when the session is full.

        Counting and inserting happen in one transaction that holds the session (SQLite:
        BEGIN IMMEDIATE; PostgreSQL: an advisory lock on the session id, so replicas take
        turns), so the number of ``booked`` rows never exceeds ``capacity`` however many
        people confirm at once, on however many replicas. While
        anyone is waiting, newcomers wait too (freed seats go to the waiting list first).

        Raises :class:`BookingRefused` when ``phone`` already holds a place in the session
        (a unique index enforces it, also against other processes), or when ``client`` made
        ``client_limit`` (> 0) active sign-ups since ``since`` already.
        """
        async with self._write() as db:
            await self._hold_session(db, session_id)
            existing = await self._active(db, session_id, user_key)
            if existing is not None:
                return BookResult(existing, created=False)
            taken = await db.fetch(
                "SELECT 1 FROM bookings WHERE session_id = ? AND phone = ? "
                "AND status IN ('booked', 'waiting')", (session_id, phone))
            if taken:
                raise BookingRefused("phone")
            if client is not None and client_limit > 0 and since is not None:
                rows = await db.fetch(
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
            except self._db.integrity_errors as exc:
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
        return await self._by_code(self._db, code)

    async def active_booking(self, user_key: str, session_id: str) -> Booking | None:
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
        return await self._counts(self._db, session_id)

    async def session_counts(self) -> dict[str, SessionCount]:
        """Every session that has active bookings, including sessions no longer in the file."""
        rows = await self._rows(
            "SELECT session_id, SUM(CASE WHEN status = 'booked' THEN 1 ELSE 0 END) AS booked, "
            "SUM(CASE WHEN status = 'waiting' THEN 1 ELSE 0 END) AS waiting, "
            "MAX(institution) AS institution, "
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
            if booking is not None:  # hold its session, then read it again
                await self._hold_session(db, booking.session_id)
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
            await self._hold_session(db, session_id)
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
            for session_id, (institution, start) in sorted(sessions.items()):  # lock order
                changed += await db.execute(
                    "UPDATE bookings SET institution = ?, session_start = ? WHERE session_id = ? "
                    "AND (institution <> ? OR session_start IS NULL OR session_start <> ?)",
                    (institution, _ts(start), session_id, institution, _ts(start)))
        return changed

    @_atomic
    async def purge_bookings(self, before: datetime) -> int:
        """Delete every booking of sessions that started before ``before`` (the retention
        period is over)."""
        async with self._write() as db:
            changed = await db.execute("DELETE FROM bookings WHERE session_start < ?",
                                      (_ts(before),))
            count = changed
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

    # ------------------------------------------------------------------ personal data

    @_atomic
    async def forget(self, key: str, capacities: Mapping[str, int], now: datetime,
                     message_for: MessageFor) -> ForgetResult:
        """Delete everything stored about one person; seats they held go to the waiting
        lists of the sessions in ``capacities`` (those still open)."""
        async with self._write() as db:
            held = await db.fetch("SELECT DISTINCT session_id FROM bookings WHERE user_key = ?",
                                  (key,))
            for session_id in sorted(r["session_id"] for r in held):  # in order: no deadlock
                await self._hold_session(db, session_id)
            rows = await db.fetch(
                "SELECT session_id, status FROM bookings WHERE user_key = ? "
                "AND status IN ('booked', 'waiting')", (key,))
            freed = {r["session_id"] for r in rows if r["status"] == "booked"}
            active = len(rows)
            changed = await db.execute("DELETE FROM bookings WHERE user_key = ?", (key,))
            count = changed
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

    async def _hold_session(self, db: Tx, session_id: str) -> None:
        """Until the transaction ends, no other replica books, cancels or promotes in this
        session (SQLite's write transaction holds the whole file already)."""
        await self._db.lock(db, f"session:{session_id}")

    @staticmethod
    async def _by_code(db: Tx, code: str) -> Booking | None:
        rows = await db.fetch("SELECT * FROM bookings WHERE code = ?", (code,))
        return _booking(next(iter(rows))) if rows else None

    @staticmethod
    async def _active(db: Tx, session_id: str, key: str) -> Booking | None:
        rows = await db.fetch(
            "SELECT * FROM bookings WHERE session_id = ? AND user_key = ? "
            "AND status IN ('booked', 'waiting')", (session_id, key))
        return _booking(next(iter(rows))) if rows else None

    @staticmethod
    async def _counts(db: Tx, session_id: str) -> tuple[int, int]:
        rows = await db.fetch(
            "SELECT COALESCE(SUM(CASE WHEN status = 'booked' THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN status = 'waiting' THEN 1 ELSE 0 END), 0) "
            "FROM bookings WHERE session_id = ?", (session_id,))
        row = next(iter(rows))
        return int(row[0]), int(row[1])

    @staticmethod
    async def _unused_code(db: Tx) -> str:
        while True:
            code = new_code()
            rows = await db.fetch("SELECT 1 FROM bookings WHERE code = ?", (code,))
            if not rows:
                return code

    async def _promote(self, db: Tx, session_id: str, capacity: int,
                       now: datetime, message_for: MessageFor) -> tuple[Booking, ...]:
        booked, _ = await self._counts(db, session_id)
        free = capacity - booked
        if free <= 0:
            return ()
        rows = await db.fetch(
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
