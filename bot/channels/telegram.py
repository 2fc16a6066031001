"""The Telegram channel: python-telegram-bot 22 inside the aiohttp server, one handler per intent.

``setup(app)`` adds an aiohttp ``cleanup_ctx`` that runs PTB's manual lifecycle (initialize,
poll or webhook, start … stop, shutdown) in the server's own event loop. Like every channel it
only translates: a message or a button press in, a :class:`~bot.engine.Reply` out, rendered as
Telegram HTML in which every piece of knowledge text is escaped.

Button presses carry self-contained callback data (``entry:<id>``, ``topic:<category>``,
``none``, ``lang:<code>``, or an action id), so a button on an old message still works after a
restart. The token is never logged: httpx stays below WARNING (``app.configure_logging``) and a
log filter masks it in anything a library might print; another masks mainland mobile numbers
(PTB logs every message text at DEBUG, and people type their number during the sign-up).

The open-day sign-up (``bot.dialogue``) runs in private chats only: its commands and buttons
in a group point to a private chat instead, and a group message never reaches a person's
sign-up (it is answered as from no one in particular), so nothing personal is shown there.
Messages for people other than the one being answered (promotion from the waiting list,
reminders) come from the database's outbox, delivered by :class:`TelegramNotifier`.

Admin commands (``ADMIN_IDS``, private chats only) are invisible to everyone else: for them
``/export`` is an unknown command like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hmac
import html
import importlib
import io
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
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
from telegram.error import BadRequest, Forbidden, TelegramError
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
from bot.conversation import DIALOGUE_ACTIONS, Asker
from bot.dialogue import PermanentDeliveryError, format_summaries, normalize_phone, run_outbox
from bot.engine import Reply, Status
from bot.kb import TZ
from bot.store import Store, mask_phone, user_key

log = logging.getLogger("bot.telegram")

Context = ContextTypes.DEFAULT_TYPE
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup
ALLOWED_UPDATES = ["message", "callback_query"]
CALLBACK_DATA_BYTES = 64  # Telegram's limit for callback_data
FEEDBACK_PREFIX = "fb:"  # 👍 / 👎 under an answer: one compact row
GROUP_ASKER = "anonymous"  # who asks in a group: no one's sign-up is touched there
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # links are sources, not the answer

TEXTS: dict[str, tuple[str, str]] = {
    "welcome": ("您好！我是青岛2022年“质量月”问答助手，可以回答{topics}等问题。\n"
                "请直接输入问题，例如“品博会什么时候举办？”，或点下面的话题。",
                "Hello! I answer questions about Qingdao's 2022 Quality Month: {topics}.\n"
                "Type a question, e.g. “When is the Quality Life Expo?”, or tap a topic below."),
    "help": ("直接输入问题即可，例如“品博会什么时候举办？”。在群里请 @我 或回复我的消息。\n"
             "/start 话题菜单\n/signup 报名开放日\n/mybookings 我的预约\n/events 活动日期\n"
             "/services 一站式服务\n/lang 选择语言\n/forget 删除我的信息",
             "Just type a question, e.g. “When is the Quality Life Expo?”. In a group, @mention "
             "me or reply to my message.\n/start topics\n/signup open-day sign-up\n"
             "/mybookings my bookings\n/events dates\n/services one-stop services\n"
             "/lang language\n/forget delete my data"),
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
    "private_only": ("开放日报名和预约请在与我的私聊中办理，以免您的个人信息出现在群里。",
                     "Please sign up and manage bookings in a private chat with me, so that "
                     "your personal details stay out of the group."),
    "private_button": ("私聊办理", "Open a private chat"),
    "unavailable": ("这项功能暂时不可用，请稍后再试。",
                    "This is not available at the moment; please try again later."),
    # admins only
    "export_caption": ("开放日报名导出（{scope}，{rows}条）。含姓名和手机号码，仅用于核对报名，"
                       "请妥善保管，用完删除。", "Open-day sign-ups ({scope}, {rows} rows). "
                       "Contains names and mobile numbers: for checking sign-ups only; keep it "
                       "safe and delete it when done."),
    "export_all": ("全部场次", "all sessions"),
    "export_unknown": ("没有编号为 {session} 的场次。现有场次：\n{ids}",
                       "There is no session {session}. Sessions:\n{ids}"),
    "reload_unavailable": ("这个版本不能热加载知识库。", "Live reload is not available here."),
    "stats_usage": ("用法：/stats [天数]，天数为1–365，默认7。",
                    "Usage: /stats [days], days from 1 to 365, 7 if left out."),
    "stats_unavailable": ("这个版本还没有统计功能。", "Statistics are not available here."),
}

COMMANDS: dict[str, tuple[str, str]] = {
    "start": ("开始与话题菜单", "Start and topics"),
    "help": ("使用帮助", "How to use this bot"),
    "signup": ("报名检验检测机构开放日", "Sign up for the open day"),
    "mybookings": ("我的预约", "My bookings"),
    "events": ("活动日期", "Dates"),
    "services": ("NQI一站式服务", "NQI one-stop services"),
    "lang": ("选择语言", "Choose a language"),
    "cancel": ("退出报名", "Stop signing up"),
    "forget": ("删除我的信息", "Delete my data"),
}
# Listed only in each admin's own chat (BotCommandScopeChat), after the public ones.
ADMIN_COMMANDS: dict[str, tuple[str, str]] = {
    "sessions": ("开放日场次与名额", "Open-day sessions and seats"),
    "export": ("导出报名表（CSV），可加场次编号", "Export sign-ups (CSV), optionally one session"),
    "reload": ("重新加载知识库", "Reload the knowledge"),
    "stats": ("使用统计，可加天数", "Usage statistics, optionally for N days"),
}
# /start payloads (deep links from a group to the private chat) → the action they start.
START_ACTIONS = {"signup": "signup", "bookings": "bookings", "forget": "forget"}
STATS_DAYS = 7


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
    rows: list[list[InlineKeyboardButton]] = []
    feedback: list[InlineKeyboardButton] | None = None  # 👍 and 👎 share one row
    for label, data in choices:
        if (b := button(label, data)) is None:
            continue
        if data.startswith(FEEDBACK_PREFIX):
            if feedback is None:
                feedback = []
                rows.append(feedback)
            feedback.append(b)
        else:
            rows.append([b])
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
    """Each user's /lang choice, kept in the database (``user_prefs``) so it survives a
    restart, with a small in-memory cache in front: :meth:`load` (once per update, before the
    handlers) makes :meth:`get` a dictionary look-up."""

    def __init__(self, store: Callable[[], Store | None], size: int = 10_000) -> None:
        self._store = store  # a getter: the store is opened after the bot is built
        self._size = size
        self._langs: OrderedDict[int, str | None] = OrderedDict()  # None: no choice made

    def get(self, user_id: int) -> str | None:
        return self._langs.get(user_id)

    async def load(self, user_id: int) -> str | None:
        if user_id in self._langs:
            self._langs.move_to_end(user_id)
            return self._langs[user_id]
        store = self._store()
        lang = await store.get_lang(user_key("telegram", str(user_id))) if store else None
        self._remember(user_id, lang)
        return lang

    async def set(self, user_id: int, lang: str, now: datetime) -> None:
        store = self._store()
        if store is not None:
            await store.set_lang(user_key("telegram", str(user_id)), lang, now)
        self._remember(user_id, lang)

    def drop(self, user_id: int) -> None:
        """Forget the cached choice (the person's data was deleted)."""
        self._langs.pop(user_id, None)

    def _remember(self, user_id: int, lang: str | None) -> None:
        self._langs[user_id] = lang
        self._langs.move_to_end(user_id)
        while len(self._langs) > self._size:
            self._langs.popitem(last=False)


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


def _webhook_error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status)


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


class TelegramNotifier:
    """Delivers outbox messages (:class:`bot.dialogue.Notifier`): the rendered reply to the
    user's private chat. A user who blocked the bot, or a chat Telegram does not know, is a
    :class:`PermanentDeliveryError`; anything else is raised for the outbox to retry."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, user_id: str, reply: Reply) -> None:
        try:
            chat_id = int(user_id)
        except ValueError:
            raise PermanentDeliveryError(f"not a Telegram user id: {user_id!r}") from None
        try:
            for piece in render(reply):
                await self.bot.send_message(chat_id, piece.text, parse_mode=ParseMode.HTML,
                                            reply_markup=piece.markup,
                                            link_preview_options=NO_PREVIEW)
        except Forbidden as exc:  # blocked by the user, user deactivated, …
            raise PermanentDeliveryError(exc.message) from exc
        except BadRequest as exc:
            if "not found" in exc.message.lower():  # chat not found, user not found
                raise PermanentDeliveryError(exc.message) from exc
            raise


# ---------------------------------------------------------------------- the bot


class TelegramBot:
    """State shared by the handlers; each handler is one method, one intent."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.settings = state.settings
        self.prefs = LangPrefs(lambda: self.state.store)
        self.flood = FloodGate()
        self.poll_timeout = 10.0  # seconds a getUpdates waits; stop() cancels it at once
        self.concurrency = 16  # updates handled at the same time
        self.connections = 16  # to the Bot API; httpx's pool costs CPU per connection per request
        self.messages_per_second = 30.0  # Telegram's overall flood limit for a bot; 0 = none
        self.outbox_interval = 2.0  # seconds between two looks at the outbox
        self.application: Application | None = None
        self._pressed: dict[tuple[int, int, str], float] = {}  # recent presses, for double taps
        self._outbox: asyncio.Task[None] | None = None
        self._admin_hooks: list[Callable[[str], Awaitable[None]]] | None = None

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
        application.add_handler(TypeHandler(Update, self.load_lang), group=-2)
        application.add_handler(TypeHandler(Update, self.flood_gate), group=-1)
        application.add_handler(CommandHandler("start", self.start, filters=new))
        application.add_handler(CommandHandler("help", self.help, filters=new))
        application.add_handler(CommandHandler("events", self.events, filters=new))
        application.add_handler(CommandHandler("services", self.services, filters=new))
        application.add_handler(CommandHandler("lang", self.lang, filters=new))
        application.add_handler(CommandHandler("signup", self.signup, filters=new))
        application.add_handler(CommandHandler(["mybookings", "bookings"], self.bookings,
                                               filters=new))
        application.add_handler(CommandHandler("forget", self.forget, filters=new))
        application.add_handler(CommandHandler("cancel", self.cancel, filters=new))
        # Admins only, in private: for anyone else these are unknown commands (help below).
        admin = new & filters.ChatType.PRIVATE & filters.User(user_id=self.settings.admin_ids)
        application.add_handler(CommandHandler("sessions", self.admin_sessions, filters=admin))
        application.add_handler(CommandHandler("export", self.admin_export, filters=admin))
        application.add_handler(CommandHandler("reload", self.admin_reload, filters=admin))
        application.add_handler(CommandHandler("stats", self.admin_stats, filters=admin))
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
        log_filters = [RedactToken(token), MaskPhones()]
        handlers = list(logging.getLogger().handlers)
        for handler in handlers:
            for log_filter in log_filters:
                handler.addFilter(log_filter)
        try:
            application = await self.start_application()
            self.application = application
            try:
                self.start_background(application)
                yield
            finally:
                await self.stop_background()
                self.application = None
                await self.stop_application(application)
        finally:
            for handler in handlers:
                for log_filter in log_filters:
                    handler.removeFilter(log_filter)

    def start_background(self, application: Application) -> None:
        """The outbox delivery task, and the admins' hook for broken knowledge."""
        store = self.state.store
        if store is not None:
            self._outbox = asyncio.create_task(
                run_outbox(store, "telegram", TelegramNotifier(application.bot), clock=self.now,
                           interval=self.outbox_interval), name="telegram outbox")
        else:
            log.warning("no database: waiting-list and reminder messages are not delivered")
        hooks = getattr(self.state, "notify_admins", None)
        if isinstance(hooks, list):
            hooks.append(self.tell_admins)
            self._admin_hooks = hooks

    async def stop_background(self) -> None:
        if self._admin_hooks is not None:
            with contextlib.suppress(ValueError):
                self._admin_hooks.remove(self.tell_admins)
            self._admin_hooks = None
        if self._outbox is not None:
            self._outbox.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._outbox
            self._outbox = None

    async def start_application(self) -> Application:
        application = self.build()
        try:
            await application.initialize()
            await self.set_commands(application)
            if application.updater is None:
                store = self.state.store  # replicas over PostgreSQL: one of them (issue 13)
                if store is None or await store.webhook_turn(
                        self.settings.telegram_webhook_url or "",
                        self.settings.telegram_webhook_secret or ""):
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
        """The command menu: Chinese for everyone, English for English-language clients; in
        each admin's private chat the admin commands too (nobody else sees them)."""
        for index, language_code in ((0, None), (1, "en")):
            commands = [BotCommand(name, texts[index]) for name, texts in COMMANDS.items()]
            await application.bot.set_my_commands(commands, language_code=language_code)
            admin = commands + [BotCommand(name, texts[index])
                                for name, texts in ADMIN_COMMANDS.items()]
            for admin_id in sorted(self.settings.admin_ids):
                try:
                    await application.bot.set_my_commands(
                        admin, scope=BotCommandScopeChat(admin_id), language_code=language_code)
                except TelegramError as exc:  # e.g. the admin has not opened the chat yet
                    log.info("admin command menu for %s not set: %s", admin_id, exc)

    async def webhook(self, request: web.Request) -> web.Response:
        """POST from Telegram: checked against the secret, then queued for the handlers."""
        secret = self.settings.telegram_webhook_secret or ""
        # Compared as bytes: a header with a non-UTF-8 byte must not raise before the check.
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode(
            "utf-8", "surrogateescape")
        if not secret or not hmac.compare_digest(given, secret.encode()):
            return _webhook_error(403, "forbidden", "wrong or missing secret token")
        application = self.application
        if application is None:
            return _webhook_error(503, "starting", "the bot is starting")
        try:
            update = Update.de_json(await request.json(), application.bot)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            return _webhook_error(400, "invalid_update", "not a Telegram update")
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

    def asker(self, update: Update) -> Asker:
        """The person in a private chat; in a group no one in particular (a sign-up in
        progress must not show its step, with the name and number typed, in a group)."""
        user = update.effective_user
        if not is_private(update.effective_chat):
            return Asker("telegram", GROUP_ASKER, self.lang_of(user))
        return Asker("telegram", str(user.id if user else 0), self.lang_of(user))

    def now(self) -> datetime:
        """The dialogue's clock (the one bookings and the outbox are stamped with)."""
        dialogue = self.state.dialogue
        return dialogue.now() if dialogue is not None else datetime.now(TZ)

    @staticmethod
    def actor(user: User | None) -> str:
        return f"telegram:{user.id if user else 0}"

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

    async def load_lang(self, update: Update, context: Context) -> None:
        """Before every update: the user's saved language into the cache ``lang_of`` reads."""
        user = update.effective_user
        if user is None:
            return
        try:
            await self.prefs.load(user.id)
        except Exception as exc:  # the Telegram language is a fine fallback
            log.warning("language preference of a user not loaded: %s", exc)

    async def flood_gate(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is not None and query.from_user is not None:  # button presses count too
            verdict = self.flood.check(query.from_user.id)
            if verdict == "ok":
                return
            await acknowledge(query)
            if verdict == "notice":
                await self.send(update, context, plain(t("flood", self.lang_of(query.from_user))))
            raise ApplicationHandlerStop
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
        action = START_ACTIONS.get(context.args[0]) if context.args else None
        if action is not None:  # a deep link from a group: t.me/<bot>?start=signup
            await self.dialogue(update, context, action)

    async def help(self, update: Update, context: Context) -> None:
        await self.send(update, context, plain(t("help", self.lang_of(update.effective_user))))

    async def events(self, update: Update, context: Context) -> None:
        lang = self.lang_of(update.effective_user)
        lines = [line for _, line in self.state.conversation.engine.events(lang)]
        text = "\n".join([t("events", lang), *lines]) if lines else t("no_events", lang)
        await self.send(update, context, plain(text))

    async def services(self, update: Update, context: Context) -> None:
        asker = self.asker(update)
        engine = self.state.conversation.engine
        reply = await self.state.conversation.press(asker, "entry:nqi-services")
        others = tuple(engine.suggestion(e, reply.lang) for e in engine.entries_in("nqi")
                       if e.id != "nqi-services")
        if reply.status is Status.ANSWER:
            reply = replace(reply, suggestions=others)
        await self.send_reply(update, context, reply)

    async def signup(self, update: Update, context: Context) -> None:
        """/signup and the open-day keyboard button: the sessions to pick from."""
        await self.dialogue(update, context, "signup")

    async def bookings(self, update: Update, context: Context) -> None:
        await self.dialogue(update, context, "bookings")

    async def forget(self, update: Update, context: Context) -> None:
        await self.dialogue(update, context, "forget")

    async def cancel(self, update: Update, context: Context) -> None:
        await self.dialogue(update, context, "signup:cancel")

    async def dialogue(self, update: Update, context: Context, action: str) -> None:
        """A step of the sign-up dialogue (command or button), in private chats only."""
        user = update.effective_user
        if not is_private(update.effective_chat):
            await self.send(update, context, self.private_only(context, self.lang_of(user),
                                                               action))
            return
        reply = await self.state.conversation.press(self.asker(update), action)
        if action == "forget:yes" and user is not None:
            self.prefs.drop(user.id)  # the saved language went with the rest
        await self.send_reply(update, context, reply)

    @staticmethod
    def private_only(context: Context, lang: str, action: str) -> list[Outgoing]:
        kind = action.partition(":")[0]
        start = "bookings" if kind in ("booking", "bookings") else \
            "forget" if kind == "forget" else "signup"
        username = context.bot.username
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(
            t("private_button", lang), url=f"https://t.me/{username}?start={start}")]])
        return plain(t("private_only", lang), markup)

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
            await self.signup(update, context)
        else:
            reply = await self.state.conversation.press(self.asker(update), item.does)
            await self.send_reply(update, context, reply)

    async def text(self, update: Update, context: Context) -> None:
        message = update.message
        assert message and message.text
        if not self.addressed(message, context):
            return
        question = message.text
        if not is_private(message.chat):
            question = mention_pattern(context.bot.username).sub(" ", question).strip()
        reply = await self.state.conversation.text(self.asker(update), question)
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
        await self.prefs.set(query.from_user.id, lang, self.now())
        markup = menu_keyboard(lang) if is_private(update.effective_chat) else None
        await self.send(update, context, plain(t("lang_set", lang), markup))

    async def press(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query
        await acknowledge(query)  # first, so the button stops spinning whatever happens next
        if not query.data or self.double_tap(query.from_user.id, query.message, query.data):
            return
        if query.data.partition(":")[0] in DIALOGUE_ACTIONS:
            await self.dialogue(update, context, query.data)
            return
        reply = await self.state.conversation.press(self.asker(update), query.data)
        await self.send_reply(update, context, reply)
        if query.data.startswith(FEEDBACK_PREFIX) and reply.kind == "feedback":
            await without_feedback_row(query)

    def double_tap(self, user_id: int, message: object, data: str, within: float = 3.0) -> bool:
        """True for the same button of the same message pressed again within a few seconds."""
        now = self.flood.clock()
        self._pressed = {k: v for k, v in self._pressed.items() if now - v < within}
        key = (user_id, getattr(message, "message_id", 0), data)
        if key in self._pressed:
            return True
        self._pressed[key] = now
        return False

    # ------------------------------------------------------------------ admins

    async def admin_sessions(self, update: Update, context: Context) -> None:
        """/sessions: every session's seats taken and left, and its waiting list."""
        user = update.effective_user
        lang = self.lang_of(user)
        dialogue = self.state.dialogue
        if dialogue is None:
            await self.send(update, context, plain(t("unavailable", lang)))
            return
        summaries = await dialogue.session_summaries(actor=self.actor(user))  # logs the view
        await self.send(update, context, plain(format_summaries(summaries, lang)))

    async def admin_export(self, update: Update, context: Context) -> None:
        """/export [SESSION_ID]: the bookings as a CSV document (UTF-8 with BOM)."""
        user = update.effective_user
        lang = self.lang_of(user)
        dialogue, store, chat = self.state.dialogue, self.state.store, update.effective_chat
        if dialogue is None or store is None or chat is None:
            await self.send(update, context, plain(t("unavailable", lang)))
            return
        session_id = context.args[0] if context.args else None
        if session_id is not None:
            known = [s.session_id for s in await dialogue.session_summaries()]
            if session_id not in known:
                await store.log_admin(self.actor(user), "export",
                                      f"session={session_id[:64]} refused: no such session",
                                      self.now())
                text = t("export_unknown", lang).format(session=session_id, ids="\n".join(known))
                await self.send(update, context, plain(text))
                return
        data = await dialogue.export_csv(session_id, actor=self.actor(user))  # logs the export
        rows = max(sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8-sig")))) - 1, 0)
        caption = t("export_caption", lang).format(scope=session_id or t("export_all", lang),
                                                   rows=rows)
        await context.bot.send_document(chat.id, document=data,
                                        filename=f"bookings-{self.now():%Y%m%d}.csv",
                                        caption=caption)

    async def admin_reload(self, update: Update, context: Context) -> None:
        """/reload: load the knowledge folder now; say what happened."""
        user = update.effective_user
        lang = self.lang_of(user)
        watcher = getattr(self.state, "watcher", None)
        if watcher is None:
            text, detail = t("reload_unavailable", lang), "unavailable"
        else:
            result = await watcher.reload()
            text = result.describe(lang)
            detail = (f"ok={getattr(result, 'ok', '?')} version={getattr(result, 'version', '?')}"
                      f" changed={getattr(result, 'changed', '?')}")
        await self.log_admin(user, "reload", detail)
        await self.send(update, context, plain(text))

    async def admin_stats(self, update: Update, context: Context) -> None:
        """/stats [days]: how the bot was used (``bot.insights``)."""
        user = update.effective_user
        lang = self.lang_of(user)
        days = STATS_DAYS
        if context.args:
            arg = context.args[0]
            if not arg.isdecimal() or not 1 <= int(arg) <= 365 or len(context.args) > 1:
                await self.send(update, context, plain(t("stats_usage", lang)))
                return
            days = int(arg)
        stats_text = insights_stats()
        store = self.state.store
        if stats_text is None or store is None:
            await self.send(update, context, plain(t("stats_unavailable", lang)))
            return
        text = await stats_text(store, days, lang)
        await self.log_admin(user, "stats", f"days={days}")
        await self.send(update, context, plain(text))

    async def log_admin(self, user: User | None, action: str, detail: str) -> None:
        store = self.state.store
        if store is not None:
            await store.log_admin(self.actor(user), action, detail, self.now())

    async def tell_admins(self, text: str) -> None:
        """Send ``text`` to every admin's private chat (``state.notify_admins`` calls this)."""
        application = self.application
        if application is None:
            return
        for admin_id in sorted(self.settings.admin_ids):
            try:
                for piece in plain(text):
                    await application.bot.send_message(admin_id, piece.text,
                                                       parse_mode=ParseMode.HTML,
                                                       link_preview_options=NO_PREVIEW)
            except TelegramError as exc:
                log.warning("could not tell admin %s: %s", admin_id, exc)

    # ------------------------------------------------------------------ errors

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


def insights_stats() -> Callable[[Store, int, str], Awaitable[str]] | None:
    """``bot.insights.stats_text`` when this version has it."""
    try:
        module = importlib.import_module("bot.insights")
    except ModuleNotFoundError as exc:
        if exc.name != "bot.insights":
            raise
        return None
    return getattr(module, "stats_text", None)


async def acknowledge(query: CallbackQuery) -> None:
    """Answer a button press. Telegram refuses a query older than some seconds (pressed while
    the bot was down): the press itself is still handled."""
    try:
        await query.answer()
    except BadRequest as exc:
        log.info("callback query %s not answered: %s", query.id, exc)


async def without_feedback_row(query: CallbackQuery) -> None:
    """Once the vote is in, the 👍/👎 row leaves the answer (its other buttons stay), so that
    nobody wonders whether the tap counted. The message may be too old to edit: no matter."""
    message = query.message
    markup = getattr(message, "reply_markup", None)
    if markup is None:
        return
    rows = [row for row in markup.inline_keyboard
            if not any(str(b.callback_data or "").startswith(FEEDBACK_PREFIX) for b in row)]
    try:
        await query.edit_message_reply_markup(InlineKeyboardMarkup(rows) if rows else None)
    except TelegramError as exc:
        log.info("feedback row of message %s kept: %s", getattr(message, "message_id", "?"), exc)


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
