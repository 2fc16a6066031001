"""The open-day sign-up as citizens go through it: real engine and shipped knowledge, real
SQLite files in tmp_path, everything through Conversation.text / Conversation.press."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.conversation import Asker, Conversation
from bot.dialogue import (
    FLOW_TTL,
    PermanentDeliveryError,
    Scheduler,
    clean_name,
    deliver_outbox,
    format_summaries,
    normalize_phone,
    open_day_of,
)
from bot.engine import Engine, Reply, Status
from bot.kb import TZ, Knowledge
from bot.store import Draft
from tests.open_day_helpers import (
    SESSION_A,
    SESSION_B,
    SESSION_C,
    Bot,
    Clock,
    action_ids,
    asker,
    code_of,
    knowledge_copy,
    open_day_from,
    sign_up,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def bot(tmp_path: Path, engine: Engine, knowledge: Knowledge,
              clock: Clock) -> AsyncIterator[Bot]:
    open_day = open_day_of(knowledge)
    b = await Bot(tmp_path / "data" / "bot.sqlite3", engine, clock, lambda: open_day).open()
    yield b
    await b.close()


def assert_short_ids(reply: Reply) -> None:
    for action in reply.actions:
        assert len(action.id.encode()) <= 64, action.id


# --------------------------------------------------------------------------- the invitation


@pytest.mark.parametrize("question", ["检验检测机构开放日是干啥的", "一站式平台能干啥",
                                      "全民质量素质提升行动是什么", "我想去实验室参观",
                                      "Is there an open day at a testing lab?"])
async def test_replies_about_the_open_day_or_testing_invite_to_sign_up(bot: Bot,
                                                                       question: str) -> None:
    reply = await bot.text(asker(), question)
    assert "signup" in action_ids(reply)
    label = next(a.label for a in reply.actions if a.id == "signup")
    assert label == ("Sign up for the open day" if reply.lang == "en" else "报名开放日")


@pytest.mark.parametrize("question", ["品博会什么时候举办", "中国品牌日是哪天", "What is on the label?"])
async def test_other_replies_carry_no_invitation(bot: Bot, question: str) -> None:
    assert "signup" not in action_ids(await bot.text(asker(), question))


async def test_a_picked_suggestion_about_the_open_day_invites_too(bot: Bot) -> None:
    assert "signup" in action_ids(await bot.press(asker(), "entry:open-day"))
    assert "signup" not in action_ids(await bot.press(asker(), "entry:expo-date"))


async def test_without_a_store_the_conversation_answers_and_sign_up_is_unavailable(
        engine: Engine) -> None:
    conversation = Conversation(lambda: engine)
    reply = await conversation.text(asker(), "检验检测机构开放日是干啥的")
    assert reply.entry_id == "open-day" and "signup" not in action_ids(reply)
    reply = await conversation.press(asker(), "signup")
    assert reply.kind == "signup" and "不能报名" in reply.text
    assert (await conversation.press(asker(), "entry:open-day")).entry_id == "open-day"


# --------------------------------------------------------------------------- the flow


async def test_the_whole_flow_with_buttons(bot: Bot) -> None:
    me = asker()
    listing = await bot.press(me, "signup")
    assert listing.kind == "signup" and listing.status is Status.ANSWER
    assert "示例检验检测机构A" in listing.text and "剩余名额：20" in listing.text
    assert "示例场次" in listing.text  # the shipped sessions say they are examples
    assert action_ids(listing) == [f"signup:pick:{SESSION_A}", f"signup:pick:{SESSION_B}",
                                   f"signup:pick:{SESSION_C}", "signup:cancel"]
    consent = await bot.press(me, f"signup:pick:{SESSION_A}")
    assert action_ids(consent) == ["signup:consent:yes", "signup:consent:no"]
    for words in ("姓名", "手机号码", "活动结束后30天", "删除我的信息", "/forget"):
        assert words in consent.text
    assert "姓名" in (await bot.press(me, "signup:consent:yes")).text
    assert "手机号码" in (await bot.text(me, "王小明")).text
    summary = await bot.text(me, "13812345678")
    assert "王小明" in summary.text and "138 1234 5678" in summary.text
    assert action_ids(summary) == ["signup:confirm", "signup:cancel"]
    done = await bot.press(me, "signup:confirm")
    code = code_of(done)
    assert "报名成功" in done.text and code in done.text and len(code) == 6
    assert set(code) <= set("23456789ABCDEFGHJKMNPQRSTUVWXYZ")
    [booking] = await bot.store.bookings_of("telegram:1")
    assert (booking.code, booking.status, booking.name, booking.phone) == (
        code, "booked", "王小明", "13812345678")
    for reply in (listing, consent, summary, done):
        assert_short_ids(reply)


async def test_the_whole_flow_typed_in_english(bot: Bot) -> None:
    me = asker(7, "en")
    listing = await bot.press(me, "signup")
    assert "Example inspection and testing institution A" in listing.text
    consent = await bot.text(me, "2")
    assert "institution B" in consent.text and "30 days after the session" in consent.text
    assert "name" in (await bot.text(me, "yes")).text
    assert "mobile" in (await bot.text(me, "Li Ming")).text.lower()
    summary = await bot.text(me, "+86 139 0000 1111")
    assert "Li Ming" in summary.text and "139 0000 1111" in summary.text
    done = await bot.text(me, "confirm")
    assert "You are signed up" in done.text
    [booking] = await bot.store.bookings_of("telegram:7")
    assert (booking.session_id, booking.phone, booking.lang) == (SESSION_B, "13900001111", "en")


@pytest.mark.parametrize("steps", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("how", ["typed", "button"])
async def test_cancel_leaves_the_flow_at_every_step(bot: Bot, steps: int, how: str) -> None:
    me = asker()
    moves = [("press", "signup"), ("press", f"signup:pick:{SESSION_A}"),
             ("press", "signup:consent:yes"), ("text", "王小明"), ("text", "13812345678")]
    for kind, value in moves[:steps + 1]:
        await (bot.press(me, value) if kind == "press" else bot.text(me, value))
    reply = await (bot.text(me, "取消") if how == "typed" else bot.press(me, "signup:cancel"))
    assert reply.kind == "signup" and "已退出报名" in reply.text
    assert await bot.store.get_flow("telegram:1") is None
    assert await bot.store.bookings_of("telegram:1") == []
    assert (await bot.text(me, "品博会什么时候举办")).entry_id == "expo-date"  # back to Q&A


async def test_consent_declined_stores_nothing(bot: Bot) -> None:
    me = asker()
    await bot.press(me, f"signup:pick:{SESSION_A}")
    reply = await bot.press(me, "signup:consent:no")
    assert "没有保存" in reply.text
    assert await bot.store.get_flow("telegram:1") is None
    await bot.press(me, f"signup:pick:{SESSION_A}")
    assert "没有保存" in (await bot.text(me, "不同意")).text


async def test_a_knowledge_question_mid_flow_is_answered_and_the_step_asked_again(bot: Bot) -> None:
    me = asker()
    await bot.press(me, f"signup:pick:{SESSION_A}")
    at_consent = await bot.text(me, "品博会什么时候举办")
    assert at_consent.entry_id == "expo-date" and "12月" in at_consent.text
    assert "您正在报名开放日" in at_consent.text
    assert action_ids(at_consent) == ["signup:consent:yes", "signup:consent:no"]
    await bot.press(me, "signup:consent:yes")
    at_name = await bot.text(me, "中国品牌日是哪天")
    assert at_name.entry_id == "expo-china-brand-day" and "参观人的姓名" in at_name.text
    await bot.text(me, "王小明")
    at_phone = await bot.text(me, "开放日是什么活动")
    assert at_phone.entry_id == "open-day" and "手机号码" in at_phone.text
    assert "signup" not in action_ids(at_phone)  # no second invitation inside the flow
    await bot.text(me, "13812345678")
    at_confirm = await bot.text(me, "When is China Brand Day?")
    assert at_confirm.entry_id == "expo-china-brand-day"
    assert action_ids(at_confirm) == ["signup:confirm", "signup:cancel"]
    done = await bot.press(me, "signup:confirm")
    assert "报名成功" in done.text
    [booking] = await bot.store.bookings_of("telegram:1")
    assert booking.name == "王小明"


async def test_a_suggestion_pressed_mid_flow_reminds_of_the_step(bot: Bot) -> None:
    me = asker()
    await bot.press(me, f"signup:pick:{SESSION_A}")
    await bot.press(me, "signup:consent:yes")
    reply = await bot.press(me, "entry:expo-date")
    assert reply.entry_id == "expo-date" and "参观人的姓名" in reply.text


@pytest.mark.parametrize("bad", ["", "   ", "王" * 31, "王小明\x07", "王小\u200b明", "13812345678",
                                 "李雷2号", "<script>", "🙂🙂", "!!!"])
async def test_bad_names_are_asked_again(bot: Bot, bad: str) -> None:
    me = asker()
    await bot.press(me, f"signup:pick:{SESSION_A}")
    await bot.press(me, "signup:consent:yes")
    reply = await bot.text(me, bad)
    assert reply.kind == "signup" and "姓名需要是1–30个字" in reply.text
    flow = await bot.store.get_flow("telegram:1")
    assert flow is not None and flow.step == "name"


@pytest.mark.parametrize("name", ["王小明", "阿卜杜热合曼·买买提", "Mary-Jane O'Neil", "高善武",
                                  "王" * 30, "  李 雷  "])
def test_good_names(name: str) -> None:
    assert clean_name(name) == " ".join(name.split())


@pytest.mark.parametrize(("typed", "phone"), [
    ("13812345678", "13812345678"), ("+86 138 1234 5678", "13812345678"),
    ("0086-138-1234-5678", "13812345678"), ("１３８１２３４５６７８", "13812345678"),
    ("138 1234-5678", "13812345678"), ("+8619912345678", "19912345678")])
def test_phone_numbers_typed_the_usual_ways(typed: str, phone: str) -> None:
    assert normalize_phone(typed) == phone


@pytest.mark.parametrize("bad", ["1381234567", "138123456789", "12812345678", "23812345678",
                                 "+1 415 555 0100", "138-1234-567a", "021-12345678", "", "电话"])
async def test_bad_numbers_are_asked_again_with_an_example(bot: Bot, bad: str) -> None:
    assert normalize_phone(bad) is None
    me = asker()
    await bot.press(me, f"signup:pick:{SESSION_A}")
    await bot.press(me, "signup:consent:yes")
    await bot.text(me, "王小明")
    reply = await bot.text(me, bad)
    assert "13812345678" in reply.text  # the example
    flow = await bot.store.get_flow("telegram:1")
    assert flow is not None and flow.step == "phone" and flow.data["name"] == "王小明"


async def test_a_restart_mid_flow_loses_nothing_typed(bot: Bot) -> None:
    me = asker()
    await bot.press(me, f"signup:pick:{SESSION_A}")
    await bot.press(me, "signup:consent:yes")
    await bot.text(me, "王小明")
    await bot.reopen()
    summary = await bot.text(me, "13812345678")
    assert "王小明" in summary.text and "signup:confirm" in action_ids(summary)
    await bot.reopen()
    done = await bot.press(me, "signup:confirm")
    assert "报名成功" in done.text
    assert [b.name for b in await bot.store.bookings_of("telegram:1")] == ["王小明"]


async def test_an_abandoned_flow_expires_after_30_minutes(bot: Bot, clock: Clock) -> None:
    me = asker()
    await bot.press(me, f"signup:pick:{SESSION_A}")
    await bot.press(me, "signup:consent:yes")
    clock.advance(minutes=29)
    assert "手机号码" in (await bot.text(me, "王小明")).text  # still there, and kept alive
    clock.advance(seconds=FLOW_TTL.total_seconds() + 1)
    reply = await bot.text(me, "13812345678")
    assert "失效" in reply.text  # a number typed late is not taken for a question (nor recorded)
    assert await bot.store.get_flow("telegram:1") is None
    assert (await bot.text(me, "13812345678")).kind != "signup"  # after that, just text again
    expired = await bot.press(me, "signup:confirm")
    assert "失效" in expired.text and action_ids(expired) == ["signup"]
    assert await bot.store.bookings_of("telegram:1") == []


async def test_the_scheduler_purges_abandoned_flows(bot: Bot, clock: Clock) -> None:
    await bot.press(asker(), f"signup:pick:{SESSION_A}")
    clock.advance(minutes=31)
    await bot.dialogue.maintain()
    assert await bot.store.get_flow("telegram:1") is None


async def test_one_booking_per_person_per_session(bot: Bot) -> None:
    me = asker()
    first = await sign_up(bot, me)
    again = await bot.press(me, f"signup:pick:{SESSION_A}")
    assert "已经报名了这个场次" in again.text and code_of(first) in again.text
    assert await bot.store.get_flow("telegram:1") is None
    # a double tap on confirm: the second press finds the booking, not a second seat
    await bot.press(me, f"signup:pick:{SESSION_B}")
    await bot.press(me, "signup:consent:yes")
    await bot.text(me, "王小明")
    await bot.text(me, "13812345678")
    taps = await asyncio.gather(bot.press(me, "signup:confirm"), bot.press(me, "signup:confirm"))
    assert sum("报名成功" in t.text for t in taps) == 1
    bookings = await bot.store.bookings_of("telegram:1")
    assert sorted(b.session_id for b in bookings) == [SESSION_A, SESSION_B]


async def test_same_user_id_on_two_channels_are_two_people(bot: Bot) -> None:
    await sign_up(bot, asker(5, channel="telegram"))
    reply = await sign_up(bot, asker(5, channel="web"))
    assert "报名成功" in reply.text


async def test_an_anonymous_web_visitor_cannot_sign_up(bot: Bot) -> None:
    reply = await bot.press(Asker("web", "anonymous", "zh"), "signup")
    assert "无法识别" in reply.text
    assert "signup:cancel" not in action_ids(reply)


# --------------------------------------------------------------------------- capacity


async def test_200_simultaneous_sign_ups_for_20_seats(bot: Bot) -> None:
    people = [asker(f"u{i}", "zh") for i in range(200)]
    replies: dict[str, list[Reply]] = {p.user_id: [] for p in people}

    async def flow(who: Asker) -> None:
        log = replies[who.user_id]
        log.append(await bot.press(who, f"signup:pick:{SESSION_A}"))
        if f"waitlist:join:{SESSION_A}" in action_ids(log[-1]):
            log.append(await bot.press(who, f"waitlist:join:{SESSION_A}"))
        log.append(await bot.press(who, "signup:consent:yes"))
        log.append(await bot.text(who, f"市民{chr(0x4e00 + int(who.user_id[1:]))}"))
        log.append(await bot.text(who, f"139{int(who.user_id[1:]):08d}"))
        log.append(await bot.press(who, "signup:confirm"))

    await asyncio.gather(*(flow(p) for p in people))
    assert all(r.text for rs in replies.values() for r in rs)  # everyone got every reply
    rows = await bot.store.export_rows(SESSION_A)
    booked = [r for r in rows if r.status == "booked"]
    waiting = [r for r in rows if r.status == "waiting"]
    assert len(booked) == 20
    assert len(booked) + len(waiting) == 200
    assert len({r.user_key for r in rows}) == len(rows) == 200  # no duplicates
    assert len({r.code for r in rows}) == 200
    finals = [rs[-1].text for rs in replies.values()]
    assert sum("报名成功" in t for t in finals) == 20
    assert sum("候补" in t and "第" in t for t in finals) == 180  # told clearly, with their place
    positions = sorted([await bot.store.waiting_position(r) for r in waiting])
    assert positions == list(range(1, 181))
    assert (await bot.store.counts(SESSION_A)) == (20, 180)


async def test_a_full_session_offers_the_waiting_list(bot: Bot) -> None:
    for i in range(15):
        await sign_up(bot, asker(f"p{i}"), SESSION_B, phone=f"1390000{i:04d}")
    listing = await bot.press(asker(), "signup")
    assert f"waitlist:join:{SESSION_B}" in action_ids(listing) and "已约满" in listing.text
    full = await bot.press(asker(), f"signup:pick:{SESSION_B}")
    assert "约满" in full.text
    assert action_ids(full)[0] == f"waitlist:join:{SESSION_B}"
    consent = await bot.press(asker(), f"waitlist:join:{SESSION_B}")
    assert "将登记候补" in consent.text


async def test_a_cancellation_gives_the_seat_to_the_first_waiting(bot: Bot) -> None:
    codes = [code_of(await sign_up(bot, asker(f"p{i}"), SESSION_B, phone=f"1390000{i:04d}"))
             for i in range(15)]
    first = await sign_up(bot, asker("w1"), SESSION_B, phone="13700000001")
    second = await sign_up(bot, asker("w2", "en"), SESSION_B, phone="13700000002")
    assert "排第1位" in first.text and "number 2" in second.text
    ask = await bot.press(asker("p3"), f"booking:cancel:{codes[3]}")
    assert action_ids(ask) == [f"booking:cancel-yes:{codes[3]}", f"booking:keep:{codes[3]}"]
    assert "保留" in (await bot.press(asker("p3"), f"booking:keep:{codes[3]}")).text
    # someone else's code cannot be cancelled
    assert "没有找到" in (await bot.press(asker("w2"), f"booking:cancel-yes:{codes[3]}")).text
    done = await bot.press(asker("p3"), f"booking:cancel-yes:{codes[3]}")
    assert "已取消" in done.text
    assert (await bot.store.counts(SESSION_B)) == (15, 1)
    promoted = await bot.store.booking(code_of(first))
    assert promoted is not None and promoted.status == "booked"
    [message] = await bot.store.pending_messages(bot.clock(), key="telegram:w1")
    assert message.kind == "promoted" and code_of(first) in message.text
    assert ("bookings", "我的预约") in message.actions
    assert await bot.store.pending_messages(bot.clock(), key="telegram:w2") == []
    mine = await bot.text(asker("w2", "en"), "my bookings")
    assert "waiting list, number 1" in mine.text


async def test_outbox_delivery_through_a_notifier(bot: Bot, clock: Clock) -> None:
    for i in range(15):
        await sign_up(bot, asker(f"p{i}"), SESSION_B, phone=f"1390000{i:04d}")
    await sign_up(bot, asker("w1"), SESSION_B)
    await sign_up(bot, asker("w2", channel="web"), SESSION_B)
    for who in ("p0", "p1"):
        [booking] = await bot.store.bookings_of(f"telegram:{who}")
        await bot.press(asker(who), f"booking:cancel-yes:{booking.code}")

    class Fake:
        def __init__(self) -> None:
            self.sent: list[tuple[str, Reply]] = []
            self.fail = True

        async def send(self, user_id: str, reply: Reply) -> None:
            if self.fail:
                self.fail = False
                raise ConnectionError("network down")
            self.sent.append((user_id, reply))

    fake = Fake()
    assert await deliver_outbox(bot.store, "telegram", fake, clock()) == 0  # failed, retried later
    assert await deliver_outbox(bot.store, "telegram", fake, clock()) == 0  # not yet due
    clock.advance(minutes=5)
    assert await deliver_outbox(bot.store, "telegram", fake, clock()) == 1
    assert [u for u, _ in fake.sent] == ["w1"] and fake.sent[0][1].kind == "promoted"
    assert await deliver_outbox(bot.store, "telegram", fake, clock()) == 0  # exactly once
    # the web visitor's message waits for the web chat to pull it
    [pulled] = await bot.dialogue.take_messages(asker("w2", channel="web"))
    assert pulled.kind == "promoted" and pulled.actions
    assert await bot.dialogue.take_messages(asker("w2", channel="web")) == []

    class Blocked:
        async def send(self, user_id: str, reply: Reply) -> None:
            raise PermanentDeliveryError("bot was blocked by the user")

    await bot.store.enqueue("telegram:x", Draft("test", "hi"), clock())
    assert await deliver_outbox(bot.store, "telegram", Blocked(), clock()) == 0
    clock.advance(days=1)
    assert await bot.store.pending_messages(clock(), channel="telegram") == []


async def test_more_seats_in_the_file_promote_the_waiting_list(bot: Bot, tmp_path: Path) -> None:
    for i in range(16):
        await sign_up(bot, asker(f"p{i}"), SESSION_B, phone=f"1390000{i:04d}")
    assert (await bot.store.counts(SESSION_B)) == (15, 1)
    directory = knowledge_copy(tmp_path, lambda t: t.replace("capacity: 15", "capacity: 16"))
    _, edited = open_day_from(directory)
    bot.open_day = lambda: edited
    await bot.reopen()
    await bot.dialogue.maintain()
    assert (await bot.store.counts(SESSION_B)) == (16, 0)
    [message] = await bot.store.pending_messages(bot.clock(), key="telegram:p15")
    assert message.kind == "promoted"


# --------------------------------------------------------------------------- my bookings, forget


async def test_my_bookings_lists_each_with_a_cancel_button(bot: Bot) -> None:
    me = asker()
    assert "没有预约" in (await bot.press(me, "bookings")).text
    a = code_of(await sign_up(bot, me, SESSION_A))
    c = code_of(await sign_up(bot, me, SESSION_C))
    for reply in (await bot.press(me, "bookings"), await bot.text(me, "我的预约")):
        assert reply.kind == "signup" and a in reply.text and c in reply.text
        assert action_ids(reply) == [f"booking:cancel:{a}", f"booking:cancel:{c}", "forget"]


async def test_a_session_removed_from_the_file_keeps_its_bookings(bot: Bot,
                                                                  tmp_path: Path) -> None:
    me = asker()
    code = code_of(await sign_up(bot, me, SESSION_C))

    def remove_c(text: str) -> str:
        start = text.index("  - id: example-c-2027-05-18")
        return text[:start] + text[text.index("# 哪些回答附带"):]

    _, edited = open_day_from(knowledge_copy(tmp_path, remove_c))
    assert SESSION_C not in edited.by_id
    bot.open_day = lambda: edited  # a hot edit: the next call sees the new file
    mine = await bot.text(me, "我的预约")
    assert code in mine.text and "场次已不在列表中" in mine.text and "示例检验检测机构C" in mine.text
    listing = await bot.press(me, "signup")
    assert f"signup:pick:{SESSION_C}" not in action_ids(listing)
    assert "不能报名" in (await bot.press(me, f"signup:pick:{SESSION_C}")).text
    summaries = {s.session_id: s for s in await bot.dialogue.session_summaries()}
    assert summaries[SESSION_C].capacity is None and summaries[SESSION_C].booked == 1
    assert "场次已不在列表中" in format_summaries(list(summaries.values()))
    rows = list(csv.DictReader(io.StringIO((await bot.dialogue.export_csv()).decode("utf-8-sig"))))
    assert [(r["code"], r["institution"]) for r in rows] == [(code, "示例检验检测机构C")]
    assert "已取消" in (await bot.press(me, f"booking:cancel-yes:{code}")).text


async def test_forget_deletes_everything_after_a_confirmation(bot: Bot) -> None:
    me = asker()
    await sign_up(bot, me, SESSION_A)
    await sign_up(bot, me, SESSION_B)
    await bot.press(me, f"signup:pick:{SESSION_C}")  # a flow in progress
    ask = await bot.text(me, "删除我的信息")
    assert action_ids(ask) == ["forget:yes", "forget:no"]
    assert "什么都没有删除" in (await bot.press(me, "forget:no")).text
    assert len(await bot.store.bookings_of("telegram:1")) == 2
    assert action_ids(await bot.press(me, "forget")) == ["forget:yes", "forget:no"]
    done = await bot.press(me, "forget:yes")
    assert "已删除" in done.text and "2" in done.text
    assert await bot.store.bookings_of("telegram:1", active_only=False) == []
    assert await bot.store.get_flow("telegram:1") is None
    assert all(r.user_key != "telegram:1" for r in await bot.store.export_rows())


async def test_forget_gives_the_seats_to_the_waiting_list(bot: Bot) -> None:
    for i in range(15):
        await sign_up(bot, asker(f"p{i}"), SESSION_B, phone=f"1390000{i:04d}")
    await sign_up(bot, asker("w"), SESSION_B)
    await bot.press(asker("p0"), "forget:yes")
    assert (await bot.store.counts(SESSION_B)) == (15, 0)
    [message] = await bot.store.pending_messages(bot.clock(), key="telegram:w")
    assert message.kind == "promoted"


async def test_retention_deletes_bookings_30_days_after_the_session(bot: Bot, clock: Clock) -> None:
    await sign_up(bot, asker(), SESSION_A)
    clock.now = datetime(2027, 4, 14, 10, 0, tzinfo=TZ)
    await bot.dialogue.maintain()
    assert len(await bot.store.export_rows()) == 1
    clock.now = datetime(2027, 4, 16, 10, 0, tzinfo=TZ)
    await bot.dialogue.maintain()
    assert await bot.store.export_rows() == []


# --------------------------------------------------------------------------- no sessions


async def test_no_upcoming_sessions_offers_a_notification(bot: Bot, clock: Clock,
                                                          knowledge: Knowledge) -> None:
    clock.now = datetime(2027, 6, 1, 10, 0, tzinfo=TZ)  # every example session is over
    me = asker()
    reply = await bot.press(me, "signup")
    assert "没有可以报名" in reply.text and action_ids(reply) == ["notify:yes"]
    assert "通知您" in (await bot.press(me, "notify:yes")).text
    assert "已经登记过" in (await bot.press(me, "notify:yes")).text
    await bot.dialogue.maintain()
    assert await bot.store.pending_messages(clock(), key="telegram:1") == []
    later = open_day_of(knowledge).model_copy(update={"sessions": [
        s.model_copy(update={"start": s.start + timedelta(days=365), "end": s.end + timedelta(
            days=365)}) for s in open_day_of(knowledge).sessions]})
    bot.open_day = lambda: later  # staff add sessions
    await bot.reopen()
    await bot.dialogue.maintain()
    await bot.dialogue.maintain()
    [message] = await bot.store.pending_messages(clock(), key="telegram:1")
    assert message.kind == "sessions-added" and message.actions[0][0] == "signup"


# --------------------------------------------------------------------------- reminders


async def test_the_reminder_is_sent_once_across_a_restart(bot: Bot, clock: Clock) -> None:
    code = code_of(await sign_up(bot, asker(), SESSION_A))
    due = datetime(2027, 3, 15, 10, 0, tzinfo=TZ)  # the day before, at REMINDER_TIME
    assert await bot.dialogue.next_reminder_due() == due
    clock.now = due - timedelta(minutes=1)
    assert await bot.dialogue.send_due_reminders() == 0
    clock.now = due
    assert await bot.dialogue.send_due_reminders() == 1
    assert await bot.dialogue.send_due_reminders() == 0
    await bot.reopen()
    clock.advance(hours=2)
    await bot.dialogue.maintain()
    assert await bot.dialogue.send_due_reminders() == 0
    messages = await bot.store.pending_messages(clock(), key="telegram:1")
    assert [m.kind for m in messages] == ["reminder"]
    assert code in messages[0].text and "明天" in messages[0].text
    assert messages[0].actions == ((f"booking:cancel:{code}", f"取消 {code}"),)
    assert await bot.dialogue.next_reminder_due() is None


async def test_a_reminder_missed_while_down_goes_out_at_start_up_but_not_after_the_visit(
        bot: Bot, clock: Clock) -> None:
    await sign_up(bot, asker(1), SESSION_A)
    await sign_up(bot, asker(2), SESSION_B)
    clock.now = datetime(2027, 3, 15, 18, 0, tzinfo=TZ)  # down at 10:00
    await bot.reopen()
    assert await bot.dialogue.send_due_reminders() == 1
    clock.now = datetime(2027, 4, 13, 15, 0, tzinfo=TZ)  # down the whole day before B
    assert await bot.dialogue.send_due_reminders() == 0  # B already started: too late


async def test_no_reminder_for_a_booking_made_after_the_reminder_time(bot: Bot,
                                                                      clock: Clock) -> None:
    clock.now = datetime(2027, 3, 15, 20, 0, tzinfo=TZ)
    await sign_up(bot, asker(), SESSION_A)
    assert await bot.dialogue.send_due_reminders() == 0


async def test_the_scheduler_waits_until_the_reminder_is_due(bot: Bot, clock: Clock) -> None:
    await sign_up(bot, asker(), SESSION_A)
    clock.now = datetime(2027, 3, 15, 9, 0, tzinfo=TZ)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            raise asyncio.CancelledError
        clock.advance(seconds=seconds)

    with pytest.raises(asyncio.CancelledError):
        await Scheduler(bot.dialogue, interval=86_400, sleep=sleep).run()
    assert waits[0] == 3600  # woke exactly at 10:00
    assert waits[1] == 86_400  # nothing else due
    assert len(await bot.store.pending_messages(clock(), key="telegram:1")) == 1


# --------------------------------------------------------------------------- staff


async def test_csv_export_opens_with_the_csv_module(bot: Bot) -> None:
    await sign_up(bot, asker(1), SESSION_A, name="王小明", phone="13812345678")
    await sign_up(bot, asker(2), SESSION_B, name="-Lei", phone="13912345678")
    data = await bot.dialogue.export_csv(actor="telegram:99")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert list(rows[0]) == ["code", "session", "institution", "start", "name", "phone",
                             "status", "created"]
    assert [(r["session"], r["name"], r["phone"], r["status"]) for r in rows] == [
        (SESSION_A, "王小明", "13812345678", "booked"),
        (SESSION_B, "'-Lei", "13912345678", "booked")]  # never a formula in Excel
    assert rows[0]["start"] == "2027-03-16 09:30" and rows[0]["institution"] == "示例检验检测机构A"
    only_b = await bot.dialogue.export_csv(SESSION_B)
    assert only_b.decode("utf-8-sig").count("\r\n") == 2
    [(at, actor, action, detail)] = await bot.store.admin_log()
    assert (actor, action) == ("telegram:99", "export") and "rows=2" in detail


async def test_session_summaries_for_admins(bot: Bot) -> None:
    for i in range(3):
        await sign_up(bot, asker(i), SESSION_A, phone=f"1390000{i:04d}")
    summaries = await bot.dialogue.session_summaries(actor="cli:staff")
    a = summaries[0]
    assert (a.session_id, a.booked, a.left, a.waiting, a.capacity) == (SESSION_A, 3, 17, 0, 20)
    assert [s.session_id for s in summaries] == [SESSION_A, SESSION_B, SESSION_C]
    assert (await bot.store.admin_log())[0][1:3] == ("cli:staff", "sessions")


async def test_logs_mask_phone_numbers_and_never_name_anyone(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for i in range(16):
        await sign_up(bot, asker(f"p{i}"), SESSION_B, name=f"测试人{chr(0x4e00 + i)}",
                      phone=f"1391234{i:04d}")
    [booking] = await bot.store.bookings_of("telegram:p0")
    await bot.press(asker("p0"), f"booking:cancel-yes:{booking.code}")
    await bot.dialogue.export_csv(actor="cli:staff")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "139****0000" in text
    assert "测试人" not in text
    assert not any(f"1391234{i:04d}" in text for i in range(16))
    assert "admin cli:staff: export" in text


async def test_the_consent_notice_says_how_to_delete_in_each_channels_own_words(bot: Bot) -> None:
    """No Telegram command in the web chat or the console; each says how its people delete."""
    said = {}
    for channel in ("telegram", "web", "cli"):
        await bot.press(asker(7, channel=channel), "signup")
        said[channel] = (await bot.press(asker(7, channel=channel), f"signup:pick:{SESSION_A}")).text
    assert "/forget" in said["telegram"]
    assert "/forget" not in said["web"] and "Telegram" not in said["web"]
    assert "按钮" in said["web"]  # the web chat has a "删除我的信息" button
    assert "/forget" not in said["cli"] and "Telegram" not in said["cli"] and "按钮" not in said["cli"]
    assert all("删除我的信息" in text and "活动结束后30天" in text for text in said.values())
