"""Loading and validating the staff's knowledge files.

Staff are not programmers, so every problem is reported with its file, line and field, all of
them at once, and a broken folder never replaces knowledge that is already being served: the
loader either returns a complete, valid :class:`Knowledge` or raises :class:`KnowledgeError`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from bot import factcheck
from bot.aspects import ASPECTS
from bot.problems import Problem
from bot.settings import DEFAULT_KNOWLEDGE
from bot.text import Normalizer

TZ = ZoneInfo("Asia/Shanghai")
SPECIAL_FILES = ("synonyms.yaml", "smalltalk.yaml", "open_day.yaml", "glossary.yaml")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --------------------------------------------------------------------------- schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Bilingual(_Strict):
    zh: str = Field(min_length=1)
    en: str | None = None


class Questions(_Strict):
    zh: list[str] = Field(min_length=1)
    en: list[str] = Field(default_factory=list)


class Link(_Strict):
    title: str = Field(min_length=1)
    url: str

    @field_validator("url")
    @classmethod
    def _https(cls, url: str) -> str:
        if not re.fullmatch(r"https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(/\S*)?", url):
            raise ValueError("must be a full https:// address, e.g. https://www.samr.gov.cn/")
        return url


@dataclass(frozen=True)
class When:
    """A date as precise as the article gives it: a year, a month, a day or a minute."""

    moment: datetime
    precision: Literal["year", "month", "day", "minute"]
    yearly: bool = False


_DATE_FORMATS = (("%Y-%m-%dT%H:%M", "minute"), ("%Y-%m-%d", "day"), ("%Y-%m", "month"),
                 ("%Y", "year"))


def parse_when(value: Any, yearly: bool = False) -> When:
    if isinstance(value, datetime):
        value = value.strftime("%Y-%m-%dT%H:%M")
    elif isinstance(value, date):
        value = value.isoformat()
    text = str(value).strip()
    for fmt, precision in _DATE_FORMATS:
        try:
            moment = datetime.strptime(text, fmt).replace(tzinfo=TZ)
        except ValueError:
            continue
        return When(moment, precision, yearly)  # type: ignore[arg-type]
    raise ValueError(f"'{text}' is not a date: write YYYY-MM-DD, YYYY-MM or YYYY-MM-DDTHH:MM")


class EventDate(_Strict):
    date: When
    what: Bilingual | None = None
    yearly: bool = False
    # Staff mark a date still to come when they write it; only such a date is worth a warning
    # once it has passed (the 2022 report's own dates are history and stay as they are).
    upcoming: bool = False

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    @field_validator("date", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> When:
        return value if isinstance(value, When) else parse_when(value)

    @property
    def when(self) -> When:
        return When(self.date.moment, self.date.precision, self.yearly)


class Entry(_Strict):
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    category: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")  # declared in smalltalk.yaml
    questions: Questions
    answer: Bilingual
    links: list[Link] = Field(default_factory=list)
    source: str | list[str]
    dates: list[EventDate] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list)
    # Facts staff supply that the article does not have (open-day sessions …): the source
    # checks of bot.factcheck accept these tokens in the answers.
    not_in_source: list[str] = Field(default_factory=list)

    @field_validator("category")
    @classmethod
    def _declared(cls, category: str, info: ValidationInfo) -> str:
        """When loading, the category is one smalltalk.yaml declares (``context``)."""
        declared = (info.context or {}).get("categories")
        if declared is not None and category not in declared:
            raise ValueError(f"unknown category '{category}'; declared in smalltalk.yaml "
                             f"categories: {', '.join(declared) or '(none)'}")
        return category

    @field_validator("not_in_source", mode="before")
    @classmethod
    def _tokens(cls, value: Any) -> Any:
        """Staff write figures unquoted (not_in_source: [12345]); they are tokens of text."""
        if isinstance(value, list):
            return [str(x) if isinstance(x, int | float) and not isinstance(x, bool) else x
                    for x in value]
        return value

    # What the entry tells (when, price, contact …, see bot/aspects.py), where the engine's
    # derivation from its answer and phrasings is wrong; None: derived.
    aspects: list[str] | None = None

    @field_validator("aspects")
    @classmethod
    def _known_aspects(cls, value: list[str] | None) -> list[str] | None:
        wrong = [a for a in value or () if a not in ASPECTS]
        if wrong:
            raise ValueError(f"unknown aspect(s) {', '.join(wrong)}: use {', '.join(ASPECTS)}")
        return value

    @field_validator("answer", mode="before")
    @classmethod
    def _answer_given(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("the answer is empty: write 'zh: …' (and 'en: …') under 'answer:'")
        return {"zh": value} if isinstance(value, str) else value

    @property
    def sources(self) -> list[str]:
        return [self.source] if isinstance(self.source, str) else list(self.source)


class Intent(_Strict):
    id: str = Field(pattern=r"^[a-z_]+$")
    patterns: list[str] = Field(min_length=1)
    reply: Bilingual


class Menu(_Strict):
    """What a channel's fixed menu points at, so that no entry id or category is written in a
    channel's code (Telegram's topic keyboard and /services)."""

    topics: str | None = None  # the category the "质量月活动" button lists
    services: str | None = None  # the entry /services answers; its category's others follow


class Category(_Strict):
    """A topic of the knowledge, as every channel's topic buttons name it. Declared by staff
    (smalltalk.yaml ``categories:``), in the order the buttons show them, so a renamed or new
    topic needs no code."""

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    zh: str = Field(min_length=1)
    en: str | None = None


class SmallTalk(_Strict):
    intents: list[Intent] = Field(default_factory=list)
    messages: dict[str, Bilingual] = Field(default_factory=dict)
    menu: Menu = Field(default_factory=Menu)
    categories: list[Category] = Field(default_factory=list)


# --------------------------------------------------------------------------- open day (sign-up)

SESSION_ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
SESSION_ID_MAX = 40  # button ids such as "waitlist:join:<id>" must stay within Telegram's 64 bytes


def parse_moment(value: Any) -> datetime:
    """A session's start or end: date and time, Asia/Shanghai unless the value says otherwise."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=TZ) if value.tzinfo is None else value.astimezone(TZ)
    if isinstance(value, date):
        raise ValueError(f"'{value}' has no time: write it as {value.isoformat()}T09:30")
    text = str(value).strip()
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=TZ)
        except ValueError:
            continue
    raise ValueError(f"'{text}' is not a date and time: write YYYY-MM-DDTHH:MM, "
                     "e.g. 2027-03-15T09:30 (Beijing time)")


class Session(_Strict):
    """One open-day visit that citizens can sign up for."""

    id: str = Field(pattern=SESSION_ID_PATTERN, max_length=SESSION_ID_MAX)
    institution: Bilingual
    address: Bilingual
    start: datetime
    end: datetime
    capacity: int
    see: Bilingual
    min_age: int | None = Field(default=None, ge=0, le=120)
    max_age: int | None = Field(default=None, ge=0, le=120)
    notes: Bilingual | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _moment(cls, value: Any) -> datetime:
        return parse_moment(value)

    @field_validator("capacity", mode="before")
    @classmethod
    def _capacity(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number of visitors, e.g. 20")
        if value < 1:
            raise ValueError(f"must be at least 1 (the number of visitors), not {value}")
        return value


class Invite(_Strict):
    """Which replies carry the "sign up for the open day" button."""

    entries: list[str] = Field(default_factory=list)
    words: list[str] = Field(default_factory=list)

    @field_validator("words")
    @classmethod
    def _words(cls, words: list[str]) -> list[str]:
        if any(not w.strip() for w in words):
            raise ValueError("an invitation word cannot be empty")
        return [w.strip() for w in words]


class OpenDay(_Strict):
    sessions: list[Session] = Field(default_factory=list)
    invite: Invite = Field(default_factory=Invite)

    @property
    def by_id(self) -> dict[str, Session]:
        return {s.id: s for s in self.sessions}


# --------------------------------------------------------------------------- results


class KnowledgeError(Exception):
    """The folder cannot be served; ``problems`` says everything that is wrong."""

    def __init__(self, problems: list[Problem], warnings: list[Problem] | None = None) -> None:
        self.problems = problems
        self.warnings = warnings or []
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Knowledge:
    directory: Path
    entries: list[Entry]
    synonyms: list[list[str]]
    smalltalk: SmallTalk
    version: str
    files: list[str]
    question_words: dict[str, list[str]] = field(default_factory=dict)
    fillers: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    open_day: OpenDay = field(default_factory=lambda: OpenDay())  # open_day.yaml, validated
    by_id: dict[str, Entry] = field(init=False)
    entry_lines: dict[str, tuple[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {e.id: e for e in self.entries}

    @property
    def categories(self) -> list[Category]:
        """The declared categories, in their order (smalltalk.yaml ``categories:``)."""
        return self.smalltalk.categories

    def summary(self) -> str:
        questions = sum(len(e.questions.zh) + len(e.questions.en) for e in self.entries)
        return (f"OK: {len(self.entries)} entries, {questions} question phrasings, "
                f"{len(self.synonyms)} synonym groups in {len(self.files)} files "
                f"(version {self.version})")


# --------------------------------------------------------------------------- YAML with lines


@dataclass
class _Doc:
    name: str
    data: Any
    lines: dict[tuple[Any, ...], int]

    def line(self, path: tuple[Any, ...]) -> int:
        """The line of the deepest part of ``path`` that exists in the file."""
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


def _read_yaml(path: Path, name: str, problems: list[Problem]) -> _Doc | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, 1, "", f"not UTF-8 text ({exc.reason}); save it as UTF-8"))
        return None
    if "*" in text:  # aliases: a 268-byte "billion laughs" expands to gigabytes
        alias = _first_alias(text)
        if alias is not None:
            problems.append(Problem(name, alias, "", "YAML aliases (*name) are not allowed in "
                                    "knowledge files; write the value out"))
            return None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problems.append(Problem(name, line, "", f"YAML syntax error: {getattr(exc, 'problem', exc)}"
                                " (check indentation, colons and quotes)"))
        return None
    finally:
        loader.dispose()
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _walk(node, (), lines, name, problems)
    return _Doc(name, data, lines)


def _first_alias(text: str) -> int | None:
    """The line of the first YAML alias in ``text`` (events only: nothing is expanded)."""
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                return event.start_mark.line + 1
    except yaml.YAMLError:
        return None  # the syntax error is reported by the real load
    return None


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int],
          name: str, problems: list[Problem]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(Problem(name, key_node.start_mark.line + 1, _dotted(path + (key,)),
                                        "this key appears twice in the same block"))
            seen.add(key)
            _walk(value_node, path + (key,), lines, name, problems)
            lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines, name, problems)


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _pydantic_problems(doc: _Doc, base: tuple[Any, ...], exc: ValidationError,
                       label: str) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in {"str", "list[str]"}))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "this field is required but missing"
        elif err["type"] == "extra_forbidden":
            message = "unknown field (a typo?)"
        problems.append(Problem(doc.name, doc.line(base + loc), f"{label}{_dotted(loc)}".rstrip("."),
                                message))
    return problems


# --------------------------------------------------------------------------- loading


def load_knowledge(directory: str | Path) -> Knowledge:
    """Read and validate every YAML file of the folder; raise KnowledgeError on any problem."""
    directory = Path(directory)
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if not directory.is_dir():
        raise KnowledgeError([Problem(str(directory), 1, "", "knowledge folder not found")])
    paths = sorted(directory.glob("*.yaml"))
    digest = hashlib.sha256()
    docs: dict[str, _Doc] = {}
    for path in paths:
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        doc = _read_yaml(path, _display(path), problems)
        if doc is not None:
            docs[path.name] = doc

    synonym_meta: list[tuple[list[str], bool, int]] = []
    synonyms = _load_synonyms(docs.get("synonyms.yaml"), "synonyms", problems, synonym_meta)
    question_words = _load_question_words(docs.get("synonyms.yaml"), problems)
    fillers = _load_fillers(docs.get("synonyms.yaml"), problems)
    smalltalk = _load_smalltalk(docs.get("smalltalk.yaml"), problems)
    category_doc = docs.get("smalltalk.yaml")
    if not smalltalk.categories:
        smalltalk, category_doc = _shipped_categories(smalltalk, directory, problems)
    declared = [c.id for c in smalltalk.categories]
    normalizer = Normalizer(synonyms, list(question_words.values()), fillers)
    entries: list[Entry] = []
    where: dict[str, tuple[_Doc, tuple[Any, ...]]] = {}
    raw_ids: set[str] = set()  # ids of broken entries too, so one mistake is reported once
    for name, doc in docs.items():
        if name in SPECIAL_FILES:
            continue
        if isinstance(doc.data, dict) and isinstance(doc.data.get("entries"), list):
            raw_ids.update(str(e.get("id")) for e in doc.data["entries"] if isinstance(e, dict))
        for index, entry in _load_entries(doc, problems, declared):
            path = ("entries", index)
            if entry.id in where:
                first_doc, first_path = where[entry.id]
                problems.append(Problem(doc.name, doc.line(path + ("id",)), f"entries[{index}].id",
                                        f"duplicate id '{entry.id}' (first used at "
                                        f"{first_doc.name}:{first_doc.line(first_path)})"))
                continue
            where[entry.id] = (doc, path)
            entries.append(entry)
    if not entries and not problems:
        problems.append(Problem(_display(directory), 1, "", "no entries found in any *.yaml file"))

    if len(docs) < len(paths):
        raw_ids = None  # a file could not be read: its ids are unknown, so skip that check
    _check_entries(entries, where, raw_ids, normalizer, problems, warnings)
    own = category_doc is docs.get("smalltalk.yaml")  # unused shipped ones are no concern here
    _check_categories(category_doc, smalltalk.categories, entries, problems,
                      warnings if own else [])
    _check_menu(docs.get("smalltalk.yaml"), smalltalk.menu, entries, problems)
    open_day = _load_open_day(docs.get("open_day.yaml"), raw_ids, problems)
    # every entry that loaded is checked, so all problems are reported at once
    _factcheck(directory, entries, where, docs, question_words, synonym_meta, problems, warnings)
    if problems:
        raise KnowledgeError(problems, warnings)
    return Knowledge(
        directory=directory,
        entries=entries,
        synonyms=synonyms,
        question_words=question_words,
        fillers=fillers,
        smalltalk=smalltalk,
        version=digest.hexdigest()[:12],
        files=[p.name for p in paths],
        warnings=warnings,
        open_day=open_day,
        entry_lines={i: (d.name, d.line(p)) for i, (d, p) in where.items()},
    )


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _load_entries(doc: _Doc, problems: list[Problem],
                  categories: list[str]) -> list[tuple[int, Entry]]:
    data = doc.data
    if data is None:
        return []
    if not isinstance(data, dict) or "entries" not in data:
        problems.append(Problem(doc.name, 1, "entries", "the file must start with 'entries:' "
                                "followed by a list of entries"))
        return []
    raw_entries = data["entries"]
    if not isinstance(raw_entries, list):
        problems.append(Problem(doc.name, doc.line(("entries",)), "entries",
                                "must be a list (each entry starts with '- id:')"))
        return []
    out = []
    for index, raw in enumerate(raw_entries):
        label = f"entries[{index}]"
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            label += f" ({raw['id']})"
        label += " "
        try:
            out.append((index, Entry.model_validate(raw, context={"categories": categories})))
        except ValidationError as exc:
            problems.extend(_pydantic_problems(doc, ("entries", index), exc, label))
    return out


def _load_synonyms(doc: _Doc | None, key: str, problems: list[Problem],
                   meta: list[tuple[list[str], bool, int]] | None = None) -> list[list[str]]:
    if doc is None or doc.data is None:
        return []
    groups = doc.data.get(key) if isinstance(doc.data, dict) else None
    if groups is None and key != "synonyms":
        return []
    if not isinstance(groups, list):
        problems.append(Problem(doc.name, doc.line((key,)), key, "must be a list of groups, "
                                "e.g. '- [品博会, 青岛国际品质生活博览会]'"))
        return []
    out = []
    for i, group in enumerate(groups):
        confirmed = False
        if isinstance(group, dict) and set(group) <= {"words", "confirmed"}:
            # {words: [...], confirmed: true}: staff confirm members the article lacks
            confirmed = group.get("confirmed") is True
            group = group.get("words")
        if (not isinstance(group, list) or len(group) < 2
                or not all(isinstance(x, str | int) and str(x).strip() for x in group)):
            problems.append(Problem(doc.name, doc.line((key, i)), f"{key}[{i}]",
                                    "a group is a list of at least two words, the usual one first"))
            continue
        out.append([str(x).strip() for x in group])
        if meta is not None:
            meta.append((out[-1], confirmed, doc.line((key, i))))
    return out


QUESTION_KINDS = ("when", "where", "how_many")


def _load_question_words(doc: _Doc | None, problems: list[Problem]) -> dict[str, list[str]]:
    if doc is None or not isinstance(doc.data, dict) or doc.data.get("question_words") is None:
        return {}
    data = doc.data["question_words"]
    line = doc.line(("question_words",))
    if not isinstance(data, dict):
        problems.append(Problem(doc.name, line, "question_words",
                                f"must map {', '.join(QUESTION_KINDS)} to lists of words"))
        return {}
    out = {}
    for kind, words in data.items():
        where = f"question_words.{kind}"
        if kind not in QUESTION_KINDS:
            problems.append(Problem(doc.name, doc.line(("question_words", kind)), where,
                                    f"unknown kind; use {', '.join(QUESTION_KINDS)}"))
        elif not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            problems.append(Problem(doc.name, doc.line(("question_words", kind)), where,
                                    "must be a list of words"))
        else:
            out[kind] = [w.strip() for w in words]
    return out


def _load_fillers(doc: _Doc | None, problems: list[Problem]) -> list[str]:
    if doc is None or not isinstance(doc.data, dict) or doc.data.get("filler_words") is None:
        return []
    words = doc.data["filler_words"]
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        problems.append(Problem(doc.name, doc.line(("filler_words",)), "filler_words",
                                "must be a list of words, e.g. [请问, 我想知道]"))
        return []
    return [w.strip() for w in words]


def _load_smalltalk(doc: _Doc | None, problems: list[Problem]) -> SmallTalk:
    if doc is None or doc.data is None:
        return SmallTalk()
    try:
        return SmallTalk.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(doc, (), exc, ""))
        return SmallTalk()


def _shipped_categories(smalltalk: SmallTalk, directory: Path,
                        problems: list[Problem]) -> tuple[SmallTalk, _Doc | None]:
    """A folder whose smalltalk.yaml declares no ``categories:`` (a test's, a staff member's
    sandbox with one file) uses the shipped knowledge's declaration."""
    path = DEFAULT_KNOWLEDGE / "smalltalk.yaml"
    if not path.is_file() or path.resolve() == (directory / "smalltalk.yaml").resolve():
        return smalltalk, None
    shipped = _read_yaml(path, _display(path), problems)
    declared = _load_smalltalk(shipped, problems).categories
    return smalltalk.model_copy(update={"categories": declared}), shipped


def _check_categories(doc: _Doc | None, declared: list[Category], entries: list[Entry],
                      problems: list[Problem], warnings: list[Problem]) -> None:
    """Each category is declared once; a declared category without entries is a warning (its
    topic button would list nothing). An entry's undeclared category is an error of the entry
    (:meth:`Entry._declared`)."""
    name = doc.name if doc else "smalltalk.yaml"
    ids: list[str] = []
    for i, category in enumerate(declared):
        if category.id in ids:
            problems.append(Problem(name, doc.line(("categories", i, "id")) if doc else 1,
                                    f"categories[{i}].id",
                                    f"the category '{category.id}' is declared twice"))
        ids.append(category.id)
    used = {e.category for e in entries}
    for i, category in enumerate(declared):
        if entries and category.id not in used:
            warnings.append(Problem(name, doc.line(("categories", i)) if doc else 1,
                                    f"categories[{i}] ({category.id})",
                                    "no entry has this category: its topic button lists nothing"))


def _load_open_day(doc: _Doc | None, ids: set[str] | None, problems: list[Problem]) -> OpenDay:
    """open_day.yaml: the sign-up sessions and which replies invite to them."""
    if doc is None or doc.data is None:
        return OpenDay()
    if not isinstance(doc.data, dict):
        problems.append(Problem(doc.name, 1, "", "the file must have 'sessions:' and 'invite:'"))
        return OpenDay()
    before = len(problems)
    for key in doc.data:
        if key not in OpenDay.model_fields:
            problems.append(Problem(doc.name, doc.line((key,)), str(key),
                                    "unknown field (a typo?); use 'sessions' and 'invite'"))
    raw_sessions = doc.data.get("sessions") or []
    if not isinstance(raw_sessions, list):
        problems.append(Problem(doc.name, doc.line(("sessions",)), "sessions",
                                "must be a list (each session starts with '- id:')"))
        raw_sessions = []
    sessions = []
    for i, raw in enumerate(raw_sessions):
        label = f"sessions[{i}]"
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            label += f" ({raw['id']})"
        try:
            sessions.append(Session.model_validate(raw))
        except ValidationError as exc:
            problems.extend(_pydantic_problems(doc, ("sessions", i), exc, label + " "))
    invite = Invite()
    try:
        invite = Invite.model_validate(doc.data.get("invite") or {})
    except ValidationError as exc:
        problems.extend(_pydantic_problems(doc, ("invite",), exc, "invite."))
    if len(problems) > before:
        return OpenDay()
    open_day = OpenDay(sessions=sessions, invite=invite)
    first: dict[str, int] = {}
    for i, session in enumerate(open_day.sessions):
        label = f"sessions[{i}] ({session.id})"
        if session.id in first:
            problems.append(Problem(doc.name, doc.line(("sessions", i, "id")), f"{label} id",
                                    f"duplicate session id '{session.id}' (first used at "
                                    f"{doc.name}:{first[session.id]})"))
        first.setdefault(session.id, doc.line(("sessions", i, "id")))
        if session.end <= session.start:
            problems.append(Problem(doc.name, doc.line(("sessions", i, "end")), f"{label} end",
                                    f"the end ({session.end:%Y-%m-%d %H:%M}) must be after the "
                                    f"start ({session.start:%Y-%m-%d %H:%M})"))
        if (session.min_age is not None and session.max_age is not None
                and session.max_age < session.min_age):
            problems.append(Problem(doc.name, doc.line(("sessions", i, "max_age")),
                                    f"{label} max_age", "must not be below min_age"))
    for i, entry_id in enumerate(open_day.invite.entries):
        if ids is not None and entry_id not in ids:
            problems.append(Problem(doc.name, doc.line(("invite", "entries", i)),
                                    f"invite.entries[{i}]", f"no entry has the id '{entry_id}'"))
    return open_day


def _check_menu(doc: _Doc | None, menu: Menu, entries: list[Entry],
                problems: list[Problem]) -> None:
    """smalltalk.yaml's ``menu`` names a category with entries and an entry that exist."""
    if doc is None or not entries:
        return
    categories = {e.category for e in entries}
    if menu.topics is not None and menu.topics not in categories:
        problems.append(Problem(doc.name, doc.line(("menu", "topics")), "menu.topics",
                                f"no entry has the category '{menu.topics}'; use one of: "
                                f"{', '.join(sorted(categories))}"))
    if menu.services is not None and menu.services not in {e.id for e in entries}:
        problems.append(Problem(doc.name, doc.line(("menu", "services")), "menu.services",
                                f"unknown entry id '{menu.services}'"))


def _check_entries(entries: list[Entry], where: dict[str, tuple[_Doc, tuple[Any, ...]]],
                   ids: set[str] | None, normalizer: Normalizer, problems: list[Problem],
                   warnings: list[Problem]) -> None:
    owner: dict[str, tuple[str, str]] = {}
    for entry in entries:
        doc, path = where[entry.id]

        def at(*sub: Any, _doc: _Doc = doc, _path: tuple[Any, ...] = path) -> int:
            return _doc.line(_path + sub)

        label = f"entries[{path[1]}] ({entry.id})"
        for i, rel in enumerate(entry.related):
            if ids is not None and rel not in ids:
                problems.append(Problem(doc.name, at("related", i), f"{label} related[{i}]",
                                        f"no entry has the id '{rel}'"))
        for lang in ("zh", "en"):
            for i, question in enumerate(getattr(entry.questions, lang)):
                key = " ".join(normalizer.tokens(question))
                if not key:
                    problems.append(Problem(doc.name, at("questions", lang, i),
                                            f"{label} questions.{lang}[{i}]",
                                            "this question has no words or characters"))
                    continue
                if key in owner and owner[key][0] != entry.id:
                    other, text = owner[key]
                    odoc, opath = where[other]
                    problems.append(Problem(
                        doc.name, at("questions", lang, i), f"{label} questions.{lang}[{i}]",
                        f"'{question}' is also a question of '{other}' "
                        f"({odoc.name}:{odoc.line(opath)}: '{text}'); keep it under one entry"))
                owner.setdefault(key, (entry.id, question))
        if len(entry.questions.zh) < 3:
            warnings.append(Problem(doc.name, at("questions", "zh"), f"{label} questions.zh",
                                    "fewer than 3 Chinese phrasings: citizens ask in many ways"))
        if not entry.questions.en:
            warnings.append(Problem(doc.name, at("questions"), f"{label} questions.en",
                                    "no English phrasing"))
        if not entry.answer.en:
            warnings.append(Problem(doc.name, at("answer"), f"{label} answer.en",
                                    "no English answer: English askers get the Chinese one"))


def _factcheck(directory: Path, entries: list[Entry],
               where: dict[str, tuple[_Doc, tuple[Any, ...]]], docs: dict[str, _Doc],
               question_words: dict[str, list[str]],
               synonym_meta: list[tuple[list[str], bool, int]], problems: list[Problem],
               warnings: list[Problem]) -> None:
    """The answers against their sources (bot.factcheck); errors and warnings with file,
    line and token."""
    gdoc = docs.get("glossary.yaml")
    gname = gdoc.name if gdoc else _display(directory / "glossary.yaml")
    glossary, article = factcheck.load_glossary(
        gdoc.data if gdoc else None, lambda *p: gdoc.line(p) if gdoc else 1, gname, directory,
        problems)
    if glossary.article and article is None:
        warnings.append(Problem(gname, gdoc.line(("report", "article")) if gdoc else 1,
                                "report.article", f"the article {glossary.article} was not "
                                "found: synonyms are not checked against it"))

    def line(entry_id: str, *sub: Any) -> int:
        doc, path = where[entry_id]
        return doc.line(path + sub)

    for entry in entries:
        factcheck.check_entry(entry, glossary, line, where[entry.id][0].name, problems, warnings)
    words = [w for ws in question_words.values() for w in ws]
    factcheck.check_phrasings(entries, glossary, words, line,
                              {i: d.name for i, (d, _) in where.items()}, warnings)
    sdoc = docs.get("synonyms.yaml")
    if sdoc is not None:
        factcheck.check_synonyms(synonym_meta, article, sdoc.name, warnings)


# --------------------------------------------------------------------------- advice


def lint(knowledge: Knowledge, now: datetime | None = None, close: float = 90.0) -> list[Problem]:
    """Warnings that do not stop the bot but deserve a look by staff.

    - two entries with phrasings so alike that the matcher may confuse them (pair and score);
    - dates marked ``upcoming: true`` that have passed (the answer may need a "was" instead
      of "will be"); the report's own dates are of a past campaign and never warned about.
    Missing English phrasings and answers are reported while loading.
    """
    from rapidfuzz import fuzz, process

    now = now or datetime.now(TZ)
    normalizer = Normalizer(knowledge.synonyms, list(knowledge.question_words.values()),
                            knowledge.fillers)
    texts, owners, originals, names = [], [], [], []
    for entry in knowledge.entries:
        for question in entry.questions.zh + entry.questions.en:
            tokens = normalizer.tokens(question)
            if tokens:
                texts.append(" ".join(tokens))
                owners.append(entry.id)
                originals.append(question)
                names.append(frozenset(t for t in tokens if t in normalizer.named_tokens))
    warnings: list[Problem] = []
    scores = process.cdist(texts, texts, scorer=fuzz.token_sort_ratio, score_cutoff=close,
                           workers=1)
    seen: set[tuple[str, str]] = set()
    for i, j in zip(*scores.nonzero(), strict=True):
        a, b = owners[i], owners[j]
        if i >= j or a == b or (a, b) in seen:
            continue
        if names[i] and names[j] and names[i] != names[j]:
            continue  # "What is the open day?" and "What is the expo?" name what they ask of
        seen.add((a, b))
        file, line = knowledge.entry_lines.get(a, ("?", 1))
        warnings.append(Problem(file, line, f"{a} questions",
                                f"'{originals[i]}' is very close to '{originals[j]}' of '{b}' "
                                f"(score {scores[i, j]:.0f}); the bot may confuse the two"))
    for entry in knowledge.entries:
        for d in entry.dates:
            if d.upcoming and not d.yearly and _period_end(d.date) <= now:
                file, line = knowledge.entry_lines.get(entry.id, ("?", 1))
                warnings.append(Problem(file, line, f"{entry.id} dates",
                                        f"{d.date.moment:%Y-%m-%d} has passed; check that the "
                                        "answer does not speak of it as still to come"))
    return warnings


def _period_end(when: When) -> datetime:
    """The first moment after the year, month, day or minute that ``when`` names."""
    m = when.moment
    if when.precision == "year":
        return m.replace(year=m.year + 1, month=1, day=1, hour=0, minute=0)
    if when.precision == "month":
        return m.replace(year=m.year + m.month // 12, month=m.month % 12 + 1, day=1, hour=0,
                         minute=0)
    if when.precision == "day":
        return m.replace(hour=0, minute=0) + timedelta(days=1)
    return m + timedelta(minutes=1)
