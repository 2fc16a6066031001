#!/usr/bin/env python3
"""What a script can do to the web API, measured from outside against ``python run_bot.py``.

1. **Bookings one address makes in 10 s**: one client address runs complete sign-ups as fast
   as it can (a new session cookie and a new mobile number each time, the same name), against
   the default settings (``RATE_LIMIT_PER_MINUTE=60``, ``SIGNUPS_PER_CLIENT_PER_DAY=3``), and
   once with both limits off (what the database constraint alone allows).
2. **Sign-up latency under a junk flood**: 50 clients send questions nobody can answer (each one
   a miss kept for review) as fast as they can, with the request limit off (as if they came
   from 50 addresses), while citizens sign up one after the other for 12 s; the six-step
   sign-up's p50 / p99, next to the same with no flood, with a paced flood (200 junk
   questions a second in all) and with the default limits behind a trusted proxy.
3. **Hostile inputs**: malformed HTTP, bodies and fields; how many got a 4xx (the rest: 5xx or
   a dropped connection).

Run from the repository root: ``.venv/bin/python benchmarks/bench_abuse.py``. It prints figures;
it is not a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bot.channels.web import COOKIE  # noqa: E402
from bot.dialogue import open_day_of  # noqa: E402
from bot.kb import TZ, load_knowledge  # noqa: E402

FLOODERS = 50
SIGNUPS_MEASURED = 30  # at least this many sign-ups measured, one after the other …
MEASURE_SECONDS = 12.0  # … and for at least this long


@contextlib.asynccontextmanager
async def server(**env: str) -> AsyncIterator[str]:
    """``python run_bot.py`` in a fresh data folder; yields its base URL."""
    with tempfile.TemporaryDirectory(prefix="bench-abuse-") as data:
        keep = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "run_bot.py"), stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, cwd=data,
            env={**keep, "DATA_DIR": data, "PORT": "0", "LOG_LEVEL": "WARNING", **env})
        try:
            assert process.stdout is not None
            line = (await process.stdout.readline()).decode()
            match = re.search(r"http://[\d.]+:(\d+)/", line)
            if not match:
                raise SystemExit(f"the server did not start: {line!r}")
            yield f"http://127.0.0.1:{match.group(1)}"
        finally:
            process.terminate()
            await process.wait()


class Person:
    """One browser: keeps the session cookie the server issued."""

    def __init__(self, http: aiohttp.ClientSession, base: str, address: str = "") -> None:
        self.http, self.base, self.cookie, self.address = http, base, "", address

    async def call(self, path: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
        headers = {"Cookie": f"{COOKIE}={self.cookie}"} if self.cookie else {}
        if self.address:  # as a trusted reverse proxy would say
            headers["X-Forwarded-For"] = self.address
        async with self.http.post(self.base + path, json=body, headers=headers) as response:
            morsel = response.cookies.get(COOKIE)
            if morsel is not None and not self.cookie:
                self.cookie = morsel.value
            return response.status, await response.json()

    async def sign_up(self, session: str, phone: str) -> bool:
        """The six steps; True when it ended booked or on the waiting list."""
        steps = [("/api/action", {"action": f"signup:pick:{session}"}),
                 ("/api/action", {"action": f"waitlist:join:{session}"}),
                 ("/api/action", {"action": "signup:consent:yes"}),
                 ("/api/ask", {"question": "王小明"}), ("/api/ask", {"question": phone}),
                 ("/api/action", {"action": "signup:confirm"})]
        body: dict[str, Any] = {}
        for path, payload in steps:
            status, body = await self.call(path, payload)
            if status != 200:
                return False
        answer = str(body.get("answer", ""))
        return "预约码" in answer or "候补编号" in answer


def first_session() -> str:
    now = datetime.now(TZ)
    sessions = [s for s in open_day_of(load_knowledge(ROOT / "knowledge")).sessions
                if s.start > now]
    if not sessions:
        raise SystemExit("no upcoming open-day session in knowledge/open_day.yaml")
    return min(sessions, key=lambda s: s.start).id


async def bookings_in_10_s(session: str, **env: str) -> tuple[int, int]:
    """(complete sign-ups, requests refused with 429) by one address in 10 seconds."""
    async with server(**env) as base, aiohttp.ClientSession() as http:
        made = attempts = 0
        deadline = time.perf_counter() + 10.0
        while time.perf_counter() < deadline:
            attempts += 1
            if await Person(http, base).sign_up(session, f"139{attempts:08d}"):
                made += 1
        return made, attempts


async def signup_latency(session: str, flood: bool, limits: bool = False,
                         pace: float = 0.0) -> tuple[float, float, int]:
    """p50 and p99 (ms) of a whole sign-up, and the junk questions sent meanwhile. With
    ``limits``, the default settings behind a trusted proxy: each flooder is its own address
    (so each gets 60 requests a minute), each sign-up too. ``pace``: junk questions a second
    in all (0: as fast as the server answers)."""
    env = {"TRUSTED_PROXIES": "127.0.0.1"} if limits else {
        "RATE_LIMIT_PER_MINUTE": "0", "SIGNUPS_PER_CLIENT_PER_DAY": "0"}
    async with server(**env) as base, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=FLOODERS + 5)) as http:
        stop = asyncio.Event()
        junk = 0

        async def flooder(n: int) -> None:
            nonlocal junk
            person = Person(http, base, f"10.0.{n}.1")
            i = 0
            while not stop.is_set():
                i += 1
                await person.call("/api/ask", {"question": f"火星上的天气怎么样 {n} {i} xq{i * 7}"})
                junk += 1
                if pace:
                    await asyncio.sleep(FLOODERS / pace)

        tasks = [asyncio.create_task(flooder(n)) for n in range(FLOODERS)] if flood else []
        await asyncio.sleep(0.5 if flood else 0)
        times: list[float] = []
        until = time.perf_counter() + MEASURE_SECONDS
        i = 0
        while len(times) < SIGNUPS_MEASURED or time.perf_counter() < until:
            i += 1
            started = time.perf_counter()
            ok = await Person(http, base, f"10.1.{i}.1").sign_up(session, f"137{i:08d}")
            times.append((time.perf_counter() - started) * 1000)
            assert ok, "a sign-up failed"
        stop.set()
        await asyncio.gather(*tasks)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return statistics.median(times), p99, junk


HOSTILE_BODIES: list[tuple[str, bytes, str]] = [
    ("/api/ask", b'{"question": "\\ud800"}', "application/json"),
    ("/api/ask", b'{"question": "a\\udfffb"}', "application/json"),
    ("/api/action", b'{"action": "\\udbff"}', "application/json"),
    ("/api/ask", b"[" * 50_000 + b"]" * 50_000, "application/json"),
    ("/api/ask", b'{"q": ' * 5_000 + b"1" + b"}" * 5_000, "application/json"),
    ("/api/ask", b'{"question": "\xff\xfe"}', "application/json"),
    ("/api/ask", b"{not json", "application/json"),
    ("/api/ask", b"", "application/json"),
    ("/api/ask", b"null", "application/json"),
    ("/api/ask", b'"question"', "application/json"),
    ("/api/ask", b'{"question": 1e999}', "application/json"),
    ("/api/ask", b'{"question": NaN}', "application/json"),
    ("/api/ask", b'{"question": ["x"]}', "application/json"),
    ("/api/ask", b'{"question": "x", "lang": {"a": 1}}', "application/json"),
    ("/api/ask", b'{"question": "' + b"x" * 20_000 + b'"}', "application/json"),
    ("/api/ask", ('{"question": "' + "问" * 1001 + '"}').encode(), "application/json"),
    ("/api/ask", b'{"question": "x"}', "text/plain"),
    ("/api/ask", b"question=x", "application/x-www-form-urlencoded"),
    ("/api/action", b'{"action": "' + b"x" * 100 + b'"}', "application/json"),
    ("/api/action", b'{"action": "fb:down:\\u0000"}', "application/json"),
    ("/telegram/hook", b"{}", "application/json"),
]
RAW_REQUESTS: list[bytes] = [
    b"GET /static/../bot/app.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /static/%2e%2e%2fsettings.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 10_000 + b"\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
    b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked"
    b"\r\n\r\n0\r\n\r\n",
    b"BREW /api/ask HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS hello
    b"POST /telegram/hook HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: \xff\xfe\r\n"
    b"Content-Length: 2\r\nConnection: close\r\n\r\n{}",
    b"POST /api/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /api/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
]


async def raw_status(port: int, request: bytes) -> int | None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readline(), 5)
        match = re.match(rb"HTTP/1\.\d (\d{3})", head)
        return int(match.group(1)) if match else None
    except (TimeoutError, ConnectionError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def hostile() -> tuple[int, int, list[str]]:
    """(inputs tried, answered 4xx, what was not)."""
    async with server(RATE_LIMIT_PER_MINUTE="0") as base, aiohttp.ClientSession() as http:
        port = int(base.rsplit(":", 1)[1])
        results: list[tuple[str, int | None]] = []
        for path, body, kind in HOSTILE_BODIES:
            async with http.post(base + path, data=body, headers={"Content-Type": kind}) as r:
                results.append((f"{path} {body[:30]!r}", r.status))
        for request in RAW_REQUESTS:
            results.append((repr(request[:40]), await raw_status(port, request)))
    bad = [f"{what} → {status}" for what, status in results
           if status is None or not 400 <= status < 500]
    return len(results), len(results) - len(bad), bad


async def main() -> None:
    session = first_session()
    made, attempts = await bookings_in_10_s(session)
    print(f"one address, 10 s, default limits: {made} booking(s) in {attempts} attempt(s) "
          "(the others refused: 429 or the daily limit)")
    made, attempts = await bookings_in_10_s(session, RATE_LIMIT_PER_MINUTE="0",
                                            SIGNUPS_PER_CLIENT_PER_DAY="0")
    print(f"one address, 10 s, both limits off: {made} booking(s) (the database constraint "
          "alone: one per number and session)")
    p50, p99, _ = await signup_latency(session, flood=False)
    print(f"sign-up (6 steps), no flood: p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    p50, p99, junk = await signup_latency(session, flood=True, pace=200.0)
    print(f"sign-up (6 steps), {FLOODERS} clients sending 200 junk questions/s, no request "
          f"limit ({junk} questions): p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    p50, p99, junk = await signup_latency(session, flood=True)
    print(f"sign-up (6 steps), {FLOODERS} clients flooding junk as fast as answered, no request "
          f"limit ({junk} questions): p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    p50, p99, junk = await signup_latency(session, flood=True, limits=True)
    print(f"sign-up (6 steps), {FLOODERS} addresses flooding junk, default limits ({junk} "
          f"requests, most answered 429): p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    tried, refused, bad = await hostile()
    print(f"hostile inputs: {tried} tried, {refused} answered with a 4xx")
    for line in bad:
        print(f"  not a 4xx: {line}")


if __name__ == "__main__":
    asyncio.run(main())
