#!/usr/bin/env python3
"""Replies per second and latency of the two network channels, measured from outside.

Telegram: 50 simulated users ask 2,000 questions (real phrasings of the knowledge) through the
fake Bot API (``tests/fake_bot_api.py``) to the bot running in another process; latency is the
time from putting an update into the fake API to the bot's ``sendMessage`` for that chat
arriving there. API: ``POST /api/ask`` from 50 concurrent clients to ``python run_bot.py``
(no token: the default web deployment), latency measured by the client. WeChat: 50 followers
post signed, AES-encrypted messages to ``POST /wechat`` (safe mode) and decrypt and check each
passive reply (``tests/wechat_side.py``); latency measured by the follower, crypto included.

Each channel is measured twice: *saturated* (every user asks again as soon as their answer
arrives: the most replies a second the server manages; the latency is then mostly the queue
of 50 waiting users) and *paced* (the same questions sent at 200 a second in total: the
latency a citizen sees at the target load). The targets: capacity >= 200 replies/s, and
p99 < 50 ms at 200/s.

The Telegram runs lift two limits the deployed bot keeps: ``AIORateLimiter``'s 30 messages a
second (Telegram's own flood limit, so no real bot sends 200 a second without paid broadcasts)
and the flood gate's 20 messages per user a minute. One more run shows the bot exactly as
deployed (``python run_bot.py`` with a token): 12 questions per user, at most 30 replies/s.

Run from the repository root: ``.venv/bin/python benchmarks/bench_channels.py``
(``--skip-deployed`` saves its 20 s). It prints figures and whether each target is met; it is
not a test and never fails on a missed target.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bot.kb import load_knowledge  # noqa: E402
from tests.fake_bot_api import Call, FakeBotApi  # noqa: E402
from tests.fake_wechat_api import FakeWeChatApi  # noqa: E402
from tests.wechat_side import AES_KEY, APP_ID, APP_SECRET, TOKEN, Follower  # noqa: E402

USERS = 50
QUESTIONS = 2_000
DEPLOYED_PER_USER = 12  # under the flood gate's 20 messages per user a minute
TARGET_RPS = 200.0
TARGET_P99_MS = 50.0
SEED = 20220928


@dataclass
class Result:
    name: str
    latencies: list[float]  # seconds
    wall: float
    cpu: float | None = None  # CPU seconds the server process used meanwhile

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall

    @property
    def p99(self) -> float:
        ms = sorted(self.latencies)
        return ms[min(len(ms) - 1, int(len(ms) * 0.99))] * 1000

    def report(self) -> None:
        ms = sorted(x * 1000 for x in self.latencies)
        cpu = "" if self.cpu is None else f", server CPU {self.cpu / len(ms) * 1000:.2f} ms/reply"
        print(f"{self.name}: {len(ms)} replies in {self.wall:.2f} s = {self.rps:.0f} replies/s, "
              f"p50 {statistics.median(ms):.1f} ms, p99 {self.p99:.1f} ms, max {ms[-1]:.1f} ms"
              f"{cpu}", flush=True)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measured(name: str, pid: int, run: Awaitable[tuple[list[float], float]]) -> Result:
    before = cpu_seconds(pid)
    latencies, wall = await run
    after = cpu_seconds(pid)
    cpu = None if before is None or after is None else after - before
    return Result(name, latencies, wall, cpu)


def distinct_questions() -> list[str]:
    """Every phrasing of the knowledge (Chinese and English), shuffled."""
    knowledge = load_knowledge(ROOT / "knowledge")
    pool = [q for e in knowledge.entries for q in (*e.questions.zh, *e.questions.en)]
    random.Random(SEED).shuffle(pool)
    return pool


def questions(count: int) -> list[str]:
    pool = distinct_questions()
    return [pool[i % len(pool)] for i in range(count)]


# ---------------------------------------------------------------------- servers under test


@contextlib.asynccontextmanager
async def run_bot_process(env: dict[str, str]) -> AsyncIterator[tuple[int, int]]:
    """``python run_bot.py`` on a free port; yields the port and the process id.

    The per-address limits are lifted: the 50 simulated users all come from 127.0.0.1, and the
    figures are of the answering, not of the limiter (bench_abuse.py measures that)."""
    port = free_port()
    full = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_PER_MINUTE": "0", "SIGNUPS_PER_CLIENT_PER_DAY": "0", **env}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run_bot.py"), env=full, cwd=env.get("DATA_DIR"),
        stdout=asyncio.subprocess.DEVNULL)
    try:
        await wait_listening(port)
        yield port, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 10)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {port} after {timeout} s")
            await asyncio.sleep(0.1)


def serve_unlimited(token: str, base_url: str, data_dir: str, tuning: dict[str, int],
                    ready: object, stop: object) -> None:
    """Child process: the whole app, with Telegram's and the flood gate's limits lifted."""
    import logging

    from aiohttp import web

    from bot.app import configure_logging, create_app
    from bot.channels.telegram import BOT
    from bot.engine import Engine
    from bot.settings import Settings

    configure_logging("WARNING")
    logging.getLogger("bot.telegram").setLevel(logging.WARNING)

    async def main() -> None:
        settings = Settings(telegram_token=token, telegram_api_base_url=base_url,
                            data_dir=Path(data_dir))
        app = create_app(settings, Engine(load_knowledge(ROOT / "knowledge")))
        bot = app[BOT]
        bot.messages_per_second = 0  # no overall cap
        bot.flood.limit = 10**9
        for name, value in tuning.items():
            setattr(bot, name, value)
        runner = web.AppRunner(app)
        await runner.setup()
        ready.set()  # type: ignore[attr-defined]
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)  # type: ignore[attr-defined]
        await runner.cleanup()

    asyncio.run(main())


@contextlib.asynccontextmanager
async def unlimited_bot(fake: FakeBotApi, data_dir: str,
                        args: argparse.Namespace) -> AsyncIterator[int]:
    tuning = {name: getattr(args, name) for name in ("concurrency", "connections")
              if getattr(args, name)}
    spawn = multiprocessing.get_context("spawn")
    ready, stop = spawn.Event(), spawn.Event()
    child = spawn.Process(target=serve_unlimited,
                          args=(fake.token, fake.base_url, data_dir, tuning, ready, stop))
    child.start()
    loop = asyncio.get_running_loop()
    try:
        if not await loop.run_in_executor(None, ready.wait, 60):
            raise TimeoutError("the bot did not start")
        assert child.pid is not None
        yield child.pid
    finally:
        stop.set()
        await loop.run_in_executor(None, child.join, 15)


# ---------------------------------------------------------------------- the runs


def schedule(asked: list[str], senders: int, rate: float | None) -> list[tuple[int, float | None]]:
    """(sender, when) for every question: round robin over senders; ``when`` is None in a
    closed loop (each sender asks once its previous answer has arrived), else the time after
    the start at which the question is sent, evenly spaced at ``rate`` a second."""
    return [(n % senders, None if rate is None else n / rate) for n in range(len(asked))]


async def drive(asked: list[str], senders: int, rate: float | None,
                ask: Callable[[int, str], Awaitable[float]]) -> tuple[list[float], float]:
    """Run ``ask(sender, text) → latency`` over the schedule; returns latencies and wall time."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    plan = schedule(asked, senders, rate)
    started = loop.time()

    async def paced(sender: int, text: str, when: float) -> None:
        await asyncio.sleep(max(0.0, started + when - loop.time()))
        latencies.append(await ask(sender, text))

    async def closed(sender: int) -> None:
        for n, (who, _) in enumerate(plan):
            if who == sender:
                latencies.append(await ask(sender, asked[n]))

    if rate is None:
        await asyncio.gather(*(closed(s) for s in range(senders)))
    else:
        await asyncio.gather(*(paced(s, asked[n], when or 0.0)
                               for n, (s, when) in enumerate(plan)))
    return latencies, loop.time() - started


async def telegram_run(name: str, fake: FakeBotApi, pid: int, asked: list[str], users: int,
                       rate: float | None = None) -> Result:
    """Users 1000… ask through the fake API; a chat's replies come in order (the bot keeps
    each chat's updates in order), so the oldest open question of the chat is the one answered."""
    loop = asyncio.get_running_loop()
    open_questions: dict[int, deque[asyncio.Future[Call]]] = defaultdict(deque)

    def on_call(call: Call) -> None:
        if call.method == "sendMessage" and open_questions[call.chat_id]:
            open_questions[call.chat_id].popleft().set_result(call)

    async def ask(sender: int, text: str) -> float:
        user_id = 1000 + sender
        answered = loop.create_future()
        open_questions[user_id].append(answered)
        update_id = await fake.message(text, user_id=user_id)
        reply = await asyncio.wait_for(answered, 60)
        return reply.at - fake.injected_at[update_id]

    fake.listeners.append(on_call)
    try:
        return await measured(name, pid, drive(asked, users, rate, ask))
    finally:
        fake.listeners.remove(on_call)


async def api_run(name: str, port: int, pid: int, asked: list[str], clients: int,
                  rate: float | None = None) -> Result:
    url = f"http://127.0.0.1:{port}/api/ask"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as http:
        async def ask(sender: int, text: str) -> float:
            began = time.perf_counter()
            async with http.post(url, json={"question": text, "session": f"bench{sender}"}) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"/api/ask answered {r.status}")
            return time.perf_counter() - began

        await drive(asked[:200], clients, None, ask)  # warm-up: connections, first calls
        return await measured(name, pid, drive(asked, clients, rate, ask))


async def wechat_run(name: str, port: int, pid: int, asked: list[str], followers: int,
                     rate: float | None = None) -> Result:
    """Followers post signed and AES-encrypted messages to ``POST /wechat`` (safe mode), as the
    platform does; each passive reply is checked and decrypted (``tests/wechat_side.py``)."""
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=followers)) as http:
        people = [Follower(http, base, f"oBench{n:022d}", encoding_aes_key=AES_KEY)
                  for n in range(followers)]

        async def ask(sender: int, text: str) -> float:
            began = time.perf_counter()
            if await people[sender].text(text) is None:
                raise RuntimeError("POST /wechat gave no passive reply")
            return time.perf_counter() - began

        await drive(asked[:200], followers, None, ask)  # warm-up
        return await measured(name, pid, drive(asked, followers, rate, ask))


async def wechat_rows(args: argparse.Namespace, asked: list[str], rate: float,
                      data_dir: str) -> None:
    """The WeChat row: ``python run_bot.py`` in safe mode, saturated and paced."""
    async with FakeWeChatApi() as platform:
        env = {"DATA_DIR": data_dir, "TELEGRAM_BOT_TOKEN": "", "WECHAT_TOKEN": TOKEN,
               "WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": APP_SECRET,
               "WECHAT_AES_KEY": AES_KEY, "WECHAT_API_BASE_URL": platform.base_url}
        async with run_bot_process(env) as (port, pid):
            saturated = await wechat_run("POST /wechat (signed, AES), saturated", port, pid,
                                         asked, args.users)
            await asyncio.sleep(1)
            paced = await wechat_run(f"POST /wechat (signed, AES), paced at {rate:.0f}/s", port,
                                     pid, asked, args.users, rate)
    saturated.report()
    paced.report()
    verdict("POST /wechat", saturated, paced, rate)


def verdict(channel: str, saturated: Result, paced: Result, rate: float) -> None:
    capacity = saturated.rps
    p99 = paced.p99
    print(f"  => {channel}: capacity {capacity:.0f} replies/s "
          f"({'met' if capacity >= TARGET_RPS else 'NOT met'}: >= {TARGET_RPS:.0f}); "
          f"p99 at {rate:.0f}/s {p99:.1f} ms "
          f"({'met' if p99 < TARGET_P99_MS else 'NOT met'}: < {TARGET_P99_MS:.0f} ms)",
          flush=True)


async def main(args: argparse.Namespace) -> None:
    asked = questions(args.questions)
    warm = distinct_questions()
    rate = args.rate
    print(f"{args.users} users/clients, {len(asked)} questions, {os.cpu_count()} CPUs; "
          f"the server runs in its own process. 'saturated': each user asks as soon as the "
          f"previous answer arrives; 'paced': questions sent at {rate:.0f}/s in total.",
          flush=True)
    with tempfile.TemporaryDirectory() as data_dir:
        if args.only_wechat:
            await wechat_rows(args, asked, rate, data_dir)
            return
        if not args.skip_deployed:
            async with FakeBotApi() as fake:
                env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.base_url,
                       "DATA_DIR": data_dir}
                async with run_bot_process(env) as (_port, pid):
                    deployed = asked[:args.users * DEPLOYED_PER_USER]
                    await telegram_run("warm-up", fake, pid, deployed[:args.users], args.users)
                    await asyncio.sleep(1.1)  # let the 30/s limiter's bucket fill again
                    result = await telegram_run(
                        "Telegram as deployed (30 messages/s limiter), saturated", fake, pid,
                        deployed, args.users)
            result.report()
        async with FakeBotApi() as fake, unlimited_bot(fake, data_dir, args) as pid:
            await telegram_run("warm-up", fake, pid, warm, args.users)
            saturated = await telegram_run("Telegram, limits lifted, saturated", fake, pid,
                                           asked, args.users)
            await asyncio.sleep(1)
            paced = await telegram_run(f"Telegram, limits lifted, paced at {rate:.0f}/s", fake,
                                       pid, asked, args.users, rate)
        saturated.report()
        paced.report()
        verdict("Telegram", saturated, paced, rate)
        if not args.skip_wechat:
            await wechat_rows(args, asked, rate, data_dir)
        if args.skip_api:
            return
        web_only = {"DATA_DIR": data_dir, "TELEGRAM_BOT_TOKEN": ""}
        async with run_bot_process(web_only) as (port, pid):
            saturated = await api_run("POST /api/ask, saturated", port, pid, asked, args.users)
            await asyncio.sleep(1)
            paced = await api_run(f"POST /api/ask, paced at {rate:.0f}/s", port, pid, asked,
                                  args.users, rate)
        saturated.report()
        paced.report()
        verdict("POST /api/ask", saturated, paced, rate)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--questions", type=int, default=QUESTIONS)
    parser.add_argument("--rate", type=float, default=TARGET_RPS,
                        help="questions per second in the paced runs")
    parser.add_argument("--concurrency", type=int, help="override TelegramBot.concurrency")
    parser.add_argument("--connections", type=int, help="override TelegramBot.connections")
    parser.add_argument("--skip-deployed", action="store_true",
                        help="leave out the run at Telegram's 30 messages/s")
    parser.add_argument("--skip-api", action="store_true", help="leave out POST /api/ask")
    parser.add_argument("--skip-wechat", action="store_true", help="leave out POST /wechat")
    parser.add_argument("--only-wechat", action="store_true", help="only POST /wechat")
    asyncio.run(main(parser.parse_args()))
