"""Helpers for the open-day sign-up tests: a settable clock, a bot over a real SQLite file,
and the whole sign-up flow driven through :class:`~bot.conversation.Conversation`."""

from __future__ import annotations

import shutil
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bot.conversation import Asker, Conversation
from bot.dialogue import Dialogue, open_day_of
from bot.engine import Engine, Reply
from bot.kb import TZ, Knowledge, OpenDay, load_knowledge
from bot.store import Store
from tests.paths import copy_knowledge

TODAY = datetime(2026, 11, 24, 10, 0, tzinfo=TZ)  # every shipped session is still to come
SESSION_A = "example-a-2027-03-16"  # 20 seats, 16 March 2027 09:30
SESSION_B = "example-b-2027-04-13"  # 15 seats
SESSION_C = "example-c-2027-05-18"  # 30 seats


class Clock:
    def __init__(self, now: datetime = TODAY) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Bot:
    """A conversation with the sign-up dialogue over the SQLite file ``path``."""

    path: Path
    engine: Engine
    clock: Clock
    open_day: Callable[[], OpenDay]
    store: Store = field(init=False)
    dialogue: Dialogue = field(init=False)
    conversation: Conversation = field(init=False)

    async def open(self) -> Bot:
        self.store = await Store.open(self.path)
        # through self: a test swaps ``open_day`` to simulate a hot edit of open_day.yaml
        self.dialogue = Dialogue(self.store, lambda: self.open_day(), clock=self.clock,
                                 reminder_time="10:00")
        self.conversation = Conversation(lambda: self.engine, dialogue=self.dialogue)
        return self

    async def close(self) -> None:
        await self.store.close()

    async def reopen(self) -> Bot:
        """A restart: close the database, then a new Store, Dialogue and Conversation."""
        await self.close()
        return await self.open()

    async def text(self, asker: Asker, text: str) -> Reply:
        return await self.conversation.text(asker, text)

    async def press(self, asker: Asker, action: str) -> Reply:
        return await self.conversation.press(asker, action)


def asker(n: int | str = 1, lang: str | None = "zh", channel: str = "telegram") -> Asker:
    return Asker(channel, str(n), lang)


def action_ids(reply: Reply) -> list[str]:
    return [a.id for a in reply.actions]


async def sign_up(bot: Bot, who: Asker, session: str = SESSION_A, name: str = "王小明",
                  phone: str | None = None) -> Reply:
    """The whole flow with buttons (waiting list when full); returns the final reply.
    Without ``phone``, each person has a number of their own (one place per number)."""
    if phone is None:
        phone = f"138{zlib.crc32(f'{who.channel}:{who.user_id}'.encode()) % 10**8:08d}"
    reply = await bot.press(who, f"signup:pick:{session}")
    if f"waitlist:join:{session}" in action_ids(reply):
        reply = await bot.press(who, f"waitlist:join:{session}")
    if "signup:consent:yes" not in action_ids(reply):
        return reply  # already booked, or not available
    await bot.press(who, "signup:consent:yes")
    await bot.text(who, name)
    confirm = await bot.text(who, phone)
    assert "signup:confirm" in action_ids(confirm), confirm.text
    return await bot.press(who, "signup:confirm")


def code_of(reply: Reply) -> str:
    """The booking code of a confirmation (from its cancel button)."""
    for action in reply.actions:
        if action.id.startswith("booking:cancel:"):
            return action.id.rsplit(":", 1)[1]
    raise AssertionError(f"no booking code in: {reply.text}")


def knowledge_copy(tmp_path: Path, edit: Callable[[str], str] | None = None) -> Path:
    """The shipped knowledge folder copied under tmp_path, open_day.yaml passed through ``edit``."""
    target = tmp_path / "knowledge"
    if target.exists():
        shutil.rmtree(target)
    copy_knowledge(target)
    if edit is not None:
        path = target / "open_day.yaml"
        path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return target


def open_day_from(directory: Path) -> tuple[Knowledge, OpenDay]:
    knowledge = load_knowledge(directory)
    return knowledge, open_day_of(knowledge)
