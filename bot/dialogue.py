"""The open-day sign-up dialogue, the same on every channel.

Channels never call this module directly for a conversation: :class:`~bot.conversation.
Conversation` hands typed text and button presses to :class:`Dialogue`, which answers with
ordinary :class:`~bot.engine.Reply` objects (``kind="signup"``; buttons are ``Reply.actions``).

Steps: pick a session → consent notice → name → mobile number → confirm. Where a person is,
and what they typed, is kept in the database (a restart loses nothing); a flow left alone for
:data:`FLOW_TTL` is forgotten. Typing 取消 / cancel leaves at any step; a knowledge question
typed instead of an answer is answered, followed by the current step again.

Action ids (each at most 64 bytes, so they fit Telegram's callback data):

================================  ===================================================
``signup``                        list the sessions (starts the flow)
``signup:pick:<session>``         choose a session
``waitlist:join:<session>``       join the waiting list of a full session
``signup:consent:yes`` / ``no``   agree to the data notice, or stop
``signup:confirm``                write the booking
``signup:cancel``                 leave the flow
``bookings``                      the person's bookings, each with a cancel button
``booking:cancel:<code>``         asks "really cancel?"
``booking:cancel-yes:<code>``     cancels (the seat goes to the first person waiting)
``booking:keep:<code>``           keeps it
``forget``                        asks "delete all your data?"
``forget:yes`` / ``forget:no``    deletes everything stored about the person, or not
``notify:yes``                    "tell me when sessions are added"
================================  ===================================================

Messages for someone other than the person answered (promotion from the waiting list,
reminders, new sessions) go to the database's outbox; :mod:`bot.outbox` delivers them and runs
the scheduler (re-exported here). How a session reads is :mod:`bot.cards`; what staff see of
the sign-up (summaries, the CSV's columns) is :mod:`bot.exports`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any

from bot.asker import Asker
from bot.cards import (
    format_phone,
    institution_of,
    pick,
    session_card,
    short_date,
    when_text,
)
from bot.engine import Action, Engine, Reply, Status
from bot.exports import CSV_COLUMNS, SessionSummary, format_summaries, safe_cell
from bot.kb import TZ, Knowledge, OpenDay, Session
from bot.messages import say
from bot.outbox import (
    Notifier,
    PermanentDeliveryError,
    Scheduler,
    deliver_outbox,
    message_reply,
    run_outbox,
)
from bot.store import (
    Booking,
    BookingRefused,
    Draft,
    Flow,
    Store,
    StoreUnavailable,
    mask_phone,
    user_key,
)
from bot.text import Normalizer, detect_language, to_simplified

log = logging.getLogger("bot.dialogue")

KIND = "signup"
FLOW_TTL = timedelta(minutes=30)
RETENTION = timedelta(days=30)
NAME_MAX = 30
ACTION_KINDS = frozenset({"signup", "waitlist", "booking", "bookings", "forget", "notify"})
ANONYMOUS = frozenset({"", "anonymous"})
MAX_LISTED = 10  # sessions offered at once (the soonest)


def open_day_of(knowledge: Knowledge) -> OpenDay:
    """The validated open_day.yaml of a knowledge version (empty when the file is absent)."""
    return knowledge.open_day


# --------------------------------------------------------------------------- input parsing

_PHONE = re.compile(r"(?:\+86|0086|86)?(1[3-9]\d{9})")
_PHONE_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―()]+")
_NAME_PUNCT = set(" ·•・.-'’‧")
_QUESTION = re.compile(r"[?？]|什么|怎么|怎样|哪|吗|多少|几|啥|为什么|是否|能否|"
                       r"\b(?:what|when|where|how|who|why|which)\b", re.IGNORECASE)


def normalize_phone(text: str) -> str | None:
    """The 11 digits of a mainland mobile number typed any usual way, or None."""
    compact = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    match = _PHONE.fullmatch(compact)
    return match.group(1) if match else None


def clean_name(text: str) -> str | None:
    """A person's name: 1–30 characters of letters (and name punctuation), or None."""
    text = text.strip()
    if any(unicodedata.category(ch)[0] == "C" for ch in text):
        return None  # control, format, private-use or unassigned characters
    name = " ".join(unicodedata.normalize("NFKC", text).split())
    if not 1 <= len(name) <= NAME_MAX:
        return None
    if not all(unicodedata.category(ch)[0] in "LM" or ch in _NAME_PUNCT for ch in name):
        return None
    if not any(unicodedata.category(ch)[0] == "L" for ch in name):
        return None
    return name


def _name_shaped(name: str) -> bool:
    """What a real name usually looks like: 2–4 Chinese characters, or 1–4 capitalised words."""
    letters = [ch for ch in name if ch not in _NAME_PUNCT]
    if any("\u3400" <= ch <= "\u9fff" for ch in letters):
        return len(letters) <= 4
    words = name.replace("-", " ").split()
    return len(words) <= 4 and all(w[:1].isupper() for w in words)


def _key(text: str) -> str:
    text = to_simplified(unicodedata.normalize("NFKC", text)).lower().strip()
    return " ".join(text.strip(" 。.!！~～").split())


_CANCEL = {"取消", "取消报名", "退出", "退出报名", "算了", "不报了", "不报名了", "cancel", "stop",
           "quit", "exit", "/cancel"}
_BOOKINGS = {"我的预约", "我的报名", "查看预约", "查看我的预约", "取消预约", "my bookings",
             "my booking", "bookings", "/bookings", "cancel booking", "cancel my booking"}
_FORGET = {"删除我的信息", "删除我的数据", "删除个人信息", "删除我的个人信息", "forget me",
           "forget my data", "delete my data", "/forget"}
_YES = {"是", "是的", "好", "好的", "同意", "我同意", "可以", "行", "确认", "确定", "对", "嗯",
        "没问题", "确认报名", "yes", "y", "ok", "okay", "sure", "agree", "i agree", "confirm"}
_NO = {"不", "不同意", "否", "不要", "不用", "不用了", "no", "n", "nope", "disagree"}


# --------------------------------------------------------------------------- the dialogue


class Dialogue:
    """The sign-up flow over a :class:`Store` and the open-day sessions of the live knowledge."""

    def __init__(self, store: Store, open_day: Callable[[], OpenDay],
                 clock: Callable[[], datetime] | None = None,
                 reminder_time: str = "10:00", signups_per_client: int = 0) -> None:
        self.store = store
        self.signups_per_client = signups_per_client  # per client address and day; 0 = off
        self._open_day = open_day  # a getter: staff edits take effect without a restart
        self.clock = clock or (lambda: datetime.now(TZ))
        self.reminder_time = time.fromisoformat(reminder_time)

    @property
    def open_day(self) -> OpenDay:
        return self._open_day()

    def now(self) -> datetime:
        return self.clock().astimezone(TZ)

    # ------------------------------------------------------------------ entry points

    async def text(self, asker: Asker, text: str, engine: Engine) -> Reply | None:
        """Typed text: a step of the flow, a sign-up command, or None (the engine answers)."""
        command = _key(text)
        key = user_key(asker.channel, asker.user_id)
        stored = await self.store.get_flow(key)
        flow = await self._flow(key, stored)
        lang = asker.lang or (stored.lang if stored else None) or detect_language(text) or "zh"
        if flow is None and stored is not None and stored.step in ("name", "phone") \
                and command not in _FORGET and command not in _BOOKINGS:
            return self._expired(lang)  # a name or number typed late: never a question
        if command in _FORGET:
            return self._forget_ask(lang)
        if command in _BOOKINGS and asker.user_id not in ANONYMOUS:
            return await self.with_flow_reminder(asker, await self._bookings(key, lang))
        if flow is None:
            return None
        if command in _CANCEL:
            await self.store.clear_flow(key)
            return self._reply(say("signup.cancelled_flow", lang), lang)
        return await self._answer_step(asker, flow, text, lang, engine)

    async def press(self, asker: Asker, action: str, engine: Engine) -> Reply:
        """A button of the flow (see the module's table of action ids)."""
        key = user_key(asker.channel, asker.user_id)
        kind, _, rest = action.partition(":")
        sub, _, value = rest.partition(":")
        flow = await self._flow(key)
        lang = asker.lang or (flow.lang if flow else "zh")
        if asker.user_id in ANONYMOUS:
            return self._reply(say("signup.unidentified", lang), lang)
        if kind == "signup" and not rest:
            return await self._start(key, lang)
        if (kind, sub) == ("signup", "pick") and value:
            return await self._pick(key, value, lang, waitlist=False)
        if (kind, sub) == ("waitlist", "join") and value:
            return await self._pick(key, value, lang, waitlist=True)
        if (kind, sub) == ("signup", "cancel"):
            await self.store.clear_flow(key)
            return self._reply(say("signup.cancelled_flow", lang), lang)
        if (kind, sub) == ("signup", "consent") and value in ("yes", "no"):
            if flow is None:
                return self._expired(lang)
            if flow.step != "consent":
                return await self._prompt(flow, lang)
            return await self._consent(key, flow, value == "yes", lang)
        if (kind, sub) == ("signup", "confirm"):
            if flow is None:
                return await self._stands(key, lang) or self._expired(lang)
            if flow.step != "confirm":
                return await self._prompt(flow, lang)
            return await self._confirm(key, flow, lang, asker.client)
        if kind == "bookings" and not rest:
            return await self._bookings(key, lang)
        if kind == "booking" and value:
            if sub == "cancel":
                return await self._cancel_ask(key, value, lang)
            if sub == "cancel-yes":
                return await self._cancel(key, value, lang)
            if sub == "keep":
                return self._reply(say("signup.kept", lang), lang, (self._my_bookings_action(lang),))
        if kind == "forget" and not rest:
            return self._forget_ask(lang)
        if kind == "forget" and sub in ("yes", "no"):
            return await self._forget(key, lang) if sub == "yes" else \
                self._reply(say("signup.not_forgotten", lang), lang)
        if (kind, sub) == ("notify", "yes"):
            return await self._notify(key, lang)
        return Reply(Status.FALLBACK, engine.message("expired", lang), lang, kind="expired")

    async def with_flow_reminder(self, asker: Asker, reply: Reply) -> Reply:
        """``reply`` followed by the current step, when the person is in the middle of a flow."""
        flow = await self._flow(user_key(asker.channel, asker.user_id))
        if flow is None:
            return reply
        lang = asker.lang or flow.lang
        prompt = await self._prompt(flow, lang)
        return replace(reply, text=f"{reply.text}\n\n{say('signup.aside', lang)}\n{prompt.text}",
                       actions=prompt.actions)

    # ------------------------------------------------------------------ steps

    async def _flow(self, key: str, stored: Flow | None = None) -> Flow | None:
        flow = stored if stored is not None else await self.store.get_flow(key)
        if flow is not None and flow.updated_at <= self.now() - FLOW_TTL:
            await self.store.clear_flow(key)
            return None
        return flow

    async def _save(self, key: str, step: str, data: dict[str, Any], lang: str) -> Flow:
        now = self.now()
        await self.store.save_flow(key, step, data, lang, now)
        return Flow(key, step, data, lang, now)

    def _upcoming(self) -> list[Session]:
        now = self.now()
        return sorted((s for s in self.open_day.sessions if s.start > now),
                      key=lambda s: (s.start, s.id))

    def _open_session(self, session_id: str) -> Session | None:
        session = self.open_day.by_id.get(session_id)
        return session if session is not None and session.start > self.now() else None

    async def _start(self, key: str, lang: str) -> Reply:
        sessions = self._upcoming()[:MAX_LISTED]
        if not sessions:
            await self.store.clear_flow(key)
            return self._reply(say("signup.none_upcoming", lang), lang,
                               (Action("notify:yes", say("signup.notify_button", lang)),))
        flow = await self._save(key, "pick", {"offered": [s.id for s in sessions]}, lang)
        return await self._prompt(flow, lang)

    async def _list(self, flow: Flow, lang: str) -> Reply:
        lines = [say("signup.list_head", lang)]
        actions = []
        mine = {b.session_id for b in await self.store.bookings_of(flow.user_key)}
        sessions = [s for s in (self._open_session(i) for i in flow.data.get("offered", [])) if s]
        if not sessions:
            return await self._start(flow.user_key, lang)
        for n, session in enumerate(sessions, 1):
            booked, waiting = await self.store.counts(session.id)
            left = session.capacity - booked
            state = say("signup.seats_left", lang, n=left) if left > 0 and not waiting else \
                say("signup.full", lang, w=waiting)
            if session.id in mine:
                state += " " + say("signup.yours", lang)
            lines.append(f"\n{n}. {session_card(session, lang)}\n{state}")
            label_key = "pick_label" if left > 0 and not waiting else "wait_label"
            action = "signup:pick:" if label_key == "pick_label" else "waitlist:join:"
            actions.append(Action(action + session.id, say(
                "signup." + label_key, lang, n=n, date=short_date(session.start, lang),
                inst=pick(session.institution, lang))))
        lines.append("\n" + say("signup.list_tail", lang))
        actions.append(Action("signup:cancel", say("signup.cancel_button", lang)))
        return self._reply("\n".join(lines), lang, tuple(actions))

    async def _pick(self, key: str, session_id: str, lang: str, waitlist: bool) -> Reply:
        session = self._open_session(session_id)
        if session is None:
            reply = await self._start(key, lang)
            return replace(reply, text=say("signup.not_available", lang) + "\n\n" + reply.text)
        existing = await self.store.active_booking(key, session_id)
        if existing is not None:
            await self.store.clear_flow(key)
            return await self._already(existing, session, lang)
        booked, waiting = await self.store.counts(session_id)
        full = booked >= session.capacity or waiting > 0
        if full and not waitlist:
            offered = [s.id for s in self._upcoming()[:MAX_LISTED]]
            await self._save(key, "pick", {"offered": offered}, lang)
            return self._reply(
                f"{say('signup.session_full', lang)}\n\n{session_card(session, lang)}", lang,
                (Action(f"waitlist:join:{session_id}", say("signup.join_waitlist", lang)),
                 Action("signup", say("signup.other_sessions", lang)),
                 Action("signup:cancel", say("signup.cancel_button", lang))))
        flow = await self._save(key, "consent", {"session": session_id, "waitlist": full}, lang)
        return await self._prompt(flow, lang)

    async def _consent(self, key: str, flow: Flow, agreed: bool, lang: str) -> Reply:
        if not agreed:
            await self.store.clear_flow(key)
            return self._reply(say("signup.declined", lang), lang)
        return await self._prompt(await self._save(key, "name", flow.data, lang), lang)

    async def _confirm(self, key: str, flow: Flow, lang: str, client: str | None = None) -> Reply:
        session = self._open_session(flow.data.get("session", ""))
        if session is None:
            await self.store.clear_flow(key)
            reply = await self._start(key, lang)
            return replace(reply, text=say("signup.not_available", lang) + "\n\n" + reply.text)
        now = self.now()
        try:
            result = await self.store.book(
                session_id=session.id, capacity=session.capacity, user_key=key,
                name=flow.data["name"], phone=flow.data["phone"], lang=lang,
                institution=session.institution.zh, session_start=session.start, now=now,
                client=client, client_limit=self.signups_per_client,
                since=datetime.combine(now.date(), time(0), TZ))
        except BookingRefused as exc:
            await self.store.clear_flow(key)
            log.info("sign-up refused (%s) for phone %s", exc.reason, mask_phone(flow.data["phone"]))
            return self._reply(say("signup.phone_taken" if exc.reason == "phone" else "signup.client_limit",
                                   lang), lang, (self._my_bookings_action(lang),))
        await self.store.clear_flow(key)  # only once the booking is committed
        booking = result.booking
        if not result.created:
            return await self._already(booking, session, lang)
        card = session_card(session, lang)
        actions = (self._my_bookings_action(lang),
                   Action(f"booking:cancel:{booking.code}",
                          say("signup.cancel_booking", lang, code=booking.code)))
        if booking.status == "booked":
            text = (f"{say('signup.booked', lang, code=booking.code)}\n{card}\n"
                    f"{say('signup.booked_tail', lang, time=self.reminder_time.strftime('%H:%M'))}")
        else:
            pos = await self.store.waiting_position(booking)
            text = f"{say('signup.waiting', lang, pos=pos, code=booking.code)}\n{card}"
        return self._reply(text, lang, actions)

    async def _stands(self, key: str, lang: str) -> Reply | None:
        """"Confirm" pressed again after the booking was made: it stands (with its code)."""
        since = self.now() - FLOW_TTL
        recent = [b for b in await self.store.bookings_of(key) if b.created_at >= since]
        if not recent:
            return None
        booking = max(recent, key=lambda b: b.created_at)
        return self._reply(say("signup.booking_stands", lang, code=booking.code), lang, (
            self._my_bookings_action(lang),
            Action(f"booking:cancel:{booking.code}", say("signup.cancel_booking", lang, code=booking.code))))

    async def _already(self, booking: Booking, session: Session, lang: str) -> Reply:
        state = await self._state(booking, session, lang)
        text = f"{say('signup.already', lang, state=state, code=booking.code)}\n{session_card(session, lang)}"
        return self._reply(text, lang, (
            Action(f"booking:cancel:{booking.code}", say("signup.cancel_booking", lang, code=booking.code)),
            self._my_bookings_action(lang)))

    async def _state(self, booking: Booking, session: Session | None, lang: str) -> str:
        if session is None:
            return say("signup.state_gone", lang)
        if booking.status == "waiting":
            return say("signup.state_waiting", lang, pos=await self.store.waiting_position(booking))
        return say("signup.state_booked", lang)

    # ------------------------------------------------------------------ typed answers

    async def _answer_step(self, asker: Asker, flow: Flow, text: str, lang: str,
                           engine: Engine) -> Reply:
        key = flow.user_key
        command = _key(text)
        if flow.step == "pick":
            offered = [s for s in (self._open_session(i) for i in flow.data.get("offered", [])) if s]
            if command.isdigit() and 1 <= int(command) <= len(offered):
                return await self._pick(key, offered[int(command) - 1].id, lang, waitlist=True)
            if command in {s.id for s in offered}:
                return await self._pick(key, command, lang, waitlist=True)
            return await self._aside(asker, flow, text, lang, engine, "choose")
        if flow.step == "consent":
            if command in _YES or command in _NO:
                return await self._consent(key, flow, command in _YES, lang)
            return await self._aside(asker, flow, text, lang, engine, "choose")
        if flow.step == "name":
            name = clean_name(text)
            if name is not None and not _QUESTION.search(name):
                reply = engine.ask(text, asker.lang)
                answered = reply.status is Status.ANSWER and (
                    reply.kind != "knowledge" or not _name_shaped(name))
                if not answered:
                    data = {**flow.data, "name": name}
                    return await self._prompt(await self._save(key, "phone", data, lang), lang)
            return await self._aside(asker, flow, text, lang, engine, "bad_name")
        if flow.step == "phone":
            phone = normalize_phone(text)
            if phone is not None:
                data = {**flow.data, "phone": phone}
                return await self._prompt(await self._save(key, "confirm", data, lang), lang)
            if _looks_like_number(text):
                return await self._prompt(flow, lang, error="bad_phone")
            return await self._aside(asker, flow, text, lang, engine, "bad_phone")
        if flow.step == "confirm":
            if command in _YES:
                return await self._confirm(key, flow, lang, asker.client)
            if command in _NO:
                await self.store.clear_flow(key)
                return self._reply(say("signup.cancelled_flow", lang), lang)
            return await self._aside(asker, flow, text, lang, engine, "choose")
        await self.store.clear_flow(key)  # a step this version does not know
        return self._expired(lang)

    async def _aside(self, asker: Asker, flow: Flow, text: str, lang: str, engine: Engine,
                     error: str) -> Reply:
        """Not an answer to the step: a knowledge question is answered and the step asked
        again; anything else gets the step again with what went wrong."""
        reply = engine.ask(text, asker.lang)
        if reply.status is Status.ANSWER:
            prompt = await self._prompt(flow, lang)
            return replace(reply, text=f"{reply.text}\n\n{say('signup.aside', lang)}\n{prompt.text}",
                           actions=prompt.actions)
        return await self._prompt(flow, lang, error=error)

    async def _prompt(self, flow: Flow, lang: str, error: str | None = None) -> Reply:
        """The question of the current step (after what went wrong, if anything)."""
        cancel = Action("signup:cancel", say("signup.cancel_button", lang))
        if flow.step == "pick":
            reply = await self._list(flow, lang)
        else:
            session = self._open_session(flow.data.get("session", ""))
            if session is None:
                await self.store.clear_flow(flow.user_key)
                reply = await self._start(flow.user_key, lang)
                return replace(reply, text=say("signup.not_available", lang) + "\n\n" + reply.text)
            note = "\n" + say("signup.waitlist_note", lang) if flow.data.get("waitlist") else ""
            card = session_card(session, lang)
            if flow.step == "consent":
                channel = flow.user_key.partition(":")[0]  # how to delete is said per channel
                consent = say("signup.consent", lang, forget_how=say(
                    "signup.forget_how", lang, channel=channel))
                reply = self._reply(f"{say('signup.you_chose', lang)}\n{card}{note}\n\n{consent}", lang,
                    (Action("signup:consent:yes", say("signup.agree", lang)),
                     Action("signup:consent:no", say("signup.disagree", lang))))
            elif flow.step == "name":
                reply = self._reply(say("signup.ask_name", lang), lang, (cancel,))
            elif flow.step == "phone":
                reply = self._reply(say("signup.ask_phone", lang), lang, (cancel,))
            else:
                text = "\n".join([
                    say("signup.confirm_head", lang), card + note,
                    say("signup.visitor", lang, name=flow.data.get("name", "")),
                    say("signup.mobile", lang, phone=format_phone(flow.data.get("phone", ""))),
                    say("signup.confirm_tail", lang)])
                reply = self._reply(text, lang, (Action("signup:confirm", say("signup.confirm", lang)),
                                                 cancel))
        if error is not None:
            said = say("signup." + error, lang)
            reply = replace(reply, text=f"{said}\n\n{reply.text}" if error == "choose" else said)
        return reply

    # ------------------------------------------------------------------ bookings

    def _my_bookings_action(self, lang: str) -> Action:
        return Action("bookings", say("signup.my_bookings", lang))

    async def _bookings(self, key: str, lang: str) -> Reply:
        bookings = await self.store.bookings_of(key)
        forget = Action("forget", say("signup.forget_button", lang))
        if not bookings:
            return self._reply(say("signup.no_bookings", lang), lang,
                               (Action("signup", say("signup.invite", lang)), forget))
        sessions = self.open_day.by_id
        lines = [say("signup.bookings_head", lang)]
        actions = []
        for n, booking in enumerate(bookings, 1):
            session = sessions.get(booking.session_id)
            start = session.start if session else booking.session_start
            end = session.end if session else None
            state = await self._state(booking, session, lang)
            when = when_text(start, end, lang) if start else "?"
            lines.append(f"{n}. [{state}] {booking.code} · {institution_of(booking, session, lang)}"
                         f" · {when}")
            actions.append(Action(f"booking:cancel:{booking.code}",
                                  say("signup.cancel_booking", lang, code=booking.code)))
        return self._reply("\n".join(lines), lang, (*actions, forget))

    async def _own_booking(self, key: str, code: str) -> Booking | None:
        booking = await self.store.booking(code.strip().upper())
        if booking is None or booking.user_key != key or not booking.active:
            return None
        return booking

    async def _cancel_ask(self, key: str, code: str, lang: str) -> Reply:
        booking = await self._own_booking(key, code)
        if booking is None:
            return self._reply(say("signup.no_such_booking", lang), lang, (self._my_bookings_action(lang),))
        session = self.open_day.by_id.get(booking.session_id)
        if session is not None:
            card = session_card(session, lang)
        else:
            start = when_text(booking.session_start, None, lang) if booking.session_start else ""
            card = (f"{institution_of(booking, None, lang)} {start}\n"
                    f"({say('signup.state_gone', lang)})")
        return self._reply(say("signup.cancel_ask", lang, code=booking.code, card=card), lang, (
            Action(f"booking:cancel-yes:{booking.code}", say("signup.cancel_yes", lang)),
            Action(f"booking:keep:{booking.code}", say("signup.cancel_no", lang))))

    async def _cancel(self, key: str, code: str, lang: str) -> Reply:
        booking = await self._own_booking(key, code)
        if booking is None:
            return self._reply(say("signup.no_such_booking", lang), lang, (self._my_bookings_action(lang),))
        session = self._open_session(booking.session_id)
        result = await self.store.cancel(
            booking.code, user_key=key, capacity=session.capacity if session else None,
            now=self.now(), message_for=self._promoted_draft)
        if result is None:
            return self._reply(say("signup.no_such_booking", lang), lang, (self._my_bookings_action(lang),))
        return self._reply(say("signup.cancelled", lang, code=booking.code), lang,
                           (self._my_bookings_action(lang),))

    def _promoted_draft(self, booking: Booking) -> Draft:
        lang = booking.lang
        session = self.open_day.by_id.get(booking.session_id)
        card = session_card(session, lang) if session else institution_of(booking, None, lang)
        return Draft("promoted", f"{say('signup.promoted', lang, code=booking.code)}\n{card}", lang, (
            ("bookings", say("signup.my_bookings", lang)),
            (f"booking:cancel:{booking.code}", say("signup.cancel_booking", lang, code=booking.code))))

    # ------------------------------------------------------------------ personal data

    def _forget_ask(self, lang: str) -> Reply:
        return self._reply(say("signup.forget_ask", lang), lang, (
            Action("forget:yes", say("signup.forget_yes", lang)),
            Action("forget:no", say("signup.forget_no", lang))))

    async def _forget(self, key: str, lang: str) -> Reply:
        capacities = {s.id: s.capacity for s in self._upcoming()}
        result = await self.store.forget(key, capacities, self.now(), self._promoted_draft)
        return self._reply(say("signup.forgotten", lang, n=result.bookings), lang)

    async def _notify(self, key: str, lang: str) -> Reply:
        added = await self.store.add_notify_request(key, lang, self.now())
        return self._reply(say("signup.notify_saved" if added else "signup.notify_already", lang), lang)

    # ------------------------------------------------------------------ replies

    @staticmethod
    def _reply(text: str, lang: str, actions: tuple[Action, ...] = ()) -> Reply:
        return Reply(Status.ANSWER, text, lang, kind=KIND, actions=actions)

    def _expired(self, lang: str) -> Reply:
        return self._reply(say("signup.expired", lang), lang, (Action("signup", say("signup.invite", lang)),))

    # ------------------------------------------------------------------ outbox (pull)

    async def take_messages(self, asker: Asker, limit: int = 20) -> list[Reply]:
        """Messages waiting for this person (for a channel that pulls, like the web chat);
        they count as delivered once returned."""
        key = user_key(asker.channel, asker.user_id)
        messages = await self.store.take_messages(key, self.now(), limit=limit)
        return [message_reply(m) for m in messages]

    # ------------------------------------------------------------------ staff

    async def session_summaries(self, actor: str | None = None) -> list[SessionSummary]:
        """Every listed session (seats taken / left, waiting) and every session that still has
        bookings but is no longer listed. With ``actor``, the view is logged as an admin action."""
        counts = await self.store.session_counts()
        out = []
        for session in sorted(self.open_day.sessions, key=lambda s: (s.start, s.id)):
            count = counts.pop(session.id, None)
            out.append(SessionSummary(session.id, session.institution.zh, session.start,
                                      session.capacity, count.booked if count else 0,
                                      count.waiting if count else 0))
        for count in sorted(counts.values(), key=lambda c: (c.session_start or self.now(),
                                                             c.session_id)):
            out.append(SessionSummary(count.session_id, count.institution, count.session_start,
                                      None, count.booked, count.waiting))
        if actor is not None:
            await self.store.log_admin(actor, "sessions", f"{len(out)} session(s)", self.now())
        return out

    async def export_csv(self, session_id: str | None = None, actor: str | None = None) -> bytes:
        """The bookings as CSV (UTF-8 with BOM, so Excel opens it), one session or all.

        Columns: code, session, institution, start, name, phone, status, created. With
        ``actor``, the export is logged as an admin action (who, when, what)."""
        rows = await self.store.export_rows(session_id)
        sessions = self.open_day.by_id
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for b in rows:
            session = sessions.get(b.session_id)
            start = session.start if session else b.session_start
            writer.writerow([
                b.code, b.session_id, safe_cell(session.institution.zh if session else b.institution),
                start.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if start else "",
                safe_cell(b.name), b.phone, b.status,
                b.created_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")])
        if actor is not None:
            await self.store.log_admin(actor, "export", f"session={session_id or 'all'} "
                                       f"rows={len(rows)}", self.now())
        return ("\ufeff" + out.getvalue()).encode("utf-8")

    async def admin_cancel(self, code: str, actor: str) -> Booking | None:
        """Staff release a booking (a suspicious one, say): cancelled, the seat goes to the
        first person waiting, the citizen is told through the outbox, the action is logged."""
        booking = await self.store.booking(code.strip().upper())
        if booking is None or not booking.active:
            return None
        session = self._open_session(booking.session_id)
        result = await self.store.cancel(
            booking.code, user_key=None, capacity=session.capacity if session else None,
            now=self.now(), message_for=self._promoted_draft)
        if result is None:
            return None
        await self.store.enqueue(booking.user_key, Draft(
            "cancelled-by-staff", say("signup.admin_cancelled", booking.lang, code=booking.code),
            booking.lang, (("signup", say("signup.invite", booking.lang)),)), self.now(),
            dedupe=f"staff-cancel:{booking.code}")
        await self.store.log_admin(actor, "cancel", f"booking={booking.code} "
                                   f"session={booking.session_id}", self.now())
        return booking

    # ------------------------------------------------------------------ maintenance

    def reminder_due(self, start: datetime) -> datetime:
        """When a session's reminder goes out: the day before, at REMINDER_TIME."""
        day = start.astimezone(TZ).date() - timedelta(days=1)
        return datetime.combine(day, self.reminder_time, TZ)

    async def _reminder_plan(self) -> list[tuple[Booking, Session, datetime]]:
        now = self.now()
        sessions = {s.id: s for s in self.open_day.sessions if s.start > now}
        plan = []
        for booking in await self.store.unreminded(sessions):
            session = sessions[booking.session_id]
            due = self.reminder_due(session.start)
            if booking.booked_at is not None and booking.booked_at >= due:
                continue  # booked after the reminder time: the confirmation said it all
            plan.append((booking, session, due))
        return plan

    async def next_reminder_due(self) -> datetime | None:
        dues = [due for _, _, due in await self._reminder_plan()]
        return min(dues) if dues else None

    async def send_due_reminders(self) -> int:
        """Hand every due reminder to the outbox, marking it sent in the same transaction."""
        now = self.now()
        sent = 0
        for booking, session, due in await self._reminder_plan():
            if due <= now and await self.store.remind(booking.code,
                                                      self._reminder_draft(booking, session), now):
                sent += 1
                log.info("reminder for booking %s queued", booking.code)
        return sent

    def _reminder_draft(self, booking: Booking, session: Session) -> Draft:
        lang = booking.lang
        text = (f"{say('signup.reminder', lang, code=booking.code)}\n{session_card(session, lang)}\n"
                f"{say('signup.reminder_tail', lang)}")
        return Draft("reminder", text, lang, (
            (f"booking:cancel:{booking.code}", say("signup.cancel_booking", lang, code=booking.code)),))

    async def notify_new_sessions(self) -> int:
        """Tell everyone who asked, once, when there are sessions with seats to sign up for."""
        requests = await self.store.notify_requests()
        if not requests:
            return 0
        open_seats = False
        for session in self._upcoming():
            booked, waiting = await self.store.counts(session.id)
            open_seats = open_seats or (booked < session.capacity and not waiting)
        if not open_seats:
            return 0
        now = self.now()
        told = 0
        for key, lang in requests:
            draft = Draft("sessions-added", say("signup.sessions_added", lang), lang,
                          (("signup", say("signup.invite", lang)),))
            told += await self.store.fulfil_notify_request(key, draft, now)
        return told

    async def promote_waiting(self) -> int:
        """Seats freed by a capacity increase in open_day.yaml go to the waiting lists."""
        now = self.now()
        promoted = 0
        for session in self._upcoming():
            promoted += len(await self.store.promote(session.id, session.capacity, now,
                                                     self._promoted_draft))
        return promoted

    async def purge(self) -> None:
        """Drop abandoned flows, and bookings (and old messages) past the retention period."""
        now = self.now()
        await self.store.purge_flows(now - FLOW_TTL)
        await self.store.purge_bookings(now - RETENTION)
        await self.store.purge_outbox(now - RETENTION)

    async def maintain(self) -> None:
        """Everything the scheduler does on each wake-up; one failing part does not stop the rest."""
        sessions = {s.id: (s.institution.zh, s.start) for s in self.open_day.sessions}
        steps: list[Callable[[], Awaitable[Any]]] = [
            lambda: self.store.sync_sessions(sessions), self.promote_waiting,
            self.send_due_reminders, self.notify_new_sessions, self.purge]
        for step in steps:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except StoreUnavailable:
                pass  # the store logs an unwritable database once a minute
            except Exception:
                log.exception("open-day maintenance step failed; retrying on the next wake-up")


def invitation(reply: Reply, open_day: OpenDay, question: str | None = None) -> Reply:
    """``reply`` with the "sign up for the open day" button when it is about the open day,
    quality literacy, or inspection and testing (``invite`` in open_day.yaml)."""
    if reply.kind in ("empty", "too_long") or any(a.id == "signup" for a in reply.actions):
        return reply
    if not invites(open_day, reply.entry_id, question):
        return reply
    return replace(reply, actions=(*reply.actions, Action("signup", say("signup.invite", reply.lang))))


def invites(open_day: OpenDay, entry_id: str | None, question: str | None) -> bool:
    """True when a reply should carry the sign-up button (open_day.yaml's ``invite``)."""
    if entry_id is not None and entry_id in open_day.invite.entries:
        return True
    if not question:
        return False
    text = Normalizer.base(question)
    for word in open_day.invite.words:
        base = Normalizer.base(word)
        if not base:
            continue
        if base.isascii():
            if re.search(rf"(?<![a-z0-9]){re.escape(base)}(?:s|es)?(?![a-z0-9])", text):
                return True
        elif base.replace(" ", "") in text.replace(" ", ""):
            return True
    return False


def _looks_like_number(text: str) -> bool:
    """Mostly digits: a phone number typed wrong rather than a question."""
    compact = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).lstrip("+")
    digits = sum(ch.isdigit() for ch in compact)
    return digits >= 5 and digits >= 0.8 * len(compact)


__all__ = ["ACTION_KINDS", "CSV_COLUMNS", "FLOW_TTL", "KIND", "RETENTION", "Dialogue", "Notifier",
           "PermanentDeliveryError", "Scheduler", "SessionSummary", "clean_name", "deliver_outbox",
           "format_summaries", "invitation", "invites", "mask_phone", "message_reply", "normalize_phone",
           "open_day_of", "run_outbox"]
