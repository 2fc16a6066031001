"""Small interfaces that keep scripts from crowding people out: web sessions the server
issues, request rate limits, per-person locks, and the address a request came from.

Each is in memory, for one process, except what several replicas over one PostgreSQL
database must share (``bot/app.py`` wires it): the session signing key (kept in the database,
:meth:`bot.store.Store.shared_secret`, so a cookie one replica issued is good at every other)
and the request rate limit (:class:`SharedTokenBucket`, one row per client address). PostgreSQL
holds that rate without Redis (see the README's figures). One person's requests take turns
across replicas too (:class:`SharedPersonLocks`: a lease row per person while a step runs).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Protocol

SESSION_BYTES = 18  # 144 random bits per web session
MAX_TRACKED = 100_000  # clients a rate limiter remembers at once (oldest forgotten first)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


# --------------------------------------------------------------------------- web sessions


class SessionIssuer(Protocol):
    """Issues web session ids and recognises the ones it issued (and nothing else)."""

    def issue(self) -> tuple[str, str]:
        """A new session: (session id, cookie value)."""
        ...

    def verify(self, cookie: str) -> str | None:
        """The session id of a cookie this issuer made, or None for anything else."""
        ...


class SignedSessions:
    """Random ids signed with a secret key: a cookie value the server did not make (a chosen
    or guessed string) is never accepted, and no session table has to be written."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the session key must be at least 16 bytes")
        self._key = key

    def _sign(self, session_id: str) -> str:
        digest = hmac.new(self._key, b"web-session|" + session_id.encode(), hashlib.sha256)
        return _b64(digest.digest()[:16])

    def issue(self) -> tuple[str, str]:
        session_id = _b64(secrets.token_bytes(SESSION_BYTES))
        return session_id, f"{session_id}.{self._sign(session_id)}"

    def verify(self, cookie: str) -> str | None:
        session_id, dot, signature = cookie.partition(".")
        if not dot or len(session_id) != 24 or len(signature) != 22:
            return None
        if not hmac.compare_digest(signature.encode(), self._sign(session_id).encode()):
            return None
        return session_id

    def client_key(self, address: str) -> str:
        """A keyed hash of a client address (an IPv6 address by its /64): bookings keep this,
        not the address, to count and list sign-ups per address."""
        return _b64(hmac.new(self._key, b"client|" + address.encode(), hashlib.sha256)
                    .digest()[:12])


# --------------------------------------------------------------------------- rate limits


class RateLimit(Protocol):
    def hit(self, key: str) -> float | None | Awaitable[float | None]:
        """Count one request of ``key``: None if allowed, else seconds until one would be
        (awaited first when the limit is shared: :class:`SharedTokenBucket`)."""
        ...


class RateStore(Protocol):
    async def rate_hit(self, key: str, per_minute: int, at: float) -> float | None: ...


class SharedTokenBucket:
    """:class:`TokenBucket`'s rule with the buckets in the shared database: every replica
    counts against the same ``per_minute`` per client address; 0 = off."""

    def __init__(self, store: RateStore, per_minute: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.per_minute = per_minute
        self.clock = clock  # wall clock: the replicas' clocks agree, their monotonic ones do not

    async def hit(self, key: str) -> float | None:
        if self.per_minute <= 0:
            return None
        return await self.store.rate_hit(key, self.per_minute, self.clock())


class TokenBucket:
    """``per_minute`` requests a minute per key, in bursts of up to ``per_minute``; 0 = off."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, at)

    def hit(self, key: str) -> float | None:
        if self.per_minute <= 0:
            return None
        rate = self.per_minute / 60.0
        now = self.clock()
        tokens, at = self._buckets.get(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - at) * rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > MAX_TRACKED:
            self._buckets.popitem(last=False)
        return None if allowed else (1.0 - tokens) / rate


def retry_after(seconds: float) -> int:
    """Whole seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(seconds))


# --------------------------------------------------------------------------- per-person order


class PersonLocks:
    """One lock per person: their requests run one after the other (a button press and a
    typed message sent at the same moment must not race), different people's concurrently.
    A lock lives only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str | None) -> AsyncIterator[None]:
        if key is None:
            yield
            return
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class LeaseStore(Protocol):
    async def take_lease(self, key: str, holder: str, at: float, seconds: float) -> bool: ...

    async def drop_lease(self, key: str, holder: str) -> None: ...


class SharedPersonLocks(PersonLocks):
    """:class:`PersonLocks` across replicas: after the replica's own lock, a lease row in the
    shared database (taken by an upsert that succeeds only when nobody else holds it), so a
    button press and a typed message of one person that reach two replicas at once still run
    one after the other. A lease outlives no replica by more than ``lease`` seconds."""

    def __init__(self, store: LeaseStore, lease: float = 10.0, poll: float = 0.01,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.store, self.lease, self.poll, self.clock = store, lease, poll, clock
        self.holder = secrets.token_hex(8)  # this replica
        self._dropping: set[asyncio.Future[None]] = set()  # kept alive until done

    @asynccontextmanager
    async def hold(self, key: str | None) -> AsyncIterator[None]:
        async with super().hold(key):
            if key is None:
                yield
                return
            wait = self.poll
            while not await self._take(key):
                await asyncio.sleep(wait)
                wait = min(wait * 2, 0.2)
            try:
                yield
            finally:
                await self.store.drop_lease(key, self.holder)


    async def _take(self, key: str) -> bool:
        """One try; a caller cancelled meanwhile (a closed connection) never leaves the lease
        behind: it is dropped as soon as the try that took it ends."""
        task = asyncio.ensure_future(self.store.take_lease(key, self.holder, self.clock(),
                                                           self.lease))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(lambda done: self._drop_if_taken(done, key))
            raise

    def _drop_if_taken(self, done: asyncio.Future[bool], key: str) -> None:
        if not done.cancelled() and done.exception() is None and done.result():
            self._dropping.add(task := asyncio.ensure_future(self.store.drop_lease(key,
                                                                                 self.holder)))
            task.add_done_callback(self._dropping.discard)


# --------------------------------------------------------------------------- client address


def parse_networks(text: str) -> tuple[Network, ...]:
    """``TRUSTED_PROXIES``: addresses or networks separated by commas or spaces."""
    networks = []
    for part in text.replace(",", " ").split():
        networks.append(ipaddress.ip_network(part, strict=False))
    return tuple(networks)


def client_address(peer: str | None, forwarded_for: Iterable[str],
                   trusted: tuple[Network, ...]) -> str:
    """The address a request came from: the peer, unless the peer is a trusted proxy, in
    which case the right-most ``X-Forwarded-For`` address that is not itself a trusted proxy
    (the left-most ones are whatever the client chose to send). IPv6 addresses count by /64."""
    address = _ip(peer)
    if address is not None and _trusted(address, trusted):
        hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
        for hop in reversed(hops):
            candidate = _ip(hop)
            if candidate is None:
                break
            address = candidate
            if not _trusted(candidate, trusted):
                break
    if address is None:
        return peer or "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def is_trusted(peer: str | None, trusted: tuple[Network, ...]) -> bool:
    """Whether the peer is one of the trusted reverse proxies."""
    address = _ip(peer)
    return address is not None and _trusted(address, trusted)


def _ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
             trusted: tuple[Network, ...]) -> bool:
    return any(address.version == n.version and address in n for n in trusted)


__all__ = ["PersonLocks", "RateLimit", "SessionIssuer", "SharedPersonLocks", "SharedTokenBucket",
           "SignedSessions",
           "TokenBucket",
           "client_address", "is_trusted", "parse_networks", "retry_after"]
