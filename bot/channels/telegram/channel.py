"""The Telegram channel's core: python-telegram-bot's lifecycle inside the aiohttp server, the
command menu, sending, and who is asking. The handlers live by intent in
:mod:`~bot.channels.telegram.questions`, :mod:`~bot.channels.telegram.signup` and
:mod:`~bot.channels.telegram.admin`, each registering its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from functools import partial
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Bot, BotCommand, BotCommandScopeChat, Message, ReplyParameters, Update, User
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, TypeHandler

from bot.asker import Asker
from bot.channels.telegram import admin, gate, questions, signup, webhook
from bot.channels.telegram.gate import FloodGate, LangPrefs, PerChatOrder, SharedFloodGate
from bot.channels.telegram.logs import MaskPhones, RedactToken
from bot.channels.telegram.render import NO_PREVIEW, Outgoing, plain, render
from bot.channels.telegram.updates import Context, is_private, mention_pattern
from bot.engine import Reply
from bot.kb import TZ
from bot.messages import say
from bot.outbox import PermanentDeliveryError, run_outbox
from bot.state import STATE, AppState

log = logging.getLogger("bot.telegram")

ALLOWED_UPDATES = ["message", "callback_query"]
GROUP_ASKER = "anonymous"  # who asks in a group: no one's sign-up is touched there
# The command menu, in this order (descriptions: telegram.command.<name> in bot/messages.py).
COMMANDS = ("start", "help", "signup", "mybookings", "events", "services", "lang", "cancel",
            "forget")
# Listed only in each admin's own chat (BotCommandScopeChat), after the public ones.
ADMIN_COMMANDS = ("sessions", "export", "reload", "stats")


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
    """What every handler shares: settings, state, the application, language and flood gate."""

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
        """Each intent group registers its own handlers; the catch-all ones come last."""
        application.add_handler(TypeHandler(Update, partial(gate.load_lang, self)), group=-2)
        application.add_handler(TypeHandler(Update, partial(gate.flood_gate, self)), group=-1)
        questions.register(self, application)
        signup.register(self, application)
        admin.register(self, application)
        questions.register_catch_all(self, application)
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
        """The outbox delivery task, the admins' hook for broken knowledge, and (replicas over
        PostgreSQL) the flood gate counted in the shared database."""
        store = self.state.store
        if store is not None and store.kind == "postgresql":
            self.flood = SharedFloodGate(store, self.flood.limit, self.flood.window)
        if store is not None:
            self._outbox = asyncio.create_task(
                run_outbox(store, "telegram", TelegramNotifier(application.bot), clock=self.now,
                           interval=self.outbox_interval), name="telegram outbox")
        else:
            log.warning("no database: waiting-list and reminder messages are not delivered")
        self.state.notify_admins.append(self.tell_admins)
        self._admin_hooks = self.state.notify_admins

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
                store = self.state.store  # replicas over PostgreSQL: one of them sets it
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
        for lang, language_code in (("zh", None), ("en", "en")):
            commands = [BotCommand(name, say(f"telegram.command.{name}", lang))
                        for name in COMMANDS]
            await application.bot.set_my_commands(commands, language_code=language_code)
            admin = commands + [BotCommand(name, say(f"telegram.command.{name}", lang))
                                for name in ADMIN_COMMANDS]
            for admin_id in sorted(self.settings.admin_ids):
                try:
                    await application.bot.set_my_commands(
                        admin, scope=BotCommandScopeChat(admin_id), language_code=language_code)
                except TelegramError as exc:  # e.g. the admin has not opened the chat yet
                    log.info("admin command menu for %s not set: %s", admin_id, exc)

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

    def double_tap(self, user_id: int, message: object, data: str, within: float = 3.0) -> bool:
        """True for the same button of the same message pressed again within a few seconds."""
        now = self.flood.clock()
        self._pressed = {k: v for k, v in self._pressed.items() if now - v < within}
        key = (user_id, getattr(message, "message_id", 0), data)
        if key in self._pressed:
            return True
        self._pressed[key] = now
        return False

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

    async def on_error(self, update: object, context: Context) -> None:
        """Every exception: logged with its update id; the bot keeps running."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("Telegram update %s failed", update_id, exc_info=context.error)
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        lang = self.lang_of(update.effective_user)
        try:
            await self.send(update, context, plain(say("telegram.error", lang)))
        except TelegramError as exc:
            log.warning("could not tell the user about the error: %s", exc)

    @staticmethod
    def on_poll_error(exc: TelegramError) -> None:
        log.warning("Telegram polling: %s (retrying)", exc)


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
    webhook_url = bot.settings.telegram_webhook_url
    if webhook_url:
        if not bot.settings.telegram_webhook_secret:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL")
        app.router.add_post(urlsplit(webhook_url).path or "/", partial(webhook.webhook, bot))
    app.cleanup_ctx.append(bot.lifecycle)
