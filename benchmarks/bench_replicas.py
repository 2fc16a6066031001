#!/usr/bin/env python3
"""One SQLite process, one PostgreSQL process, two PostgreSQL replicas: what each serves.

For each deployment, from outside and in one run:

* web: 50 clients ask 2,000 questions by ``POST /api/ask`` as fast as they are answered,
  requests alternating between the replicas (what a round-robin balancer does);
* Telegram: 50 users ask 2,000 questions as webhook updates posted alternately to the
  replicas; replies arrive at the fake Bot API (``tests/fake_bot_api.py``), latency from the
  post to the ``sendMessage``. Telegram's own 30 messages/s and the per-person flood gate are
  lifted (as in ``bench_channels.py``): the figure is the bot's, not Telegram's limit;
* sign-up: 200 people sign up at once (50 at a time; six steps each, alternating between the
  replicas) for a 20-seat session: the whole sign-up's p50 / p99 and the slowest step's p99.

Each replica is a process of its own (the app with ``create_app``, as ``run_bot.py`` builds
it); PostgreSQL is ``--database-url`` or ``TEST_DATABASE_URL`` (a fresh schema per run).
Run from the repository root: ``.venv/bin/python benchmarks/bench_replicas.py``. It prints
figures; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import zlib
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import aiohttp  # noqa: E402
from bench_channels import Result, free_port, questions, wait_listening  # noqa: E402

from tests.fake_bot_api import Call, FakeBotApi  # noqa: E402
from tests.pg_helpers import fresh_schema  # noqa: E402

SECRET = "bench_Secret"
HOOK = "/telegram/hook"
SESSION = "example-a-2027-03-16"  # 20 seats


def serve(env: dict[str, str], port: int, ready: Any, stop: Any) -> None:
    """Child process: one replica (web + Telegram webhook), Telegram's limits lifted."""
    import logging

    from aiohttp import web

    from bot.app import configure_logging, create_app
    from bot.channels.telegram import BOT
    from bot.engine import Engine
    from bot.kb import load_knowledge
    from bot.settings import Settings

    configure_logging("WARNING")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    async def main() -> None:
        settings = Settings.from_env(env)
        app = create_app(settings, Engine(load_knowledge(settings.knowledge_dir)))
        bot = app[BOT]
        bot.messages_per_second = 0
        bot.flood.limit = 10**9
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        await runner.cleanup()

    asyncio.run(main())


@contextlib.asynccontextmanager
async def replicas(count: int, env: dict[str, str], root: Path) -> AsyncIterator[list[str]]:
    spawn = multiprocessing.get_context("spawn")
    children, bases, stops = [], [], []
    loop = asyncio.get_running_loop()
    try:
        for i in range(count):
            port = free_port()
            ready, stop = spawn.Event(), spawn.Event()
            data = root / f"replica{i}"
            child = spawn.Process(target=serve, args=(
                {**env, "DATA_DIR": str(data), "PORT": str(port)}, port, ready, stop))
            child.start()
            children.append(child)
            stops.append(stop)
            if not await loop.run_in_executor(None, ready.wait, 90):
                raise TimeoutError("a replica did not start")
            await wait_listening(port)
            bases.append(f"http://127.0.0.1:{port}")
        yield bases
    finally:
        for stop in stops:
            stop.set()
        for child in children:
            await loop.run_in_executor(None, child.join, 15)


async def closed_loop(senders: int, asked: list[str], ask: Any) -> tuple[list[float], float]:
    latencies: list[float] = []
    started = time.perf_counter()

    async def sender(s: int) -> None:
        for n in range(s, len(asked), senders):
            latencies.append(await ask(s, n, asked[n]))

    await asyncio.gather(*(sender(s) for s in range(senders)))
    return latencies, time.perf_counter() - started


async def web_run(name: str, bases: list[str], asked: list[str], clients: int) -> Result:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as http:
        async def ask(sender: int, n: int, text: str) -> float:
            began = time.perf_counter()
            async with http.post(bases[n % len(bases)] + "/api/ask",
                                 json={"question": text}) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"/api/ask answered {r.status}")
            return time.perf_counter() - began

        await closed_loop(clients, asked[:200], ask)  # warm-up
        latencies, wall = await closed_loop(clients, asked, ask)
    return Result(name, latencies, wall)


async def telegram_run(name: str, fake: FakeBotApi, bases: list[str], asked: list[str],
                       users: int) -> Result:
    loop = asyncio.get_running_loop()
    waiting: dict[int, deque[asyncio.Future[Call]]] = defaultdict(deque)

    def on_call(call: Call) -> None:
        if call.method == "sendMessage" and waiting[call.chat_id]:
            waiting[call.chat_id].popleft().set_result(call)

    update_ids = iter(range(1, 10**9))
    fake.listeners.append(on_call)
    try:
        async with aiohttp.ClientSession() as http:
            async def ask(sender: int, n: int, text: str) -> float:
                user = 1000 + sender
                answered = loop.create_future()
                waiting[user].append(answered)
                began = time.perf_counter()
                body = {"update_id": next(update_ids),
                        "message": fake.message_body(text, user_id=user)}
                async with http.post(bases[n % len(bases)] + HOOK, json=body, headers={
                        "X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
                    if r.status != 200:
                        raise RuntimeError(f"the webhook answered {r.status}")
                await asyncio.wait_for(answered, 60)
                return time.perf_counter() - began

            latencies, wall = await closed_loop(users, asked, ask)
    finally:
        fake.listeners.remove(on_call)
    return Result(name, latencies, wall)


async def signup_run(name: str, bases: list[str], people: int, at_once: int) -> None:
    gate = asyncio.Semaphore(at_once)
    totals: list[float] = []
    steps: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=at_once)) as http:
        async def person(i: int) -> None:
            cookie: dict[str, str] = {}
            phone = f"137{zlib.crc32(f'{name}{i}'.encode()) % 10**8:08d}"
            plan = [("/api/action", {"action": f"signup:pick:{SESSION}"}),
                    ("/api/action", {"action": "signup:consent:yes"}),
                    ("/api/ask", {"question": "王小明"}), ("/api/ask", {"question": phone}),
                    ("/api/action", {"action": "signup:confirm"})]
            async with gate:
                began = time.perf_counter()
                for n, (path, body) in enumerate(plan):
                    step = time.perf_counter()
                    async with http.post(bases[(i + n) % len(bases)] + path, json=body,
                                         headers=cookie) as r:
                        await r.read()
                        if r.status != 200:
                            raise RuntimeError(f"{path} answered {r.status}")
                        morsel = r.cookies.get("qqm_session")
                        if morsel is not None and not cookie:
                            cookie = {"Cookie": f"qqm_session={morsel.value}"}
                    steps.append(time.perf_counter() - step)
                totals.append(time.perf_counter() - began)

        started = time.perf_counter()
        await asyncio.gather(*(person(i) for i in range(people)))
        wall = time.perf_counter() - started
    ms = sorted(t * 1000 for t in totals)
    step_ms = sorted(t * 1000 for t in steps)
    print(f"{name}: {people} sign-ups ({at_once} at a time) in {wall:.2f} s; whole sign-up "
          f"p50 {statistics.median(ms):.0f} ms, p99 {ms[int(len(ms) * 0.99) - 1]:.0f} ms; "
          f"one step p99 {step_ms[int(len(step_ms) * 0.99) - 1]:.0f} ms", flush=True)


async def deployment(name: str, count: int, env: dict[str, str], fake: FakeBotApi,
                     asked: list[str], args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as scratch:
        async with replicas(count, env, Path(scratch)) as bases:
            web_run_result = await web_run(f"{name} · web", bases, asked, args.users)
            web_run_result.report()
            (await telegram_run(f"{name} · Telegram", fake, bases, asked, args.users)).report()
            await signup_run(f"{name} · sign-up", bases, args.people, args.users)


async def main(args: argparse.Namespace) -> None:
    url = args.database_url or os.environ.get("TEST_DATABASE_URL")
    if not url:
        sys.exit("set --database-url or TEST_DATABASE_URL to a PostgreSQL database")
    asked = questions(args.questions)
    async with FakeBotApi() as fake:
        base = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.base_url,
                "TELEGRAM_WEBHOOK_URL": "https://bot.example.org" + HOOK,
                "TELEGRAM_WEBHOOK_SECRET": SECRET, "RATE_LIMIT_PER_MINUTE": "0",
                "SIGNUPS_PER_CLIENT_PER_DAY": "0", "HOST": "127.0.0.1", "LOG_LEVEL": "WARNING",
                "KNOWLEDGE_DIR": str(ROOT / "knowledge")}
        await deployment("SQLite, 1 process", 1, base, fake, asked, args)
        for count, label in ((1, "PostgreSQL, 1 process"), (2, "PostgreSQL, 2 replicas")):
            async with fresh_schema(url) as scoped:
                await deployment(label, count, {**base, "DATABASE_URL": scoped}, fake, asked,
                                 args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=int, default=2_000)
    parser.add_argument("--people", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
