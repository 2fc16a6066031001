"""What staff see of the sign-up: one line per session (``bookings list``, Telegram's /sessions)
and the CSV export's columns, with cells a spreadsheet will not run as formulas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.kb import TZ
from bot.messages import say


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
        return say("signup.no_summaries", lang)
    lines = []
    for s in summaries:
        start = s.start.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if s.start else "?"
        seats = say("signup.summary_seats" if s.listed else "signup.summary_unlisted", lang,
                    booked=s.booked, capacity=s.capacity, left=s.left)
        lines.append(say("signup.summary_row", lang, session=s.session_id, start=start,
                         institution=s.institution, seats=seats, waiting=s.waiting))
    return "\n".join(lines)


CSV_COLUMNS = ("code", "session", "institution", "start", "name", "phone", "status", "created")


def safe_cell(value: str) -> str:
    """Text a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
