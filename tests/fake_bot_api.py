"""A fake Telegram Bot API over real HTTP, for tests and benchmarks.

The real python-telegram-bot client talks to it through ``.base_url(fake.base_url)``: it serves
``POST /bot<token>/<method>`` with form-encoded (or multipart) parameters, answers
``{"ok": true, "result": ...}``, holds ``getUpdates`` up to its ``timeout`` and honours
``offset``. Tests put updates in with :meth:`FakeBotApi.message` and friends and wait for what
the bot sent with :meth:`FakeBotApi.wait_sent`. Files the bot uploads (``sendDocument``, sent as
multipart/form-data) are kept whole as :class:`Upload`; chats in :attr:`FakeBotApi.blocked`
answer every send with 403, as Telegram does for a user who blocked the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST"
BOT_ID = 123456
BOT_USERNAME = "qd_quality_bot"
GROUP_ID = -100777


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class Call:
    """One request the bot made: method, decoded parameters and when it arrived."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)

    @property
    def text(self) -> str:
        return self.params.get("text", "")

    @property
    def chat_id(self) -> int:
        return int(self.params.get("chat_id", 0))

    @property
    def markup(self) -> dict[str, Any]:
        return self.params.get("reply_markup") or {}

    @property
    def document(self) -> Upload | None:
        value = self.params.get("document")
        return value if isinstance(value, Upload) else None

    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback data) of an inline keyboard; (label, "") of a reply keyboard."""
        rows = self.markup.get("inline_keyboard") or self.markup.get("keyboard") or []
        out = []
        for row in rows:
            for b in row:
                out.append((b, "") if isinstance(b, str) else (b["text"], b.get("callback_data", "")))
        return out


SENDS = ("sendMessage", "editMessageText")


class FakeBotApi:
    def __init__(self, token: str = TOKEN, username: str = BOT_USERNAME,
                 bot_id: int = BOT_ID) -> None:
        self.token = token
        self.username = username
        self.bot_id = bot_id
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []  # not yet confirmed through getUpdates' offset
        self.injected_at: dict[int, float] = {}  # update id → time it was put in
        self.failing: dict[str, tuple[int, int]] = {}  # method → (calls left, HTTP status)
        self.retry_after = 1
        self.blocked: set[int] = set()  # chats whose user blocked the bot: sends get 403
        self.polls = 0  # getUpdates requests so far
        self.listeners: list[Callable[[Call], None]] = []  # told of every call (benchmarks)
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._changed = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ server

    async def start(self) -> FakeBotApi:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        self._closing = True
        await self._notify()  # long polls return at once
        if self._runner:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeBotApi:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Quality Bot",
                "username": self.username}

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = {k: _decode(k, v) for k, v in (await request.post()).items()}
        for name, value in params.items():
            if isinstance(value, web.FileField):
                params[name] = Upload(value.filename, value.content_type, value.file.read())
        if method == "getUpdates":
            self.polls += 1
            return await self._get_updates(params)
        call = Call(method, params)
        self.calls.append(call)
        for listener in self.listeners:
            listener(call)
        left, status = self.failing.get(method, (0, 0))
        if left > 0:
            self.failing[method] = (left - 1, status)
            await self._notify()
            if status == 429:
                return _error(429, f"Too Many Requests: retry after {self.retry_after}",
                              {"retry_after": self.retry_after})
            return _error(status, "Bad Request: query is too old and response timeout expired "
                                  "or query ID is invalid")
        if method in (*SENDS, "sendDocument") and call.chat_id in self.blocked:
            await self._notify()
            return _error(403, "Forbidden: bot was blocked by the user")
        answer = self._answer(call)
        await self._notify()
        if answer is None:
            return _error(400, f"Bad Request: method {method} not found")
        return web.json_response({"ok": True, "result": answer})

    def _answer(self, call: Call) -> Any:
        p = call.params
        if call.method == "getMe":
            return self.bot_user
        if call.method in SENDS:
            chat_id = int(p["chat_id"])
            return {"message_id": int(p.get("message_id") or next(self._message_ids)),
                    "date": int(time.time()), "text": p.get("text", ""),
                    "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                    "from": self.bot_user}
        if call.method == "sendDocument":
            chat_id = int(p["chat_id"])
            upload = call.document
            document = {"file_id": f"doc{len(self.calls)}", "file_unique_id": f"u{len(self.calls)}",
                        "file_name": upload.filename if upload else "file",
                        "mime_type": upload.content_type if upload else "application/octet-stream",
                        "file_size": len(upload.data) if upload else 0}
            return {"message_id": next(self._message_ids), "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                    "from": self.bot_user, "document": document,
                    **({"caption": p["caption"]} if p.get("caption") else {})}
        if call.method in ("deleteWebhook", "setWebhook", "setMyCommands", "answerCallbackQuery",
                           "sendChatAction", "editMessageReplyMarkup", "deleteMessage",
                           "close", "logOut"):
            return True
        if call.method == "getMyCommands":
            return []
        return None

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates and timeout > 0 and not self._closing:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: bool(self.updates) or self._closing),
                        timeout)
        return web.json_response({"ok": True, "result": self.updates[:limit]})

    def fail_next(self, method: str, times: int = 1, status: int = 429) -> None:
        """The next ``times`` calls of ``method`` fail: 429 with ``retry_after``, or ``status``
        (400: what Telegram says to an answerCallbackQuery that came too late)."""
        self.failing[method] = (times, status)

    # ------------------------------------------------------------------ putting updates in

    async def inject(self, body: dict[str, Any]) -> int:
        """Queue one update (``body`` without ``update_id``); returns its id."""
        update_id = next(self._update_ids)
        self.updates.append({"update_id": update_id, **body})
        self.injected_at[update_id] = time.perf_counter()
        await self._notify()
        return update_id

    def message_body(self, text: str | None = None, *, user_id: int = 42,
                     chat_id: int | None = None, chat_type: str = "private",
                     language_code: str = "zh-hans", entities: list[dict] | None = None,
                     reply_to_bot: bool = False, **extra: Any) -> dict[str, Any]:
        chat_id = user_id if chat_id is None else chat_id
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = f"User{user_id}"
        else:
            chat["title"] = "Quality group"
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}",
                     "language_code": language_code},
            **extra,
        }
        if text is not None:
            message["text"] = text
        if entities:
            message["entities"] = entities
        if reply_to_bot:
            message["reply_to_message"] = {"message_id": 1, "date": int(time.time()),
                                           "chat": chat, "from": self.bot_user, "text": "…"}
        return message

    async def message(self, text: str, **kw: Any) -> int:
        return await self.inject({"message": self.message_body(text, **kw)})

    async def command(self, command: str, **kw: Any) -> int:
        """``/start`` or ``/start some args``, with the bot_command entity PTB needs."""
        name = command.split()[0]
        entity = {"type": "bot_command", "offset": 0, "length": _utf16(name)}
        return await self.message(command, entities=[entity], **kw)

    async def group_message(self, text: str, *, mention: bool, user_id: int = 43,
                            chat_id: int = GROUP_ID, **kw: Any) -> int:
        """A supergroup message, ``@bot`` put in front (with its mention entity) if asked."""
        entities = None
        if mention:
            at = f"@{self.username}"
            text = f"{at} {text}"
            entities = [{"type": "mention", "offset": 0, "length": _utf16(at)}]
        return await self.message(text, user_id=user_id, chat_id=chat_id,
                                  chat_type="supergroup", entities=entities, **kw)

    async def sticker(self, **kw: Any) -> int:
        sticker = {"file_id": "CAACAgIAAx", "file_unique_id": "AgADx", "type": "regular",
                   "width": 512, "height": 512, "is_animated": False, "is_video": False}
        return await self.inject({"message": self.message_body(None, sticker=sticker, **kw)})

    async def edited(self, text: str, **kw: Any) -> int:
        body = self.message_body(text, edit_date=int(time.time()), **kw)
        return await self.inject({"edited_message": body})

    async def callback(self, data: str, *, user_id: int = 42, chat_id: int | None = None,
                       message_id: int = 999, language_code: str = "zh-hans",
                       markup: dict[str, Any] | None = None) -> int:
        """A press of an inline button with ``data`` on the bot's message ``message_id``
        (which carries ``markup``, the keyboard the bot sent with it, when given)."""
        chat_id = user_id if chat_id is None else chat_id
        message = {"message_id": message_id, "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                   "from": self.bot_user, "text": "…",
                   **({"reply_markup": markup} if markup else {})}
        query = {"id": str(next(self._update_ids) * 7919), "chat_instance": "ci",
                 "from": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}",
                          "language_code": language_code},
                 "message": message, "data": data}
        return await self.inject({"callback_query": query})

    # ------------------------------------------------------------------ what the bot did

    def sent(self, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.method in SENDS
                and (chat_id is None or c.chat_id == chat_id)]

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """The first ``count`` calls of ``method``, waiting for them if need be."""
        return await self._wait(lambda: self.of(method), count, timeout)

    async def wait_sent(self, count: int = 1, *, chat_id: int | None = None,
                        after: int = 0, timeout: float = 5.0) -> list[Call]:
        """Messages the bot sent (to ``chat_id``), skipping the first ``after`` of them."""
        found = await self._wait(lambda: self.sent(chat_id)[after:], count, timeout)
        return found[:count]

    async def _wait(self, pick: Any, count: int, timeout: float) -> list[Call]:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(pick()) >= count),
                                       timeout)
            except TimeoutError:
                raise AssertionError(f"wanted {count}, got {len(pick())}: "
                                     f"{[(c.method, c.text[:60]) for c in pick()]}") from None
        return pick()


JSON_PARAMS = {"reply_markup", "reply_parameters", "link_preview_options", "allowed_updates",
               "commands", "entities", "scope", "disable_notification", "show_alert"}


def _decode(name: str, value: Any) -> Any:
    """Form values: strings raw, everything else JSON-encoded (PTB's convention)."""
    if name in JSON_PARAMS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _error(status: int, description: str, parameters: dict | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
