"""The review loop: a question the bot could not answer is recorded, staff add it as a
phrasing of an entry (comments and formatting of the YAML file survive), and the same
question is answered from then on — in the running server and in the command line."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

import bot.phrasings as phrasings
from bot.engine import Engine
from bot.insights import add_group_as_phrasing, mark_group_out_of_scope, review_groups
from bot.kb import KnowledgeError, Problem, load_knowledge
from bot.store import Store
from tests.insights_helpers import eventually, knowledge_copy, run_cli, running, settings_for
from tests.paths import ROOT

QUESTION = "品博会在哪个季节举办"  # about the expo's date, in words no phrasing uses


def added_lines(before: str, after: str) -> list[str]:
    """The lines ``after`` adds to ``before``; fails if it removes or changes any."""
    diff = list(difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True)))
    assert not [d for d in diff if d.startswith("- ")], "a line was removed or changed"
    return [d[2:] for d in diff if d.startswith("+ ")]


async def test_a_missed_question_is_added_by_review_and_then_answered_by_the_server(
        tmp_path: Path) -> None:
    knowledge = knowledge_copy(tmp_path)
    expo = knowledge / "expo.yaml"
    before = expo.read_text(encoding="utf-8")
    settings = settings_for(tmp_path, knowledge)
    async with running(settings) as bot:
        missed = await bot.ask(QUESTION, session="citizen-1")
        assert missed["status"] == "fallback"
        await bot.ask(QUESTION.replace("举办", "举行"), session="citizen-2")  # a near wording
        assert bot.state.recorder is not None
        await bot.state.recorder.flush()  # fallbacks are written in batches

        # What `review` does, in its own connection to the database (like the command line).
        async with await Store.open(settings.database) as store:
            engine = Engine(load_knowledge(knowledge))
            groups = await review_groups(store, engine)
            assert len(groups) == 1
            group = groups[0]
            assert group.count == 2 and group.askers == 2 and group.kinds == {"fallback": 2}
            assert group.question == QUESTION
            assert "品博会" in group.normalized and group.pinyin.startswith("pin bo hui")
            assert len(group.nearest) == 3
            result = await add_group_as_phrasing(store, knowledge, group, "expo-date")
            assert result.ok, result
            assert result.file == expo and result.field == "questions.zh"
            assert await review_groups(store, engine) == []  # dealt with

        after = expo.read_text(encoding="utf-8")
        assert added_lines(before, after) == [f"        - {QUESTION}\n"]
        assert after.startswith("# The 2022 first Qingdao International Quality Life Expo")

        async def answered() -> bool:
            reply = await bot.ask(QUESTION, session="citizen-3")
            return reply["status"] == "answer" and reply["entry_id"] == "expo-date"

        await eventually(answered, 5.0, "the added phrasing answered by the server")


def record(tmp_path: Path, questions: list[tuple[str, str]]) -> None:
    """Ask through the conversation of a real app (no server needed for the review CLI)."""
    import asyncio

    async def ask() -> None:
        async with running(settings_for(tmp_path, tmp_path / "knowledge")) as bot:
            for session, question in questions:
                await bot.ask(question, session=session)

    asyncio.run(ask())


def test_the_review_command_through_stdin(tmp_path: Path) -> None:
    knowledge = knowledge_copy(tmp_path)
    data = tmp_path / "data"
    before = (knowledge / "expo.yaml").read_text(encoding="utf-8")
    record(tmp_path, [("a", QUESTION), ("b", QUESTION), ("c", "明天天气怎么样")])

    listed = run_cli("--knowledge", str(knowledge), "review", "--list", "--json", data_dir=data)
    assert listed.returncode == 0, listed.stderr
    groups = json.loads(listed.stdout)
    assert [(g["question"], g["count"], g["askers"]) for g in groups] == [
        (QUESTION, 2, 2), ("明天天气怎么样", 1, 1)]
    assert all(len(g["nearest"]) == 3 and g["kinds"] == {"fallback": g["count"]} for g in groups)
    text = run_cli("--knowledge", str(knowledge), "review", "--list", data_dir=data)
    assert "[1/2]" in text.stdout and QUESTION in text.stdout and "最接近的条目" in text.stdout

    session = run_cli("--knowledge", str(knowledge), "review", data_dir=data,
                      stdin="x\na expo-date\no\n")
    assert session.returncode == 0, session.stderr
    out = session.stdout
    assert "请输入 a N、o、s 或 q" in out  # "x" is not a choice: asked again
    assert f"已把“{QUESTION}”加为 expo-date 的问法（expo.yaml，questions.zh）" in out
    assert "现在可以直接回答" in out
    assert "不属于本机器人的范围" in out
    assert "添加 1 个问法，1 组不属于范围，跳过 0 组" in out

    after = (knowledge / "expo.yaml").read_text(encoding="utf-8")
    assert added_lines(before, after) == [f"        - {QUESTION}\n"]
    assert "# The expo's exhibitor-recruitment task as one of the ten key tasks" in after

    empty = run_cli("--knowledge", str(knowledge), "review", "--list", "--json", data_dir=data)
    assert json.loads(empty.stdout) == []
    asked = run_cli("--knowledge", str(knowledge), "ask", "--json", QUESTION, data_dir=data)
    reply = json.loads(asked.stdout)
    assert reply["status"] == "answer" and reply["entry_id"] == "expo-date"

    # Asked again later: the out-of-scope question is still not offered for review.
    record(tmp_path, [("d", "明天天气怎么样")])
    again = run_cli("--knowledge", str(knowledge), "review", "--list", "--json", data_dir=data)
    assert json.loads(again.stdout) == []
    nothing = run_cli("--knowledge", str(knowledge), "review", data_dir=data, stdin="")
    assert "没有待处理的问题" in nothing.stdout


def test_review_quits_and_skips_without_changing_anything(tmp_path: Path) -> None:
    knowledge = knowledge_copy(tmp_path)
    data = tmp_path / "data"
    record(tmp_path, [("a", QUESTION), ("b", "明天天气怎么样")])
    files = {p.name: p.read_bytes() for p in knowledge.glob("*.yaml")}
    for stdin in ("s\nq\n", "q\n", "", "s\n\n", "a\n"):  # "a" then end of input: nothing added
        result = run_cli("--knowledge", str(knowledge), "review", "--lang", "en", data_dir=data,
                         stdin=stdin)
        assert result.returncode == 0, result.stderr
        assert "Done: 0 phrasing(s) added, 0 group(s) out of scope" in result.stdout
    assert {p.name: p.read_bytes() for p in knowledge.glob("*.yaml")} == files
    listed = run_cli("--knowledge", str(knowledge), "review", "--list", "--json", data_dir=data)
    assert len(json.loads(listed.stdout)) == 2


async def test_clarify_picks_and_downvotes_are_reviewed(tmp_path: Path) -> None:
    knowledge = knowledge_copy(tmp_path)
    settings = settings_for(tmp_path, knowledge)
    async with running(settings) as bot:
        clarify = await bot.ask("品博会", session="p1")
        assert clarify["status"] == "clarify"
        offered = [s["id"] for s in clarify["suggestions"]]
        picked = await bot.press(f"entry:{offered[1]}", session="p1")
        assert picked["entry_id"] == offered[1]
        assert [a["id"] for a in picked["actions"]][-2:] == [f"fb:up:{offered[1]}",
                                                              f"fb:down:{offered[1]}"]
        await bot.ask("品博会", session="p2")
        await bot.press("none", session="p2")  # "none of these"
        await bot.ask("品博会", session="p3")
        await bot.ask("中国品牌日是哪天", session="p3")  # typed instead of picking
        await bot.press(f"entry:{offered[0]}", session="p3")  # too late: not a pick

        answer = await bot.ask("中国品牌日是哪天", session="p4")
        down = await bot.press(f"fb:down:{answer['entry_id']}", session="p4")
        assert down["kind"] == "feedback" and down["status"] == "answer" and "谢谢" in down["answer"]

        async with await Store.open(settings.database) as store:
            misses = await store.misses()
            clarifies = [m for m in misses if m.kind == "clarify"]
            assert [m.picked for m in clarifies] == [offered[1], "none", None]
            [downvote] = [m for m in misses if m.kind == "downvote"]
            assert downvote.question == "中国品牌日是哪天"
            assert downvote.entry_id == "expo-china-brand-day"
            assert downvote.candidates and downvote.candidates[0][0] == "expo-china-brand-day"

            groups = await review_groups(store, bot.state.engine)
            by_question = {g.question: g for g in groups}
            group = by_question["品博会"]
            assert group.count == 3 and group.kinds == {"clarify": 3}
            assert group.picked == {offered[1]: 1, "none": 1}
            assert offered[1] in [n.entry_id for n in group.nearest]
            assert by_question["中国品牌日是哪天"].downvoted == {"expo-china-brand-day": 1}

            assert await mark_group_out_of_scope(store, group) == 3
            remaining = await review_groups(store, bot.state.engine)
            assert [g.question for g in remaining] == ["中国品牌日是哪天"]


async def test_a_phrasing_that_breaks_the_knowledge_is_not_added(tmp_path: Path) -> None:
    knowledge = knowledge_copy(tmp_path)
    expo = knowledge / "expo.yaml"
    before = expo.read_bytes()
    # '品博会时间' is already a phrasing of expo-date: the same question under two entries.
    result = phrasings.add_phrasing(knowledge, "expo-overview", "品博会时间")
    assert not result.ok and result.problems
    assert any("also a question of" in p.message for p in result.problems)
    assert all(str(knowledge) in p.file for p in result.problems)  # named as in the real folder
    assert expo.read_bytes() == before
    again = phrasings.add_phrasing(knowledge, "expo-date", "品博会时间")
    assert not again.ok and "already" in again.message
    unknown = phrasings.add_phrasing(knowledge, "no-such-entry", "随便问问")
    assert not unknown.ok and "no entry" in unknown.message
    assert expo.read_bytes() == before
    assert not list(knowledge.glob(".*"))  # no temporary files left


def test_the_file_is_restored_when_the_folder_fails_after_writing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    knowledge = knowledge_copy(tmp_path)
    expo = knowledge / "expo.yaml"
    before = expo.read_bytes()
    real = phrasings.load_knowledge
    calls = []

    def flaky(directory):  # noqa: ANN001, ANN202 - the scratch check passes, the live one fails
        calls.append(directory)
        if len(calls) == 2:
            raise KnowledgeError([Problem(str(expo), 1, "", "someone saved a broken file")])
        return real(directory)

    monkeypatch.setattr(phrasings, "load_knowledge", flaky)
    result = phrasings.add_phrasing(knowledge, "expo-date", QUESTION)
    assert not result.ok and "restored" in result.message
    assert expo.read_bytes() == before
    assert len(calls) == 2


def test_every_entry_file_keeps_its_formatting(tmp_path: Path) -> None:
    knowledge = knowledge_copy(tmp_path)
    seen = set()
    for entry in load_knowledge(ROOT / "knowledge").entries:
        path = phrasings.find_entry(knowledge, entry.id)
        assert path is not None
        if path.name in seen:
            continue
        seen.add(path.name)
        entry_id = entry.id
        before = path.read_text(encoding="utf-8")
        zh = phrasings.add_phrasing(knowledge, entry_id, f"测试问法{len(seen)}号：是什么")
        mid = path.read_text(encoding="utf-8")
        en = phrasings.add_phrasing(knowledge, entry_id, f"Test phrasing number {len(seen)}: what?")
        assert zh.ok and en.ok, (zh, en)
        assert (zh.field, en.field) == ("questions.zh", "questions.en")
        assert len(added_lines(before, mid)) == 1
        assert added_lines(mid, path.read_text(encoding="utf-8")) == [
            f"        - 'Test phrasing number {len(seen)}: what?'\n"]
    assert len(seen) >= 7
