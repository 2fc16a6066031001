"""The web chat in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

No browser is ever downloaded: without /usr/bin/chromium these tests are skipped on a developer
machine and fail when CI is set (CI must never skip them silently); see
:func:`tests.web_helpers.chromium`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, Route, expect

from bot.app import STATE
from bot.store import Draft, user_key
from tests.web_helpers import DESKTOP, PHONE, Chat, make_app, open_chat, serve, shipped_engine

pytestmark = pytest.mark.asyncio(loop_scope="module")

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[tuple[str, web.Application]]:
    # every page of this module comes from 127.0.0.1: one address, many people
    app = make_app(tmp_path_factory.mktemp("data"), per_address_limits=False)
    async with serve(app) as served:
        yield served


@pytest.fixture
def base_url(server: tuple[str, web.Application]) -> str:
    return server[0]


@pytest_asyncio.fixture(loop_scope="module")
async def chat(browser: Browser, base_url: str) -> AsyncIterator[Chat]:
    opened = await open_chat(browser, base_url)
    yield opened
    await opened.page.context.close()


# --------------------------------------------------------------------------- scenarios

async def test_question_gets_an_answer_with_its_link(chat: Chat) -> None:
    page = chat.page
    await expect(page).to_have_title("青岛质量月问答")
    await expect(page.locator(".msg.welcome")).to_contain_text("质量月")
    expected = shipped_engine().ask("品博会什么时候")
    assert expected.links

    await chat.ask("品博会什么时候")

    await expect(page.locator(".msg.user").last).to_have_text(re.compile("品博会什么时候"))
    answer = chat.bot("answer")
    await expect(answer).to_contain_text("12月")
    await expect(answer).to_have_attribute("data-entry", "expo-date")
    link = answer.locator(f'a[href="{expected.links[0].url}"]')
    await expect(link).to_have_count(1)
    await expect(link).to_contain_text(expected.links[0].title)
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    await expect(chat.input).to_have_value("")
    chat.assert_clean()


async def test_clarify_offers_suggestions_and_a_click_answers(chat: Chat) -> None:
    page = chat.page
    clarify = shipped_engine().ask("品博会")
    assert clarify.status == "clarify" and len(clarify.suggestions) >= 2
    picked = next((s for s in clarify.suggestions if s.entry_id == "expo-date"),
                  clarify.suggestions[0])
    expected = shipped_engine().answer_entry(picked.entry_id, "zh")
    assert expected is not None

    await chat.ask("品博会")

    bubble = chat.bot("clarify")
    await expect(bubble).to_contain_text(clarify.text)
    buttons = bubble.get_by_role("button")
    await expect(buttons).to_have_count(len(clarify.suggestions) + 1)  # and "none of these"
    await expect(buttons.last).to_have_text("都不是")
    async with page.expect_request("**/api/action") as sent:
        await bubble.get_by_role("button", name=picked.text, exact=True).click()
    assert json.loads((await sent.value).post_data or "{}")["action"] == f"entry:{picked.entry_id}"
    answer = page.locator(f'.msg.bot[data-status="answer"][data-entry="{picked.entry_id}"]')
    await expect(answer).to_contain_text(expected.text.splitlines()[0])
    await expect(page.locator(".msg.user").last).to_have_text(re.compile(re.escape(picked.text)))
    chat.assert_clean()


async def test_english_switch_is_remembered_and_sent(chat: Chat) -> None:
    page = chat.page
    english = page.get_by_role("button", name="English")
    await english.click()
    await expect(english).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page).to_have_title("Qingdao Quality Month Q&A")
    await expect(page.get_by_role("button", name="Send")).to_be_visible()
    await expect(page.locator(".msg.welcome")).to_contain_text("Quality Month")
    await expect(page.locator(".msg")).to_have_count(1)  # the welcome, greeting again in English

    async with page.expect_request("**/api/ask") as sent:
        await chat.ask("When is the expo?")
    body = json.loads((await sent.value).post_data or "{}")
    assert body["lang"] == "en" and body["question"] == "When is the expo?"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", body["session"])
    answer = chat.bot("answer")
    await expect(answer).to_contain_text("December")
    await expect(answer).to_have_attribute("lang", "en")
    await expect(answer).to_contain_text("Links:")

    await page.reload()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")
    async with page.expect_request("**/api/ask") as again:
        await chat.ask("When is China Brand Day?")
    assert json.loads((await again.value).post_data or "{}")["session"] == body["session"]
    await expect(chat.bot("answer")).to_contain_text("10 May")

    await page.get_by_role("button", name="中文").click()
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.get_by_role("button", name="发送")).to_be_visible()
    chat.assert_clean()


async def test_keyboard_only(chat: Chat) -> None:
    page = chat.page
    for _ in range(20):
        if await page.evaluate("document.activeElement && document.activeElement.id") == "question":
            break
        await page.keyboard.press("Tab")
    else:
        pytest.fail("Tab never reached the question box")

    await page.keyboard.type("品博会什么时候举办")
    async with page.expect_response("**/api/ask") as response:
        await page.keyboard.press("Enter")
    reply = await (await response.value).json()
    answer = chat.bot("answer")
    await expect(answer).to_contain_text("12月")
    await expect(chat.input).to_be_focused()

    # Shift+Tab from the box goes back through the answer's action buttons (👍 / 👎, say) to
    # its last suggestion; Enter presses it.
    related = shipped_engine().ask("品博会什么时候举办").suggestions
    assert related
    for _ in range(1 + len(reply["actions"])):
        await page.keyboard.press("Shift+Tab")
    focused = page.locator(":focus")
    await expect(focused).to_have_text(related[-1].text)
    outline = await focused.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline not in ("", "none"), "the focused button has no visible focus ring"
    await page.keyboard.press("Enter")
    await expect(page.locator(
        f'.msg.bot[data-status="answer"][data-entry="{related[-1].entry_id}"]')).to_have_count(1)
    chat.assert_clean()


async def test_welcome_examples_ask_their_question(chat: Chat) -> None:
    page = chat.page
    examples = page.locator(".msg.welcome").get_by_role("button")
    assert await examples.count() >= 3
    first = (await examples.first.inner_text()).strip()
    await examples.first.click()
    await expect(page.locator(".msg.user .text").last).to_have_text(first)
    await expect(chat.bot("answer")).to_have_attribute("data-entry", "expo-date")
    chat.assert_clean()


async def test_reply_text_is_shown_as_text_never_as_html(chat: Chat) -> None:
    page = chat.page
    hostile = {
        "status": "answer", "answer": "<img src=x onerror=\"window.pwned=1\">\n<b>第二行</b>",
        "entry_id": "x", "score": 90.0, "lang": "zh", "kind": "knowledge",
        "links": [{"title": "<i>坏链接</i>", "url": "javascript:window.pwned=2"},
                  {"title": "data", "url": "data:text/html,<script>1</script>"},
                  {"title": "好链接", "url": "https://www.example.org/ok"}],
        "suggestions": [{"id": "expo-date", "text": "<u>建议</u>"}],
        "actions": [{"id": "none", "label": "<em>都不是</em>"}],
    }

    async def fake(route: Route) -> None:
        await route.fulfill(status=200, content_type="application/json",
                            body=json.dumps(hostile, ensure_ascii=False))

    await page.route("**/api/ask", fake)
    await chat.ask("随便问问")
    bubble = chat.bot("answer")
    await expect(bubble).to_contain_text('<img src=x onerror="window.pwned=1">')
    await expect(bubble.locator("img, b, i, u, em, script")).to_have_count(0)
    text = await bubble.locator(".text").inner_text()
    assert text.splitlines() == ['<img src=x onerror="window.pwned=1">', "<b>第二行</b>"]
    links = bubble.locator("a")
    await expect(links).to_have_count(1)
    await expect(links).to_have_attribute("href", "https://www.example.org/ok")
    await expect(bubble.get_by_role("button", name="<u>建议</u>")).to_be_visible()
    await expect(bubble.get_by_role("button", name="<em>都不是</em>")).to_be_visible()
    assert await page.evaluate("window.pwned") is None
    chat.assert_clean()


async def test_failed_request_shows_a_polite_error_and_retry(chat: Chat) -> None:
    page = chat.page

    async def down(route: Route) -> None:
        await route.abort("connectionrefused")

    await page.route("**/api/ask", down)
    await chat.ask("品博会什么时候举办")
    error = chat.bot("error")
    await expect(error).to_contain_text("抱歉")
    retry = error.get_by_role("button", name="重试")

    await page.unroute("**/api/ask", down)

    async def broken(route: Route) -> None:
        await route.fulfill(status=500, content_type="application/json",
                            body='{"error": "internal", "detail": "x"}')

    await page.route("**/api/ask", broken)
    await retry.click()
    await expect(error).to_contain_text("抱歉")
    await page.unroute("**/api/ask", broken)
    await error.get_by_role("button", name="重试").click()
    await expect(page.locator('.msg.bot[data-status="answer"]').last).to_contain_text("12月")
    await expect(page.locator(".msg.bot")).to_have_count(2)  # the welcome and the retried answer
    chat.assert_clean(allow=r"Failed to load resource|ERR_CONNECTION_REFUSED|status of 500")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_layout_fits_and_touch_targets_are_large(browser: Browser, base_url: str,
                                                       viewport: dict[str, int], tmp_path: Path
                                                       ) -> None:
    chat = await open_chat(browser, base_url, viewport)
    page = chat.page
    try:
        await chat.ask("品博会")
        await expect(chat.bot("clarify").get_by_role("button")).not_to_have_count(0)
        await chat.ask("品博会什么时候")
        await expect(chat.bot("answer").locator("a")).to_have_count(1)
        await page.wait_for_timeout(250)  # let the appear animation finish
        await page.screenshot(path=str(tmp_path / "webchat.png"))

        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], "the page scrolls sideways"
        targets = page.locator("button, input, .link")
        boxes = [await targets.nth(i).bounding_box() for i in range(await targets.count())]
        visible = [box for box in boxes if box and box["width"] > 2]
        assert visible and all(box["height"] >= 44 for box in visible), visible
        composer = await page.locator("form.composer").bounding_box()
        assert composer and composer["y"] + composer["height"] <= viewport["height"] + 1
        header = await page.locator("header").bounding_box()
        assert header and header["y"] >= 0 and header["height"] < 120
        if viewport is DESKTOP:
            log = await page.locator(".msg").first.bounding_box()
            assert log and log["x"] > 200, "on a wide screen the conversation is centred"
        chat.assert_clean()
    finally:
        await page.context.close()


# --------------------------------------------------------------------------- open day and messages


async def test_the_open_day_and_personal_data_buttons_sit_under_the_box(chat: Chat) -> None:
    page = chat.page
    tools = page.get_by_role("group", name="开放日报名与我的信息")
    names = ["报名开放日", "我的预约", "删除我的信息"]
    for name in names:
        await expect(tools.get_by_role("button", name=name, exact=True)).to_be_visible()
    box = await chat.input.bounding_box()
    first = await tools.get_by_role("button", name=names[0]).bounding_box()
    assert box and first and first["y"] > box["y"]  # below the question box, out of the way
    await page.get_by_role("button", name="English").click()
    for name in ["Open day", "My bookings", "Delete my data"]:
        await expect(page.get_by_role("group", name="Open day and my data").get_by_role(
            "button", name=name, exact=True)).to_be_visible()
    await page.get_by_role("button", name="中文").click()

    async with page.expect_request("**/api/action") as sent:
        await tools.get_by_role("button", name="我的预约").click()
    body = json.loads((await sent.value).post_data or "{}")
    assert body["action"] == "bookings" and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", body["session"])
    await expect(page.locator(".msg.user .text").last).to_have_text("我的预约")
    await expect(chat.bot("answer")).to_contain_text("您目前没有预约")
    chat.assert_clean()


async def test_thumbs_up_and_down_share_one_compact_row_and_vote_once(chat: Chat) -> None:
    page = chat.page
    reply = {"status": "answer", "answer": "品博会在12月举办。", "entry_id": "expo-date",
             "score": 90.0, "lang": "zh", "kind": "knowledge", "links": [],
             "suggestions": [{"id": "expo-place", "text": "品博会在哪里？"}],
             "actions": [{"id": "signup", "label": "报名开放日"},
                         {"id": "fb:up:expo-date", "label": "👍"},
                         {"id": "fb:down:expo-date", "label": "👎"}]}
    thanks = {**reply, "answer": "谢谢您的反馈！", "entry_id": None, "kind": "feedback",
              "suggestions": [], "actions": []}

    async def answer(route: Route) -> None:
        await route.fulfill(status=200, content_type="application/json",
                            body=json.dumps(reply, ensure_ascii=False))

    async def acknowledge(route: Route) -> None:
        await route.fulfill(status=200, content_type="application/json",
                            body=json.dumps(thanks, ensure_ascii=False))

    await page.route("**/api/ask", answer)
    await page.route("**/api/action", acknowledge)
    await chat.ask("品博会什么时候")
    bubble = page.locator('.msg.bot[data-entry="expo-date"]')  # stays put when more come
    row = bubble.get_by_role("group", name="这个回答有帮助吗？")
    up = row.get_by_role("button", name="有帮助", exact=True)
    down = row.get_by_role("button", name="没有帮助", exact=True)
    await expect(up).to_have_text("👍")
    await expect(down).to_have_text("👎")
    up_box, down_box = await up.bounding_box(), await down.bounding_box()
    assert up_box and down_box
    # one row: the two buttons' middles level (their glyphs may differ by a pixel in height)
    middle = abs(up_box["y"] + up_box["height"] / 2 - down_box["y"] - down_box["height"] / 2)
    assert middle < 1.5 and down_box["x"] > up_box["x"]
    assert up_box["width"] < 80 and up_box["height"] >= 44  # compact, still a touch target
    await expect(bubble.locator(".choices").get_by_role("button")).to_have_count(2)

    async with page.expect_request("**/api/action") as sent:
        await up.click()
    assert json.loads((await sent.value).post_data or "{}")["action"] == "fb:up:expo-date"
    await expect(up).to_be_disabled()
    await expect(down).to_be_disabled()
    await expect(up).to_have_attribute("aria-pressed", "true")
    await expect(chat.bot("answer")).to_contain_text("谢谢您的反馈")
    chat.assert_clean()


async def test_messages_sent_later_are_shown_on_load(browser: Browser,
                                                     server: tuple[str, web.Application]) -> None:
    base, app = server
    chat = await open_chat(browser, base)
    page = chat.page
    try:
        assert not [u for u in chat.requests if "/api/messages" in u]  # no session: no polling
        await chat.ask("品博会什么时候举办")
        await expect(chat.bot("answer")).to_contain_text("12月")
        session = await chat.session()
        assert session
        state = app[STATE]
        assert state.store is not None and state.dialogue is not None
        draft = Draft("promoted", "好消息：您候补的开放日场次有名额了。\n预约码：ABC234", "zh",
                      (("bookings", "我的预约"), ("booking:cancel:ABC234", "取消 ABC234")))
        await state.store.enqueue(user_key("web", session), draft, state.dialogue.now())

        async with page.expect_response("**/api/messages?session=*") as polled:
            await page.reload()
        assert (await polled.value).status == 200
        notice = page.locator('.msg.bot.notice[data-kind="promoted"]')
        await expect(notice).to_have_count(1)
        await expect(notice).to_contain_text("预约码：ABC234")
        await expect(notice.get_by_role("button", name="取消 ABC234")).to_be_visible()

        await page.reload()  # handed out once: kept in the page's history, not sent again
        await expect(page.locator("html.ready")).to_have_count(1)
        await page.wait_for_timeout(300)
        await expect(page.locator(".msg.notice")).to_have_count(1)
        await page.get_by_role("button", name="清空对话").click()
        await page.reload()
        await expect(page.locator("html.ready")).to_have_count(1)
        await page.wait_for_timeout(300)
        await expect(page.locator(".msg.notice")).to_have_count(0)
        chat.assert_clean()
    finally:
        await page.context.close()


# --------------------------------------------------------------------------- a finished page

QUESTIONS = ["中国品牌日是哪天", "青岛中国驰名商标数量", "质量月主题活动在哪天", "When is China Brand Day?",
             "明天天气怎么样"]
TEN_TASKS = "十大质量提升工作有哪些"


async def converse(chat: Chat, questions: int) -> None:
    """Ask ``questions`` questions, each waited for: twice as many messages in the list."""
    for i in range(questions):
        before = await chat.page.locator(".msg").count()
        await chat.ask(QUESTIONS[i % len(QUESTIONS)])
        await expect(chat.page.locator(".msg:not(.pending)")).to_have_count(before + 2)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_only_the_message_list_scrolls_after_twenty_messages(
        browser: Browser, base_url: str, viewport: dict[str, int]) -> None:
    chat = await open_chat(browser, base_url, viewport)
    page = chat.page
    try:
        await converse(chat, 10)
        await expect(page.locator(".msg")).to_have_count(21)  # the welcome and twenty more
        sizes = await layout(page)
        assert sizes["document"] == viewport["height"] == sizes["window"], sizes
        assert sizes["body"] == viewport["height"], sizes
        assert sizes["log_scroll"] > sizes["log_height"] * 2, "the list itself scrolls"

        header = await page.locator("header").bounding_box()
        assert header
        await page.mouse.move(header["x"] + 20, header["y"] + header["height"] / 2)
        await page.mouse.wheel(0, 3000)
        await page.wait_for_timeout(200)
        after = await layout(page)
        assert after["page_scroll"] == 0 and after["header_top"] == 0, after
        assert after["composer_bottom"] == viewport["height"], after

        log = await page.locator("#log").bounding_box()
        assert log
        await page.mouse.move(log["x"] + log["width"] / 2, log["y"] + log["height"] / 2)
        top = await page.evaluate("document.getElementById('log').scrollTop")
        await page.mouse.wheel(0, -600)
        await page.wait_for_function("top => document.getElementById('log').scrollTop < top",
                                     arg=top)
        assert (await layout(page))["page_scroll"] == 0
        chat.assert_clean()
    finally:
        await page.context.close()


async def layout(page: Any) -> dict[str, float]:
    return await page.evaluate("""() => {
        const log = document.getElementById('log');
        return {window: innerHeight, document: document.documentElement.scrollHeight,
                body: document.body.scrollHeight, page_scroll: scrollY,
                log_scroll: log.scrollHeight, log_height: log.clientHeight,
                header_top: document.querySelector('header').getBoundingClientRect().top,
                composer_bottom: document.querySelector('form.composer')
                    .getBoundingClientRect().bottom};
    }""")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_a_long_reply_opens_at_its_top(browser: Browser, base_url: str,
                                             viewport: dict[str, int]) -> None:
    chat = await open_chat(browser, base_url, viewport)
    page = chat.page
    try:
        await converse(chat, 4)
        await chat.ask(TEN_TASKS)
        answer = page.locator('.msg.bot[data-entry="task-overview"]')
        await expect(answer).to_contain_text("10.")
        await page.wait_for_timeout(250)  # the appear animation
        row, log = await answer.bounding_box(), await page.locator("#log").bounding_box()
        assert row and log
        if viewport is PHONE:
            assert row["height"] > log["height"], "the ten tasks are longer than a phone screen"
        if row["height"] > log["height"]:
            assert log["y"] <= row["y"] <= log["y"] + 24, (row, log)  # its beginning is shown
            await expect(answer.get_by_text("1. 开展2022年青岛市")).to_be_in_viewport()
        else:
            assert log["y"] <= row["y"] and row["y"] + row["height"] <= log["y"] + log["height"]
        chat.assert_clean()
    finally:
        await page.context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_the_conversation_survives_a_reload_until_cleared(
        browser: Browser, base_url: str, viewport: dict[str, int]) -> None:
    chat = await open_chat(browser, base_url, viewport)
    page = chat.page
    try:
        await chat.ask("中国品牌日是哪天")
        await expect(chat.bot("answer")).to_contain_text("5月10日")
        up = chat.bot("answer").get_by_role("button", name="有帮助", exact=True)
        await up.click()
        await expect(chat.bot("answer")).to_contain_text("谢谢您的反馈")
        await chat.ask("品博会")
        await expect(chat.bot("clarify").get_by_role("button", name="都不是")).to_be_visible()
        texts = await page.locator(".msg .text").all_inner_texts()

        await page.reload()
        await expect(page.locator("html.ready")).to_have_count(1)
        assert await page.locator(".msg .text").all_inner_texts() == texts
        brand_day = page.locator('.msg.bot[data-entry="expo-china-brand-day"]').first
        await expect(brand_day.get_by_role("button", name="有帮助", exact=True)).to_be_disabled()
        await expect(brand_day.get_by_role("button", name="有帮助", exact=True)).to_have_attribute(
            "aria-pressed", "true")
        clarify = chat.bot("clarify")
        await clarify.get_by_role("button", name="品博会时间").click()  # old buttons still work
        await expect(page.locator('.msg.bot[data-entry="expo-date"]')).to_have_count(1)
        log = await page.locator("#log").evaluate("l => l.scrollHeight - l.scrollTop - l.clientHeight")
        assert log < 2, "after a reload the list shows its end"

        await page.get_by_role("button", name="清空对话").click()
        await expect(page.locator(".msg")).to_have_count(1)
        await expect(page.locator(".msg.welcome")).to_have_count(1)
        await page.reload()
        await expect(page.locator("html.ready")).to_have_count(1)
        await expect(page.locator(".msg")).to_have_count(1)
        chat.assert_clean()
    finally:
        await page.context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_focus_goes_to_the_question_box_after_a_pick_or_a_vote(
        browser: Browser, base_url: str, viewport: dict[str, int]) -> None:
    chat = await open_chat(browser, base_url, viewport)
    page = chat.page
    try:
        await chat.ask("品博会")
        await chat.bot("clarify").get_by_role("button", name="品博会时间").click()
        answer = page.locator('.msg.bot[data-entry="expo-date"]')
        await expect(answer).to_have_count(1)
        await expect(chat.input).to_be_focused()

        await answer.get_by_role("button", name="没有帮助", exact=True).click()
        await expect(chat.bot("answer")).to_contain_text("谢谢您")
        await expect(answer.get_by_role("button", name="没有帮助", exact=True)).to_be_disabled()
        await expect(chat.input).to_be_focused()
        await page.keyboard.type("中国品牌日是哪天")
        await page.keyboard.press("Enter")
        await expect(chat.bot("answer")).to_contain_text("5月10日")
        chat.assert_clean()
    finally:
        await page.context.close()


async def test_none_of_these_and_a_fallback_lead_back_to_the_topics(chat: Chat) -> None:
    page = chat.page
    await chat.ask("品博会")
    clarify = chat.bot("clarify")
    async with page.expect_request("**/api/action") as sent:
        await clarify.get_by_role("button", name="都不是", exact=True).click()
    assert json.loads((await sent.value).post_data or "{}")["action"] == "none"
    await expect(clarify.get_by_role("button", name="都不是")).to_be_disabled()
    rephrase = page.locator('.msg.bot[data-kind="none"]')
    await expect(rephrase).to_contain_text("换个说法")
    await expect(rephrase.locator(".topics").get_by_role("button")).to_have_count(7)
    await expect(chat.input).to_be_focused()

    await chat.ask("明天天气怎么样")
    fallback = chat.bot("fallback")
    await expect(fallback).to_contain_text("答不上来")
    async with page.expect_request("**/api/action") as topic:
        await fallback.get_by_role("button", name="品博会与品牌日").click()
    assert json.loads((await topic.value).post_data or "{}")["action"] == "topic:expo"
    listed = page.locator('.msg.bot[data-kind="topic"]')
    await expect(listed).to_contain_text("品博会与品牌日")
    await expect(listed.get_by_role("button", name="品博会时间")).to_be_visible()

    await page.get_by_role("button", name="English").click()
    await chat.ask("What is the weather tomorrow?")
    english = chat.bot("fallback")
    await expect(english.get_by_role("button", name="Quality Life Expo & Brand Day")).to_be_visible()
    chat.assert_clean()


async def test_errors_show_the_servers_words_never_a_code(chat: Chat) -> None:
    page = chat.page
    limited = {"error": "rate_limited", "message": "您提问太频繁了，请10秒后再试。", "retry_after": 10}

    async def too_many(route: Route) -> None:
        await route.fulfill(status=429, content_type="application/json",
                            body=json.dumps(limited, ensure_ascii=False),
                            headers={"Retry-After": "10"})

    await page.route("**/api/ask", too_many)
    await chat.ask("中国品牌日是哪天")
    error = chat.bot("error")
    await expect(error).to_contain_text(limited["message"])
    await expect(error).not_to_contain_text("rate_limited")
    await expect(error.get_by_role("button", name="重试")).to_be_visible()
    await page.unroute("**/api/ask", too_many)

    async def bare(route: Route) -> None:
        await route.fulfill(status=503, content_type="text/plain", body="upstream down")

    await page.route("**/api/ask", bare)
    await chat.ask("中国品牌日是哪天")
    await expect(chat.bot("error")).to_contain_text("抱歉，暂时没能取得答案")
    await expect(page.locator("#log")).not_to_contain_text("upstream")
    await page.unroute("**/api/ask", bare)
    await chat.bot("error").get_by_role("button", name="重试").click()
    await expect(chat.bot("answer")).to_contain_text("5月10日")
    chat.assert_clean(allow=r"status of (429|503)")


async def test_english_text_uses_a_latin_font_first(chat: Chat) -> None:
    page = chat.page
    await page.get_by_role("button", name="English").click()
    await chat.ask("When is China Brand Day?")
    answer = chat.bot("answer")
    await expect(answer).to_contain_text("10 May")
    family = await answer.locator(".text").evaluate("el => getComputedStyle(el).fontFamily")
    first_cjk = min(family.find(f) for f in ("CJK", "PingFang", "YaHei") if f in family)
    assert "DejaVu Sans" in family and family.find("DejaVu Sans") < first_cjk, family
    await page.get_by_role("button", name="中文").click()
    chinese = await page.locator("header h1").evaluate("el => getComputedStyle(el).fontFamily")
    assert chinese.find("CJK") < chinese.find("Roboto"), chinese
    chat.assert_clean()


# --------------------------------------------------------------------------- the sign-up steps

async def test_signup_in_the_page_phone_keypad_code_large_and_steps_closed(
        browser: Browser, base_url: str, tmp_path: Path) -> None:
    chat = await open_chat(browser, base_url, PHONE)
    page = chat.page
    try:
        await page.get_by_role("button", name="报名开放日", exact=True).click()
        sessions = page.locator(".msg.bot", has_text="可以报名的场次")
        await expect(sessions).to_have_count(1)
        first = sessions.locator(".choice.action").first
        await first.click()
        consent = page.locator(".msg.bot", has_text="是否同意并继续")
        await expect(consent).to_have_count(1)
        await expect(first).to_be_disabled()  # the finished step's buttons are closed
        await consent.get_by_role("button", name="同意并继续").click()
        await expect(chat.bot()).to_contain_text("请输入参观人的姓名")
        await expect(consent.get_by_role("button", name="不同意")).to_be_disabled()
        await expect(chat.input).to_have_attribute("autocomplete", "name")
        assert await chat.input.get_attribute("inputmode") is None

        await chat.ask("王小明")
        await expect(chat.bot()).to_contain_text("请输入手机号码")
        await expect(chat.input).to_have_attribute("inputmode", "tel")
        await expect(chat.input).to_have_attribute("autocomplete", "tel")
        await expect(chat.input).to_be_focused()
        await chat.ask("13812345678")
        await expect(chat.bot()).to_contain_text("请核对报名信息")
        assert await chat.input.get_attribute("inputmode") is None  # the number is in
        await chat.bot().get_by_role("button", name="确认报名").click()

        booked = page.locator(".msg.bot", has_text="报名成功")
        code = booked.locator(".code-box .code")
        await expect(code).to_have_text(re.compile(r"^[A-Z0-9]{6}$"))
        size = await code.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
        body = await booked.locator(".text").evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
        assert size >= 1.5 * body, (size, body)
        value = await code.inner_text()
        await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        await booked.get_by_role("button", name=f"复制 {value}").click()
        await expect(booked.get_by_role("button", name=f"复制 {value}")).to_have_text("已复制")
        assert await page.evaluate("navigator.clipboard.readText()") == value

        await page.reload()  # the booking code is still there after a reload
        await expect(page.locator(".code-box .code")).to_have_text(value)
        await expect(page.locator(".msg.bot", has_text="是否同意并继续").get_by_role(
            "button", name="同意并继续")).to_be_disabled()
        await page.screenshot(path=str(tmp_path / "signup-phone.png"), full_page=False)
        chat.assert_clean()
    finally:
        await page.context.close()


async def test_a_chinese_reply_in_the_english_page_keeps_chinese_fonts(chat: Chat) -> None:
    page = chat.page
    await page.get_by_role("button", name="English").click()
    await chat.ask("中国品牌日是哪天")
    answer = chat.bot("answer")
    await expect(answer).to_have_attribute("lang", "zh-CN")
    family = await answer.locator(".text").evaluate("el => getComputedStyle(el).fontFamily")
    assert family.find("CJK") < family.find("DejaVu") or "DejaVu" not in family, family
    chat.assert_clean()
