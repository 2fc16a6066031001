"""Log filters of the Telegram channel: the token never appears in a log line, and
mainland mobile numbers typed during a sign-up are masked (PTB logs message texts at DEBUG).
"""

from __future__ import annotations

import logging
import re

from bot.dialogue import normalize_phone
from bot.store import mask_phone


def formatted(record: logging.LogRecord) -> str:
    """The record's message. Arguments that do not fit it are dropped here (logging would
    print them raw in its error report, secrets and all)."""
    try:
        return record.getMessage()
    except Exception:
        record.msg, record.args = f"{record.msg} (log arguments did not format)", None
        return record.getMessage()


# A mainland mobile number as people type it: +86 / 0086 / 86 in front or not, spaces or dashes
# between the digits, full-width digits; checked with the dialogue's own parser before masking.
_PHONE_IN_TEXT = re.compile(
    r"(?<!\d)(?:(?:[+＋]|00|００)?[8８][6６][\s\-]{0,2})?[1１](?:[\s\-]{0,2}\d){10}(?!\d)")


def mask_phones(text: str) -> str:
    """Every mainland mobile number in ``text`` as ``138****5678``."""
    def masked(match: re.Match[str]) -> str:
        found = match.group()
        return mask_phone(normalize_phone(found)) if normalize_phone(found) else found

    return _PHONE_IN_TEXT.sub(masked, text)


class MaskPhones(logging.Filter):
    """Masks mainland mobile numbers in every record, exception text included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = formatted(record)
        masked = mask_phones(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info or record.exc_text:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)  # type: ignore[arg-type]
            record.exc_text = mask_phones(text)
        return True


class RedactToken(logging.Filter):
    """Masks the bot token in every record, exception text included."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = formatted(record)
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        if record.exc_info:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = text.replace(self.token, "<token>")
        return True
