"""The WeChat platform's side of the message protocol, for tests and the benchmark.

:class:`Follower` plays what WeChat does when a follower writes to the account: it builds the
message XML, signs the request (plain mode) or encrypts the XML and signs ``Encrypt`` (safe
mode), posts it over real HTTP to ``/wechat``, and checks the answer as the platform would —
the ``MsgSignature`` of an encrypted reply, its AppID, that it is addressed back to the
follower — before handing the reply's text to the test.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field

import aiohttp

from bot.wechat_protocol import aes_key, cdata, decrypt, encrypt, parse_xml, sign

TOKEN = "wechatTestToken1"
APP_ID = "wx0123456789abcdef"
APP_SECRET = "0123456789abcdef0123456789abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
ACCOUNT = "gh_qingdao_quality"

_msg_ids = itertools.count(7_000_000_000_000_000_000)


class WrongReply(AssertionError):
    """The server's answer is one WeChat would not accept."""


@dataclass
class Answer:
    """What the server answered: HTTP status, raw body, and the reply's fields if any."""

    status: int
    body: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str | None:
        """The passive reply's text; None for "success" / an empty body (no reply)."""
        return self.fields.get("Content") if self.fields else None


@dataclass
class Follower:
    """One follower (``openid``) writing to the account at ``base`` (the server's root URL)."""

    session: aiohttp.ClientSession
    base: str
    openid: str = "oFollower_0000000000000001"
    token: str = TOKEN
    app_id: str = APP_ID
    encoding_aes_key: str | None = None  # set: safe mode
    clock_skew: int = 0  # seconds added to the timestamp (negative: an old request)

    # ------------------------------------------------------------------ messages

    def message_xml(self, msg_type: str, create_time: int | None = None, **extra: str) -> str:
        fields = {"ToUserName": ACCOUNT, "FromUserName": self.openid,
                  "CreateTime": str(create_time or int(time.time())), "MsgType": msg_type,
                  **extra}
        inner = "".join(f"<{k}>{v if v.isdigit() else cdata(v)}</{k}>" for k, v in fields.items())
        return f"<xml>{inner}</xml>"

    async def text(self, content: str, msg_id: int | None = None) -> str | None:
        """Send a text message; the reply's text (None for "success")."""
        answer = await self.send_xml(self.message_xml(
            "text", Content=content, MsgId=str(msg_id if msg_id is not None else next(_msg_ids))))
        return answer.text

    async def event(self, event: str, key: str | None = None,
                    create_time: int | None = None) -> str | None:
        extra = {"Event": event} | ({"EventKey": key} if key is not None else {})
        answer = await self.send_xml(self.message_xml("event", create_time, **extra))
        return answer.text

    async def media(self, msg_type: str = "image") -> str | None:
        extra = {"PicUrl": "http://mmbiz.example/pic.jpg", "MediaId": "media1"} \
            if msg_type == "image" else {"MediaId": "media1", "Format": "amr"}
        answer = await self.send_xml(self.message_xml(msg_type, MsgId=str(next(_msg_ids)),
                                                      **extra))
        return answer.text

    async def send_xml(self, xml: str, expect: int = 200) -> Answer:
        answer = await self.post(xml)
        if answer.status != expect:
            raise WrongReply(f"HTTP {answer.status} (expected {expect}): {answer.body[:300]}")
        return answer

    # ------------------------------------------------------------------ the wire

    def query(self, body: str = "", timestamp: str | None = None,
              nonce: str | None = None) -> tuple[dict[str, str], str]:
        """The query string WeChat would add to POST ``body``, and the body it would send."""
        timestamp = timestamp or str(int(time.time()) + self.clock_skew)
        nonce = nonce or str(secrets.randbelow(10**10))
        params = {"signature": sign(self.token, timestamp, nonce), "timestamp": timestamp,
                  "nonce": nonce, "openid": self.openid}
        if self.encoding_aes_key is None:
            return params, body
        sealed = encrypt(aes_key(self.encoding_aes_key), self.app_id, body)
        params |= {"encrypt_type": "aes", "msg_signature": sign(self.token, timestamp, nonce,
                                                                sealed)}
        return params, f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName>" \
                       f"<Encrypt>{cdata(sealed)}</Encrypt></xml>"

    async def post(self, xml: str, params: dict[str, str] | None = None,
                   raw: bool = False) -> Answer:
        """POST ``xml`` signed (and sealed); ``raw`` sends it as is with ``params``."""
        if raw:
            query, body = params or {}, xml
        else:
            query, body = self.query(xml)
            query |= params or {}
        async with self.session.post(f"{self.base}/wechat", params=query, data=body.encode(),
                                     headers={"Content-Type": "text/xml"}) as response:
            text = await response.text()
            status = response.status
        if status != 200 or text in ("", "success"):
            return Answer(status, text)
        return Answer(status, text, self.open_reply(text, query))

    def open_reply(self, body: str, query: dict[str, str]) -> dict[str, str]:
        """Check a passive reply as WeChat does; its fields."""
        fields = parse_xml(body)
        if self.encoding_aes_key is not None:
            sealed = fields.get("Encrypt", "")
            if fields.get("MsgSignature") != sign(self.token, fields.get("TimeStamp", ""),
                                                  fields.get("Nonce", ""), sealed):
                raise WrongReply("the reply's MsgSignature is wrong")
            if fields.get("Nonce") != query.get("nonce"):
                raise WrongReply("the reply does not carry the request's nonce")
            fields = parse_xml(decrypt(aes_key(self.encoding_aes_key), self.app_id, sealed))
        if fields.get("ToUserName") != self.openid or fields.get("FromUserName") != ACCOUNT:
            raise WrongReply(f"the reply is not addressed back: {fields}")
        if fields.get("MsgType") != "text" or not fields.get("CreateTime", "").isdigit():
            raise WrongReply(f"not a text reply: {fields}")
        if len(fields.get("Content", "").encode()) > 2048:
            raise WrongReply("the reply's Content is over 2,048 bytes")
        return fields

    async def verify(self, echostr: str, signature: str | None = None) -> tuple[int, str]:
        """The URL check of the server configuration page."""
        timestamp, nonce = str(int(time.time()) + self.clock_skew), "12345"
        params = {"signature": signature or sign(self.token, timestamp, nonce),
                  "timestamp": timestamp, "nonce": nonce, "echostr": echostr}
        async with self.session.get(f"{self.base}/wechat", params=params) as response:
            return response.status, await response.text()


__all__ = ["AES_KEY", "ACCOUNT", "APP_ID", "APP_SECRET", "TOKEN", "Answer", "Follower",
           "WrongReply"]
