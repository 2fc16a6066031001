"""The WeChat Official Account (公众号) channel: WeChat XML in, the conversation's Reply out.

Like every channel it only translates. ``GET /wechat`` answers the platform's URL check;
``POST /wechat`` checks the signature (plain mode) or ``msg_signature`` and decrypts (safe
mode, when ``WECHAT_AES_KEY`` is set) before it parses anything (:mod:`bot.wechat_protocol`),
then hands text to :class:`~bot.conversation.Conversation` with the follower's OpenID as the
person (channel ``wechat``) and answers with a passive XML reply.

Passive replies have no buttons, so suggestions and actions become numbered lines ("回复 1、2
选择"); the numbers each follower was last offered are remembered, and a number typed next is
the button press. Links are ``<a href>``. A reply over WeChat's 2,048 bytes is split at line
breaks: the first part is the passive reply, the rest follow as customer-service messages.

WeChat waits 5 s and then retries (three tries in all): a message is processed once (by MsgId;
events by sender and CreateTime) and every try gets the same reply. A reply not ready within
:attr:`WeChatChannel.deadline` (4.5 s) is answered "success" (no reply) and sent through the
customer-service API when it is ready. Reminders and waiting-list promotions come from the
outbox (channel ``wechat``) the same way. A follower who unfollows is recorded and gets no
more messages until they follow again. What the channel remembers of its own (messages taken,
numbers offered, who unfollowed) is behind :class:`~bot.channels.wechat_memory.Memory`.

The numbered lines and the picking by number are :mod:`bot.channels.lines` (the console's);
every text is in :mod:`bot.messages` (``wechat.`` keys); the menu is
:mod:`bot.channels.wechat_menu`.

OpenIDs never appear in logs: :func:`~bot.wechat_protocol.mask_openid` in this module's lines,
and a filter on aiohttp's access log for the ``openid`` query parameter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from bot.asker import Asker
from bot.channels.lines import Numbered, numbered
from bot.channels.wechat_memory import LocalMemory, Memory
from bot.channels.wechat_menu import MENU, MENU_KEYS
from bot.engine import Action, Link, Reply, Status
from bot.kb import TZ
from bot.messages import say
from bot.outbox import PermanentDeliveryError, run_outbox
from bot.state import STATE, AppState
from bot.wechat_api import TEXT_LIMIT_BYTES, WeChatApi, WeChatApiError
from bot.wechat_protocol import (
    Message,
    ProtocolError,
    aes_key,
    check_signature,
    decrypt,
    encrypted_reply,
    mask_openid,
    parse_message,
    parse_xml,
    text_reply,
)

log = logging.getLogger("bot.wechat")

CHANNEL = "wechat"
PATH = "/wechat"
DEADLINE = 4.5  # seconds: WeChat gives up on a passive reply after 5
MAX_BODY_BYTES = 64 * 1024
# What WeChat forwards as a *text* message when a follower sends a sticker (or anything else an
# Official Account cannot receive).
UNSUPPORTED = "【收到不支持的消息类型，暂无法显示】"
_ACCESS_OPENID = re.compile(r"(openid=)([^&\s\"]+)", re.IGNORECASE)

WECHAT = web.AppKey("wechat", "WeChatChannel")


# --------------------------------------------------------------------------- rendering

@dataclass(frozen=True)
class Rendered:
    """A reply as WeChat text pieces (each within the limit) and the actions its numbers press."""

    pieces: tuple[str, ...]
    lines: Numbered  # the whole text and what each number presses
    lang: str

    @property
    def choices(self) -> tuple[str, ...]:
        """The action ids behind the numbers 1, 2, … in order."""
        return tuple(action for action, _ in self.lines.options)


def _a_href(link: Link) -> str:
    title = link.title.replace("<", "").replace(">", "")
    return f'<a href="{link.url.replace(chr(34), "%22")}">{title}</a>'


def render(reply: Reply, limit: int = TEXT_LIMIT_BYTES) -> Rendered:
    """Text, ``<a href>`` links, then numbered choices (👍/👎 too) and a "reply 1, 2, 3" line:
    :func:`bot.channels.lines.numbered`, cut into pieces within WeChat's limit."""
    lines = numbered(reply, votes=True, indent="", link=_a_href, pick=True)
    return Rendered(tuple(split_text(lines.text, limit)), lines, reply.lang)


def split_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """Pieces of at most ``limit`` UTF-8 bytes, cut at line breaks where possible."""
    if len(text.encode()) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line.encode()) > limit:  # one very long line: cut at a character
            head = _fit(line, limit)
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
            line = line[len(head):]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode()) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return [p for p in pieces if p.strip()] or [text[:1]]


def _fit(line: str, limit: int) -> str:
    """The longest start of ``line`` within ``limit`` bytes, after a sentence end if one is near."""
    size, end = 0, 0
    for i, ch in enumerate(line):
        size += len(ch.encode())
        if size > limit:
            break
        end = i + 1
    head = line[:end]
    cut = max(head.rfind(mark) for mark in "。！？；.!?;")
    return head[:cut + 1] if cut > end // 2 else head


class MaskOpenIds(logging.Filter):
    """aiohttp's access log prints the query string, and WeChat puts ``openid=`` there."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _ACCESS_OPENID.sub(lambda m: m.group(1) + mask_openid(m.group(2)), message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


# --------------------------------------------------------------------------- the channel

@dataclass
class WeChatChannel:
    """The handlers' shared state: settings, the API client, the channel's :class:`Memory`."""

    state: AppState
    deadline: float = DEADLINE
    outbox_interval: float = 1.0  # seconds between two looks at the outbox
    api: WeChatApi | None = None
    memory: Memory[Rendered | None] | None = None  # opened by the lifecycle
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        settings = self.state.settings
        self.token = settings.wechat_token or ""
        self.app_id = settings.wechat_app_id or ""
        self.key = aes_key(settings.wechat_aes_key) if settings.wechat_aes_key else None

    @property
    def _memory(self) -> Memory[Rendered | None]:
        if self.memory is None:
            raise RuntimeError("the WeChat channel is not running")
        return self.memory

    # ------------------------------------------------------------------ HTTP

    async def verify(self, request: web.Request) -> web.Response:
        """The platform's URL check: ``echostr`` back, unchanged, if the signature is right."""
        query = request.query
        try:
            check_signature(self.token, query.get("timestamp", ""), query.get("nonce", ""),
                            query.get("signature", ""))
        except ProtocolError as exc:
            return _error(exc.status, exc.detail)
        return web.Response(text=query.get("echostr", ""), content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        """One message or event: checked, de-duplicated, answered within the deadline."""
        try:
            message = await self._read(request)
        except ProtocolError as exc:
            log.info("WeChat request refused (%d): %s", exc.status, exc.detail)
            return _error(exc.status, exc.detail)
        rendered, first = await self._answer(message)
        if rendered is None:
            return web.Response(text="success", content_type="text/plain")
        if len(rendered.pieces) > 1 and first:
            self._spawn(self._send_pieces(message.from_user, rendered.pieces[1:]))
        xml = text_reply(message, rendered.pieces[0])
        if self.key is not None and request.query.get("encrypt_type") == "aes":
            xml = encrypted_reply(self.token, self.key, self.app_id, xml, str(int(time.time())),
                                  request.query.get("nonce", ""))
        return web.Response(text=xml, content_type="application/xml")

    async def _read(self, request: web.Request) -> Message:
        query = request.query
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise ProtocolError(413, "the body is too large")
        body = await request.content.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise ProtocolError(413, "the body is too large")
        if query.get("encrypt_type") == "aes":
            if self.key is None:
                raise ProtocolError(400, "safe mode is not configured (WECHAT_AES_KEY)")
            sealed = parse_xml(body).get("Encrypt", "")
            check_signature(self.token, timestamp, nonce, query.get("msg_signature", ""),
                            encrypted=sealed)
            if not sealed:
                raise ProtocolError(400, "Encrypt is missing")
            fields = parse_xml(decrypt(self.key, self.app_id, sealed))
        else:
            check_signature(self.token, timestamp, nonce, query.get("signature", ""))
            if self.key is not None:
                raise ProtocolError(403, "this account runs in safe mode: messages must be "
                                         "encrypted")
            fields = parse_xml(body)
        return parse_message(fields)

    async def _answer(self, message: Message) -> tuple[Rendered | None, bool]:
        """The reply within the deadline, or None ("success": none now, the API later); and
        whether this is the message's first try."""
        seen, first = self._memory.take(message.dedup_key, self._process(message))
        if seen.deferred:
            return None, first
        done, _ = await asyncio.wait({seen.task}, timeout=self.deadline)
        if not done:
            if not seen.deferred:
                seen.deferred = True
                self._spawn(self._send_later(message.from_user, seen.task))
            return None, first
        return seen.task.result(), first

    # ------------------------------------------------------------------ what a message means

    async def _process(self, message: Message) -> Rendered | None:
        lock = self._locks.setdefault(message.from_user, asyncio.Lock())
        try:
            async with lock:  # one follower's messages in order (a flow has steps)
                return await self._reply_to(message)
        except Exception:
            log.exception("could not answer a WeChat message from %s",
                          mask_openid(message.from_user))
            return render(Reply(Status.FALLBACK, say("wechat.error", "zh"), "zh", kind="error"))
        finally:
            if not lock.locked() and self._locks.get(message.from_user) is lock:
                del self._locks[message.from_user]

    async def _reply_to(self, message: Message) -> Rendered | None:
        openid = message.from_user
        conversation = self.state.conversation
        if message.msg_type == "event":
            return await self._event(message)
        if message.msg_type != "text" or message.content.strip() == UNSUPPORTED:
            return self._remember(openid, Reply(Status.FALLBACK, say("wechat.media", "zh"), "zh",
                                                kind="media"))
        await self._memory.followed(openid)  # writing to us: reachable again
        offered = self._memory.offered(openid)
        pressed = offered.numbered.pressed(message.content) if offered is not None else None
        if offered is not None and pressed is not None:
            reply = await conversation.press(Asker(CHANNEL, openid, offered.lang), pressed[0])
        else:
            reply = await conversation.text(Asker(CHANNEL, openid), message.content)
        return self._remember(openid, reply)

    async def _event(self, message: Message) -> Rendered | None:
        openid = message.from_user
        if message.event == "unsubscribe":
            await self._memory.unfollowed(openid, datetime.now(TZ))
            log.info("WeChat follower %s unfollowed: no more messages to them", mask_openid(openid))
            return None
        if message.event == "subscribe":
            await self._memory.followed(openid)
            return self._remember(openid, self.topics(welcome=True))
        if message.event == "click":
            action = MENU_KEYS.get(message.event_key, "topics")
            if action == "topics":
                return self._remember(openid, self.topics())
            reply = await self.state.conversation.press(Asker(CHANNEL, openid), action)
            return self._remember(openid, reply)
        return None  # VIEW (a link opened), location reports, …: nothing to say

    def topics(self, welcome: bool = False, lang: str = "zh") -> Reply:
        """The welcome (or the menu's topic list): every topic as a numbered choice."""
        engine = self.state.conversation.engine
        topics = engine.topics(lang)
        names = (", " if lang == "en" else "、").join(name for _, name in topics)
        text = say("wechat.welcome", lang, topics=names) if welcome else say("wechat.topics", lang)
        actions = tuple(Action(f"topic:{category}", name) for category, name in topics)
        return Reply(Status.ANSWER, text, lang, kind="welcome" if welcome else "topics",
                     actions=actions)

    def _remember(self, openid: str, reply: Reply) -> Rendered:
        """Render ``reply`` and keep which number presses what for this follower."""
        rendered = render(reply)
        self._memory.offer(openid, rendered.lines, rendered.lang)
        return rendered

    # ------------------------------------------------------------------ later, through the API

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_later(self, openid: str, task: asyncio.Task[Rendered | None]) -> None:
        rendered = await task
        if rendered is not None:
            await self._send_pieces(openid, rendered.pieces)

    async def _send_pieces(self, openid: str, pieces: tuple[str, ...]) -> None:
        if self.api is None:
            log.warning("no WeChat API client: a reply to %s was not sent", mask_openid(openid))
            return
        try:
            for piece in pieces:
                await self.api.send_text(openid, piece)
        except WeChatApiError as exc:
            log.warning("a late reply to %s was not sent: %s", mask_openid(openid), exc)

    async def send(self, user_id: str, reply: Reply) -> None:
        """:class:`bot.outbox.Notifier`: an outbox message as customer-service messages."""
        if self.api is None:
            raise RuntimeError("the WeChat API client is not running")
        if self._memory.is_unfollowed(user_id):
            raise PermanentDeliveryError("the follower unfollowed the account")
        rendered = self._remember(user_id, reply)
        try:
            for piece in rendered.pieces:
                await self.api.send_text(user_id, piece)
        except WeChatApiError as exc:
            if exc.unreachable:
                raise PermanentDeliveryError(str(exc)) from exc
            raise

    # ------------------------------------------------------------------ lifecycle

    def _now(self) -> datetime:
        """The dialogue's clock (reminders are due by it), or the wall clock."""
        dialogue = self.state.dialogue
        return dialogue.now() if dialogue is not None else datetime.now(TZ)

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: the API client, the channel's memory, the outbox task."""
        state = self.state
        access = logging.getLogger("aiohttp.access")
        mask = MaskOpenIds()
        access.addFilter(mask)
        session = aiohttp.ClientSession()
        self.api = WeChatApi(session, self.app_id, state.settings.wechat_app_secret or "",
                             state.settings.wechat_api_base_url)
        self.memory = await LocalMemory.open(state.settings.data_dir / "wechat.sqlite3")
        outbox = None
        if state.store is not None:
            outbox = asyncio.create_task(run_outbox(
                state.store, CHANNEL, self, clock=self._now, interval=self.outbox_interval),
                name="wechat outbox")
        else:
            log.warning("no database: reminders are not delivered to WeChat followers")
        try:
            yield
        finally:
            tasks = [t for t in (outbox, *self._background, *self.memory.in_flight())
                     if t is not None]
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.memory.close()
            self.memory = None
            self.api = None
            await session.close()
            access.removeFilter(mask)


def _error(status: int, detail: str) -> web.Response:
    codes = {400: "bad_request", 403: "forbidden", 413: "too_large"}
    return web.json_response({"error": codes.get(status, "bad_request"), "detail": detail},
                             status=status)


def setup(app: web.Application) -> WeChatChannel:
    """Routes and lifecycle (call after the storage context is added: the outbox needs it)."""
    channel = WeChatChannel(app[STATE])
    app[WECHAT] = channel
    app.router.add_get(PATH, channel.verify)
    app.router.add_post(PATH, channel.receive)
    app.cleanup_ctx.append(channel.lifecycle)
    return channel


__all__ = ["CHANNEL", "MENU", "MENU_KEYS", "WECHAT", "Rendered", "WeChatChannel", "render",
           "setup", "split_text"]
