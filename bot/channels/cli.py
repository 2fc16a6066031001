"""The command line: ``python run_bot.py [serve|ask|chat|validate] …``.

Like every channel it only translates: text in, :class:`~bot.engine.Reply` out, printed for a
person or as one JSON object per line for other programs (``../shared/eval/score.py``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from bot.engine import Engine, Reply, Status
from bot.kb import KnowledgeError, lint, load_knowledge
from bot.settings import Settings, SettingsError

Command = Callable[[argparse.Namespace, Settings], int]
_COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        _COMMANDS[name] = fn
        return fn

    return register


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_bot.py",
        description="Qingdao Quality Month Q&A bot. With no command: start the server "
                    "(web chat and API; Telegram too when TELEGRAM_BOT_TOKEN is set).")
    parser.add_argument("--knowledge", metavar="DIR", help="knowledge folder "
                        "(default: $KNOWLEDGE_DIR or ./knowledge)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="start the server (the default)")
    ask = sub.add_parser("ask", help="answer one question, or one per line from stdin with '-'")
    ask.add_argument("question", nargs="+", help="the question, or '-' to read lines from stdin")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.add_argument("--lang", choices=("zh", "zh-hant", "en"), help="preferred language")
    sub.add_parser("chat", help="an interactive conversation in the terminal")
    events = sub.add_parser("events", help="every dated event, marked past / today / coming")
    events.add_argument("--lang", choices=("zh", "zh-hant", "en"), default="zh")
    validate = sub.add_parser("validate", help="check the knowledge files")
    validate.add_argument("dir", nargs="?", help="knowledge folder to check")
    bookings = sub.add_parser("bookings", help="open-day bookings (staff): list or export")
    what = bookings.add_subparsers(dest="bookings_command", required=True)
    what.add_parser("list", help="per session: seats taken and left, waiting-list length")
    export = what.add_parser("export", help="bookings as CSV (UTF-8 with BOM, opens in Excel)")
    export.add_argument("--session", metavar="ID", help="only this session")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    for extra in _EXTRA_PARSERS:
        extra(sub)
    return parser


_EXTRA_PARSERS: list[Callable[[argparse._SubParsersAction], None]] = []


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    if args.knowledge:
        settings = _with_knowledge(settings, args.knowledge)
    name = args.command or "serve"
    try:
        return _COMMANDS[name](args, settings)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _with_knowledge(settings: Settings, directory: str) -> Settings:
    from dataclasses import replace

    return replace(settings, knowledge_dir=Path(directory))


def load_engine(settings: Settings) -> Engine:
    """The engine for the configured knowledge, or a clear message and exit code 2."""
    try:
        knowledge = load_knowledge(settings.knowledge_dir)
    except KnowledgeError as exc:
        print(f"The knowledge in {settings.knowledge_dir} has errors:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        print("Fix them, then check with: python run_bot.py validate", file=sys.stderr)
        raise SystemExit(2) from None
    return Engine(knowledge)


def render(reply: Reply) -> str:
    """A reply as a person reads it in a terminal."""
    en = reply.lang == "en"
    lines = [reply.text]
    if reply.links:
        lines.append("Links:" if en else "链接：")
        lines.extend(f"  - {link.title}: {link.url}" for link in reply.links)
    if reply.suggestions:
        if reply.status is Status.ANSWER:
            lines.append("You may also ask:" if en else "您还可以问：")
        lines.extend(f"  {i}. {s.text}" for i, s in enumerate(reply.suggestions, 1))
    for action in reply.actions:
        lines.append(f"  [{action.label}]")
    return "\n".join(lines)


@command("ask")
def _ask(args: argparse.Namespace, settings: Settings) -> int:
    engine = load_engine(settings)
    out = sys.stdout
    if args.question == ["-"]:
        for line in _stdin_lines():
            reply = engine.ask(line, args.lang)
            _emit(out, reply, args.json)
        return 0
    _emit(out, engine.ask(" ".join(args.question), args.lang), args.json)
    return 0


def _stdin_lines() -> TextIO:
    """Standard input as text; invalid UTF-8 becomes U+FFFD instead of a traceback."""
    return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")


def _emit(out: TextIO, reply: Reply, as_json: bool) -> None:
    if as_json:
        out.write(json.dumps(reply.to_dict(), ensure_ascii=False) + "\n")
    else:
        out.write(render(reply) + "\n")
    out.flush()


@command("chat")
def _chat(args: argparse.Namespace, settings: Settings) -> int:
    engine = load_engine(settings)
    lang = "zh"
    print("青岛质量月问答 — 输入问题，输入数字选择建议，Ctrl-D 退出。"
          "\nAsk a question; type a number to pick a suggestion; Ctrl-D to quit.")
    last: Reply | None = None
    while True:
        try:
            line = input("> ").strip()
        except EOFError:
            print()
            return 0
        if last and line.isdigit() and 1 <= int(line) <= len(last.suggestions):
            picked = last.suggestions[int(line) - 1]
            reply = engine.answer_entry(picked.entry_id, last.lang) or engine.ask(picked.text)
        else:
            reply = engine.ask(line, lang)
        lang = reply.lang
        print(render(reply))
        last = reply


@command("events")
def _events(args: argparse.Namespace, settings: Settings) -> int:
    engine = load_engine(settings)
    for _, line in engine.events(args.lang):
        print(line)
    return 0


@command("validate")
def _validate(args: argparse.Namespace, settings: Settings) -> int:
    directory = Path(args.dir) if args.dir else settings.knowledge_dir
    try:
        knowledge = load_knowledge(directory)
    except KnowledgeError as exc:
        for problem in exc.problems:
            print(f"error: {problem}")
        for warning in exc.warnings:
            print(f"warning: {warning}")
        print(f"{len(exc.problems)} error(s) in {directory}: the bot will not load this "
              "knowledge until they are fixed.")
        return 1
    warnings = knowledge.warnings + lint(knowledge)
    for warning in warnings:
        print(f"warning: {warning}")
    print(knowledge.summary() + (f", {len(warnings)} warning(s)" if warnings else ""))
    return 0


@command("bookings")
def _bookings(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import getpass

    from bot.app import configure_logging
    from bot.dialogue import Dialogue, format_summaries, open_day_of
    from bot.kb import OpenDay
    from bot.store import Store

    configure_logging(settings.log_level)  # admin actions are logged (who, what) on stderr

    try:
        open_day = open_day_of(load_knowledge(settings.knowledge_dir))
    except KnowledgeError as exc:
        # Staff must reach the bookings even while the knowledge has errors.
        print(f"warning: the knowledge in {settings.knowledge_dir} has {len(exc.problems)} "
              "error(s); sessions are shown as recorded with their bookings", file=sys.stderr)
        open_day = OpenDay()
    try:
        actor = f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        actor = "cli"

    async def run() -> int:
        async with await Store.open(settings.database) as store:
            dialogue = Dialogue(store, lambda: open_day, reminder_time=settings.reminder_time)
            if args.bookings_command == "list":
                print(format_summaries(await dialogue.session_summaries(actor=actor)))
                return 0
            session = args.session
            if session is not None and session not in open_day.by_id and \
                    not await store.export_rows(session):
                print(f"No session '{session}' in open_day.yaml or in the bookings.",
                      file=sys.stderr)
                return 1
            data = await dialogue.export_csv(session, actor=actor)
        if args.output:
            Path(args.output).write_bytes(data)
            rows = data.count(b"\r\n") - 1
            print(f"Wrote {rows} booking(s) to {args.output}", file=sys.stderr)
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        return 0

    return asyncio.run(run())


@command("serve")
def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import serve

    return serve(settings)
