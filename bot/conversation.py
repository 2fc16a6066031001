"""What every channel calls: a person's text or button press in, a :class:`Reply` out.

Channels stay thin because they only know two calls, :meth:`Conversation.text` and
:meth:`Conversation.press`. Suggestion buttons carry ``entry:<id>``, topic buttons
``topic:<category>``; the signup dialogue adds its own action ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.engine import Engine, Reply, Status, Suggestion


@dataclass(frozen=True)
class Asker:
    """Who asks: the channel, an id unique within it, and their language preference."""

    channel: str
    user_id: str
    lang: str | None = None


class Conversation:
    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine  # a getter: the knowledge may be reloaded between two calls

    @property
    def engine(self) -> Engine:
        return self._engine()

    async def text(self, asker: Asker, text: str) -> Reply:
        return self.engine.ask(text, asker.lang, asker.user_id)

    async def press(self, asker: Asker, action: str) -> Reply:
        engine = self.engine
        lang = asker.lang or "zh"
        kind, _, value = action.partition(":")
        if kind == "entry":
            reply = engine.answer_entry(value, lang)
            if reply is not None:
                return reply
        elif kind == "topic":
            entries = engine.entries_in(value)
            if entries:
                names = dict(engine.topics(lang))
                intro = ("Questions about " if lang == "en" else "关于“") + names.get(value, value)
                intro += ":" if lang == "en" else "”，您可以问："
                return Reply(Status.CLARIFY, intro, lang, kind="topic",
                             suggestions=tuple(engine.suggestion(e, lang) for e in entries[:8]))
        elif kind == "none":
            return Reply(Status.FALLBACK, engine.message("rephrase", lang), lang, kind="none")
        return Reply(Status.FALLBACK, engine.message("expired", lang), lang, kind="expired")


__all__ = ["Asker", "Conversation", "Suggestion"]
