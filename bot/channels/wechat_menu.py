"""The Official Account's menu: its three buttons, and setting it through the platform API.

Apart from the channel so that ``run_bot.py wechat-menu`` (registered in
:mod:`bot.channels.cli`) loads neither the server nor the channel. A CLICK key is the action
the web's buttons send (``topics`` is the channel's own topic list).
"""

from __future__ import annotations

import sys
from typing import Any

from bot.messages import say
from bot.settings import Settings
from bot.wechat_api import WeChatApi, WeChatApiError

MENU_KEYS = {"topics": "topics", "signup": "signup", "bookings": "bookings"}  # CLICK key → action
MENU: dict[str, list[dict[str, Any]]] = {"button": [
    {"type": "click", "name": say(f"wechat.menu.{key}", "zh"), "key": key} for key in MENU_KEYS]}


async def apply_menu(settings: Settings) -> int:
    """Set :data:`MENU` through the API; 0 when set, 1 when the platform refused, 2 when the
    settings are missing (one line on stderr each, never the secret)."""
    if not (settings.wechat_app_id and settings.wechat_app_secret):
        print("Set WECHAT_TOKEN, WECHAT_APP_ID and WECHAT_APP_SECRET to apply the menu.",
              file=sys.stderr)
        return 2
    import aiohttp  # only here: `ask` and `chat` start without the HTTP client

    async with aiohttp.ClientSession() as session:
        api = WeChatApi(session, settings.wechat_app_id, settings.wechat_app_secret,
                        settings.wechat_api_base_url)
        try:
            await api.create_menu(MENU)
        except WeChatApiError as exc:
            print(f"The menu was not set: {exc}", file=sys.stderr)
            return 1
    print("The menu is set.", file=sys.stderr)
    return 0


__all__ = ["MENU", "MENU_KEYS", "apply_menu"]
