"""Questions: /start, /help, /events, /services, /lang, the topic keyboard, typed text, media
and button presses — each handler hands the update to the conversation and renders its reply.

What the keyboard's topic button lists and what /services answers come from the knowledge
(``menu:`` in smalltalk.yaml), never from ids written here.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.channels.telegram import signup
from bot.channels.telegram.render import FEEDBACK_PREFIX, MENU_BY_LABEL, menu_keyboard, plain
from bot.channels.telegram.updates import (
    Context,
    acknowledge,
    is_private,
    mention_pattern,
    without_feedback_row,
)
from bot.conversation import DIALOGUE_ACTIONS
from bot.engine import Status
from bot.messages import say

if TYPE_CHECKING:  # the type only: the channel registers these handlers
    from bot.channels.telegram.channel import TelegramBot

# /start payloads (deep links from a group to the private chat) → the action they start.
START_ACTIONS = {"signup": "signup", "bookings": "bookings", "forget": "forget"}
MEDIA = (filters.Sticker.ALL | filters.PHOTO | filters.VOICE | filters.AUDIO | filters.VIDEO
         | filters.VIDEO_NOTE | filters.ANIMATION | filters.Document.ALL | filters.LOCATION
         | filters.VENUE | filters.CONTACT)


def register(bot: TelegramBot, application: Application) -> None:
    """The question commands; after every other module's, :func:`register_catch_all`."""
    new = filters.UpdateType.MESSAGE  # edited messages are ignored everywhere
    for name, handler in (("start", start), ("help", help), ("events", events),
                          ("services", services), ("lang", lang)):
        application.add_handler(CommandHandler(name, partial(handler, bot), filters=new))


def register_catch_all(bot: TelegramBot, application: Application) -> None:
    """Last: an unknown command (help), the keyboard, any text, media, any button press."""
    new = filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(new & filters.COMMAND & filters.ChatType.PRIVATE,
                                           partial(help, bot)))
    application.add_handler(MessageHandler(
        new & filters.ChatType.PRIVATE & filters.Text(list(MENU_BY_LABEL)), partial(menu, bot)))
    application.add_handler(MessageHandler(new & filters.TEXT & ~filters.COMMAND,
                                           partial(text, bot)))
    application.add_handler(MessageHandler(new & MEDIA, partial(media, bot)))
    application.add_handler(CallbackQueryHandler(partial(choose_lang, bot),
                                                 pattern=r"^lang:(zh|en)$"))
    application.add_handler(CallbackQueryHandler(partial(press, bot)))



async def start(bot: TelegramBot, update: Update, context: Context) -> None:
    lang = bot.lang_of(update.effective_user)
    names = [name for _, name in bot.state.conversation.engine.topics(lang)]
    topics = (", " if lang == "en" else "、").join(names)
    markup = menu_keyboard(lang) if is_private(update.effective_chat) else None
    await bot.send(update, context, plain(say("telegram.welcome", lang, topics=topics), markup))
    action = START_ACTIONS.get(context.args[0]) if context.args else None
    if action is not None:  # a deep link from a group: t.me/<bot>?start=signup
        await signup.dialogue(bot, update, context, action)


async def help(bot: TelegramBot, update: Update, context: Context) -> None:
    await bot.send(update, context, plain(say("telegram.help", bot.lang_of(update.effective_user))))


async def events(bot: TelegramBot, update: Update, context: Context) -> None:
    lang = bot.lang_of(update.effective_user)
    lines = [line for _, line in bot.state.conversation.engine.events(lang)]
    text = "\n".join([say("telegram.events", lang), *lines]) if lines else say("telegram.no_events", lang)
    await bot.send(update, context, plain(text))


async def services(bot: TelegramBot, update: Update, context: Context) -> None:
    asker = bot.asker(update)
    engine = bot.state.conversation.engine
    chosen = engine.knowledge.by_id.get(engine.knowledge.smalltalk.menu.services or "")
    if chosen is None:  # smalltalk.yaml names no services entry: the topics instead
        await start(bot, update, context)
        return
    reply = await bot.state.conversation.press(asker, f"entry:{chosen.id}")
    others = tuple(engine.suggestion(e, reply.lang) for e in engine.entries_in(chosen.category)
                   if e.id != chosen.id)
    if reply.status is Status.ANSWER:
        reply = replace(reply, suggestions=others)
    await bot.send_reply(update, context, reply)


async def lang(bot: TelegramBot, update: Update, context: Context) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("中文", callback_data="lang:zh"),
                                    InlineKeyboardButton("English", callback_data="lang:en")]])
    await bot.send(update, context, plain(say("telegram.lang_prompt", "zh"), markup))


async def menu(bot: TelegramBot, update: Update, context: Context) -> None:
    assert update.message and update.message.text
    item = MENU_BY_LABEL[update.message.text]
    if item.does == "services":
        await services(bot, update, context)
    elif item.does == "events":
        await events(bot, update, context)
    elif item.does == "open-day":
        await signup.signup(bot, update, context)
    else:  # the topic button: the category smalltalk.yaml's menu names
        topics = bot.state.conversation.engine.knowledge.smalltalk.menu.topics
        if topics is None:
            await start(bot, update, context)
            return
        reply = await bot.state.conversation.press(bot.asker(update), f"topic:{topics}")
        await bot.send_reply(update, context, reply)


async def text(bot: TelegramBot, update: Update, context: Context) -> None:
    message = update.message
    assert message and message.text
    if not bot.addressed(message, context):
        return
    question = message.text
    if not is_private(message.chat):
        question = mention_pattern(context.bot.username).sub(" ", question).strip()
    reply = await bot.state.conversation.text(bot.asker(update), question)
    await bot.send_reply(update, context, reply)


async def media(bot: TelegramBot, update: Update, context: Context) -> None:
    message = update.message
    assert message
    if bot.addressed(message, context):
        await bot.send(update, context, plain(say("telegram.media", bot.lang_of(message.from_user))))


async def choose_lang(bot: TelegramBot, update: Update, context: Context) -> None:
    query = update.callback_query
    assert query and query.data
    await acknowledge(query)
    lang = query.data.removeprefix("lang:")
    await bot.prefs.set(query.from_user.id, lang, bot.now())
    markup = menu_keyboard(lang) if is_private(update.effective_chat) else None
    await bot.send(update, context, plain(say("telegram.lang_set", lang), markup))


async def press(bot: TelegramBot, update: Update, context: Context) -> None:
    query = update.callback_query
    assert query
    await acknowledge(query)  # first, so the button stops spinning whatever happens next
    if not query.data or bot.double_tap(query.from_user.id, query.message, query.data):
        return
    if query.data.partition(":")[0] in DIALOGUE_ACTIONS:
        await signup.dialogue(bot, update, context, query.data)
        return
    reply = await bot.state.conversation.press(bot.asker(update), query.data)
    await bot.send_reply(update, context, reply)
    if query.data.startswith(FEEDBACK_PREFIX) and reply.kind == "feedback":
        await without_feedback_row(query)
