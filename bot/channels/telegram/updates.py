"""Small facts about a Telegram update every handler module needs: the context type, whether
a chat is private, the bot's @mention, answering a button press."""

from __future__ import annotations

import logging
import re
from functools import lru_cache

from telegram import CallbackQuery, InlineKeyboardMarkup
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.channels.telegram.render import FEEDBACK_PREFIX

log = logging.getLogger("bot.telegram")

Context = ContextTypes.DEFAULT_TYPE


async def acknowledge(query: CallbackQuery) -> None:
    """Answer a button press. Telegram refuses a query older than some seconds (pressed while
    the bot was down): the press itself is still handled."""
    try:
        await query.answer()
    except BadRequest as exc:
        log.info("callback query %s not answered: %s", query.id, exc)


async def without_feedback_row(query: CallbackQuery) -> None:
    """Once the vote is in, the 👍/👎 row leaves the answer (its other buttons stay), so that
    nobody wonders whether the tap counted. The message may be too old to edit: no matter."""
    message = query.message
    markup = getattr(message, "reply_markup", None)
    if markup is None:
        return
    rows = [row for row in markup.inline_keyboard
            if not any(str(b.callback_data or "").startswith(FEEDBACK_PREFIX) for b in row)]
    try:
        await query.edit_message_reply_markup(InlineKeyboardMarkup(rows) if rows else None)
    except TelegramError as exc:
        log.info("feedback row of message %s kept: %s", getattr(message, "message_id", "?"), exc)


def is_private(chat: object) -> bool:
    return getattr(chat, "type", None) == ChatType.PRIVATE


@lru_cache(maxsize=8)
def mention_pattern(username: str) -> re.Pattern[str]:
    return re.compile(rf"@{re.escape(username)}\b", re.IGNORECASE)
