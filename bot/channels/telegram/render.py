"""Telegram rendering: a :class:`~bot.engine.Reply` as HTML messages and inline keyboards.

Everything here is about how a reply looks in Telegram, nothing about what it says (that is
decided once, in the conversation, for every channel): knowledge text escaped, suggestions and
actions as buttons (👍/👎 on one compact row), long texts cut where Telegram allows, and the
topic keyboard whose labels come from :mod:`bot.messages`.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
)
from telegram.constants import MessageLimit

from bot.engine import Reply, Status
from bot.messages import say

log = logging.getLogger("bot.telegram")

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup
CALLBACK_DATA_BYTES = 64  # Telegram's limit for callback_data
FEEDBACK_PREFIX = "fb:"  # 👍 / 👎 under an answer: one compact row
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # links are sources, not the answer


@dataclass(frozen=True)
class MenuItem:
    """A button of the topic keyboard; pressing it sends ``zh`` or ``en`` as a text message."""

    zh: str
    en: str
    does: str  # "topics" (smalltalk.yaml's menu), "services", "events" or "open-day"


MENU = tuple(MenuItem(say(f"telegram.menu.{key}", "zh"), say(f"telegram.menu.{key}", "en"), does)
             for key, does in (("topics", "topics"), ("services", "services"),
                               ("events", "events"), ("open_day", "open-day")))
MENU_BY_LABEL = {label: item for item in MENU for label in (item.zh, item.en)}


def esc(text: str) -> str:
    return html.escape(text, quote=False)


# ---------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Outgoing:
    """One message to send: HTML text (already escaped) and its keyboard."""

    text: str
    markup: Markup | None = None


def menu_keyboard(lang: str) -> ReplyKeyboardMarkup:
    labels = [item.en if lang == "en" else item.zh for item in MENU]
    return ReplyKeyboardMarkup([labels[:2], labels[2:]], resize_keyboard=True)


def button(label: str, data: str) -> InlineKeyboardButton | None:
    if len(data.encode()) > CALLBACK_DATA_BYTES:
        log.warning("button %r left out: callback data over %d bytes", label, CALLBACK_DATA_BYTES)
        return None
    return InlineKeyboardButton(label, callback_data=data)


def render(reply: Reply, *, private: bool = True) -> list[Outgoing]:
    """A reply as Telegram messages: escaped text and links, buttons on the last piece."""
    lines = [esc(reply.text)]
    lines += [f'<a href="{html.escape(x.url)}">{esc(x.title)}</a>' for x in reply.links]
    choices = [(s.text, f"entry:{s.entry_id}") for s in reply.suggestions]
    if reply.status is Status.CLARIFY:
        choices.append((say("telegram.none", reply.lang), "none"))
    choices += [(a.label, a.id) for a in reply.actions]
    rows: list[list[InlineKeyboardButton]] = []
    feedback: list[InlineKeyboardButton] | None = None  # 👍 and 👎 share one row
    for label, data in choices:
        if (b := button(label, data)) is None:
            continue
        if data.startswith(FEEDBACK_PREFIX):
            if feedback is None:
                feedback = []
                rows.append(feedback)
            feedback.append(b)
        else:
            rows.append([b])
    markup: Markup | None = InlineKeyboardMarkup(rows) if rows else None
    if markup is None and reply.status is Status.FALLBACK and private:
        markup = menu_keyboard(reply.lang)
    return pack(split_text("\n".join(lines)), markup)


def plain(text: str, markup: Markup | None = None) -> list[Outgoing]:
    return pack(split_text(esc(text)), markup)


def pack(chunks: list[str], markup: Markup | None) -> list[Outgoing]:
    return [Outgoing(c) for c in chunks[:-1]] + [Outgoing(chunks[-1], markup)]


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Pieces of at most ``limit`` UTF-16 units (Telegram's measure), cut between lines.

    Only a single line longer than the limit is cut inside, never within an HTML tag or entity.
    """
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        while _units(line) > limit:
            cut = _cut_point(line, limit)
            chunks.extend(["\n".join(current), line[:cut]] if current else [line[:cut]])
            current, size, line = [], 0, line[cut:]
        extra = _units(line) + (1 if current else 0)
        if current and size + extra > limit:
            chunks.append("\n".join(current))
            current, size, extra = [], 0, _units(line)
        current.append(line)
        size += extra
    chunks.append("\n".join(current))
    return [c for c in (c.strip("\n") for c in chunks) if c.strip()] or [text[:limit]]


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut_point(line: str, limit: int) -> int:
    cut = limit
    while (over := _units(line[:cut]) - limit) > 0:
        cut -= (over + 1) // 2  # a character is one or two UTF-16 units
    head = line[:cut]
    for opener, closer in (("&", ";"), ("<", ">")):
        start = head.rfind(opener)
        if start > head.rfind(closer) and start > 0:
            cut = min(cut, start)
    return max(cut, 1)
