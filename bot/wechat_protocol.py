"""The WeChat Official Account message protocol: signatures, safe-mode AES, XML in and out.

Pure functions with no I/O, so the aiohttp channel (:mod:`bot.channels.wechat`) and the
tests' WeChat side (``tests/wechat_side.py``) share one definition of the wire format.

* Plain mode: ``signature = sha1(sorted(token, timestamp, nonce))`` over the query only.
* Safe mode (``encrypt_type=aes``): ``msg_signature = sha1(sorted(token, timestamp, nonce,
  Encrypt))``; ``Encrypt`` is base64 of AES-256-CBC (key = base64 of the 43-character
  EncodingAESKey + "=", IV = key[:16]) over 16 random bytes, a 4-byte big-endian length, the
  XML and the AppID, padded PKCS#7-style to 32-byte blocks (WeChat's block size, not AES's).
* XML is parsed with :mod:`defusedxml`: a DOCTYPE, entities or external references are refused
  before anything is expanded (no billion laughs, no file reads).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import time
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_AGE = 300  # seconds: a timestamp further from now than this is a replay (or a wrong clock)
PAD_BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16
AES_KEY_CHARS = 43


class ProtocolError(ValueError):
    """A request that breaks the protocol; ``status`` is the HTTP answer (400 or 403)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Message:
    """One message or event from a follower (the fields the bot uses)."""

    to_user: str  # the account's own id (gh_…)
    from_user: str  # the follower's OpenID
    create_time: int
    msg_type: str  # text, image, voice, video, location, link, event, …
    content: str = ""
    msg_id: str = ""
    event: str = ""  # subscribe, unsubscribe, CLICK, VIEW, …
    event_key: str = ""

    @property
    def dedup_key(self) -> str:
        """What a retry of this message has in common with the first try: the MsgId, or for
        an event its sender and CreateTime (with the event and key, so that two menu clicks
        within one second are two clicks)."""
        if self.msg_id:
            return f"id:{self.msg_id}"
        return f"ev:{self.from_user}:{self.create_time}:{self.event}:{self.event_key}"


# --------------------------------------------------------------------------- signatures

def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the parts sorted and joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def check_signature(token: str, timestamp: str, nonce: str, signature: str,
                    encrypted: str | None = None, now: float | None = None) -> None:
    """Raise a 403 :class:`ProtocolError` unless ``signature`` is right and ``timestamp`` is
    within :data:`MAX_AGE` of now (a captured request replayed later is refused)."""
    parts = [token, timestamp, nonce] + ([encrypted] if encrypted is not None else [])
    if not signature or not hmac.compare_digest(sign(*parts), signature.lower()):
        raise ProtocolError(403, "wrong signature")
    if not timestamp.isdigit():
        raise ProtocolError(403, "timestamp is not a number")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > MAX_AGE:
        raise ProtocolError(403, "timestamp more than 5 minutes away from now")


# --------------------------------------------------------------------------- AES (safe mode)

def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte key of a 43-character EncodingAESKey (ValueError if it is not one)."""
    if len(encoding_aes_key) != AES_KEY_CHARS or not encoding_aes_key.isalnum():
        raise ValueError(f"an EncodingAESKey is {AES_KEY_CHARS} letters and digits")
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise ValueError("the EncodingAESKey does not decode to 32 bytes")
    return key


def encrypt(key: bytes, app_id: str, xml: str, random: bytes | None = None) -> str:
    """``Encrypt`` for ``xml``: what the platform sends, and what a reply carries."""
    body = xml.encode()
    plain = (random or os.urandom(16)) + struct.pack(">I", len(body)) + body + app_id.encode()
    pad = PAD_BLOCK - len(plain) % PAD_BLOCK
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def decrypt(key: bytes, app_id: str, encrypted: str) -> str:
    """The XML inside ``Encrypt``; a 400 for anything malformed, a 403 for another AppID."""
    try:
        data = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(400, "Encrypt is not base64") from None
    if not data or len(data) % 16:
        raise ProtocolError(400, "Encrypt is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= PAD_BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise ProtocolError(400, "Encrypt has bad padding")
    plain = plain[:-pad]
    if len(plain) < 20:
        raise ProtocolError(400, "Encrypt is too short")
    (length,) = struct.unpack(">I", plain[16:20])
    if 20 + length > len(plain):
        raise ProtocolError(400, "Encrypt has a wrong length")
    xml, their_app = plain[20:20 + length], plain[20 + length:]
    if not hmac.compare_digest(their_app, app_id.encode()):
        raise ProtocolError(403, "the message is for another AppID")
    try:
        return xml.decode()
    except UnicodeDecodeError:
        raise ProtocolError(400, "the decrypted message is not UTF-8") from None


# --------------------------------------------------------------------------- XML

def parse_xml(body: bytes | str) -> dict[str, str]:
    """The ``<xml>`` element's children as a flat dict; a 400 for anything else (entities,
    DOCTYPE and external references included)."""
    try:
        root: Element = fromstring(body, forbid_dtd=True, forbid_entities=True,
                                   forbid_external=True)
    except DefusedXmlException:
        raise ProtocolError(400, "XML with a DOCTYPE or entities is refused") from None
    except (ParseError, ValueError, UnicodeError):
        raise ProtocolError(400, "malformed XML") from None
    if root.tag != "xml":
        raise ProtocolError(400, "the root element must be <xml>")
    return {child.tag: (child.text or "").strip() for child in root}


def parse_message(fields: dict[str, str]) -> Message:
    """A :class:`Message` from the parsed fields (a 400 when a required one is missing)."""
    for name in ("ToUserName", "FromUserName", "CreateTime", "MsgType"):
        if not fields.get(name):
            raise ProtocolError(400, f"{name} is missing")
    if not fields["CreateTime"].isdigit():
        raise ProtocolError(400, "CreateTime is not a number")
    return Message(
        to_user=fields["ToUserName"], from_user=fields["FromUserName"],
        create_time=int(fields["CreateTime"]), msg_type=fields["MsgType"].lower(),
        content=fields.get("Content", ""), msg_id=fields.get("MsgId", ""),
        event=fields.get("Event", "").lower(), event_key=fields.get("EventKey", ""))


def cdata(text: str) -> str:
    """``text`` as CDATA (a "]]>" inside is split across two sections)."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(message: Message, content: str, now: int | None = None) -> str:
    """A passive text reply to ``message`` (sender and receiver swapped)."""
    now = int(time.time()) if now is None else now
    return (f"<xml><ToUserName>{cdata(message.from_user)}</ToUserName>"
            f"<FromUserName>{cdata(message.to_user)}</FromUserName>"
            f"<CreateTime>{now}</CreateTime><MsgType>{cdata('text')}</MsgType>"
            f"<Content>{cdata(content)}</Content></xml>")


def encrypted_reply(token: str, key: bytes, app_id: str, xml: str, timestamp: str,
                    nonce: str) -> str:
    """The safe-mode envelope of a reply: ``Encrypt`` and its ``MsgSignature``."""
    sealed = encrypt(key, app_id, xml)
    return (f"<xml><Encrypt>{cdata(sealed)}</Encrypt>"
            f"<MsgSignature>{cdata(sign(token, timestamp, nonce, sealed))}</MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce>{cdata(nonce)}</Nonce></xml>")


def mask_openid(openid: str) -> str:
    """How an OpenID appears in logs: a short hash, never the id itself."""
    return "wx#" + hashlib.sha256(openid.encode()).hexdigest()[:10]


__all__ = ["MAX_AGE", "Message", "ProtocolError", "aes_key", "cdata", "check_signature",
           "decrypt", "encrypt", "encrypted_reply", "mask_openid", "parse_message", "parse_xml",
           "sign", "text_reply"]
