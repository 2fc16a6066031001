"""Telegram's flood gate with replicas: one person's messages count once, in the shared
database, whichever replica takes them (two stores over one PostgreSQL, as two replicas)."""

from __future__ import annotations

from bot.channels.telegram.gate import SharedFloodGate
from bot.store import Store
from tests.pg_helpers import fresh_schema


class Ticker:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_twenty_a_minute_in_all_across_two_replicas() -> None:
    clock = Ticker()
    async with fresh_schema() as url:
        first, second = await Store.open(url), await Store.open(url)
        try:
            gates = [SharedFloodGate(first, clock=clock), SharedFloodGate(second, clock=clock)]
            verdicts = [await gates[i % 2].verdict(42) for i in range(20)]
            assert verdicts == ["ok"] * 20  # ten on each replica
            assert await gates[0].verdict(42) == "notice"  # the 21st, wherever it lands
            assert await gates[0].verdict(42) == "silent"  # told once, then ignored
            assert await gates[1].verdict(42) == "notice"  # the other replica tells once too
            assert await gates[1].verdict(42) == "silent"
            assert await gates[1].verdict(7) == "ok"  # someone else is not held back
            clock.now += 60.0  # a minute later the allowance is back
            assert await gates[1].verdict(42) == "ok"
        finally:
            await first.close()
            await second.close()
