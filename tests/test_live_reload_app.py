"""Live reload in the running server: staff edit a knowledge file and citizens get the new
answer through the API within seconds; a broken edit keeps the old answers and tells the
admins once; the fix is taken up again."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from bot.reload import KnowledgeWatcher
from tests.insights_helpers import edit, eventually, knowledge_copy, running, save, settings_for

NEW = "品博会在哪个季节举办"
RELOADS = ("bot_knowledge_reloads_total", ())
FAILURES = ("bot_knowledge_reload_failures_total", ())


async def test_edit_break_and_fix_while_serving(tmp_path: Path) -> None:
    knowledge = knowledge_copy(tmp_path)
    expo = knowledge / "expo.yaml"
    async with running(settings_for(tmp_path, knowledge)) as bot:
        told: list[str] = []

        async def tell(text: str) -> None:
            told.append(text)

        bot.state.notify_admins.append(tell)
        assert isinstance(bot.state.watcher, KnowledgeWatcher)
        assert bot.state.watcher.interval == 1.0
        first = await bot.health()
        assert (await bot.ask(NEW))["status"] == "fallback"

        # 1. An edit: answered through the API within 5 s, and /healthz says so.
        edit(expo, "        - 品博会啥时候开\n", f"        - 品博会啥时候开\n        - {NEW}\n")

        async def answered() -> bool:
            reply = await bot.ask(NEW)
            return reply["status"] == "answer" and reply["entry_id"] == "expo-date"

        await eventually(answered, 5.0, "the new phrasing answered")
        second = await bot.health()
        assert second["knowledge_version"] != first["knowledge_version"]
        assert second["knowledge_version"] == bot.state.engine.knowledge.version
        assert datetime.fromisoformat(second["loaded_at"]) >= datetime.fromisoformat(
            first["loaded_at"])
        assert bot.state.loaded_at > bot.state.started
        metrics = await bot.metrics()
        assert metrics[RELOADS] == 1 and metrics[FAILURES] == 0

        # 2. A broken edit: the old answers stay, the admins are told once, with file and line.
        edit(expo, "category: expo", "category: [expo")

        async def told_once() -> bool:
            return len(told) == 1

        await eventually(told_once, 5.0, "the admins told")
        assert "expo.yaml:" in told[0] and "知识库有错误" in told[0]
        assert await answered()
        assert (await bot.health())["knowledge_version"] == second["knowledge_version"]
        (knowledge / "awards.yaml").touch()  # another save while still broken
        save(expo, expo.read_text(encoding="utf-8"))  # and the same broken file saved again
        await asyncio.sleep(2.5)
        assert len(told) == 1
        assert await answered()
        metrics = await bot.metrics()
        assert metrics[RELOADS] == 1 and metrics[FAILURES] >= 2

        # 3. The fix is reloaded (with the phrasing reworded, to see the new version is used).
        text = expo.read_text(encoding="utf-8").replace("category: [expo", "category: expo", 1)
        save(expo, text.replace(NEW, "品博会选在哪个季节", 1))

        async def fixed() -> bool:
            return (await bot.health())["knowledge_version"] != second["knowledge_version"]

        await eventually(fixed, 5.0, "the fixed knowledge reloaded")
        third = await bot.health()
        assert third["knowledge_version"] != first["knowledge_version"]
        assert "品博会选在哪个季节" in bot.state.engine.knowledge.by_id["expo-date"].questions.zh
        reply = await bot.ask("品博会选在哪个季节")
        assert reply["status"] == "answer" and reply["entry_id"] == "expo-date"
        assert len(told) == 1
        assert (await bot.metrics())[RELOADS] == 2

        # 4. What the admin's /reload calls.
        result = await bot.state.watcher.reload()
        assert result.ok and not result.changed
        assert "没有变化" in result.describe("zh") and "unchanged" in result.describe("en")


async def test_breaking_again_after_a_fix_is_reported_again(tmp_path: Path) -> None:
    knowledge = knowledge_copy(tmp_path)
    tasks = knowledge / "tasks.yaml"
    async with running(settings_for(tmp_path, knowledge)) as bot:
        told: list[str] = []

        async def tell(text: str) -> None:
            told.append(text)

        async def fails(text: str) -> None:
            raise RuntimeError("a broken admin channel must not stop the others")

        bot.state.notify_admins.extend([fails, tell])
        good = tasks.read_text(encoding="utf-8")
        save(tasks, good.replace("entries:", "entries: [", 1))

        async def count(n: int) -> bool:
            return len(told) == n

        await eventually(lambda: count(1), 5.0, "first report")
        save(tasks, good + "\n# fixed\n")
        await eventually(lambda: count(1), 1.0)
        version = bot.state.engine.knowledge.version

        async def reloaded() -> bool:
            return bot.state.engine.knowledge.version != version

        await eventually(reloaded, 5.0, "the fix loaded")
        save(tasks, good.replace("entries:", "entries: [", 1))
        await eventually(lambda: count(2), 5.0, "second report")
    assert bot.state.watcher is None  # stopped with the server
