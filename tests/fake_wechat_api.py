"""A fake WeChat platform API over real HTTP on 127.0.0.1: the token and the customer-service
and menu endpoints the bot calls.

``GET /cgi-bin/token`` hands out a new access token for the right AppID and secret (each
fetch counted); ``POST /cgi-bin/message/custom/send`` and ``/cgi-bin/menu/create`` accept only
the current token (40001 otherwise, as WeChat answers a stale one) and keep what they got.
:meth:`FakeWeChatApi.expire_token` makes the current token invalid; OpenIDs in
:attr:`FakeWeChatApi.unfollowed` answer 43004 ("require subscribe").
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.wechat_side import APP_ID, APP_SECRET


@dataclass(frozen=True)
class Sent:
    touser: str
    content: str


class FakeWeChatApi:
    def __init__(self, app_id: str = APP_ID, secret: str = APP_SECRET) -> None:
        self.app_id, self.secret = app_id, secret
        self.sent: list[Sent] = []
        self.menus: list[dict[str, Any]] = []
        self.token_fetches = 0
        self.unfollowed: set[str] = set()
        self._numbers = itertools.count(1)
        self._token: str | None = None
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> FakeWeChatApi:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token_endpoint)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        app.router.add_post("/cgi-bin/menu/create", self._menu)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def expire_token(self) -> None:
        """The current token stops working (WeChat invalidates it on a fetch elsewhere)."""
        self._token = None

    async def wait_sent(self, touser: str, count: int = 1, timeout: float = 10.0) -> list[Sent]:
        """The first ``count`` messages sent to ``touser`` (waits until there are that many)."""
        async def enough() -> list[Sent]:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.to(touser)) >= count)
            return self.to(touser)[:count]

        return await asyncio.wait_for(enough(), timeout)

    def to(self, touser: str) -> list[Sent]:
        return [s for s in self.sent if s.touser == touser]

    async def _token_endpoint(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("grant_type") != "client_credential" or q.get("appid") != self.app_id \
                or q.get("secret") != self.secret:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        self.token_fetches += 1
        self._token = f"ACCESS_TOKEN_{next(self._numbers)}"
        return web.json_response({"access_token": self._token, "expires_in": 7200})

    def _stale(self, request: web.Request) -> web.Response | None:
        if self._token is None or request.query.get("access_token") != self._token:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        return None

    async def _send(self, request: web.Request) -> web.Response:
        if (stale := self._stale(request)) is not None:
            return stale
        body = json.loads(await request.read())
        if body.get("msgtype") != "text" or not isinstance(body.get("text"), dict):
            return web.json_response({"errcode": 40008, "errmsg": "invalid message type"})
        content = body["text"].get("content", "")
        if len(content.encode()) > 2048:
            return web.json_response({"errcode": 45002, "errmsg": "content size out of limit"})
        if body.get("touser") in self.unfollowed:
            return web.json_response({"errcode": 43004, "errmsg": "require subscribe"})
        async with self._changed:
            self.sent.append(Sent(body["touser"], content))
            self._changed.notify_all()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _menu(self, request: web.Request) -> web.Response:
        if (stale := self._stale(request)) is not None:
            return stale
        self.menus.append(json.loads(await request.read()))
        return web.json_response({"errcode": 0, "errmsg": "ok"})


__all__ = ["FakeWeChatApi", "Sent"]
