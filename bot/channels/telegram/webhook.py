"""The webhook: Telegram's POSTs, checked against the secret in constant time, then queued
for the handlers (with ``TELEGRAM_WEBHOOK_URL``; otherwise the channel polls)."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from aiohttp import web
from telegram import Update

if TYPE_CHECKING:  # the type only: the channel routes the webhook here
    from bot.channels.telegram.channel import TelegramBot


def _webhook_error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status)


async def webhook(bot: TelegramBot, request: web.Request) -> web.Response:
    """POST from Telegram: checked against the secret, then queued for the handlers."""
    secret = bot.settings.telegram_webhook_secret or ""
    # Compared as bytes: a header with a non-UTF-8 byte must not raise before the check.
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode(
        "utf-8", "surrogateescape")
    if not secret or not hmac.compare_digest(given, secret.encode()):
        return _webhook_error(403, "forbidden", "wrong or missing secret token")
    application = bot.application
    if application is None:
        return _webhook_error(503, "starting", "the bot is starting")
    try:
        update = Update.de_json(await request.json(), application.bot)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return _webhook_error(400, "invalid_update", "not a Telegram update")
    except ConnectionError:  # the sender closed its side before the body it announced
        return _webhook_error(400, "incomplete_body", "the body ended before its Content-Length")
    await application.update_queue.put(update)
    return web.Response(text="ok")
