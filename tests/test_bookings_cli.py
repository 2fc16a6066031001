"""Staff commands as real processes: ``run_bot.py bookings list`` and ``bookings export``,
with DATA_DIR pointing at a temporary folder."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from bot.dialogue import Dialogue, open_day_of
from bot.kb import Knowledge
from bot.store import Store
from tests.open_day_helpers import SESSION_A, SESSION_B, TODAY
from tests.paths import ROOT


def run(data_dir: Path, *args: str, knowledge: Path | None = None
        ) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "INFO"}
    if knowledge is not None:
        env["KNOWLEDGE_DIR"] = str(knowledge)
    return subprocess.run([sys.executable, "run_bot.py", "bookings", *args], cwd=ROOT,
                          capture_output=True, env=env, timeout=60)


async def seed(data_dir: Path, knowledge: Knowledge) -> list[str]:
    """Three bookings of session A, one of B, one cancelled; also a booking of a session that
    is no longer listed."""
    open_day = open_day_of(knowledge)
    sessions = open_day.by_id
    codes = []
    async with await Store.open(data_dir / "bot.sqlite3") as store:
        for i, (session_id, name) in enumerate([(SESSION_A, "王小明"), (SESSION_A, "李雷"),
                                                 (SESSION_A, "Mary-Jane O'Neil"),
                                                 (SESSION_B, "韩梅梅")]):
            s = sessions[session_id]
            result = await store.book(session_id=s.id, capacity=s.capacity,
                                      user_key=f"telegram:{i}", name=name,
                                      phone=f"1381234{i:04d}", lang="zh",
                                      institution=s.institution.zh, session_start=s.start,
                                      now=TODAY)
            codes.append(result.booking.code)
        s = sessions[SESSION_A]
        gone = await store.book(session_id="old-session-2027-01-05", capacity=5,
                                user_key="web:abc", name="张三", phone="13900000000", lang="zh",
                                institution="示例检验检测机构Z", session_start=s.start, now=TODAY)
        codes.append(gone.booking.code)
        dialogue = Dialogue(store, lambda: open_day, clock=lambda: TODAY)
        [b] = await store.bookings_of("telegram:1")
        await store.cancel(b.code, user_key=None, capacity=s.capacity, now=TODAY,
                           message_for=dialogue._promoted_draft)
    return codes


async def test_bookings_list_shows_seats_taken_left_and_waiting(tmp_path: Path,
                                                                knowledge: Knowledge) -> None:
    await seed(tmp_path, knowledge)
    result = run(tmp_path, "list")
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "已约2/20，剩余18，候补0人" in lines[SESSION_A]
    assert "已约1/15，剩余14" in lines[SESSION_B]
    assert "场次已不在列表中" in lines["old-session-2027-01-05"]
    assert "admin cli:" in result.stderr.decode()  # who listed, logged
    raw = sqlite3.connect(tmp_path / "bot.sqlite3")
    assert raw.execute("SELECT action FROM admin_log").fetchall() == [("sessions",)]
    raw.close()


async def test_bookings_export_to_a_file_opens_in_excel_and_the_csv_module(
        tmp_path: Path, knowledge: Knowledge) -> None:
    codes = await seed(tmp_path, knowledge)
    target = tmp_path / "out" / "bookings.csv"
    target.parent.mkdir()
    result = run(tmp_path, "export", "-o", str(target))
    assert result.returncode == 0, result.stderr.decode()
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads the Chinese right
    with target.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["code", "session", "institution", "start", "name", "phone",
                             "status", "created"]
    by_code = {r["code"]: r for r in rows}
    assert set(by_code) == set(codes)
    first = by_code[codes[0]]
    assert (first["session"], first["institution"], first["start"], first["name"],
            first["phone"], first["status"], first["created"]) == (
        SESSION_A, "示例检验检测机构A", "2027-03-16 09:30", "王小明", "13812340000", "booked",
        "2026-11-24 10:00:00")
    assert by_code[codes[1]]["status"] == "cancelled"
    assert by_code[codes[2]]["name"] == "Mary-Jane O'Neil"
    assert by_code[codes[4]]["institution"] == "示例检验检测机构Z"  # no longer listed, still there
    stderr = result.stderr.decode()
    assert "Wrote 5 booking(s)" in stderr and "admin cli:" in stderr and "export" in stderr
    assert "13812340000" not in stderr and "王小明" not in stderr


async def test_bookings_export_one_session_to_stdout(tmp_path: Path, knowledge: Knowledge) -> None:
    await seed(tmp_path, knowledge)
    result = run(tmp_path, "export", "--session", SESSION_B)
    assert result.returncode == 0, result.stderr.decode()
    rows = list(csv.DictReader(io.StringIO(result.stdout.decode("utf-8-sig"), newline="")))
    assert [(r["session"], r["name"]) for r in rows] == [(SESSION_B, "韩梅梅")]
    unknown = run(tmp_path, "export", "--session", "no-such-session")
    assert unknown.returncode == 1 and b"no-such-session" in unknown.stderr


def test_commands_on_an_empty_data_dir_create_the_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    result = run(data_dir, "export")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == "\ufeffcode,session,institution,start,name,phone,status,created\r\n".encode()
    assert (data_dir / "bot.sqlite3").is_file()
    listing = run(data_dir, "list")
    assert listing.returncode == 0 and SESSION_A in listing.stdout.decode()


async def test_bookings_are_reachable_while_the_knowledge_is_broken(
        tmp_path: Path, knowledge: Knowledge) -> None:
    await seed(tmp_path, knowledge)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "tasks.yaml").write_text("entries: [", encoding="utf-8")
    result = run(tmp_path, "list", knowledge=broken)
    assert result.returncode == 0
    assert b"warning" in result.stderr and SESSION_A.encode() in result.stdout
