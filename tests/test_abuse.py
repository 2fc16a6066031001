"""Seats go to people, not scripts; one person's requests never race; bad input is a 4xx.

Everything over real HTTP on 127.0.0.1 against the real app with its SQLite file in the test's
folder. The dialogue's clock is fixed before the shipped example sessions of 2027.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.app import STATE, AppState, create_app
from bot.channels.web import COOKIE
from bot.dialogue import Dialogue
from bot.insights import redact
from bot.kb import TZ
from bot.settings import Settings
from bot.store import Draft, Store
from tests.open_day_helpers import SESSION_A
from tests.paths import ROOT, copy_knowledge
from tests.web_helpers import CookieSessions, serve, shipped_engine

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=TZ)


@pytest.fixture(autouse=True)
def before_the_example_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Dialogue, "now", lambda self: NOW)


@dataclass
class Site:
    """The app over HTTP; each ``person`` keeps the cookie the server issued them."""

    base: str
    http: aiohttp.ClientSession
    app: web.Application
    people: CookieSessions = field(default_factory=CookieSessions)

    @property
    def state(self) -> AppState:
        return self.app[STATE]

    async def call(self, path: str, body: dict[str, Any], person: str | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
        async with self.http.post(self.base + path, json=body, headers={
                **self.people.headers(person), **(headers or {})}) as response:
            self.people.remember(person, response)
            return response.status, await response.json(), response.headers

    async def ask(self, question: str, person: str | None = None, **kw: Any) -> dict[str, Any]:
        status, body, _ = await self.call("/api/ask", {"question": question}, person, **kw)
        assert status == 200, body
        return body

    async def press(self, action: str, person: str | None = None, **kw: Any) -> dict[str, Any]:
        status, body, _ = await self.call("/api/action", {"action": action}, person, **kw)
        assert status == 200, body
        return body

    async def sign_up(self, person: str, phone: str, name: str = "王小明",
                      **kw: Any) -> dict[str, Any]:
        """The whole flow by buttons and typing (the waiting list when full): the last reply."""
        picked = await self.press(f"signup:pick:{SESSION_A}", person, **kw)
        if any(a["id"] == f"waitlist:join:{SESSION_A}" for a in picked["actions"]):
            await self.press(f"waitlist:join:{SESSION_A}", person, **kw)
        await self.press("signup:consent:yes", person, **kw)
        await self.ask(name, person, **kw)
        await self.ask(phone, person, **kw)
        return await self.press("signup:confirm", person, **kw)


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    base = Settings(knowledge_dir=ROOT / "knowledge", data_dir=tmp_path / "data", host="127.0.0.1",
                    port=0, telegram_token=None)
    return replace(base, **overrides)


async def _serve(config: Settings) -> AsyncIterator[Site]:
    async with serve(create_app(config, shipped_engine())) as (base, app), \
            aiohttp.ClientSession() as http:
        yield Site(base, http, app)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async for running in _serve(settings(tmp_path, rate_limit_per_minute=0)):
        yield running


def booked(reply: dict[str, Any]) -> bool:
    return "报名成功" in reply["answer"] or "已为您登记候补" in reply["answer"]


# --------------------------------------------------------------------------- the session


async def test_the_server_issues_the_session_in_an_httponly_cookie(site: Site) -> None:
    async with site.http.get(site.base + "/") as page:
        cookie = page.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age" not in cookie and "expires" not in cookie.lower()  # a session cookie
    value = cookie.split(";")[0].partition("=")[2]
    session_id = value.partition(".")[0]
    assert len(session_id) >= 22  # ≥ 128 random bits, base64
    # The same cookie is kept (no new one); a forged or chosen one is replaced.
    async with site.http.get(site.base + "/", headers={"Cookie": f"{COOKIE}={value}"}) as again:
        assert "Set-Cookie" not in again.headers
    for forged in ("victim", f"{session_id}.AAAAAAAAAAAAAAAAAAAAAA", session_id):
        async with site.http.get(site.base + "/", headers={"Cookie": f"{COOKIE}={forged}"}) as r:
            assert r.headers["Set-Cookie"].split(";")[0] != f"{COOKIE}={forged}"


async def test_a_client_chosen_session_string_is_ignored(site: Site) -> None:
    """Made-up session ids in the body (what the script used) are not sessions."""
    await site.press(f"signup:pick:{SESSION_A}", "me")
    await site.press("signup:consent:yes", "me")
    me = site.people.user_key("me").partition(":")[2]
    # Someone else, naming my session in the body, does not land in my sign-up.
    status, body, _ = await site.call("/api/ask", {"question": "李雷", "session": me})
    assert status == 200 and body["kind"] != "signup"
    assert (await site.state.store.get_flow(f"web:{me}")).step == "name"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- seats and scripts


async def test_one_place_per_mobile_number_per_session(site: Site) -> None:
    first = await site.sign_up("a", "13912340005")
    assert booked(first)
    for person in ("b", "c", "d"):  # new sessions, same number
        again = await site.sign_up(person, "139 1234 0005")
        assert "这个手机号码已经报名了这个场次" in again["answer"] and not booked(again)
    rows = await site.state.store.export_rows(SESSION_A)
    assert [(b.phone, b.status) for b in rows] == [("13912340005", "booked")]


async def test_the_database_refuses_a_second_place_for_one_number(tmp_path: Path) -> None:
    """Enforced by a unique index, whoever writes (another process, a race)."""
    import sqlite3

    async with await Store.open(tmp_path / "bot.sqlite3") as store:
        await store.book(session_id="s1", capacity=5, user_key="web:a", name="甲",
                         phone="13912340005", lang="zh", institution="机构", session_start=NOW,
                         now=NOW)
    db = sqlite3.connect(tmp_path / "bot.sqlite3")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO bookings (code, session_id, user_key, name, phone, status, "
                   "created_at, updated_at) VALUES ('ZZZZZZ', 's1', 'web:b', '乙', '13912340005', "
                   "'waiting', 'x', 'x')")
    db.close()


async def test_one_address_gets_at_most_three_sign_ups_a_day(site: Site) -> None:
    replies = [await site.sign_up(f"p{i}", f"1391234{i:04d}") for i in range(6)]
    assert [booked(r) for r in replies] == [True, True, True, False, False, False]
    assert "今天从这个网络报名的次数已经达到上限" in replies[3]["answer"]
    assert len(await site.state.store.export_rows(SESSION_A)) == 3


async def test_behind_a_trusted_proxy_each_forwarded_address_counts(tmp_path: Path) -> None:
    config = settings(tmp_path, rate_limit_per_minute=0, trusted_proxies="127.0.0.1",
                      signups_per_client_per_day=1)
    async for site in _serve(config):
        one = {"X-Forwarded-For": "203.0.113.7"}
        two = {"X-Forwarded-For": "198.51.100.1, 203.0.113.8"}  # the proxy appends the peer
        assert booked(await site.sign_up("a", "13912340001", headers=one))
        assert not booked(await site.sign_up("b", "13912340002", headers=one))
        assert booked(await site.sign_up("c", "13912340003", headers=two))
        spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}  # left part: client's choice
        assert not booked(await site.sign_up("d", "13912340004", headers=spoofed))


async def test_an_untrusted_peer_cannot_spoof_its_address(tmp_path: Path) -> None:
    async for site in _serve(settings(tmp_path, rate_limit_per_minute=0,
                                      signups_per_client_per_day=1)):
        assert booked(await site.sign_up("a", "13912340001",
                                         headers={"X-Forwarded-For": "203.0.113.1"}))
        assert not booked(await site.sign_up("b", "13912340002",
                                             headers={"X-Forwarded-For": "203.0.113.2"}))


async def test_too_many_api_requests_get_a_429_with_retry_after(tmp_path: Path) -> None:
    async for site in _serve(settings(tmp_path, rate_limit_per_minute=5)):
        statuses = []
        for _ in range(7):
            status, body, headers = await site.call("/api/ask", {"question": "品博会什么时候举办"},
                                                    headers={"Accept-Language": "en-GB,en"})
            statuses.append(status)
        assert statuses == [200] * 5 + [429] * 2
        assert body["error"] == "rate_limited" and body["retry_after"] >= 1
        assert headers["Retry-After"] == str(body["retry_after"])
        assert "wait" in body["message"]  # the browser's language (the body is not read)
        async with site.http.get(site.base + "/") as page:  # the page itself is not limited
            assert page.status == 200


# --------------------------------------------------------------------------- one person, in order


async def test_a_press_and_a_typed_name_at_once_never_lose_the_sign_up(tmp_path: Path) -> None:
    async for site in _serve(settings(tmp_path, rate_limit_per_minute=0,
                                      signups_per_client_per_day=0)):
        await _race(site)


async def _race(site: Site) -> None:
    for i in range(20):
        person = f"racer{i}"
        await site.ask("你好", person)  # gets a session
        # The press that starts the flow and typed questions arriving while it is handled.
        await asyncio.gather(site.press(f"signup:pick:{SESSION_A}", person),
                             *(_later(k * 0.0005, site.ask("品博会什么时候举办", person))
                               for k in range(10)))
        await site.press("signup:consent:yes", person)
        await site.ask("赵一曼", person)
        await site.ask(f"1390000{i:04d}", person)
        assert booked(await site.press("signup:confirm", person)), i
    assert site.state.recorder is not None
    await site.state.recorder.flush()
    assert not [m for m in await site.state.store.misses() if "赵一曼" in m.question]


async def _later(seconds: float, call: Any) -> Any:
    """Spread concurrent requests over a few milliseconds (not a timing assertion)."""
    await asyncio.sleep(seconds)
    return await call


async def test_concurrent_polls_hand_each_message_out_once(site: Site) -> None:
    async with site.http.get(site.base + "/api/messages") as first:
        site.people.remember("me", first)
    key = site.people.user_key("me")
    for i in range(10):
        await site.state.store.enqueue(key, Draft("promoted", f"message {i}"), NOW)

    async def poll() -> list[str]:
        async with site.http.get(site.base + "/api/messages",
                                 headers=site.people.headers("me")) as response:
            return [m["answer"] for m in (await response.json())["messages"]]

    handed = [m for batch in await asyncio.gather(*(poll() for _ in range(10))) for m in batch]
    assert sorted(handed) == [f"message {i}" for i in range(10)]


async def test_confirm_pressed_again_says_the_booking_stands(site: Site) -> None:
    done = await site.sign_up("me", "13912340009")
    assert booked(done)
    code = done["answer"].split("预约码：")[1].split()[0]
    again = await site.press("signup:confirm", "me")
    assert "报名已经成功" in again["answer"] and code in again["answer"]
    assert "失效" not in again["answer"]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("raw", [b'{"question": "\\ud800"}', b'{"question": "x\\udfffy"}',
                                 b'{"action": "\\ud800"}', b'{"question": "a", "lang": "\\ud800"}'])
async def test_a_lone_surrogate_is_a_400(site: Site, raw: bytes) -> None:
    path = "/api/action" if b"action" in raw else "/api/ask"
    async with site.http.post(site.base + path, data=raw,
                              headers={"Content-Type": "application/json"}) as response:
        body = await response.json()
        assert response.status == 400 and body["error"] == "invalid_field" and body["message"]


async def test_control_characters_and_phone_numbers_never_reach_review(site: Site,
                                                                       tmp_path: Path) -> None:
    questions = ["明天\x1b[2J\x1b]0;owned\x07天气\u202e怎么样", "我的电话139.1234.0005天气",
                 "电话139/1234/0006天气", "电话139_1234_0007天气", "电话一三九一二三四零零零八天气",
                 "电话 １３９１２３４０００９ 天气"]
    for question in questions:
        await site.ask(question, "asker")
    assert site.state.recorder is not None
    await site.state.recorder.flush()
    kept = [m.question for m in await site.state.store.misses()]
    assert len(kept) == len(questions)
    text = "\n".join(kept)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    for digits in ("1391234", "一三九一二三四", "１３９１２３４"):
        assert digits not in text
    out = subprocess.run([sys.executable, str(ROOT / "run_bot.py"), "review", "--list", "--json"],
                         capture_output=True, text=True, timeout=60,
                         env={"DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout and "\\u001b" not in out.stdout


def test_redact_blanks_numbers_however_written() -> None:
    for text in ("139.1234.0005", "139/1234/0005", "139_1234_0005", "一三九一二三四零零零五",
                 "幺三九 幺二三四 零零零五", "139-1234-0005", "13912340005"):
        assert redact(f"电话{text}好吗") == "电话[number]好吗", text
    assert redact("2022年9月28日") == "2022年9月28日"  # dates stay


async def test_misses_are_capped_per_asker(site: Site) -> None:
    for i in range(45):
        await site.ask(f"天气怎么样 {i}", "flooder")
    assert site.state.recorder is not None
    await site.state.recorder.flush()
    assert len(await site.state.store.misses()) == 30


async def test_misses_older_than_the_retention_period_are_purged(tmp_path: Path) -> None:
    from bot.conversation import Asker
    from bot.insights import Recorder

    async with await Store.open(tmp_path / "bot.sqlite3") as store:
        clock = [NOW]
        recorder = Recorder(store, b"s" * 32, clock=lambda: clock[0], retention_days=180)
        engine = shipped_engine()
        reply = engine.ask("火星上的天气怎么样")
        await recorder.question(Asker("web", "a"), "火星上的天气怎么样", reply, 0.001, engine)
        await recorder.flush()
        clock[0] = NOW + timedelta(days=179)
        assert await recorder.purge() == 0 and len(await store.misses()) == 1
        clock[0] = NOW + timedelta(days=181)
        assert await recorder.purge() == 1 and await store.misses() == []


def test_a_yaml_alias_bomb_is_refused_with_file_and_line(tmp_path: Path) -> None:

    knowledge = tmp_path / "knowledge"
    copy_knowledge(knowledge)
    bomb = ('a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
            'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n'
            'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n'
            'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n')
    (knowledge / "synonyms.yaml").write_text(bomb, encoding="utf-8")
    out = subprocess.run([sys.executable, str(ROOT / "run_bot.py"), "validate", str(knowledge)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "synonyms.yaml:2" in out.stdout and "alias" in out.stdout


# --------------------------------------------------------------------------- staff


async def test_staff_list_suspicious_bookings_and_release_one(site: Site, tmp_path: Path) -> None:
    config = replace(site.state.settings)
    codes = []
    for i in range(3):  # one address (under the limit), a run of numbers
        reply = await site.sign_up(f"s{i}", f"1391234{i:04d}")
        codes.append(reply["answer"].split("预约码：")[1].split()[0])
    env = {"DATA_DIR": str(config.data_dir), "PATH": "/usr/bin:/bin"}
    listed = subprocess.run([sys.executable, str(ROOT / "run_bot.py"), "bookings", "list",
                             "--suspicious"], capture_output=True, text=True, timeout=60, env=env)
    assert listed.returncode == 0, listed.stderr
    for code in codes:
        assert code in listed.stdout
    assert "139****0001" in listed.stdout and "13912340001" not in listed.stdout
    cancel = subprocess.run([sys.executable, str(ROOT / "run_bot.py"), "bookings", "cancel",
                             codes[0]], capture_output=True, text=True, timeout=60, env=env)
    assert cancel.returncode == 0, cancel.stderr
    rows = {b.code: b.status for b in await site.state.store.export_rows(SESSION_A)}
    assert rows[codes[0]] == "cancelled"
    [told] = await site.state.store.pending_messages(datetime(2100, 1, 1, tzinfo=TZ),
                                                     key=site.people.user_key("s0"))
    assert codes[0] in told.text and "工作人员取消" in told.text  # fetched by the chat's poll
    unknown = subprocess.run([sys.executable, str(ROOT / "run_bot.py"), "bookings", "cancel",
                              "NOPE22"], capture_output=True, text=True, timeout=60, env=env)
    assert unknown.returncode == 1


# --------------------------------------------------------------------------- Telegram webhook


async def test_webhook_body_cut_short_is_4xx_not_an_error(fake: Any, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """Telegram's secret is right, but the body stops short of its Content-Length and the
    sender closes its side: a 400 if it still listens, and no unexpected error logged."""
    from tests.telegram_helpers import running

    secret = "s3cret_Token-1"
    async with running(fake, shipped_engine(), tmp_path, telegram_webhook_secret=secret,
                       telegram_webhook_url="https://bot.example.org/telegram/hook") as (_, port):
        with caplog.at_level(logging.ERROR):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /telegram/hook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         b"application/json\r\nX-Telegram-Bot-Api-Secret-Token: " + secret.encode()
                         + b"\r\nContent-Length: 80\r\n\r\n{\"update_id\": 1, ")
            await writer.drain()
            writer.write_eof()
            head = (await asyncio.wait_for(reader.read(), 10)).split(b"\r\n", 1)[0]
            writer.close()
        assert head == b"" or b" 400 " in head + b" ", head
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_webhook_bad_bytes_and_deep_json_are_4xx(fake: Any, tmp_path: Path) -> None:
    from tests.telegram_helpers import running

    secret = "s3cret_Token-1"
    async with running(fake, shipped_engine(), tmp_path, telegram_webhook_secret=secret,
                       telegram_webhook_url="https://bot.example.org/telegram/hook") as (_, port):
        url = f"http://127.0.0.1:{port}/telegram/hook"
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = b"{}"
        writer.write(b"POST /telegram/hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     b"\r\nX-Telegram-Bot-Api-Secret-Token: s3cret\xff\xfe\r\nContent-Length: 2"
                     b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        head = (await reader.read()).split(b"\r\n", 1)[0]
        writer.close()
        assert b" 403 " in head + b" ", head
        deep = b'{"update_id": 1, "message": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001
        async with aiohttp.ClientSession() as http, http.post(url, data=deep, headers={
                "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}) as r:
            assert r.status == 400
            assert (await r.json())["error"] == "invalid_update"
