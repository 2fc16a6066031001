"""The database on its own, on both databases (the ``where`` fixture: a real SQLite file, and
a fresh schema of a real PostgreSQL — skipped without ``TEST_DATABASE_URL``, failing under CI):
migrations, capacity under concurrency (two stores at once: two replicas), waiting-list
promotion, exactly-once reminders and outbox claims, deleting a person's data."""

from __future__ import annotations

import asyncio
import sqlite3
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import store as store_module
from bot.kb import TZ
from bot.store import (
    CODE_ALPHABET,
    SCHEMA_VERSION,
    Booking,
    Draft,
    Store,
    StoreError,
    mask_phone,
)
from bot.store import outbox as outbox_module
from tests.pg_helpers import fresh_schema

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=TZ)
START = datetime(2027, 3, 16, 9, 30, tzinfo=TZ)


@pytest.fixture(params=["sqlite", "postgresql"])
async def where(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Path | str]:
    """Where a fresh database lives: a SQLite file's path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        yield tmp_path / "data" / "bot.sqlite3"
        return
    async with fresh_schema() as url:
        yield url


@pytest.fixture
async def store(where: Path | str) -> AsyncIterator[Store]:
    s = await Store.open(where)
    yield s
    await s.close()


async def rows(store: Store, sql: str) -> list[Any]:
    """What another connection reads (a query outside the store's own methods)."""
    return await store._rows(sql)


def promoted(booking: Booking) -> Draft:
    return Draft("promoted", f"seat for {booking.code}", booking.lang)


def phone_of(user: str) -> str:
    """A mobile number of its own for each person (one place per number per session)."""
    return f"138{zlib.crc32(user.encode()) % 10**8:08d}"


async def book(store: Store, user: str, capacity: int = 2, session: str = "s1"):  # noqa: ANN201
    return await store.book(session_id=session, capacity=capacity, user_key=f"telegram:{user}",
                            name=f"name {user}", phone=phone_of(user), lang="zh",
                            institution="示例检验检测机构A", session_start=START, now=NOW)


def test_mask_phone() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138 1234 5678") == "138****5678"
    assert mask_phone("12345") == "****" and mask_phone(None) == "****"


async def test_open_creates_the_folder_in_wal_mode_with_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "bot.sqlite3"
    async with await Store.open(path) as s:
        assert await s.schema_version() == SCHEMA_VERSION
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"bookings", "dialogues", "outbox", "notify_requests", "admin_log",
            "user_prefs"} <= tables
    raw.close()


async def test_migrations_are_applied_in_order_once(where: Path | str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = where
    async with await Store.open(path) as s:
        await book(s, "a")
    extra = ("CREATE TABLE later (x INTEGER)", "INSERT INTO later VALUES (1)")
    monkeypatch.setattr(store_module.schema, "MIGRATIONS", [*store_module.schema.MIGRATIONS, extra])
    monkeypatch.setattr(store_module.schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    async with await Store.open(path) as s:
        assert await s.schema_version() == SCHEMA_VERSION + 1
        assert len(await s.export_rows()) == 1  # the data survived
    async with await Store.open(path) as s:  # not applied twice
        assert (await rows(s, "SELECT COUNT(*) FROM later"))[0][0] == 1


async def test_replicas_starting_together_migrate_once(where: Path | str) -> None:
    stores = await asyncio.gather(*(Store.open(where) for _ in range(3)))
    try:
        assert [await s.schema_version() for s in stores] == [SCHEMA_VERSION] * 3
        await book(stores[0], "a")
        assert len(await stores[2].export_rows()) == 1
    finally:
        for s in stores:
            await s.close()


async def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    raw.close()
    with pytest.raises(StoreError, match="newer"):
        await Store.open(path)


async def test_a_booking_is_committed_before_book_returns(store: Store, where: Path | str
                                                         ) -> None:
    result = await book(store, "a")
    other = await Store.open(store.path if store.kind == "sqlite" else where)
    try:  # another connection sees it at once
        assert [tuple(r) for r in await rows(other, "SELECT code, status FROM bookings")] == [
            (result.booking.code, "booked")]
    finally:
        await other.close()
    assert len(result.booking.code) == 6 and set(result.booking.code) <= set(CODE_ALPHABET)


async def test_capacity_then_waiting_list_and_one_booking_per_person(store: Store) -> None:
    results = [await book(store, u) for u in "abcd"]
    assert [r.booking.status for r in results] == ["booked", "booked", "waiting", "waiting"]
    again = await book(store, "a")
    assert not again.created and again.booking.code == results[0].booking.code
    assert await store.counts("s1") == (2, 2)
    assert [await store.waiting_position(r.booking) for r in results] == [0, 0, 1, 2]


async def test_capacity_holds_across_two_connections_at_once(where: Path | str) -> None:
    first, second = await Store.open(where), await Store.open(where)
    try:
        results = await asyncio.gather(*(book(s, f"u{i}", capacity=20)
                                         for i in range(120) for s in [(first, second)[i % 2]]))
    finally:
        await first.close()
        await second.close()
    assert sum(r.booking.status == "booked" for r in results) == 20
    assert sum(r.booking.status == "waiting" for r in results) == 100
    assert len({r.booking.code for r in results}) == 120


async def test_one_place_per_person_and_number_across_two_stores(where: Path | str) -> None:
    first, second = await Store.open(where), await Store.open(where)
    try:
        same_person = await asyncio.gather(*(book(s, "a", capacity=5) for s in (first, second)
                                             for _ in range(5)))
        phone = phone_of("b")

        async def same_number(s: Store, i: int) -> str:
            try:
                await s.book(session_id="s1", capacity=5, user_key=f"web:b{i}", name="b",
                             phone=phone, lang="zh", institution="x", session_start=START,
                             now=NOW)
            except store_module.BookingRefused as exc:
                return exc.reason
            return "booked"

        numbers = await asyncio.gather(*(same_number((first, second)[i % 2], i)
                                         for i in range(10)))
    finally:
        await first.close()
        await second.close()
    assert len({r.booking.code for r in same_person}) == 1
    assert sum(r.created for r in same_person) == 1
    assert sorted(numbers) == ["booked"] + ["phone"] * 9


async def test_a_freed_seat_is_given_once_when_two_stores_cancel_and_promote(
        where: Path | str) -> None:
    first, second = await Store.open(where), await Store.open(where)
    try:
        seats = [(await book(first, u, capacity=2)).booking for u in "ab"]
        waiting = [(await book(first, u, capacity=2)).booking for u in "cde"]
        results = await asyncio.gather(
            first.cancel(seats[0].code, user_key=None, capacity=2, now=NOW, message_for=promoted),
            second.cancel(seats[0].code, user_key=None, capacity=2, now=NOW,
                          message_for=promoted),
            first.promote("s1", 2, NOW, promoted), second.promote("s1", 2, NOW, promoted))
        assert sum(r is not None for r in results[:2]) == 1  # cancelled once
        assert await first.counts("s1") == (2, 2)
        ups = [b.code for r in results[:2] if r is not None for b in r.promoted]
        ups += [b.code for r in results[2:] for b in r]  # type: ignore[union-attr]
        assert ups == [waiting[0].code]
        assert len(await first.pending_messages(NOW, key="telegram:c")) == 1
    finally:
        await first.close()
        await second.close()


async def test_cancel_promotes_the_first_waiting_in_the_same_transaction(store: Store) -> None:
    a, b, c, d = [(await book(store, u)).booking for u in "abcd"]
    assert await store.cancel(a.code, user_key="telegram:zzz", capacity=2, now=NOW,
                              message_for=promoted) is None  # not theirs
    result = await store.cancel(a.code, user_key="telegram:a", capacity=2, now=NOW,
                                message_for=promoted)
    assert result is not None and [p.code for p in result.promoted] == [c.code]
    assert (await store.booking(c.code)).status == "booked"  # type: ignore[union-attr]
    assert (await store.booking(d.code)).status == "waiting"  # type: ignore[union-attr]
    [message] = await store.pending_messages(NOW, key="telegram:c")
    assert message.text == f"seat for {c.code}" and message.channel == "telegram"
    assert message.user_id == "c"
    # cancelling a waiting place frees no seat
    result = await store.cancel(d.code, user_key="telegram:d", capacity=2, now=NOW,
                                message_for=promoted)
    assert result is not None and result.promoted == ()
    assert await store.cancel(d.code, user_key="telegram:d", capacity=2, now=NOW,
                              message_for=promoted) is None  # already cancelled


async def test_a_failure_inside_a_transaction_changes_nothing(store: Store) -> None:
    a = (await book(store, "a")).booking
    await book(store, "b")
    await book(store, "c")

    def broken(booking: Booking) -> Draft:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.cancel(a.code, user_key=None, capacity=2, now=NOW, message_for=broken)
    assert (await store.booking(a.code)).status == "booked"  # type: ignore[union-attr]
    assert await store.counts("s1") == (2, 1)
    await book(store, "d")  # the store still works


async def test_a_reminder_is_handed_over_exactly_once(where: Path | str) -> None:
    path = where
    async with await Store.open(path) as s:
        code = (await book(s, "a")).booking.code
        assert [b.code for b in await s.unreminded(["s1"])] == [code]
        assert await s.remind(code, Draft("reminder", "tomorrow"), NOW)
        assert not await s.remind(code, Draft("reminder", "tomorrow"), NOW)
    async with await Store.open(path) as s:
        assert await s.unreminded(["s1"]) == []
        assert not await s.remind(code, Draft("reminder", "tomorrow"), NOW)
        assert [m.kind for m in await s.pending_messages(NOW, key="telegram:a")] == ["reminder"]


async def test_outbox_by_channel_retries_and_gives_up(store: Store) -> None:
    await store.enqueue("telegram:1", Draft("k", "one", "zh", (("bookings", "我的预约"),)), NOW)
    await store.enqueue("telegramx:1", Draft("k", "other channel"), NOW)
    await store.enqueue("web:abc", Draft("k", "web"), NOW)
    assert await store.enqueue("web:abc", Draft("k", "once"), NOW, dedupe="x")
    assert not await store.enqueue("web:abc", Draft("k", "once"), NOW, dedupe="x")
    [tg] = await store.pending_messages(NOW, channel="telegram")
    assert tg.text == "one" and tg.actions == (("bookings", "我的预约"),)
    assert len(await store.pending_messages(NOW, channel="web")) == 2
    await store.mark_failed(tg.id, "timeout", NOW, NOW + timedelta(minutes=1))
    assert await store.pending_messages(NOW, channel="telegram") == []
    [again] = await store.pending_messages(NOW + timedelta(minutes=1), channel="telegram")
    assert again.attempts == 1
    await store.mark_sent(again.id, NOW)
    assert await store.pending_messages(NOW + timedelta(days=1), channel="telegram") == []
    # past the retention period every message goes, delivered or never fetched
    assert await store.purge_outbox(NOW + timedelta(days=31)) == 4


async def test_forget_removes_every_row_of_the_person(store: Store) -> None:
    await book(store, "a")
    await book(store, "a", session="s2")
    await book(store, "b")
    waiting = (await book(store, "c")).booking
    await store.save_flow("telegram:a", "name", {"session": "s1"}, "zh", NOW)
    await store.enqueue("telegram:a", Draft("k", "hello"), NOW)
    await store.add_notify_request("telegram:a", "zh", NOW)
    await store.set_lang("telegram:a", "en", NOW)
    result = await store.forget("telegram:a", {"s1": 2}, NOW, promoted)
    assert result.bookings == 2 and [p.code for p in result.promoted] == [waiting.code]
    for table in ("bookings", "dialogues", "outbox", "notify_requests", "user_prefs"):
        assert (await rows(store, f"SELECT COUNT(*) FROM {table} WHERE user_key = 'telegram:a'")
                )[0][0] == 0, table
    assert await store.get_lang("telegram:a") is None


async def test_flows_and_old_bookings_are_purged(store: Store) -> None:
    await store.save_flow("telegram:a", "pick", {}, "zh", NOW)
    await store.save_flow("telegram:b", "pick", {}, "zh", NOW + timedelta(minutes=20))
    assert await store.purge_flows(NOW + timedelta(minutes=10)) == 1
    assert await store.get_flow("telegram:b") is not None
    await book(store, "a")
    assert await store.purge_bookings(START) == 0
    assert await store.purge_bookings(START + timedelta(days=30, seconds=1)) == 1


async def test_sync_sessions_updates_the_copies_kept_with_bookings(store: Store) -> None:
    code = (await book(store, "a")).booking.code
    later = START + timedelta(days=1)
    assert await store.sync_sessions({"s1": ("新名称", later)}) == 1
    assert await store.sync_sessions({"s1": ("新名称", later)}) == 0
    booking = await store.booking(code)
    assert booking is not None and booking.institution == "新名称" and booking.session_start == later


async def test_admin_actions_are_recorded_with_who_and_when(store: Store,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="bot.store")
    await store.log_admin("telegram:42", "export", "session=all rows=3", NOW)
    [(at, actor, action, detail)] = await store.admin_log()
    assert (at, actor, action, detail) == (NOW, "telegram:42", "export", "session=all rows=3")
    assert "admin telegram:42: export session=all rows=3" in caplog.text


async def test_a_cancelled_caller_never_leaves_a_transaction_half_done(store: Store) -> None:
    tasks = [asyncio.ensure_future(book(store, f"u{i}", capacity=3)) for i in range(10)]
    await asyncio.sleep(0)
    for task in tasks[::2]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert sum(t.cancelled() for t in tasks) == 5
    for _ in range(100):  # the shielded writes finish on their own
        rows = await store.export_rows()
        if len(rows) == 10:
            break
        await asyncio.sleep(0.05)
    assert len(rows) == 10  # every write completed, whoever stopped waiting for it
    assert sum(r.status == "booked" for r in rows) == 3
    assert (await book(store, "later", capacity=3)).booking.status == "waiting"


async def test_an_outbox_message_goes_to_one_of_two_stores_and_a_dead_claim_expires(
        where: Path | str, monkeypatch: pytest.MonkeyPatch) -> None:
    wall = [datetime(2026, 11, 24, 2, 0, tzinfo=UTC)]
    monkeypatch.setattr(outbox_module.OutboxMixin, "claim_clock", staticmethod(lambda: wall[0]))
    first, second = await Store.open(where), await Store.open(where)
    try:
        for i in range(30):
            await first.enqueue(f"telegram:{i}", Draft("k", f"m{i}"), NOW)
        got = await asyncio.gather(*(s.pending_messages(NOW, channel="telegram", limit=7)
                                     for s in (first, second) * 3))
        ids = [m.id for batch in got for m in batch]
        assert len(ids) == len(set(ids)) == 30  # every message claimed, none twice
        for m in got[0]:
            await first.mark_sent(m.id, NOW)
        # the rest were claimed by a replica that died: nobody gets them until the claim ends
        assert await second.pending_messages(NOW, channel="telegram") == []
        wall[0] += timedelta(seconds=outbox_module.CLAIM_SECONDS + 1)
        again = await second.pending_messages(NOW, channel="telegram", limit=50)
        assert sorted(m.id for m in again) == sorted(ids[len(got[0]):])
    finally:
        await first.close()
        await second.close()


async def test_shared_secret_job_and_rate_limit_are_the_same_for_two_stores(
        where: Path | str) -> None:
    first, second = await Store.open(where), await Store.open(where)
    try:
        keys = await asyncio.gather(first.shared_secret("web", NOW), second.shared_secret("web", NOW))
        assert keys[0] == keys[1] and len(keys[0]) == 32
        assert await first.shared_secret("salt", NOW) != keys[0]
        claims = await asyncio.gather(*(s.claim_job("webhook", NOW, timedelta(minutes=10))
                                        for s in (first, second) * 2))
        assert sorted(claims) == [False, False, False, True]
        assert await second.claim_job("webhook", NOW + timedelta(minutes=11), timedelta(minutes=10))
        hits = await asyncio.gather(*(s.rate_hit("1.2.3.4", 10, 1000.0)
                                      for s in (first, second) * 6))
        assert sum(h is None for h in hits) == 10  # a bucket of 10, whichever replica counts
        assert all(h is not None and 5.9 < h <= 6.0 for h in hits if h is not None)
        assert await first.rate_hit("1.2.3.4", 10, 1006.0) is None  # one token back after 6 s
        assert await first.rate_hit("5.6.7.8", 10, 1000.0) is None
    finally:
        await first.close()
        await second.close()


async def test_one_persons_requests_take_turns_across_two_stores(where: Path | str) -> None:
    from bot.limits import SharedPersonLocks

    first, second = await Store.open(where), await Store.open(where)
    try:
        locks = [SharedPersonLocks(first), SharedPersonLocks(second)]
        inside: list[str] = []
        order: list[str] = []

        async def step(i: int, key: str) -> None:
            async with locks[i % 2].hold(key):
                inside.append(key)
                assert inside.count(key) == 1  # nobody else holds this person
                await asyncio.sleep(0.01)
                order.append(key)
                inside.remove(key)

        await asyncio.gather(*(step(i, f"web:{i % 3}") for i in range(12)))
        assert sorted(order) == sorted(f"web:{i % 3}" for i in range(12))
        # a lease left by a replica that died is taken over once it expires
        assert await first.take_lease("web:dead", "gone", 1000.0, 30.0)
        assert not await second.take_lease("web:dead", "other", 1010.0, 30.0)
        assert await second.take_lease("web:dead", "other", 1031.0, 30.0)
    finally:
        await first.close()
        await second.close()


async def test_two_stores_flushing_the_same_counts_at_once_add_up(where: Path | str) -> None:
    from bot.store import OutcomeCount

    first, second = await Store.open(where), await Store.open(where)
    try:
        counts = [OutcomeCount("2026-11-24", "web", "answer", "knowledge", f"e{i}", 1, 2.0, 2.0)
                  for i in range(40)]
        await asyncio.gather(*(s.record_counts(counts if n % 2 else counts[::-1])
                               for n in range(8) for s in [(first, second)[n % 2]]))
        totals = await first.outcome_counts()
    finally:
        await first.close()
        await second.close()
    assert len(totals) == 40 and {t.count for t in totals} == {8}
