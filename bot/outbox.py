"""Messages for someone other than the person answered, and the clock that sends them.

The sign-up writes promotions from the waiting list, reminders and "new sessions" notices to
the database's outbox; :class:`Scheduler` plans reminders, promotion, notices and retention
from the database on every wake-up (a restart neither loses nor repeats one); a channel
delivers its own messages with :func:`run_outbox` and a :class:`Notifier`, or pulls them
(the web chat's ``GET /api/messages``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot.engine import Action, Reply, Status
from bot.kb import TZ
from bot.store import OutboxMessage, Store

if TYPE_CHECKING:  # the type only: the scheduler runs the dialogue's upkeep
    from bot.dialogue import Dialogue

log = logging.getLogger("bot.dialogue")


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


__all__ = ["Notifier", "PermanentDeliveryError", "Scheduler", "deliver_outbox", "message_reply",
           "run_outbox"]
