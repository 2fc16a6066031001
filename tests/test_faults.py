"""Faults are reported, not hidden: a damaged database, a data folder that cannot be used, a
full disk, and deleted personal data lingering in SQLite's write-ahead log.

The server runs as ``python run_bot.py`` in a child process where a real fault is needed: a
full disk is the kernel's own file-size limit (RLIMIT_FSIZE) on the server process, so every
write past it fails with EFBIG exactly as on a full disk (SQLite reports SQLITE_FULL).
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.dialogue import Dialogue
from bot.kb import TZ
from bot.store import DB_NAME, Store
from tests.paths import ROOT
from tests.test_abuse import _serve, settings
from tests.web_helpers import CookieSessions

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=TZ)
PHONE = "13912340005"


def env_for(data_dir: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("TELEGRAM_", "KNOWLEDGE_", "DATA_", "RATE_", "SIGNUPS_"))}
    return {**keep, "DATA_DIR": str(data_dir), "PORT": "0", "HOST": "127.0.0.1",
            "PYTHONDONTWRITEBYTECODE": "1", "RATE_LIMIT_PER_MINUTE": "0",
            "SIGNUPS_PER_CLIENT_PER_DAY": "0"}


def start_fails(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run_bot.py")], capture_output=True,
                          text=True, timeout=60, env=env_for(data_dir), cwd=data_dir.parent)


# --------------------------------------------------------------------------- start-up


async def test_a_damaged_database_stops_start_up_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with await Store.open(data / DB_NAME) as store:
        for i in range(200):
            await store.log_admin("test", "fill", "x" * 200, NOW + timedelta(seconds=i))
    path = data / DB_NAME
    raw = bytearray(path.read_bytes())
    raw[4096 * 3:4096 * 3 + 600] = b"\xa5" * 600  # a page of the table, overwritten
    path.write_bytes(bytes(raw))
    done = start_fails(data)
    assert done.returncode == 2, done.stderr
    assert "Serving" not in done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert [line for line in lines if "damaged" in line], done.stderr
    assert "Traceback" not in done.stderr
    assert path.read_bytes() == bytes(raw)  # nothing was written into the damaged file


async def test_a_data_folder_that_cannot_be_used_stops_start_up(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("a file where the folder should be", encoding="utf-8")
    done = start_fails(data)
    assert done.returncode == 2
    assert "Serving" not in done.stdout  # printed only once everything has started
    assert "Cannot start" in done.stderr and "Traceback" not in done.stderr


# --------------------------------------------------------------------------- a full disk


@contextmanager
def server_with_a_file_size_limit(data: Path, limit: int) -> Iterator[tuple[str, Any]]:
    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    process = subprocess.Popen([sys.executable, str(ROOT / "run_bot.py")], env=env_for(data),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=limited, cwd=data.parent)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, (line, process.stderr.read() if process.stderr else "")
        yield f"http://127.0.0.1:{match.group(1)}", process
    finally:
        process.terminate()
        process.wait(timeout=20)


async def test_a_full_disk_gives_503_for_sign_ups_and_still_answers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with await Store.open(data / DB_NAME):
        pass  # created and migrated with no limit; the server then may not grow any file
    with server_with_a_file_size_limit(data, 48 * 1024) as (base, process):
        people = CookieSessions()
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/healthz") as health:
                assert health.status == 200
            refused = None
            for i in range(200):  # each sign-up step writes until the WAL cannot grow
                async with http.post(base + "/api/action", json={"action": "signup"},
                                     headers=people.headers(f"p{i}")) as response:
                    people.remember(f"p{i}", response)
                    if response.status != 200:
                        refused = (response.status, await response.json())
                        break
            assert refused is not None, "the disk never filled"
            status, body = refused
            assert status == 503 and body["error"] == "storage_unavailable"
            assert body["message"].startswith("暂时无法报名，请稍后再试")
            async with http.get(base + "/healthz") as health:
                assert health.status == 503
                assert (await health.json())["status"] == "unavailable"
            for _ in range(5):
                async with http.post(base + "/api/ask", json={"question": "品博会什么时候举办"},
                                     headers=people.headers("p0")) as answer:
                    assert answer.status == 200
                    assert (await answer.json())["entry_id"] == "expo-date"
            for _ in range(5):
                async with http.post(base + "/api/action", json={"action": "signup"},
                                     headers=people.headers("p1")) as again:
                    assert again.status == 503
        process.terminate()
        _, err = process.communicate(timeout=20)
    faults = [line for line in err.splitlines() if "cannot be written" in line]
    assert len(faults) == 1, err  # one line a minute, not a traceback per request
    assert "Traceback" not in err


# --------------------------------------------------------------------------- deleted data


@pytest.fixture(autouse=True)
def before_the_example_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Dialogue, "now", lambda self: NOW)


def files_of(data: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data.glob(DB_NAME + "*")))


async def test_forget_leaves_no_trace_of_the_number_in_the_database_files(tmp_path: Path) -> None:
    config = settings(tmp_path, rate_limit_per_minute=0)
    async for site in _serve(config):
        done = await site.sign_up("me", PHONE, name="赵一曼")
        assert "报名成功" in done["answer"]
        assert PHONE.encode() in files_of(config.data_dir)
        await site.press("forget:yes", "me")
        everything = files_of(config.data_dir)
        assert PHONE.encode() not in everything and "赵一曼".encode() not in everything
        wal = config.data_dir / (DB_NAME + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0


async def test_the_retention_purge_leaves_no_trace_in_the_wal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with await Store.open(data / DB_NAME) as store:
        await store.book(session_id="old", capacity=5, user_key="web:x", name="赵一曼",
                         phone=PHONE, lang="zh", institution="机构", session_start=NOW, now=NOW)
        assert PHONE.encode() in files_of(data)
        assert await store.purge_bookings(NOW + timedelta(days=31)) == 1
        assert PHONE.encode() not in files_of(data)


async def test_healthz_says_ok_when_the_database_answers_and_writes(tmp_path: Path) -> None:
    async for site in _serve(settings(tmp_path)):
        async with site.http.get(site.base + "/healthz") as response:
            assert response.status == 200 and (await response.json())["status"] == "ok"
