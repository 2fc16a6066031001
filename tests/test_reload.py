"""Live reload with real files: new answers appear, broken edits never replace good knowledge."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.reload import KnowledgeWatcher, ReloadResult
from tests.paths import copy_knowledge


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    copy_knowledge(target)
    return target


class Served:
    """What a server holds: the engine it answers from, and what admins were told."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.told: list[ReloadResult] = []

    def swap(self, engine: Engine) -> None:
        self.engine = engine

    async def tell(self, result: ReloadResult) -> None:
        self.told.append(result)


async def wait_for(condition, seconds: float = 5.0) -> None:  # noqa: ANN001
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within time")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


async def test_edit_broken_edit_and_fix(folder: Path) -> None:
    from bot.kb import load_knowledge

    served = Served(Engine(load_knowledge(folder)))
    watcher = KnowledgeWatcher(folder, served.engine.knowledge.version, served.swap,
                               served.tell, interval=0.1)
    task = asyncio.create_task(watcher.run())
    try:
        expo = folder / "expo.yaml"
        edit(expo, "品博会啥时候开", "品博会啥时候开 \n        - 品博会在哪个季节举办")
        await wait_for(lambda: served.engine.ask("品博会在哪个季节举办").entry_id == "expo-date")

        good_version = served.engine.knowledge.version
        edit(expo, "category: expo", "category: [expo")  # a YAML syntax error
        await wait_for(lambda: len(served.told) == 1)
        assert served.engine.knowledge.version == good_version  # still the last good one
        assert served.engine.ask("品博会在哪个季节举办").entry_id == "expo-date"
        problem = served.told[0].problems[0]
        assert problem.file.endswith("expo.yaml") and problem.line > 1
        assert all("related" not in p.where for p in served.told[0].problems)  # no cascade

        (folder / "awards.yaml").touch()  # another save while still broken: told once only
        await asyncio.sleep(0.5)
        assert len(served.told) == 1

        edit(expo, "category: [expo", "category: expo")
        edit(expo, "品博会在哪个季节举办", "品博会在哪个月份举办")
        await wait_for(lambda: served.engine.knowledge.version != good_version)
        assert served.engine.ask("品博会在哪个月份举办").entry_id == "expo-date"
    finally:
        task.cancel()


async def test_forced_reload_reports_unchanged_and_errors(folder: Path) -> None:
    from bot.kb import load_knowledge

    served = Served(Engine(load_knowledge(folder)))
    watcher = KnowledgeWatcher(folder, served.engine.knowledge.version, served.swap, served.tell)
    result = await watcher.reload()
    assert result.ok and not result.changed and "没有变化" in result.describe()

    edit(folder / "nqi.yaml", "url: https://", "url: http://")
    result = await watcher.reload()
    assert not result.ok and "https" in result.describe("en")
    assert served.engine.knowledge.version == watcher.version
