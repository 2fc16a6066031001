"""The one core every channel calls: a question in, a :class:`Reply` out.

The engine decides between three outcomes. A wrong answer said with confidence is the worst
thing this bot can do, so ``answer`` needs both a high score and a clear lead over the next
entry; a close call becomes ``clarify`` (the citizen picks), and anything weaker ``fallback``.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np

from bot import aspects
from bot.decision import Decision, Signals, load
from bot.judge import DEPTH, Candidate, Judge
from bot.kb import TZ, Entry, Knowledge, When
from bot.messages import say, script
from bot.search import Features, Hit, Index, Query, Speller, TermSets, Weights, count_features
from bot.text import (
    BIGRAM_SEP,
    Normalizer,
    clean,
    detect_language,
    detokenize,
    group_token,
    is_group_token,
    mandarin,
    to_traditional,
)

MAX_QUESTION_CHARS = 1000


class Status(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    FALLBACK = "fallback"


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Suggestion:
    entry_id: str
    text: str


@dataclass(frozen=True)
class Action:
    id: str
    label: str


@dataclass(frozen=True)
class Reply:
    status: Status
    text: str
    lang: str
    kind: str = "knowledge"
    entry_id: str | None = None
    score: float = 0.0
    links: tuple[Link, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    actions: tuple[Action, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "answer": self.text,
            "entry_id": self.entry_id,
            "score": round(self.score, 1),
            "lang": self.lang,
            "kind": self.kind,
            "links": [{"title": x.title, "url": x.url} for x in self.links],
            "suggestions": [{"id": s.entry_id, "text": s.text} for s in self.suggestions],
            "actions": [{"id": a.id, "label": a.label} for a in self.actions],
        }


@dataclass(frozen=True)
class Thresholds:
    """Fitted on this project's own questions and on the public FAQ training pairs."""

    answer: float = 48.0
    margin: float = 9.0
    clarify: float = 34.0
    suggest_within: float = 18.0
    explained: float = 0.5  # an answer must account for this share of the question's words
    clarify_explained: float = 0.4  # and suggestions at least this share


@dataclass
class _Scored:
    entry: Entry
    score: float
    explained: float  # share of the question's information found anywhere in the entry
    foreign: bool  # the question names a number or a named thing the entry never mentions
    hit: Hit  # its best phrasing's
    confidence: float | None = None  # the judge's, when there is one (on the first only)
    missing: frozenset[str] = frozenset()  # detail aspects asked that the entry does not tell


@dataclass(frozen=True)
class Reading:
    """What :meth:`Engine.read` makes of a question."""

    tokens: list[str]
    asked: frozenset[str]  # the detail aspects it asks (bot/aspects.py)
    ranked: list[_Scored]
    lang: str
    asking: dict[str, str] | None = None  # the words that ask each aspect (aspects.spans)
    core: list[str] | None = None  # the asking clauses' tokens, when context clauses precede
    checked: dict[str, str] | None = None  # figures the asker checks, with units (aspects.checked)


_ASKED = 1 << 30  # added to the number of a word an entry's phrasings use, in its term set
SPELLER_ANSWER_CHARS = 300_000  # answer text that spelling repair learns from, at most
_CHUNK = 2048  # answers normalised at a time while building (bounds the memory of their tokens)
_DATE_WORDS = re.compile(r"\d+\s*[年月日时]")
_PARTICLES = re.compile(r"[啊呀吧呢哈嘛啦哦喔噢～~]+$")
_OVERVIEW_WORDS = 4  # a question "about" a name only has at most so many words of its own
_FUNCTION_CHARS = frozenset("是的了吗呢吧啊这那个次些有在和与及")
_OVERVIEW_WITHIN = 15.0  # how far behind the first a subject's overview may be to go first
_TELLER_EXPLAINED = 0.05  # …or above it, explaining about as much of the question
_TELLER_WITHIN = 5.0  # how close below an entry telling what is asked keeps "no" from being said
_ASPECT_PENALTY = 12.0  # score lost, when re-ranking, by an entry that lacks an aspect asked
_PART = "part"  # among an entry's missing aspects: it tells only part of what is asked
_NOT_NOMINATED_RE = re.compile("(?:不是|不算|非|除了|不要|不含)提名")
_WITHIN = frozenset({"提名", "评选"})  # 中国质量奖提名奖 is a nomination, not the award
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|(?<=\. )")


class Engine:
    """Knowledge → index → decisions. Build once per knowledge version; ``ask`` is pure."""

    def __init__(self, knowledge: Knowledge, clock: Callable[[], datetime] | None = None,
                 thresholds: Thresholds | None = None, weights: Weights | None = None,
                 judge: Judge | None = None, decision: Decision | None = None) -> None:
        self.knowledge = knowledge
        # A learned second opinion (bot/judge.py), for the benchmarks only: the shipped bot
        # runs without one. Fitting one is bot.judge.example_of + fit_judge.
        self.judge = judge
        # The fitted decision (bot/decision.py) unless thresholds or a judge are given.
        self.decision = decision if decision is not None else (
            load() if thresholds is None and judge is None else None)
        self.clock = clock or (lambda: datetime.now(TZ))
        self.thresholds = thresholds or Thresholds()
        kinds = list(knowledge.question_words)
        self.normalizer = Normalizer(knowledge.synonyms, list(knowledge.question_words.values()),
                                     knowledge.fillers, corpus=_corpus(knowledge))
        asks = dict(zip(kinds, sorted(self.normalizer.question_tokens), strict=True))
        self._asks = asks  # question-word kind (when, where, how_many) → its token
        docs, keys, spelled = self._phrasings(knowledge)
        names = [self.normalizer.base_tokens(v) for v in self.normalizer.variants]
        # the words of a name ("research institute" of CosmoPlat's) are the knowledge's, though
        # its answers hold the name's one token: a question saying only part of it uses no
        # word the knowledge never does
        self._name_words = frozenset(t for name in names for t in name)
        self.speller = Speller(itertools.chain(spelled, names, self._answer_words(knowledge)),
                               names)
        del spelled  # before the index is built: the two builds' peaks do not add up
        self.index = Index(docs, keys, weights, boost=self.normalizer.question_tokens)
        del docs
        self._named = self.normalizer.named_tokens | self.normalizer.question_tokens
        # Terms of answers that no phrasing uses, numbered after the index's own terms.
        self._answer_only: dict[str, int] = {}
        self._answer_df: dict[int, int] = {}  # term number → answers using it
        self._entry_terms = self._entry_sets(asks)
        self._answers = len(knowledge.entries)
        self._rarest = math.log(self._answers + 1)
        self._smalltalk = {
            self._smalltalk_key(pattern): intent
            for intent in knowledge.smalltalk.intents for pattern in intent.patterns
        }
        self._told: dict[int, aspects.Told] = {}  # derived on first need
        self._plains: dict[int, str] = {}
        self._derived_of: dict[tuple[str, int], Any] = {}  # see _derived
        self._hant: dict[int, str] = {}  # answers in traditional script, converted once each
        self._hant_questions: dict[int, str] = {}  # and first questions (suggestions)
        self._overviews: dict[str, Entry | None] = {}
        self._names = {group_token(i): group for i, group in enumerate(knowledge.synonyms)}

    def _phrasings(self, knowledge: Knowledge) -> tuple[list[list[str]], list[int], list[list[str]]]:
        """Every phrasing's tokens, its entry and its base tokens (what spelling repair learns
        from), normalised once; one string object per distinct token, since 100k phrasings
        hold millions of tokens."""
        shared: dict[str, str] = {}
        share = shared.setdefault
        docs: list[list[str]] = []
        keys: list[int] = []
        spelled: list[list[str]] = []
        for key, entry in enumerate(knowledge.entries):
            for question in (*entry.questions.zh, *entry.questions.en):
                base, tokens = self.normalizer.both_tokens(question)
                spelled.append(list(map(share, base, base)))
                docs.append(list(map(share, tokens, tokens)))
                keys.append(key)
        return docs, keys, spelled

    def _answer_words(self, knowledge: Knowledge) -> Iterator[list[str]]:
        """The answers' tokens for spelling repair (标志 for a typed 标识: phrasings rarely
        use every word an answer does), up to ``SPELLER_ANSWER_CHARS`` characters of answers.
        A city's knowledge is a few tens of thousands; the 100k-phrasing benchmark's long FAQ
        answers would add 200 MB of pairs that the phrasings' own words already cover."""
        budget = SPELLER_ANSWER_CHARS
        for entry in knowledge.entries:
            budget -= len(entry.answer.zh)
            if budget < 0:
                return
            yield self.normalizer.base_tokens(entry.answer.zh)

    def _entry_sets(self, asks: dict[str, str]) -> TermSets:
        """Per entry, the terms of its answer, and (numbered from ``_ASKED`` on) the words its
        phrasings use plus the question words its answer tells (:meth:`_told`). The words an
        entry knows are both kinds of tokens: its answer's are among its answer's terms. One
        set per entry, so that a question needs one lookup; answers are read in chunks so
        that their tokens never all exist at once."""
        entries = self.knowledge.entries
        doc_bounds = np.searchsorted(self.index.keys, np.arange(0, len(entries) + _CHUNK, _CHUNK))
        sets = TermSets(len(entries))
        for chunk, first in enumerate(range(0, len(entries), _CHUNK)):
            part = entries[first:first + _CHUNK]
            table = count_features(self.normalizer.tokens(f"{e.answer.zh} {e.answer.en or ''}")
                                   for e in part)
            number = np.array([self._number(t, add=True) for t in table.terms], dtype=np.int64)
            asked_owner, asked = self.index.held_tokens(int(doc_bounds[chunk]),
                                                        int(doc_bounds[chunk + 1]))
            told_owner, told = self._told(part, table, asks)
            pairs = np.unique(table.doc.astype(np.int64) * len(table.terms) + table.term)
            for term, df in zip(*np.unique(number[pairs % len(table.terms)], return_counts=True),
                                strict=True):
                self._answer_df[int(term)] = self._answer_df.get(int(term), 0) + int(df)
            sets.add(np.concatenate([first + table.doc, asked_owner, first + told_owner]),
                     np.concatenate([number[table.term], _ASKED + asked, _ASKED + told]))
        return sets.seal()

    def _told(self, part: list[Entry], table: Features,
              asks: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
        """(entry within ``part``, question word) for the question words the answers tell: an
        answer with a number tells "how many"; one with a date tells "when"."""
        has_digit = np.array([t[0].isdigit() for t in table.tokens], dtype=bool)
        tells_number = np.bincount(np.arange(len(part)).repeat(table.token_counts),
                                   weights=has_digit[table.token], minlength=len(part)) > 0
        told: list[tuple[int, int]] = []
        for i, e in enumerate(part):
            if "how_many" in asks and tells_number[i]:
                told.append((i, self._number(asks["how_many"], add=True)))
            if "when" in asks and (e.dates or _DATE_WORDS.search(e.answer.zh)):
                told.append((i, self._number(asks["when"], add=True)))
        owner, word = np.asarray(told, dtype=np.int64).reshape(-1, 2).T
        return owner, word

    def _number(self, term: str, add: bool = False) -> int:
        """The term's number: the index's, else its number among answer-only terms (-1 if
        none, unless ``add``)."""
        found = self.index.term_ids.get(term)
        if found is not None:
            return found
        found = self._answer_only.get(term)
        if found is None and add:
            found = self._answer_only[term] = len(self.index.term_ids) + len(self._answer_only)
        return -1 if found is None else found

    # ------------------------------------------------------------------ public API

    def ask(self, question: str, lang: str | None = None) -> Reply:
        """Answer one question. ``lang`` is the asker's preference for script-less input."""
        text = clean(question or "")
        if not text:
            return self._message("empty", lang or "zh")
        if len(text) > MAX_QUESTION_CHARS:
            return self._message("too_long", detect_language(text[:200]) or lang or "zh")
        asked_lang = detect_language(text) or _preferred(lang)
        small = self._match_smalltalk(text)
        if small is not None:
            return small(asked_lang)
        read = self.read(self.without_context(text), asked_lang)
        line = self.next_line(text, read.ranked)
        if line is not None:  # “只有高标准”后面那句是啥: the entry quoting it holds the answer
            score = next((r.score for r in read.ranked if r.entry is line), 0.0)
            return self._answer(line, score, read.lang)
        reply = self.decide(read.ranked, read.lang, read.tokens, read.asked, read.asking, read.core,
                            read.checked)
        if reply.status is Status.ANSWER and reply.entry_id is not None:
            other = self.other_part(text, reply.entry_id, read.ranked, read.tokens)
            if other is not None:  # 品博会几时办？主题是啥？ — one answer would be half of it
                first = self.knowledge.by_id[reply.entry_id]
                return Reply(Status.CLARIFY, self.message("two_parts", read.lang), read.lang,
                             entry_id=None, score=reply.score,
                             suggestions=(self.suggestion(first, read.lang),
                                          self.suggestion(other, read.lang)))
        return reply

    def next_line(self, text: str, ranked: list[_Scored]) -> Entry | None:
        """For a question asking how a quotation goes on (“只有高标准”后面那句是啥, 质量强国后面
        是什么, 城阳先行前面那半句), the entry whose answer quotes the most of those words with
        more after them (or before them), the best ranked of several: a slogan's second half is
        in no phrasing, and words asked that way matched entries about slogans in general. The
        longest quotation wins (人人重视质量, not the 重视质量 of 高度重视质量工作). None for other
        questions."""
        if _NEXT_LINE_MARK_RE.search(text) is None:
            return None  # the cheap test first: most questions ask nothing of the kind
        match = _NEXT_LINE_RE.search(Normalizer.base(mandarin(text)))
        if match is None:
            return None
        words, onward = match.group(1), match.group(2)[0] in "后下"
        order = {id(r.entry): i for i, r in enumerate(ranked)}
        for k in range(len(words), _LINE_AT_LEAST - 1, -1):
            quoted = words[-k:]
            holding = [e for e in self.knowledge.entries if self._goes_on(e, quoted, onward)]
            if holding:
                return min(holding, key=lambda e: order.get(id(e), len(order)))
        return None

    def _goes_on(self, entry: Entry, quoted: str, onward: bool) -> bool:
        """Whether an entry's answer quotes ``quoted`` (in quotation marks, or after 写道：)
        with more words after it (or before it) in the same quotation."""
        quotations = self._derived("quotations", entry, lambda e: [
            a or b for a, b in _QUOTATION_RE.findall(e.answer.zh)])
        for line in quotations:
            at = line.find(quoted)
            if at < 0:
                continue
            # past a space, a comma or a pause mark the line goes on; its end ends it
            beside = line[at + len(quoted):].lstrip(" ，、") if onward else line[:at].rstrip(" ，、")
            if beside and _CJK_CHAR_RE.match(beside[0] if onward else beside[-1]):
                return True
        return False

    def other_part(self, text: str, entry_id: str, ranked: list[_Scored],
                   tokens: list[str]) -> Entry | None:
        """For a short question asking two things (品博会几时办？主题是啥？, "How big will the
        expo be, and will it be online?"), the entry among the first few that accounts for a
        part the answer's entry does not. None for a question of one part, or parts the same
        entry accounts for. A part is weighed by its own words (the subject they share is no
        test), against the entries already ranked: searching again for each part of every
        two-question FAQ message cost the p99."""
        if len(text) > (_TWO_PARTS_UP_TO if text.isascii() else _TWO_PARTS_UP_TO_ZH):
            return None
        parts = [p for p in _PARTS_RE.split(mandarin(text)) if _QUESTION_WORD_RE.search(p) or _asks(p)]
        if len(parts) < 2:
            return None
        head = ranked[:DEPTH * 2]
        at = next((i for i, r in enumerate(head) if r.entry.id == entry_id), None)
        if at is None or len(head) < 2:
            return None
        named = self.normalizer.named_tokens
        subject = {t for t in tokens if t in named}
        keys = [r.hit.key for r in head]
        for part in parts:
            own = [t for t in self.normalizer.tokens(part) if t not in named
                   and t not in _PART_FILLERS]
            if not own:
                continue
            _, explained, _ = self._coverage(keys, self.index.query(own))
            if explained[at] >= _PART_EXPLAINED:
                continue  # the answer's entry accounts for this part too
            asked = aspects.asked(part) & aspects.DETAILS
            for i in np.argsort(-explained, kind="stable").tolist():
                if explained[i] < explained[at] + _PART_LEAD:
                    break
                r = head[i]
                if asked <= self.told(r.entry).aspects and (
                        not subject or set(self._shared_names(r, tokens)) == subject):
                    return r.entry
        return None

    def read(self, text: str, lang: str = "zh") -> Reading:
        """A question as the decision sees it: its tokens, what it asks and the entries ranked
        (those telling what is asked first)."""
        text = mandarin(text)
        asked_me = _ASKED_ME_RE.match(text)
        if asked_me is not None and len(text) - asked_me.end() >= 4:
            text = text[asked_me.end():]  # 老伴儿问我今年是第几个质量月: the question passed on
        checked = aspects.checked(text)
        if checked and lang != "en":
            text = aspects.as_asked(text, checked)  # 老字号是20个吗 asks 老字号是几个
        elif lang == "en":
            text = aspects.as_stated(text, checked)  # "i heard …, true?" checks what it heard
        base = self.normalizer.base_tokens(text)
        fixed, pinyin = self.speller.correct(list(base))  # understand()
        if fixed != base and _repairs_a_place(base, fixed):
            fixed = base  # 深圳 is no typo of a word the knowledge uses (深真)
        tokens = self.normalizer.tokens_from_base(fixed)
        if lang == "en" and pinyin:
            lang = "zh"  # Latin letters that turned out to be pinyin
        every = aspects.asked(text)
        tokens = tokens + self._asking_tokens(every, tokens)
        ranked = self.rank(tokens, frozenset(checked))
        asked = every & aspects.DETAILS
        if asked and ranked:
            ranked = self.by_aspect(ranked, asked, detokenize(fixed), text)
        elif ranked:
            ranked = self._overview_first(ranked, tokens)
        return Reading(tokens, asked, ranked, lang, aspects.spans(text) if every else None,
                       self._core(text, repaired=fixed != base), checked or None)

    def _core(self, text: str, repaired: bool = True) -> list[str] | None:
        """The tokens the decision weighs, when a question first sets the scene (我在做青岛品牌
        的PPT，…，青岛有多少个中国名牌产品?): the clauses that ask, and of the others only the
        knowledge's named things. Their everyday words (PPT, 展位设计, 外地朋友) are no part
        of what is asked, yet counted as words the knowledge never uses they made a plain
        question look unanswerable. None when every clause asks."""
        clauses = _CLAUSE_RE.findall(text)
        if len(clauses) < 2:
            return None
        asks = [c.rstrip().endswith(("?", "？")) or _asks(c) for c in clauses[:-1]]
        # the last clause asks unless an earlier one did: "when is the expo? i want to take
        # my students" ends with the asker's reason (the cheap tests first: _asks is not)
        last = clauses[-1]
        asks.append(not any(asks) or last.rstrip().endswith(("?", "？"))
                    or _CHOICE_RE.search(last) is not None or _asks(last))
        # 质量月有市民能参加的活动，都有啥: a bare question word asks of the clause before it
        for i in range(1, len(clauses)):
            if asks[i] and not asks[i - 1] and len(clauses[i].strip(" ，,。？?！!；;…：")) <= 3:
                asks[i - 1] = True
        if all(asks):
            return None
        named = self.normalizer.named_tokens
        scene = [t for c, a in zip(clauses, asks, strict=True) if not a
                 for t in self.normalizer.tokens(c) if t in named]
        asking = "".join(c for c, a in zip(clauses, asks, strict=True) if a)
        fixed = self.normalizer.base_tokens(asking)
        if repaired:  # a part of a text that needed no spelling repair needs none either
            fixed, _ = self.speller.correct(fixed)
        tokens = self.normalizer.tokens_from_base(fixed)
        tokens += self._asking_tokens(aspects.asked(asking), tokens)
        return scene + [t for t in tokens if t not in scene]

    def _asking_tokens(self, every: frozenset[str], tokens: list[str]) -> list[str]:
        """The question-word tokens of the aspects asked that the tokens lack: 品博会几月 asks
        "when" as 品博会几月份 does, though 几月 is no variant of the staff's question words,
        and 第几 asks with their "how many" words (几)."""
        kinds = every | {"how_many"} if "ordinal" in every else every
        return [self._asks[a] for a in sorted(kinds) if a in self._asks
                and self._asks[a] not in tokens]

    def without_context(self, text: str) -> str:
        """The question without the clauses that say who asks (我是做家电的企业，…): they
        tell about the citizen, not what is asked, yet their words (企业, 员工) pull the
        question to entries about companies. Such a clause speaks of the asker (or goes on
        with what the previous one told), names none of the knowledge's things, asks nothing,
        and is not the last one unless a question came before it. After the question, any
        clause that asks nothing is the asker's reason (想带老婆孩子去逛逛), whoever it speaks
        of; a space between Chinese words ends a clause as a comma does."""
        text = _SPACED_RE.sub("，", text)
        clauses = _CLAUSE_RE.findall(text)
        if len(clauses) < 2:
            return text
        named = self.normalizer.named_tokens
        kept, story = [], False
        asked_before = False
        for i, c in enumerate(clauses):
            # 我是开出租车的，经常拉外地客人，…: the asker's story runs on past its first clause;
            # told after the question (…商标？我在台湾常看到青岛的牌子) it may end the message
            last = i == len(clauses) - 1
            # after the question, a clause that asks nothing is the asker's reason
            # (品博会几月办，想带老婆孩子去逛逛), whoever it speaks of
            # (the cheap tests first: _asks and the tokens are not)
            if asked_before and (_GUESS_RE.fullmatch(c) or _EN_GUESS_RE.fullmatch(c)) \
                    and not _asks(c):
                continue  # 在哪开的，是在市南区吗: the asker's guess at what they asked
            story = ((not last or asked_before)
                     and (story or asked_before or bool(_ABOUT_ME_RE.match(c)))
                     and not c.rstrip().endswith(("?", "？")) and not _CHOICE_RE.search(c)
                     and (asked_before or not _HEARSAY_RE.match(c))
                     and not _WH_WORD_RE.search(c) and not _asks(c)
                     and not any(t in named for t in self.normalizer.tokens(c)))
            if not story:
                kept.append(c)
                # a question word is enough to tell (and cheap: _asks is not)
                asked_before = asked_before or c.rstrip().endswith(("?", "？")) or bool(
                    _QUESTION_WORD_RE.search(c))
        rest = "".join(kept)
        if len(rest.strip()) < 4 or _BELIEF_ONLY_RE.fullmatch(rest.strip(" ，,？?。.!！")):
            return text  # …投了10个亿，真的假的: what is checked came before the check
        if len(rest) <= 8 and len(kept) < len(clauses) and not any(
                t in named for t in self.normalizer.tokens(rest)):
            return text  # …还有一个跟人才有关的计划，叫什么名字: the story held the subject
        return rest

    def answer_entry(self, entry_id: str, lang: str = "zh") -> Reply | None:
        """The answer of one entry, for a suggestion the citizen picked."""
        entry = self.knowledge.by_id.get(entry_id)
        if entry is None:
            return None
        return self._answer(entry, 100.0, _preferred(lang))

    def topics(self, lang: str) -> list[tuple[str, str]]:
        """(category, display name) of every category that has entries, in the order and with
        the names the knowledge declares (smalltalk.yaml ``categories:``)."""
        used = {e.category for e in self.knowledge.entries}
        return [(c.id, (c.en or c.zh) if lang == "en" else script(c.zh, lang))
                for c in self.knowledge.categories if c.id in used]

    def events(self, lang: str) -> list[tuple[str, str]]:
        """Every dated event of the knowledge, in date order: (entry id, dated line).

        Each line says whether the event is past, today or to come at the moment of asking.
        """
        seen: set[tuple[datetime, str]] = set()
        rows = []
        for entry in self.knowledge.entries:
            for d in entry.dates:
                key = (d.date.moment, d.what.zh if d.what else entry.id)
                if key in seen:
                    continue
                seen.add(key)
                rows.append((d.date.moment, entry.id, self._date_note(d.when, d.what, lang)))
        rows.sort(key=lambda r: r[0])
        return [(entry_id, line) for _, entry_id, line in rows]

    def entries_in(self, category: str) -> list[Entry]:
        return [e for e in self.knowledge.entries if e.category == category]

    def message(self, name: str, lang: str) -> str:
        """A fixed reply from the catalogue (bot/messages.py), as staff may have reworded it
        in smalltalk.yaml."""
        return say(name, lang, self.knowledge.smalltalk.messages, max_chars=MAX_QUESTION_CHARS)

    # ------------------------------------------------------------------ steps

    def understand(self, text: str) -> tuple[list[str], bool]:
        """Tokens of the question after synonyms, numerals and spelling repair, and whether
        Latin letters in it were read as pinyin."""
        fixed, pinyin = self.speller.correct(self.normalizer.base_tokens(text))
        return self.normalizer.tokens_from_base(fixed), pinyin

    def rank(self, tokens: list[str], checked: frozenset[str] = frozenset()) -> list[_Scored]:
        """Entries best first: by score (:meth:`scored`), then, with a judge, its first few in
        the judge's order."""
        ranked = self.scored(tokens, checked)
        if self.judge is not None and ranked:
            ranked = self._judged(tokens, ranked, self.judge)
        return ranked

    def scored(self, tokens: list[str], checked: frozenset[str] = frozenset()) -> list[_Scored]:
        """Entries by score: the best phrasing's score, plus how much of the question the
        entry's answer speaks of (which tells apart entries whose phrasings look alike).
        ``checked``: figures the asker checks (老字号是20个吗), no sign of another subject."""
        query = self.index.query(tokens)
        best: dict[int, Hit] = {}
        for hit in self.index.search_query(query):
            if hit.key not in best or hit.score > best[hit.key].score:
                best[hit.key] = hit
        if not best:
            return []
        keys = list(best)
        covered, explained, foreign = self._coverage(keys, query, checked)
        w = self.index.weights
        share, ec = w.answer_cover, w.entry_cover
        # one array expression: the same float operations, in the same order, as per entry
        hit_scores = np.fromiter((h.score for h in best.values()), dtype=np.float64,
                                 count=len(best))
        mixed = ((1 - share - ec) * hit_scores
                 + share * 100 * covered + ec * 100 * explained)
        mixed = np.where(foreign, mixed * (1 - w.foreign), mixed)
        entries = self.knowledge.entries
        ranked = [_Scored(entries[key], m, x, f, best[key]) for key, m, x, f in
                  zip(keys, mixed.tolist(), explained.tolist(), foreign.tolist(), strict=True)]
        ranked.sort(key=lambda r: r.score, reverse=True)
        return ranked

    def _judged(self, tokens: list[str], ranked: list[_Scored], judge: Judge) -> list[_Scored]:
        """The first ``judge.depth`` entries in the judge's order, the first with its
        confidence."""
        head = ranked[:judge.depth]
        order, confidence = judge.review(tokens, self.candidates(head), self.index.information)
        head = [head[i] for i in order]
        head[0] = replace(head[0], confidence=confidence)
        return head + ranked[judge.depth:]

    def candidates(self, ranked: list[_Scored]) -> list[Candidate]:
        """What the judge reads of ranked entries."""
        texts = self.index.texts_of(np.array([r.hit.doc for r in ranked], dtype=np.int64))
        return [Candidate(r.hit.key, r.score, r.explained, r.foreign, r.hit.question_cover,
                          r.hit.phrasing_cover, r.hit.fuzzy, text.split())
                for r, text in zip(ranked, texts, strict=True)]

    def _coverage(self, keys: list[int], query: Query, checked: frozenset[str] = frozenset()
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each entry: the share of the question's information its answer covers; the
        share of the question's words it knows (in its answer or its phrasings); whether it
        lacks a number or named thing the question asks about."""
        terms, info, n = query.terms, query.info, query.words
        words, word_info = terms[:n], info[:n]  # features() lists the tokens first
        numbers = [i if i >= 0 else self._answer_only.get(t, -1)
                   for t, i in zip(terms, query.ids, strict=True)]
        held = self._entry_terms.held(keys, numbers + [_ASKED + x if x >= 0 else -1
                                                       for x in numbers[:n]])
        in_answer = held[:len(terms)]
        known = in_answer[:n] | held[len(terms):]
        covered = _sums(in_answer, info) / (sum(info) or 1.0)
        explained = _sums(known, word_info) / (sum(word_info) or 1.0)
        # 2023 or 第5届 when the entry speaks of 2022 and the 4th; 品博会 when it speaks of
        # the ceremony; "when" when it gives no date: the question is about something else,
        # however alike the wording.
        # 1 is mostly the article a citizen says (我们是一家小公司, 有一个问题), not a figure.
        named = [i for i, t in enumerate(words)
                 if (t[0].isdigit() and t != "1" and t not in checked) or t in self._named]
        return covered, explained, ~known[named].all(axis=0)

    def told(self, entry: Entry) -> aspects.Told:
        """What an entry tells (its staff's ``aspects:`` or what its answer and phrasings
        show), derived once per entry on first need."""
        key = id(entry)
        found = self._told.get(key)
        if found is None:
            found = self._told[key] = aspects.derive(
                [*entry.questions.zh, *entry.questions.en], entry.answer.zh,
                [d.date.precision for d in entry.dates], entry.aspects)
        return found

    def _plain(self, entry: Entry) -> str:
        """The entry's answer and phrasings as base text (simplified, numerals as digits)."""
        key = id(entry)
        found = self._plains.get(key)
        if found is None:
            found = self._plains[key] = Normalizer.base(
                " ".join((entry.answer.zh, *entry.questions.zh)))
        return found

    def by_aspect(self, ranked: list[_Scored], asked: frozenset[str],
                  text: str = "", typed: str = "") -> list[_Scored]:
        """The first few entries re-ranked so that one telling what is asked comes before one
        on the same subject that does not (品博会几月 → the expo's date, not its theme).
        ``text`` is the repaired question, ``typed`` as asked (English words unstemmed)."""
        head = []
        nouns = aspects.counted_all(typed or text) if "how_many" in asked and text else []
        english = aspects.counted_en(typed) if "how_many" in asked and not nouns else []
        unit = aspects.measure(text) if "how_many" in asked and text and not nouns else None
        per = aspects.units(typed or text) if nouns else {}
        # "26家品牌都有哪些", "2家500强是哪两家": a list of 26 (or 2) is asked; an answer
        # naming two of them (or only counting them) lacks it.
        listed = aspects.stated_count(text) if asked & {"which", "full_list"} else 0
        thing = aspects.listed(text) if "which" in asked and text else None
        title = aspects.office(text) if text else None  # 校长叫啥 asks who, too
        for r in ranked[:DEPTH * 2]:
            missing = asked - self.told(r.entry).aspects
            counted = [aspects.counts(n, self._counted(r.entry), per.get(n)) for n in nouns] or [
                aspects.counts_en(n, r.entry.answer.en or "") for n in english]
            if not all(counted):
                # a number of something else; or of one of two things asked: then the entry
                # answers part of the question, and "the report does not say" would be untrue
                missing = missing | ({"how_many", _PART} if any(counted) else {"how_many"})
            elif unit is not None and not aspects.counts_measure(unit, self._answer_counts(r.entry)):
                missing = missing | {"how_many"}  # 名单一共多少家 of an entry counting lists
            if thing is not None and (not aspects.names(thing, self._plain(r.entry))
                                      or any(thing in i for i in self._tallies(r.entry))):
                missing = missing | {"which"}  # a list of something else
            if title is not None and not aspects.holds(title, self._plain(r.entry)):
                missing = missing | {"who"}  # the holder of another office
            if listed >= 2 and self._derived("longest_list", r.entry,
                                             lambda e: aspects.longest_list(e.answer.zh)) < listed:
                missing = missing | {"full_list"}
            elif listed >= 2 and "full_list" in missing:
                missing = missing - {"full_list"}  # 点名了哪两家: the answer names the two
            score = r.score - _ASPECT_PENALTY if missing else r.score
            head.append(_rescored(r, score, missing))
        head.sort(key=lambda r: r.score, reverse=True)
        return head + ranked[DEPTH * 2:]

    def signals(self, ranked: list[_Scored], tokens: list[str],
                asked: frozenset[str] = frozenset(),
                asking: dict[str, str] | None = None,
                core: list[str] | None = None, checked: dict[str, str] | None = None) -> Signals:
        """What the fitted decision reads of a question, its best entry and the next one: is
        the runner-up a real alternative (another subject, or the asked detail told by it
        too), or merely a close score?"""
        top = ranked[0]
        second = ranked[1] if len(ranked) > 1 else None
        runner_up = second.score if second is not None else 0.0
        query = self.index.query(core or tokens)
        n = query.words
        seams = self._seams(core or tokens)
        unknown = [self._number(t) < 0 and t not in seams and t not in self._name_words
                   for t in query.terms]
        word_info, pair_info = sum(query.info[:n]) or 1.0, sum(query.info[n:]) or 1.0
        told = self.told(top.entry).aspects
        asking_tokens = {t for name, words in (asking or {}).items() if name in told
                         for t in self.normalizer.tokens(words)}
        pair = self._pair_knowledge(top, second, query, asking_tokens)
        return Signals(
            top.score, top.score - runner_up, top.explained,
            top.foreign or self._elsewhere(core or tokens, top.entry, tokens, bool(checked))
            or bool(checked and not self._gives_figures(top.entry, checked))
            or (not asked and self._named_only_in_answer(top, tokens))
            or (bool(asked & {"who", "which"}) and self._only_within(core or tokens, top.entry,
                                                                     tokens)),
            top.hit.question_cover,
            top.hit.phrasing_cover, top.hit.fuzzy, len(asked), len(top.missing),
            sum(i for i, u in zip(query.info[:n], unknown[:n], strict=True) if u) / word_info,
            sum(i for i, u in zip(query.info[n:], unknown[n:], strict=True) if u) / pair_info,
            len(tokens), len(second.missing) if second is not None else 0,
            runner_explained=second.explained if second is not None else 0.0,
            runner_foreign=bool(second.foreign) if second is not None else False,
            top_only=pair[0], runner_only=pair[1], subject_top=pair[2], subject_runner=pair[3],
            overview=not asked and pair[5] >= 0.9 and self._is_overview(top, tokens),
            same_entry_family=pair[4], explained_asked=pair[5], explained_plain=pair[6],
            bare_name=not asking and bool(tokens) and all(
                t in self.normalizer.named_tokens for t in tokens))

    def _named_only_in_answer(self, top: _Scored, tokens: list[str]) -> bool:
        """Whether a question asking nothing but of one named thing (好品山东是个啥) gets an
        entry whose phrasings never name it: the thing is then only mentioned by the
        answer (the expo promotes 好品山东), which tells what the entry's subject is, not
        what the thing is. A question with more words of its own than a name's overview has
        (青岛靠五朵金花得了个什么美誉, 市民能参加啥活动 有没有开放日那种) asks of something else,
        which the phrasings may well name."""
        named = {t for t in tokens if t in self.normalizer.named_tokens}
        if len(named) != 1:
            return False
        own = [t for t in tokens if t not in named and t not in _FUNCTION_CHARS
               and not is_group_token(t)]
        if len(own) > _OVERVIEW_WORDS:
            return False
        number = self._number(next(iter(named)))
        if number < 0:
            return False
        return not bool(self._entry_terms.held([top.hit.key], [_ASKED + number])[0, 0])

    def _gives_figures(self, entry: Entry, checked: dict[str, str]) -> bool:
        """Whether an entry gives a figure of each unit a citizen checks (20个 → a count in 个):
        then it holds the fact they half remember; else the figure asked is not its own."""
        plain = self._plain(entry)
        english = entry.answer.en or ""
        return all(number in plain or (re.search(r"\d\s*" + re.escape(unit), plain) if unit
                                       else re.search(r"\d", english))
                   for number, unit in checked.items())

    def _only_within(self, tokens: list[str], entry: Entry, whole: list[str] | None = None) -> bool:
        """Whether a named thing of the question appears in the entry's answer only inside a
        longer name that means something else: 中国质量奖 only as 中国质量奖提名奖. Asked who won
        Qingdao's one China Quality Award, the nominees are no answer (asked whether 青啤 won
        it, they are: it was nominated). Nominations said anywhere in the question count
        (``whole``: "qingdao got 3 nominations …, who are they" asks who in its last clause)."""
        joined = _NOT_NOMINATED_RE.sub("", "".join(whole or tokens))
        if joined.find("提名") >= 0 or "nominat" in joined:
            return False  # the question asks of the nominations (不是提名 asks of the award)
        named = self.normalizer.named_tokens
        answer = self._answer_tokens(entry)  # English names are the same group tokens
        for t in dict.fromkeys(tokens):
            if t not in named:
                continue
            at = [j for j, a in enumerate(answer) if a == t]
            # 第四届中国质量奖评选中 speaks of the contest, not of who won the award; nor does
            # a count of it (中国质量奖1个) name the winner
            after = ["".join(answer[j + 1:j + 3]) for j in at]
            if at and all(a in _WITHIN or a[:1].isdigit() for a in after) and "提名" in after:
                return True
        return False

    def _derived(self, kind: str, entry: Entry, make: Callable[[Entry], Any]) -> Any:
        """``make(entry)``, computed once per entry and kind: what the per-question checks
        read of an entry (its year-blanked text, its lists of counts, its answer's tokens)
        is the entry's, not the question's."""
        key = (kind, id(entry))
        found = self._derived_of.get(key)
        if found is None:
            found = self._derived_of[key] = make(entry)
        return found

    def _counted(self, entry: Entry) -> str:
        return self._derived("counted", entry, lambda e: aspects.without_years(self._plain(e)))

    def _answer_counts(self, entry: Entry) -> str:
        """The answer alone, years blanked: phrasings say 3个榜单 of what the answer calls 三大榜单."""
        return self._derived("answer_counts", entry, lambda e: aspects.without_years(
            Normalizer.base(e.answer.zh)))

    def _tallies(self, entry: Entry) -> tuple[str, ...]:
        return self._derived("tallies", entry, lambda e: aspects.tallies(e.answer.zh))

    def _answer_tokens(self, entry: Entry) -> list[str]:
        return self._derived("tokens", entry, lambda e: self.normalizer.tokens(e.answer.zh))

    def _seams(self, tokens: list[str]) -> set[str]:
        """Adjacent pairs the knowledge never uses that join two words it does use: 岛老 in
        咱青岛老字号 is where 青岛 meets 老字号, not a new word such as 一等奖's 等奖. Counted
        as unknown, such seams made a rephrased plain question look like an unanswerable one."""
        def word(i: int, j: int) -> bool:  # tokens i and j (adjacent) belong to a known word
            if not 0 <= i < len(tokens) or not 0 <= j < len(tokens):
                return False
            return self._number(tokens[i] + BIGRAM_SEP + tokens[j]) >= 0

        def whole(t: str) -> bool:  # a named thing or a Latin word is a word by itself
            return len(t) > 1 or t in self.normalizer.named_tokens

        out = set()
        for i in range(len(tokens) - 1):
            a, b = tokens[i], tokens[i + 1]
            pair = a + BIGRAM_SEP + b
            if self._number(pair) >= 0:
                continue
            if (whole(a) or word(i - 1, i)) and (whole(b) or word(i + 1, i + 2)):
                out.add(pair)
        return out

    def _elsewhere(self, tokens: list[str], entry: Entry, whole: list[str] | None = None,
                   checked: bool = False) -> bool:
        """Whether the question names another place (上海, Beijing, 全省, 黄岛区) or another year
        (去年, 下一届) that the entry never does: 济南的质量月主题 asks about Jinan's campaign,
        黄岛区有多少个名牌产品 about a district the city's figure does not break down, 去年的
        主题 about 2021's, which a report on Qingdao's 2022 campaign does not tell, however
        alike the words. A place is read in the asking clauses (``tokens``: 我在济南上班，…
        says where the asker is), a time in the whole question (``whole``: 跟去年比，… asks
        of a change since then). A time guessed as the answer is no other time: 到年底还是明年
        offers it as a choice, 品博会是明年5月份办吗 (``checked``: a figure is checked) guesses
        the expo's date."""
        def text_of(words: list[str]) -> str:
            return " ".join("".join(t if len(t) == 1 else f" {t} " for t in words).split())
        asking = text_of(tokens)
        found = {m.group(0) for m in _OTHER_PLACE_RE.finditer(asking)}
        whole_text = text_of(whole or tokens)
        found |= {m.group(0) for m in _OTHER_TIME_RE.finditer(whole_text)
                  if not _time_guessed(whole_text[:m.start()], whole_text[m.end():], checked)}
        plain = self._plain(entry)
        english = (entry.answer.en or "").lower()
        # 全省一共多少家 asks the province's count: an entry naming the province only in
        # Qingdao's share of it (占全省比重超过九分之一) gives none
        counting = self._asks.get("how_many", "\0") in tokens and not _SHARE_RE.search(asking)
        return any((place not in plain and place not in english
                    and _SCOPE_ZH.get(place, place) not in plain) or (
            counting and _OTHER_SCOPE_RE.fullmatch(place) is not None
            and re.search(re.escape(_SCOPE_ZH.get(place, place)) + r"\S{0,6}\d", plain) is None)
            for place in found)

    def _pair_knowledge(self, top: _Scored, second: _Scored | None, query: Query,
                        asking: set[str]
                        ) -> tuple[float, float, float, float, bool, float, float]:
        """(share of the question's information only the best entry knows, share only the
        runner-up knows, share of the question's named things the best entry speaks of, the
        same for the runner-up, whether both speak of every named thing, the share of the
        question the best entry accounts for when the words asking an aspect it tells count
        as known, and that share again with each word weighed by how rare it is among the
        answers (能, 加, 来 are everyday words of the article; a citizen's 能不能参加 is how
        they ask, not what)) — the subject test of "did you mean": a runner-up that knows
        nothing the best does not is no alternative."""
        n = query.words
        terms, info = query.terms[:n], query.info[:n]
        keys = [top.hit.key] + ([second.hit.key] if second is not None else [])
        numbers = [i if i >= 0 else self._answer_only.get(t, -1)
                   for t, i in zip(terms, query.ids[:n], strict=True)]
        held = self._entry_terms.held(keys, numbers + [_ASKED + x if x >= 0 else -1
                                                       for x in numbers])
        known = held[:n] | held[n:]
        total = sum(info) or 1.0
        if second is None:
            known = np.concatenate([known, np.zeros((n, 1), dtype=bool)], axis=1)
        weights = np.asarray(info) if n else np.zeros(0)
        asks = np.array([t in asking for t in terms], dtype=bool)
        # the words asking an aspect (在几月份) are the told features' concern, not the subject's
        top_only = float(weights[known[:, 0] & ~known[:, 1] & ~asks].sum()) / total
        runner_only = float(weights[known[:, 1] & ~known[:, 0] & ~asks].sum()) / total
        explained = float(weights[known[:, 0] | asks].sum()) / total if n else 0.0
        rare = np.array([self._answer_rarity(t, x) for t, x in zip(terms, numbers, strict=True)])
        plain = float(rare[known[:, 0] | asks].sum()) / (float(rare.sum()) or 1.0) if n else 0.0
        named = [i for i, t in enumerate(terms) if t in self.normalizer.named_tokens]
        if not named:
            return top_only, runner_only, 0.0, 0.0, False, explained, plain
        a, b = known[named, 0], known[named, 1]
        return (top_only, runner_only, float(a.mean()), float(b.mean()), bool(a.all() and b.all()),
                explained, plain)

    def _answer_rarity(self, term: str, number: int) -> float:
        """How rare a word is among the answers (log of answers per answer using it); a
        named thing or question word counts as rare as a word no answer uses."""
        if term in self._named or number < 0:
            return self._rarest
        return math.log((self._answers + 1) / (self._answer_df.get(number, 0) + 1))

    def _overview_first(self, ranked: list[_Scored], tokens: list[str]) -> list[_Scored]:
        """A question that asks nothing specific of a named thing (品博会, 品博会是什么) gets
        the thing's overview first when it is among the first few, not the entry whose
        phrasing happens to be closest (its date)."""
        names = [t for t in dict.fromkeys(tokens) if t in self.normalizer.named_tokens]
        asked_words = self.normalizer.question_tokens
        own = [t for t in tokens if t not in names and t not in asked_words
               and t not in _FUNCTION_CHARS]
        if len(names) != 1 or len(own) > _OVERVIEW_WORDS:
            return ranked  # 办品博会是想把青岛打造成啥 asks something of it, in words of its own
        overview = self._overview(names[0])
        for i, r in enumerate(ranked[1:DEPTH], start=1):
            if r.entry is overview and ranked[0].score - r.score <= _OVERVIEW_WITHIN:
                return [r, *ranked[:i], *ranked[i + 1:]]
        return ranked

    def _is_overview(self, top: _Scored, tokens: list[str]) -> bool:
        """Whether the best entry is the overview of a named thing the question names."""
        return any(self._overview(t) is top.entry
                   for t in dict.fromkeys(tokens) if t in self.normalizer.named_tokens)

    def decide(self, ranked: list[_Scored], lang: str, tokens: list[str] | None = None,
               asked: frozenset[str] = frozenset(),
               asking: dict[str, str] | None = None, core: list[str] | None = None,
               checked: dict[str, str] | None = None) -> Reply:
        t = self.thresholds
        top = ranked[0] if ranked else None
        fitted = self.decision is not None and tokens is not None and self.judge is None
        if top is not None and fitted:
            signals = self.signals(ranked, tokens, asked, asking, core, checked)  # type: ignore[arg-type]
            if self.decision.answers(signals):  # type: ignore[union-attr]
                return self._answer(top.entry, top.score, lang)
            about = self._lacking(ranked, tokens) if asked else None
            if about is not None:
                return self._not_in_source(about, ranked, tokens, lang)
        if top is None or top.score < t.clarify or top.explained < t.clarify_explained:
            score = top.score if top else 0.0
            return Reply(Status.FALLBACK, self.message("fallback", lang), lang, score=float(score))
        runner_up = ranked[1].score if len(ranked) > 1 else 0.0
        if fitted:
            sure = False
        elif top.confidence is not None and self.judge is not None:
            sure = top.confidence >= self.judge.threshold
        else:
            sure = (top.score >= t.answer and top.score - runner_up >= t.margin
                    and top.explained >= t.explained and not top.foreign)
        if sure:
            return self._answer(top.entry, top.score, lang)
        close = [r for r in ranked[:3] if r.score >= t.clarify
                 and top.score - r.score <= t.suggest_within]
        return Reply(Status.CLARIFY, self.message("clarify", lang), lang,
                     entry_id=None, score=float(top.score),
                     suggestions=tuple(self.suggestion(r.entry, lang) for r in close))

    def _shared_names(self, top: _Scored, tokens: list[str]) -> list[str]:
        """Named things (品博会, NQI …) of the question that the entry speaks of."""
        named = [t for t in dict.fromkeys(tokens) if t in self.normalizer.named_tokens]
        if not named:
            return []
        ids = [self._number(t) for t in named]
        held = self._entry_terms.held([top.hit.key], ids + [_ASKED + i if i >= 0 else -1
                                                           for i in ids])
        return [t for j, t in enumerate(named) if held[j, 0] or held[len(ids) + j, 0]]

    def _subject_known(self, top: _Scored, tokens: list[str]) -> bool:
        """Whether the question is about the entry's subject (only its aspect is missing): it
        speaks of a named thing asked, or, when none is named, most of a phrasing was asked.
        An entry on another named thing is not (质量月每年都办吗 is no question on the expo's
        yearly ambition, though most of its phrasing's words were asked)."""
        if self._shared_names(top, tokens):
            return True
        return (top.hit.phrasing_cover >= 0.6 and top.explained >= 0.5
                and not any(t in self.normalizer.named_tokens for t in tokens))

    def _overview(self, name: str) -> Entry | None:
        """The entry that says what a named thing is: most of its phrasings name it and ask
        "what is" (品博会是什么); found once per name."""
        if name not in self._overviews:
            entries, keys = self.knowledge.entries, self.index.keys
            counts: dict[int, int] = {}
            for doc in self.index.docs_with(name).tolist():  # the phrasings naming it only
                key = int(keys[doc])
                entry = entries[key]
                nth = doc - int(np.searchsorted(keys, key))
                phrasing = (*entry.questions.zh, *entry.questions.en)[nth]
                if "what" in aspects.asked(phrasing):
                    counts[key] = counts.get(key, 0) + 1
            best = max(counts, key=lambda k: (counts[k], -k)) if counts else None
            self._overviews[name] = None if best is None else entries[best]
        return self._overviews[name]

    def _lacking(self, ranked: list[_Scored], tokens: list[str]) -> _Scored | None:
        """The best entry on the question's subject when it lacks what is asked (the expo's
        ticket price); None when it tells it, or when no entry near the top is on the subject.
        (The re-ranking has already put an entry of the subject that tells it first.)"""
        at = next((i for i, r in enumerate(ranked[:DEPTH]) if self._subject_known(r, tokens)), None)
        if at is None:
            return None
        first = ranked[at]
        named = any(t in self.normalizer.named_tokens for t in tokens)
        if any(not r.missing and (r.explained >= first.explained - _TELLER_EXPLAINED if i < at
                                  else r.score >= first.score - _TELLER_WITHIN)
               and (not named or self._shared_names(r, tokens))
               for i, r in enumerate(ranked[:DEPTH]) if i != at):
            return None  # one near it, on the same things, tells all that is asked: "did you mean"
        return first if first.missing and _PART not in first.missing else None

    def _not_in_source(self, top: _Scored, ranked: list[_Scored], tokens: list[str],
                       lang: str) -> Reply:
        """"报道没有提到品博会的门票价格。关于品博会，报道提到：……" with the subject's question
        (its overview when one is near the top) as a button."""
        # a question-word group ([哪些, 有哪些]) counts as named for the decision, but it is
        # no subject to name: "报道没有提到哪些的完整名单" reads as nonsense
        names = [n for n in self._shared_names(top, tokens)
                 if not aspects.asked(self._names.get(n, [""])[0])]
        group = self._names.get(names[0], []) if names else []
        entry = (self._overview(names[0]) if names else None) or top.entry
        detail = aspects.label(sorted(top.missing, key=aspects.ASPECTS.index)[0],
                               "en" if lang == "en" else "zh")
        if lang == "en" and entry.answer.en:
            latin = [v for v in group if v.isascii()]
            name = latin[0] if latin else ""
            subject = (name if name.isupper() else "the " + name.title()) if name else "this"
            said = _first_sentence(entry.answer.en)
        else:
            lang = lang if lang != "en" else "zh"
            subject = group[0] if group else _common(Normalizer.base(" ".join(tokens)) if not
                                                     group else "", entry) or "这一点"
            said = _first_sentence(self._answer_script(entry, lang))  # converted once per entry
        # filled in simplified, then put in the asker's script once (each piece on its own
        # was four conversions, a tenth of the whole question); the quoted sentence last
        text = say("detail_not_in_source", lang, self.knowledge.smalltalk.messages,
                   subject=subject, detail=detail, max_chars=MAX_QUESTION_CHARS
                   ).replace("{said}", said)
        return Reply(Status.FALLBACK, text, lang, kind="detail_not_in_source",
                     score=float(top.score), suggestions=(self.suggestion(entry, lang),))

    # ------------------------------------------------------------------ building replies

    def _answer(self, entry: Entry, score: float, lang: str) -> Reply:
        if lang == "en" and entry.answer.en:
            text = entry.answer.en
        else:
            lang = lang if lang != "en" else "zh"
            text = self._answer_script(entry, lang)
        notes = [self._date_note(d.when, d.what, lang) for d in entry.dates]
        if notes:
            text = text + "\n" + "\n".join(notes)
        related = tuple(self.suggestion(self.knowledge.by_id[r], lang)
                        for r in entry.related[:3] if r in self.knowledge.by_id)
        links = tuple(Link(self._script(x.title, lang), x.url) for x in entry.links)
        return Reply(Status.ANSWER, text, lang, entry_id=entry.id, score=float(score), links=links,
                     suggestions=related)

    def _answer_script(self, entry: Entry, lang: str) -> str:
        """``_script(entry.answer.zh, lang)``, the traditional form converted once per entry
        (a long answer's conversion was a tenth of answering in traditional script)."""
        if lang != "zh-hant":
            return entry.answer.zh
        key = id(entry)
        found = self._hant.get(key)
        if found is None:
            found = self._hant[key] = to_traditional(entry.answer.zh)
        return found

    def suggestion(self, entry: Entry, lang: str) -> Suggestion:
        if lang == "en" and entry.questions.en:
            return Suggestion(entry.id, entry.questions.en[0])
        if lang == "zh-hant":  # converted once per entry, as its answer is
            key = id(entry)
            found = self._hant_questions.get(key)
            if found is None:
                found = self._hant_questions[key] = to_traditional(entry.questions.zh[0])
            return Suggestion(entry.id, found)
        return Suggestion(entry.id, entry.questions.zh[0])

    def _message(self, name: str, lang: str) -> Reply:
        return Reply(Status.FALLBACK, self.message(name, lang), lang, kind=name)

    @staticmethod
    def _script(text: str, lang: str) -> str:
        return to_traditional(text) if lang == "zh-hant" else text

    def _date_note(self, when: When, what: Any, lang: str) -> str:
        return date_note(when, what, lang, self.clock())

    # ------------------------------------------------------------------ small talk

    @staticmethod
    def _smalltalk_key(text: str) -> str:
        return _PARTICLES.sub("", Normalizer.base(text).replace(" ", ""))

    def _match_smalltalk(self, text: str) -> Callable[[str], Reply] | None:
        key = self._smalltalk_key(text)
        intent = self._smalltalk.get(key)
        if intent is None:
            return None

        def reply(lang: str) -> Reply:
            body = intent.reply.en if lang == "en" and intent.reply.en else \
                self._script(intent.reply.zh, lang if lang != "en" else "zh")
            return Reply(Status.ANSWER, body, lang, kind=intent.id)

        return reply


# Other cities of China (general knowledge, not the report's): a question about one of them
# is not answered by a Qingdao entry that never names it.
_OTHER_CITY_RE = re.compile(
    "北京|上海|天津|重庆|广州|深圳|杭州|南京|苏州|武汉|成都|西安|济南|烟台|潍坊|威海|淄博|临沂|"
    "济宁|泰安|日照|东营|德州|聊城|滨州|菏泽|枣庄|大连|沈阳|哈尔滨|长春|郑州|合肥|福州|厦门|长沙|"
    "南昌|昆明|贵阳|南宁|海口|兰州|太原|石家庄|乌鲁木齐|宁波|无锡|义乌|香港|澳门|台北|"
    r"\b(?:beijing|shanghai|tianjin|chongqing|guangzhou|shenzhen|hangzhou|nanjing|suzhou|wuhan|"
    r"chengdu|xian|jinan|yantai|weifang|weihai|zibo|dalian|shenyang|harbin|zhengzhou|hefei|"
    r"xiamen|changsha|kunming|ningbo|hong kong|macau|taipei)\b")
# who asked the asker (老伴儿问我…, 客人问我说…), not 请问我… or 我想问我们…
_ASKED_ME_RE = re.compile(r"^[^，,。？?！!\s]{1,6}?(?<![请想])问(?:我|俺|咱)(?!们)(?:说)?[，,:：]?\s*")
_CHOICE_BEFORE_RE = re.compile(r"(?:还是|或者?|或是)\s*$")
_GUESS_BEFORE_RE = re.compile(r"(?:是|在)\s*$")
_DATE_AFTER_RE = re.compile(r"^\s*[\d\ue000-\uf8ff]")  # 明年5月, 明年五月份 (a question word's token)


def _time_guessed(before: str, after: str, checked: bool) -> bool:
    """Whether a time word is the answer guessed (see Engine._elsewhere): offered as a
    choice, or the year of a date a citizen checks (是明年5月吗; the words of the check are
    gone from the tokens)."""
    return bool(_CHOICE_BEFORE_RE.search(before) or (
        checked and (_GUESS_BEFORE_RE.search(before) or _DATE_AFTER_RE.search(after))))


# 去年的主题, 下一届: a year or edition the report, of 2022's campaign, never speaks of
# (not the 后年 of 以后年年办吗: "from now on, every year")
_OTHER_TIME_RE = re.compile(r"去年|(?<![以之])前年|明年|(?<![以之然])后年|往年|往届|上届|下届|上一届|下一届|"
                            r"\b(?:last year|next year|previous year|the year before|"
                            r"(?:last|next|previous) edition)\b")
# the province or country as a whole, or one district: the report counts the city's
_OTHER_SCOPE_RE = re.compile(
    "全省|全山东|山东全省|山东省内|全国(?=一共|总共|共有|有多少|有几)|"
    "黄岛|西海岸新区|市南区|市北区|李沧|崂山区|即墨|胶州|平度|莱西|"
    r"\b(?:the whole province|all of shandong|across shandong|nationwide|huangdao)\b")
# "nationwide" is what an answer saying 全国 speaks of, though its English says "national"
_SCOPE_ZH = {"nationwide": "全国", "the whole province": "全省", "all of shandong": "全省",
             "across shandong": "全省", "huangdao": "黄岛"}
_SHARE_RE = re.compile("比重|比例|占|几分之|百分之|share|percent|proportion")
_OTHER_PLACE_RE = re.compile(f"{_OTHER_CITY_RE.pattern}|{_OTHER_SCOPE_RE.pattern}")
# A message asking two things: its parts end in question marks, or an English "…, and will …"
_PARTS_RE = re.compile(r"(?<=[？?])|[，,]?\s+and\s+(?=(?:will|is|are|was|were|what|how|when|"
                       r"where|who|which|does|do|did|can|has|have)\b)", re.IGNORECASE)
# 是在市南区吗, 是十二月吧: a guess at the answer, said after the question
_GUESS_RE = re.compile(r"\s*(?:是不是|就是|应该是|不会是|是)在?[^，,。？?！!\s]{1,8}?(?:吗|吧|嘛|么)"
                       r"[？?。！!，,\s]*")
# …in qingdao? i think around 100?: a figure guessed after the question
_EN_GUESS_RE = re.compile(r"\s*(?:(?:i think|i guess|maybe|probably|perhaps)\s+)?"
                          r"(?:(?:it'?s|it is|is it)\s+)?"
                          r"(?:(?:like|about|around|roughly|over|more than)\s+)?\d[\d,.]*(?:\s+[a-z]+)?"
                          r"\s*[?？.!]*\s*", re.IGNORECASE)
# 我们老百姓能参加啥质量活动不: a question word asks, though no aspect's words do
_A_FEW = f"(?<![{aspects.A_FEW_AFTER}])"  # 带几个朋友 says "a few"
_WH_WORD_RE = re.compile(f"什么|啥|哪|谁|{_A_FEW}几|多少|怎么|如何|咩|乜")
_QUESTION_WORD_RE = re.compile(rf"[？?]|吗|什么|啥|哪|谁|{_A_FEW}几|多少|怎么|如何|咩|乜|边|还是|"
                               r"[是对]吧|在那[里儿](?=\S*的)|"
                               r"\b(?:what|how|when|where|who|which|why|will|is|are|does|do|did|can)\b",
                               re.IGNORECASE)
_TWO_PARTS_UP_TO = 120  # characters: longer messages tell a story around one question
_TWO_PARTS_UP_TO_ZH = 45  # in Chinese, where a character says what an English word does
# a part the answer's entry accounts for less than 0.6 of (English "how … will the … be" is
# half of any English phrasing), and another entry for 0.3 more
_PART_EXPLAINED, _PART_LEAD = 0.6, 0.3
_PART_FILLERS = frozenset("的了吗呢啊吧是")
# 给孩子出算术题用：… sets a scene before its colon, as a comma does
# 老字号有几个 中华老字号那种: a space between Chinese words is where a typist's clause ends
_SPACED_RE = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
# 线上还是线下, 对吗: a last clause that asks with no detail's words
_CHOICE_RE = re.compile(r"还是|還是|吗|嗎|呢|么|\bor\b|[?？]", re.IGNORECASE)
_BELIEF_ONLY_RE = re.compile(r"(?:是不是真的|真的假的|是真的吗|真的吗|对吗|对吧|是吗|是吧|对不对|对不|没错吧|"
                             r"真假|是不是|真不真|是这个数字?吗)[啊呀呢哈嘛]?")
_CLAUSE_RE = re.compile(r"[^，,。！!；;？?…：]+[，,。！!；;？?…：]*")
# a clause naming a topic (做质量主题手抄报) asks "what" only with a question word
_WHAT_WORD_RE = re.compile(r"什么|啥|咩|乜|what", re.IGNORECASE)
# a parent's or a pupil's errand is the asker's story too (孩子手抄报要写…, 作业要写…)
_ABOUT_ME_RE = re.compile(r"^\s*(?:我|咱|俺|本人|孩子|小孩|给孩子|帮孩子|跟孩子|家里|作业|老师布置)")
# 我听说活动最后是青岛日报社的一位领导上台讲的: what the asker heard is the question's matter
# (我孙子说…, 有人说…: a relative's word too, but not 说明 or 说法)
_HEARSAY_RE = re.compile(r"^\s*\S{0,6}?(?:听说|听人说|听[^，,。]{1,4}说|据说|看到|看报道|记得|读到|"
                         r"(?<=\S)说(?![明法服话]))")


# the words quoted, then what is asked of them: 后面那句, 下一句, 后半句, 前面那半句
_NEXT_LINE_RE = re.compile(r"([\u4e00-\u9fff]{2,12})(?:这句|那句|这句话)?(?:的)?"
                           r"(后面|后边|后半|下一句|下半句|下句|前面|前半|上一句|上句)")
_NEXT_LINE_MARK_RE = re.compile("[后後][面边邊半]|[上下]一?句|下半句|前[面半]")  # in either script
_LINE_AT_LEAST = 3  # characters: 标准 alone is in many answers
# what an answer quotes: “人人重视质量、人人关注质量…”, or 报道写道：速度有极限，质量无止境。
_QUOTATION_RE = re.compile(r"[“「]([^”」]{4,60})[”」]|(?:写道|说|表示)[：:]([^。；]{4,60})")
_CJK_CHAR_RE = re.compile("[\u4e00-\u9fff]")


def _repairs_a_place(base: list[str], fixed: list[str]) -> bool:
    """Whether spelling repair changed the name of another city or district."""
    typed = detokenize(base)
    return any(m.group(0) not in detokenize(fixed) for m in _OTHER_PLACE_RE.finditer(typed))


def _asks(clause: str) -> bool:
    """Whether a clause asks something: an aspect's words, though "what" only with a question
    word (主题, 内容 and 介绍 also name what a scene is about)."""
    if aspects.asks_detail(clause):
        return True
    return bool(_WHAT_WORD_RE.search(clause)) and "what" in aspects.asked(clause)


def date_note(when: When, what: Any, lang: str, now: datetime) -> str:
    """'首届品博会：2022年12月（已过去）' — said relative to the moment of answering."""
    now = now.astimezone(TZ)
    en = lang == "en"
    if en:
        label = (what.en or what.zh) if what else say("date.label", lang)
        label = label[:1].upper() + label[1:]
    else:
        label = what.zh if what else say("date.label", "zh")  # say() below gives the script
    m = when.moment
    if when.yearly:
        this_year = m.replace(year=now.year)
        if this_year.date() < now.date():
            this_year = m.replace(year=now.year + 1)
        days = (this_year.date() - now.date()).days
        on = _en_date(this_year, "day") if en else f"{this_year.year}年{m.month}月{m.day}日"
        state = say("date.today", lang) if days == 0 else say("date.next", lang, on=on, days=days)
        day = f"{m.strftime('%B')} {m.day}" if en else f"{m.month}月{m.day}日"
        return say("date.yearly", lang, label=label, day=day, state=state)
    keys = {"year": lambda d: (d.year,), "month": lambda d: (d.year, d.month),
            "day": lambda d: (d.year, d.month, d.day), "minute": lambda d: (d.year, d.month, d.day)}
    key = keys[when.precision]
    if key(m) < key(now):
        relation = say("date.past", lang)
    elif key(m) == key(now):
        relation = say({"year": "date.this_year", "month": "date.this_month"}.get(
            when.precision, "date.today_once"), lang)
    else:
        relation = say("date.in_days", lang, days=(m.date() - now.date()).days)
    on = _en_date(m, when.precision) if en else _zh_date(m, when.precision)
    return say("date.note", lang, label=label, on=on, relation=relation)


def _zh_date(m: datetime, precision: str) -> str:
    text = f"{m.year}年"
    if precision != "year":
        text += f"{m.month}月"
    if precision in ("day", "minute"):
        text += f"{m.day}日"
    if precision == "minute":
        text += f"{m.hour}时" + (f"{m.minute}分" if m.minute else "")
    return text


def _en_date(m: datetime, precision: str) -> str:
    return {"year": f"{m.year}", "month": m.strftime("%B %Y"),
            "day": f"{m.day} {m.strftime('%B %Y')}",
            "minute": f"{m.day} {m.strftime('%B %Y')}, {m.strftime('%H:%M')}"}[precision]


def _rescored(r: _Scored, score: float, missing: frozenset[str]) -> _Scored:
    """``replace(r, score=score, missing=missing)``, without dataclasses.replace's cost (it
    was a third of the re-ranking): every field copied, these two set."""
    new = object.__new__(_Scored)
    new.__dict__.update(r.__dict__)
    new.score, new.missing = score, missing
    return new


def _sums(held: np.ndarray, weights: list[float]) -> np.ndarray:
    """For each column, the sum of the weights of the rows it holds, added in row order as
    Python's sum() over the question's terms did (cumsum adds in order), so that scores stay
    the same to the last bit."""
    if not len(weights):
        return np.zeros(held.shape[1])
    return np.where(held, np.asarray(weights)[:, None], 0.0).cumsum(axis=0)[-1]


def _common(question: str, entry: Entry) -> str:
    """The longest run of Chinese characters (2 or more) that the question shares with the
    entry's answer or phrasings: its subject when no synonym names it (高善武)."""
    text = " ".join((entry.answer.zh, *entry.questions.zh))
    for words in aspects.spans(question).values():  # 之前在哪个单位工作 asks; 袁瑛政 is asked of
        for word in words.split():
            question = question.replace(word, " ")
    # where the run of Chinese characters from each place ends: a piece is all Chinese when
    # it ends within its start's run (testing each piece's characters made this quadratic
    # in the question's length times the piece's)
    n = len(question)
    run_end = [n] * (n + 1)
    for k in range(n - 1, -1, -1):
        run_end[k] = run_end[k + 1] if "\u4e00" <= question[k] <= "\u9fff" else k
    best = ""
    for i in range(n):
        for j in range(i + len(best) + 1, n + 1):
            piece = question[i:j]
            if j > run_end[i] or piece not in text:
                break
            best = piece
    best = best.rstrip("是的了在")  # 袁瑛政是 (in "袁瑛政是……主任") names 袁瑛政
    return best if len(best) >= 2 else ""


def _first_sentence(text: str) -> str:
    """The answer's first sentence: what the honest reply quotes of it."""
    parts = [p for p in _SENTENCE_END.split(text.strip()) if p.strip()]
    return parts[0].strip() if parts else text


def _corpus(knowledge: Knowledge) -> list[str]:
    """Every text of the knowledge (phrasings and answers), which synonym variants must not
    collide with (中国质量 is a part of 中国质量月, so not a variant of 中国质量奖)."""
    out = []
    for e in knowledge.entries:
        out.extend((*e.questions.zh, *e.questions.en, e.answer.zh, e.answer.en or ""))
    return out


def _preferred(lang: str | None) -> str:
    return lang if lang in ("zh", "zh-hant", "en") else "zh"


__all__ = ["Action", "Engine", "Link", "Reply", "Status", "Suggestion", "Thresholds", "date_note"]
