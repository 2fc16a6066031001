"""The command line: ``python run_bot.py [serve|ask|chat|events|validate|bookings|review|stats|wechat-menu]``.

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
from bot.insights import (
    MISS_KINDS,
    MissGroup,
    add_group_as_phrasing,
    format_stats,
    gather_stats,
    mark_group_out_of_scope,
    nearest,
    review_groups,
)
from bot.kb import TZ as TZ_LOCAL
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
    stats = sub.add_parser("stats", help="staff: how the bot was used in the last days")
    stats.add_argument("--days", type=_positive, default=7, metavar="N",
                       help="the last N days, today included (default 7)")
    stats.add_argument("--json", action="store_true", help="one JSON object")
    stats.add_argument("--lang", choices=("zh", "zh-hant", "en"), default="zh")
    for extra in _EXTRA_PARSERS:
        extra(sub)
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1, not '{text}'")
    return int(text)


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


# --------------------------------------------------------------------------- review and stats

_R: dict[str, tuple[str, str]] = {
    "none": ("没有待处理的问题。", "Nothing to review."),
    "head": ("[{i}/{n}] 问了 {count} 次（{askers} 人）  {kinds}  最近一次：{last}",
             "[{i}/{n}] asked {count} time(s) by {askers} people  {kinds}  last: {last}"),
    "kinds": ("没答上 {fallback}，请市民选择 {clarify}，👎 {downvote}",
              "not answered {fallback}, did-you-mean {clarify}, 👎 {downvote}"),
    "examples": ("  市民的问法：", "  As asked:"),
    "picked": ("  市民随后选了：", "  Citizens then picked:"),
    "downvoted": ("  被点 👎 的回答：", "  Answers marked 👎:"),
    "nearest": ("  最接近的条目：", "  Nearest entries:"),
    "no_nearest": ("  （没有接近的条目）", "  (no entry is near)"),
    "menu": ("  a N = 加为条目 N 的问法   o = 不属于本机器人的范围   s = 跳过   q = 退出",
             "  a N = add as a phrasing of entry N   o = out of scope   s = skip   q = quit"),
    "prompt": ("选择 [a N/o/s/q]> ", "choice [a N/o/s/q]> "),
    "which_entry": ("条目编号（1–{n}）或条目 id> ", "entry number (1–{n}) or entry id> "),
    "bad_entry": ("没有这个条目：{x}", "No such entry: {x}"),
    "which_question": ("加哪一种问法？输入编号（回车 = 1），或直接输入新的问法> ",
                       "Which wording? A number (Enter = 1), or type the wording> "),
    "added": ("已把“{q}”加为 {entry} 的问法（{file}，{field}）。",
              "Added “{q}” as a phrasing of {entry} ({file}, {field})."),
    "answered": ("  ✓ 现在可以直接回答这个问题。", "  ✓ The bot now answers this question."),
    "not_answered": ("  注意：机器人仍不能直接回答（{status}）；可能还需要补充其他问法或同义词。",
                     "  Note: the bot still does not answer it outright ({status}); it may "
                     "need more phrasings or a synonym."),
    "not_added": ("没有添加：{why}", "Not added: {why}"),
    "out": ("已标记为不属于本机器人的范围，以后不再显示。", "Marked out of scope; not shown again."),
    "again": ("请输入 a N、o、s 或 q。", "Please type a N, o, s or q."),
    "summary": ("完成：添加 {added} 个问法，{out} 组不属于范围，跳过 {skipped} 组。",
                "Done: {added} phrasing(s) added, {out} group(s) out of scope, {skipped} skipped."),
}


def _r(key: str, lang: str, **values: object) -> str:
    zh, en = _R[key]
    return (en if lang == "en" else zh).format(**values)


def _describe_group(group: MissGroup, i: int, n: int, lang: str) -> list[str]:
    kinds = {k: group.kinds.get(k, 0) for k in MISS_KINDS}
    last = group.last_at.astimezone(TZ_LOCAL).strftime("%Y-%m-%d %H:%M")
    lines = [_r("head", lang, i=i, n=n, count=group.count, askers=group.askers,
                kinds=_r("kinds", lang, **kinds), last=last), _r("examples", lang)]
    lines += [f"    {k}. {q}" for k, q in enumerate(group.examples, 1)]
    if group.picked:
        lines.append(_r("picked", lang) + ", ".join(f"{e} ×{c}" for e, c in group.picked.items()))
    if group.downvoted:
        lines.append(_r("downvoted", lang) + ", ".join(f"{e} ×{c}"
                                                       for e, c in group.downvoted.items()))
    if group.nearest:
        lines.append(_r("nearest", lang))
        lines += [f"    {k}. {x.entry_id} ({x.score:.0f})  {x.question}"
                  for k, x in enumerate(group.nearest, 1)]
    else:
        lines.append(_r("no_nearest", lang))
    return lines


def _read(prompt: str) -> str | None:
    try:
        return input(prompt).strip()
    except EOFError:
        print()
        return None


@command("review")
def _review(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.store import Store

    lang = args.lang
    kinds = tuple(args.kind) if args.kind else MISS_KINDS

    async def run() -> int:
        engine = load_engine(settings)
        async with await Store.open(settings.database) as store:
            groups = await review_groups(store, engine, kinds, args.limit)
            if args.list:
                if args.json:
                    print(json.dumps([g.to_dict() for g in groups], ensure_ascii=False, indent=1))
                elif not groups:
                    print(_r("none", lang))
                else:
                    for i, group in enumerate(groups, 1):
                        print("\n".join(_describe_group(group, i, len(groups), lang)) + "\n")
                return 0
            if not groups:
                print(_r("none", lang))
                return 0
            added = out = skipped = 0
            for i, group in enumerate(groups, 1):
                group.nearest = nearest(engine, group.question, also=list(group.picked))
                print("\n".join(_describe_group(group, i, len(groups), lang)))
                print(_r("menu", lang))
                while True:
                    choice = _read(_r("prompt", lang))
                    if choice is None or choice.lower() in ("q", "quit"):
                        print(_r("summary", lang, added=added, out=out, skipped=skipped))
                        return 0
                    word, _, rest = choice.partition(" ")
                    if word.lower().startswith("a"):
                        rest = (word[1:] + " " + rest).strip()
                        result = await _add(store, settings, group, rest, lang)
                        if result is None:
                            print(_r("summary", lang, added=added, out=out, skipped=skipped))
                            return 0
                        if result:
                            added += 1
                            engine = load_engine(settings)
                            break
                        continue
                    if choice.lower() in ("o", "out"):
                        await mark_group_out_of_scope(store, group)
                        print(_r("out", lang))
                        out += 1
                        break
                    if choice.lower() in ("s", "skip", ""):
                        skipped += 1
                        break
                    print(_r("again", lang))
                print()
            print(_r("summary", lang, added=added, out=out, skipped=skipped))
            return 0

    async def _add(store: Store, settings: Settings, group: MissGroup, rest: str,
                   lang: str) -> bool | None:
        """[a]: which entry, which wording; add it. None: the person quit (end of input)."""
        options = [n.entry_id for n in group.nearest]
        pick = rest or _read(_r("which_entry", lang, n=len(options)))
        if pick is None:
            return None
        entry_id = options[int(pick) - 1] if pick.isdigit() and 1 <= int(pick) <= len(options) \
            else pick
        if not entry_id or pick.isdigit() and entry_id == pick:
            print(_r("bad_entry", lang, x=pick))
            return False
        question = group.question
        if len(group.examples) > 1:
            typed = _read(_r("which_question", lang))
            if typed is None:
                return None
            if typed.isdigit() and 1 <= int(typed) <= len(group.examples):
                question = group.examples[int(typed) - 1]
            elif typed:
                question = typed
        result = await add_group_as_phrasing(store, settings.knowledge_dir, group, entry_id,
                                             question)
        if not result.ok:
            print(_r("not_added", lang, why=result.message))
            for problem in result.problems:
                print(f"  {problem}")
            return False
        print(_r("added", lang, q=result.question, entry=entry_id,
                 file=result.file.name if result.file else "?", field=result.field))
        for warning in result.warnings:
            print(f"  warning: {warning}")
        reply = load_engine(settings).ask(result.question)
        if reply.status is Status.ANSWER and reply.entry_id == entry_id:
            print(_r("answered", lang))
        else:
            print(_r("not_answered", lang, status=reply.status.value))
        return True

    return asyncio.run(run())


@command("stats")
def _stats(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.store import Store

    async def run() -> int:
        async with await Store.open(settings.database) as store:
            stats = await gather_stats(store, args.days)
        if args.json:
            print(json.dumps(stats.to_dict(), ensure_ascii=False, indent=1))
        else:
            print(format_stats(stats, args.lang))
        return 0

    return asyncio.run(run())


@command("serve")
def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import serve

    return serve(settings)


def _wechat_menu_parser(sub: argparse._SubParsersAction) -> None:
    menu = sub.add_parser("wechat-menu", help="the WeChat Official Account menu (问答话题, "
                          "报名开放日, 我的预约): print it, or set it with --apply")
    menu.add_argument("--apply", action="store_true",
                      help="set it through the platform API (needs WECHAT_APP_ID and "
                           "WECHAT_APP_SECRET)")


_EXTRA_PARSERS.append(_wechat_menu_parser)


@command("wechat-menu")
def _wechat_menu(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.channels.wechat import MENU

    print(json.dumps(MENU, ensure_ascii=False, indent=1))
    if not args.apply:
        return 0
    if not (settings.wechat_app_id and settings.wechat_app_secret):
        print("Set WECHAT_TOKEN, WECHAT_APP_ID and WECHAT_APP_SECRET to apply the menu.",
              file=sys.stderr)
        return 2

    async def apply() -> int:
        import aiohttp

        from bot.wechat_api import WeChatApi, WeChatApiError

        async with aiohttp.ClientSession() as session:
            api = WeChatApi(session, settings.wechat_app_id or "",
                            settings.wechat_app_secret or "", settings.wechat_api_base_url)
            try:
                await api.create_menu(MENU)
            except WeChatApiError as exc:
                print(f"The menu was not set: {exc}", file=sys.stderr)
                return 1
        print("The menu is set.", file=sys.stderr)
        return 0

    return asyncio.run(apply())
