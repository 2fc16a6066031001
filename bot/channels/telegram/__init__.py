"""The Telegram channel: python-telegram-bot 22 inside the aiohttp server, one module per intent.

``setup(app)`` adds an aiohttp ``cleanup_ctx`` that runs PTB's manual lifecycle (initialize,
poll or webhook, start … stop, shutdown) in the server's own event loop. Like every channel it
only translates: a message or a button press in, a :class:`~bot.engine.Reply` out, rendered as
Telegram HTML in which every piece of knowledge text is escaped.

Button presses carry self-contained callback data (``entry:<id>``, ``topic:<category>``,
``none``, ``lang:<code>``, or an action id), so a button on an old message still works after a
restart. The token is never logged: httpx stays below WARNING (``app.configure_logging``) and a
log filter masks it in anything a library might print; another masks mainland mobile numbers
(PTB logs every message text at DEBUG, and people type their number during the sign-up).

The open-day sign-up (``bot.dialogue``) runs in private chats only: its commands and buttons
in a group point to a private chat instead, and a group message never reaches a person's
sign-up (it is answered as from no one in particular), so nothing personal is shown there.
Messages for people other than the one being answered (promotion from the waiting list,
reminders) come from the database's outbox, delivered by :class:`TelegramNotifier`.

Admin commands (``ADMIN_IDS``, private chats only) are invisible to everyone else: for them
``/export`` is an unknown command like any other.

Modules: :mod:`.channel` (lifecycle, sending, who asks), :mod:`.questions`, :mod:`.signup` and
:mod:`.admin` (the handlers by intent, each registering its own), :mod:`.render` (HTML and
keyboards), :mod:`.gate` (flood gate, per-chat order, language choice), :mod:`.webhook`,
:mod:`.logs` (token and phone-number filters), :mod:`.updates` (small facts about an update).
"""

from bot.channels.telegram.channel import (
    ADMIN_COMMANDS,
    BOT,
    COMMANDS,
    TelegramBot,
    TelegramNotifier,
    file_url_for,
    setup,
)
from bot.channels.telegram.gate import FloodGate, LangPrefs, PerChatOrder
from bot.channels.telegram.logs import MaskPhones, RedactToken, formatted, mask_phones
from bot.channels.telegram.render import MENU, MenuItem, Outgoing, plain, render, split_text

__all__ = ["ADMIN_COMMANDS", "BOT", "COMMANDS", "MENU", "FloodGate", "LangPrefs", "MaskPhones",
           "MenuItem", "Outgoing", "PerChatOrder", "RedactToken", "TelegramBot",
           "TelegramNotifier", "file_url_for", "formatted", "mask_phones", "plain", "render",
           "setup", "split_text"]
