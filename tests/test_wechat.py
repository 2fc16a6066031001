"""The WeChat Official Account channel end to end: the real app (``create_app`` with storage,
scheduler, outbox and the WeChat routes) over real HTTP on 127.0.0.1, the platform's side
played by ``tests/wechat_side.py`` (signing, and in safe mode encrypting, every message and
checking every reply as WeChat does), and a fake platform API (``tests/fake_wechat_api.py``)
for the customer-service messages. The dialogue's clock is the test's, so the example
sessions of 2027 stay in the future and reminders can be made due.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.app import STATE, create_app
from bot.channels.wechat import MENU, WECHAT, render, split_text
from bot.conversation import Asker
from bot.dialogue import Dialogue, deliver_outbox
from bot.engine import Action, Engine, Reply, Status
from bot.kb import TZ, load_knowledge
from bot.settings import Settings, SettingsError
from bot.wechat_protocol import (
    ProtocolError,
    aes_key,
    cdata,
    check_signature,
    decrypt,
    parse_xml,
    sign,
)
from tests.fake_wechat_api import FakeWeChatApi
from tests.open_day_helpers import TODAY, Clock, knowledge_copy
from tests.paths import ROOT
from tests.wechat_side import AES_KEY, APP_ID, APP_SECRET, TOKEN, Follower

ME = "oFollower_me_0000000000001"
OTHER = "oFollower_other_000000002"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    now = Clock(TODAY)
    monkeypatch.setattr(Dialogue, "now", lambda self: now().astimezone(TZ))
    return now


@pytest.fixture
async def platform() -> AsyncIterator[FakeWeChatApi]:
    async with FakeWeChatApi() as api:
        yield api


@pytest.fixture
def mode() -> str:
    """Safe mode (AES) unless a test asks for plain."""
    return "safe"


def wechat_settings(data_dir: Path, platform: FakeWeChatApi, safe: bool) -> Settings:
    return Settings(knowledge_dir=ROOT / "knowledge", data_dir=data_dir, port=0,
                    wechat_token=TOKEN, wechat_app_id=APP_ID, wechat_app_secret=APP_SECRET,
                    wechat_aes_key=AES_KEY if safe else None,
                    wechat_api_base_url=platform.base_url)


@asynccontextmanager
async def running(settings: Settings, engine: Engine) -> AsyncIterator[tuple[str, web.Application]]:
    app = create_app(settings, engine)
    runner = web.AppRunner(app, handle_signals=False)  # with aiohttp's access log
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    app[WECHAT].outbox_interval = 0.05
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", app
    finally:
        await runner.cleanup()


@pytest.fixture
async def server(engine: Engine, tmp_path: Path, platform: FakeWeChatApi, clock: Clock,
                 mode: str) -> AsyncIterator[tuple[str, web.Application]]:
    async with running(wechat_settings(tmp_path, platform, mode == "safe"), engine) as started:
        yield started


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def me(server: tuple[str, web.Application], http: aiohttp.ClientSession, mode: str) -> Follower:
    return Follower(http, server[0], ME, encoding_aes_key=AES_KEY if mode == "safe" else None)


def app_of(server: tuple[str, web.Application]) -> web.Application:
    return server[1]


def number_of(text: str, label: str) -> str:
    """The number a reply offers for the choice starting with ``label``."""
    for line in text.splitlines():
        match = re.match(r"(\d+)\. (.*)", line)
        if match and match.group(2).startswith(label):
            return match.group(1)
    raise AssertionError(f"no choice {label!r} in:\n{text}")


async def questions_counted(base: str, http: aiohttp.ClientSession) -> float:
    async with http.get(base + "/metrics") as response:
        body = await response.text()
    return sum(float(m) for m in re.findall(
        r'^bot_questions_total\{[^}]*channel="wechat"[^}]*\} (\S+)$', body, re.M))


# --------------------------------------------------------------------------- protocol

async def test_url_verification_echoes_only_with_the_right_signature(me: Follower) -> None:
    assert await me.verify("echo-4711") == (200, "echo-4711")
    status, body = await me.verify("echo-4711", signature="0" * 40)
    assert status == 403 and "echo-4711" not in body
    me.clock_skew = -301
    status, _ = await me.verify("echo-4711")
    assert status == 403


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_a_knowledge_question_gets_its_answer_link_and_numbered_choices(
        me: Follower, mode: str) -> None:
    text = await me.text("中国品牌日是哪天")
    assert text is not None and "5月10日" in text
    assert '<a href="https://www.samr.gov.cn/">' in text
    assert re.search(r"^1\. ", text, re.M) and re.search(r"^回复 1、2、3.* 选择$|^回复 1–\d+ 中的数字选择$",
                                                          text, re.M)


async def test_traditional_and_english_questions(me: Follower) -> None:
    traditional = await me.text("中國品牌日是哪天")
    assert traditional is not None and "5月10日" in traditional and "國家" in traditional
    english = await me.text("When is China Brand Day?")
    assert english is not None and "10 May" in english and "to choose" in english


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_wrong_signature_or_old_timestamp_is_403_and_nothing_is_processed(
        me: Follower, server: tuple[str, web.Application], http: aiohttp.ClientSession,
        mode: str) -> None:
    xml = me.message_xml("text", Content="中国品牌日是哪天", MsgId="1001")
    query, body = me.query(xml)
    key = "msg_signature" if mode == "safe" else "signature"
    answer = await me.post(body, query | {key: "0" * 40}, raw=True)
    assert answer.status == 403 and answer.body.startswith("{")
    me.clock_skew = -301
    answer = await me.post(xml)
    assert answer.status == 403
    assert await questions_counted(server[0], http) == 0
    me.clock_skew = 0
    assert await me.text("中国品牌日是哪天", msg_id=1001) is not None  # not taken as a retry
    assert await questions_counted(server[0], http) == 1


async def test_plain_messages_are_refused_in_safe_mode(me: Follower) -> None:
    plain = Follower(me.session, me.base, ME)  # signs correctly, but does not encrypt
    answer = await plain.post(plain.message_xml("text", Content="你好", MsgId="5"))
    assert answer.status == 403


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_malformed_xml_is_400(me: Follower, mode: str) -> None:
    answer = await me.post("<xml><ToUserName>gh</ToUserName><Content>")
    assert answer.status == 400 and '"error"' in answer.body
    answer = await me.post("<notxml/>")
    assert answer.status == 400
    answer = await me.post("<xml><Content>只有内容</Content></xml>")  # required fields missing
    assert answer.status == 400


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_entity_tricks_are_refused(me: Follower, mode: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LINE")
    external = (f'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file://{secret}">]>'
                f"<xml><ToUserName>gh</ToUserName><FromUserName>{ME}</FromUserName>"
                "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&x;</Content>"
                "<MsgId>9</MsgId></xml>")
    laughs = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "hahahahaha">'
              + "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">'
                        for p, c in zip("abcdefgh", "bcdefghi", strict=True))
              + "]><xml><Content>&i;</Content></xml>")
    for body in (external, laughs):
        answer = await me.post(body)
        assert 400 <= answer.status < 500 and "TOP-SECRET" not in answer.body


async def test_an_encrypted_envelope_with_garbage_inside_is_400(me: Follower) -> None:
    timestamp, nonce, sealed = str(int(time.time())), "77", "bm90IGFlcw=="
    params = {"timestamp": timestamp, "nonce": nonce, "encrypt_type": "aes",
              "signature": sign(TOKEN, timestamp, nonce),
              "msg_signature": sign(TOKEN, timestamp, nonce, sealed)}
    answer = await me.post(f"<xml><Encrypt>{cdata(sealed)}</Encrypt></xml>", params, raw=True)
    assert answer.status == 400


# WeChat's own sample message (the WXBizMsgCrypt sample code): our decryption and signature
# agree with the platform's, not only with our own test side.
SAMPLE_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PG"
    "HQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6"
    "tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp"
    "3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhv"
    "Ql+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=")


def test_the_platforms_sample_message_checks_and_decrypts() -> None:
    check_signature("spamtest", "1409735669", "1320562132",
                    "5d197aaffba7e9b25a30732f161a50dee96bd5fa", SAMPLE_ENCRYPT, now=1409735669)
    key = aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
    fields = parse_xml(decrypt(key, "wx2c2769f8efd9abc2", SAMPLE_ENCRYPT))
    assert fields["FromUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert fields["Content"] == "abcdteT" and fields["MsgId"] == "6054768590064713728"
    with pytest.raises(ProtocolError) as other_app:
        decrypt(key, "wx0000000000000000", SAMPLE_ENCRYPT)
    assert other_app.value.status == 403
    with pytest.raises(ProtocolError) as late:
        check_signature("spamtest", "1409735669", "1320562132",
                        "5d197aaffba7e9b25a30732f161a50dee96bd5fa", SAMPLE_ENCRYPT,
                        now=1409735669 + 301)
    assert late.value.status == 403


# --------------------------------------------------------------------------- conversation

async def test_did_you_mean_is_answered_by_number(me: Follower) -> None:
    text = await me.text("品博会")
    assert text is not None and "都不是" in text
    first = text.splitlines()[1:]
    assert any(line.startswith("1. ") for line in first)
    answer = await me.text("1")
    assert answer is not None and "12月" in answer  # the expo's date, the first suggestion
    assert await me.text("１") != text  # a full-width digit is a number too, not a question


async def test_a_vote_is_a_number_too(me: Follower) -> None:
    answer = await me.text("中国品牌日是哪天")
    assert answer is not None
    up = re.search(r"(\d+) 👍", answer)
    assert up, answer
    thanks = await me.text(up.group(1))
    assert thanks is not None and "谢谢您的反馈" in thanks


async def test_a_retried_message_is_processed_once_and_answered_the_same(
        me: Follower, server: tuple[str, web.Application], http: aiohttp.ClientSession) -> None:
    first = await me.text("品博会", msg_id=424242)
    again = await me.text("品博会", msg_id=424242)
    assert first == again and first is not None
    assert await questions_counted(server[0], http) == 1
    # events have no MsgId: the same sender and CreateTime is the same event
    welcome = await me.event("subscribe", create_time=1_700_000_000)
    assert welcome == await me.event("subscribe", create_time=1_700_000_000)


async def test_a_slow_reply_is_success_now_and_sent_later_through_the_api(
        me: Follower, server: tuple[str, web.Application], platform: FakeWeChatApi,
        tmp_path: Path) -> None:
    app = app_of(server)
    app[WECHAT].deadline = 0.3
    # A slow database: another connection holds the write lock, so the "did you mean" (kept
    # for review at once; fallbacks are written in batches and never wait) cannot be written
    # yet. Taken in a thread: the app may be mid-transaction and needs the event loop to finish.
    blocker = sqlite3.connect(tmp_path / "bot.sqlite3", timeout=30, check_same_thread=False)
    await asyncio.to_thread(blocker.execute, "BEGIN IMMEDIATE")
    try:
        assert await me.text("品博会") is None  # "success": no passive reply
    finally:
        await asyncio.to_thread(blocker.rollback)
        blocker.close()
    [late] = await platform.wait_sent(ME)
    assert "都不是" in late.content and "1. " in late.content
    assert platform.token_fetches == 1


async def test_subscribe_welcomes_with_topics_and_a_number_opens_one(me: Follower) -> None:
    welcome = await me.event("subscribe")
    assert welcome is not None and "质量月" in welcome and "1. 质量月主题活动" in welcome
    topic = await me.text(number_of(welcome, "品博会与品牌日"))
    assert topic is not None and "品博会与品牌日" in topic and "1. " in topic


async def test_menu_clicks_do_what_the_web_buttons_do(
        me: Follower, server: tuple[str, web.Application]) -> None:
    conversation = app_of(server)[STATE].conversation
    for key in ("signup", "bookings"):
        expected = render(await conversation.press(Asker("wechat", OTHER), key)).pieces[0]
        assert await me.event("CLICK", key) == expected
        await conversation.press(Asker("wechat", OTHER), "signup:cancel")
        await conversation.press(Asker("wechat", ME), "signup:cancel")
    topics = await me.event("CLICK", "topics")
    assert topics is not None and "1. 质量月主题活动" in topics
    assert [b["key"] for b in MENU["button"]] == ["topics", "signup", "bookings"]


async def test_images_voice_and_stickers_get_i_read_text(me: Follower) -> None:
    for kind in ("image", "voice", "video"):
        reply = await me.media(kind)
        assert reply is not None and "只能读文字消息" in reply
    sticker = await me.text("【收到不支持的消息类型，暂无法显示】")  # how WeChat forwards one
    assert sticker is not None and "只能读文字消息" in sticker


async def sign_up(me: Follower) -> str:
    """The whole open-day sign-up by numbers and text; returns the booking code."""
    answer = await me.text("开放日怎么报名")
    assert answer is not None
    sessions = await me.text(number_of(answer, "报名开放日"))
    assert sessions is not None and "示例检验检测机构A" in sessions
    consent = await me.text(number_of(sessions, "3月16日") if "3月16日" in sessions else "1")
    assert consent is not None and "同意并继续" in consent and "删除我的信息" in consent
    assert "/forget" not in consent  # WeChat's wording, no Telegram command
    ask_name = await me.text(number_of(consent, "同意并继续"))
    assert ask_name is not None and "姓名" in ask_name
    ask_phone = await me.text("王小明")
    assert ask_phone is not None and "手机号码" in ask_phone
    summary = await me.text("13812345678")
    assert summary is not None and "王小明" in summary and "确认报名" in summary
    done = await me.text(number_of(summary, "确认报名"))
    assert done is not None and "报名成功" in done
    match = re.search(r"预约码：(\w+)", done)
    assert match
    return match.group(1)


async def test_the_whole_sign_up_and_the_reminder_exactly_once(
        me: Follower, server: tuple[str, web.Application], platform: FakeWeChatApi,
        clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    state = app_of(server)[STATE]
    code = await sign_up(me)
    assert platform.sent == []  # everything so far was a passive reply
    channel = app_of(server)[WECHAT]
    assert channel.api is not None
    await channel.api.token()  # cached by the bot ...
    platform.expire_token()  # ... and then invalidated by the platform: 40001, refreshed once
    clock.now = datetime(2027, 3, 15, 10, 0, tzinfo=TZ)  # the day before, at REMINDER_TIME
    await state.dialogue.send_due_reminders()
    [reminder] = await platform.wait_sent(ME)
    assert reminder.content.startswith(f"提醒：您预约的开放日就在明天。\n预约码：{code}")
    assert "1. " in reminder.content  # its cancel button, as a number
    assert platform.token_fetches == 2
    await state.dialogue.send_due_reminders()
    await deliver_outbox(state.store, "wechat", app_of(server)[WECHAT], state.dialogue.now())
    assert len(platform.to(ME)) == 1
    forget = await me.text("删除我的信息")
    assert forget is not None
    gone = await me.text(number_of(forget, "确定删除"))
    assert gone is not None and "已删除" in gone
    assert await state.store.bookings_of(f"wechat:{ME}") == []
    assert "openid=wx#" in caplog.text  # the access log ran, masked
    assert ME not in caplog.text and ME[6:] not in caplog.text  # OpenIDs never logged


async def test_no_reminders_after_unfollowing(
        me: Follower, server: tuple[str, web.Application], platform: FakeWeChatApi,
        clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    state = app_of(server)[STATE]
    await sign_up(me)
    assert await me.event("unsubscribe") is None
    clock.now = datetime(2027, 3, 15, 10, 0, tzinfo=TZ)
    assert await state.dialogue.send_due_reminders() == 1
    await deliver_outbox(state.store, "wechat", app_of(server)[WECHAT], state.dialogue.now())
    assert platform.to(ME) == []
    assert ME not in caplog.text


# --------------------------------------------------------------------------- pieces

def more_sessions(text: str) -> str:
    """open_day.yaml with six more example sessions: a session list over 2,048 bytes."""
    extra = "".join(f"""  - id: example-more-{n}
    institution: {{zh: 示例检验检测机构M{n}, en: Example institution M{n}}}
    address: {{zh: 示例地址M{n}（请工作人员替换为真实地址）, en: Example address M{n}}}
    start: 2027-06-{n + 10:02d}T09:30
    end: 2027-06-{n + 10:02d}T11:30
    capacity: 10
    see: {{zh: 示例内容：参观实验室，了解样品从收样到出具报告的检验检测流程。, en: "Example: the lab."}}
    notes: {{zh: 示例场次，请工作人员替换。, en: Example session.}}
""" for n in range(1, 7))
    return text.replace("sessions:\n", "sessions:\n" + extra, 1)


async def test_a_reply_over_the_limit_comes_in_pieces_the_rest_through_the_api(
        tmp_path: Path, platform: FakeWeChatApi, clock: Clock, http: aiohttp.ClientSession
) -> None:
    folder = knowledge_copy(tmp_path, more_sessions)
    settings = replace(wechat_settings(tmp_path, platform, True), knowledge_dir=folder)
    async with running(settings, Engine(load_knowledge(folder))) as (base, _app):
        me = Follower(http, base, ME, encoding_aes_key=AES_KEY)
        first = await me.event("CLICK", "signup")
        assert first is not None and first.startswith("检验检测机构开放日")
        rest = await platform.wait_sent(ME)
        while not rest[-1].content.rstrip().endswith("选择"):  # the numbers come last
            rest = await platform.wait_sent(ME, len(rest) + 1)
        assert all(len(p.content.encode()) <= 2048 for p in rest)
        whole = "\n".join([first, *(p.content for p in rest)])
        assert "示例检验检测机构M6" in whole and whole.rstrip().endswith("选择")
        assert await me.text(number_of(whole, "6月11日")) is not None  # a number still picks



def test_a_long_reply_is_split_within_the_limit_with_the_choices_last() -> None:
    text = "\n".join(f"第{i}段：" + "质量强市建设持续推进。" * 20 for i in range(12))
    reply = Reply(Status.ANSWER, text, "zh", actions=(Action("signup", "报名开放日"),))
    rendered = render(reply)
    assert len(rendered.pieces) > 1
    assert all(len(p.encode()) <= 2048 for p in rendered.pieces)
    assert "".join(rendered.pieces).replace("\n", "") .startswith(text.replace("\n", "")[:500])
    assert rendered.pieces[-1].endswith("回复 1 选择") and rendered.choices == ("signup",)
    assert all(len(p.encode()) <= 100 for p in split_text("一" * 1000, 100))


# --------------------------------------------------------------------------- settings, menu

def test_settings_name_the_wrong_or_missing_wechat_value() -> None:
    good = {"WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": APP_SECRET}
    settings = Settings.from_env(good, dotenv=Path("/nonexistent"))
    assert settings.wechat_token == TOKEN and settings.wechat_aes_key is None
    assert TOKEN not in repr(settings) and APP_SECRET not in repr(settings)
    for name, value in (("WECHAT_APP_ID", ""), ("WECHAT_APP_SECRET", "short"),
                        ("WECHAT_AES_KEY", "x" * 42), ("WECHAT_TOKEN", "a b"),
                        ("WECHAT_API_BASE_URL", "ftp://x")):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env(good | {name: value}, dotenv=Path("/nonexistent"))
    assert Settings.from_env({}, dotenv=Path("/nonexistent")).wechat_token is None


async def test_wechat_menu_prints_and_applies(platform: FakeWeChatApi, tmp_path: Path) -> None:
    env = {**os.environ, "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": APP_ID,
           "WECHAT_APP_SECRET": APP_SECRET, "WECHAT_API_BASE_URL": platform.base_url,
           "DATA_DIR": str(tmp_path)}

    async def run(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "run_bot.py"), "wechat-menu", *args, env=env,
            cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
        return process.returncode or 0, out.decode(), err.decode()

    code, out, _ = await run()
    assert code == 0 and "报名开放日" in out and "我的预约" in out and platform.menus == []
    code, out, err = await run("--apply")
    assert code == 0, err
    assert platform.menus == [MENU]
    assert APP_SECRET not in out + err
