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
reminders, new sessions) go to the database's outbox; a channel delivers them with
:func:`deliver_outbox` and a :class:`Notifier`, or pulls them with
:meth:`Dialogue.take_messages`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any, Protocol

from bot.asker import Asker
from bot.engine import Action, Engine, Reply, Status
from bot.kb import TZ, Bilingual, Knowledge, OpenDay, Session
from bot.store import (
    Booking,
    BookingRefused,
    Draft,
    Flow,
    OutboxMessage,
    Store,
    StoreUnavailable,
    mask_phone,
    user_key,
)
from bot.text import Normalizer, detect_language, to_simplified, to_traditional

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
    value = knowledge.extras.get("open_day")
    return value if isinstance(value, OpenDay) else OpenDay()


# --------------------------------------------------------------------------- messages

_T: dict[str, tuple[str, str]] = {
    "invite": ("报名开放日", "Sign up for the open day"),
    "list_head": ("检验检测机构开放日，可以报名的场次：", "Open days at inspection and testing "
                  "institutions — sessions you can sign up for:"),
    "list_tail": ("请点选一个场次（也可以输入序号）。发送“取消”退出报名。",
                  "Pick a session (or type its number). Type “cancel” to stop."),
    "seats_left": ("剩余名额：{n}", "Seats left: {n}"),
    "full": ("已约满，可以登记候补（目前{w}人候补）", "Full — you can join the waiting list "
             "({w} waiting)"),
    "yours": ("（您已报名这个场次）", "(you are signed up for this one)"),
    "pick_label": ("{n}. {date} {inst}", "{n}. {date} {inst}"),
    "wait_label": ("{n}. 候补 {date} {inst}", "{n}. Waiting list {date} {inst}"),
    "cancel_button": ("取消报名", "Stop signing up"),
    "none_upcoming": ("目前没有可以报名的开放日场次。需要的话，有新场次时我们通知您一次。",
                      "There are no open-day sessions to sign up for at the moment. If you "
                      "like, we will tell you once when sessions are added."),
    "notify_button": ("有新场次时通知我", "Tell me when sessions are added"),
    "notify_saved": ("好的，有新的开放日场次时会通知您一次。发送“删除我的信息”可以随时撤回。",
                     "All right: we will tell you once when open-day sessions are added. "
                     "Send “delete my data” to withdraw this at any time."),
    "notify_already": ("您已经登记过了，有新场次时会通知您。",
                       "You are already on the list; we will tell you when sessions are added."),
    "sessions_added": ("检验检测机构开放日有新的场次可以报名了。", "New open-day sessions are "
                       "open for sign-up."),
    "not_available": ("抱歉，这个场次已经不能报名了（已开始、已结束或已取消）。",
                      "Sorry, that session can no longer be booked (it has started, ended or "
                      "been withdrawn)."),
    "session_full": ("这个场次已经约满了。您可以登记候补：有人取消时按顺序递补，递补成功会通知您。",
                     "That session is full. You can join its waiting list: when someone "
                     "cancels, the first person waiting gets the seat and is told."),
    "join_waitlist": ("登记候补", "Join the waiting list"),
    "other_sessions": ("看看其他场次", "See other sessions"),
    "consent": ("报名需要收集参观人的姓名和手机号码，仅用于核对报名和入场、活动前一天提醒，"
                "以及场次变动时通知您，不作其他用途，也不会公开。信息保存到活动结束后30天，"
                "之后自动删除。您随时可以删除自己的全部信息：发送“删除我的信息”"
                "（Telegram 中发送 /forget，网页聊天中点“删除我的信息”按钮）。\n是否同意并继续？",
                "To sign up we collect the visitor's name and mobile number. They are used only "
                "to check sign-ups and admission, to remind you the day before and to tell you "
                "if the session changes — nothing else, and they are never published. They are "
                "kept until 30 days after the session, then deleted automatically. You can "
                "delete all your data at any time: send “delete my data” (/forget on Telegram, "
                "or the “Delete my data” button in the web chat).\nDo you agree and continue?"),
    "waitlist_note": ("（这个场次已约满，报名后将登记候补。）",
                      "(This session is full: you will be put on its waiting list.)"),
    "you_chose": ("您选择的场次：", "Your session:"),
    "agree": ("同意并继续", "Agree and continue"),
    "disagree": ("不同意", "Do not agree"),
    "declined": ("好的，已停止报名，没有保存您的任何信息。", "All right, sign-up stopped; nothing "
                 "about you was stored."),
    "ask_name": ("请输入参观人的姓名（1–30个字）。", "Please type the visitor's name "
                 "(1–30 characters)."),
    "bad_name": ("姓名需要是1–30个字，只包含文字（可以有空格、间隔号“·”或连字符），"
                 "例如：王小明。", "A name is 1–30 characters of letters (spaces, hyphens, "
                 "apostrophes and dots allowed), for example: Li Ming."),
    "ask_phone": ("请输入手机号码（中国大陆手机号，例如：13812345678）。",
                  "Please type a mobile number (mainland China, for example: 13812345678 or "
                  "+86 138 1234 5678)."),
    "bad_phone": ("这个号码看起来不对。请输入11位中国大陆手机号，以1开头，例如：13812345678"
                  "（可以带+86，可以有空格或短横线）。", "That number does not look right. Please "
                  "type an 11-digit mainland China mobile number starting with 1, for example "
                  "13812345678 (with or without +86; spaces and dashes are fine)."),
    "confirm_head": ("请核对报名信息：", "Please check your sign-up:"),
    "visitor": ("参观人：{name}", "Visitor: {name}"),
    "mobile": ("手机号码：{phone}", "Mobile: {phone}"),
    "confirm_tail": ("信息无误请点“确认报名”。", "If everything is right, press “Confirm”."),
    "confirm": ("确认报名", "Confirm"),
    "choose": ("请点下面的按钮选择。", "Please use the buttons below."),
    "cancelled_flow": ("已退出报名，没有保存任何信息。", "Sign-up stopped; nothing was saved."),
    "booked": ("报名成功！\n预约码：{code}", "You are signed up!\nBooking code: {code}"),
    "booked_tail": ("活动前一天{time}会给您发提醒。发送“我的预约”可以查看或取消。",
                    "We will remind you at {time} the day before. Send “my bookings” to see or "
                    "cancel it."),
    "waiting": ("这个场次已经约满，已为您登记候补，目前排第{pos}位。有人取消时按顺序递补，"
                "递补成功会通知您。\n候补编号：{code}", "That session is full, so you are on its "
                "waiting list, number {pos}. When someone cancels, the first person waiting "
                "gets the seat and is told.\nWaiting-list code: {code}"),
    "already": ("您已经报名了这个场次（{state}，预约码 {code}）。每人每个场次只能报名一次。",
                "You have already signed up for this session ({state}, code {code}). One "
                "sign-up per person per session."),
    "state_booked": ("已预约", "booked"),
    "state_waiting": ("候补第{pos}位", "waiting list, number {pos}"),
    "state_gone": ("场次已不在列表中", "session no longer listed"),
    "my_bookings": ("我的预约", "My bookings"),
    "bookings_head": ("您的预约：", "Your bookings:"),
    "no_bookings": ("您目前没有预约。", "You have no bookings."),
    "cancel_booking": ("取消 {code}", "Cancel {code}"),
    "cancel_ask": ("确定要取消预约 {code} 吗？\n{card}", "Cancel booking {code}?\n{card}"),
    "cancel_yes": ("确定取消", "Yes, cancel it"),
    "cancel_no": ("保留预约", "Keep it"),
    "cancelled": ("已取消预约 {code}。", "Booking {code} is cancelled."),
    "kept": ("好的，预约保留。", "All right, the booking stays."),
    "no_such_booking": ("没有找到这个预约，可能已经取消了。", "That booking was not found; it may "
                        "already be cancelled."),
    "promoted": ("好消息：您候补的开放日场次有名额了，已为您转为正式预约。\n预约码：{code}",
                 "Good news: a seat has come free, and your waiting-list place is now a "
                 "booking.\nBooking code: {code}"),
    "reminder": ("提醒：您预约的开放日就在明天。\n预约码：{code}",
                 "Reminder: your open-day visit is tomorrow.\nBooking code: {code}"),
    "reminder_tail": ("如果不能参加，请取消预约，把名额留给其他市民。",
                      "If you cannot come, please cancel so that someone else can have the "
                      "seat."),
    "forget_ask": ("确定要删除我们保存的您的全部信息吗？这会同时取消您的所有预约和候补，"
                   "无法恢复。", "Delete everything we store about you? This also cancels all "
                   "your bookings and waiting-list places, and cannot be undone."),
    "forget_yes": ("确定删除", "Yes, delete"),
    "forget_no": ("不删除", "No"),
    "forget_button": ("删除我的信息", "Delete my data"),
    "forgotten": ("已删除您的全部信息（{n}条预约记录）。", "Everything we stored about you is "
                  "deleted ({n} booking records)."),
    "not_forgotten": ("好的，什么都没有删除。", "All right, nothing was deleted."),
    "aside": ("—— 您正在报名开放日，请继续：", "— You are signing up for the open day; to "
              "continue:"),
    "expired": ("这一步已经失效了（报名30分钟没有完成会自动取消）。请重新报名。",
                "That step has expired (a sign-up left for 30 minutes is dropped). Please start "
                "again."),
    "unidentified": ("暂时无法识别您的会话，不能报名。请刷新页面后再试。",
                     "We cannot tell who you are in this chat, so sign-up is not possible. "
                     "Please reload the page and try again."),
    "unavailable": ("这里暂时不能报名开放日。", "Open-day sign-up is not available here."),
    "storage_down": ("暂时无法报名，请稍后再试。", "Sign-up is not possible just now; please try "
                     "again later."),
    "phone_taken": ("这个手机号码已经报名了这个场次。每个手机号码每个场次只能报名一次。",
                    "That mobile number is already signed up for this session. One sign-up "
                    "per mobile number per session."),
    "client_limit": ("今天从这个网络报名的次数已经达到上限，请明天再试，或通过 Telegram 报名。",
                     "Today's limit of sign-ups from this network has been reached; please try "
                     "again tomorrow, or sign up on Telegram."),
    "booking_stands": ("您的报名已经成功，预约仍然有效。\n预约码：{code}",
                       "You are signed up; your booking stands.\nBooking code: {code}"),
    "admin_cancelled": ("您的开放日预约 {code} 已被工作人员取消。如有疑问，请联系主办单位；"
                        "也可以重新报名。", "Your open-day booking {code} was cancelled by the "
                        "organisers. If you have questions, please contact them; you can also "
                        "sign up again."),
    "label_when": ("时间：", "When: "),
    "label_where": ("地址：", "Where: "),
    "label_see": ("参观内容：", "You will see: "),
    "label_age": ("年龄要求：", "Age: "),
    "label_notes": ("备注：", "Notes: "),
    "age_range": ("{a}–{b}岁", "{a} to {b} years old"),
    "age_min": ("{a}岁及以上", "{a} years and over"),
    "age_max": ("{b}岁及以下", "up to {b} years old"),
}


def say(key: str, lang: str, **values: Any) -> str:
    zh, en = _T[key]
    if lang == "en":
        return en.format(**values)
    text = zh.format(**values)
    return to_traditional(text) if lang == "zh-hant" else text


def pick(text: Bilingual | None, lang: str) -> str:
    if text is None:
        return ""
    if lang == "en" and text.en:
        return text.en
    return to_traditional(text.zh) if lang == "zh-hant" else text.zh


_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")


def when_text(start: datetime, end: datetime | None, lang: str) -> str:
    start = start.astimezone(TZ)
    if lang == "en":
        text = f"{_EN_DAYS[start.weekday()]} {start.day} {_EN_MONTHS[start.month - 1]} {start.year}"
        text += f", {start:%H:%M}"
    else:
        text = f"{start.year}年{start.month}月{start.day}日（星期{'一二三四五六日'[start.weekday()]}）"
        text += f"{start:%H:%M}"
    if end is not None:
        end = end.astimezone(TZ)
        if end.date() != start.date():
            text += f" – {when_text(end, None, lang)}"
        else:
            text += f"–{end:%H:%M}"
    if lang == "en":
        text += " (Beijing time)"
    return to_traditional(text) if lang == "zh-hant" else text


def short_date(start: datetime, lang: str) -> str:
    start = start.astimezone(TZ)
    if lang == "en":
        return f"{start.day} {_EN_MONTHS[start.month - 1][:3]} {start:%H:%M}"
    return f"{start.month}月{start.day}日 {start:%H:%M}"


def session_card(session: Session, lang: str) -> str:
    lines = [pick(session.institution, lang),
             say("label_when", lang) + when_text(session.start, session.end, lang),
             say("label_where", lang) + pick(session.address, lang),
             say("label_see", lang) + pick(session.see, lang)]
    a, b = session.min_age, session.max_age
    if a is not None or b is not None:
        key = "age_range" if a is not None and b is not None else "age_min" if a is not None \
            else "age_max"
        lines.append(say("label_age", lang) + say(key, lang, a=a, b=b))
    if session.notes is not None:
        lines.append(say("label_notes", lang) + pick(session.notes, lang))
    return "\n".join(lines)


def _institution_of(booking: Booking, session: Session | None, lang: str) -> str:
    if session is not None:
        return pick(session.institution, lang)
    return to_traditional(booking.institution) if lang == "zh-hant" else booking.institution


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


def format_phone(phone: str) -> str:
    return f"{phone[:3]} {phone[3:7]} {phone[7:]}" if len(phone) == 11 else phone


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


# --------------------------------------------------------------------------- admin views


@dataclass(frozen=True)
class SessionSummary:
    session_id: str
    institution: str
    start: datetime | None
    capacity: int | None  # None: the session is no longer in open_day.yaml
    booked: int
    waiting: int

    @property
    def listed(self) -> bool:
        return self.capacity is not None

    @property
    def left(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.booked, 0)


def format_summaries(summaries: list[SessionSummary], lang: str = "zh") -> str:
    """One line per session, for the command line and the admin's /sessions."""
    if not summaries:
        return "没有开放日场次，也没有预约。" if lang != "en" else "No sessions and no bookings."
    lines = []
    for s in summaries:
        start = s.start.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if s.start else "?"
        if lang == "en":
            seats = (f"{s.booked}/{s.capacity} booked, {s.left} left" if s.listed
                     else f"{s.booked} booked, session no longer listed")
            lines.append(f"{s.session_id}  {start}  {s.institution}: {seats}, {s.waiting} waiting")
        else:
            seats = (f"已约{s.booked}/{s.capacity}，剩余{s.left}" if s.listed
                     else f"已约{s.booked}，场次已不在列表中")
            lines.append(f"{s.session_id}  {start}  {s.institution}：{seats}，候补{s.waiting}人")
    return "\n".join(lines)


CSV_COLUMNS = ("code", "session", "institution", "start", "name", "phone", "status", "created")


def _cell(value: str) -> str:
    """Text a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


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
            return self._reply(say("cancelled_flow", lang), lang)
        return await self._answer_step(asker, flow, text, lang, engine)

    async def press(self, asker: Asker, action: str, engine: Engine) -> Reply:
        """A button of the flow (see the module's table of action ids)."""
        key = user_key(asker.channel, asker.user_id)
        kind, _, rest = action.partition(":")
        sub, _, value = rest.partition(":")
        flow = await self._flow(key)
        lang = asker.lang or (flow.lang if flow else "zh")
        if asker.user_id in ANONYMOUS:
            return self._reply(say("unidentified", lang), lang)
        if kind == "signup" and not rest:
            return await self._start(key, lang)
        if (kind, sub) == ("signup", "pick") and value:
            return await self._pick(key, value, lang, waitlist=False)
        if (kind, sub) == ("waitlist", "join") and value:
            return await self._pick(key, value, lang, waitlist=True)
        if (kind, sub) == ("signup", "cancel"):
            await self.store.clear_flow(key)
            return self._reply(say("cancelled_flow", lang), lang)
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
                return self._reply(say("kept", lang), lang, (self._my_bookings_action(lang),))
        if kind == "forget" and not rest:
            return self._forget_ask(lang)
        if kind == "forget" and sub in ("yes", "no"):
            return await self._forget(key, lang) if sub == "yes" else \
                self._reply(say("not_forgotten", lang), lang)
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
        return replace(reply, text=f"{reply.text}\n\n{say('aside', lang)}\n{prompt.text}",
                       actions=prompt.actions)

    def invitation(self, reply: Reply, question: str | None = None) -> Reply:
        """``reply`` with the "sign up for the open day" button when it is about the open day,
        quality literacy, or inspection and testing (``invite`` in open_day.yaml)."""
        if reply.kind in ("empty", "too_long") or any(a.id == "signup" for a in reply.actions):
            return reply
        if not invites(self.open_day, reply.entry_id, question):
            return reply
        return replace(reply, actions=(*reply.actions, Action("signup", say("invite", reply.lang))))

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
            return self._reply(say("none_upcoming", lang), lang,
                               (Action("notify:yes", say("notify_button", lang)),))
        flow = await self._save(key, "pick", {"offered": [s.id for s in sessions]}, lang)
        return await self._prompt(flow, lang)

    async def _list(self, flow: Flow, lang: str) -> Reply:
        lines = [say("list_head", lang)]
        actions = []
        mine = {b.session_id for b in await self.store.bookings_of(flow.user_key)}
        sessions = [s for s in (self._open_session(i) for i in flow.data.get("offered", [])) if s]
        if not sessions:
            return await self._start(flow.user_key, lang)
        for n, session in enumerate(sessions, 1):
            booked, waiting = await self.store.counts(session.id)
            left = session.capacity - booked
            state = say("seats_left", lang, n=left) if left > 0 and not waiting else \
                say("full", lang, w=waiting)
            if session.id in mine:
                state += " " + say("yours", lang)
            lines.append(f"\n{n}. {session_card(session, lang)}\n{state}")
            label_key = "pick_label" if left > 0 and not waiting else "wait_label"
            action = "signup:pick:" if label_key == "pick_label" else "waitlist:join:"
            actions.append(Action(action + session.id, say(
                label_key, lang, n=n, date=short_date(session.start, lang),
                inst=pick(session.institution, lang))))
        lines.append("\n" + say("list_tail", lang))
        actions.append(Action("signup:cancel", say("cancel_button", lang)))
        return self._reply("\n".join(lines), lang, tuple(actions))

    async def _pick(self, key: str, session_id: str, lang: str, waitlist: bool) -> Reply:
        session = self._open_session(session_id)
        if session is None:
            reply = await self._start(key, lang)
            return replace(reply, text=say("not_available", lang) + "\n\n" + reply.text)
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
                f"{say('session_full', lang)}\n\n{session_card(session, lang)}", lang,
                (Action(f"waitlist:join:{session_id}", say("join_waitlist", lang)),
                 Action("signup", say("other_sessions", lang)),
                 Action("signup:cancel", say("cancel_button", lang))))
        flow = await self._save(key, "consent", {"session": session_id, "waitlist": full}, lang)
        return await self._prompt(flow, lang)

    async def _consent(self, key: str, flow: Flow, agreed: bool, lang: str) -> Reply:
        if not agreed:
            await self.store.clear_flow(key)
            return self._reply(say("declined", lang), lang)
        return await self._prompt(await self._save(key, "name", flow.data, lang), lang)

    async def _confirm(self, key: str, flow: Flow, lang: str, client: str | None = None) -> Reply:
        session = self._open_session(flow.data.get("session", ""))
        if session is None:
            await self.store.clear_flow(key)
            reply = await self._start(key, lang)
            return replace(reply, text=say("not_available", lang) + "\n\n" + reply.text)
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
            return self._reply(say("phone_taken" if exc.reason == "phone" else "client_limit",
                                   lang), lang, (self._my_bookings_action(lang),))
        await self.store.clear_flow(key)  # only once the booking is committed
        booking = result.booking
        if not result.created:
            return await self._already(booking, session, lang)
        card = session_card(session, lang)
        actions = (self._my_bookings_action(lang),
                   Action(f"booking:cancel:{booking.code}",
                          say("cancel_booking", lang, code=booking.code)))
        if booking.status == "booked":
            text = (f"{say('booked', lang, code=booking.code)}\n{card}\n"
                    f"{say('booked_tail', lang, time=self.reminder_time.strftime('%H:%M'))}")
        else:
            pos = await self.store.waiting_position(booking)
            text = f"{say('waiting', lang, pos=pos, code=booking.code)}\n{card}"
        return self._reply(text, lang, actions)

    async def _stands(self, key: str, lang: str) -> Reply | None:
        """"Confirm" pressed again after the booking was made: it stands (with its code)."""
        since = self.now() - FLOW_TTL
        recent = [b for b in await self.store.bookings_of(key) if b.created_at >= since]
        if not recent:
            return None
        booking = max(recent, key=lambda b: b.created_at)
        return self._reply(say("booking_stands", lang, code=booking.code), lang, (
            self._my_bookings_action(lang),
            Action(f"booking:cancel:{booking.code}", say("cancel_booking", lang, code=booking.code))))

    async def _already(self, booking: Booking, session: Session, lang: str) -> Reply:
        state = await self._state(booking, session, lang)
        text = f"{say('already', lang, state=state, code=booking.code)}\n{session_card(session, lang)}"
        return self._reply(text, lang, (
            Action(f"booking:cancel:{booking.code}", say("cancel_booking", lang, code=booking.code)),
            self._my_bookings_action(lang)))

    async def _state(self, booking: Booking, session: Session | None, lang: str) -> str:
        if session is None:
            return say("state_gone", lang)
        if booking.status == "waiting":
            return say("state_waiting", lang, pos=await self.store.waiting_position(booking))
        return say("state_booked", lang)

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
                return self._reply(say("cancelled_flow", lang), lang)
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
            return replace(reply, text=f"{reply.text}\n\n{say('aside', lang)}\n{prompt.text}",
                           actions=prompt.actions)
        return await self._prompt(flow, lang, error=error)

    async def _prompt(self, flow: Flow, lang: str, error: str | None = None) -> Reply:
        """The question of the current step (after what went wrong, if anything)."""
        cancel = Action("signup:cancel", say("cancel_button", lang))
        if flow.step == "pick":
            reply = await self._list(flow, lang)
        else:
            session = self._open_session(flow.data.get("session", ""))
            if session is None:
                await self.store.clear_flow(flow.user_key)
                reply = await self._start(flow.user_key, lang)
                return replace(reply, text=say("not_available", lang) + "\n\n" + reply.text)
            note = "\n" + say("waitlist_note", lang) if flow.data.get("waitlist") else ""
            card = session_card(session, lang)
            if flow.step == "consent":
                reply = self._reply(
                    f"{say('you_chose', lang)}\n{card}{note}\n\n{say('consent', lang)}", lang,
                    (Action("signup:consent:yes", say("agree", lang)),
                     Action("signup:consent:no", say("disagree", lang))))
            elif flow.step == "name":
                reply = self._reply(say("ask_name", lang), lang, (cancel,))
            elif flow.step == "phone":
                reply = self._reply(say("ask_phone", lang), lang, (cancel,))
            else:
                text = "\n".join([
                    say("confirm_head", lang), card + note,
                    say("visitor", lang, name=flow.data.get("name", "")),
                    say("mobile", lang, phone=format_phone(flow.data.get("phone", ""))),
                    say("confirm_tail", lang)])
                reply = self._reply(text, lang, (Action("signup:confirm", say("confirm", lang)),
                                                 cancel))
        if error is not None:
            reply = replace(reply, text=f"{say(error, lang)}\n\n{reply.text}"
                            if error == "choose" else f"{say(error, lang)}")
        return reply

    # ------------------------------------------------------------------ bookings

    def _my_bookings_action(self, lang: str) -> Action:
        return Action("bookings", say("my_bookings", lang))

    async def _bookings(self, key: str, lang: str) -> Reply:
        bookings = await self.store.bookings_of(key)
        forget = Action("forget", say("forget_button", lang))
        if not bookings:
            return self._reply(say("no_bookings", lang), lang,
                               (Action("signup", say("invite", lang)), forget))
        sessions = self.open_day.by_id
        lines = [say("bookings_head", lang)]
        actions = []
        for n, booking in enumerate(bookings, 1):
            session = sessions.get(booking.session_id)
            start = session.start if session else booking.session_start
            end = session.end if session else None
            state = await self._state(booking, session, lang)
            when = when_text(start, end, lang) if start else "?"
            lines.append(f"{n}. [{state}] {booking.code} · {_institution_of(booking, session, lang)}"
                         f" · {when}")
            actions.append(Action(f"booking:cancel:{booking.code}",
                                  say("cancel_booking", lang, code=booking.code)))
        return self._reply("\n".join(lines), lang, (*actions, forget))

    async def _own_booking(self, key: str, code: str) -> Booking | None:
        booking = await self.store.booking(code.strip().upper())
        if booking is None or booking.user_key != key or not booking.active:
            return None
        return booking

    async def _cancel_ask(self, key: str, code: str, lang: str) -> Reply:
        booking = await self._own_booking(key, code)
        if booking is None:
            return self._reply(say("no_such_booking", lang), lang, (self._my_bookings_action(lang),))
        session = self.open_day.by_id.get(booking.session_id)
        if session is not None:
            card = session_card(session, lang)
        else:
            start = when_text(booking.session_start, None, lang) if booking.session_start else ""
            card = (f"{_institution_of(booking, None, lang)} {start}\n"
                    f"({say('state_gone', lang)})")
        return self._reply(say("cancel_ask", lang, code=booking.code, card=card), lang, (
            Action(f"booking:cancel-yes:{booking.code}", say("cancel_yes", lang)),
            Action(f"booking:keep:{booking.code}", say("cancel_no", lang))))

    async def _cancel(self, key: str, code: str, lang: str) -> Reply:
        booking = await self._own_booking(key, code)
        if booking is None:
            return self._reply(say("no_such_booking", lang), lang, (self._my_bookings_action(lang),))
        session = self._open_session(booking.session_id)
        result = await self.store.cancel(
            booking.code, user_key=key, capacity=session.capacity if session else None,
            now=self.now(), message_for=self._promoted_draft)
        if result is None:
            return self._reply(say("no_such_booking", lang), lang, (self._my_bookings_action(lang),))
        return self._reply(say("cancelled", lang, code=booking.code), lang,
                           (self._my_bookings_action(lang),))

    def _promoted_draft(self, booking: Booking) -> Draft:
        lang = booking.lang
        session = self.open_day.by_id.get(booking.session_id)
        card = session_card(session, lang) if session else _institution_of(booking, None, lang)
        return Draft("promoted", f"{say('promoted', lang, code=booking.code)}\n{card}", lang, (
            ("bookings", say("my_bookings", lang)),
            (f"booking:cancel:{booking.code}", say("cancel_booking", lang, code=booking.code))))

    # ------------------------------------------------------------------ personal data

    def _forget_ask(self, lang: str) -> Reply:
        return self._reply(say("forget_ask", lang), lang, (
            Action("forget:yes", say("forget_yes", lang)),
            Action("forget:no", say("forget_no", lang))))

    async def _forget(self, key: str, lang: str) -> Reply:
        capacities = {s.id: s.capacity for s in self._upcoming()}
        result = await self.store.forget(key, capacities, self.now(), self._promoted_draft)
        return self._reply(say("forgotten", lang, n=result.bookings), lang)

    async def _notify(self, key: str, lang: str) -> Reply:
        added = await self.store.add_notify_request(key, lang, self.now())
        return self._reply(say("notify_saved" if added else "notify_already", lang), lang)

    # ------------------------------------------------------------------ replies

    @staticmethod
    def _reply(text: str, lang: str, actions: tuple[Action, ...] = ()) -> Reply:
        return Reply(Status.ANSWER, text, lang, kind=KIND, actions=actions)

    def _expired(self, lang: str) -> Reply:
        return self._reply(say("expired", lang), lang, (Action("signup", say("invite", lang)),))

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
                b.code, b.session_id, _cell(session.institution.zh if session else b.institution),
                start.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if start else "",
                _cell(b.name), b.phone, b.status,
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
            "cancelled-by-staff", say("admin_cancelled", booking.lang, code=booking.code),
            booking.lang, (("signup", say("invite", booking.lang)),)), self.now(),
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
        text = (f"{say('reminder', lang, code=booking.code)}\n{session_card(session, lang)}\n"
                f"{say('reminder_tail', lang)}")
        return Draft("reminder", text, lang, (
            (f"booking:cancel:{booking.code}", say("cancel_booking", lang, code=booking.code)),))

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
            draft = Draft("sessions-added", say("sessions_added", lang), lang,
                          (("signup", say("invite", lang)),))
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


# --------------------------------------------------------------------------- scheduler


class Scheduler:
    """The app's background task: reminders, waiting-list promotion, notifications, retention.

    Everything is planned from the database on every wake-up, so a restart neither loses nor
    repeats a reminder. It wakes when the next reminder is due, and at least every
    ``interval`` seconds to pick up new bookings and edits of open_day.yaml.
    """

    def __init__(self, dialogue: Dialogue, interval: float = 60.0,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.dialogue = dialogue
        self.interval = interval
        self._sleep = sleep

    async def wait_seconds(self) -> float:
        due = await self.dialogue.next_reminder_due()
        if due is None:
            return self.interval
        return min(self.interval, max((due - self.dialogue.now()).total_seconds(), 0.0))

    async def run(self) -> None:
        """Until cancelled."""
        while True:
            await self.dialogue.maintain()
            try:
                wait = await self.wait_seconds()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not plan the next reminder")
                wait = self.interval
            await self._sleep(wait)


# --------------------------------------------------------------------------- delivery


class Notifier(Protocol):
    """What a channel implements to deliver outbox messages to its users."""

    async def send(self, user_id: str, reply: Reply) -> None:
        """Deliver or raise; raise :class:`PermanentDeliveryError` when retrying is pointless
        (the user blocked the bot, say)."""
        ...


class PermanentDeliveryError(Exception):
    """The message can never be delivered; the outbox gives up on it."""


def message_reply(message: OutboxMessage) -> Reply:
    return Reply(Status.ANSWER, message.text, message.lang, kind=message.kind,
                 actions=tuple(Action(a, label) for a, label in message.actions))


async def deliver_outbox(store: Store, channel: str, notifier: Notifier, now: datetime,
                         limit: int = 50, max_attempts: int = 5) -> int:
    """Deliver the channel's due outbox messages; returns how many were delivered.

    A message is marked sent right after ``notifier.send`` returns; failures are retried with
    a growing delay, and abandoned after ``max_attempts``."""
    delivered = 0
    for message in await store.pending_messages(now, channel=channel, limit=limit):
        try:
            await notifier.send(message.user_id, message_reply(message))
        except asyncio.CancelledError:
            raise
        except PermanentDeliveryError as exc:
            log.warning("outbox message %d (%s) undeliverable: %s", message.id, message.kind, exc)
            await store.mark_failed(message.id, str(exc), now, None)
            continue
        except Exception as exc:
            attempts = message.attempts + 1
            retry = None if attempts >= max_attempts else now + timedelta(seconds=30 * 2 ** attempts)
            log.warning("outbox message %d (%s) not delivered (attempt %d): %s", message.id,
                        message.kind, attempts, exc)
            await store.mark_failed(message.id, str(exc), now, retry)
            continue
        await store.mark_sent(message.id, now)
        delivered += 1
    return delivered


async def run_outbox(store: Store, channel: str, notifier: Notifier,
                     clock: Callable[[], datetime] | None = None, interval: float = 2.0) -> None:
    """Deliver the channel's outbox every ``interval`` seconds, until cancelled."""
    clock = clock or (lambda: datetime.now(TZ))
    while True:
        try:
            await deliver_outbox(store, channel, notifier, clock())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("outbox delivery for %s failed; retrying", channel)
        await asyncio.sleep(interval)


__all__ = ["ACTION_KINDS", "CSV_COLUMNS", "FLOW_TTL", "KIND", "RETENTION", "Dialogue", "Notifier",
           "PermanentDeliveryError", "Scheduler", "SessionSummary", "clean_name", "deliver_outbox",
           "format_summaries", "invites", "mask_phone", "message_reply", "normalize_phone",
           "open_day_of", "run_outbox", "say"]
