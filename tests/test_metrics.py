"""Statistics and ``GET /metrics`` reflect a scripted sequence of questions exactly, and
nothing recorded identifies the person who asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.insights import gather_stats, stats_text
from tests.insights_helpers import (
    Client,
    all_text_in_database,
    knowledge_copy,
    run_cli,
    running,
    settings_for,
)
from tests.open_day_helpers import SESSION_A

ANSWERED = [("sess-secret-0001", "品博会什么时候举办", "expo-date"),
            ("sess-secret-0002", "中国品牌日是哪天", "expo-china-brand-day"),
            ("sess-secret-0003", "NQI平台服务了多少企业", "nqi-enterprises")]
CLARIFIED = [("sess-secret-0004", "品博会"), ("sess-secret-0005", "中国质量奖")]
FALLBACK = ("sess-secret-0006", "明天天气怎么样")
SESSIONS = [s for s, *_ in ANSWERED] + [s for s, _ in CLARIFIED] + [FALLBACK[0]]


def value(metrics: dict[Any, float], name: str, **labels: str) -> float:
    return metrics[(name, tuple(sorted(labels.items())))]


async def script(bot: Client) -> None:
    """3 answered, 2 "did you mean" (one then picked), 1 fallback, one 👍 and one 👎 (pressed
    twice: counted once)."""
    for session, question, entry in ANSWERED:
        reply = await bot.ask(question, session=session)
        assert reply["status"] == "answer" and reply["entry_id"] == entry, reply
        assert {"id": f"fb:up:{entry}", "label": "👍"} in reply["actions"]
        assert {"id": f"fb:down:{entry}", "label": "👎"} in reply["actions"]
    for session, question in CLARIFIED:
        reply = await bot.ask(question, session=session)
        assert reply["status"] == "clarify", reply
        assert not any(a["id"].startswith("fb:") for a in reply["actions"])
    assert (await bot.press("entry:expo-overview", session=CLARIFIED[0][0]))["status"] == "answer"
    session, question = FALLBACK
    reply = await bot.ask(question, session=session)
    assert reply["status"] == "fallback" and reply["actions"] == []
    up = await bot.press("fb:up:expo-date", session=ANSWERED[0][0])
    assert up == {**up, "status": "answer", "kind": "feedback", "answer": "谢谢您的反馈！"}
    for _ in range(2):
        down = await bot.press("fb:down:expo-china-brand-day", session=ANSWERED[1][0])
        assert down["kind"] == "feedback" and "改进" in down["answer"]


async def test_stats_and_metrics_count_a_scripted_sequence_exactly(tmp_path: Path) -> None:
    knowledge = knowledge_copy(tmp_path)
    settings = settings_for(tmp_path, knowledge)
    async with running(settings) as bot:
        before = await bot.metrics()
        assert value(before, "bot_questions_total", channel="web", outcome="answer") == 0
        await script(bot)
        metrics = await bot.metrics()
        assert value(metrics, "bot_questions_total", channel="web", outcome="answer") == 3
        assert value(metrics, "bot_questions_total", channel="web", outcome="clarify") == 2
        assert value(metrics, "bot_questions_total", channel="web", outcome="fallback") == 1
        assert value(metrics, "bot_answer_latency_seconds_count") == 6
        assert 0 < value(metrics, "bot_answer_latency_seconds_sum") < 6
        assert value(metrics, "bot_answer_latency_seconds_bucket", le="+Inf") == 6
        assert value(metrics, "bot_feedback_total", vote="up") == 1
        assert value(metrics, "bot_feedback_total", vote="down") == 1
        assert value(metrics, "bot_knowledge_reloads_total") == 0
        assert value(metrics, "bot_knowledge_reload_failures_total") == 0
        assert value(metrics, "bot_bookings_total", result="booked") == 0

        assert bot.state.recorder is not None
        await bot.state.recorder.flush()  # the server writes the counts every 2 s
        stats = await gather_stats(bot.state.store, 7)  # type: ignore[arg-type]
        text = await stats_text(bot.state.store, 7, "zh")  # type: ignore[arg-type]
        english = await stats_text(bot.state.store, 7, "en")  # type: ignore[arg-type]
    assert "提问 6 次：直接回答 3（50%），请市民选择 2（33%），没能回答 1（17%）" in text
    assert "expo-china-brand-day: 👍 0 / 👎 1" in text and "1次 明天天气怎么样" in text
    assert "Questions: 6 — answered 3 (50%), did-you-mean 2 (33%), not answered 1 (17%)" in english
    assert stats.questions == 6

    result = run_cli("--knowledge", str(knowledge), "stats", "--json", "--days", "7",
                     data_dir=settings.data_dir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["since"] <= data["until"] and len(data["per_day"]) == 1
    day = data["per_day"][0]
    assert day == {"day": data["until"], "questions": 6, "answered": 3, "clarified": 2,
                   "fallback": 1}
    assert {k: data[k] for k in ("days", "questions", "answered", "clarified", "fallback",
                                 "smalltalk", "share", "by_channel", "top_entries",
                                 "clarify_picks", "feedback", "bookings")} == {
        "days": 7, "questions": 6, "answered": 3, "clarified": 2, "fallback": 1, "smalltalk": 0,
        "share": {"answered": 0.5, "clarified": 0.3333, "fallback": 0.1667},
        "by_channel": {"web": 6},
        "top_entries": [{"entry_id": "expo-china-brand-day", "count": 1},
                        {"entry_id": "expo-date", "count": 1},
                        {"entry_id": "nqi-enterprises", "count": 1}],
        "clarify_picks": {"recorded": 2, "picked": 1, "none": 0},
        "feedback": [{"entry_id": "expo-china-brand-day", "up": 0, "down": 1},
                     {"entry_id": "expo-date", "up": 1, "down": 0}],
        "bookings": [],
    }
    assert data["unanswered"] == [{"count": 1, "askers": 1, "question": "明天天气怎么样",
                                   "examples": ["明天天气怎么样"]}]
    assert 0 < data["latency_ms"]["avg"] <= data["latency_ms"]["max"]
    person = run_cli("--knowledge", str(knowledge), "stats", "--lang", "en",
                     data_dir=settings.data_dir)
    assert "Questions: 6" in person.stdout and "Feedback per entry" in person.stdout

    # Nothing that identifies the askers was recorded: no session id, raw or with its channel.
    everything = all_text_in_database(settings.database)
    assert "明天天气怎么样" in everything and "expo-date" in everything
    for session in SESSIONS:
        assert session not in everything
    salt = (settings.data_dir / "insights.salt")
    assert salt.is_file() and oct(salt.stat().st_mode & 0o777) == "0o600"


async def test_sign_up_steps_are_not_questions_and_bookings_are_counted(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, knowledge_copy(tmp_path))
    me = "booker-secret-77"
    async with running(settings) as bot:
        await bot.press(f"signup:pick:{SESSION_A}", session=me)
        await bot.press("signup:consent:yes", session=me)
        await bot.ask("王小明", session=me)
        await bot.ask("13812345678", session=me)
        done = await bot.press("signup:confirm", session=me)
        assert "报名成功" in done["answer"]
        code = done["answer"].split("预约码：")[1].split()[0]
        metrics = await bot.metrics()
        assert value(metrics, "bot_bookings_total", result="booked") == 1
        assert value(metrics, "bot_questions_total", channel="web", outcome="answer") == 0
        assert value(metrics, "bot_answer_latency_seconds_count") == 0
        await bot.press(f"booking:cancel-yes:{code}", session=me)
        metrics = await bot.metrics()
        assert value(metrics, "bot_bookings_total", result="cancelled") == 1
        assert value(metrics, "bot_bookings_total", result="waiting") == 0
    everything = all_text_in_database(settings.database)
    assert "王小明" in everything  # in the booking (until the retention period ends)…
    import sqlite3

    raw = sqlite3.connect(settings.database)
    try:  # …but never among the recorded questions
        assert raw.execute("SELECT COUNT(*) FROM misses").fetchone()[0] == 0
        assert raw.execute("SELECT COALESCE(SUM(count), 0) FROM question_counts").fetchone()[0] == 0
    finally:
        raw.close()


async def test_each_app_has_its_own_counters(tmp_path: Path) -> None:
    knowledge = knowledge_copy(tmp_path)
    async with running(settings_for(tmp_path / "one", knowledge)) as one, \
            running(settings_for(tmp_path / "two", knowledge)) as two:
        await one.ask("品博会什么时候举办")  # anonymous: counted, not remembered
        await one.press("fb:up:expo-date")
        await one.press("fb:up:expo-date")  # anonymous presses cannot be told apart
        first, second = await one.metrics(), await two.metrics()
        assert value(first, "bot_questions_total", channel="web", outcome="answer") == 1
        assert value(first, "bot_feedback_total", vote="up") == 2
        assert value(second, "bot_questions_total", channel="web", outcome="answer") == 0
        assert one.state.metrics is not two.state.metrics
        async with one.http.get(f"{one.base}/metrics",
                                headers={"Accept": "application/openmetrics-text"}) as response:
            assert response.headers["Content-Type"].startswith("application/openmetrics-text")
            assert (await response.text()).rstrip().endswith("# EOF")
