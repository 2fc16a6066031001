"""How a session and a booking read, in every message of the sign-up: the session card (when,
where, what you will see, age, notes), dates in Chinese or English (Beijing time), a mobile
number in groups of digits. Shared by the dialogue's steps, the reminders and the summaries.
"""

from __future__ import annotations

from datetime import datetime

from bot.kb import TZ, Bilingual, Session
from bot.messages import say, script
from bot.store import Booking


def pick(text: Bilingual | None, lang: str) -> str:
    if text is None:
        return ""
    if lang == "en" and text.en:
        return text.en
    return script(text.zh, lang)


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
    return script(text, lang)


def short_date(start: datetime, lang: str) -> str:
    start = start.astimezone(TZ)
    if lang == "en":
        return f"{start.day} {_EN_MONTHS[start.month - 1][:3]} {start:%H:%M}"
    return f"{start.month}月{start.day}日 {start:%H:%M}"


def session_card(session: Session, lang: str) -> str:
    lines = [pick(session.institution, lang),
             say("signup.label_when", lang) + when_text(session.start, session.end, lang),
             say("signup.label_where", lang) + pick(session.address, lang),
             say("signup.label_see", lang) + pick(session.see, lang)]
    a, b = session.min_age, session.max_age
    if a is not None or b is not None:
        key = "age_range" if a is not None and b is not None else "age_min" if a is not None \
            else "age_max"
        lines.append(say("signup.label_age", lang) + say("signup." + key, lang, a=a, b=b))
    if session.notes is not None:
        lines.append(say("signup.label_notes", lang) + pick(session.notes, lang))
    return "\n".join(lines)


def institution_of(booking: Booking, session: Session | None, lang: str) -> str:
    if session is not None:
        return pick(session.institution, lang)
    return script(booking.institution, lang)


def format_phone(phone: str) -> str:
    return f"{phone[:3]} {phone[3:7]} {phone[7:]}" if len(phone) == 11 else phone
