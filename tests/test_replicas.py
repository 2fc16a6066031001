"""Two replicas of the bot — two ``python run_bot.py`` processes on their own ports and data
folders — over one PostgreSQL database (a fresh schema of ``TEST_DATABASE_URL``; skipped
without it, failing under CI), as behind a load balancer that alternates between them.

Each citizen's requests alternate between the replicas (the session cookie one issued is good
at the other: the signing key is in the database). 200 sign-ups confirmed at once for a
20-seat session give exactly 20 seats and 180 waiting places, one per person, each attempt
answered; a reminder due while both run is handed out once; ``kill -9`` of one replica during
a burst loses no booking a citizen was shown, and the other replica keeps serving.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import zlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from bot.kb import TZ
from bot.limits import SignedSessions
from bot.store import Store
from tests.fake_bot_api import FakeBotApi
from tests.open_day_helpers import SESSION_A, SESSION_B, knowledge_copy
from tests.paths import ROOT
from tests.pg_helpers import fresh_schema
from tests.web_helpers import CookieSessions

SESSION_C = "example-c-2027-05-18"  # moved to tomorrow below: its reminder is due at once
CODE = re.compile(r"(?:预约码|候补编号)[：\s]*([A-Z0-9]{6})")
SERVING = re.compile(r"Serving .* on (http://[\d.]+:\d+)/")


class Replica:
    """One ``python run_bot.py`` process."""

    def __init__(self, process: asyncio.subprocess.Process, base: str) -> None:
        self.process, self.base = process, base

    @classmethod
    async def start(cls, env: dict[str, str], cwd: Path) -> Replica:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "run_bot.py"), cwd=cwd, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        assert process.stdout is not None
        seen = []
        while True:
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
            seen.append(line)
            assert line, "".join(seen)
            match = SERVING.search(line)
            if match:
                break
        asyncio.get_running_loop().create_task(_drain(process.stdout))
        return cls(process, match.group(1))

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


class Balancer:
    """Sends each request of a person to the next replica in turn."""

    def __init__(self, http: aiohttp.ClientSession, replicas: list[Replica]) -> None:
        self.http, self.replicas = http, replicas
        self.people = CookieSessions()
        self.turn: dict[str, int] = {}

    async def call(self, person: str, path: str, body: dict[str, Any],
                   replica: int | None = None) -> tuple[int, dict[str, Any]]:
        if replica is None:
            replica = self.turn.get(person, zlib.crc32(person.encode()) % 2)
            self.turn[person] = replica + 1
        base = self.replicas[replica % len(self.replicas)].base
        async with self.http.post(base + path, json=body,
                                  headers=self.people.headers(person)) as response:
            self.people.remember(person, response)
            return response.status, await response.json()

    async def step(self, person: str, path: str, body: dict[str, Any],
                   replica: int | None = None) -> dict[str, Any]:
        status, reply = await self.call(person, path, body, replica)
        assert status == 200, reply
        return reply

    async def until_confirm(self, person: str, session: str) -> None:
        """Every sign-up step but the last: pick, consent, name, mobile number."""
        await self.step(person, "/api/action", {"action": f"signup:pick:{session}"})
        await self.step(person, "/api/action", {"action": "signup:consent:yes"})
        await self.step(person, "/api/ask", {"question": "王小明"})
        reply = await self.step(person, "/api/ask", {"question": phone_of(person)})
        assert any(a["id"] == "signup:confirm" for a in reply["actions"]), reply


def phone_of(person: str) -> str:
    return f"139{zlib.crc32(person.encode()) % 10**8:08d}"


def tomorrow_session(text: str) -> str:
    day = (datetime.now(TZ) + timedelta(days=1)).date().isoformat()
    return text.replace("2027-05-18T", f"{day}T")


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[str, dict[str, str], Path]]:
    async with fresh_schema() as url:
        knowledge = knowledge_copy(tmp_path, tomorrow_session)
        env = {**os.environ, "DATABASE_URL": url, "KNOWLEDGE_DIR": str(knowledge), "PORT": "0",
               "HOST": "127.0.0.1", "RATE_LIMIT_PER_MINUTE": "0",
               "SIGNUPS_PER_CLIENT_PER_DAY": "0", "REMINDER_TIME": "00:00",
               "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING"}
        for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_URL"):
            env.pop(name, None)
        yield url, env, tmp_path


async def test_two_replicas_share_seats_sessions_reminders_and_survive_a_kill(
        cluster: tuple[str, dict[str, str], Path]) -> None:
    url, env, root = cluster
    # A booking for tomorrow's session, made yesterday: its reminder is due the moment the
    # replicas start, and both of them plan it.
    async with await Store.open(url) as store:
        key = await store.shared_secret("web.secret", datetime.now(TZ))
        session_id, cookie = SignedSessions(key).issue()
        start = datetime.now(TZ) + timedelta(days=1)
        await store.book(session_id=SESSION_C, capacity=30, user_key=f"web:{session_id}",
                         name="李四", phone="13700000000", lang="zh", institution="示例C",
                         session_start=start, now=datetime.now(TZ) - timedelta(days=1))
    replicas = []
    for i in range(2):
        (root / f"r{i}").mkdir()
        replicas.append(await Replica.start({**env, "DATA_DIR": str(root / f"r{i}" / "data")},
                                            root / f"r{i}"))
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            lb = Balancer(http, replicas)
            for replica in replicas:
                async with http.get(replica.base + "/healthz") as response:
                    health = await response.json()
                    assert response.status == 200 and health["store"] == "postgresql"
                    assert health["store_ok"] is True

            # the reminder: both replicas poll for it at once, several times
            lb.people.cookies["reminded"] = cookie
            got = []
            for _ in range(20):
                polls = await asyncio.gather(*(
                    http.get(r.base + "/api/messages", headers=lb.people.headers("reminded"))
                    for r in replicas for _ in range(3)))
                for response in polls:
                    got += (await response.json())["messages"]
                    response.release()
                if got:
                    break
                await asyncio.sleep(0.5)
            assert [m["kind"] for m in got] == ["reminder"]

            # 200 people reach the confirm step (alternating), then all confirm at once
            people = [f"p{i}" for i in range(200)]
            gate = asyncio.Semaphore(40)

            async def prepare(person: str, session: str = SESSION_A) -> None:
                async with gate:
                    await lb.until_confirm(person, session)

            await asyncio.gather(*(prepare(p) for p in people))
            finals = await asyncio.gather(*(
                lb.step(p, "/api/action", {"action": "signup:confirm"}, replica=i % 2)
                for i, p in enumerate(people)))
            assert all(CODE.search(f["answer"]) for f in finals), [f["answer"] for f in finals
                                                                  if not CODE.search(f["answer"])]
            booked = [f for f in finals if "报名成功" in f["answer"]]
            assert len(booked) == 20 and len(finals) - len(booked) == 180

            # a burst for session B; one replica is killed (-9) in the middle of it
            burst = [f"q{i}" for i in range(60)]
            await asyncio.gather(*(prepare(p, SESSION_B) for p in burst))

            async def confirm(i: int, person: str) -> tuple[str, str | None]:
                try:
                    status, reply = await lb.call(person, "/api/action",
                                                  {"action": "signup:confirm"}, replica=i % 2)
                except aiohttp.ClientError:
                    return person, None  # the replica died under it: no answer, no promise
                assert status == 200, reply
                match = CODE.search(reply["answer"])
                return person, match.group(1) if match else None

            tasks = [asyncio.ensure_future(confirm(i, p)) for i, p in enumerate(burst)]
            await asyncio.sleep(0.05)
            replicas[1].process.send_signal(signal.SIGKILL)
            await replicas[1].process.wait()
            answers = await asyncio.gather(*tasks)
            shown = {code for _, code in answers if code}
            # the citizens whose replica died try again at the survivor: their flow is there
            for person, code in answers:
                if code is None:
                    reply = await lb.step(person, "/api/action", {"action": "signup:confirm"},
                                          replica=0)
                    assert CODE.search(reply["answer"]), reply  # booked now, or "already booked"
            async with http.get(replicas[0].base + "/healthz") as response:
                assert response.status == 200
    finally:
        for replica in replicas:
            await replica.stop()

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT session_id, user_key, phone, status, code FROM bookings "
                                "WHERE status IN ('booked', 'waiting')")
        reminders = await conn.fetchval("SELECT COUNT(*) FROM outbox WHERE kind = 'reminder'")
    finally:
        await conn.close()
    a = [r for r in rows if r["session_id"] == SESSION_A]
    assert sum(r["status"] == "booked" for r in a) == 20
    assert sum(r["status"] == "waiting" for r in a) == 180
    assert len({r["user_key"] for r in a}) == len({r["phone"] for r in a}) == 200
    b = [r for r in rows if r["session_id"] == SESSION_B]
    assert shown <= {r["code"] for r in b}  # every booking a citizen was shown is kept
    assert len(b) == len(burst) and sum(r["status"] == "booked" for r in b) == 15
    assert reminders == 1


WEBHOOK = "https://bot.example.org/telegram/hook"
SECRET = "replica_Secret-1"


async def test_telegram_webhook_updates_alternating_between_replicas_sign_one_up(
        cluster: tuple[str, dict[str, str], Path]) -> None:
    url, env, root = cluster
    async with FakeBotApi() as fake:
        env = {**env, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.base_url,
               "TELEGRAM_WEBHOOK_URL": WEBHOOK, "TELEGRAM_WEBHOOK_SECRET": SECRET}
        replicas = []
        for i in range(2):
            (root / f"t{i}").mkdir()
            replicas.append(await Replica.start(
                {**env, "DATA_DIR": str(root / f"t{i}" / "data")}, root / f"t{i}"))
        try:
            [hook] = fake.of("setWebhook")  # one replica set it; the other found it done
            assert hook.params["url"] == WEBHOOK and hook.params["secret_token"] == SECRET
            assert fake.polls == 0
            update_ids = iter(range(9000, 10**6))
            turn = iter(range(10**6))
            me = 4242

            async with aiohttp.ClientSession() as http:
                async def send(body: dict[str, Any]) -> Any:
                    before = len(fake.sent(me))
                    replica = replicas[next(turn) % 2]
                    async with http.post(replica.base + "/telegram/hook",
                                         json={"update_id": next(update_ids), **body},
                                         headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                                         ) as response:
                        assert response.status == 200
                    return (await fake.wait_sent(1, chat_id=me, after=before, timeout=20))[-1]

                def message(text: str, command: bool = False) -> dict[str, Any]:
                    entities = ([{"type": "bot_command", "offset": 0, "length": len(text)}]
                                if command else None)
                    return {"message": fake.message_body(text, user_id=me, entities=entities)}

                def press(data: str) -> dict[str, Any]:
                    return {"callback_query": {
                        "id": str(next(update_ids)), "chat_instance": "ci", "data": data,
                        "from": {"id": me, "is_bot": False, "first_name": "Me",
                                 "language_code": "zh-hans"},
                        "message": {"message_id": next(update_ids), "date": 0, "text": "…",
                                    "chat": {"id": me, "type": "private"},
                                    "from": fake.bot_user}}}

                listed = await send(message("/signup", command=True))
                assert f"signup:pick:{SESSION_A}" in [d for _, d in listed.buttons()]
                consent = await send(press(f"signup:pick:{SESSION_A}"))
                assert "是否同意并继续" in consent.text
                ask_name = await send(press("signup:consent:yes"))
                assert "请输入参观人的姓名" in ask_name.text
                ask_phone = await send(message("王小明"))
                assert "请输入手机号码" in ask_phone.text
                confirm = await send(message("13812345678"))
                assert "signup:confirm" in [d for _, d in confirm.buttons()], confirm.text
                done = await send(press("signup:confirm"))
                assert "报名成功" in done.text
        finally:
            for replica in replicas:
                await replica.stop()
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT session_id, user_key, status FROM bookings")
        flows = await conn.fetchval("SELECT COUNT(*) FROM dialogues")
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [(SESSION_A, f"telegram:{me}", "booked")]
    assert flows == 0
