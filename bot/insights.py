"""What citizens asked that the bot could not answer, and how the bot is used.

Staff are not programmers; they need two things from the bot's records:

* **review** (``run_bot.py review``): the questions the bot fell back on, the "did you mean"
  questions (and what the citizen then picked) and the answers marked 👎, grouped by
  similarity, most frequent first, each with the entries nearest to it. A person decides,
  group by group, to add the question as a phrasing of an entry (:mod:`bot.phrasings`), to
  mark it out of scope, or to skip it. Nothing is added automatically.
* **statistics** (``run_bot.py stats``, Telegram's ``/stats`` through :func:`stats_text`):
  questions per day, the share answered / clarified / fallen back, top entries, top
  unanswered groups, 👍/👎 per entry, bookings per session.

Privacy: no user id is ever stored. A miss carries at most a salted hash of the asker that
changes every day (it only tells "3 people asked this" from "one person asked 3 times"); the
salt is a random file in DATA_DIR, created on first use and never in the repository. Numbers
that look like phone, ID or card numbers, and e-mail addresses, are blanked out of recorded
questions. Statistics are counts per day, channel, outcome and entry.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from bot.asker import Asker
from bot.engine import Engine, Reply, Status
from bot.kb import TZ
from bot.messages import say
from bot.phrasings import AddResult, add_phrasing
from bot.store import Miss, MissDraft, OutcomeCount, Store, StoreUnavailable, local_day
from bot.text import Normalizer, char_pinyin, detokenize, has_cjk

log = logging.getLogger("bot.insights")

SALT_FILE = "insights.salt"
CANDIDATES = 5  # best entries kept with a miss
GROUP_SIMILARITY = 80.0  # rapidfuzz ratio (0-100) of normalised or pinyin forms to group
EXAMPLES = 5
NEAREST = 3
ANONYMOUS = frozenset({"", "anonymous"})
MISS_KINDS = ("fallback", "clarify", "downvote")
FLUSH_INTERVAL = 2.0  # seconds: how stale the question counts in the database may be

# --------------------------------------------------------------------------- privacy

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Phone, ID and card numbers: 7 digits or more, however separated (139.1234.0005, 139/…, 139_…),
# in full-width digits, or in Chinese numerals (一三九一二三四…, 幺 and 两 included).
_SEP = r"[ \t\-._/\\·,，、()（）]?"
_LONG_NUMBER = re.compile(rf"(?<![\d０-９])[\d０-９](?:{_SEP}[\d０-９]){{6,}}[XxＸｘ]?(?![\d０-９])")
_CN_DIGITS = "〇零一二三四五六七八九幺两"
_CN_NUMBER = re.compile(rf"[{_CN_DIGITS}](?:{_SEP}[{_CN_DIGITS}]){{6,}}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
MISSES_PER_DAY = 5_000  # questions kept for review per day, at most
MISSES_PER_ASKER = 30  # … per asker (or client address) per day
MISS_BATCH = 500  # fallbacks written per transaction at most


def printable(text: str) -> str:
    """Text without control characters (terminal escape sequences, bidi overrides): safe to
    store and to print on a staff member's terminal."""
    return _CONTROL.sub(" ", text)


def redact(text: str) -> str:
    """The question without control characters, e-mail addresses and long numbers."""
    text = printable(text)
    return _CN_NUMBER.sub("[number]", _LONG_NUMBER.sub("[number]", _EMAIL.sub("[email]", text)))


def load_salt(data_dir: Path, name: str = SALT_FILE) -> bytes:
    """The secret salt of the asker hashes: ``DATA_DIR/insights.salt``, created on first use
    (readable by the bot's user only). Two processes starting at once get the same salt.
    ``name``: another secret kept the same way (the web sessions' key)."""
    path = data_dir / name
    for _ in range(3):
        try:
            salt = bytes.fromhex(path.read_text(encoding="ascii").strip())
        except FileNotFoundError:
            pass
        except ValueError:
            raise RuntimeError(f"{path} is damaged: delete it (a new salt is made)") from None
        else:
            if len(salt) >= 16:
                return salt
            raise RuntimeError(f"{path} is too short: delete it (a new salt is made)")
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".salt-", dir=data_dir)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_bytes(32).hex() + "\n")
            os.chmod(tmp, 0o600)
            os.link(tmp, path)  # atomic "create if absent", complete from the first moment
        except FileExistsError:
            pass  # another process was first: read its salt
        finally:
            Path(tmp).unlink(missing_ok=True)
    raise RuntimeError(f"cannot create {path}")


def asker_hash(salt: bytes, asker: Asker, day: str) -> str | None:
    """A hash that tells askers apart within one day only; None for an anonymous asker."""
    if asker.user_id in ANONYMOUS:
        return None
    message = f"{day}|{asker.channel}:{asker.user_id}".encode()
    return hmac.new(salt, message, hashlib.sha256).hexdigest()[:16]


# --------------------------------------------------------------------------- normal forms

_NAMES: weakref.WeakKeyDictionary[Engine, dict[str, str]] = weakref.WeakKeyDictionary()


def _group_names(engine: Engine) -> dict[str, str]:
    """Synonym-group tokens → the group's usual word: normalised forms stay readable and
    stay comparable after staff add a synonym group (the tokens themselves are renumbered)."""
    names = _NAMES.get(engine)
    if names is None:
        names = {}
        knowledge = engine.knowledge
        for group in (*knowledge.synonyms, *knowledge.question_words.values()):
            if not group:
                continue
            tokens = engine.normalizer.tokens(group[0])
            if len(tokens) == 1 and len(tokens[0]) == 1 and 0xE000 <= ord(tokens[0]) <= 0xF8FF:
                names.setdefault(tokens[0], Normalizer.base(group[0]))
        _NAMES[engine] = names
    return names


def _pinyin(token: str) -> str:
    if has_cjk(token):
        return " ".join(char_pinyin(ch) if has_cjk(ch) else ch for ch in token)
    return token


@dataclass(frozen=True)
class Analysis:
    normalized: str
    pinyin: str
    candidates: tuple[tuple[str, float], ...]


def analyse(engine: Engine, question: str, limit: int = CANDIDATES) -> Analysis:
    """The question as the engine understands it (tokens joined, synonyms as their usual
    word), its pinyin, and the best entries with their scores."""
    tokens, _ = engine.understand(question)
    names = _group_names(engine)
    words = [names.get(t, t) for t in tokens]
    ranked = engine.rank(tokens)[:limit]
    return Analysis(detokenize(words) if words else "",
                    " ".join(_pinyin(w) for w in words),
                    tuple((r.entry.id, round(float(r.score), 1)) for r in ranked))


# --------------------------------------------------------------------------- recording


@dataclass(frozen=True)
class QuestionEvent:
    """One question answered by the engine (for the metrics)."""

    channel: str
    status: str
    kind: str
    entry_id: str | None
    latency: float  # seconds


@dataclass(frozen=True)
class FeedbackEvent:
    channel: str
    entry_id: str
    vote: str  # up | down


class Recorder:
    """Writes what :class:`~bot.conversation.Conversation` reports into the store.

    Misses and feedback are written at once. The counts of questions answered outright are
    gathered in memory and written by :meth:`flush` (every :data:`FLUSH_INTERVAL` seconds
    while :meth:`run` runs, and at shutdown): answering never waits for the disk.
    """

    def __init__(self, store: Store, salt: bytes,
                 clock: Callable[[], datetime] | None = None,
                 retention_days: int = 180) -> None:
        self.store = store
        self._salt = salt
        self.clock = clock or (lambda: datetime.now(TZ))
        self.retention_days = retention_days
        self._counts: dict[tuple[str, str, str, str, str], list[float]] = {}
        self._misses: list[tuple[datetime, str, MissDraft]] = []  # fallbacks not yet written
        self._kept_day = ""
        self._kept = 0  # misses kept today
        self._kept_by: Counter[str] = Counter()  # … per asker hash and per client address
        self._purged_day = ""

    def _room(self, asker: Asker, at: datetime) -> bool:
        """Whether one more miss of this asker may be kept today (the caps)."""
        day = local_day(at)
        if day != self._kept_day:
            self._kept_day, self._kept, self._kept_by = day, 0, Counter()
        who = [w for w in (asker_hash(self._salt, asker, day), asker.client) if w]
        if self._kept >= MISSES_PER_DAY or any(self._kept_by[w] >= MISSES_PER_ASKER for w in who):
            return False
        self._kept += 1
        for w in who:
            self._kept_by[w] += 1
        return True

    async def purge(self) -> int:
        """Forget misses older than ``retention_days`` (at most once a day)."""
        today = local_day(self.clock())
        if today == self._purged_day:
            return 0
        cutoff = local_day(self.clock() - timedelta(days=self.retention_days))
        count = await self.store.purge_misses(cutoff)
        self._purged_day = today
        return count

    async def flush(self) -> int:
        """Write the counts and fallbacks gathered so far; returns how many questions the
        counts hold."""
        while self._misses:
            batch, self._misses = self._misses[:MISS_BATCH], self._misses[MISS_BATCH:]
            try:
                await self.store.record_misses(batch)
            except Exception:
                self._misses = batch + self._misses  # rolled back: kept for the next try
                raise
        if not self._counts:
            return 0
        counts, self._counts = self._counts, {}
        rows = [OutcomeCount(day, channel, status, kind, entry or None, int(n), total, top)
                for (day, channel, status, kind, entry), (n, total, top) in counts.items()]
        try:
            await self.store.record_counts(rows)
        except Exception:  # rolled back: keep them for the next try. (When cancelled, the
            for key, (n, total, top) in counts.items():  # write goes on to its end: not kept.)
                self._count(key, int(n), total, top)
            raise
        return sum(r.count for r in rows)

    async def run(self, interval: float = FLUSH_INTERVAL) -> None:
        """Flush every ``interval`` seconds until cancelled (then flush once more yourself)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush()
                await self.purge()
            except StoreUnavailable:
                pass  # logged by the store, once a minute
            except Exception:
                log.exception("could not write the question counts; will retry")

    def _count(self, key: tuple[str, str, str, str, str], n: int, total: float,
               top: float) -> None:
        slot = self._counts.setdefault(key, [0, 0.0, 0.0])
        slot[0] += n
        slot[1] += total
        slot[2] = max(slot[2], top)

    def draft(self, engine: Engine, kind: str, question: str, lang: str, asker: Asker,
              at: datetime, entry_id: str | None = None) -> MissDraft:
        question = redact(question.strip())
        found = analyse(engine, question)
        return MissDraft(kind, question, found.normalized, found.pinyin, lang, found.candidates,
                         entry_id, asker_hash(self._salt, asker, local_day(at)))

    async def question(self, asker: Asker, question: str, reply: Reply, latency: float,
                       engine: Engine) -> int | None:
        """Count the question; keep it for review when it fell back or needed a "did you
        mean" (returns the miss id)."""
        at = self.clock()
        key = (local_day(at), asker.channel, reply.status.value, reply.kind, reply.entry_id or "")
        # a detail the article lacks is kept too: staff see which details citizens ask for
        missed = reply.kind in ("knowledge", "detail_not_in_source") and reply.status in (
            Status.FALLBACK, Status.CLARIFY)
        if missed and not self._room(asker, at):
            missed = False  # over the caps: counted, not kept
        if missed and reply.status is Status.FALLBACK:
            # Written in batches by flush(): a flood of junk does not queue an fsync per
            # question in front of the sign-ups (a fallback's id is never needed).
            self._misses.append((at, asker.channel,
                                 self.draft(engine, "fallback", question, reply.lang, asker, at)))
            self._count(key, 1, latency * 1000, latency * 1000)
            return None
        if missed:
            miss = self.draft(engine, reply.status.value, question, reply.lang, asker, at)
            return await self.store.record_question(
                at=at, channel=asker.channel, status=reply.status.value, kind=reply.kind,
                entry_id=reply.entry_id, latency_ms=latency * 1000, miss=miss)
        self._count(key, 1, latency * 1000, latency * 1000)
        return None

    async def pick(self, miss_id: int, picked: str) -> None:
        await self.store.record_pick(miss_id, picked)

    async def feedback(self, asker: Asker, entry_id: str, vote: str, *, question: str | None,
                       lang: str, engine: Engine, undo_at: datetime | None = None,
                       drop_miss: int | None = None) -> tuple[datetime, int | None]:
        """Count a vote; a 👎 with a known question is kept for review (its id returned)."""
        at = self.clock()
        miss = None
        if vote == "down" and question and self._room(asker, at):
            miss = self.draft(engine, "downvote", question, lang, asker, at, entry_id)
        miss_id = await self.store.record_feedback(
            at=at, channel=asker.channel, entry_id=entry_id, vote=vote, undo_at=undo_at,
            miss=miss, drop_miss=drop_miss)
        return at, miss_id


# --------------------------------------------------------------------------- grouping


@dataclass(frozen=True)
class Nearest:
    entry_id: str
    score: float
    question: str  # the entry's first phrasing, to recognise it


@dataclass
class MissGroup:
    """Misses that ask about the same thing."""

    normalized: str  # of the most frequent form
    pinyin: str
    misses: list[Miss] = field(default_factory=list)
    nearest: list[Nearest] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.misses)

    @property
    def ids(self) -> list[int]:
        return [m.id for m in self.misses]

    @property
    def askers(self) -> int:
        """Different people (per day; anonymous askers each count once)."""
        known = {(m.day, m.asker) for m in self.misses if m.asker}
        return len(known) + sum(1 for m in self.misses if not m.asker)

    @property
    def examples(self) -> list[str]:
        """Distinct wordings, most frequent first (then the earliest asked)."""
        counts = Counter(m.question for m in self.misses)  # insertion order: by id
        order = {q: i for i, q in enumerate(counts)}
        return sorted(counts, key=lambda q: (-counts[q], order[q]))[:EXAMPLES]

    @property
    def question(self) -> str:
        """The wording to add: the most frequent one."""
        return self.examples[0]

    @property
    def kinds(self) -> dict[str, int]:
        return dict(Counter(m.kind for m in self.misses))

    @property
    def picked(self) -> dict[str, int]:
        """After a "did you mean": what citizens chose ('none': none of these)."""
        return dict(Counter(m.picked for m in self.misses if m.picked).most_common())

    @property
    def downvoted(self) -> dict[str, int]:
        """Entries whose answer to this question got a 👎."""
        return dict(Counter(m.entry_id for m in self.misses
                            if m.kind == "downvote" and m.entry_id).most_common())

    @property
    def forms(self) -> set[str]:
        return {m.normalized for m in self.misses}

    @property
    def first_at(self) -> datetime:
        return min(m.at for m in self.misses)

    @property
    def last_at(self) -> datetime:
        return max(m.at for m in self.misses)

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count, "askers": self.askers, "question": self.question,
            "examples": self.examples, "normalized": self.normalized, "pinyin": self.pinyin,
            "kinds": self.kinds, "picked": self.picked, "downvoted": self.downvoted,
            "first": self.first_at.astimezone(TZ).isoformat(timespec="seconds"),
            "last": self.last_at.astimezone(TZ).isoformat(timespec="seconds"),
            "nearest": [{"entry_id": n.entry_id, "score": n.score, "question": n.question}
                        for n in self.nearest],
            "miss_ids": self.ids,
        }


def group_misses(misses: Iterable[Miss], similarity: float = GROUP_SIMILARITY) -> list[MissGroup]:
    """Misses grouped by their normalised form, then by similarity of the normalised or the
    pinyin forms (rapidfuzz's ratio ≥ ``similarity``); biggest group first."""
    by_form: dict[str, list[Miss]] = {}
    for miss in misses:
        by_form.setdefault(miss.normalized or miss.question, []).append(miss)
    forms = sorted(by_form.items(), key=lambda kv: (-len(kv[1]), kv[1][0].id))
    groups: list[MissGroup] = []
    keys: list[str] = []
    sounds: list[str] = []
    for form, members in forms:
        sound = members[0].pinyin
        best: tuple[float, int] | None = None
        for choices, query in ((keys, form), (sounds, sound)):
            if not query:
                continue
            found = process.extractOne(query, choices, scorer=fuzz.ratio, score_cutoff=similarity)
            if found is not None and (best is None or found[1] > best[0]):
                best = (found[1], found[2])
        if best is not None:
            groups[best[1]].misses.extend(members)
        else:
            groups.append(MissGroup(form, sound, list(members)))
            keys.append(form)
            sounds.append(sound)
    for group in groups:
        group.misses.sort(key=lambda m: m.id)
    groups.sort(key=lambda g: (-g.count, -g.askers, g.misses[0].id))
    return groups


def nearest(engine: Engine, question: str, limit: int = NEAREST,
            also: Sequence[str] = ()) -> list[Nearest]:
    """The entries the engine ranks best for ``question`` (``Engine.rank``), then any
    entries of ``also`` (what citizens picked) not among them."""
    tokens, _ = engine.understand(question)
    lang = "en" if question.isascii() else "zh"
    found = []
    for scored in engine.rank(tokens)[:limit]:
        found.append(Nearest(scored.entry.id, round(float(scored.score), 1),
                             engine.suggestion(scored.entry, lang).text))
    seen = {n.entry_id for n in found}
    for entry_id in also:
        entry = engine.knowledge.by_id.get(entry_id)
        if entry is not None and entry_id not in seen:
            seen.add(entry_id)
            found.append(Nearest(entry_id, 0.0, engine.suggestion(entry, lang).text))
    return found


async def review_groups(store: Store, engine: Engine, kinds: Sequence[str] = MISS_KINDS,
                        limit: int | None = None) -> list[MissGroup]:
    """The open misses, grouped, each with its nearest entries: what ``review`` shows."""
    groups = group_misses(await store.open_misses(kinds))
    if limit is not None:
        groups = groups[:limit]
    for group in groups:
        group.nearest = nearest(engine, group.question, also=list(group.picked))
    return groups


async def add_group_as_phrasing(store: Store, directory: Path, group: MissGroup, entry_id: str,
                                question: str | None = None,
                                now: datetime | None = None) -> AddResult:
    """[a] in ``review``: write the group's question (or ``question``) as a phrasing of
    ``entry_id``; when the folder stays valid, the group's misses are closed."""
    result = await asyncio.to_thread(add_phrasing, directory, entry_id, question or group.question)
    if result.ok:
        await store.resolve_misses(group.ids, "added", entry_id, now or datetime.now(TZ))
    return result


async def mark_group_out_of_scope(store: Store, group: MissGroup,
                                  now: datetime | None = None) -> int:
    """[o] in ``review``: not a question for this bot; never offered again."""
    return await store.mark_out_of_scope(group.ids, group.forms, now or datetime.now(TZ))


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class DayCount:
    day: str
    questions: int
    answered: int
    clarified: int
    fallback: int


@dataclass
class Stats:
    days: int
    since: str
    until: str
    per_day: list[DayCount]
    questions: int
    answered: int  # includes small talk (greetings, thanks)
    clarified: int
    fallback: int
    smalltalk: int
    by_channel: dict[str, int]
    latency_ms_avg: float
    latency_ms_max: float
    top_entries: list[tuple[str, int]]
    unanswered: list[MissGroup]
    clarify_picks: dict[str, int]  # recorded, picked, none
    feedback: list[tuple[str, int, int]]  # entry, 👍, 👎
    bookings: list[dict[str, Any]]

    def share(self, part: int) -> float:
        return part / self.questions if self.questions else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "days": self.days, "since": self.since, "until": self.until,
            "questions": self.questions, "answered": self.answered,
            "clarified": self.clarified, "fallback": self.fallback, "smalltalk": self.smalltalk,
            "share": {"answered": round(self.share(self.answered), 4),
                      "clarified": round(self.share(self.clarified), 4),
                      "fallback": round(self.share(self.fallback), 4)},
            "per_day": [vars(d) for d in self.per_day],
            "by_channel": self.by_channel,
            "latency_ms": {"avg": round(self.latency_ms_avg, 2),
                           "max": round(self.latency_ms_max, 2)},
            "top_entries": [{"entry_id": e, "count": n} for e, n in self.top_entries],
            "unanswered": [{"count": g.count, "askers": g.askers, "question": g.question,
                            "examples": g.examples} for g in self.unanswered],
            "clarify_picks": self.clarify_picks,
            "feedback": [{"entry_id": e, "up": u, "down": d} for e, u, d in self.feedback],
            "bookings": self.bookings,
        }


async def gather_stats(store: Store, days: int = 7, now: datetime | None = None,
                       top: int = 10) -> Stats:
    """The last ``days`` days, today included (Beijing dates)."""
    days = max(1, int(days))
    now = now or datetime.now(TZ)
    until = local_day(now)
    since = local_day(now - timedelta(days=days - 1))
    rows = [r for r in await store.outcome_counts(since) if r.kind != "empty"]
    per_day: dict[str, Counter[str]] = {}
    by_channel: Counter[str] = Counter()
    entries: Counter[str] = Counter()
    smalltalk = 0
    latency_sum = latency_max = 0.0
    for row in rows:
        day = per_day.setdefault(row.day, Counter())
        day["questions"] += row.count
        day[row.status] += row.count
        by_channel[row.channel] += row.count
        if row.status == "answer" and row.kind == "knowledge" and row.entry_id:
            entries[row.entry_id] += row.count
        if row.status == "answer" and row.kind != "knowledge":
            smalltalk += row.count
        latency_sum += row.latency_ms_sum
        latency_max = max(latency_max, row.latency_ms_max)
    daily = [DayCount(d, c["questions"], c["answer"], c["clarify"], c["fallback"])
             for d, c in sorted(per_day.items())]
    total = sum(d.questions for d in daily)
    misses = await store.misses(since)
    clarifies = [m for m in misses if m.kind == "clarify"]
    open_fallbacks = await store.open_misses(("fallback",), since)
    sessions = await store.session_counts()
    bookings = [{"session_id": s.session_id, "institution": s.institution,
                 "start": s.session_start.astimezone(TZ).isoformat(timespec="minutes")
                 if s.session_start else None, "booked": s.booked, "waiting": s.waiting}
                for s in sorted(sessions.values(), key=lambda s: (
                    s.session_start.isoformat() if s.session_start else "", s.session_id))]
    return Stats(
        days=days, since=since, until=until, per_day=daily, questions=total,
        answered=sum(d.answered for d in daily), clarified=sum(d.clarified for d in daily),
        fallback=sum(d.fallback for d in daily), smalltalk=smalltalk,
        by_channel=dict(sorted(by_channel.items())),
        latency_ms_avg=latency_sum / total if total else 0.0, latency_ms_max=latency_max,
        top_entries=sorted(entries.items(), key=lambda kv: (-kv[1], kv[0]))[:top],
        unanswered=group_misses(open_fallbacks)[:5],
        clarify_picks={"recorded": len(clarifies),
                       "picked": sum(1 for m in clarifies if m.picked and m.picked != "none"),
                       "none": sum(1 for m in clarifies if m.picked == "none")},
        feedback=[(f.entry_id, f.up, f.down) for f in await store.feedback_counts(since)][:top],
        bookings=bookings)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def format_stats(stats: Stats, lang: str = "zh", questions: Mapping[str, str] | None = None,
                 review: str = "run_bot.py review") -> str:
    """The statistics as a person reads them (Chinese, traditional Chinese or English).

    ``questions`` (entry id → a question of it) shows what each entry answers next to its
    id; ``review`` is the review command as the reader starts it."""
    asked = questions or {}

    def entry(e: str) -> str:
        q = asked.get(e)
        return say("stats.entry", lang, entry=e, question=q) if q else e

    n = stats.questions
    lines = [say("stats.head", lang, days=stats.days, since=stats.since, until=stats.until),
             say("stats.questions", lang, n=n, answered=stats.answered,
                 answered_pct=_pct(stats.answered, n), clarified=stats.clarified,
                 clarified_pct=_pct(stats.clarified, n), fallback=stats.fallback,
                 fallback_pct=_pct(stats.fallback, n))]
    if stats.smalltalk:
        lines.append(say("stats.smalltalk", lang, n=stats.smalltalk))
    if stats.by_channel:
        channels = ", ".join(f"{c} {k}" for c, k in stats.by_channel.items())
        lines.append(say("stats.channels", lang) + channels)
    if n:
        lines.append(say("stats.latency", lang, avg=stats.latency_ms_avg, max=stats.latency_ms_max))
    if len(stats.per_day) > 1:
        lines.append(say("stats.per_day", lang))
        for d in stats.per_day:
            lines.append(f"  {d.day}  {d.questions}  ({d.answered}/{d.clarified}/{d.fallback})")
    if stats.top_entries:
        lines.append(say("stats.top_entries", lang))
        lines.extend(f"  {entry(e)}: {k}" for e, k in stats.top_entries)
    if stats.unanswered:
        lines.append(say("stats.unanswered", lang, review=review))
        for g in stats.unanswered:
            who = say("stats.askers", lang, n=g.askers) if g.askers > 1 else ""
            lines.append(say("stats.unanswered_row", lang, count=g.count, question=g.question,
                             who=who))
    picks = stats.clarify_picks
    if picks["recorded"]:
        lines.append(say("stats.picks", lang, recorded=picks["recorded"], picked=picks["picked"],
                         none=picks["none"]))
    if stats.feedback:
        lines.append(say("stats.feedback", lang))
        lines.extend(f"  {entry(e)}: 👍 {u} / 👎 {d}" for e, u, d in stats.feedback)
    if stats.bookings:
        lines.append(say("stats.bookings", lang))
        for b in stats.bookings:
            lines.append(say("stats.bookings_row", lang, session=b["session_id"],
                             booked=b["booked"], waiting=b["waiting"]))
    return "\n".join(printable(line) for line in lines)


async def stats_text(store: Store, days: int = 7, lang: str = "zh") -> str:
    """Telegram's /stats: the statistics of the last ``days`` days as one message."""
    return format_stats(await gather_stats(store, days), lang)


__all__ = ["ANONYMOUS", "GROUP_SIMILARITY", "SALT_FILE", "Analysis", "DayCount", "FeedbackEvent",
           "MissGroup", "Nearest", "QuestionEvent", "Recorder", "Stats", "add_group_as_phrasing",
           "analyse", "asker_hash", "format_stats", "gather_stats", "group_misses", "load_salt",
           "mark_group_out_of_scope", "nearest", "printable", "redact", "review_groups", "stats_text"]


def labelled_from(misses: Iterable[Miss]) -> list[tuple[str, str | None]]:
    """Recorded misses as labelled questions for refitting the decision (bot/refit.py): a
    pick after "did you mean" labels the question with the entry picked; a 👎 says the entry
    answered was not right, so no confident answer was (as far as is known)."""
    out: list[tuple[str, str | None]] = []
    for m in misses:
        if m.kind == "clarify" and m.picked and m.picked != "none":
            out.append((m.question, m.picked))
        elif m.kind == "downvote":
            out.append((m.question, None))
    return out
