"""A small asyncio client of the WeChat platform API: the access token, customer-service
messages and the custom menu.

Why not wechatpy's client: it is blocking (``requests``) and would stall the event loop that
also serves the web chat. The access token is fetched once and cached until shortly before it
expires (7,200 s); a ``40001`` / ``42001`` ("invalid" / "expired token") refreshes it once and
retries. The AppSecret and the token travel in URLs, so no error message here ever carries a
URL (aiohttp's exceptions do): they say what failed, not where.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: `run_bot.py ask` loads this module (the menu command)
    import aiohttp  # and should not pay a tenth of a second for an HTTP client it never uses

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
TOKEN_MARGIN = 300.0  # seconds: refresh this long before WeChat says the token expires
TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential / token, token expired
# The follower cannot be reached: unfollowed, never messaged us within 48 hours, wrong OpenID.
UNREACHABLE = frozenset({40003, 43004, 45015, 45047})
TEXT_LIMIT_BYTES = 2048  # a text message's Content, in UTF-8 bytes


class WeChatApiError(Exception):
    """The platform said no (``errcode`` ≠ 0), or could not be reached (``errcode`` None)."""

    def __init__(self, errcode: int | None, detail: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {detail}" if errcode is not None
                         else f"WeChat API unreachable: {detail}")
        self.errcode = errcode

    @property
    def unreachable(self) -> bool:
        """Retrying cannot help: the follower is not there for us any more."""
        return self.errcode in UNREACHABLE


class WeChatApi:
    """One account's API. ``session`` is the caller's (closed by the caller)."""

    def __init__(self, session: aiohttp.ClientSession, app_id: str, app_secret: str,
                 base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._session = session
        self._app_id = app_id
        self._secret = app_secret
        self._base = base_url.rstrip("/")
        import aiohttp

        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:  # never the secret or the token
        return f"WeChatApi(app_id={self._app_id!r}, base_url={self._base!r})"

    async def token(self, refresh: bool = False) -> str:
        """The cached access token, fetched when missing, near expiry, or ``refresh``."""
        async with self._lock:
            stale = self._token
            if refresh or stale is None or self._clock() >= self._expires:
                data = await self._call("GET", "/cgi-bin/token", params={
                    "grant_type": "client_credential", "appid": self._app_id,
                    "secret": self._secret})
                token = data.get("access_token")
                if not isinstance(token, str) or not token:
                    raise WeChatApiError(None, "the token answer has no access_token")
                expires = data.get("expires_in", 7200)
                lifetime = float(expires) if isinstance(expires, int | float) else 7200.0
                self._token = token
                self._expires = self._clock() + max(lifetime - TOKEN_MARGIN, lifetime / 2)
            assert self._token is not None
            return self._token

    async def send_text(self, openid: str, content: str) -> None:
        """A customer-service text message to one follower."""
        await self._with_token("/cgi-bin/message/custom/send", {
            "touser": openid, "msgtype": "text", "text": {"content": content}})

    async def create_menu(self, menu: dict[str, Any]) -> None:
        """Replace the account's custom menu."""
        await self._with_token("/cgi-bin/menu/create", menu)

    async def _with_token(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        token = await self.token()
        for attempt in (1, 2):
            try:
                return await self._call("POST", path, params={"access_token": token}, body=body)
            except WeChatApiError as exc:
                if attempt == 2 or exc.errcode not in TOKEN_ERRORS:
                    raise
                if self._token == token:  # not refreshed meanwhile by another caller
                    token = await self.token(refresh=True)
                else:
                    token = await self.token()
        raise AssertionError("unreachable")

    async def _call(self, method: str, path: str, params: dict[str, str],
                    body: dict[str, Any] | None = None) -> dict[str, Any]:
        import aiohttp

        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"} if data else None
        try:
            async with self._session.request(method, self._base + path, params=params, data=data,
                                             headers=headers, timeout=self._timeout) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError:
            raise WeChatApiError(None, f"{path} timed out") from None
        except aiohttp.ClientError as exc:
            raise WeChatApiError(None, f"{path}: {type(exc).__name__}") from None
        if status != 200:
            raise WeChatApiError(None, f"{path} answered HTTP {status}")
        try:
            answer = json.loads(raw)
        except ValueError:
            raise WeChatApiError(None, f"{path} did not answer JSON") from None
        if not isinstance(answer, dict):
            raise WeChatApiError(None, f"{path} did not answer a JSON object")
        code = answer.get("errcode", 0)
        if code:
            raise WeChatApiError(int(code), str(answer.get("errmsg", ""))[:200])
        return answer


__all__ = ["DEFAULT_BASE_URL", "TEXT_LIMIT_BYTES", "WeChatApi", "WeChatApiError"]
