"""The web channel: the chat page, its static files and the JSON API, on one aiohttp app.

Routes (all state comes from ``app[STATE]``):

``GET /``                 the chat page (``bot/static/index.html``)
``GET /static/<name>``    the page's CSS, JavaScript and icon (package data, read at start-up)
``POST /api/ask``         ``{"question": str, "lang"?: "zh"|"zh-hant"|"en", "session"?: str}``
``POST /api/action``      ``{"action": str, "lang"?: ..., "session"?: ...}`` (a button press:
                          ``entry:<id>`` for a suggestion, or an id from ``reply.actions``)
``GET /api/messages``     ``?session=<id>``: messages waiting for that session (promotion from
                          the waiting list, reminders), each handed out once
``GET /healthz``          knowledge version, entry count, load time and uptime

Both POST calls answer with :meth:`bot.engine.Reply.to_dict` — the same fields as
``run_bot.py ask --json``; ``/api/messages`` with ``{"messages": [reply, …]}`` (the page polls
it). While the open-day sign-up waits for a name or a mobile number, the reply also has
``"expects": "name"`` or ``"phone"`` (the page shows the fitting keyboard). ``session`` is
1–64 characters of ``A-Za-z0-9_-`` (the page keeps a random one in localStorage); without
one the asker is ``anonymous``, who cannot sign up for the open day.

Every error is JSON ``{"error": code, "detail": text}`` with a 4xx status:

=====  ==========================  ==================================================
400    ``invalid_json``            the body is not UTF-8 JSON, or not a JSON object
400    ``invalid_field``           a field is missing, empty, of the wrong type (no 422:
                                   every field problem is a 400) or not an allowed value
405    ``method_not_allowed``      e.g. ``GET /api/ask`` (the ``Allow`` header says which)
404    ``not_found``               no such page, file or API
413    ``too_large``               the body is over :data:`MAX_BODY_BYTES`, or the question
                                   is over :data:`bot.engine.MAX_QUESTION_CHARS` characters
415    ``unsupported_media_type``  the request's Content-Type is not ``application/json``
=====  ==========================  ==================================================

A middleware turns anything unexpected into ``500 {"error": "internal"}`` and logs it; it is
a safety net, not a code path. Every response carries security headers; the page loads
nothing from outside its own origin (``Content-Security-Policy: default-src 'self'``), so the
chat works offline.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.app import STATE
from bot.conversation import Asker
from bot.engine import MAX_QUESTION_CHARS, Reply

log = logging.getLogger("bot.web")

MAX_BODY_BYTES = 16 * 1024
MAX_ACTION_CHARS = 64
LANGS = ("zh", "zh-hant", "en")
STATIC_DIR = Path(__file__).parent.parent / "static"

_SESSION = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STATIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_ERROR_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
                413: "too_large", 415: "unsupported_media_type"}

_dumps = partial(json.dumps, ensure_ascii=False)


class ApiError(Exception):
    """A client mistake: becomes a JSON error response with a 4xx status."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def setup(app: web.Application) -> None:
    files = _load_static(STATIC_DIR)
    app.middlewares.append(_error_middleware)
    app.on_response_prepare.append(_add_security_headers)
    app.router.add_get("/", partial(_page, files))
    app.router.add_get("/static/{name}", partial(_static, files))
    app.router.add_post("/api/ask", _ask)
    app.router.add_post("/api/action", _action)
    app.router.add_get("/api/messages", _messages)
    app.router.add_get("/healthz", _healthz)


# --------------------------------------------------------------------------- API

async def _ask(request: web.Request) -> web.Response:
    body = await _json_body(request)
    question = _required(body, "question")
    if len(question) > MAX_QUESTION_CHARS:
        raise ApiError(413, "too_large",
                       f"'question' is {len(question)} characters; at most {MAX_QUESTION_CHARS}")
    asker = _asker(body)
    reply = await request.app[STATE].conversation.text(asker, question)
    return await _reply_expecting(request, asker, reply)


async def _action(request: web.Request) -> web.Response:
    body = await _json_body(request)
    action = _required(body, "action")
    if len(action) > MAX_ACTION_CHARS:
        raise ApiError(400, "invalid_field", f"'action' is longer than {MAX_ACTION_CHARS} characters")
    asker = _asker(body)
    reply = await request.app[STATE].conversation.press(asker, action)
    return await _reply_expecting(request, asker, reply)


async def _messages(request: web.Request) -> web.Response:
    """The outbox of one web session (pulled: the page has no address to push to)."""
    session = request.query.get("session")
    if session is None:
        raise ApiError(400, "invalid_field", "'session' is required")
    asker = _asker({"session": session})
    dialogue = request.app[STATE].dialogue
    replies = await dialogue.take_messages(asker) if dialogue is not None else []
    return _json({"messages": [reply.to_dict() for reply in replies]})


async def _healthz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    knowledge = state.knowledge
    return _json({
        "status": "ok",
        "knowledge_version": knowledge.version,
        "entries": len(knowledge.entries),
        "loaded_at": datetime.fromtimestamp(state.loaded_at, UTC).isoformat(timespec="seconds"),
        "uptime_s": round(time.time() - state.started, 3),
    })


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type",
                       f"send Content-Type: application/json, not '{request.content_type}'")
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"the body is {length} bytes; at most {MAX_BODY_BYTES}")
    raw = await request.read()  # raises 413 past client_max_size, even without Content-Length
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "the body is not valid UTF-8") from None
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return data


def _string(body: dict[str, Any], name: str) -> str | None:
    """An optional string field: absent and null are both None."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "invalid_field", f"'{name}' must be a string")
    return value


def _required(body: dict[str, Any], name: str) -> str:
    """A string field that must be there and hold more than white space."""
    value = _string(body, name)
    if value is None:
        raise ApiError(400, "invalid_field", f"'{name}' is required")
    if not value.strip():
        raise ApiError(400, "invalid_field", f"'{name}' is empty")
    return value


def _asker(body: dict[str, Any]) -> Asker:
    lang = _string(body, "lang")
    if lang is not None and lang not in LANGS:
        raise ApiError(400, "invalid_field", f"'lang' must be one of {', '.join(LANGS)}")
    session = _string(body, "session")
    if session is not None and not _SESSION.fullmatch(session):
        raise ApiError(400, "invalid_field",
                       "'session' must be 1-64 characters of A-Z, a-z, 0-9, _ and -")
    return Asker("web", session or "anonymous", lang)


def _reply(reply: Reply) -> web.Response:
    return _json(reply.to_dict())


_EXPECTS = {"name": "name", "phone": "phone"}  # sign-up step → what the page's input expects


async def _reply_expecting(request: web.Request, asker: Asker, reply: Reply) -> web.Response:
    """The reply, with ``"expects": "name"`` or ``"phone"`` while the sign-up waits for one, so
    that the page brings up the right keyboard (``inputmode="tel"``) and autofill."""
    data = reply.to_dict()
    store = request.app[STATE].store
    if reply.kind == "signup" and store is not None and asker.user_id != "anonymous":
        flow = await store.get_flow(f"{asker.channel}:{asker.user_id}")
        if flow is not None and flow.step in _EXPECTS:
            data["expects"] = _EXPECTS[flow.step]
    return _json(data)


def _json(data: dict[str, Any], status: int = 200) -> web.Response:
    response = web.json_response(data, status=status, dumps=_dumps)
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(status: int, error: str, detail: str) -> web.Response:
    return _json({"error": error, "detail": detail}, status=status)


# --------------------------------------------------------------------------- page and files

def _load_static(directory: Path) -> dict[str, StaticFile]:
    """Every file directly in ``directory``, read once: a handful of small files."""
    files = {}
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if path.is_file() and _STATIC_NAME.fullmatch(path.name):
                body = path.read_bytes()
                content_type = _CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
                etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                files[path.name] = StaticFile(body, content_type, etag)
    return files


async def _page(files: dict[str, StaticFile], request: web.Request) -> web.StreamResponse:
    return _file(files, "index.html", request)


async def _static(files: dict[str, StaticFile], request: web.Request) -> web.StreamResponse:
    return _file(files, request.match_info["name"], request)


def _file(files: dict[str, StaticFile], name: str, request: web.Request) -> web.StreamResponse:
    item = files.get(name)
    if item is None:
        raise web.HTTPNotFound(text=f"no file '{name}'")
    headers = {"ETag": item.etag, "Cache-Control": "no-cache"}
    if item.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=item.body, headers={**headers, "Content-Type": item.content_type})


# --------------------------------------------------------------------------- middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return _error(exc.status, exc.error, exc.detail)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error(exc.status, _ERROR_CODES.get(exc.status, "http_error"),
                          exc.text or exc.reason)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return _error(500, "internal", "something went wrong on our side; please try again")


async def _add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
