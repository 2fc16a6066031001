"""What citizens asked (counts per day, channel and outcome), misses kept for review and
👍/👎 feedback (for :mod:`bot.insights`); no user identity."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.store.backend import Tx
from bot.store.records import (
    FeedbackCount,
    Miss,
    MissDraft,
    OutcomeCount,
    _atomic,
    _miss,
    _ts,
    local_day,
)

log = logging.getLogger("bot.store")
# The larger of the kept and the new maximum latency (SQLite's two-argument MAX is
# PostgreSQL's GREATEST; CASE is both's).
_LATER_MAX = ("CASE WHEN excluded.latency_ms_max > question_counts.latency_ms_max "
              "THEN excluded.latency_ms_max ELSE question_counts.latency_ms_max END")


class QuestionsMixin:
    """The questions half of :class:`bot.store.Store` (see there)."""

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
                "count = question_counts.count + 1, "
                "latency_ms_sum = question_counts.latency_ms_sum + excluded.latency_ms_sum, "
                f"latency_ms_max = {_LATER_MAX}",
                (day, channel, status, kind, entry_id or "", float(latency_ms), float(latency_ms)))
            if miss is None:
                return None
            return await self._insert_miss(db, at, channel, miss)

    @_atomic
    async def record_counts(self, counts: Iterable[OutcomeCount]) -> None:
        """Add many questions' counts at once (what the recorder gathered in memory)."""
        async with self._write() as db:
            # in key order: two replicas flushing at once lock the rows in the same order
            for c in sorted(counts, key=lambda c: (c.day, c.channel, c.status, c.kind,
                                                   c.entry_id or "")):
                await db.execute(
                    "INSERT INTO question_counts (day, channel, status, kind, entry_id, count, "
                    "latency_ms_sum, latency_ms_max) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (day, channel, status, kind, entry_id) DO UPDATE SET "
                    "count = question_counts.count + excluded.count, "
                    "latency_ms_sum = question_counts.latency_ms_sum + excluded.latency_ms_sum, "
                    f"latency_ms_max = {_LATER_MAX}",
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
            changed = await db.execute("DELETE FROM misses WHERE day < ?", (before_day,))
            count = changed
        if count:
            log.info("retention: deleted %d recorded question(s) from before %s", count,
                     before_day)
            await self.checkpoint()
        return count

    @_atomic
    async def record_pick(self, miss_id: int, picked: str) -> bool:
        """What the citizen chose after a "did you mean" (an entry id, or 'none')."""
        async with self._write() as db:
            changed = await db.execute(
                "UPDATE misses SET picked = ? WHERE id = ? AND kind = 'clarify' AND picked IS NULL",
                (picked, miss_id))
            return changed == 1

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
                f"ON CONFLICT (day, channel, entry_id) DO UPDATE SET {column} = feedback.{column} + 1",
                (local_day(at), channel, entry_id))
            if undo_at is not None:
                other = columns["down" if vote == "up" else "up"]
                await db.execute(
                    f"UPDATE feedback SET {other} = CASE WHEN {other} > 0 THEN {other} - 1 ELSE 0 END "
                    "WHERE day = ? "
                    "AND channel = ? AND entry_id = ?", (local_day(undo_at), channel, entry_id))
            if drop_miss is not None:
                await db.execute("DELETE FROM misses WHERE id = ? AND kind = 'downvote' "
                                 "AND resolution IS NULL", (drop_miss,))
            if miss is None:
                return None
            return await self._insert_miss(db, at, channel, miss)

    @staticmethod
    async def _insert_miss(db: Tx, at: datetime, channel: str,
                           miss: MissDraft) -> int:
        rows = await db.fetch(
            "INSERT INTO misses (at, day, channel, kind, question, normalized, pinyin, lang, "
            "candidates, entry_id, asker) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (_ts(at), local_day(at), channel, miss.kind, miss.question, miss.normalized,
             miss.pinyin, miss.lang,
             json.dumps([[e, round(sc, 1)] for e, sc in miss.candidates], ensure_ascii=False),
             miss.entry_id, miss.asker))
        return int(rows[0][0])

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
            changed = await db.execute(
                f"UPDATE misses SET resolution = ?, resolved_entry = ?, resolved_at = ? "
                f"WHERE resolution IS NULL AND id IN ({marks})",
                (resolution, entry_id, _ts(now), *ids))
            return changed

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
            changed = await db.execute(
                f"UPDATE misses SET resolution = 'out_of_scope', resolved_at = ? "
                f"WHERE resolution IS NULL AND id IN ({marks})", (_ts(now), *ids))
            return changed

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
