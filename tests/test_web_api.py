"""The web channel over real HTTP on 127.0.0.1: the JSON API, its errors, /healthz and the page."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import STATE
from bot.channels.web import MAX_BODY_BYTES, STATIC_DIR
from bot.engine import MAX_QUESTION_CHARS
from bot.store import Draft, user_key
from tests.web_helpers import CookieSessions, serve, shipped_engine

JSON = {"Content-Type": "application/json"}
REPLY_FIELDS = {"status", "answer", "entry_id", "score", "lang", "kind", "links", "suggestions",
                "actions"}


class Api:
    """The JSON API; ``person`` names someone who keeps the session cookie issued to them."""

    def __init__(self, base: str, session: aiohttp.ClientSession, app: Any) -> None:
        self.base, self.session, self.app = base, session, app
        self.people = CookieSessions()

    async def post(self, path: str, payload: Any = None, *, data: Any = None,
                   headers: dict[str, str] | None = None,
                   person: str | None = None) -> tuple[int, Any]:
        if payload is not None:  # lone surrogates can only be sent escaped ("\\ud800")
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8", "backslashreplace") \
                if _encodable(payload) else json.dumps(payload).encode()
        headers = {**(JSON if headers is None else headers), **self.people.headers(person)}
        async with self.session.post(self.base + path, data=data, headers=headers) as response:
            self.people.remember(person, response)
            return response.status, await _body(response)

    async def ask(self, question: Any, person: str | None = None, **fields: Any
                  ) -> tuple[int, Any]:
        return await self.post("/api/ask", {"question": question, **fields}, person=person)

    async def action(self, action: Any, person: str | None = None, **fields: Any
                     ) -> tuple[int, Any]:
        return await self.post("/api/action", {"action": action, **fields}, person=person)


def _encodable(payload: Any) -> bool:
    try:
        json.dumps(payload, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


async def _body(response: aiohttp.ClientResponse) -> Any:
    text = await response.text()
    if response.content_type == "application/json":
        return json.loads(text)
    return text


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(data_dir=tmp_path) as (base, app), aiohttp.ClientSession() as session:
        yield Api(base, session, app)


def assert_error(status: int, body: Any, expected_status: int, error: str | None = None) -> None:
    """The error contract: {"error": code, "message": for the citizen, "detail": for a
    developer}, and "retry_after" with a 429."""
    assert status == expected_status, body
    assert isinstance(body, dict) and {"error", "message", "detail"} <= set(body) <= {
        "error", "message", "detail", "retry_after"}, body
    assert body["error"] and isinstance(body["message"], str) and body["message"]
    assert isinstance(body["detail"], str) and body["detail"]
    if error:
        assert body["error"] == error, body


# --------------------------------------------------------------------------- answers

async def test_question_gets_its_answer_and_link(api: Api) -> None:
    status, reply = await api.ask("品博会什么时候举办", lang="zh", person="test-1")
    assert status == 200
    assert set(reply) == REPLY_FIELDS
    assert reply["status"] == "answer" and reply["entry_id"] == "expo-date"
    assert "12月" in reply["answer"] and reply["lang"] == "zh"
    assert reply["links"] and all(link["url"].startswith("https://") for link in reply["links"])


def with_feedback(cli: dict[str, Any]) -> dict[str, Any]:
    """What the chat shows: the reply ``run_bot.py ask --json`` prints, with 👍 / 👎 added."""
    entry = cli["entry_id"]
    return {**cli, "actions": [*cli["actions"], {"id": f"fb:up:{entry}", "label": "👍"},
                               {"id": f"fb:down:{entry}", "label": "👎"}]}


async def test_reply_is_what_the_cli_prints(api: Api) -> None:
    question = "中国品牌日是哪天"
    status, reply = await api.ask(question)
    assert status == 200
    assert reply == with_feedback(shipped_engine().ask(question).to_dict())


async def test_clarify_then_pressing_a_suggestion_answers_it(api: Api) -> None:
    status, reply = await api.ask("品博会", lang="zh", person="s_2")
    assert status == 200 and reply["status"] == "clarify"
    assert len(reply["suggestions"]) >= 2 and reply["entry_id"] is None
    picked = reply["suggestions"][0]
    status, answer = await api.action(f"entry:{picked['id']}", lang="zh", person="s_2")
    assert status == 200
    assert answer["status"] == "answer" and answer["entry_id"] == picked["id"]
    assert answer == with_feedback(shipped_engine().answer_entry(picked["id"], "zh").to_dict())


async def test_english_question_gets_an_english_answer(api: Api) -> None:
    status, reply = await api.ask("When is the expo?", lang="en")
    assert status == 200
    assert reply["status"] == "answer" and reply["lang"] == "en"
    assert "December" in reply["answer"]


async def test_pressing_in_english_answers_in_english(api: Api) -> None:
    status, reply = await api.action("entry:expo-date", lang="en")
    assert status == 200 and reply["lang"] == "en" and "December" in reply["answer"]


async def test_topic_and_unknown_buttons(api: Api) -> None:
    status, topic = await api.action("topic:expo", lang="zh")
    assert status == 200 and topic["status"] == "clarify" and topic["suggestions"]
    status, stale = await api.action("entry:no-such-entry")
    assert status == 200 and stale["status"] == "fallback" and stale["kind"] == "expired"


async def test_session_and_lang_are_optional(api: Api) -> None:
    status, reply = await api.ask("中国品牌日是哪天")
    assert status == 200 and reply["entry_id"] == "expo-china-brand-day"
    status, reply = await api.ask("中国品牌日是哪天", lang=None, session=None)
    assert status == 200 and reply["entry_id"] == "expo-china-brand-day"


async def test_html_in_a_question_is_just_text(api: Api) -> None:
    status, reply = await api.ask('<script>alert("x")</script><img src=x onerror=alert(1)>品博会')
    assert status == 200 and set(reply) == REPLY_FIELDS
    assert "<script>" not in reply["answer"]


async def test_content_type_with_charset_is_accepted(api: Api) -> None:
    status, reply = await api.post(
        "/api/ask", data=json.dumps({"question": "品博会什么时候举办"}).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"})
    assert status == 200 and reply["entry_id"] == "expo-date"


# --------------------------------------------------------------------------- bad requests

@pytest.mark.parametrize(("payload", "expected", "error"), [
    ({}, 400, "invalid_field"),
    ({"question": ""}, 400, "invalid_field"),
    ({"question": "   \n"}, 400, "invalid_field"),
    ({"question": None}, 400, "invalid_field"),
    ({"question": 42}, 400, "invalid_field"),
    ({"question": ["品博会"]}, 400, "invalid_field"),
    ({"question": {"text": "品博会"}}, 400, "invalid_field"),
    ({"question": True}, 400, "invalid_field"),
    ({"question": "品博会", "lang": "fr"}, 400, "invalid_field"),
    ({"question": "品博会", "lang": 1}, 400, "invalid_field"),
    ({"question": "\ud800"}, 400, "invalid_field"),  # a lone surrogate (was a 500)
    ({"question": "品博会\udfff?"}, 400, "invalid_field"),
    ({"question": "问" * (MAX_QUESTION_CHARS + 1)}, 413, "too_large"),
])
async def test_bad_ask_fields(api: Api, payload: dict[str, Any], expected: int, error: str) -> None:
    status, body = await api.post("/api/ask", payload)
    assert_error(status, body, expected, error)


async def test_question_at_the_limit_is_accepted(api: Api) -> None:
    status, reply = await api.ask("问" * MAX_QUESTION_CHARS)
    assert status == 200 and set(reply) == REPLY_FIELDS


@pytest.mark.parametrize(("payload", "expected"), [
    ({}, 400),
    ({"action": ""}, 400),
    ({"action": None}, 400),
    ({"action": 3}, 400),
    ({"action": ["entry:expo-date"]}, 400),
    ({"action": "entry:" + "x" * 60}, 400),
    ({"action": "entry:expo-date", "lang": "de"}, 400),
    ({"action": "entry:\ud800"}, 400),
    ({"action": "fb:down:\u0000"}, 400),
    ({"question": "品博会"}, 400),
])
async def test_bad_action_fields(api: Api, payload: dict[str, Any], expected: int) -> None:
    status, body = await api.post("/api/action", payload)
    assert_error(status, body, expected, "invalid_field")


@pytest.mark.parametrize("path", ["/api/ask", "/api/action"])
@pytest.mark.parametrize(("data", "what"), [
    (b"{not json", "broken JSON"),
    (b"", "an empty body"),
    (b'{"question": "\xff\xfe"}', "invalid UTF-8"),
    (b'["question"]', "a list"),
    (b'"question"', "a string"),
    (b"null", "null"),
    (b"[" * 5000 + b"]" * 5000, "deep nesting"),
])
async def test_bad_json_is_400(api: Api, path: str, data: bytes, what: str) -> None:
    status, body = await api.post(path, data=data)
    assert_error(status, body, 400, "invalid_json")


@pytest.mark.parametrize("path", ["/api/ask", "/api/action"])
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "text/json"])
async def test_wrong_content_type_is_415(api: Api, path: str, content_type: str | None) -> None:
    data = json.dumps({"question": "品博会", "action": "entry:expo-date"}).encode()
    headers = {} if content_type is None else {"Content-Type": content_type}
    async with api.session.post(api.base + path, data=data, headers=headers,
                                skip_auto_headers=["Content-Type"]) as response:
        assert_error(response.status, await _body(response), 415, "unsupported_media_type")


@pytest.mark.parametrize("path", ["/api/ask", "/api/action"])
async def test_body_over_16_kb_is_413(api: Api, path: str) -> None:
    padding = "x" * MAX_BODY_BYTES
    status, body = await api.post(path, {"question": "品博会", "action": "a", "pad": padding})
    assert_error(status, body, 413, "too_large")


async def test_chunked_body_over_16_kb_is_413(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"question": "'
        for _ in range(40):
            yield b"x" * 1024
        yield b'"}'

    status, body = await api.post("/api/ask", data=chunks())
    assert_error(status, body, 413, "too_large")


async def test_body_just_under_the_limit_is_read(api: Api) -> None:
    payload = {"question": "品博会什么时候举办", "pad": ""}
    payload["pad"] = "x" * (MAX_BODY_BYTES - len(json.dumps(payload).encode()))
    assert len(json.dumps(payload).encode()) == MAX_BODY_BYTES
    status, reply = await api.post("/api/ask", payload)
    assert status == 200 and reply["entry_id"] == "expo-date"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/ask"), ("PUT", "/api/ask"), ("DELETE", "/api/action"), ("GET", "/api/action"),
    ("PATCH", "/api/ask"), ("POST", "/healthz"), ("POST", "/"), ("POST", "/api/messages"),
])
async def test_wrong_method_is_405(api: Api, method: str, path: str) -> None:
    async with api.session.request(method, api.base + path, json={"question": "x"}) as response:
        assert_error(response.status, await _body(response), 405, "method_not_allowed")
        assert "Allow" in response.headers


@pytest.mark.parametrize("path", ["/api/nothing", "/static/missing.js", "/static/../bot/app.py",
                                  "/static/%2e%2e%2fapp.py", "/static/.hidden", "/nope"])
async def test_unknown_paths_are_json_404(api: Api, path: str) -> None:
    async with api.session.get(api.base + path) as response:
        assert_error(response.status, await _body(response), 404, "not_found")


async def test_unexpected_errors_are_a_logged_json_500(api: Api, caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    class Broken:
        async def text(self, asker: Any, text: str) -> Any:
            raise RuntimeError("the engine fell over")

    api.app[STATE].conversation = Broken()
    with caplog.at_level(logging.ERROR, logger="bot.web"):
        status, body = await api.ask("品博会什么时候举办")
    assert status == 500 and body["error"] == "internal"
    assert "the engine fell over" not in json.dumps(body)
    record = next(r for r in caplog.records if r.name == "bot.web")
    assert record.exc_info and "the engine fell over" in str(record.exc_info[1])
    assert "/api/ask" in record.getMessage()


# --------------------------------------------------------------------------- messages sent later

async def get_messages(api: Api, person: str | None, query: str = "") -> tuple[int, Any]:
    async with api.session.get(f"{api.base}/api/messages{query}",
                               headers=api.people.headers(person)) as response:
        assert response.headers["Cache-Control"] == "no-store"
        api.people.remember(person, response)
        return response.status, await _body(response)


async def test_messages_for_a_session_are_handed_out_once(api: Api) -> None:
    state = api.app[STATE]
    assert state.store is not None and state.dialogue is not None
    draft = Draft("promoted", "好消息：有名额了。\n预约码：ABC234", "zh",
                  (("bookings", "我的预约"), ("booking:cancel:ABC234", "取消 ABC234")))
    await get_messages(api, "s1")  # gets its session
    await get_messages(api, "s2")
    s1 = api.people.user_key("s1").partition(":")[2]
    await state.store.enqueue(user_key("web", s1), draft, state.dialogue.now())
    await state.store.enqueue(user_key("telegram", s1), draft, state.dialogue.now())

    assert await get_messages(api, "s2") == (200, {"messages": []})
    assert await get_messages(api, None, f"?session={s1}") == (200, {"messages": []})  # a URL
    status, body = await get_messages(api, "s1")
    assert status == 200
    [message] = body["messages"]
    assert set(message) == REPLY_FIELDS
    assert message["answer"] == draft.text and message["kind"] == "promoted"
    assert message["status"] == "answer" and message["lang"] == "zh"
    assert message["actions"] == [{"id": "bookings", "label": "我的预约"},
                                  {"id": "booking:cancel:ABC234", "label": "取消 ABC234"}]
    assert await get_messages(api, "s1") == (200, {"messages": []})  # once only
    [left] = await state.store.pending_messages(state.dialogue.now())
    assert left.user_key == f"telegram:{s1}"  # another channel's message stays for its channel


async def test_the_web_asker_can_see_and_delete_its_bookings(api: Api) -> None:
    status, listed = await api.action("bookings", person="s9")
    assert status == 200 and listed["kind"] == "signup" and "没有预约" in listed["answer"]
    assert [a["id"] for a in listed["actions"]] == ["signup", "forget"]
    status, ask = await api.action("forget", person="s9")
    assert [a["id"] for a in ask["actions"]] == ["forget:yes", "forget:no"]
    status, done = await api.action("forget:yes", person="s9")
    assert status == 200 and "已删除您的全部信息" in done["answer"]


# --------------------------------------------------------------------------- health and page

async def test_healthz(api: Api) -> None:
    async with api.session.get(api.base + "/healthz") as response:
        assert response.status == 200
        health = await response.json()
    knowledge = shipped_engine().knowledge
    assert health["status"] == "ok"
    assert health["knowledge_version"] == knowledge.version
    assert health["entries"] == len(knowledge.entries) > 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", health["loaded_at"])
    assert isinstance(health["uptime_s"], float) and 0 <= health["uptime_s"] < 3600


async def test_page_is_served_with_security_headers(api: Api) -> None:
    async with api.session.get(api.base + "/") as response:
        assert response.status == 200
        assert response.content_type == "text/html" and response.charset == "utf-8"
        html = await response.text()
        csp = response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp
    assert "<title>青岛质量月问答</title>" in html and 'lang="zh-CN"' in html
    assert re.search(r'<label for="question"', html) and 'id="question"' in html
    assert 'aria-live="polite"' in html
    assert "<style" not in html and " style=" not in html and "<script>" not in html  # CSP-proof


async def test_page_carries_its_texts_and_topics_from_the_catalogue(api: Api) -> None:
    """The page greets without a second request: its texts (both languages) and the topics of
    the loaded knowledge are in the page itself, as the catalogue and the knowledge say."""
    async with api.session.get(api.base + "/") as response:
        html = await response.text()
        etag = response.headers["ETag"]
    found = re.search(r'<script id="page-texts" type="application/json">(.*?)</script>', html,
                      re.S)
    assert found is not None
    texts = json.loads(found[1])
    assert texts["zh"]["send"] == "发送" and texts["en"]["send"] == "Send"
    assert texts["en"]["phonePlaceholder"] == "Type your mobile number"
    assert len(texts["zh"]["examples"]) == len(texts["en"]["examples"]) == 4
    topics = shipped_engine().topics("en")
    assert [tuple(t) for t in texts["en"]["topicList"]] == topics and len(topics) == 7
    assert texts["zh"]["topicList"][0] == ["campaign", "质量月主题活动"]
    async with api.session.get(api.base + "/", headers={"If-None-Match": etag}) as response:
        assert response.status == 304


async def test_page_and_its_files_refer_to_nothing_outside_the_origin(api: Api) -> None:
    async with api.session.get(api.base + "/") as response:
        html = await response.text()
    referenced = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert referenced and all(ref.startswith(("/static/", "#")) for ref in referenced), referenced
    names = sorted(p.name for p in STATIC_DIR.iterdir() if p.is_file())
    assert {"index.html", "chat.css", "chat.js"} <= set(names)
    allowed = {"http://www.w3.org/2000/svg"}  # an XML namespace name, never fetched
    for name in names:
        async with api.session.get(f"{api.base}/static/{name}") as response:
            assert response.status == 200, name
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            text = (await response.read()).decode("utf-8")
        urls = set(re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"'<>)]*", text))
        assert urls <= allowed, f"{name} refers to {urls - allowed}"
        assert "@import" not in text and "url(" not in text, name


async def test_static_files_have_types_and_revalidate(api: Api) -> None:
    expected = {"chat.css": "text/css", "chat.js": "text/javascript", "icon.svg": "image/svg+xml"}
    for name, content_type in expected.items():
        async with api.session.get(f"{api.base}/static/{name}") as response:
            assert response.status == 200 and response.content_type == content_type
            etag = response.headers["ETag"]
        async with api.session.get(f"{api.base}/static/{name}",
                                   headers={"If-None-Match": etag}) as response:
            assert response.status == 304


async def test_a_body_cut_short_by_the_client_is_a_400_not_an_error(
        api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """A client announces 50 bytes, sends 16 and closes its side: the server answers 400 (if
    the client still listens) and logs no unexpected error."""
    port = int(api.base.rsplit(":", 1)[1])
    with caplog.at_level(logging.ERROR, logger="bot.web"):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 50\r\n\r\n{\"question\":\"ab")
        await writer.drain()
        writer.write_eof()
        head = (await asyncio.wait_for(reader.read(), 10)).split(b"\r\n", 1)[0]
        writer.close()
    assert head == b"" or b" 400 " in head + b" ", head
    assert not [r for r in caplog.records if r.name == "bot.web"]
    status, reply = await api.ask("品博会什么时候举办")  # and the server goes on
    assert status == 200 and reply["entry_id"] == "expo-date"
