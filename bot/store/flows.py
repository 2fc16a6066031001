"""Sign-up dialogues (where each person is in the flow) and per-person preferences."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.store.records import Flow, _atomic, _dt, _ts

log = logging.getLogger("bot.store")
IN_FLOW_KEPT = 10_000  # people remembered as mid-sign-up (the oldest forgotten first)


class FlowsMixin:
    """The flows half of :class:`bot.store.Store` (see there)."""

    _in_flow: OrderedDict[str, None]

    def _init_flows(self) -> None:
        # Who saved a sign-up step in this replica and has not finished: a scheduling hint
        # only (their requests go before a flood of questions), never used to decide a step,
        # so a replica that does not know (the person's last step went to another) is merely
        # slower for them, never wrong.
        self._in_flow = OrderedDict()

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
            changed = await db.execute("DELETE FROM dialogues WHERE updated_at < ?", (_ts(before),))
            return changed

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
