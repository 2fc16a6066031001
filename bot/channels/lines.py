"""A reply as numbered lines of plain text: the command line's chat and WeChat.

Where there are no buttons, every button of a :class:`~bot.engine.Reply` (its suggestions,
then its other actions; 👍/👎 only where a messenger asks for them, since in a terminal they
would only be noise) becomes a numbered line, and typing the number presses it
(:meth:`Numbered.pressed`). :func:`numbered`, :func:`pick_line` and :func:`plain` take their
words from :mod:`bot.messages`, so the console and WeChat read alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.conversation import FEEDBACK
from bot.engine import Link, Reply, Status
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


def numbered(reply: Reply, *, votes: bool = False, indent: str = "  ",
             link: Callable[[Link], str] | None = None, pick: bool = False) -> Numbered:
    """Every button numbered in one list, "none of these" after a "did you mean".

    The console takes the defaults. A messenger without buttons (WeChat) numbers the 👍/👎
    too (``votes``: after the others, on one line), puts its own ``link`` lines in place of
    the "Links:" list, starts the lines at the margin (``indent=""``) and ends with the
    "reply 1, 2, 3 to choose" line (``pick``)."""
    links = [link(item) for item in reply.links] if link is not None else _links(reply)
    lines = [reply.text, *links]
    options = [(f"entry:{s.entry_id}", s.text) for s in reply.suggestions]
    options += [(a.id, a.label) for a in reply.actions if not a.id.startswith(f"{FEEDBACK}:")]
    if reply.status is Status.CLARIFY and reply.kind == "knowledge" and reply.suggestions:
        options.append(("none", say("console.none", reply.lang)))
    if options and reply.status is Status.ANSWER and reply.suggestions:
        lines.append(say("console.also_ask", reply.lang))
    for i, (_, label) in enumerate(options, 1):
        lines.append(f"{indent}{i}. {label.removeprefix(f'{i}. ')}")
    if votes:
        cast = [(a.id, a.label) for a in reply.actions if a.id.startswith(f"{FEEDBACK}:")]
        if cast:
            lines.append(indent + "  ".join(
                f"{i} {label}" for i, (_, label) in enumerate(cast, len(options) + 1)))
            options += cast
    if pick and options:
        lines.append(pick_line(len(options), reply.lang))
    return Numbered("\n".join(lines), tuple(options))


def pick_line(n: int, lang: str) -> str:
    """How to answer ``n`` numbered lines: "回复 1、2、3 选择" (a range beyond four)."""
    if n > 4:
        return say("console.pick_many", lang, n=n)
    numbers = [str(i) for i in range(1, n + 1)]
    if lang == "en":
        said = numbers[0] if n == 1 else ", ".join(numbers[:-1]) + " or " + numbers[-1]
    else:
        said = "、".join(numbers)
    return say("console.pick_few", lang, numbers=said)


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


__all__ = ["Numbered", "numbered", "pick_line", "plain"]
