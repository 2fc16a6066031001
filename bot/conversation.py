"""What every channel calls: a person's text or button press in, a :class:`Reply` out.

Channels stay thin because they only know two calls, :meth:`Conversation.text` and
:meth:`Conversation.press`. Suggestion buttons carry ``entry:<id>``, topic buttons
``topic:<category>``; the signup dialogue adds its own action ids.

Every knowledge answer carries two feedback buttons, ``fb:up:<entry id>`` (👍) and
``fb:down:<entry id>`` (👎); pressing one is counted once per person, entry and
:data:`VOTE_WINDOW` and answered with a short thank-you (``kind="feedback"``).

With a :class:`~bot.insights.Recorder` (the server gives it one once the database is open),
each question's outcome and answer time is counted, and questions the bot could not answer
outright are kept for staff to review: fallbacks, "did you mean" questions together with what
the asker then picked, and the question behind a 👎. Sign-up steps (names, phone numbers) are
never recorded. ``observers`` (the metrics) are told of every question and counted vote.

One person's calls run one after the other, on every channel (:class:`~bot.limits.PersonLocks`):
a button press and a typed message sent at the same moment must not both read "no sign-up in
progress" and lose the flow. When the database cannot be written (a full or read-only disk),
a call that needed it answers ``kind="storage_unavailable"`` ("try again later") instead of
failing; questions are still answered.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from bot.asker import Asker
from bot.dialogue import ACTION_KINDS as DIALOGUE_ACTIONS
from bot.dialogue import Dialogue, invitation
from bot.engine import Action, Engine, Reply, Status, Suggestion
from bot.insights import ANONYMOUS, FeedbackEvent, QuestionEvent, Recorder
from bot.kb import OpenDay
from bot.limits import PersonLocks
from bot.messages import say
from bot.store import StoreUnavailable

log = logging.getLogger("bot.conversation")

FEEDBACK = "fb"
VOTES = ("up", "down")
VOTE_LABELS = {"up": "👍", "down": "👎"}
MAX_ACTION_BYTES = 64  # Telegram's callback data limit
PICK_WINDOW = 600.0  # seconds: an entry pressed this soon after a "did you mean" is its pick
ASKED_WINDOW = 3600.0  # seconds: a 👎 this soon after an answer is about that question
VOTE_WINDOW = 600.0  # seconds: the same vote again by the same person is not counted twice
MAX_TRACKED = 10_000  # askers remembered at once (oldest forgotten first)
STORAGE_DOWN = "storage_unavailable"  # Reply.kind when the database cannot be written

@dataclass(frozen=True)
class _Pending:
    """A "did you mean" waiting for the asker's pick."""

    miss_id: int | None
    entries: tuple[str, ...]
    question: str
    lang: str
    at: float


@dataclass(frozen=True)
class _Asked:
    question: str
    lang: str
    at: float


@dataclass(frozen=True)
class _Vote:
    vote: str
    when: datetime  # as recorded (for undoing it on the right day)
    miss_id: int | None
    at: float


_V = TypeVar("_V")


class _Recent(OrderedDict[Any, _V]):
    """A bounded map of recent items: the oldest go first once :data:`MAX_TRACKED` is reached."""

    def put(self, key: Any, value: _V) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > MAX_TRACKED:
            self.popitem(last=False)

    def fresh(self, key: Any, window: float, now: float) -> _V | None:
        value = self.get(key)
        if value is None or now - value.at > window:  # type: ignore[attr-defined]
            return None
        return value


def feedback_actions(entry_id: str) -> tuple[Action, ...]:
    """👍 and 👎 under an answer of ``entry_id`` (none if the id would not fit a button)."""
    ids = [f"{FEEDBACK}:{vote}:{entry_id}" for vote in VOTES]
    if any(len(i.encode()) > MAX_ACTION_BYTES for i in ids):
        return ()
    return tuple(Action(i, VOTE_LABELS[v]) for i, v in zip(ids, VOTES, strict=True))


class Conversation:
    """``dialogue`` (optional) adds the open-day sign-up: without it the bot only answers
    questions and sign-up buttons say it is not available. ``invites`` (without a dialogue)
    still shows the sign-up button where open_day.yaml says so: the command line's ``ask``
    prints what the web chat shows. ``recorder`` (optional) keeps statistics and the
    questions for review."""

    def __init__(self, engine: Callable[[], Engine], dialogue: Dialogue | None = None,
                 recorder: Recorder | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 invites: Callable[[], OpenDay] | None = None) -> None:
        self._engine = engine  # a getter: the knowledge may be reloaded between two calls
        self.dialogue = dialogue
        self.recorder = recorder
        self.invites = invites  # without a dialogue: which replies still show the sign-up button
        self.observers: list[Callable[[object], None]] = []
        self._clock = clock
        self._pending: _Recent[_Pending] = _Recent()  # by asker
        self._asked: _Recent[_Asked] = _Recent()  # by (asker, entry id)
        self._votes: _Recent[_Vote] = _Recent()  # by (asker, entry id)
        # One person's requests one at a time; replicas over PostgreSQL put a shared kind
        # here (bot.limits.SharedPersonLocks), so the order holds across processes too.
        self.locks: PersonLocks = PersonLocks()

    @property
    def engine(self) -> Engine:
        return self._engine()

    def _invite(self, reply: Reply, question: str | None = None) -> Reply:
        """``reply`` with the sign-up button where open_day.yaml says so: with a dialogue, or
        when told to show it anyway (``ask --json`` prints what the web chat would show)."""
        if self.dialogue is not None:
            return invitation(reply, self.dialogue.open_day, question)
        if self.invites is not None:
            return invitation(reply, self.invites(), question)
        return reply

    # ------------------------------------------------------------------ the two calls

    async def text(self, asker: Asker, text: str) -> Reply:
        """Typed text. One person's calls run one at a time (every channel), and a database
        that cannot be written gives a "try again later" reply instead of an error."""
        started = time.perf_counter()
        async with self.locks.hold(self._key(asker)):
            try:
                return await self._text(asker, text, started)
            except StoreUnavailable:
                return self._storage_down(asker)

    async def press(self, asker: Asker, action: str) -> Reply:
        """A button press; serialised per person like :meth:`text`."""
        async with self.locks.hold(self._key(asker)):
            try:
                return await self._press(asker, action)
            except StoreUnavailable:
                return self._storage_down(asker)

    @staticmethod
    def _storage_down(asker: Asker) -> Reply:
        lang = asker.lang or "zh"
        return Reply(Status.FALLBACK, say("signup.storage_down", lang), lang, kind=STORAGE_DOWN)

    async def _text(self, asker: Asker, text: str, started: float) -> Reply:
        engine = self.engine
        key = self._key(asker)
        if key is not None:
            self._pending.pop(key, None)  # typing instead of picking: no pick to wait for
        if self.dialogue is not None:
            reply = await self.dialogue.text(asker, text, engine)
            if reply is not None:
                return reply  # a sign-up step or command: never recorded
        reply = engine.ask(text, asker.lang)
        reply = self._with_feedback(self._invite(reply, text))
        latency = time.perf_counter() - started
        if reply.kind != "empty":
            await self._question(asker, key, text, reply, latency, engine)
        return reply

    async def _press(self, asker: Asker, action: str) -> Reply:
        engine = self.engine
        lang = asker.lang or "zh"
        key = self._key(asker)
        pending = self._pending.pop(key, None) if key is not None else None
        if pending is not None and self._clock() - pending.at > PICK_WINDOW:
            pending = None
        kind, _, value = action.partition(":")
        if kind in DIALOGUE_ACTIONS:
            if self.dialogue is not None:
                return await self.dialogue.press(asker, action, engine)
            return Reply(Status.FALLBACK, say("signup.unavailable", lang), lang, kind="signup")
        if kind == FEEDBACK:
            return await self._feedback(asker, key, value, engine)
        if kind == "entry":
            reply = engine.answer_entry(value, lang)
            if reply is not None:
                if pending is not None and value in pending.entries:
                    await self._pick(pending, value)
                    if key is not None:
                        self._asked.put((key, value), _Asked(pending.question, pending.lang,
                                                             self._clock()))
                reply = self._with_feedback(self._invite(reply))
                if self.dialogue is not None:  # in the middle of a sign-up: its buttons instead
                    reply = await self.dialogue.with_flow_reminder(asker, reply)
                return reply
        elif kind == "topic":
            entries = engine.entries_in(value)
            if entries:
                names = dict(engine.topics(lang))
                intro = say("conversation.topic_intro", lang, topic=names.get(value, value))
                return Reply(Status.CLARIFY, intro, lang, kind="topic",
                             suggestions=tuple(engine.suggestion(e, lang) for e in entries[:8]))
        elif kind == "none":
            if pending is not None:
                await self._pick(pending, "none")
            return Reply(Status.FALLBACK, engine.message("rephrase", lang), lang, kind="none")
        return Reply(Status.FALLBACK, engine.message("expired", lang), lang, kind="expired")

    # ------------------------------------------------------------------ feedback

    @staticmethod
    def _with_feedback(reply: Reply) -> Reply:
        if reply.status is not Status.ANSWER or reply.kind != "knowledge" or not reply.entry_id:
            return reply
        extra = tuple(a for a in feedback_actions(reply.entry_id)
                      if all(a.id != b.id for b in reply.actions))
        return replace(reply, actions=(*reply.actions, *extra)) if extra else reply

    async def _feedback(self, asker: Asker, key: str | None, value: str, engine: Engine) -> Reply:
        vote, _, entry_id = value.partition(":")
        now = self._clock()
        asked = self._asked.fresh((key, entry_id), ASKED_WINDOW, now) if key else None
        lang = asker.lang or (asked.lang if asked else "zh")
        if vote not in VOTES or entry_id not in engine.knowledge.by_id:
            return Reply(Status.FALLBACK, engine.message("expired", lang), lang, kind="expired")
        reply = Reply(Status.ANSWER, say(f"conversation.thanks_{vote}", lang), lang,
                      kind="feedback", entry_id=entry_id)
        previous = self._votes.fresh((key, entry_id), VOTE_WINDOW, now) if key else None
        if previous is not None and previous.vote == vote:
            return reply  # pressed again: counted once
        when, miss_id = datetime.now().astimezone(), None
        if self.recorder is not None:
            try:
                when, miss_id = await self.recorder.feedback(
                    asker, entry_id, vote, question=asked.question if asked else None,
                    lang=asked.lang if asked else lang, engine=engine,
                    undo_at=previous.when if previous else None,
                    drop_miss=previous.miss_id if previous else None)
            except StoreUnavailable:
                pass
            except Exception:
                log.exception("could not record feedback")
        if key is not None:
            self._votes.put((key, entry_id), _Vote(vote, when, miss_id, now))
        self._tell(FeedbackEvent(asker.channel, entry_id, vote))
        return reply

    # ------------------------------------------------------------------ recording

    @staticmethod
    def _key(asker: Asker) -> str | None:
        """Who to remember a pending pick or a vote for (never an anonymous web visitor)."""
        if asker.user_id in ANONYMOUS:
            return None
        return f"{asker.channel}:{asker.user_id}"

    async def _question(self, asker: Asker, key: str | None, text: str, reply: Reply,
                        latency: float, engine: Engine) -> None:
        self._tell(QuestionEvent(asker.channel, reply.status.value, reply.kind, reply.entry_id,
                                 latency))
        miss_id = None
        if self.recorder is not None:
            try:
                miss_id = await self.recorder.question(asker, text, reply, latency, engine)
            except StoreUnavailable:
                pass  # the store logs this once a minute; the answer matters more
            except Exception:
                log.exception("could not record the question's outcome")
        if key is None or reply.kind != "knowledge":
            return
        now = self._clock()
        if reply.status is Status.CLARIFY and reply.suggestions:
            self._pending.put(key, _Pending(miss_id, tuple(s.entry_id for s in reply.suggestions),
                                            text, reply.lang, now))
        elif reply.status is Status.ANSWER and reply.entry_id:
            self._asked.put((key, reply.entry_id), _Asked(text, reply.lang, now))

    async def _pick(self, pending: _Pending, picked: str) -> None:
        if self.recorder is None or pending.miss_id is None:
            return
        try:
            await self.recorder.pick(pending.miss_id, picked)
        except StoreUnavailable:
            pass
        except Exception:
            log.exception("could not record the pick after a clarify")

    def _tell(self, event: object) -> None:
        for observer in list(self.observers):
            try:
                observer(event)
            except Exception:
                log.exception("an observer failed")


__all__ = ["DIALOGUE_ACTIONS", "FEEDBACK", "STORAGE_DOWN", "VOTE_WINDOW", "Asker", "Conversation",
           "Suggestion",
           "feedback_actions"]
