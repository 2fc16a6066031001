"""The open-day sign-up in the web chat, in a real headless Chromium (Debian's /usr/bin/chromium
driven by Playwright; skipped on a developer machine without it, failing when CI is set).

The server is the real app over a copy of the shipped knowledge in which session C has a single
seat (for the waiting list), with its database in a temporary folder; the dialogue's clock is
fixed so the example sessions of 2027 stay in the future.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, expect

from bot.app import STATE, create_app
from bot.dialogue import Dialogue
from bot.engine import Engine
from bot.kb import TZ, load_knowledge
from bot.settings import Settings
from bot.store import Store, user_key
from tests.open_day_helpers import SESSION_A, SESSION_B, TODAY, Clock, knowledge_copy
from tests.web_helpers import Chat, open_chat, serve

pytestmark = pytest.mark.asyncio(loop_scope="module")

CODE = re.compile(r"(?:预约码|候补编号)：([A-Z0-9]{6})")  # a booking, or a place waiting
FIRST = re.compile(r"^1\. 3月16日 09:30")  # session A's button
SECOND = re.compile(r"^2\. 4月13日 14:00")  # session B's


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[tuple[str, web.Application]]:
    root = tmp_path_factory.mktemp("signup-web")
    knowledge = knowledge_copy(root, lambda text: text.replace("capacity: 30", "capacity: 1"))
    settings = Settings(knowledge_dir=knowledge, data_dir=root / "data", host="127.0.0.1",
                        port=0, telegram_token=None)
    clock = Clock(TODAY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Dialogue, "now", lambda self: clock().astimezone(TZ))
        async with serve(create_app(settings, Engine(load_knowledge(knowledge)))) as served:
            yield served


@pytest_asyncio.fixture(loop_scope="module")
async def chat(browser: Browser, server: tuple[str, web.Application]) -> AsyncIterator[Chat]:
    opened = await open_chat(browser, server[0])
    yield opened
    await opened.page.context.close()


def store_of(server: tuple[str, web.Application]) -> Store:
    store = server[1][STATE].store
    assert store is not None
    return store


async def tool(chat: Chat, name: str) -> None:
    """One of the buttons under the question box."""
    await chat.page.get_by_role("group", name="开放日报名与我的信息").get_by_role(
        "button", name=name, exact=True).click()


async def to_name_step(chat: Chat, session: re.Pattern[str]) -> None:
    """From a list of sessions on the page: pick one and agree to the notice."""
    listing = chat.bot()
    await expect(listing).to_contain_text("可以报名的场次")
    await expect(listing).to_have_attribute("data-kind", "signup")
    await listing.get_by_role("button", name=session).click()
    consent = chat.bot()
    await expect(consent).to_contain_text("是否同意并继续")
    await consent.get_by_role("button", name="同意并继续").click()
    await expect(chat.bot()).to_contain_text("请输入参观人的姓名")


async def finish(chat: Chat, name: str, phone: str) -> str:
    """Type the name and number, confirm; the booking code shown."""
    await chat.ask(name)
    await expect(chat.bot()).to_contain_text("请输入手机号码")
    await chat.ask(phone)
    confirm = chat.bot()
    await expect(confirm).to_contain_text(f"参观人：{name}")
    await confirm.get_by_role("button", name="确认报名").click()
    done = chat.bot()
    await expect(done).to_contain_text(CODE)
    match = CODE.search(await done.inner_text())
    assert match
    return match.group(1)


# --------------------------------------------------------------------------- scenarios


async def test_sign_up_see_my_bookings_and_delete_my_data(chat: Chat,
                                                          server: tuple[str, web.Application]):
    page = chat.page
    await chat.ask("开放日怎么报名")
    answer = page.locator('.msg.bot[data-entry="open-day"]')
    await expect(answer).to_contain_text("检验检测机构开放日")
    await answer.get_by_role("button", name="报名开放日", exact=True).click()
    await expect(page.locator(".msg.user .text").last).to_have_text("报名开放日")
    await to_name_step(chat, FIRST)
    await chat.ask("王小明")
    await expect(chat.bot()).to_contain_text("请输入手机号码")
    await chat.ask("+86 138 1234 5678")
    confirm = chat.bot()
    await expect(confirm).to_contain_text("手机号码：138 1234 5678")
    await expect(confirm).to_contain_text("示例检验检测机构A")
    await confirm.get_by_role("button", name="确认报名").click()
    done = chat.bot()
    await expect(done).to_contain_text("报名成功！")
    match = CODE.search(await done.inner_text())
    assert match
    code = match.group(1)
    await expect(done.get_by_role("button", name=f"取消 {code}")).to_be_visible()

    session = await chat.session()
    assert session
    key = user_key("web", session)
    [booking] = await store_of(server).bookings_of(key)
    assert (booking.code, booking.session_id, booking.name, booking.phone, booking.status) == (
        code, SESSION_A, "王小明", "13812345678", "booked")

    await tool(chat, "我的预约")
    listed = chat.bot()
    await expect(listed).to_contain_text("您的预约：")
    await expect(listed).to_contain_text(f"[已预约] {code}")
    await expect(listed.get_by_role("button", name=f"取消 {code}")).to_be_visible()

    await tool(chat, "删除我的信息")
    ask = chat.bot()
    await expect(ask).to_contain_text("确定要删除我们保存的您的全部信息吗")
    await ask.get_by_role("button", name="确定删除").click()
    await expect(chat.bot()).to_contain_text("已删除您的全部信息（1条预约记录）")
    assert await store_of(server).bookings_of(key, active_only=False) == []

    await tool(chat, "我的预约")
    await expect(chat.bot()).to_contain_text("您目前没有预约")
    chat.assert_clean()


async def test_cancel_in_the_middle_of_the_sign_up(chat: Chat,
                                                   server: tuple[str, web.Application]):
    await tool(chat, "报名开放日")
    await to_name_step(chat, SECOND)
    await chat.bot().get_by_role("button", name="取消报名").click()
    await expect(chat.bot()).to_have_text(re.compile("已退出报名，没有保存任何信息。"))
    session = await chat.session()
    assert session
    key = user_key("web", session)
    assert await store_of(server).get_flow(key) is None

    await tool(chat, "报名开放日")  # again, and this time type 取消 at the number
    await to_name_step(chat, SECOND)
    await chat.ask("李雷")
    await expect(chat.bot()).to_contain_text("请输入手机号码")
    await chat.ask("取消")
    await expect(chat.bot()).to_have_text(re.compile("已退出报名，没有保存任何信息。"))
    assert await store_of(server).get_flow(key) is None
    assert await store_of(server).bookings_of(key, active_only=False) == []
    assert [b.session_id for b in await store_of(server).export_rows(SESSION_B)] == []
    chat.assert_clean()


async def test_a_seat_from_the_waiting_list_is_announced_in_the_chat(
        browser: Browser, server: tuple[str, web.Application]):
    first = await open_chat(browser, server[0])
    second = await open_chat(browser, server[0])
    try:
        await tool(first, "报名开放日")
        await to_name_step(first, re.compile(r"^3\. 5月18日"))
        code = await finish(first, "王小明", "13812345678")

        await tool(second, "报名开放日")
        listing = second.bot()
        await expect(listing).to_contain_text("已约满")
        await listing.get_by_role("button", name=re.compile(r"^3\. 候补 5月18日")).click()
        consent = second.bot()
        await expect(consent).to_contain_text("报名后将登记候补")
        await consent.get_by_role("button", name="同意并继续").click()
        await expect(second.bot()).to_contain_text("请输入参观人的姓名")
        waiting_code = await finish(second, "李雷", "13912345678")
        await expect(second.bot()).to_contain_text("目前排第1位")

        await tool(first, "我的预约")
        await first.bot().get_by_role("button", name=f"取消 {code}").click()
        await first.bot().get_by_role("button", name="确定取消").click()
        await expect(first.bot()).to_contain_text(f"已取消预约 {code}")

        # the page asks for messages on load (and every 20 s): the seat is announced
        await second.page.reload()
        notice = second.page.locator('.msg.bot.notice[data-kind="promoted"]')
        await expect(notice).to_contain_text("好消息：您候补的开放日场次有名额了")
        await expect(notice).to_contain_text(f"预约码：{waiting_code}")
        await expect(notice.get_by_role("button", name=f"取消 {waiting_code}")).to_be_visible()
        first.assert_clean()
        second.assert_clean()
    finally:
        await first.page.context.close()
        await second.page.context.close()
