"""Recording what citizens asked (with no identity), feedback, grouping of misses, and the
statistics — over a real SQLite file, without a server."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import bot.store as store_module
from bot.conversation import PICK_WINDOW, VOTE_WINDOW, Asker, Conversation, feedback_actions
from bot.engine import Engine, Status
from bot.insights import Recorder, analyse, asker_hash, gather_stats, group_misses, load_salt, redact
from bot.kb import TZ
from bot.store import SCHEMA_VERSION, Miss, Store


class Ticker:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Recording:
    store: Store
    conversation: Conversation
    ticker: Ticker
    data: Path


@pytest.fixture
async def rec(tmp_path: Path, engine: Engine) -> AsyncIterator[Recording]:
    store = await Store.open(tmp_path / "data" / "bot.sqlite3")
    ticker = Ticker()
    recorder = Recorder(store, load_salt(tmp_path / "data"))
    conversation = Conversation(lambda: engine, recorder=recorder, clock=ticker)
    try:
        yield Recording(store, conversation, ticker, tmp_path / "data")
    finally:
        await store.close()  # (closing twice is harmless)


def rows(path: Path, sql: str) -> list[tuple]:
    raw = sqlite3.connect(path)
    try:
        return raw.execute(sql).fetchall()
    finally:
        raw.close()


# --------------------------------------------------------------------------- privacy


def test_numbers_and_addresses_are_blanked_out() -> None:
    assert redact("我的电话13812345678，品博会门票多少钱") == "我的电话[number]，品博会门票多少钱"
    assert redact("call +86 138 1234 5678 please") == "call +[number] please"
    assert redact("身份证37020219900101123X") == "身份证[number]"
    assert redact("mail me: a.b+c@example.org") == "mail me: [email]"
    assert redact("2022年品博会有400家企业") == "2022年品博会有400家企业"  # short numbers stay


def test_the_salt_is_made_once_private_and_hashes_change_daily(tmp_path: Path) -> None:
    salt = load_salt(tmp_path / "data")
    path = tmp_path / "data" / "insights.salt"
    assert path.is_file() and oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_salt(tmp_path / "data") == salt and len(salt) == 32
    assert load_salt(tmp_path / "other") != salt
    a, b = Asker("web", "alice"), Asker("web", "bob")
    assert asker_hash(salt, a, "2022-09-28") == asker_hash(salt, a, "2022-09-28")
    assert asker_hash(salt, a, "2022-09-28") != asker_hash(salt, b, "2022-09-28")
    assert asker_hash(salt, a, "2022-09-28") != asker_hash(salt, a, "2022-09-29")
    assert "alice" not in (asker_hash(salt, a, "2022-09-28") or "")
    assert asker_hash(salt, Asker("web", "anonymous"), "2022-09-28") is None
    path.write_text("not hex\n")
    with pytest.raises(RuntimeError, match="damaged"):
        load_salt(tmp_path / "data")


# --------------------------------------------------------------------------- normal forms


def test_normal_forms_are_readable_and_meet_across_spellings(engine: Engine) -> None:
    simplified = analyse(engine, "品博会门票多少钱")
    assert simplified.normalized.startswith("品博会") and "门票" in simplified.normalized
    assert simplified.pinyin.startswith("pin bo hui men piao")
    assert analyse(engine, "品博會門票多少錢").normalized == simplified.normalized  # traditional
    assert analyse(engine, "品搏会门票多少钱").normalized == simplified.normalized  # homophone typo
    assert analyse(engine, "青岛国际品质生活博览会门票多少钱").normalized == simplified.normalized
    english = analyse(engine, "When is the expo?")
    assert "品博会" in english.normalized and english.candidates[0][0] == "expo-date"
    assert all(0 <= score <= 100 for _, score in english.candidates)


def miss(n: int, question: str, normalized: str, pinyin: str, kind: str = "fallback",
         asker: str | None = None, picked: str | None = None) -> Miss:
    return Miss(n, datetime(2022, 9, 28, 10, n, tzinfo=TZ), "2022-09-28", "web", kind, question,
                normalized, pinyin, "zh", (), None, picked, asker, None, None)


def test_misses_group_by_similar_normal_or_pinyin_forms() -> None:
    misses = [
        miss(1, "明天天气怎么样", "明天天气怎么", "ming tian tian qi zen me", asker="a"),
        miss(2, "品博会门票多少钱", "品博会门票多少", "pin bo hui men piao duo sao", asker="a"),
        miss(3, "品博会的门票多少钱", "品博会的门票多少", "pin bo hui de men piao duo sao",
             asker="b"),
        miss(4, "品博会门票多少钱", "品博会门票多少", "pin bo hui men piao duo sao", asker=None),
        miss(5, "今天天气怎么样", "今天天气怎么", "jin tian tian qi zen me", asker="c"),
        miss(6, "护照怎么办", "护照怎么办", "hu zao zen me ban", asker="c"),
        miss(7, "pinbohui menpiao", "pin bo hui men piao", "pin bo hui men piao", asker="d",
             kind="clarify", picked="expo-date"),
    ]
    groups = group_misses(misses)
    assert [g.count for g in groups] == [4, 2, 1]
    tickets, weather, passport = groups
    assert tickets.question == "品博会门票多少钱" and tickets.ids == [2, 3, 4, 7]
    assert tickets.askers == 4  # a, b, d and one anonymous
    assert tickets.kinds == {"fallback": 3, "clarify": 1} and tickets.picked == {"expo-date": 1}
    assert weather.examples == ["明天天气怎么样", "今天天气怎么样"]
    assert passport.question == "护照怎么办"
    assert group_misses([]) == []


# --------------------------------------------------------------------------- recording


async def test_outcomes_are_counted_and_misses_kept_without_identity(rec: Recording) -> None:
    me = Asker("telegram", "424242", "zh")
    answer = await rec.conversation.text(me, "品博会什么时候举办")
    assert [a.id for a in answer.actions][-2:] == ["fb:up:expo-date", "fb:down:expo-date"]
    clarify = await rec.conversation.text(me, "品博会")
    assert clarify.status is Status.CLARIFY and not clarify.actions
    picked = clarify.suggestions[1].entry_id
    await rec.conversation.press(me, f"entry:{picked}")
    fallback = await rec.conversation.text(me, "我的电话13812345678，明天天气怎么样")
    assert fallback.status is Status.FALLBACK
    greeting = await rec.conversation.text(me, "你好")
    assert greeting.kind == "greeting" and not greeting.actions  # small talk: no 👍/👎
    await rec.conversation.text(me, "   ")  # empty: not a question

    recorder = rec.conversation.recorder
    assert recorder is not None
    assert len(await rec.store.outcome_counts()) == 1  # the clarify, written at once
    assert await recorder.flush() == 3  # fallbacks and answers: gathered in memory until now
    assert await recorder.flush() == 0
    counts = await rec.store.outcome_counts()
    assert sorted((c.status, c.kind, c.entry_id, c.count) for c in counts) == [
        ("answer", "greeting", None, 1), ("answer", "knowledge", "expo-date", 1),
        ("clarify", "knowledge", None, 1), ("fallback", "knowledge", None, 1)]
    assert all(c.channel == "telegram" and c.latency_ms_sum > 0 for c in counts)
    misses = await rec.store.misses()
    assert [(m.kind, m.question, m.picked) for m in misses] == [
        ("clarify", "品博会", picked), ("fallback", "我的电话[number]，明天天气怎么样", None)]
    assert misses[0].candidates[0][0] in {s.entry_id for s in clarify.suggestions}
    assert misses[0].asker and misses[0].asker == misses[1].asker  # same person, same day
    text = "\n".join(repr(r) for table in ("misses", "question_counts", "feedback")
                     for r in rows(rec.store.path, f"SELECT * FROM {table}"))  # noqa: S608
    assert "424242" not in text and "13812345678" not in text


async def test_a_detail_the_article_lacks_is_kept_for_review(rec: Recording) -> None:
    reply = await rec.conversation.text(Asker("web", "s9", "zh"), "品博会门票多少钱")
    assert reply.kind == "detail_not_in_source"
    assert rec.conversation.recorder is not None
    await rec.conversation.recorder.flush()  # fallbacks are written in batches
    misses = await rec.store.misses()
    assert [(m.kind, m.question) for m in misses] == [("fallback", "品博会门票多少钱")]


async def test_a_pick_counts_only_right_after_the_clarify(rec: Recording) -> None:
    me = Asker("web", "s1", "zh")
    first = await rec.conversation.text(me, "品博会")
    rec.ticker.now += PICK_WINDOW + 1
    await rec.conversation.press(me, f"entry:{first.suggestions[0].entry_id}")  # too late
    second = await rec.conversation.text(me, "中国质量奖")
    await rec.conversation.press(me, "topic:awards")  # something else first
    await rec.conversation.press(me, f"entry:{second.suggestions[0].entry_id}")
    third = await rec.conversation.text(me, "品博会")
    await rec.conversation.press(Asker("web", "someone-else"), f"entry:{third.suggestions[0].entry_id}")
    await rec.conversation.press(me, f"entry:{third.suggestions[0].entry_id}")
    assert [m.picked for m in await rec.store.misses()] == [None, None,
                                                            third.suggestions[0].entry_id]


async def test_feedback_is_counted_once_per_person_and_a_change_of_mind_moves_it(
        rec: Recording) -> None:
    me, other = Asker("web", "me"), Asker("web", "other")
    await rec.conversation.text(me, "中国品牌日是哪天")
    entry = "expo-china-brand-day"
    for _ in range(3):
        reply = await rec.conversation.press(me, f"fb:down:{entry}")
        assert reply.kind == "feedback" and reply.status is Status.ANSWER
    assert [(f.up, f.down) for f in await rec.store.feedback_counts()] == [(0, 1)]
    [down] = await rec.store.misses()
    assert (down.kind, down.question, down.entry_id) == ("downvote", "中国品牌日是哪天", entry)

    await rec.conversation.press(me, f"fb:up:{entry}")  # changed their mind
    assert [(f.up, f.down) for f in await rec.store.feedback_counts()] == [(1, 0)]
    assert await rec.store.misses() == []  # the 👎's question is no longer a complaint

    await rec.conversation.press(other, f"fb:up:{entry}")  # somebody else
    rec.ticker.now += VOTE_WINDOW + 1
    await rec.conversation.press(me, f"fb:up:{entry}")  # much later: a new vote
    assert [(f.entry_id, f.up, f.down) for f in await rec.store.feedback_counts()] == [
        (entry, 3, 0)]

    english = await rec.conversation.press(Asker("web", "x", "en"), "fb:up:expo-date")
    assert english.text == "Thank you for your feedback!"
    hant = await rec.conversation.press(Asker("web", "y", "zh-hant"), "fb:down:expo-date")
    assert hant.text.startswith("謝謝")
    for forged in ("fb:up:no-such-entry", "fb:sideways:expo-date", "fb:"):
        assert (await rec.conversation.press(me, forged)).kind == "expired"
    assert sum(f.up + f.down for f in await rec.store.feedback_counts()) == 5


def test_feedback_actions_fit_a_telegram_button() -> None:
    assert [a.id for a in feedback_actions("expo-date")] == ["fb:up:expo-date",
                                                             "fb:down:expo-date"]
    assert [a.label for a in feedback_actions("expo-date")] == ["👍", "👎"]
    assert feedback_actions("x" * 60) == ()


async def test_a_broken_database_never_stops_an_answer(rec: Recording) -> None:
    await rec.store.close()
    me = Asker("web", "s1")
    reply = await rec.conversation.text(me, "品博会什么时候举办")
    assert reply.entry_id == "expo-date"
    assert (await rec.conversation.text(me, "明天天气怎么样")).status is Status.FALLBACK
    assert (await rec.conversation.press(me, "fb:up:expo-date")).kind == "feedback"
    recorder = rec.conversation.recorder
    assert recorder is not None
    with pytest.raises(ValueError):  # the counts stay in memory for the next try
        await recorder.flush()
    with pytest.raises(ValueError):
        await recorder.flush()


# --------------------------------------------------------------------------- statistics


async def test_stats_count_by_day_and_leave_out_resolved_misses(rec: Recording,
                                                                engine: Engine) -> None:
    me = Asker("web", "s1")
    now = datetime.now(TZ)
    recorder = rec.conversation.recorder
    assert recorder is not None
    recorder.clock = lambda: now - timedelta(days=3)
    await rec.conversation.text(me, "品博会什么时候举办")
    await rec.conversation.text(me, "护照怎么办理")
    recorder.clock = lambda: now - timedelta(days=10)  # outside the last 7 days
    await rec.conversation.text(me, "品博会什么时候举办")
    recorder.clock = lambda: now
    await rec.conversation.text(me, "明天天气怎么样")
    await rec.conversation.text(me, "你好")

    await recorder.flush()
    stats = await gather_stats(rec.store, 7, now)
    assert stats.questions == 4 and (stats.answered, stats.clarified, stats.fallback) == (2, 0, 2)
    assert stats.smalltalk == 1 and stats.top_entries == [("expo-date", 1)]
    assert [(d.questions, d.answered, d.fallback) for d in stats.per_day] == [(2, 1, 1), (2, 1, 1)]
    assert sorted(g.question for g in stats.unanswered) == ["护照怎么办理", "明天天气怎么样"]
    weather = next(g for g in stats.unanswered if g.question == "明天天气怎么样")
    await rec.store.mark_out_of_scope(weather.ids, weather.forms, now)
    later = await gather_stats(rec.store, 7, now)
    assert [g.question for g in later.unanswered] == ["护照怎么办理"]
    assert (await gather_stats(rec.store, 30, now)).questions == 5


async def test_a_version_1_database_is_migrated_with_its_bookings(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    path = tmp_path / "bot.sqlite3"
    monkeypatch.setattr(store_module.schema, "SCHEMA_VERSION", 1)
    async with await Store.open(path) as old:
        assert await old.schema_version() == 1
        await old.log_admin("cli", "test", "", datetime.now(TZ))
    monkeypatch.undo()
    async with await Store.open(path) as new:
        assert await new.schema_version() == SCHEMA_VERSION >= 2
        assert len(await new.admin_log()) == 1
        assert await new.misses() == [] and await new.outcome_counts() == []
