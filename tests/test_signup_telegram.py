"""The open-day sign-up on Telegram, end to end: the real app (``create_app`` with its storage,
scheduler and PTB lifecycle), the real PTB client, a fake Bot API over real HTTP, and the SQLite
file in tmp_path. Every step is a button press or a typed message, as a citizen does it.

The dialogue's clock is the test's (``Dialogue.now`` is patched before the app starts), so the
example sessions of 2027 stay in the future whatever the date, and reminders can be made due.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import html
import io
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from telegram.error import BadRequest

from bot.app import STATE, AppState
from bot.channels.telegram import BOT, TelegramNotifier
from bot.dialogue import Dialogue, PermanentDeliveryError
from bot.engine import Engine, Reply, Status
from bot.kb import TZ, load_knowledge
from bot.messages import say
from bot.store import Draft
from tests.fake_bot_api import GROUP_ID, Call, FakeBotApi
from tests.open_day_helpers import SESSION_A, SESSION_B, TODAY, Clock, knowledge_copy
from tests.telegram_helpers import running

ME = 42
OTHER = 43
ADMIN = 900
ADMIN_2 = 901
PHONE_TYPED = "+86 138 1234 5678"
PHONE = "13812345678"


# ---------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock of every Dialogue, the scheduler's included (set before the app starts)."""
    now = Clock(TODAY)
    monkeypatch.setattr(Dialogue, "now", lambda self: now().astimezone(TZ))
    return now


@pytest.fixture
async def app(fake: FakeBotApi, engine: Engine, tmp_path: Path,
              clock: Clock) -> AsyncIterator[web.Application]:
    async with running(fake, engine, tmp_path, admin_ids=frozenset({ADMIN})) as (started, _port):
        yield started


class Person:
    """Someone in a private chat (or a group) with the bot: each call waits for the reply."""

    _message_ids = iter(range(50_000, 10**9))

    def __init__(self, fake: FakeBotApi, user_id: int = ME, chat_id: int | None = None,
                 language_code: str = "zh-hans") -> None:
        self.fake, self.user_id, self.language_code = fake, user_id, language_code
        self.chat_id = user_id if chat_id is None else chat_id
        self.group = self.chat_id != user_id

    def _kw(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"user_id": self.user_id, "language_code": self.language_code}
        if self.group:
            kw |= {"chat_id": self.chat_id, "chat_type": "supergroup"}
        return kw

    async def _reply(self, send: Any, replies: int) -> Call:
        before = len(self.fake.sent(self.chat_id))
        await send
        got = await self.fake.wait_sent(replies, chat_id=self.chat_id, after=before)
        return got[-1]

    async def says(self, text: str, replies: int = 1) -> Call:
        return await self._reply(self.fake.message(text, **self._kw()), replies)

    async def command(self, text: str, replies: int = 1) -> Call:
        return await self._reply(self.fake.command(text, **self._kw()), replies)

    async def taps(self, data: str) -> Call:
        """A press of the button with ``data``, each on a message of its own (no double tap)."""
        press = self.fake.callback(data, user_id=self.user_id, chat_id=self.chat_id,
                                   message_id=next(self._message_ids),
                                   language_code=self.language_code)
        return await self._reply(press, 1)


def data_of(call: Call) -> list[str]:
    return [data for _, data in call.buttons()]


def unescaped(call: Call) -> str:
    return html.unescape(call.text)


def code_in(call: Call) -> str:
    for data in data_of(call):
        if data.startswith("booking:cancel:"):
            return data.rsplit(":", 1)[1]
    raise AssertionError(f"no booking code in {call.text!r}")


def db_rows(data_dir: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(data_dir / "bot.sqlite3")) as db:
        return db.execute(sql, params).fetchall()


def state_of(app: web.Application) -> AppState:
    return app[STATE]


async def to_name_step(me: Person, session: str = SESSION_A) -> Call:
    await me.taps(f"signup:pick:{session}")
    return await me.taps("signup:consent:yes")


async def book(me: Person, session: str = SESSION_A, name: str = "王小明",
               phone: str = PHONE_TYPED) -> Call:
    """Sign up with buttons and typing; the waiting list when the session is full."""
    listed = await me.command("/signup")
    assert f"signup:pick:{session}" in data_of(listed) or \
        f"waitlist:join:{session}" in data_of(listed), listed.text
    picked = await me.taps(f"signup:pick:{session}")
    if f"waitlist:join:{session}" in data_of(picked):
        picked = await me.taps(f"waitlist:join:{session}")
    assert data_of(picked)[:2] == ["signup:consent:yes", "signup:consent:no"], picked.text
    await me.taps("signup:consent:yes")
    await me.says(name)
    confirm = await me.says(phone)
    assert "signup:confirm" in data_of(confirm), confirm.text
    return await me.taps("signup:confirm")


# ---------------------------------------------------------------------- the whole flow


async def test_the_whole_sign_up_with_buttons_and_typed_answers(fake: FakeBotApi,
                                                                app: web.Application,
                                                                tmp_path: Path):
    me = Person(fake)
    question = await me.says("开放日怎么报名")
    assert "signup" in data_of(question)  # the answer invites to sign up

    listed = await me.taps("signup")
    assert unescaped(listed).startswith("检验检测机构开放日，可以报名的场次")
    assert data_of(listed) == [f"signup:pick:{SESSION_A}", f"signup:pick:{SESSION_B}",
                               "signup:pick:example-c-2027-05-18", "signup:cancel"]

    consent = await me.taps(f"signup:pick:{SESSION_A}")
    assert "示例检验检测机构A" in consent.text and "是否同意并继续" in consent.text
    assert [label for label, _ in consent.buttons()] == ["同意并继续", "不同意"]

    ask_name = await me.taps("signup:consent:yes")
    assert "请输入参观人的姓名" in ask_name.text and data_of(ask_name) == ["signup:cancel"]
    ask_phone = await me.says("王小明")
    assert "请输入手机号码" in ask_phone.text
    confirm = await me.says(PHONE_TYPED)
    assert "参观人：王小明" in confirm.text and "手机号码：138 1234 5678" in confirm.text
    assert data_of(confirm) == ["signup:confirm", "signup:cancel"]

    done = await me.taps("signup:confirm")
    code = code_in(done)
    assert f"报名成功！\n预约码：{code}" in done.text
    assert data_of(done) == ["bookings", f"booking:cancel:{code}"]
    assert db_rows(tmp_path, "SELECT code, session_id, user_key, name, phone, status "
                             "FROM bookings") == [
        (code, SESSION_A, f"telegram:{ME}", "王小明", PHONE, "booked")]
    assert db_rows(tmp_path, "SELECT * FROM dialogues") == []  # the flow is over
    assert all(c.params["parse_mode"] == "HTML" for c in fake.sent(ME))


async def test_the_open_day_keyboard_button_starts_the_sign_up(fake: FakeBotApi,
                                                               app: web.Application):
    me = Person(fake, user_id=77, language_code="en")
    listed = await me.says("Open day sign-up")
    assert listed.text.startswith("Open days at inspection and testing institutions")
    assert data_of(listed)[-1] == "signup:cancel"
    assert [label for label, _ in listed.buttons()][-1] == "Stop signing up"


@pytest.mark.parametrize("how", ["/cancel", "取消", "button"])
@pytest.mark.parametrize("step", ["pick", "consent", "name", "phone", "confirm"])
async def test_cancel_at_every_step(fake: FakeBotApi, app: web.Application, tmp_path: Path,
                                    step: str, how: str):
    me = Person(fake)
    await me.command("/signup")
    steps = ["pick", "consent", "name", "phone", "confirm"]
    moves = [lambda: me.taps(f"signup:pick:{SESSION_A}"), lambda: me.taps("signup:consent:yes"),
             lambda: me.says("王小明"), lambda: me.says("13812345678")]
    for move in moves[:steps.index(step)]:
        await move()
    [(saved,)] = db_rows(tmp_path, "SELECT step FROM dialogues")
    assert saved == step
    if how == "/cancel":
        stopped = await me.command("/cancel")
    elif how == "取消":
        stopped = await me.says("取消")
    else:
        stopped = await me.taps("signup:cancel")
    assert unescaped(stopped) == say("signup.cancelled_flow", "zh")
    assert db_rows(tmp_path, "SELECT * FROM dialogues") == []
    assert db_rows(tmp_path, "SELECT * FROM bookings") == []


async def test_a_question_mid_flow_is_answered_and_the_flow_goes_on(fake: FakeBotApi,
                                                                    app: web.Application,
                                                                    engine: Engine):
    me = Person(fake)
    await me.command("/signup")
    await to_name_step(me)
    aside = await me.says("品博会什么时候举办")
    expected = engine.ask("品博会什么时候举办")
    assert expected.status is Status.ANSWER
    text = unescaped(aside)
    assert text.startswith(expected.text.splitlines()[0])
    aside_at = text.index("您正在报名开放日")
    assert text.index("请输入参观人的姓名（1–30个字）。") > aside_at
    assert data_of(aside)[-1] == "signup:cancel"  # after the answer's related questions
    assert "请输入手机号码" in (await me.says("王小明")).text


async def test_a_bad_name_and_a_bad_number_are_asked_again(fake: FakeBotApi,
                                                           app: web.Application,
                                                           tmp_path: Path):
    me = Person(fake)
    await me.command("/signup")
    await to_name_step(me)
    for bad in ("李雷2号", "<script>"):
        again = await me.says(bad)
        assert "姓名需要是1–30个字" in again.text and data_of(again) == ["signup:cancel"]
    assert "请输入手机号码" in (await me.says("王小明")).text
    for bad in ("1381234567", "+1 415 555 0100"):
        again = await me.says(bad)
        assert "这个号码看起来不对" in again.text and "13812345678" in again.text
    assert db_rows(tmp_path, "SELECT step FROM dialogues") == [("phone",)]
    confirm = await me.says("138-1234-5678")
    assert "手机号码：138 1234 5678" in confirm.text


async def test_consent_declined_stores_nothing(fake: FakeBotApi, app: web.Application,
                                               tmp_path: Path):
    me = Person(fake)
    await me.command("/signup")
    await me.taps(f"signup:pick:{SESSION_A}")
    declined = await me.taps("signup:consent:no")
    assert unescaped(declined) == say("signup.declined", "zh")
    for table in ("dialogues", "bookings", "outbox"):
        assert db_rows(tmp_path, f"SELECT * FROM {table}") == []


async def test_a_restart_mid_flow_continues_where_it_stopped(fake: FakeBotApi, engine: Engine,
                                                             tmp_path: Path, clock: Clock):
    me = Person(fake)
    async with running(fake, engine, tmp_path):
        await me.command("/signup")
        await to_name_step(me)
        await me.says("王小明")
    clock.advance(minutes=5)
    async with running(fake, engine, tmp_path):  # a new process on the same DATA_DIR
        confirm = await me.says(PHONE_TYPED)
        assert "参观人：王小明" in confirm.text and "示例检验检测机构A" in confirm.text
        done = await me.taps("signup:confirm")
    assert "报名成功" in done.text
    assert db_rows(tmp_path, "SELECT status FROM bookings") == [("booked",)]


# ---------------------------------------------------------------------- bookings and data


async def test_my_bookings_lists_each_with_a_cancel_button(fake: FakeBotApi, app: web.Application,
                                                           tmp_path: Path):
    me = Person(fake)
    code = code_in(await book(me))
    listed = await me.command("/mybookings")
    assert "您的预约：" in listed.text and code in listed.text and "已预约" in listed.text
    assert data_of(listed) == [f"booking:cancel:{code}", "forget"]
    assert (await me.command("/bookings")).text == listed.text

    ask = await me.taps(f"booking:cancel:{code}")
    assert f"确定要取消预约 {code} 吗" in ask.text
    assert data_of(ask) == [f"booking:cancel-yes:{code}", f"booking:keep:{code}"]
    cancelled = await me.taps(f"booking:cancel-yes:{code}")
    assert unescaped(cancelled) == say("signup.cancelled", "zh", code=code)
    assert db_rows(tmp_path, "SELECT status FROM bookings") == [("cancelled",)]
    assert unescaped(await me.command("/mybookings")) == say("signup.no_bookings", "zh")


async def test_forget_deletes_every_row_about_the_person(fake: FakeBotApi, app: web.Application,
                                                         tmp_path: Path):
    me, other = Person(fake), Person(fake, OTHER)
    await book(me)
    await book(other, SESSION_B, name="李雷", phone="13912345678")
    await me.command("/lang")
    await me.taps("lang:en")  # a saved preference is personal data too
    key = f"telegram:{ME}"
    assert db_rows(tmp_path, "SELECT lang FROM user_prefs WHERE user_key = ?", key) == [("en",)]

    ask = await me.command("/forget")
    assert data_of(ask) == ["forget:yes", "forget:no"]
    done = await me.taps("forget:yes")
    assert "deleted (1 booking records)" in done.text  # in the language chosen before
    for table in ("bookings", "dialogues", "outbox", "notify_requests", "user_prefs"):
        assert db_rows(tmp_path, f"SELECT COUNT(*) FROM {table} WHERE user_key = ?", key) == [(0,)]
    assert db_rows(tmp_path, "SELECT user_key FROM bookings") == [(f"telegram:{OTHER}",)]
    assert app[BOT].prefs.get(ME) is None
    assert (await me.command("/start")).text.startswith("您好")  # back to the Telegram language


# ---------------------------------------------------------------------- the outbox


async def test_a_promotion_from_the_waiting_list_reaches_the_promoted_user(
        fake: FakeBotApi, tmp_path: Path, clock: Clock):
    one_seat = knowledge_copy(tmp_path, lambda text: text.replace("capacity: 20", "capacity: 1"))
    engine = Engine(load_knowledge(one_seat))
    me, other = Person(fake), Person(fake, OTHER)
    async with running(fake, engine, tmp_path / "data", knowledge_dir=one_seat):
        code = code_in(await book(me))
        full = await other.taps(f"signup:pick:{SESSION_A}")
        assert f"waitlist:join:{SESSION_A}" in data_of(full)
        waiting = await book(other, phone="13912345678")  # one place per number
        assert "已为您登记候补，目前排第1位" in waiting.text
        waiting_code = code_in(waiting)

        before = len(fake.sent(OTHER))
        await me.taps(f"booking:cancel:{code}")
        await me.taps(f"booking:cancel-yes:{code}")
        [news] = await fake.wait_sent(chat_id=OTHER, after=before)
    assert unescaped(news).startswith("好消息：您候补的开放日场次有名额了")
    assert f"预约码：{waiting_code}" in news.text and news.params["parse_mode"] == "HTML"
    assert data_of(news) == ["bookings", f"booking:cancel:{waiting_code}"]
    assert db_rows(tmp_path / "data", "SELECT status FROM bookings WHERE code = ?",
                   waiting_code) == [("booked",)]
    [(kind, sent_at)] = db_rows(tmp_path / "data", "SELECT kind, sent_at FROM outbox")
    assert kind == "promoted" and sent_at is not None


async def test_the_reminder_goes_out_the_day_before(fake: FakeBotApi, app: web.Application,
                                                    clock: Clock):
    me = Person(fake)
    code = code_in(await book(me))
    before = len(fake.sent(ME))
    clock.now = datetime(2027, 3, 15, 9, 59, tzinfo=TZ)
    dialogue = state_of(app).dialogue
    assert dialogue is not None
    assert await dialogue.send_due_reminders() == 0
    clock.now = datetime(2027, 3, 15, 10, 0, tzinfo=TZ)  # REMINDER_TIME, the day before
    await dialogue.send_due_reminders()  # the scheduler's step (it may have run it already)
    [reminder] = await fake.wait_sent(chat_id=ME, after=before)
    assert unescaped(reminder).startswith(f"提醒：您预约的开放日就在明天。\n预约码：{code}")
    assert data_of(reminder) == [f"booking:cancel:{code}"]
    assert await dialogue.send_due_reminders() == 0
    await asyncio.sleep(0.3)  # a few more outbox rounds: nothing is sent twice
    assert len(fake.sent(ME)) == before + 1


async def test_a_user_who_blocked_the_bot_is_given_up_on(fake: FakeBotApi, app: web.Application,
                                                         tmp_path: Path):
    me = Person(fake)
    code = code_in(await book(me))
    fake.blocked.add(ME)
    state = state_of(app)
    assert state.store is not None and state.dialogue is not None
    assert await state.store.remind(code, Draft("reminder", "提醒", "zh"), state.dialogue.now())
    for _ in range(50):
        rows = db_rows(tmp_path, "SELECT failed_at, attempts, last_error FROM outbox")
        if rows and rows[0][0]:
            break
        await asyncio.sleep(0.05)
    [(failed_at, attempts, error)] = rows
    assert failed_at and attempts == 1 and "blocked" in error


async def test_the_notifier_tells_a_permanent_failure_from_a_passing_one(fake: FakeBotApi,
                                                                         app: web.Application):
    application = app[BOT].application
    assert application is not None
    notifier = TelegramNotifier(application.bot)
    reply = Reply(Status.ANSWER, "好消息 <b>", "zh")
    await notifier.send(str(ME), reply)
    [sent] = await fake.wait_sent(chat_id=ME)
    assert sent.text == "好消息 &lt;b&gt;"
    fake.blocked.add(OTHER)
    with pytest.raises(PermanentDeliveryError):
        await notifier.send(str(OTHER), reply)
    with pytest.raises(PermanentDeliveryError):
        await notifier.send("web-session", reply)
    fake.fail_next("sendMessage", status=400)  # any other Bad Request: retried later
    with pytest.raises(BadRequest):
        await notifier.send(str(ME), reply)


# ---------------------------------------------------------------------- groups


async def test_in_a_group_the_sign_up_points_to_a_private_chat(fake: FakeBotApi,
                                                               app: web.Application):
    me = Person(fake)
    await me.command("/signup")
    await to_name_step(me)
    await me.says("王小明")
    await me.says(PHONE_TYPED)  # at the confirmation step, which shows the number
    in_group = Person(fake, ME, chat_id=GROUP_ID)

    pointer = await in_group.command("/signup")
    assert unescaped(pointer) == say("telegram.private_only", "zh")
    [[link]] = pointer.markup["inline_keyboard"]
    assert link["url"] == f"https://t.me/{fake.username}?start=signup"
    booking_pointer = await in_group.taps("bookings")
    assert booking_pointer.markup["inline_keyboard"][0][0]["url"].endswith("?start=bookings")

    answer = await in_group.says(f"@{fake.username} 品博会什么时候举办")
    assert "品博会" in answer.text
    assert "1234" not in answer.text and "王小明" not in answer.text  # not the person's step

    # the deep link: /start signup in private greets, then lists the sessions
    private = await me.command("/start signup", replies=2)
    assert "可以报名的场次" in private.text


# ---------------------------------------------------------------------- phone numbers in logs


async def test_phone_numbers_never_reach_the_logs(fake: FakeBotApi, engine: Engine,
                                                  tmp_path: Path, clock: Clock):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)  # like configure_logging: installed before the app starts
    root.setLevel(logging.DEBUG)
    try:
        async with running(fake, engine, tmp_path):
            me = Person(fake)
            await book(me, phone=PHONE_TYPED)
            await me.command("/mybookings")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    logged = stream.getvalue()
    assert "Calling Bot API endpoint `sendMessage`" in logged  # PTB's DEBUG lines are there
    assert "138****5678" in logged  # … with the number masked
    for shown in (PHONE, "138 1234 5678", "1234 5678", "138-1234"):
        assert shown not in logged
    assert handler.filters == []  # the filters left with the app


# ---------------------------------------------------------------------- admins


async def test_admin_commands_are_listed_only_in_the_admins_chat(fake: FakeBotApi,
                                                                 app: web.Application):
    calls = fake.of("setMyCommands")
    public = [c for c in calls if "scope" not in c.params]
    scoped = [c for c in calls if "scope" in c.params]
    assert len(public) == 2 and len(scoped) == 2
    for call in public:
        assert not {"sessions", "export", "reload", "stats"} & {
            c["command"] for c in call.params["commands"]}
    for call in scoped:
        assert call.params["scope"] == {"type": "chat", "chat_id": ADMIN}
        assert {"sessions", "export", "reload", "stats", "signup"} <= {
            c["command"] for c in call.params["commands"]}


async def test_admin_sessions_and_export(fake: FakeBotApi, app: web.Application, tmp_path: Path):
    me = Person(fake)
    code = code_in(await book(me))
    admin = Person(fake, ADMIN)

    sessions = await admin.command("/sessions")
    lines = unescaped(sessions).splitlines()
    assert lines[0].startswith(f"{SESSION_A}  2027-03-16 09:30") and "已约1/20，剩余19" in lines[0]
    assert len(lines) == 3

    before = len(fake.of("sendDocument"))
    await fake.command("/export", user_id=ADMIN)
    [document] = (await fake.wait_for("sendDocument", before + 1))[before:]
    assert document.chat_id == ADMIN
    upload = document.document
    assert upload is not None and upload.filename == "bookings-20261124.csv"
    assert upload.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(upload.data.decode("utf-8-sig"))))
    assert rows[0] == ["code", "session", "institution", "start", "name", "phone", "status",
                       "created"]
    assert rows[1][:7] == [code, SESSION_A, "示例检验检测机构A", "2027-03-16 09:30", "王小明",
                           PHONE, "booked"]
    assert len(rows) == 2
    assert "1条" in document.params["caption"]

    await fake.command(f"/export {SESSION_B}", user_id=ADMIN)
    [one] = (await fake.wait_for("sendDocument", before + 2))[before + 1:]
    assert one.document is not None
    assert len(list(csv.reader(io.StringIO(one.document.data.decode("utf-8-sig"))))) == 1

    unknown = await admin.command("/export no-such-session")
    assert "没有编号为 no-such-session 的场次" in unknown.text and SESSION_A in unknown.text
    assert len(fake.of("sendDocument")) == before + 2

    log = db_rows(tmp_path, "SELECT actor, action, detail FROM admin_log ORDER BY id")
    assert [(actor, action) for actor, action, _ in log] == [
        (f"telegram:{ADMIN}", "sessions"), (f"telegram:{ADMIN}", "export"),
        (f"telegram:{ADMIN}", "export"), (f"telegram:{ADMIN}", "export")]
    assert log[1][2] == "session=all rows=1" and log[2][2] == f"session={SESSION_B} rows=0"
    assert "refused" in log[3][2]
    assert all(at.startswith("2026-11-24T02:00") for (at,) in db_rows(
        tmp_path, "SELECT at FROM admin_log"))  # when: the dialogue's clock, in UTC


async def test_admin_commands_give_others_no_hint(fake: FakeBotApi, app: web.Application,
                                                  tmp_path: Path):
    me = Person(fake)
    unknown = await me.command("/nonsense")
    for command in ("/export", "/export " + SESSION_A, "/sessions", "/reload", "/stats 7"):
        assert (await me.command(command)).text == unknown.text, command
    # an admin in a group: nothing (no personal data into a group)
    admin_in_group = Person(fake, ADMIN, chat_id=GROUP_ID)
    await fake.command("/export", user_id=ADMIN, chat_id=GROUP_ID, chat_type="supergroup")
    await admin_in_group.command("/help")  # handled after the /export
    assert fake.of("sendDocument") == []
    assert len(fake.sent(GROUP_ID)) == 1
    assert db_rows(tmp_path, "SELECT * FROM admin_log") == []


async def test_admin_reload_replies_and_is_logged(fake: FakeBotApi, app: web.Application,
                                                  tmp_path: Path):
    assert state_of(app).watcher is not None
    reply = await Person(fake, ADMIN).command("/reload")
    version = state_of(app).knowledge.version
    assert unescaped(reply) == f"知识库没有变化（版本 {version}）。"
    [(actor, action, detail)] = db_rows(tmp_path, "SELECT actor, action, detail FROM admin_log")
    assert (actor, action) == (f"telegram:{ADMIN}", "reload")
    assert detail == f"ok=True version={version} changed=False"


async def test_admin_stats(fake: FakeBotApi, app: web.Application, tmp_path: Path):
    admin = Person(fake, ADMIN)
    usage = await admin.command("/stats lots")
    assert unescaped(usage) == say("telegram.stats_usage", "zh")
    reply = await admin.command("/stats 30")
    assert unescaped(reply).startswith("最近30天")
    assert db_rows(tmp_path, "SELECT actor, action, detail FROM admin_log") == [
        (f"telegram:{ADMIN}", "stats", "days=30")]
    english = await Person(fake, ADMIN, language_code="en").command("/stats")
    assert english.text.startswith("Usage, last 7 day(s)")


async def test_broken_knowledge_is_told_to_the_admins_once(fake: FakeBotApi, tmp_path: Path,
                                                           clock: Clock):
    broken_knowledge = knowledge_copy(tmp_path)
    engine = Engine(load_knowledge(broken_knowledge))
    async with running(fake, engine, tmp_path / "data", knowledge_dir=broken_knowledge,
                       admin_ids=frozenset({ADMIN, ADMIN_2})) as (started, _port):
        state = state_of(started)
        assert state.watcher is not None
        assert started[BOT].tell_admins in state.notify_admins
        expo = broken_knowledge / "expo.yaml"
        expo.write_text(expo.read_text(encoding="utf-8") + "\n  - id: [broken\n",
                        encoding="utf-8")
        first = await state.watcher.reload()
        second = await state.watcher.reload()
        assert not first.ok and not second.ok
        for admin in (ADMIN, ADMIN_2):
            [told] = await fake.wait_sent(chat_id=admin)
            assert "expo.yaml" in told.text
        await asyncio.sleep(1.5)  # the watcher's own polling sees the same broken version
        assert len(fake.sent(ADMIN)) == 1 and len(fake.sent(ADMIN_2)) == 1
    assert started[BOT].tell_admins not in state.notify_admins  # unhooked at shutdown


async def test_tell_admins_reaches_every_admin_even_if_one_blocked_the_bot(
        fake: FakeBotApi, engine: Engine, tmp_path: Path, clock: Clock):
    async with running(fake, engine, tmp_path, admin_ids=frozenset({ADMIN, ADMIN_2})) as (started, _port):
        fake.blocked.add(ADMIN)
        await started[BOT].tell_admins("知识库有错误：expo.yaml <第3行>")
        [told] = await fake.wait_sent(chat_id=ADMIN_2)
    assert told.text == "知识库有错误：expo.yaml &lt;第3行&gt;"
    assert fake.sent(ADMIN)[0].text == told.text  # tried, refused with 403, not fatal
