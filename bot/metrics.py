"""``GET /metrics``: the bot's counters in the Prometheus text format.

==========================================  =============================================
``bot_questions_total{channel,outcome}``    questions the engine answered; outcome is
                                            answer, clarify or fallback (sign-up steps are
                                            not questions and are not counted)
``bot_answer_latency_seconds``              histogram: from receiving a question to the
                                            reply being ready
``bot_feedback_total{vote}``                👍 (up) and 👎 (down) presses counted
``bot_knowledge_reloads_total``             new knowledge versions taken into use while
                                            running
``bot_knowledge_reload_failures_total``     attempts to load edited knowledge that failed
                                            (the bot kept the last good version)
``bot_bookings_total{result}``              open-day booking changes: booked, waiting,
                                            cancelled, promoted (waiting list → booked)
==========================================  =============================================

Each application has its own :class:`~prometheus_client.CollectorRegistry`, so several apps in
one process (the tests) never share or clash over counters. The numbers count from the start
of the process, as Prometheus expects; the lasting statistics are ``run_bot.py stats``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder

from bot.engine import Status
from bot.insights import FeedbackEvent, QuestionEvent
from bot.state import STATE

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BOOKING_RESULTS = ("booked", "waiting", "cancelled", "promoted")


class Metrics:
    def __init__(self, channels: tuple[str, ...] = ("web",),
                 registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.questions = Counter("bot_questions", "Questions answered, by channel and outcome",
                                 ["channel", "outcome"], registry=r)
        self.latency = Histogram("bot_answer_latency_seconds",
                                 "Time from a question to its reply", buckets=LATENCY_BUCKETS,
                                 registry=r)
        self.feedback = Counter("bot_feedback", "Feedback presses counted (up: 👍, down: 👎)",
                                ["vote"], registry=r)
        self.reloads = Counter("bot_knowledge_reloads",
                               "New knowledge versions loaded while running", registry=r)
        self.reload_failures = Counter(
            "bot_knowledge_reload_failures",
            "Attempts to load edited knowledge that failed (the last good version stays)",
            registry=r)
        self.bookings = Counter("bot_bookings", "Open-day booking changes, by result",
                                ["result"], registry=r)
        for channel in channels:  # every series exists from the start, at 0
            for status in Status:
                self.questions.labels(channel, status.value)
        for vote in ("up", "down"):
            self.feedback.labels(vote)
        for result in BOOKING_RESULTS:
            self.bookings.labels(result)

    def observe(self, event: object) -> None:
        """A :class:`~bot.conversation.Conversation` observer."""
        if isinstance(event, QuestionEvent):
            self.questions.labels(event.channel, event.status).inc()
            self.latency.observe(event.latency)
        elif isinstance(event, FeedbackEvent):
            self.feedback.labels(event.vote).inc()

    def booking(self, result: str) -> None:
        """A :class:`~bot.store.Store` booking listener."""
        self.bookings.labels(result).inc()

    def knowledge_reloaded(self) -> None:
        self.reloads.inc()

    def knowledge_failed(self) -> None:
        self.reload_failures.inc()

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition (and its content type) for a scraper's Accept header."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


METRICS = web.AppKey("metrics", Metrics)


def setup(app: web.Application) -> None:
    """Count this app's questions, feedback and bookings, and serve ``GET /metrics``."""
    state = app[STATE]
    channels = ("web", "telegram") if state.settings.telegram_token else ("web",)
    metrics = Metrics(channels)
    app[METRICS] = metrics
    state.metrics = metrics
    state.conversation.observers.append(metrics.observe)
    app.router.add_get("/metrics", _metrics)
    app.cleanup_ctx.append(_count_bookings)


async def _metrics(request: web.Request) -> web.Response:
    body, content_type = request.app[METRICS].render(request.headers.get("Accept"))
    return web.Response(body=body, headers={"Content-Type": content_type,
                                            "Cache-Control": "no-store"})


async def _count_bookings(app: web.Application) -> AsyncIterator[None]:
    """Listen to the store's booking changes while it is open (the storage context opens it
    before this runs, and closes it after)."""
    store, metrics = app[STATE].store, app[METRICS]
    if store is not None:
        store.booking_listeners.append(metrics.booking)
    try:
        yield
    finally:
        if store is not None:
            with contextlib.suppress(ValueError):
                store.booking_listeners.remove(metrics.booking)


__all__ = ["BOOKING_RESULTS", "METRICS", "Metrics", "setup"]
