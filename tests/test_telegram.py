"""The Telegram channel end to end: the real app and the real PTB client against a fake Bot API.

Each test starts ``create_app`` with an ``AppRunner`` so the ``cleanup_ctx`` runs the PTB
lifecycle, talks to the bot by putting updates into :class:`FakeBotApi`, and reads what the bot
sent from it. Nothing of PTB is mocked.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.app import STATE, create_app
from bot.channels import telegram
from bot.channels.telegram import BOT, MENU, render, split_text
from bot.conversation import Asker
from bot.engine import Action, Engine, Link, Reply, Status, Suggestion
from bot.messages import say
from bot.settings import Settings
from tests.fake_bot_api import GROUP_ID, FakeBotApi
from tests.telegram_helpers import running

ZH_MENU = [item.zh for item in MENU]
EN_MENU = [item.en for item in MENU]
AMBIGUOUS = ["品博会", "平台", "质量奖", "一站式平台", "质量月"]


@pytest.fixture
async def bot(fake: FakeBotApi, engine: Engine, tmp_path: Path) -> AsyncIterator[web.Application]:
    async with running(fake, engine, tmp_path) as (app, _port):
        yield app


def first_clarifying(engine: Engine) -> tuple[str, Reply]:
    for question in AMBIGUOUS:
        reply = engine.ask(question, "zh")
        if reply.status is Status.CLARIFY:
            return question, reply
    raise AssertionError(f"none of {AMBIGUOUS} asks to clarify any more; add one that does")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------- commands and menu


async def test_start_welcomes_with_the_topic_keyboard(fake: FakeBotApi, bot: web.Application):
    await fake.command("/start")
    [welcome] = await fake.wait_sent()
    assert "质量月" in welcome.text and welcome.params["parse_mode"] == "HTML"
    assert [label for label, _ in welcome.buttons()] == ZH_MENU

    await fake.command("/start", user_id=77, language_code="en-GB")
    [english] = await fake.wait_sent(chat_id=77)
    assert english.text.startswith("Hello") and [b for b, _ in english.buttons()] == EN_MENU

    commands = fake.of("setMyCommands")
    assert {c.params.get("language_code") for c in commands} == {None, "en"}
    assert all("scope" not in c.params for c in commands)  # no admins: no admin menu
    assert {"start", "help", "signup", "mybookings", "events", "services", "lang", "cancel",
            "forget"} == {c["command"] for c in commands[0].params["commands"]}


async def test_menu_buttons_answer_their_topic(fake: FakeBotApi, bot: web.Application,
                                               engine: Engine):
    await fake.message("一站式服务")
    [services] = await fake.wait_sent()
    assert services.text.startswith(html.escape(engine.answer_entry("nqi-services").text,
                                                quote=False))
    others = [f"entry:{e.id}" for e in engine.entries_in("nqi") if e.id != "nqi-services"]
    assert [data for _, data in services.buttons()][:len(others)] == others

    await fake.message("活动日期")
    [events] = await fake.wait_sent(after=1)
    assert events.text.splitlines()[1:] == [html.escape(line, quote=False)
                                            for _, line in engine.events("zh")]

    await fake.message("开放日报名")  # starts the sign-up: the sessions to pick from
    [open_day] = await fake.wait_sent(after=2)
    assert open_day.text.startswith("检验检测机构开放日，可以报名的场次")
    assert [d for _, d in open_day.buttons()][-1] == "signup:cancel"

    await fake.message("质量月活动")
    [campaign] = await fake.wait_sent(after=3)
    campaign_ids = {f"entry:{e.id}" for e in engine.entries_in("campaign")}
    assert {data for _, data in campaign.buttons()} - {"none"} <= campaign_ids


async def test_help_events_and_services_commands(fake: FakeBotApi, bot: web.Application):
    await fake.command("/help")
    await fake.command("/events")
    await fake.command("/services")
    await fake.command("/nonsense")
    help_, events, services, unknown = await fake.wait_sent(4)
    assert "/events" in help_.text and "/lang" in help_.text
    assert "已过去" in events.text or "还有" in events.text
    assert services.buttons()
    assert unknown.text == help_.text


async def test_lang_choice_is_remembered(fake: FakeBotApi, bot: web.Application):
    await fake.command("/lang")
    [prompt] = await fake.wait_sent()
    assert [data for _, data in prompt.buttons()] == ["lang:zh", "lang:en"]
    await fake.callback("lang:en")
    [done] = await fake.wait_sent(after=1)
    assert "English" in done.text and [b for b, _ in done.buttons()] == EN_MENU
    assert len(fake.of("answerCallbackQuery")) == 1
    assert bot[BOT].prefs.get(42) == "en"
    await fake.command("/start")  # the user's Telegram language is Chinese; the choice wins
    [welcome] = await fake.wait_sent(after=2)
    assert welcome.text.startswith("Hello")


async def test_lang_choice_survives_a_restart(fake: FakeBotApi, engine: Engine, tmp_path: Path):
    async with running(fake, engine, tmp_path):
        await fake.command("/lang")
        await fake.callback("lang:en")
        await fake.wait_sent(2)
    async with running(fake, engine, tmp_path) as (app, _port):
        assert app[BOT].prefs.get(42) is None  # a new process: nothing cached yet
        await fake.command("/start")
        [welcome] = await fake.wait_sent(after=2)
        assert welcome.text.startswith("Hello")
        assert app[BOT].prefs.get(42) == "en"  # read once from the database, then cached


# ---------------------------------------------------------------------- questions


async def test_answer_is_html_with_escaped_text_and_its_link(fake: FakeBotApi,
                                                             bot: web.Application, engine: Engine):
    question = "When was the China Quality Award established?"
    expected = engine.ask(question)
    assert expected.status is Status.ANSWER and expected.links
    await fake.message(question)
    [sent] = await fake.wait_sent()
    assert sent.params["parse_mode"] == "HTML"
    lines = sent.text.splitlines()
    assert lines[0] == html.escape(expected.text.splitlines()[0], quote=False)
    link = expected.links[0]
    assert f'<a href="{html.escape(link.url)}">{html.escape(link.title, quote=False)}</a>' in lines
    related = [f"entry:{s.entry_id}" for s in expected.suggestions]
    assert [data for _, data in sent.buttons()][:len(related)] == related


def test_render_puts_thumbs_up_and_down_on_one_row():
    reply = Reply(Status.ANSWER, "答案", "zh", entry_id="expo-date",
                  suggestions=(Suggestion("expo-place", "品博会在哪里"),),
                  actions=(Action("signup", "报名开放日"), Action("fb:up:expo-date", "👍"),
                           Action("fb:down:expo-date", "👎")))
    [out] = render(reply)
    rows = [[(b.text, b.callback_data) for b in row] for row in out.markup.inline_keyboard]
    assert rows == [[("品博会在哪里", "entry:expo-place")], [("报名开放日", "signup")],
                    [("👍", "fb:up:expo-date"), ("👎", "fb:down:expo-date")]]


def test_render_escapes_every_piece_of_knowledge_text():
    reply = Reply(Status.ANSWER, "1 < 2 & <b>bold</b>", "en",
                  links=(Link("A & <B>", 'https://example.org/?a=1&b="2"'),),
                  suggestions=(Suggestion("x", "<i>why?</i>"),),
                  actions=(Action("signup", "Sign up"), Action("x" * 65, "too long")))
    [out] = render(reply)
    assert out.text == ("1 &lt; 2 &amp; &lt;b&gt;bold&lt;/b&gt;\n"
                        '<a href="https://example.org/?a=1&amp;b=&quot;2&quot;">A &amp; &lt;B&gt;</a>')
    # button labels are plain text in Telegram: they stay as written
    buttons = [(b.text, b.callback_data) for [b] in out.markup.inline_keyboard]
    assert buttons == [("<i>why?</i>", "entry:x"), ("Sign up", "signup")]  # no data over 64 bytes


async def test_clarify_then_a_press_answers(fake: FakeBotApi, bot: web.Application,
                                            engine: Engine):
    question, expected = first_clarifying(engine)
    await fake.message(question)
    [clarify] = await fake.wait_sent()
    choices = [f"entry:{s.entry_id}" for s in expected.suggestions] + ["none"]
    buttons = clarify.buttons()[:len(choices)]  # then any actions of the reply
    assert [d for _, d in buttons] == choices and buttons[-1][0] == "都不是"

    picked = expected.suggestions[0].entry_id
    await fake.callback(f"entry:{picked}", message_id=1001)
    [answer] = await fake.wait_sent(after=1)
    assert answer.text.startswith(html.escape(engine.answer_entry(picked).text.splitlines()[0],
                                              quote=False))
    assert len(fake.of("answerCallbackQuery")) == 1

    await fake.callback("none", message_id=1001)
    [rephrase] = await fake.wait_sent(after=2)
    assert rephrase.text == html.escape(engine.message("rephrase", "zh"), quote=False)
    assert [b for b, _ in rephrase.buttons()] == ZH_MENU  # fallback → the topic keyboard


async def test_double_tap_answers_both_queries_and_replies_once(fake: FakeBotApi,
                                                               bot: web.Application):
    await fake.callback("entry:expo-date", message_id=555)
    await fake.callback("entry:expo-date", message_id=555)
    await fake.wait_for("answerCallbackQuery", 2)
    await fake.command("/help")  # same chat, handled after both presses
    sent = await fake.wait_sent(2)
    assert "/events" in sent[1].text
    assert len(fake.sent()) == 2


async def test_a_vote_is_thanked_and_takes_the_vote_buttons_off_the_answer(
        fake: FakeBotApi, bot: web.Application):
    await fake.message("品博会什么时候举办")
    [answer] = await fake.wait_sent()
    votes = [d for _, d in answer.buttons() if d.startswith("fb:")]
    others = [d for _, d in answer.buttons() if not d.startswith("fb:")]
    assert votes == ["fb:up:expo-date", "fb:down:expo-date"]

    await fake.callback("fb:down:expo-date", message_id=777, markup=answer.markup)
    [thanks] = await fake.wait_sent(after=1)
    assert "谢谢" in thanks.text or "感谢" in thanks.text
    [edit] = await fake.wait_for("editMessageReplyMarkup")
    assert int(edit.params["message_id"]) == 777
    assert others and [d for _, d in edit.buttons()] == others  # the rest of the keyboard stays


async def test_a_button_on_an_old_message_works_after_a_restart(fake: FakeBotApi, engine: Engine,
                                                                tmp_path: Path):
    question, expected = first_clarifying(engine)
    async with running(fake, engine, tmp_path):
        await fake.message(question)
        [clarify] = await fake.wait_sent()
    data = clarify.buttons()[0][1]
    async with running(fake, engine, tmp_path):
        fake.fail_next("answerCallbackQuery", status=400)  # the press waited out the restart
        await fake.callback(data, message_id=1)
        [answer] = await fake.wait_sent(after=1)
    assert answer.text.startswith(html.escape(engine.answer_entry(data[6:]).text[:10]))
    assert len(fake.of("answerCallbackQuery")) == 1


async def test_unknown_button_data_is_answered_kindly(fake: FakeBotApi, bot: web.Application,
                                                      engine: Engine):
    await fake.callback("entry:no-such-entry")
    [sent] = await fake.wait_sent()
    assert sent.text == html.escape(engine.message("expired", "zh"), quote=False)
    assert len(fake.of("answerCallbackQuery")) == 1


# ---------------------------------------------------------------------- what is not a question


async def test_sticker_gets_a_polite_reply_and_edits_are_ignored(fake: FakeBotApi,
                                                                 bot: web.Application):
    await fake.edited("品博会什么时候举办")
    await fake.sticker()
    [sent] = await fake.wait_sent()
    assert sent.text == html.escape(say("telegram.media", "zh"))
    await fake.sticker(user_id=77, language_code="en")
    [english] = await fake.wait_sent(chat_id=77)
    assert "only read text" in english.text
    assert len(fake.sent()) == 2  # the edited message got nothing


async def test_group_answers_only_when_addressed(fake: FakeBotApi, bot: web.Application,
                                                 engine: Engine):
    await fake.group_message("品博会什么时候举办", mention=False)
    await fake.group_message("中国质量奖是什么时候设立的", mention=True)
    [sent] = await fake.wait_sent(chat_id=GROUP_ID)
    expected = engine.ask("中国质量奖是什么时候设立的")
    assert sent.text.startswith(html.escape(expected.text.splitlines()[0], quote=False))
    assert sent.params["reply_parameters"]["message_id"]  # quotes the question in a group
    assert len(fake.sent()) == 1  # nothing for the message without a mention

    await fake.message("品博会什么时候举办", chat_id=GROUP_ID, chat_type="supergroup",
                       reply_to_bot=True)
    await fake.command("/help", chat_id=GROUP_ID, chat_type="supergroup")
    await fake.sticker(chat_id=GROUP_ID, chat_type="supergroup")  # not addressed: silence
    replied, help_ = await fake.wait_sent(2, chat_id=GROUP_ID, after=1)
    assert "品博会" in replied.text
    assert "/events" in help_.text and not help_.buttons()  # no reply keyboard in groups
    await fake.callback("lang:zh", chat_id=GROUP_ID)  # marks the end of the group's queue
    await fake.wait_sent(chat_id=GROUP_ID, after=3)
    assert len(fake.sent(GROUP_ID)) == 4


# ---------------------------------------------------------------------- robustness


# PTB 22.8 warns from inside its own RetryAfter.__init__ (retry_after becomes a timedelta in 23)
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_a_429_is_retried_and_the_message_still_arrives(fake: FakeBotApi,
                                                              bot: web.Application):
    fake.fail_next("sendMessage")
    await fake.command("/help")
    [failed, delivered] = await fake.wait_for("sendMessage", 2, timeout=8)
    assert failed.text == delivered.text and "/events" in delivered.text
    assert delivered.at - failed.at >= 1.0  # waited retry_after


async def test_an_exception_in_a_handler_does_not_stop_the_bot(
        fake: FakeBotApi, bot: web.Application, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture):
    conversation = bot[STATE].conversation
    real_text = conversation.text
    calls = []

    async def broken_once(asker: Asker, text: str) -> Reply:
        calls.append(text)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return await real_text(asker, text)

    monkeypatch.setattr(conversation, "text", broken_once)
    with caplog.at_level(logging.ERROR, logger="bot.telegram"):
        update_id = await fake.message("品博会什么时候举办")
        [sorry] = await fake.wait_sent()
    assert sorry.text == html.escape(say("telegram.error", "zh"))
    assert any(f"update {update_id} failed" in r.getMessage() and r.exc_info for r in caplog.records)
    await fake.message("品博会什么时候举办")
    [answer] = await fake.wait_sent(after=1)
    assert "品博会" in answer.text


async def test_flood_limit_one_notice_then_silence_for_the_minute(fake: FakeBotApi,
                                                                  bot: web.Application):
    clock = Clock()
    bot[BOT].flood.clock = clock
    for i in range(25):
        await fake.message(f"你好 {i}")
    await fake.callback("lang:zh")  # a button press counts too: ignored within the minute
    await fake.wait_sent(21)
    for _ in range(100):  # the press is answered (its button stops spinning), nothing sent
        if fake.of("answerCallbackQuery"):
            break
        await asyncio.sleep(0.05)
    await fake.message("你好", user_id=8)  # someone else is not held back
    await fake.wait_sent(chat_id=8)
    sent = fake.sent(chat_id=42)
    texts = [c.text for c in sent]
    assert len(sent) == 21  # 20 answers and one notice; the press got no message
    assert texts[20] == html.escape(say("telegram.flood", "zh"))
    assert texts.count(texts[20]) == 1
    assert fake.of("answerCallbackQuery")

    clock.now += 60  # a new minute: buttons and messages work again
    await fake.callback("lang:zh")
    [confirmed] = await fake.wait_sent(chat_id=42, after=21)
    assert confirmed.text == html.escape(say("telegram.lang_set", "zh"))
    await fake.message("品博会什么时候举办")
    [later] = await fake.wait_sent(chat_id=42, after=22)
    assert "品博会" in later.text


async def test_long_reply_is_split_on_line_boundaries(fake: FakeBotApi, bot: web.Application,
                                                      monkeypatch: pytest.MonkeyPatch):
    lines = [f"第{i}行：" + "质量" * 60 for i in range(150)]  # ≈ 18,000 characters
    long = Reply(Status.ANSWER, "\n".join(lines), "zh", entry_id="x",
                 suggestions=(Suggestion("expo-date", "品博会时间"),))

    async def long_answer(asker: Asker, text: str) -> Reply:
        return long

    monkeypatch.setattr(bot[STATE].conversation, "text", long_answer)
    await fake.message("长")
    pieces = await fake.wait_sent(5)
    assert all(len(p.text.encode("utf-16-le")) // 2 <= 4096 for p in pieces)
    assert "\n".join(p.text for p in pieces) == long.text
    assert [bool(p.markup) for p in pieces] == [False] * 4 + [True]


def test_split_text_keeps_lines_entities_and_utf16_limits():
    assert split_text("a\nb", limit=10) == ["a\nb"]
    assert split_text("aaaa\nbbbb\ncccc", limit=9) == ["aaaa\nbbbb", "cccc"]
    one_line = "x" * 7 + "&amp;" + "y" * 5
    assert split_text(one_line, limit=10) == ["x" * 7, "&amp;yyyyy"]  # never inside &amp;
    emoji = "📅" * 6  # two UTF-16 units each
    assert split_text(emoji, limit=5) == ["📅📅", "📅📅", "📅📅"]
    pieces = render(Reply(Status.FALLBACK, "z" * 5000, "zh"))
    assert [len(p.text) for p in pieces] == [4096, 904]
    assert pieces[0].markup is None and pieces[1].markup is not None


# ---------------------------------------------------------------------- webhook mode


WEBHOOK = "https://bot.example.org/telegram/hook"
SECRET = "s3cret_Token-1"


async def test_webhook_checks_the_secret_before_queueing(fake: FakeBotApi, engine: Engine,
                                                         tmp_path: Path):
    async with running(fake, engine, tmp_path, telegram_webhook_url=WEBHOOK,
                       telegram_webhook_secret=SECRET) as (_app, port):
        [hook] = fake.of("setWebhook")
        assert hook.params["url"] == WEBHOOK and hook.params["secret_token"] == SECRET
        url = f"http://127.0.0.1:{port}/telegram/hook"
        update = {"update_id": 501,
                  "message": fake.message_body("/help", entities=[
                      {"type": "bot_command", "offset": 0, "length": 5}])}
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                            {"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"},
                            {"X-Telegram-Bot-Api-Secret-Token": "秘密"}):
                async with http.post(url, json=update, headers=headers) as response:
                    assert response.status == 403
            async with http.post(url, data="not json", headers={
                    "X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
                assert response.status == 400
            await asyncio.sleep(0.2)
            assert fake.sent() == []
            async with http.post(url, json=update, headers={
                    "X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
                assert response.status == 200
            [sent] = await fake.wait_sent()
    assert "/events" in sent.text
    assert len(fake.sent()) == 1 and fake.polls == 0  # no polling in webhook mode


def test_webhook_without_a_secret_is_refused(engine: Engine, tmp_path: Path):
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):
        create_app(Settings(telegram_token="123456:TEST", telegram_webhook_url=WEBHOOK,
                            data_dir=tmp_path), engine)


# ---------------------------------------------------------------------- the token


async def test_a_rejected_token_stops_start_up_without_showing_it(engine: Engine, tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture):
    async with FakeBotApi(token="123456:OTHER") as fake:
        fake.token = "999999:ANOTHER"  # the server expects another token: every call is 401
        app = create_app(Settings(telegram_token="123456:OTHER", data_dir=tmp_path,
                                  telegram_api_base_url=fake.base_url), engine)
        runner = web.AppRunner(app)
        with pytest.raises(RuntimeError) as failure:
            await runner.setup()
        await runner.cleanup()
    assert "Telegram could not start" in str(failure.value)
    assert "123456:OTHER" not in str(failure.value) and "123456:OTHER" not in caplog.text


def test_phone_filter_masks_mainland_mobile_numbers_only():
    record = logging.LogRecord("telegram.Bot", logging.DEBUG, __file__, 1, "params %s",
                               ({"text": "手机号码：138 1234 5678", "typed": "+86 139-1234-0000",
                                 "update_id": 1732441234567, "wide": "１５９１２３４５６７８"},),
                               None)
    try:
        raise ValueError("bad number 0086 13712345678")
    except ValueError:
        import sys
        record.exc_info = sys.exc_info()
    telegram.MaskPhones().filter(record)
    text = logging.Formatter().format(record)
    assert "138****5678" in text and "139****0000" in text and "137****5678" in text
    assert "1234 5678" not in text and "13712345678" not in text and "１２３４５６７８" not in text
    assert "1732441234567" in text  # not a phone number: left alone
    assert telegram.mask_phones("会议室 12345678901，电话 021-12345678") == \
        "会议室 12345678901，电话 021-12345678"


def test_redact_filter_masks_the_token_in_messages_and_tracebacks():
    token = "123456:SECRET"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "url %s", (f"/bot{token}/x",),
                               None)
    try:
        raise ValueError(f"bad {token}")
    except ValueError:
        import sys
        record.exc_info = sys.exc_info()
    telegram.RedactToken(token).filter(record)
    text = logging.Formatter().format(record)
    assert token not in text and "<token>" in text
