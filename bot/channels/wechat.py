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
outbox (channel ``wechat``) the same way. A follower who unfollows is recorded (a hash of the
OpenID in ``DATA_DIR/wechat.sqlite3``) and gets no more messages until they follow again.

OpenIDs never appear in logs: :func:`~bot.wechat_protocol.mask_openid` in this module's lines,
and a filter on aiohttp's access log for the ``openid`` query parameter.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
import unicodedata
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import aiosqlite
from aiohttp import web

from bot.app import STATE
from bot.conversation import Asker
from bot.dialogue import PermanentDeliveryError, run_outbox
from bot.engine import Action, Reply, Status
from bot.kb import TZ
from bot.text import to_traditional
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

if TYPE_CHECKING:
    from bot.app import AppState

log = logging.getLogger("bot.wechat")

CHANNEL = "wechat"
PATH = "/wechat"
DEADLINE = 4.5  # seconds: WeChat gives up on a passive reply after 5
MAX_BODY_BYTES = 64 * 1024
MAX_TRACKED = 10_000  # followers (offered numbers) and message ids remembered at once
SEEN_FOR = 120.0  # seconds a processed message id is remembered (WeChat retries within ~15 s)
CHOICES_FOR = 1800.0  # seconds the numbers offered to a follower stay valid
FEEDBACK_PREFIX = "fb:"
MENU_KEYS = {"topics": "topics", "signup": "signup", "bookings": "bookings"}  # CLICK key → action
MENU = {"button": [
    {"type": "click", "name": "问答话题", "key": "topics"},
    {"type": "click", "name": "报名开放日", "key": "signup"},
    {"type": "click", "name": "我的预约", "key": "bookings"},
]}

TEXTS: dict[str, tuple[str, str]] = {
    "welcome": ("您好！欢迎关注。我是青岛2022年“质量月”问答助手，可以回答{topics}等问题。\n"
                "请直接输入问题，例如“品博会什么时候举办？”，或回复下面的数字看一个话题。"
                "You can also ask in English.",
                "Hello! I answer questions about Qingdao's 2022 Quality Month: {topics}.\n"
                "Type a question, e.g. “When is the Quality Life Expo?”, or reply with a number "
                "below to see a topic."),
    "topics": ("您可以问这些话题（回复数字查看）：", "Topics you can ask about (reply with a number):"),
    "media": ("抱歉，我只能读文字消息，请用文字输入您的问题。\n"
              "Sorry, I can only read text messages; please type your question.",
              "Sorry, I can only read text messages; please type your question."),
    "none": ("都不是", "None of these"),
    "error": ("抱歉，出了点问题，请稍后再试。\nSorry, something went wrong; please try again.",
              "Sorry, something went wrong; please try again."),
    "pick_few": ("回复 {numbers} 选择", "Reply {numbers} to choose"),
    "pick_many": ("回复 1–{n} 中的数字选择", "Reply a number from 1 to {n} to choose"),
    "more": ("（接下条）", "(continued)"),
}
# What WeChat forwards as a *text* message when a follower sends a sticker (or anything else an
# Official Account cannot receive).
UNSUPPORTED = "【收到不支持的消息类型，暂无法显示】"
_ACCESS_OPENID = re.compile(r"(openid=)([^&\s\"]+)", re.IGNORECASE)
_LEADING_NUMBER = re.compile(r"^\s*\d+[.、]\s*")

WECHAT = web.AppKey("wechat", "WeChatChannel")


def t(name: str, lang: str, **values: object) -> str:
    zh, en = TEXTS[name]
    text = (en if lang == "en" else zh).format(**values)
    return to_traditional(text) if lang == "zh-hant" else text


# --------------------------------------------------------------------------- rendering

@dataclass(frozen=True)
class Rendered:
    """A reply as WeChat text pieces (each within the limit) and the actions its numbers press."""

    pieces: tuple[str, ...]
    choices: tuple[str, ...]
    lang: str


def render(reply: Reply, limit: int = TEXT_LIMIT_BYTES) -> Rendered:
    """Text, ``<a href>`` links, then numbered choices and a "reply 1, 2, 3" line."""
    lines = [reply.text]
    for link in reply.links:
        title = link.title.replace("<", "").replace(">", "")
        lines.append(f'<a href="{link.url.replace(chr(34), "%22")}">{title}</a>')
    options = [(s.text, f"entry:{s.entry_id}") for s in reply.suggestions]
    if reply.status is Status.CLARIFY and reply.suggestions:
        options.append((t("none", reply.lang), "none"))
    options += [(a.label, a.id) for a in reply.actions]
    choices = tuple(action for _, action in options)
    if options:
        lines.append("")
        votes = []
        for n, (label, action) in enumerate(options, 1):
            label = _LEADING_NUMBER.sub("", label)  # the dialogue's own "1. …" labels
            if action.startswith(FEEDBACK_PREFIX):
                votes.append(f"{n} {label}")
            else:
                lines.append(f"{n}. {label}")
        if votes:
            lines.append("  ".join(votes))
        lines.append(_pick_line(len(options), reply.lang))
    return Rendered(tuple(split_text("\n".join(lines), limit)), choices, reply.lang)


def _pick_line(n: int, lang: str) -> str:
    if n > 4:
        return t("pick_many", lang, n=n)
    numbers = [str(i) for i in range(1, n + 1)]
    if lang == "en":
        said = numbers[0] if n == 1 else ", ".join(numbers[:-1]) + " or " + numbers[-1]
    else:
        said = "、".join(numbers)
    return t("pick_few", lang, numbers=said)


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


# --------------------------------------------------------------------------- state

@dataclass
class _Offered:
    choices: tuple[str, ...]
    lang: str
    at: float


@dataclass
class _Seen:
    """One message being processed or done: every retry gets the same answer."""

    task: asyncio.Task[Rendered | None]
    at: float
    deferred: bool = False  # answered "success"; the reply goes through the API


class Followers:
    """Who unfollowed (a SHA-256 of the OpenID), in the channel's own small SQLite file; the
    set is also kept in memory, so a message costs no database access."""

    def __init__(self, db: aiosqlite.Connection, gone: set[str]) -> None:
        self._db = db
        self._gone = gone

    @classmethod
    async def open(cls, path: Path) -> Followers:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        await db.execute("CREATE TABLE IF NOT EXISTS unfollowed "
                         "(openid_hash TEXT PRIMARY KEY, at TEXT NOT NULL)")
        await db.commit()
        async with db.execute("SELECT openid_hash FROM unfollowed") as cursor:
            gone = {row[0] async for row in cursor}
        return cls(db, gone)

    async def close(self) -> None:
        await self._db.close()

    @staticmethod
    def _hash(openid: str) -> str:
        return hashlib.sha256(openid.encode()).hexdigest()

    async def unfollowed(self, openid: str, now: datetime) -> None:
        digest = self._hash(openid)
        self._gone.add(digest)
        await self._db.execute("INSERT OR REPLACE INTO unfollowed VALUES (?, ?)",
                               (digest, now.isoformat()))
        await self._db.commit()

    async def followed(self, openid: str) -> None:
        digest = self._hash(openid)
        if digest not in self._gone:
            return
        self._gone.discard(digest)
        await self._db.execute("DELETE FROM unfollowed WHERE openid_hash = ?", (digest,))
        await self._db.commit()

    def is_unfollowed(self, openid: str) -> bool:
        return self._hash(openid) in self._gone


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
    """The handlers' shared state: settings, offered numbers, messages seen, the API."""

    state: AppState
    deadline: float = DEADLINE
    outbox_interval: float = 1.0  # seconds between two looks at the outbox
    api: WeChatApi | None = None
    followers: Followers | None = None
    _offered: OrderedDict[str, _Offered] = field(default_factory=OrderedDict)
    _seen: OrderedDict[str, _Seen] = field(default_factory=OrderedDict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        settings = self.state.settings
        self.token = settings.wechat_token or ""
        self.app_id = settings.wechat_app_id or ""
        self.key = aes_key(settings.wechat_aes_key) if settings.wechat_aes_key else None

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
        now = time.monotonic()
        self._forget_old(now)
        seen = self._seen.get(message.dedup_key)
        first = seen is None
        if seen is None:
            task = asyncio.create_task(self._process(message))
            seen = self._seen[message.dedup_key] = _Seen(task, now)
            if len(self._seen) > MAX_TRACKED:
                self._seen.popitem(last=False)
        elif seen.deferred:
            return None, first
        done, _ = await asyncio.wait({seen.task}, timeout=self.deadline)
        if not done:
            if not seen.deferred:
                seen.deferred = True
                self._spawn(self._send_later(message.from_user, seen.task))
            return None, first
        return seen.task.result(), first

    def _forget_old(self, now: float) -> None:
        while self._seen:
            key, oldest = next(iter(self._seen.items()))
            if now - oldest.at < SEEN_FOR or not oldest.task.done():
                break
            del self._seen[key]

    # ------------------------------------------------------------------ what a message means

    async def _process(self, message: Message) -> Rendered | None:
        lock = self._locks.setdefault(message.from_user, asyncio.Lock())
        try:
            async with lock:  # one follower's messages in order (a flow has steps)
                return await self._reply_to(message)
        except Exception:
            log.exception("could not answer a WeChat message from %s",
                          mask_openid(message.from_user))
            return render(Reply(Status.FALLBACK, t("error", "zh"), "zh", kind="error"))
        finally:
            if not lock.locked() and self._locks.get(message.from_user) is lock:
                del self._locks[message.from_user]

    async def _reply_to(self, message: Message) -> Rendered | None:
        openid = message.from_user
        conversation = self.state.conversation
        if message.msg_type == "event":
            return await self._event(message)
        if message.msg_type != "text" or message.content.strip() == UNSUPPORTED:
            return self._remember(openid, Reply(Status.FALLBACK, t("media", "zh"), "zh",
                                                kind="media"))
        if self.followers is not None:
            await self.followers.followed(openid)  # writing to us: reachable again
        typed = unicodedata.normalize("NFKC", message.content).strip()
        offered = self._offered_to(openid)
        if typed.isdigit() and offered is not None and 1 <= int(typed) <= len(offered.choices):
            action = offered.choices[int(typed) - 1]
            reply = await conversation.press(Asker(CHANNEL, openid, offered.lang), action)
        else:
            reply = await conversation.text(Asker(CHANNEL, openid), message.content)
        return self._remember(openid, reply)

    async def _event(self, message: Message) -> Rendered | None:
        openid = message.from_user
        if message.event == "unsubscribe":
            self._offered.pop(openid, None)
            if self.followers is not None:
                await self.followers.unfollowed(openid, datetime.now(TZ))
            log.info("WeChat follower %s unfollowed: no more messages to them", mask_openid(openid))
            return None
        if message.event == "subscribe":
            if self.followers is not None:
                await self.followers.followed(openid)
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
        text = t("welcome", lang, topics=names) if welcome else t("topics", lang)
        actions = tuple(Action(f"topic:{category}", name) for category, name in topics)
        return Reply(Status.ANSWER, text, lang, kind="welcome" if welcome else "topics",
                     actions=actions)

    def _offered_to(self, openid: str) -> _Offered | None:
        offered = self._offered.get(openid)
        if offered is None or time.monotonic() - offered.at > CHOICES_FOR:
            return None
        return offered

    def _remember(self, openid: str, reply: Reply) -> Rendered:
        """Render ``reply`` and keep which number presses what for this follower."""
        rendered = render(reply)
        self._offered.pop(openid, None)
        if rendered.choices:
            self._offered[openid] = _Offered(rendered.choices, rendered.lang, time.monotonic())
            while len(self._offered) > MAX_TRACKED:
                self._offered.popitem(last=False)
        return rendered

    # ------------------------------------------------------------------ later, through the API

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
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
        """:class:`bot.dialogue.Notifier`: an outbox message as customer-service messages."""
        if self.api is None:
            raise RuntimeError("the WeChat API client is not running")
        if self.followers is not None and self.followers.is_unfollowed(user_id):
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
        """aiohttp cleanup context: the API client, the followers file, the outbox task."""
        state = self.state
        access = logging.getLogger("aiohttp.access")
        mask = MaskOpenIds()
        access.addFilter(mask)
        session = aiohttp.ClientSession()
        self.api = WeChatApi(session, self.app_id, state.settings.wechat_app_secret or "",
                             state.settings.wechat_api_base_url)
        self.followers = await Followers.open(state.settings.data_dir / "wechat.sqlite3")
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
            tasks = [t for t in (outbox, *self._background, *(s.task for s in self._seen.values()))
                     if t is not None]
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._seen.clear()
            await self.followers.close()
            self.followers = None
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


__all__ = ["CHANNEL", "MENU", "MENU_KEYS", "WECHAT", "Followers", "Rendered", "WeChatChannel",
           "render", "setup", "split_text"]
