"""What every channel calls: a person's text or button press in, a :class:`Reply` out.

Channels stay thin because they only know two calls, :meth:`Conversation.text` and
:meth:`Conversation.press`. Suggestion buttons carry ``entry:<id>``, topic buttons
``topic:<category>``; the signup dialogue adds its own action ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.dialogue import ACTION_KINDS as DIALOGUE_ACTIONS
from bot.dialogue import Dialogue, say
from bot.engine import Engine, Reply, Status, Suggestion


@dataclass(frozen=True)
class Asker:
    """Who asks: the channel, an id unique within it, and their language preference."""

    channel: str
    user_id: str
    lang: str | None = None


class Conversation:
    """``dialogue`` (optional) adds the open-day sign-up: without it, as in the command line's
    ``ask``, the bot only answers questions and sign-up buttons say it is not available."""

    def __init__(self, engine: Callable[[], Engine], dialogue: Dialogue | None = None) -> None:
        self._engine = engine  # a getter: the knowledge may be reloaded between two calls
        self.dialogue = dialogue

    @property
    def engine(self) -> Engine:
        return self._engine()

    async def text(self, asker: Asker, text: str) -> Reply:
        engine = self.engine
        if self.dialogue is not None:
            reply = await self.dialogue.text(asker, text, engine)
            if reply is not None:
                return reply
            return self.dialogue.invitation(engine.ask(text, asker.lang, asker.user_id), text)
        return engine.ask(text, asker.lang, asker.user_id)

    async def press(self, asker: Asker, action: str) -> Reply:
        engine = self.engine
        lang = asker.lang or "zh"
        kind, _, value = action.partition(":")
        if kind in DIALOGUE_ACTIONS:
            if self.dialogue is not None:
                return await self.dialogue.press(asker, action, engine)
            return Reply(Status.FALLBACK, say("unavailable", lang), lang, kind="signup")
        if kind == "entry":
            reply = engine.answer_entry(value, lang)
            if reply is not None:
                if self.dialogue is not None:
                    reply = self.dialogue.invitation(reply)
                    reply = await self.dialogue.with_flow_reminder(asker, reply)
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


__all__ = ["DIALOGUE_ACTIONS", "Asker", "Conversation", "Suggestion"]
