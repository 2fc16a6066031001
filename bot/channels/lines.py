"""A reply as numbered lines of plain text: the command line's chat today, WeChat next.

Where there are no buttons, every button of a :class:`~bot.engine.Reply` (its suggestions,
then its other actions; never 👍/👎, which a typed number would only make noisy) becomes a
numbered line, and typing the number presses it. Both :func:`numbered` and :func:`plain`
take their words from :mod:`bot.messages`, so the console and WeChat read alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.conversation import FEEDBACK
from bot.engine import Reply, Status
from bot.messages import say


@dataclass(frozen=True)
class Numbered:
    """The text to show, and the (action id, label) behind each number, from 1."""

    text: str
    options: tuple[tuple[str, str], ...]

    def pressed(self, typed: str) -> tuple[str, str] | None:
        """The option a typed number picks, or None when the text is not one of them."""
        typed = typed.strip()
        if typed.isdigit() and 1 <= int(typed) <= len(self.options):
            return self.options[int(typed) - 1]
        return None


def _links(reply: Reply) -> list[str]:
    if not reply.links:
        return []
    return [say("console.links", reply.lang),
            *(f"  - {link.title}: {link.url}" for link in reply.links)]


def numbered(reply: Reply) -> Numbered:
    """Every button numbered in one list, "none of these" after a "did you mean"."""
    lines = [reply.text, *_links(reply)]
    options = [(f"entry:{s.entry_id}", s.text) for s in reply.suggestions]
    options += [(a.id, a.label) for a in reply.actions if not a.id.startswith(f"{FEEDBACK}:")]
    if reply.status is Status.CLARIFY and reply.kind == "knowledge" and reply.suggestions:
        options.append(("none", say("console.none", reply.lang)))
    if options and reply.status is Status.ANSWER and reply.suggestions:
        lines.append(say("console.also_ask", reply.lang))
    for i, (_, label) in enumerate(options, 1):
        lines.append(f"  {i}. {label.removeprefix(f'{i}. ')}")
    return Numbered("\n".join(lines), tuple(options))


def plain(reply: Reply) -> str:
    """A reply read once and not answered (``ask``): suggestions numbered, buttons named."""
    lines = [reply.text, *_links(reply)]
    if reply.suggestions:
        if reply.status is Status.ANSWER:
            lines.append(say("console.also_ask", reply.lang))
        lines.extend(f"  {i}. {s.text}" for i, s in enumerate(reply.suggestions, 1))
    lines.extend(f"  [{action.label}]" for action in reply.actions
                 if not action.id.startswith(f"{FEEDBACK}:"))  # a vote nobody can press here
    return "\n".join(lines)


__all__ = ["Numbered", "numbered", "plain"]
