"""The Telegram channel: python-telegram-bot 22 inside the aiohttp server, one handler per intent.

``setup(app)`` adds an aiohttp ``cleanup_ctx`` that runs PTB's manual lifecycle (initialize,
poll or webhook, start … stop, shutdown) in the server's own event loop. Like every channel it
only translates: a message or a button press in, a :class:`~bot.engine.Reply` out, rendered as
Telegram HTML in which every piece of knowledge text is escaped.

Button presses carry self-contained callback data (``entry:<id>``, ``topic:<category>``,
``none``, ``lang:<code>``, or an action id), so a button on an old message still works after a
restart. The token is never logged: httpx stays below WARNING (``app.configure_logging``) and a
log filter masks it in anything a library might print.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from aiohttp import web
from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatType, MessageLimit, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.app import STATE, AppState
from bot.conversation import Asker
from bot.engine import Reply, Status

log = logging.getLogger("bot.telegram")

Context = ContextTypes.DEFAULT_TYPE
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup
ALLOWED_UPDATES = ["message", "callback_query"]
CALLBACK_DATA_BYTES = 64  # Telegram's limit for callback_data
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # links are sources, not the answer

TEXTS: dict[str, tuple[str, str]] = {
    "welcome": ("您好！我是青岛2022年“质量月”问答助手，可以回答{topics}等问题。\n"
                "请直接输入问题，例如“品博会什么时候举办？”，或点下面的话题。",
                "Hello! I answer questions about Qingdao's 2022 Quality Month: {topics}.\n"
                "Type a question, e.g. “When is the Quality Life Expo?”, or tap a topic below."),
    "help": ("直接输入问题即可，例如“品博会什么时候举办？”。在群里请 @我 或回复我的消息。\n"
             "/start 话题菜单\n/events 活动日期\n/services 一站式服务\n/lang 选择语言",
             "Just type a question, e.g. “When is the Quality Life Expo?”. In a group, @mention "
             "me or reply to my message.\n/start topics\n/events dates\n/services one-stop "
             "services\n/lang language"),
    "events": ("活动日期：", "Dates:"),
    "no_events": ("暂无活动日期。", "No dates yet."),
    "none": ("都不是", "None of these"),
    "lang_prompt": ("请选择语言 / Choose a language:", "请选择语言 / Choose a language:"),
    "lang_set": ("好的，以后用中文回答。", "OK, I'll answer in English from now on."),
    "media": ("抱歉，我只能读文字消息，请用文字输入您的问题。",
              "Sorry, I can only read text messages; please type your question."),
    "flood": ("您发送得太快了，请休息一分钟再提问。",
              "You're sending messages very fast; please wait a minute before asking again."),
    "error": ("抱歉，出了点问题，请稍后再试。", "Sorry, something went wrong. Please try again."),
}

COMMANDS: dict[str, tuple[str, str]] = {
    "start": ("开始与话题菜单", "Start and topics"),
    "help": ("使用帮助", "How to use this bot"),
    "events": ("活动日期", "Dates"),
    "services": ("NQI一站式服务", "NQI one-stop services"),
    "lang": ("选择语言", "Choose a language"),
}


@dataclass(frozen=True)
class MenuItem:
    """A button of the topic keyboard; pressing it sends ``zh`` or ``en`` as a text message."""

    zh: str
    en: str
    does: str  # "topic:<category>", "services", "events" or "open-day"


MENU = (
    MenuItem("质量月活动", "Quality Month", "topic:campaign"),
    MenuItem("一站式服务", "One-stop services", "services"),
    MenuItem("活动日期", "Dates", "events"),
    MenuItem("开放日报名", "Open day sign-up", "open-day"),
)
MENU_BY_LABEL = {label: item for item in MENU for label in (item.zh, item.en)}


def t(name: str, lang: str) -> str:
    zh, en = TEXTS[name]
    return en if lang == "en" else zh


def esc(text: str) -> str:
    return html.escape(text, quote=False)


# ---------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Outgoing:
    """One message to send: HTML text (already escaped) and its keyboard."""

    text: str
    markup: Markup | None = None


def menu_keyboard(lang: str) -> ReplyKeyboardMarkup:
    labels = [item.en if lang == "en" else item.zh for item in MENU]
    return ReplyKeyboardMarkup([labels[:2], labels[2:]], resize_keyboard=True)


def button(label: str, data: str) -> InlineKeyboardButton | None:
    if len(data.encode()) > CALLBACK_DATA_BYTES:
        log.warning("button %r left out: callback data over %d bytes", label, CALLBACK_DATA_BYTES)
        return None
    return InlineKeyboardButton(label, callback_data=data)


def render(reply: Reply, *, private: bool = True) -> list[Outgoing]:
    """A reply as Telegram messages: escaped text and links, buttons on the last piece."""
    lines = [esc(reply.text)]
    lines += [f'<a href="{html.escape(x.url)}">{esc(x.title)}</a>' for x in reply.links]
    choices = [(s.text, f"entry:{s.entry_id}") for s in reply.suggestions]
    if reply.status is Status.CLARIFY:
        choices.append((t("none", reply.lang), "none"))
    choices += [(a.label, a.id) for a in reply.actions]
    rows = [[b] for label, data in choices if (b := button(label, data))]
    markup: Markup | None = InlineKeyboardMarkup(rows) if rows else None
    if markup is None and reply.status is Status.FALLBACK and private:
        markup = menu_keyboard(reply.lang)
    return pack(split_text("\n".join(lines)), markup)


def plain(text: str, markup: Markup | None = None) -> list[Outgoing]:
    return pack(split_text(esc(text)), markup)


def pack(chunks: list[str], markup: Markup | None) -> list[Outgoing]:
    return [Outgoing(c) for c in chunks[:-1]] + [Outgoing(chunks[-1], markup)]


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Pieces of at most ``limit`` UTF-16 units (Telegram's measure), cut between lines.

    Only a single line longer than the limit is cut inside, never within an HTML tag or entity.
    """
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        while _units(line) > limit:
            cut = _cut_point(line, limit)
            chunks.extend(["\n".join(current), line[:cut]] if current else [line[:cut]])
            current, size, line = [], 0, line[cut:]
        extra = _units(line) + (1 if current else 0)
        if current and size + extra > limit:
            chunks.append("\n".join(current))
            current, size, extra = [], 0, _units(line)
        current.append(line)
        size += extra
    chunks.append("\n".join(current))
    return [c for c in (c.strip("\n") for c in chunks) if c.strip()] or [text[:limit]]


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut_point(line: str, limit: int) -> int:
    cut = limit
    while (over := _units(line[:cut]) - limit) > 0:
        cut -= (over + 1) // 2  # a character is one or two UTF-16 units
    head = line[:cut]
    for opener, closer in (("&", ";"), ("<", ">")):
        start = head.rfind(opener)
        if start > head.rfind(closer) and start > 0:
            cut = min(cut, start)
    return max(cut, 1)


# ---------------------------------------------------------------------- small parts


class LangPrefs:
    """Each user's /lang choice. In memory for now; get/set is all a database version needs."""

    def __init__(self) -> None:
        self._langs: dict[int, str] = {}

    def get(self, user_id: int) -> str | None:
        return self._langs.get(user_id)

    def set(self, user_id: int, lang: str) -> None:
        self._langs[user_id] = lang


class FloodGate:
    """At most ``limit`` messages per user in a ``window`` of seconds that starts with their
    first message; the next one earns a single notice, the rest of that window is ignored."""

    def __init__(self, limit: int = 20, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._seen: dict[int, tuple[float, int]] = {}  # user → (window start, messages in it)
        self._prune_at = 10_000

    def check(self, user_id: int) -> Literal["ok", "notice", "silent"]:
        now = self.clock()
        start, count = self._seen.get(user_id, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        count += 1
        self._seen[user_id] = (start, count)
        if len(self._seen) > self._prune_at:
            self._seen = {u: v for u, v in self._seen.items() if now - v[0] < self.window}
            self._prune_at = 2 * len(self._seen) + 10_000
        if count <= self.limit:
            return "ok"
        return "notice" if count == self.limit + 1 else "silent"


class PerChatOrder(BaseUpdateProcessor):
    """Updates of different chats run concurrently; one chat's updates run in arrival order."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}  # chat → (lock, updates using it)

    async def do_process_update(self, update: object, coroutine: object) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine  # type: ignore[misc]
            return
        lock, users = self._locks.get(chat.id, (asyncio.Lock(), 0))
        self._locks[chat.id] = (lock, users + 1)
        try:
            async with lock:
                await coroutine  # type: ignore[misc]
        finally:
            lock, users = self._locks[chat.id]
            if users == 1:
                del self._locks[chat.id]
            else:
                self._locks[chat.id] = (lock, users - 1)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


class RedactToken(logging.Filter):
    """Masks the bot token in every record, exception text included."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        if record.exc_info:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = text.replace(self.token, "<token>")
        return True


# ---------------------------------------------------------------------- the bot


class TelegramBot:
    """State shared by the handlers; each handler is one method, one intent."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.settings = state.settings
        self.prefs = LangPrefs()
        self.flood = FloodGate()
        self.poll_timeout = 10.0  # seconds a getUpdates waits; stop() cancels it at once
        self.concurrency = 16  # updates handled at the same time
        self.connections = 16  # to the Bot API; httpx's pool costs CPU per connection per request
        self.messages_per_second = 30.0  # Telegram's overall flood limit for a bot; 0 = none
        self.application: Application | None = None
        self._pressed: dict[tuple[int, int, str], float] = {}  # recent presses, for double taps

    # ------------------------------------------------------------------ lifecycle

    def build(self) -> Application:
        token = self.settings.telegram_token
        assert token, "setup() is only called with a token"
        builder = (
            ApplicationBuilder()
            .token(token)
            .rate_limiter(AIORateLimiter(overall_max_rate=self.messages_per_second,
                                         max_retries=2))
            .concurrent_updates(PerChatOrder(self.concurrency))
            .connection_pool_size(self.connections)
            .pool_timeout(10.0)
        )
        base = self.settings.telegram_api_base_url
        if base:
            builder = builder.base_url(base).base_file_url(file_url_for(base))
        if self.settings.telegram_webhook_url:
            builder = builder.updater(None)
        application = builder.build()
        self.add_handlers(application)
        return application

    def add_handlers(self, application: Application) -> None:
        new = filters.UpdateType.MESSAGE  # edited messages are ignored everywhere
        application.add_handler(TypeHandler(Update, self.flood_gate), group=-1)
        application.add_handler(CommandHandler("start", self.start, filters=new))
        application.add_handler(CommandHandler("help", self.help, filters=new))
        application.add_handler(CommandHandler("events", self.events, filters=new))
        application.add_handler(CommandHandler("services", self.services, filters=new))
        application.add_handler(CommandHandler("lang", self.lang, filters=new))
        application.add_handler(MessageHandler(new & filters.COMMAND & filters.ChatType.PRIVATE,
                                               self.help))
        application.add_handler(MessageHandler(
            new & filters.ChatType.PRIVATE & filters.Text(list(MENU_BY_LABEL)), self.menu))
        application.add_handler(MessageHandler(new & filters.TEXT & ~filters.COMMAND, self.text))
        application.add_handler(MessageHandler(new & MEDIA, self.media))
        application.add_handler(CallbackQueryHandler(self.choose_lang, pattern=r"^lang:(zh|en)$"))
        application.add_handler(CallbackQueryHandler(self.press))
        application.add_error_handler(self.on_error)

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: everything before ``yield`` at start-up, after it at exit."""
        token = self.settings.telegram_token or ""
        redact = RedactToken(token)
        handlers = list(logging.getLogger().handlers)
        for handler in handlers:
            handler.addFilter(redact)
        try:
            application = await self.start_application()
            self.application = application
            try:
                yield
            finally:
                self.application = None
                await self.stop_application(application)
        finally:
            for handler in handlers:
                handler.removeFilter(redact)

    async def start_application(self) -> Application:
        application = self.build()
        try:
            await application.initialize()
            await self.set_commands(application)
            if application.updater is None:
                await application.bot.set_webhook(
                    self.settings.telegram_webhook_url or "", allowed_updates=ALLOWED_UPDATES,
                    secret_token=self.settings.telegram_webhook_secret)
            else:
                await application.updater.start_polling(
                    timeout=self.poll_timeout, drop_pending_updates=False,
                    allowed_updates=ALLOWED_UPDATES, error_callback=self.on_poll_error)
            await application.start()
        except Exception as exc:
            await self.stop_application(application)
            token = self.settings.telegram_token or ""
            raise RuntimeError("Telegram could not start: "
                               + str(exc).replace(token, "<token>")) from None
        mode = "webhook" if application.updater is None else "polling"
        log.info("Telegram bot @%s running (%s)", application.bot.username, mode)
        return application

    @staticmethod
    async def stop_application(application: Application) -> None:
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
        log.info("Telegram bot stopped")

    async def set_commands(self, application: Application) -> None:
        """The command menu: Chinese for everyone, English for English-language clients."""
        for index, language_code in ((0, None), (1, "en")):
            commands = [BotCommand(name, texts[index]) for name, texts in COMMANDS.items()]
            await application.bot.set_my_commands(commands, language_code=language_code)

    async def webhook(self, request: web.Request) -> web.Response:
        """POST from Telegram: checked against the secret, then queued for the handlers."""
        secret = self.settings.telegram_webhook_secret or ""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            return web.Response(status=403, text="forbidden")
        application = self.application
        if application is None:
            return web.Response(status=503, text="starting")
        try:
            update = Update.de_json(await request.json(), application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            return web.Response(status=400, text="not a Telegram update")
        await application.update_queue.put(update)
        return web.Response(text="ok")

    # ------------------------------------------------------------------ helpers

    def lang_of(self, user: User | None) -> str:
        if user is None:
            return "zh"
        chosen = self.prefs.get(user.id)
        if chosen:
            return chosen
        return "en" if (user.language_code or "").lower().startswith("en") else "zh"

    def asker(self, user: User | None) -> Asker:
        return Asker("telegram", str(user.id if user else 0), self.lang_of(user))

    @staticmethod
    def addressed(message: Message, context: Context) -> bool:
        """Private chats always; groups only on a mention, a reply to the bot or a command."""
        if message.chat.type == ChatType.PRIVATE:
            return True
        text = message.text or message.caption or ""
        if text.startswith("/"):
            return True
        replied = message.reply_to_message
        if replied and replied.from_user and replied.from_user.id == context.bot.id:
            return True
        return mention_pattern(context.bot.username).search(text) is not None

    async def send(self, update: Update, context: Context, messages: list[Outgoing]) -> None:
        """Into the update's chat; in a group the first piece quotes the message it answers."""
        chat = update.effective_chat
        if chat is None:
            return
        quote = None
        if chat.type != ChatType.PRIVATE and update.message:
            quote = ReplyParameters(update.message.message_id, allow_sending_without_reply=True)
        for piece in messages:
            await context.bot.send_message(chat.id, piece.text, parse_mode=ParseMode.HTML,
                                           reply_markup=piece.markup, reply_parameters=quote,
                                           link_preview_options=NO_PREVIEW)
            quote = None

    async def send_reply(self, update: Update, context: Context, reply: Reply) -> None:
        chat = update.effective_chat
        await self.send(update, context, render(reply, private=is_private(chat)))

    # ------------------------------------------------------------------ handlers

    async def flood_gate(self, update: Update, context: Context) -> None:
        message = update.message
        if message is None or message.from_user is None or not self.addressed(message, context):
            return
        verdict = self.flood.check(message.from_user.id)
        if verdict == "ok":
            return
        if verdict == "notice":
            await self.send(update, context, plain(t("flood", self.lang_of(message.from_user))))
        raise ApplicationHandlerStop

    async def start(self, update: Update, context: Context) -> None:
        lang = self.lang_of(update.effective_user)
        names = [name for _, name in self.state.conversation.engine.topics(lang)]
        topics = (", " if lang == "en" else "、").join(names)
        markup = menu_keyboard(lang) if is_private(update.effective_chat) else None
        await self.send(update, context, plain(t("welcome", lang).format(topics=topics), markup))

    async def help(self, update: Update, context: Context) -> None:
        await self.send(update, context, plain(t("help", self.lang_of(update.effective_user))))

    async def events(self, update: Update, context: Context) -> None:
        lang = self.lang_of(update.effective_user)
        lines = [line for _, line in self.state.conversation.engine.events(lang)]
        text = "\n".join([t("events", lang), *lines]) if lines else t("no_events", lang)
        await self.send(update, context, plain(text))

    async def services(self, update: Update, context: Context) -> None:
        asker = self.asker(update.effective_user)
        engine = self.state.conversation.engine
        reply = await self.state.conversation.press(asker, "entry:nqi-services")
        others = tuple(engine.suggestion(e, reply.lang) for e in engine.entries_in("nqi")
                       if e.id != "nqi-services")
        if reply.status is Status.ANSWER:
            reply = replace(reply, suggestions=others)
        await self.send_reply(update, context, reply)

    async def open_day(self, update: Update, context: Context) -> None:
        """The open-day keyboard button: for now the answer of entry ``open-day`` (with the
        buttons the conversation adds to it). The sign-up flow's own entry point goes here."""
        reply = await self.state.conversation.press(self.asker(update.effective_user),
                                                    "entry:open-day")
        await self.send_reply(update, context, reply)

    async def lang(self, update: Update, context: Context) -> None:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("中文", callback_data="lang:zh"),
                                        InlineKeyboardButton("English", callback_data="lang:en")]])
        await self.send(update, context, plain(t("lang_prompt", "zh"), markup))

    async def menu(self, update: Update, context: Context) -> None:
        assert update.message and update.message.text
        item = MENU_BY_LABEL[update.message.text]
        if item.does == "services":
            await self.services(update, context)
        elif item.does == "events":
            await self.events(update, context)
        elif item.does == "open-day":
            await self.open_day(update, context)
        else:
            reply = await self.state.conversation.press(self.asker(update.effective_user),
                                                        item.does)
            await self.send_reply(update, context, reply)

    async def text(self, update: Update, context: Context) -> None:
        message = update.message
        assert message and message.text
        if not self.addressed(message, context):
            return
        question = message.text
        if not is_private(message.chat):
            question = mention_pattern(context.bot.username).sub(" ", question).strip()
        reply = await self.state.conversation.text(self.asker(message.from_user), question)
        await self.send_reply(update, context, reply)

    async def media(self, update: Update, context: Context) -> None:
        message = update.message
        assert message
        if self.addressed(message, context):
            await self.send(update, context, plain(t("media", self.lang_of(message.from_user))))

    async def choose_lang(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query and query.data
        await acknowledge(query)
        lang = query.data.removeprefix("lang:")
        self.prefs.set(query.from_user.id, lang)
        markup = menu_keyboard(lang) if is_private(update.effective_chat) else None
        await self.send(update, context, plain(t("lang_set", lang), markup))

    async def press(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query
        await acknowledge(query)  # first, so the button stops spinning whatever happens next
        if not query.data or self.double_tap(query.from_user.id, query.message, query.data):
            return
        reply = await self.state.conversation.press(self.asker(query.from_user), query.data)
        await self.send_reply(update, context, reply)

    def double_tap(self, user_id: int, message: object, data: str, within: float = 3.0) -> bool:
        """True for the same button of the same message pressed again within a few seconds."""
        now = self.flood.clock()
        self._pressed = {k: v for k, v in self._pressed.items() if now - v < within}
        key = (user_id, getattr(message, "message_id", 0), data)
        if key in self._pressed:
            return True
        self._pressed[key] = now
        return False

    async def on_error(self, update: object, context: Context) -> None:
        """Every exception: logged with its update id; the bot keeps running."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("Telegram update %s failed", update_id, exc_info=context.error)
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        lang = self.lang_of(update.effective_user)
        try:
            await self.send(update, context, plain(t("error", lang)))
        except TelegramError as exc:
            log.warning("could not tell the user about the error: %s", exc)

    @staticmethod
    def on_poll_error(exc: TelegramError) -> None:
        log.warning("Telegram polling: %s (retrying)", exc)


MEDIA = (filters.Sticker.ALL | filters.PHOTO | filters.VOICE | filters.AUDIO | filters.VIDEO
         | filters.VIDEO_NOTE | filters.ANIMATION | filters.Document.ALL | filters.LOCATION
         | filters.VENUE | filters.CONTACT)


async def acknowledge(query: CallbackQuery) -> None:
    """Answer a button press. Telegram refuses a query older than some seconds (pressed while
    the bot was down): the press itself is still handled."""
    try:
        await query.answer()
    except BadRequest as exc:
        log.info("callback query %s not answered: %s", query.id, exc)


def is_private(chat: object) -> bool:
    return getattr(chat, "type", None) == ChatType.PRIVATE


@lru_cache(maxsize=8)
def mention_pattern(username: str) -> re.Pattern[str]:
    return re.compile(rf"@{re.escape(username)}\b", re.IGNORECASE)


def file_url_for(base_url: str) -> str:
    """The file URL beside an API URL: http://host/bot → http://host/file/bot."""
    parts = urlsplit(base_url)
    head, _, last = parts.path.rstrip("/").rpartition("/")
    return parts._replace(path=f"{head}/file/{last}").geturl()


BOT = web.AppKey("telegram_bot", TelegramBot)


def setup(app: web.Application) -> None:
    """Run the Telegram bot in this aiohttp application (polling, or the webhook when set)."""
    bot = TelegramBot(app[STATE])
    app[BOT] = bot
    webhook = bot.settings.telegram_webhook_url
    if webhook:
        if not bot.settings.telegram_webhook_secret:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL")
        app.router.add_post(urlsplit(webhook).path or "/", bot.webhook)
    app.cleanup_ctx.append(bot.lifecycle)
