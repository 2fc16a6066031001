"""The wiring: the server opens the database at start-up, gives the conversation the sign-up
dialogue, runs the scheduler, and closes everything on shutdown."""

from __future__ import annotations

import asyncio
import json
import stat
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import STATE, create_app
from bot.conversation import Asker
from bot.dialogue import Dialogue
from bot.engine import Engine
from bot.kb import TZ
from bot.settings import Settings
from tests.open_day_helpers import SESSION_A
from tests.paths import ROOT


@pytest.fixture(autouse=True)
def before_the_example_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped example sessions are in 2027: keep the dialogue's clock before them."""
    from datetime import datetime

    monkeypatch.setattr(Dialogue, "now", lambda self: datetime(2026, 12, 1, 10, 0, tzinfo=TZ))


def post(url: str, body: dict[str, str]) -> dict[str, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


async def test_the_app_opens_the_store_and_the_web_chat_can_sign_up(tmp_path: Path,
                                                                    engine: Engine) -> None:
    settings = Settings(knowledge_dir=ROOT / "knowledge", data_dir=tmp_path / "data", port=0,
                        telegram_token=None)
    app = create_app(settings, engine)
    state = app[STATE]
    assert state.conversation.dialogue is None  # nothing is opened before start-up
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        assert state.store is not None and state.conversation.dialogue is state.dialogue
        assert settings.database.is_file()
        assert stat.S_IMODE(settings.database.stat().st_mode) == 0o600
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        answer = await asyncio.to_thread(post, f"{base}/api/ask",
                                         {"question": "检验检测机构开放日是干啥的", "session": "s1"})
        assert {"id": "signup", "label": "报名开放日"} in answer["actions"]  # type: ignore[operator]
        listing = await asyncio.to_thread(post, f"{base}/api/action",
                                          {"action": "signup", "session": "s1"})
        assert listing["kind"] == "signup"
        assert {a["id"] for a in listing["actions"]} >= {f"signup:pick:{SESSION_A}"}  # type: ignore[index,union-attr]
        conversation = state.conversation
        me = Asker("web", "s1", "zh")
        await conversation.press(me, f"signup:pick:{SESSION_A}")
        await conversation.press(me, "signup:consent:yes")
        await conversation.text(me, "王小明")
        await conversation.text(me, "13812345678")
        done = await conversation.press(me, "signup:confirm")
        assert "报名成功" in done.text
        store = state.store
    finally:
        await runner.cleanup()
    assert state.store is None and state.conversation.dialogue is None
    # closed cleanly, and the booking is on disk for the next start
    app = create_app(settings, engine)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        assert app[STATE].store is not store
        [booking] = await app[STATE].store.bookings_of("web:s1")  # type: ignore[union-attr]
        assert booking.status == "booked"
    finally:
        await runner.cleanup()
