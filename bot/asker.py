"""Who asks: the one value every layer below the channels passes around.

Its own module so that the sign-up dialogue and the recorder of questions, which the
conversation uses, can name the asker without importing the conversation back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Asker:
    """Who asks: the channel, an id unique within it, and their language preference."""

    channel: str
    user_id: str
    lang: str | None = None
    client: str | None = None  # keyed hash of the web client address (sign-up limits)
