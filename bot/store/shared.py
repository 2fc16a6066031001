"""What several replicas must agree on, kept in the database they share: secrets made once
(the web session key, the statistics salt), once-per-deployment jobs (``setWebhook``) and the
token buckets of the request rate limit (:class:`bot.limits.SharedTokenBucket`)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from bot.store.records import _atomic, _dt, _ts

WEBHOOK_EVERY = timedelta(minutes=10)  # replicas started this close together set it once
_PURGE_EVERY = 1000  # rate-limit hits between two deletions of idle buckets


class SharedMixin:
    """The shared-state half of :class:`bot.store.Store` (see there)."""

    _hits = 0

    @_atomic
    async def shared_secret(self, name: str, now: datetime, nbytes: int = 32) -> bytes:
        """A random secret made by whichever replica asks first, the same for all later."""
        fresh = base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")
        async with self._write() as db:
            await db.execute("INSERT INTO shared_values (name, value, at) VALUES (?, ?, ?) "
                             "ON CONFLICT (name) DO NOTHING", (f"secret:{name}", fresh, _ts(now)))
            rows = await db.fetch("SELECT value FROM shared_values WHERE name = ?",
                                  (f"secret:{name}",))
        return base64.b64decode(rows[0][0])

    @_atomic
    async def claim_job(self, name: str, now: datetime, every: timedelta) -> bool:
        """True for exactly one caller (of every replica) per ``every``: a job such as
        ``setWebhook`` at start-up runs once when replicas start together. The row is locked
        by the first caller's update, so a second waits and then finds the job done."""
        async with self._write() as db:
            await db.execute("INSERT INTO shared_values (name, value, at) VALUES (?, '', ?) "
                             "ON CONFLICT (name) DO NOTHING", (f"job:{name}", ""))
            changed = await db.execute(
                "UPDATE shared_values SET value = 'done', at = ? WHERE name = ? "
                "AND (value = '' OR at < ?)", (_ts(now), f"job:{name}", _ts(now - every)))
        return changed == 1

    async def webhook_turn(self, url: str, secret: str) -> bool:
        """Whether this process calls Telegram's ``setWebhook`` at start-up: always with
        SQLite (one process); with PostgreSQL, the first replica to start within
        :data:`WEBHOOK_EVERY` for this URL and secret (the others find it done)."""
        if self._db.kind == "sqlite":
            return True
        digest = hashlib.sha256(f"{url}\n{secret}".encode()).hexdigest()[:16]
        return await self.claim_job(f"setWebhook:{digest}", datetime.now(UTC), WEBHOOK_EVERY)

    async def job_done_at(self, name: str) -> datetime | None:
        rows = await self._rows("SELECT at FROM shared_values WHERE name = ? AND value = 'done'",
                                (f"job:{name}",))
        return _dt(rows[0][0]) if rows else None

    @_atomic
    async def take_lease(self, key: str, holder: str, at: float, seconds: float) -> bool:
        """Take ``key`` for ``holder`` until ``at + seconds`` unless someone else holds it
        (an expired lease is taken over: its holder died)."""
        async with self._write() as db:
            changed = await db.execute(
                "INSERT INTO person_locks (key, holder, until) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, until = excluded.until "
                "WHERE person_locks.until < ?", (key, holder, at + seconds, at))
        return changed == 1

    @_atomic
    async def drop_lease(self, key: str, holder: str) -> None:
        async with self._write() as db:
            await db.execute("DELETE FROM person_locks WHERE key = ? AND holder = ?",
                             (key, holder))

    async def rate_hit(self, key: str, per_minute: int, at: float) -> float | None:
        """One request of ``key`` against a token bucket of ``per_minute`` tokens (refilled
        continuously) shared by every replica: None if allowed, else the seconds until a
        token is back. One statement: the refill, the take and the answer happen together,
        in the row's lock (``at`` is the replica's wall clock in seconds)."""
        cap, rate = float(per_minute), per_minute / 60.0
        refilled = (f"CASE WHEN rate_buckets.tokens + (excluded.at - rate_buckets.at) * {rate!r} "
                    f"> {cap!r} THEN {cap!r} ELSE rate_buckets.tokens + "
                    f"(excluded.at - rate_buckets.at) * {rate!r} END")
        async with self._write() as db:
            rows = await db.fetch(
                "INSERT INTO rate_buckets (key, tokens, at, allowed) VALUES (?, ?, ?, 1) "
                "ON CONFLICT (key) DO UPDATE SET "
                f"allowed = CASE WHEN {refilled} >= 1 THEN 1 ELSE 0 END, "
                f"tokens = CASE WHEN {refilled} >= 1 THEN {refilled} - 1 ELSE {refilled} END, "
                "at = excluded.at RETURNING allowed, tokens", (key, cap - 1.0, float(at)))
            self._hits += 1
            if self._hits % _PURGE_EVERY == 0:  # a full bucket is as good as none
                await db.execute("DELETE FROM rate_buckets WHERE at < ?", (at - 60.0,))
        allowed, tokens = int(rows[0][0]), float(rows[0][1])
        return None if allowed else (1.0 - tokens) / rate
