"""The web channel: the chat page, its static files and the JSON API, on one aiohttp app.

Routes (all state comes from ``app[STATE]``):

``GET /``                 the chat page (``bot/static/index.html``, its texts put in inline)
``GET /static/<name>``    the page's CSS, JavaScript and icon (package data, read at start-up)
``POST /api/ask``         ``{"question": str, "lang"?: "zh"|"zh-hant"|"en"}``
``POST /api/action``      ``{"action": str, "lang"?: ...}`` (a button press:
                          ``entry:<id>`` for a suggestion, or an id from ``reply.actions``)
``GET /api/messages``     messages waiting for this session (promotion from the waiting list,
                          reminders), each handed out once
``GET /healthz``          knowledge version, entry count, load time and uptime; 503 when the
                          database does not answer or cannot be written

Both POST calls answer with :meth:`bot.engine.Reply.to_dict` — the same fields as
``run_bot.py ask --json``; ``/api/messages`` with ``{"messages": [reply, …]}`` (the page polls
it). While the open-day sign-up waits for a name or a mobile number, the reply also has
``"expects": "name"`` or ``"phone"`` (the page shows the fitting keyboard).

The session is the server's: ``GET /`` and every ``/api/*`` call without a valid session cookie
get a new one (:data:`COOKIE`: 144 random bits, signed, HttpOnly, SameSite=Lax, no expiry, never
in a URL or the access log). A ``session`` field in the body, or a cookie value the server did
not sign, is ignored. Sign-ups are limited per client address (``SIGNUPS_PER_CLIENT_PER_DAY``)
and ``/api/*`` requests too (``RATE_LIMIT_PER_MINUTE``: 429 with ``Retry-After``); behind a
reverse proxy, ``TRUSTED_PROXIES`` says whose ``X-Forwarded-For`` is believed.

Every error is JSON ``{"error": code, "message": text for the citizen in the request's
language, "detail": text for a developer}`` (429 adds ``"retry_after": seconds``):

=====  ==========================  ==================================================
400    ``invalid_json``            the body is not UTF-8 JSON, or not a JSON object
400    ``invalid_field``           a field is missing, empty, of the wrong type (no 422:
                                   every field problem is a 400) or not an allowed value
405    ``method_not_allowed``      e.g. ``GET /api/ask`` (the ``Allow`` header says which)
404    ``not_found``               no such page, file or API
413    ``too_large``               the body is over :data:`MAX_BODY_BYTES`, or the question
                                   is over :data:`bot.engine.MAX_QUESTION_CHARS` characters
415    ``unsupported_media_type``  the request's Content-Type is not ``application/json``
408    ``timeout``                 the body did not arrive within :data:`BODY_TIMEOUT`
429    ``rate_limited``            too many requests from this address (``Retry-After``)
503    ``storage_unavailable``     the database cannot be written (disk full, read-only):
                                   sign-up steps wait, questions are still answered
=====  ==========================  ==================================================

A middleware turns anything unexpected into ``500 {"error": "internal"}`` and logs it; it is
a safety net, not a code path. Every response carries security headers; the page loads
nothing from outside its own origin (``Content-Security-Policy: default-src 'self'``), so the
chat works offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.conversation import DIALOGUE_ACTIONS, STORAGE_DOWN, Asker
from bot.engine import MAX_QUESTION_CHARS, Reply
from bot.limits import client_address, is_trusted, retry_after
from bot.messages import MESSAGES, say
from bot.state import STATE
from bot.store import StoreUnavailable, user_key

log = logging.getLogger("bot.web")

MAX_BODY_BYTES = 16 * 1024
BODY_TIMEOUT = 10.0  # seconds for a request body to arrive (slow senders hold a connection)
COOKIE = "qqm_session"
CLIENT_KEY = web.RequestKey("client", str)  # the client address (see bot.limits.client_address)
SESSION_KEY = web.RequestKey("session", str)  # the server-issued session id
NEW_SESSION_KEY = web.RequestKey("new_session", bool)  # issued with this very request
LANG_KEY = web.RequestKey("lang", str)  # the body's language, for error messages
MAX_ACTION_CHARS = 64
LANGS = ("zh", "zh-hant", "en")
STATIC_DIR = Path(__file__).parent.parent / "static"

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

    def __init__(self, status: int, error: str, detail: str, retry: int | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.retry = status, error, detail, retry


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
    asker = _asker(request, body)
    state = request.app[STATE]
    async with _turn(state, asker, urgent=False):
        reply = await state.conversation.text(asker, question)
    return await _reply_expecting(request, asker, reply)


async def _action(request: web.Request) -> web.Response:
    body = await _json_body(request)
    action = _required(body, "action")
    if len(action) > MAX_ACTION_CHARS:
        raise ApiError(400, "invalid_field", f"'action' is longer than {MAX_ACTION_CHARS} characters")
    if not action.isprintable():
        raise ApiError(400, "invalid_field", "'action' holds control characters")
    asker = _asker(request, body)
    state = request.app[STATE]
    async with _turn(state, asker, urgent=action.partition(":")[0] in DIALOGUE_ACTIONS):
        reply = await state.conversation.press(asker, action)
    return await _reply_expecting(request, asker, reply)


@contextlib.asynccontextmanager
async def _turn(state: Any, asker: Asker, urgent: bool) -> AsyncIterator[None]:
    """Sign-up steps go straight in; everything else takes one of :data:`QUESTIONS_AT_ONCE`
    places, so that a flood of questions queues in front of the gate, not in front of the
    person signing up (who waits for at most that many questions, not for the whole flood)."""
    store = state.store
    if urgent or (store is not None and store.in_flow(f"web:{asker.user_id}")):
        yield
        return
    async with state.questions_gate:
        yield


async def _messages(request: web.Request) -> web.Response:
    """The outbox of this web session (pulled: the page has no address to push to)."""
    asker = _asker(request, {})
    dialogue = request.app[STATE].dialogue
    if dialogue is None or request.get(NEW_SESSION_KEY):
        return _json({"messages": []})  # a session issued just now has nothing waiting
    try:
        replies = await dialogue.take_messages(asker)
    except StoreUnavailable:
        replies = []  # nothing can be marked as handed out: it waits for the next poll
    return _json({"messages": [reply.to_dict() for reply in replies]})


async def _healthz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    knowledge = state.knowledge
    problem = await _storage_problem(request.app)
    if problem is not None:
        return _json({"status": "unavailable", "error": "storage_unavailable",
                      "store": _store_kind(state), "store_ok": False,
                      "message": _message("storage_unavailable", _lang(request)),
                      "detail": problem}, status=503)
    return _json({
        "status": "ok",
        "store": _store_kind(state), "store_ok": True,
        "knowledge_version": knowledge.version,
        "entries": len(knowledge.entries),
        "loaded_at": datetime.fromtimestamp(state.loaded_at, UTC).isoformat(timespec="seconds"),
        "uptime_s": round(time.time() - state.started, 3),
    })


def _store_kind(state: Any) -> str | None:
    """``sqlite`` or ``postgresql`` (issue 13): which database this replica uses."""
    return state.store.kind if state.store is not None else None


HEALTH_KEPT = 1.0  # seconds a good database check is reused: probes cost a write a second


async def _storage_problem(app: web.Application) -> str | None:
    """None if the database answers and takes a write. A good answer is reused for
    :data:`HEALTH_KEPT` seconds unless a write has failed since (a flood of probes must not
    queue an fsync each in front of the sign-ups)."""
    state = app[STATE]
    store = state.store
    if store is None:
        return "the database is not open"
    if store.writable and time.monotonic() - state.health_checked < HEALTH_KEPT:
        return None
    try:
        await store.health(datetime.now(UTC))
    except Exception as exc:  # a full or read-only disk, a damaged file
        return f"the database cannot be written: {exc}"
    state.health_checked = time.monotonic()
    return None


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type",
                       f"send Content-Type: application/json, not '{request.content_type}'")
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"the body is {length} bytes; at most {MAX_BODY_BYTES}")
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            raw = await request.read()  # raises 413 past client_max_size, even without a length
    except TimeoutError:
        raise ApiError(408, "timeout", f"the body did not arrive within {BODY_TIMEOUT:.0f} s") from None
    except ConnectionError:  # the client closed its side before the body it announced ended
        raise ApiError(400, "incomplete_body", "the body ended before its Content-Length") from None
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
    if value is not None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate such as "\ud800"
            raise ApiError(400, "invalid_field", f"'{name}' is not valid Unicode text") from None
    return value


def _required(body: dict[str, Any], name: str) -> str:
    """A string field that must be there and hold more than white space."""
    value = _string(body, name)
    if value is None:
        raise ApiError(400, "invalid_field", f"'{name}' is required")
    if not value.strip():
        raise ApiError(400, "invalid_field", f"'{name}' is empty")
    return value


def _asker(request: web.Request, body: dict[str, Any]) -> Asker:
    """The person behind the request: the server-issued session (never a client-chosen
    string: a ``session`` field in the body is ignored) and their client address's hash."""
    lang = body.get("lang")
    if lang is not None and lang not in LANGS:
        raise ApiError(400, "invalid_field", f"'lang' must be one of {', '.join(LANGS)}")
    request[LANG_KEY] = lang
    sessions = request.app[STATE].sessions
    client = sessions.client_key(request[CLIENT_KEY]) if sessions is not None else None
    return Asker("web", request.get(SESSION_KEY) or "anonymous", lang, client)


_EXPECTS = {"name": "name", "phone": "phone"}  # sign-up step → what the page's input expects


async def _reply_expecting(request: web.Request, asker: Asker, reply: Reply) -> web.Response:
    """The reply as JSON (a 503 when the database cannot be written), with ``"expects":
    "name"`` or ``"phone"`` while the sign-up waits for one, so that the page brings up the
    right keyboard (``inputmode="tel"``) and autofill."""
    if reply.kind == STORAGE_DOWN:
        raise ApiError(503, "storage_unavailable", "the database cannot be written just now")
    data = reply.to_dict()
    store = request.app[STATE].store
    if reply.kind == "signup" and store is not None and asker.user_id != "anonymous":
        flow = await store.get_flow(user_key(asker.channel, asker.user_id))
        if flow is not None and flow.step in _EXPECTS:
            data["expects"] = _EXPECTS[flow.step]
    return _json(data)


def _json(data: dict[str, Any], status: int = 200) -> web.Response:
    response = web.json_response(data, status=status, dumps=_dumps)
    response.headers["Cache-Control"] = "no-store"
    return response


def _lang(request: web.Request) -> str:
    """The request's language, for error messages: the body's ``lang``, else the browser's."""
    lang = request.get(LANG_KEY)
    if lang in LANGS:
        return str(lang)
    accept = request.headers.get("Accept-Language", "").strip().lower()
    return "en" if accept.startswith("en") else "zh"


def _message(error: str, lang: str, **values: Any) -> str:
    key = f"web.{error}"
    return say(key if key in MESSAGES else "web.bad_request", lang, **values)


def _error(request: web.Request, status: int, error: str, detail: str,
           retry: int | None = None) -> web.Response:
    body: dict[str, Any] = {"error": error, "message": _message(error, _lang(request), n=retry),
                            "detail": detail}
    if retry is not None:
        body["retry_after"] = retry
    response = _json(body, status=status)
    if retry is not None:
        response.headers["Retry-After"] = str(retry)
    return response


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


PAGE_LANGS = ("zh", "en")  # the page's language switch
TEXTS_MARK = b"__PAGE_TEXTS__"  # in index.html: where the page's texts go
_PAGE_PREFIX = "web.page."
_EXAMPLE = re.compile(r"example_\d+")


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m[1].upper(), name)


def page_texts(topics: Callable[[str], list[tuple[str, str]]]) -> dict[str, dict[str, Any]]:
    """The chat page's texts per language, from the catalogue (``web.page.*``), with the
    example questions as a list and the knowledge's topics as ``[id, name]`` pairs: the page
    keeps no table of its own, so a translator or a renamed category changes it too."""
    texts: dict[str, dict[str, Any]] = {}
    for lang in PAGE_LANGS:
        words: dict[str, Any] = {"examples": []}
        for key in MESSAGES:
            if key.startswith(_PAGE_PREFIX):
                name = key[len(_PAGE_PREFIX):]
                if _EXAMPLE.fullmatch(name):
                    words["examples"].append(say(key, lang))
                else:
                    words[_camel(name)] = say(key, lang)
        words["topicList"] = [[c, name] for c, name in topics(lang)]
        texts[lang] = words
    return texts


def _inline_json(data: Any) -> bytes:
    """JSON safe inside a ``<script type="application/json">`` element (no ``</script>``)."""
    text = _dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode()


async def _page(files: dict[str, StaticFile], request: web.Request) -> web.StreamResponse:
    """The chat page with its texts inline: nothing more to fetch before it can greet (a slow
    network delays no label), and a knowledge reload renames its topics at the next load."""
    item = files.get("index.html")
    if item is None or TEXTS_MARK not in item.body:
        return _file(files, "index.html", request)
    engine = request.app[STATE].engine
    body = item.body.replace(TEXTS_MARK, _inline_json(page_texts(engine.topics)))
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    rendered = {"index.html": StaticFile(body, item.content_type, etag)}
    return _file(rendered, "index.html", request)


async def _static(files: dict[str, StaticFile], request: web.Request) -> web.StreamResponse:
    if request.match_info["name"] == "index.html":
        return await _page(files, request)
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
    state = request.app[STATE]
    request[CLIENT_KEY] = client_address(request.remote, request.headers.getall(
        "X-Forwarded-For", []), state.trusted_proxies)
    api = request.path.startswith("/api/")
    issued = None
    if (api or request.path == "/") and state.sessions is not None:
        cookie = request.cookies.get(COOKIE, "")
        session = state.sessions.verify(cookie) if cookie else None
        if session is None:
            session, issued = state.sessions.issue()
            request[NEW_SESSION_KEY] = True
        request[SESSION_KEY] = session
    try:
        if api:
            wait = state.rate_limit.hit(request[CLIENT_KEY])
            if inspect.isawaitable(wait):  # shared by the replicas (bot.limits)
                wait = await wait
            if wait is not None:
                raise ApiError(429, "rate_limited", "too many requests from this address",
                               retry_after(wait))
        response = await handler(request)
    except ApiError as exc:
        response = _error(request, exc.status, exc.error, exc.detail, exc.retry)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error(request, exc.status, _ERROR_CODES.get(exc.status, "http_error"),
                          exc.text or exc.reason)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
    except StoreUnavailable:  # logged by the store, once a minute
        response = _error(request, 503, "storage_unavailable",
                          "the database cannot be written just now")
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        response = _error(request, 500, "internal",
                          "something went wrong on our side; please try again")
    if issued is not None:
        response.set_cookie(COOKIE, issued, path="/", httponly=True, samesite="Lax",
                            secure=_https(request, state.trusted_proxies))
    return response


def _https(request: web.Request, trusted: Any) -> bool:
    """Whether the citizen's browser talks HTTPS (directly, or to a trusted proxy)."""
    if request.secure:
        return True
    if is_trusted(request.remote, trusted):
        return request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    return False


async def _add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
