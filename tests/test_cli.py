"""The command line as staff and the scorer use it: real processes, real pipes."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.channels import cli
from bot.kb import TZ, load_knowledge
from bot.settings import Settings
from tests.paths import ROOT, SHARED
from tests.web_helpers import serve


def run(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "run_bot.py", *args], cwd=ROOT, input=stdin,
                          capture_output=True, env={**os.environ, **(env or {})}, timeout=60)


def test_ask_prints_answer_and_links_for_a_person() -> None:
    out = run("ask", "中国驰名商标有多少件").stdout.decode()
    assert "152" in out and "链接" in out and "https://" in out


def test_ask_json_has_the_documented_fields() -> None:
    reply = json.loads(run("ask", "--json", "中国品牌日是哪天").stdout)
    assert {"status", "answer", "entry_id", "score", "links", "suggestions"} <= reply.keys()
    assert reply["status"] == "answer" and reply["entry_id"] == "expo-china-brand-day"


def test_batch_mode_answers_every_line_in_order_even_bad_ones() -> None:
    lines = ["中国品牌日是哪天", "", "品博会\x00\x07什么时候举办", "问" * 100_000,
             "When is China Brand Day?"]
    data = "\n".join(lines).encode() + b"\n\xff\xfe broken utf-8 \xc3\n"
    result = run("ask", "--json", "-", stdin=data)
    assert result.returncode == 0, result.stderr.decode()
    replies = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(replies) == 6
    assert replies[0]["entry_id"] == "expo-china-brand-day"
    assert replies[1]["status"] == "fallback" and replies[1]["answer"]
    assert replies[2]["entry_id"] == "expo-date"
    assert replies[3]["status"] == "fallback" and "太长" in replies[3]["answer"]
    assert replies[4]["lang"] == "en" and replies[4]["entry_id"] == "expo-china-brand-day"
    assert replies[5]["status"] in ("fallback", "clarify")
    assert b"Traceback" not in result.stderr


def test_knowledge_from_the_environment_variable(tmp_path) -> None:  # noqa: ANN001
    result = run("ask", "品博会", env={"KNOWLEDGE_DIR": str(tmp_path / "missing")})
    assert result.returncode == 2 and b"knowledge folder not found" in result.stderr
    assert b"Traceback" not in result.stderr


def test_chat_is_a_conversation(tmp_path: Path) -> None:
    result = run("chat", stdin="品博会\n1\n谢谢\n".encode(), env={"DATA_DIR": str(tmp_path)})
    out = result.stdout.decode()
    assert result.returncode == 0
    assert "1." in out and "12月" in out and "不客气" in out


def test_development_questions_score_at_least_95_percent() -> None:
    scorer = SHARED / "eval" / "score.py"
    if not scorer.exists():
        if os.environ.get("CI"):
            pytest.fail("../shared/eval/score.py is missing in CI")
        pytest.skip("the shared evaluation set is not beside the repository")
    result = subprocess.run([sys.executable, str(scorer), str(SHARED / "eval" / "dev.yaml"),
                             "--min", "0.95"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]


# --------------------------------------------------------------------------- the console chat

SIGNUP = ["我的预约",     # a sign-up command typed in the chat: "no bookings", and its buttons
          "1",            # 报名开放日: the sessions
          "1",            # the first session: the consent notice
          "1",            # 同意并继续: the name
          "王小明", "13812345678",
          "1",            # 确认报名
          "退出"]


def test_chat_signs_up_for_the_open_day_and_quits(tmp_path: Path) -> None:
    result = run("chat", stdin=("\n".join(SIGNUP) + "\n").encode(),
                 env={"DATA_DIR": str(tmp_path / "data")})
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert "您目前没有预约" in out and "可以报名的场次" in out and "是否同意并继续" in out
    assert "请输入参观人的姓名" in out and "请输入手机号码" in out and "参观人：王小明" in out
    code = re.search(r"预约码：([A-Z0-9]{6})", out)
    assert code, out[-2000:]
    assert out.rstrip().endswith("Goodbye!")
    assert (tmp_path / "data" / "bot.sqlite3").is_file()

    again = run("chat", stdin="我的预约\nexit\n".encode(), env={"DATA_DIR": str(tmp_path / "data")})
    assert code.group(1) in again.stdout.decode()  # the booking is in the database
    assert again.returncode == 0


@pytest.mark.parametrize("word", ["quit", "exit", "退出", "QUIT"])
def test_chat_ends_on_a_quit_word_without_treating_it_as_a_question(word: str,
                                                                     tmp_path: Path) -> None:
    result = run("chat", stdin=f"{word}\n中国品牌日是哪天\n".encode(),
                 env={"DATA_DIR": str(tmp_path)})
    out = result.stdout.decode()
    assert result.returncode == 0 and "Goodbye" in out
    assert "5月10日" not in out and "抱歉" not in out  # nothing asked after the quit word


def test_chat_answers_each_question_in_its_own_language(tmp_path: Path) -> None:
    result = run("chat", stdin="中国品牌日是哪天\nWhen is China Brand Day?\n中国品牌日是哪天\n".encode(),
                 env={"DATA_DIR": str(tmp_path)})
    out = result.stdout.decode()
    chinese, english, chinese_again = out.split("> ")[1:4]
    assert "5月10日" in chinese and "China Brand Day" not in chinese
    assert "10 May" in english and "链接" not in english
    assert "5月10日" in chinese_again


def test_chat_offers_none_of_these_after_did_you_mean(tmp_path: Path) -> None:
    result = run("chat", stdin="品博会\n".encode(), env={"DATA_DIR": str(tmp_path)})
    out = result.stdout.decode()
    options = re.findall(r"^  (\d+)\. (.+)$", out, re.M)
    assert options and options[-1][1] == "都不是"
    picked = run("chat", stdin=f"品博会\n{options[-1][0]}\n".encode(), env={"DATA_DIR": str(tmp_path)})
    assert "换个说法" in picked.stdout.decode()


# --------------------------------------------------------------------------- staff commands

def test_validate_does_not_warn_that_the_reports_dates_have_passed() -> None:
    result = run("validate")
    assert result.returncode == 0
    assert "has passed" not in result.stdout.decode()


def test_validate_warns_when_a_date_marked_upcoming_has_passed(tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    expo = knowledge / "expo.yaml"
    text = expo.read_text(encoding="utf-8")
    marked = text.replace("      - date: 2022-12\n", "      - date: 2022-12\n        upcoming: true\n", 1)
    assert marked != text
    expo.write_text(marked, encoding="utf-8")
    result = run("validate", str(knowledge))
    out = result.stdout.decode()
    assert result.returncode == 0, out
    assert "expo-date dates" in out and "2022-12-01 has passed" in out
    assert out.count("has passed") == 1


def test_stats_shows_each_entrys_question_and_review_times_are_beijing_time(
        tmp_path: Path) -> None:
    import asyncio

    from tests.insights_helpers import run_cli, running, settings_for

    async def ask() -> None:
        async with running(settings_for(tmp_path, ROOT / "knowledge")) as bot:
            await bot.ask("中国品牌日是哪天", session="s1")
            await bot.ask("明天青岛天气怎么样", session="s1")

    asyncio.run(ask())
    data = tmp_path / "data"
    stats = run_cli("stats", data_dir=data)
    assert stats.returncode == 0, stats.stderr
    first = load_knowledge(ROOT / "knowledge").by_id["expo-china-brand-day"].questions.zh[0]
    assert f"expo-china-brand-day（{first}）: 1" in stats.stdout
    assert "python run_bot.py review" in stats.stdout

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "KNOWLEDGE_"))}
    listed = subprocess.run([sys.executable, "run_bot.py", "review", "--list"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60,
                            env={**env, "DATA_DIR": str(data), "TZ": "America/New_York"})
    shown = re.search(r"最近一次：(\d{4}-\d\d-\d\d \d\d:\d\d)", listed.stdout)
    assert shown, listed.stdout + listed.stderr
    at = datetime.strptime(shown.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=TZ)
    assert abs(datetime.now(TZ) - at) < timedelta(minutes=5)  # Beijing time, not New York's


# The same questions asked of `ask --json` and of POST /api/ask: an open-day answer (the
# sign-up button and 👍/👎), a plain answer (👍/👎), a "did you mean" and a fallback (none).
BOTH_WAYS = ["检验检测机构开放日是干啥的", "中国品牌日是哪天", "品博会", "明天青岛会下雨吗",
             "Is there an open day at the testing labs?"]


async def test_ask_json_shows_the_same_buttons_as_the_web_api() -> None:
    result = run("ask", "--json", "-", stdin="\n".join(BOTH_WAYS).encode() + b"\n")
    printed = [json.loads(line) for line in result.stdout.decode().splitlines()]
    async with serve() as (base, _), aiohttp.ClientSession() as session:
        served = []
        for question in BOTH_WAYS:
            async with session.post(f"{base}/api/ask", json={"question": question}) as response:
                served.append(await response.json())
    assert [p["actions"] for p in printed] == [s["actions"] for s in served]
    assert [p["status"] for p in printed] == [s["status"] for s in served]
    ids = [[a["id"] for a in p["actions"]] for p in printed]
    assert ids[0] == ["signup", "fb:up:open-day", "fb:down:open-day"]
    assert ids[1][-2:] == ["fb:up:expo-china-brand-day", "fb:down:expo-china-brand-day"]
    assert "signup" in ids[4]


def test_a_channel_adds_its_own_sub_command(capsys: pytest.CaptureFixture[str]) -> None:
    """A channel module (WeChat's menu, next) registers a command with its options in one
    call; it is listed in the help and runs like the built-in ones."""
    @cli.command("demo-menu", help="print the demo menu", arguments=lambda p: p.add_argument(
        "--dry-run", action="store_true"))
    def _demo(args: argparse.Namespace, settings: Settings) -> int:
        print(f"dry run: {args.dry_run}")
        return 0

    try:
        assert cli.main(["demo-menu", "--dry-run"]) == 0
        assert "dry run: True" in capsys.readouterr().out
        assert "demo-menu" in cli.build_parser().format_help()
    finally:
        cli._COMMANDS.pop("demo-menu")
        cli._ADDED.pop("demo-menu")
