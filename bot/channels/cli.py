"""The command line: ``python run_bot.py [serve|ask|chat|events|validate|bookings|review|stats|wechat-menu]``
(installed: ``qingdao-bot …`` or ``python -m bot …``, the same commands).

Like every channel it only translates: text in, :class:`~bot.engine.Reply` out, printed for a
person or as one JSON object per line for other programs (``../shared/eval/score.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import io
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from bot import refit
from bot.aspects import ASPECTS, derive
from bot.channels.lines import Numbered, numbered, plain
from bot.channels.wechat_menu import MENU as WECHAT_MENU
from bot.channels.wechat_menu import apply_menu
from bot.conversation import Asker, Conversation
from bot.dialogue import Dialogue, format_summaries, open_day_of
from bot.engine import Engine, Reply, Status
from bot.insights import (
    MISS_KINDS,
    MissGroup,
    add_group_as_phrasing,
    format_stats,
    gather_stats,
    labelled_from,
    mark_group_out_of_scope,
    nearest,
    printable,
    review_groups,
)
from bot.kb import TZ as TZ_LOCAL
from bot.kb import Knowledge, KnowledgeError, OpenDay, lint, load_knowledge
from bot.messages import say
from bot.settings import Settings, SettingsError
from bot.store import Store, mask_phone, user_key

Command = Callable[[argparse.Namespace, Settings], int]
_COMMANDS: dict[str, Command] = {}
# Sub-commands registered with their own help and options (see command()).
_ADDED: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None] | None]] = {}
PROG = "python run_bot.py"  # how the user started us: every hint names that command
QUIT = frozenset({"quit", "exit", "q", "退出", "/quit", "/exit"})


def program_name(argv0: str) -> str:
    """The command as the user typed it, from ``sys.argv[0]``: ``qingdao-bot``, ``python -m
    bot`` or ``python run_bot.py``, so that a hint can be copied and run as it stands."""
    name = Path(argv0).name
    if name == "__main__.py":
        return "python -m bot"
    if name.endswith(".py"):
        return f"python {name}"
    return name or "qingdao-bot"


def command(name: str, help: str | None = None,
            arguments: Callable[[argparse.ArgumentParser], None] | None = None
            ) -> Callable[[Command], Command]:
    """Register the function run by ``run_bot.py <name>``. The built-in commands' options are
    in :func:`build_parser`; a command added from elsewhere (a channel's own, such as
    WeChat's menu) gives its ``help`` and ``arguments`` here and is listed after them::

        @command("wechat-menu", help="…", arguments=lambda p: p.add_argument("--dry-run"))
        def _wechat_menu(args: argparse.Namespace, settings: Settings) -> int: …
    """
    def register(fn: Command) -> Command:
        _COMMANDS[name] = fn
        if help is not None:
            _ADDED[name] = (help, arguments)
        return fn

    return register


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Qingdao Quality Month Q&A bot. With no command: start the server "
                    "(web chat and API; Telegram too when TELEGRAM_BOT_TOKEN is set).")
    parser.add_argument("--knowledge", metavar="DIR", help="knowledge folder "
                        "(default: $KNOWLEDGE_DIR, else a checkout's knowledge/, else the "
                        "knowledge shipped with the package)")
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
    validate.add_argument("--explain", action="store_true",
                          help="also show what each entry tells (when, price, contact …) and why")
    bookings = sub.add_parser("bookings", help="open-day bookings (staff): list or export")
    what = bookings.add_subparsers(dest="bookings_command", required=True)
    listing = what.add_parser("list", help="per session: seats taken and left, waiting-list "
                              "length")
    listing.add_argument("--suspicious", action="store_true",
                         help="bookings that look scripted: many from one client address or "
                         "from one run of mobile numbers")
    cancel = what.add_parser("cancel", help="release a booking (the citizen is told)")
    cancel.add_argument("code", help="the booking code")
    export = what.add_parser("export", help="bookings as CSV (UTF-8 with BOM, opens in Excel)")
    export.add_argument("--session", metavar="ID", help="only this session")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    review = sub.add_parser("review", help="staff: go through the questions the bot could not "
                            "answer, most frequent first; add them as phrasings of an entry")
    review.add_argument("--list", action="store_true",
                        help="only list the groups (no questions asked, nothing changed)")
    review.add_argument("--json", action="store_true", help="with --list: one JSON array")
    review.add_argument("--limit", type=_positive, metavar="N", help="at most N groups")
    review.add_argument("--kind", action="append", choices=MISS_KINDS,
                        help="only these misses: fallback (not answered), clarify (\"did you "
                             "mean\"), downvote (answers marked 👎); default: all")
    review.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the prompts")
    review.add_argument("--refit", action="store_true",
                        help="refit the answer decision with the recorded picks and 👎, show the "
                             "figures before and after on held-back questions, write on 'y'")
    stats = sub.add_parser("stats", help="staff: how the bot was used in the last days")
    stats.add_argument("--days", type=_positive, default=7, metavar="N",
                       help="the last N days, today included (default 7)")
    stats.add_argument("--json", action="store_true", help="one JSON object")
    stats.add_argument("--lang", choices=("zh", "zh-hant", "en"), default="zh")
    for name, (text, arguments) in _ADDED.items():
        added = sub.add_parser(name, help=text)
        if arguments is not None:
            arguments(added)
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1, not '{text}'")
    return int(text)


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    global PROG
    PROG = prog or program_name(sys.argv[0])
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
    return replace(settings, knowledge_dir=Path(directory))


def load_engine(settings: Settings) -> Engine:
    """The engine for the configured knowledge, or a clear message and exit code 2."""
    return Engine(load_checked(settings))


def load_checked(settings: Settings) -> Knowledge:
    """The configured knowledge, or what is wrong with it (and how to check it, in the
    command the user typed) and exit code 2."""
    if not settings.knowledge_dir.is_dir():
        print(f"knowledge folder not found: {settings.knowledge_dir} (set KNOWLEDGE_DIR or "
              f"run {PROG} --knowledge DIR …)", file=sys.stderr)
        raise SystemExit(2)
    try:
        knowledge = load_knowledge(settings.knowledge_dir)
    except KnowledgeError as exc:
        print(f"The knowledge in {settings.knowledge_dir} has errors:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        print(f"Fix them, then check with: {PROG} validate", file=sys.stderr)
        raise SystemExit(2) from None
    return knowledge


@command("ask")
def _ask(args: argparse.Namespace, settings: Settings) -> int:
    """Questions through the same :class:`~bot.conversation.Conversation` as the web chat, so
    ``--json`` prints what ``POST /api/ask`` returns (buttons included); nothing is stored."""
    engine = load_engine(settings)
    conversation = Conversation(lambda: engine, invites=lambda: open_day_of(engine.knowledge))
    asker = Asker("cli", "", args.lang)  # anonymous: nothing remembered between questions
    questions = _stdin_lines() if args.question == ["-"] else [" ".join(args.question)]

    async def run() -> None:
        for question in questions:
            _emit(sys.stdout, await conversation.text(asker, question), args.json)

    asyncio.run(run())
    return 0


def _stdin_lines() -> TextIO:
    """Standard input as text; invalid UTF-8 becomes U+FFFD instead of a traceback."""
    return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")


def _emit(out: TextIO, reply: Reply, as_json: bool) -> None:
    if as_json:
        out.write(json.dumps(reply.to_dict(), ensure_ascii=False) + "\n")
    else:
        out.write(plain(reply) + "\n")
    out.flush()


@command("chat")
def _chat(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(chat_loop(settings, load_engine(settings)))


async def chat_loop(settings: Settings, engine: Engine) -> int:
    """A conversation in the terminal, sign-up for the open day included.

    The same :class:`~bot.conversation.Conversation` as the web chat and Telegram, with the
    sign-up dialogue over the database in ``DATA_DIR``; the person is the operating-system
    user (``cli:<name>``). Each question is answered in its own language; a numbered option
    presses that button. Questions are not recorded for statistics: a terminal is staff
    trying the bot, not citizens."""

    async with await Store.open(settings.database) as store:
        dialogue = Dialogue(store, lambda: open_day_of(engine.knowledge),
                            reminder_time=settings.reminder_time)
        conversation = Conversation(lambda: engine, dialogue)
        user = _os_user()
        print(say("console.hello", "zh") + "\n" + say("console.hello", "en"))
        for waiting in await dialogue.take_messages(Asker("cli", user)):
            print(numbered(waiting).text)
        last: Reply | None = None
        shown: Numbered | None = None
        while True:
            try:
                line = input("> ").strip()
            except EOFError:
                print()
                line = "quit"
            if not line:
                continue
            if line.lower() in QUIT:
                await store.clear_flow(user_key("cli", user))  # nothing left half-done
                print(say("console.bye", "zh") + say("console.bye", "en"))
                return 0
            option = shown.pressed(line) if shown else None
            if option is not None:
                action, label = option
                print(f"  → {label}")
                reply = await conversation.press(Asker("cli", user, last.lang if last else None),
                                                 action)
            else:
                reply = await conversation.text(Asker("cli", user), line)
            shown = numbered(reply)
            print(shown.text)
            last = reply


def _os_user() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "user"
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:40] or "user"


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
    if args.explain:
        _explain(knowledge)
    print(knowledge.summary() + (f", {len(warnings)} warning(s)" if warnings else ""))
    return 0


def _explain(knowledge: Knowledge) -> None:
    """What each entry tells and where that was read (its answer, a phrasing, or the staff's
    ``aspects:``), so that staff can correct a wrong derivation."""

    for entry in knowledge.entries:
        told = derive([*entry.questions.zh, *entry.questions.en], entry.answer.zh,
                      [d.date.precision for d in entry.dates], entry.aspects)
        how = "stated" if told.stated else "derived"
        parts = [f"{a} ({told.why[a]})" for a in ASPECTS if a in told.aspects]
        print(f"{entry.id} tells ({how}): " + "; ".join(parts))


@command("bookings")
def _bookings(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import configure_logging

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
            if args.bookings_command == "list" and args.suspicious:
                found = await store.suspicious()
                await store.log_admin(actor, "suspicious", f"{len(found)} row(s)", dialogue.now())
                if not found:
                    print("No suspicious bookings.")
                for reason, b in found:
                    when = b.created_at.astimezone(dialogue.now().tzinfo).strftime("%m-%d %H:%M")
                    print(f"{reason}\t{b.code}\t{b.session_id}\t{b.status}\t"
                          f"{mask_phone(b.phone)}\t{printable(b.name)}\t{when}")
                return 0
            if args.bookings_command == "list":
                print(format_summaries(await dialogue.session_summaries(actor=actor)))
                return 0
            if args.bookings_command == "cancel":
                released = await dialogue.admin_cancel(args.code, actor)
                if released is None:
                    print(f"No active booking '{args.code}'.", file=sys.stderr)
                    return 1
                print(f"Cancelled {released.code} ({released.session_id}); the citizen is told.")
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


# --------------------------------------------------------------------------- review and stats

def _describe_group(group: MissGroup, i: int, n: int, lang: str) -> list[str]:
    kinds = {k: group.kinds.get(k, 0) for k in MISS_KINDS}
    last = group.last_at.astimezone(TZ_LOCAL).strftime("%Y-%m-%d %H:%M")
    lines = [say("review.head", lang, i=i, n=n, count=group.count, askers=group.askers,
                kinds=say("review.kinds", lang, **kinds), last=last), say("review.examples", lang)]
    lines += [f"    {k}. {printable(q)}" for k, q in enumerate(group.examples, 1)]
    if group.picked:
        lines.append(say("review.picked", lang) + ", ".join(f"{e} ×{c}" for e, c in group.picked.items()))
    if group.downvoted:
        lines.append(say("review.downvoted", lang) + ", ".join(f"{e} ×{c}"
                                                       for e, c in group.downvoted.items()))
    if group.nearest:
        lines.append(say("review.nearest", lang))
        lines += [f"    {k}. {x.entry_id} ({x.score:.0f})  {x.question}"
                  for k, x in enumerate(group.nearest, 1)]
    else:
        lines.append(say("review.no_nearest", lang))
    return lines


def _read(prompt: str) -> str | None:
    try:
        return input(prompt).strip()
    except EOFError:
        print()
        return None


async def _refit(settings: Settings) -> int:
    """Refit the decision with what citizens did (picks after "did you mean", 👎) and the
    shipped examples; show before/after on the held-back questions; write only on 'y'."""

    knowledge = load_engine(settings).knowledge
    async with await Store.open(settings.database) as store:
        recorded = labelled_from(await store.misses())
    extra = [refit.Labelled(q, entry, source="recorded") for q, entry in recorded]
    print(f"{len(extra)} recorded question(s) with a label (picks after “did you mean”, 👎)")
    decision, counts = refit.fit(knowledge, extra)
    print("fitted on: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    held = refit.citizen(refit.HELD) if refit.HELD.exists() else []
    if held:

        print(f"held back ({refit.HELD.name}), now:   "
              f"{refit.figures(Engine(knowledge), held).line()}")
        print(f"held back ({refit.HELD.name}), refit: "
              f"{refit.figures(Engine(knowledge, decision=decision), held).line()}")
    answer = _read("write this decision? [y/N] ")
    if answer is not None and answer.strip().lower() in ("y", "yes", "是"):
        decision.save(refit.SHIPPED)
        print(f"wrote {refit.SHIPPED}; restart the bot to use it")
    else:
        print("nothing written")
    return 0


@command("review")
def _review(args: argparse.Namespace, settings: Settings) -> int:

    lang = args.lang
    kinds = tuple(args.kind) if args.kind else MISS_KINDS
    if args.refit:
        return asyncio.run(_refit(settings))

    async def run() -> int:
        engine = load_engine(settings)
        async with await Store.open(settings.database) as store:
            groups = await review_groups(store, engine, kinds, args.limit)
            if args.list:
                if args.json:
                    print(json.dumps([g.to_dict() for g in groups], ensure_ascii=False, indent=1))
                elif not groups:
                    print(say("review.none", lang))
                else:
                    for i, group in enumerate(groups, 1):
                        print("\n".join(_describe_group(group, i, len(groups), lang)) + "\n")
                return 0
            if not groups:
                print(say("review.none", lang))
                return 0
            added = out = skipped = 0
            for i, group in enumerate(groups, 1):
                group.nearest = nearest(engine, group.question, also=list(group.picked))
                print("\n".join(_describe_group(group, i, len(groups), lang)))
                print(say("review.menu", lang))
                while True:
                    choice = _read(say("review.prompt", lang))
                    if choice is None or choice.lower() in ("q", "quit"):
                        print(say("review.summary", lang, added=added, out=out, skipped=skipped))
                        return 0
                    word, _, rest = choice.partition(" ")
                    if word.lower().startswith("a"):
                        rest = (word[1:] + " " + rest).strip()
                        result = await _add(store, settings, group, rest, lang)
                        if result is None:
                            print(say("review.summary", lang, added=added, out=out, skipped=skipped))
                            return 0
                        if result:
                            added += 1
                            engine = load_engine(settings)
                            break
                        continue
                    if choice.lower() in ("o", "out"):
                        await mark_group_out_of_scope(store, group)
                        print(say("review.out", lang))
                        out += 1
                        break
                    if choice.lower() in ("s", "skip", ""):
                        skipped += 1
                        break
                    print(say("review.again", lang))
                print()
            print(say("review.summary", lang, added=added, out=out, skipped=skipped))
            return 0

    async def _add(store: Store, settings: Settings, group: MissGroup, rest: str,
                   lang: str) -> bool | None:
        """[a]: which entry, which wording; add it. None: the person quit (end of input)."""
        options = [n.entry_id for n in group.nearest]
        pick = rest or _read(say("review.which_entry", lang, n=len(options)))
        if pick is None:
            return None
        entry_id = options[int(pick) - 1] if pick.isdigit() and 1 <= int(pick) <= len(options) \
            else pick
        if not entry_id or pick.isdigit() and entry_id == pick:
            print(say("review.bad_entry", lang, x=pick))
            return False
        question = group.question
        if len(group.examples) > 1:
            typed = _read(say("review.which_question", lang))
            if typed is None:
                return None
            if typed.isdigit() and 1 <= int(typed) <= len(group.examples):
                question = group.examples[int(typed) - 1]
            elif typed:
                question = typed
        result = await add_group_as_phrasing(store, settings.knowledge_dir, group, entry_id,
                                             question)
        if not result.ok:
            print(say("review.not_added", lang, why=result.message))
            for problem in result.problems:
                print(f"  {problem}")
            return False
        print(say("review.added", lang, q=result.question, entry=entry_id,
                 file=result.file.name if result.file else "?", field=result.field))
        for warning in result.warnings:
            print(f"  warning: {warning}")
        reply = load_engine(settings).ask(result.question)
        if reply.status is Status.ANSWER and reply.entry_id == entry_id:
            print(say("review.answered", lang))
        else:
            print(say("review.not_answered", lang, status=reply.status.value))
        return True

    return asyncio.run(run())


@command("stats")
def _stats(args: argparse.Namespace, settings: Settings) -> int:

    questions = _entry_questions(settings, args.lang)

    async def run() -> int:
        async with await Store.open(settings.database) as store:
            stats = await gather_stats(store, args.days)
        if args.json:
            print(json.dumps(stats.to_dict(), ensure_ascii=False, indent=1))
        else:
            print(format_stats(stats, args.lang, questions=questions, review=f"{PROG} review"))
        return 0

    return asyncio.run(run())


def _entry_questions(settings: Settings, lang: str) -> dict[str, str]:
    """Each entry's first question in ``lang`` (Chinese if it has none), so that statistics
    say what was asked, not only an id; empty while the knowledge cannot be loaded."""
    try:
        knowledge = load_knowledge(settings.knowledge_dir)
    except KnowledgeError:
        return {}
    out = {}
    for entry in knowledge.entries:
        listed = (entry.questions.en if lang == "en" else []) or entry.questions.zh
        if listed:
            out[entry.id] = listed[0]
    return out


@command("serve")
def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import serve

    load_checked(settings)  # a broken folder is reported here, naming the command typed
    return serve(settings)


def _wechat_menu_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--apply", action="store_true",
                        help="set it through the platform API (needs WECHAT_APP_ID and "
                             "WECHAT_APP_SECRET)")


@command("wechat-menu", help="the WeChat Official Account menu (问答话题, 报名开放日, 我的预约): "
         "print it, or set it with --apply", arguments=_wechat_menu_arguments)
def _wechat_menu(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(WECHAT_MENU, ensure_ascii=False, indent=1))
    return asyncio.run(apply_menu(settings)) if args.apply else 0
