"""The open-day sign-up on Telegram: /signup, /mybookings, /forget, /cancel and the dialogue's
buttons, in private chats only (in a group they point to a private chat, so that nothing
personal is shown there). The dialogue itself is :mod:`bot.dialogue`, the same on every channel.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CommandHandler, filters

from bot.channels.telegram.render import Outgoing, plain
from bot.channels.telegram.updates import Context, is_private
from bot.messages import say

if TYPE_CHECKING:  # the type only: the channel registers these handlers
    from bot.channels.telegram.channel import TelegramBot


def register(bot: TelegramBot, application: Application) -> None:
    new = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("signup", partial(signup, bot), filters=new))
    application.add_handler(CommandHandler(["mybookings", "bookings"], partial(bookings, bot),
                                           filters=new))
    application.add_handler(CommandHandler("forget", partial(forget, bot), filters=new))
    application.add_handler(CommandHandler("cancel", partial(cancel, bot), filters=new))


async def signup(bot: TelegramBot, update: Update, context: Context) -> None:
    """/signup and the open-day keyboard button: the sessions to pick from."""
    await dialogue(bot, update, context, "signup")


async def bookings(bot: TelegramBot, update: Update, context: Context) -> None:
    await dialogue(bot, update, context, "bookings")


async def forget(bot: TelegramBot, update: Update, context: Context) -> None:
    await dialogue(bot, update, context, "forget")


async def cancel(bot: TelegramBot, update: Update, context: Context) -> None:
    await dialogue(bot, update, context, "signup:cancel")


async def dialogue(bot: TelegramBot, update: Update, context: Context, action: str) -> None:
    """A step of the sign-up dialogue (command or button), in private chats only."""
    user = update.effective_user
    if not is_private(update.effective_chat):
        await bot.send(update, context, private_only(context, bot.lang_of(user), action))
        return
    reply = await bot.state.conversation.press(bot.asker(update), action)
    if action == "forget:yes" and user is not None:
        bot.prefs.drop(user.id)  # the saved language went with the rest
    await bot.send_reply(update, context, reply)


def private_only(context: Context, lang: str, action: str) -> list[Outgoing]:
    kind = action.partition(":")[0]
    start = "bookings" if kind in ("booking", "bookings") else \
        "forget" if kind == "forget" else "signup"
    username = context.bot.username
    markup = InlineKeyboardMarkup([[InlineKeyboardButton(
        say("telegram.private_button", lang), url=f"https://t.me/{username}?start={start}")]])
    return plain(say("telegram.private_only", lang), markup)
