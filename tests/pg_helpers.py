"""PostgreSQL for the tests: ``TEST_DATABASE_URL`` (``.ci/run`` starts a server and sets it).

Without it the PostgreSQL tests are skipped, with the reason; with ``CI`` set they fail instead.
Each test gets a schema of its own in that database (its URL names it as the search path), so
tests never see each other's rows; the schema is dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

REASON = ("PostgreSQL is not available: set TEST_DATABASE_URL=postgresql://user:pass@host/db "
          "(.ci/run starts one)")


def database_url() -> str:
    """The test server's URL; skips the test without one (fails it under CI)."""
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not url:
        if os.environ.get("CI"):
            pytest.fail(REASON + " — CI must run the PostgreSQL tests")
        pytest.skip(REASON)
    return url


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}"


@asynccontextmanager
async def fresh_schema(url: str | None = None) -> AsyncIterator[str]:
    """A new, empty schema; yields a URL whose connections use it."""
    import asyncpg

    url = url or database_url()
    schema = f"t_{secrets.token_hex(6)}"
    try:
        admin = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at TEST_DATABASE_URL does not answer: {exc}")
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL does not answer: {exc}")
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        yield with_schema(url, schema)
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.close()
