"""Admin commands (``ADMIN_IDS``, private chats only): /sessions, /export, /reload, /stats.
For anyone else they are unknown commands like any other; every use is logged (admin_log).
"""

from __future__ import annotations

import csv
import io
from functools import partial
from typing import TYPE_CHECKING

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot.channels.telegram.render import plain
from bot.channels.telegram.updates import Context
from bot.dialogue import format_summaries
from bot.insights import stats_text
from bot.messages import say

if TYPE_CHECKING:  # the type only: the channel registers these handlers
    from bot.channels.telegram.channel import TelegramBot

STATS_DAYS = 7


def register(bot: TelegramBot, application: Application) -> None:
    admin = (filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE
             & filters.User(user_id=bot.settings.admin_ids))
    for name, handler in (("sessions", admin_sessions), ("export", admin_export),
                          ("reload", admin_reload), ("stats", admin_stats)):
        application.add_handler(CommandHandler(name, partial(handler, bot), filters=admin))


async def admin_sessions(bot: TelegramBot, update: Update, context: Context) -> None:
    """/sessions: every session's seats taken and left, and its waiting list."""
    user = update.effective_user
    lang = bot.lang_of(user)
    dialogue = bot.state.dialogue
    if dialogue is None:
        await bot.send(update, context, plain(say("telegram.unavailable", lang)))
        return
    summaries = await dialogue.session_summaries(actor=bot.actor(user))  # logs the view
    await bot.send(update, context, plain(format_summaries(summaries, lang)))


async def admin_export(bot: TelegramBot, update: Update, context: Context) -> None:
    """/export [SESSION_ID]: the bookings as a CSV document (UTF-8 with BOM)."""
    user = update.effective_user
    lang = bot.lang_of(user)
    dialogue, store, chat = bot.state.dialogue, bot.state.store, update.effective_chat
    if dialogue is None or store is None or chat is None:
        await bot.send(update, context, plain(say("telegram.unavailable", lang)))
        return
    session_id = context.args[0] if context.args else None
    if session_id is not None:
        known = [s.session_id for s in await dialogue.session_summaries()]
        if session_id not in known:
            await store.log_admin(bot.actor(user), "export",
                                  f"session={session_id[:64]} refused: no such session",
                                  bot.now())
            text = say("telegram.export_unknown", lang, session=session_id, ids="\n".join(known))
            await bot.send(update, context, plain(text))
            return
    data = await dialogue.export_csv(session_id, actor=bot.actor(user))  # logs the export
    rows = max(sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8-sig")))) - 1, 0)
    caption = say("telegram.export_caption", lang, rows=rows,
                  scope=session_id or say("telegram.export_all", lang))
    await context.bot.send_document(chat.id, document=data,
                                    filename=f"bookings-{bot.now():%Y%m%d}.csv",
                                    caption=caption)


async def admin_reload(bot: TelegramBot, update: Update, context: Context) -> None:
    """/reload: load the knowledge folder now; say what happened."""
    user = update.effective_user
    lang = bot.lang_of(user)
    watcher = bot.state.watcher
    if watcher is None:
        text, detail = say("telegram.reload_unavailable", lang), "unavailable"
    else:
        result = await watcher.reload()
        text = result.describe(lang)
        detail = f"ok={result.ok} version={result.version} changed={result.changed}"
    await bot.log_admin(user, "reload", detail)
    await bot.send(update, context, plain(text))


async def admin_stats(bot: TelegramBot, update: Update, context: Context) -> None:
    """/stats [days]: how the bot was used (``bot.insights``)."""
    user = update.effective_user
    lang = bot.lang_of(user)
    days = STATS_DAYS
    if context.args:
        arg = context.args[0]
        if not arg.isdecimal() or not 1 <= int(arg) <= 365 or len(context.args) > 1:
            await bot.send(update, context, plain(say("telegram.stats_usage", lang)))
            return
        days = int(arg)
    store = bot.state.store
    if store is None:
        await bot.send(update, context, plain(say("telegram.stats_unavailable", lang)))
        return
    text = await stats_text(store, days, lang)
    await bot.log_admin(user, "stats", f"days={days}")
    await bot.send(update, context, plain(text))
