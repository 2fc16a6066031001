"""The layout holds: bot/ imports flow one way, and the core never reaches into a channel.

Read from the source with :mod:`ast` (nothing is imported), so a cycle hidden behind a
function-local import counts as much as one at the top of a file.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from tests.paths import ROOT

BOT = ROOT / "bot"
# Modules that put the channels together or are channels; everything else is the core.
EDGE = ("bot.app", "bot.__main__")
CHANNELS = "bot.channels"
# Function-local imports of bot modules that are not cycle dodges: the command line loads the
# server (aiohttp, python-telegram-bot: a third of a second) only for `serve`, so `ask` and
# `chat` start fast.
LAZY_ALLOWED = {("bot.channels.cli", "bot.app")}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    local: bool  # inside a function
    typing_only: bool  # under `if TYPE_CHECKING:` (never runs)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _targets(node: ast.Import | ast.ImportFrom, modules: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level or not node.module:
            return []
        # `from bot import metrics` imports the module bot.metrics
        names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                 else node.module for a in node.names]
    return [n for n in names if n in modules]


def _walk(node: ast.AST, source: str, modules: set[str], local: bool, typing_only: bool,
          found: list[Edge]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            found.extend(Edge(source, target, child.lineno, local, typing_only)
                         for target in _targets(child, modules) if target != source)
        elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            _walk(child, source, modules, local, True, found)
        else:
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            _walk(child, source, modules, inner, typing_only, found)


def edges() -> list[Edge]:
    """Every import of one bot module by another, with where it sits."""
    files = sorted(BOT.rglob("*.py"))
    modules = {module_name(p) for p in files}
    found: list[Edge] = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        _walk(tree, module_name(path), modules, False, False, found)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_import_walk_sees_the_layout() -> None:
    """The walk itself works: it sees the known edges, local ones included."""
    seen = {(e.source, e.target) for e in edges()}
    assert ("bot.conversation", "bot.engine") in seen
    assert ("bot.app", "bot.channels.web") in seen
    assert ("bot.channels.cli", "bot.app") in seen  # a function-local one
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_bot_modules() -> None:
    """Every import that runs (at the top of a file or inside a function) points one way.
    Type-only imports never run and may point back (a type named in an annotation)."""
    graph: dict[str, set[str]] = {}
    for edge in edges():
        if not edge.typing_only:
            graph.setdefault(edge.source, set()).add(edge.target)
    assert _cycle(graph) is None


def test_no_function_local_import_dodges_a_cycle() -> None:
    """An import inside a function is how a cycle is usually hidden; none is left but the
    command line's lazy start of the server."""
    local = [f"{e.source}:{e.line} imports {e.target}" for e in edges()
             if e.local and (e.source, e.target) not in LAZY_ALLOWED]
    assert local == []


def test_the_core_never_imports_a_channel_or_the_wiring() -> None:
    """Knowledge, engine, conversation, dialogue, store … work without any channel: a new
    channel is added at the edge, never by editing the core to know it."""
    wrong = [f"{e.source}:{e.line} imports {e.target}" for e in edges()
             if not e.source.startswith(CHANNELS) and e.source not in EDGE
             and (e.target.startswith(CHANNELS) or e.target in EDGE)]
    assert wrong == []


def test_application_state_does_not_import_its_users() -> None:
    """bot.state is read by the channels and the metrics; it imports none of them back."""
    users = {e.source for e in edges() if e.target == "bot.state"}
    assert {"bot.app", "bot.metrics", "bot.channels.web"} <= users
    assert not [e for e in edges() if e.source == "bot.state" and e.target in users
                and not e.typing_only]


TABLES_LEFT: set[str] = set()  # every bilingual table is in bot/messages.py


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def test_every_bilingual_message_table_is_in_the_catalogue() -> None:
    """A dict of (Chinese, English) pairs is a message table: it belongs in bot/messages.py,
    where traditional script is derived once and a new channel finds every sentence."""
    found = []
    for path in sorted(BOT.rglob("*.py")):
        name = module_name(path)
        if name in TABLES_LEFT or name == "bot.messages":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Dict):
                continue
            pairs = [v for v in node.values if isinstance(v, ast.Tuple) and len(v.elts) == 2
                     and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                             for e in v.elts)]
            if any(_has_cjk(zh.value) and not _has_cjk(en.value)  # type: ignore[attr-defined]
                   and any(c.isascii() and c.isalpha() for c in en.value)  # type: ignore[attr-defined]
                   for zh, en in (p.elts for p in pairs)):
                found.append(f"{name}:{node.lineno}")
    assert found == []


def test_every_message_key_said_is_in_the_catalogue() -> None:
    """Each literal key given to say() (in either branch of a conditional too) exists, so a
    mistyped key fails here rather than as a 500 in front of a citizen."""
    from bot.messages import MESSAGES

    missing = []
    for path in sorted(BOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "say" and node.args):
                continue
            for key in ast.walk(node.args[0]):
                if isinstance(key, ast.Constant) and isinstance(key.value, str) \
                        and "." in key.value and key.value not in MESSAGES:
                    missing.append(f"{module_name(path)}:{node.lineno} {key.value}")
                elif isinstance(key, ast.JoinedStr | ast.BinOp):
                    break  # a key built at run time: checked by the tests that reach it
    assert missing == []


# The one Chinese string the page's script may hold: the avatar's mark, a logo, not a text.
JS_CJK_ALLOWED = {"质"}
_JS_COMMENT = re.compile(r"/\*.*?\*/|(?:^|\s)//[^\n]*", re.S)
_JS_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'')
_JS_LANG_TABLE = re.compile(r"\b(?:zh|en)\s*:\s*[{\[]")


def test_the_web_page_script_holds_no_message_table() -> None:
    """The page's texts and topic names come from the catalogue and the knowledge (web.py puts
    them into the page): a zh/en table in bot/static/*.js would be a second catalogue that a
    translator, a renamed category or the traditional script misses."""
    found = []
    for path in sorted((BOT / "static").glob("*.js")):
        code = _JS_COMMENT.sub(" ", path.read_text(encoding="utf-8"))
        found += [f"{path.name}: {m[0]}" for m in _JS_STRING.finditer(code)
                  if _has_cjk(m[0]) and m[0][1:-1] not in JS_CJK_ALLOWED]
        found += [f"{path.name}: {m[0]}" for m in _JS_LANG_TABLE.finditer(code)]
    assert found == []
