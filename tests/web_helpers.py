"""Shared by the web tests: the real app, served over real HTTP on 127.0.0.1, and the web chat
in Debian's headless Chromium.

The app keeps its database in the test's own folder (``data_dir``), never in the repository's
``data/``.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, Request, async_playwright, expect

from bot.app import create_app
from bot.channels.web import COOKIE
from bot.engine import Engine
from bot.kb import load_knowledge
from bot.settings import Settings
from tests.paths import ROOT


@cache
def shipped_engine() -> Engine:
    """The engine over the shipped knowledge, built once per test process (about a second)."""
    return Engine(load_knowledge(ROOT / "knowledge"))


def make_app(data_dir: Path, *, per_address_limits: bool = True) -> web.Application:
    """The app over the shipped knowledge; ``per_address_limits=False`` lifts the limits per
    client address, for tests where many people share 127.0.0.1 (test_abuse covers them)."""
    limits = {} if per_address_limits else {"rate_limit_per_minute": 0,
                                            "signups_per_client_per_day": 0}
    settings = Settings(knowledge_dir=ROOT / "knowledge", data_dir=data_dir, host="127.0.0.1",
                        port=0, telegram_token=None, **limits)
    return create_app(settings, shipped_engine())


@asynccontextmanager
async def serve(app: web.Application | None = None, data_dir: Path | None = None
                ) -> AsyncIterator[tuple[str, web.Application]]:
    """Run the app on a free port; yield its base URL (``http://127.0.0.1:<port>``) and the app.

    Without ``app``, the app of :func:`make_app` over ``data_dir`` (a fresh temporary folder,
    removed afterwards, when that is not given either)."""
    with tempfile.TemporaryDirectory(prefix="webchat-") as scratch:
        if app is None:
            app = make_app(data_dir if data_dir is not None else Path(scratch))
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            yield f"http://127.0.0.1:{port}", app
        finally:
            await runner.cleanup()


class CookieSessions:
    """Several people in one HTTP client: each name keeps the session cookie the server issued
    it (sent by hand: aiohttp's cookie jar ignores cookies from 127.0.0.1)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def headers(self, name: str | None) -> dict[str, str]:
        cookie = self.cookies.get(name) if name is not None else None
        return {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}

    def remember(self, name: str | None, response: Any) -> None:
        morsel = response.cookies.get(COOKIE)
        if name is not None and morsel is not None and name not in self.cookies:
            self.cookies[name] = morsel.value

    def user_key(self, name: str) -> str:
        """The store's key of that person (the session id inside their cookie)."""
        return "web:" + self.cookies[name].partition(".")[0]


# --------------------------------------------------------------------------- the browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


FONTS = {"Noto Sans CJK SC": "fonts-noto-cjk", "Noto Color Emoji": "fonts-noto-color-emoji"}


@cache
def missing_fonts() -> tuple[str, ...]:
    """Debian packages of the fonts the page is measured with that are not installed: without
    them Chinese and 👍 / 👎 / 📅 are drawn as boxes, and sizes are not those a person sees."""
    try:
        listed = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True,
                                timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return tuple(FONTS.values())
    return tuple(package for family, package in FONTS.items() if family not in listed)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless. Never downloads one: without /usr/bin/chromium or the
    fonts the test is skipped on a developer machine and fails when CI is set."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI; install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    if missing_fonts():
        packages = " ".join(missing_fonts())
        if os.environ.get("CI"):
            pytest.fail(f"fonts missing in CI: apt-get install {packages}")
        pytest.skip(f"fonts missing (apt-get install {packages}): Chinese and emoji would be "
                    "drawn as boxes")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                    args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


class Chat:
    """One page of the web chat, and everything it did that it should not have."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.requests: list[str] = []  # URLs the page asked its own server for
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("request", self._request)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")

    def _request(self, request: Request) -> None:
        if request.url.startswith(self.base + "/"):
            self.requests.append(request.url)
        else:
            self.outside.append(request.url)

    @property
    def input(self) -> Any:
        """The question box (its label follows the page's language)."""
        return self.page.get_by_label("您的问题").or_(self.page.get_by_label("Your question"))

    def bot(self, status: str | None = None) -> Any:
        selector = ".msg.bot" + (f'[data-status="{status}"]' if status else "")
        return self.page.locator(selector).last

    async def ask(self, question: str) -> None:
        await self.input.fill(question)
        await self.input.press("Enter")

    async def session(self) -> str | None:
        """The session id the server issued this page (in its HttpOnly cookie)."""
        for cookie in await self.page.context.cookies():
            if cookie.get("name") == COOKIE:
                return cookie.get("value", "").partition(".")[0] or None
        return None

    def assert_clean(self, allow: str | None = None) -> None:
        errors = [e for e in self.errors if not (allow and re.search(allow, e))]
        assert not errors, errors
        assert not self.outside, f"requests outside the app: {self.outside}"


async def open_chat(browser: Browser, base: str, viewport: dict[str, int] = PHONE) -> Chat:
    context = await browser.new_context(viewport=viewport, locale="zh-CN",
                                        device_scale_factor=1, has_touch=viewport is PHONE)
    page = await context.new_page()
    page.set_default_timeout(10_000)
    chat = Chat(page, base)
    await page.goto(base + "/")
    await expect(page.locator("html.ready")).to_have_count(1)
    return chat
