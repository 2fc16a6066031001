"""Retrieval: an inverted index over characters and character pairs, then rapidfuzz to rank.

Why this shape (measured in ``benchmarks/``): BM25 over single characters and pairs finds the
right phrasing among the top candidates far more often than a plain fuzzy scan, and costs a
few array operations per query whatever the size of the knowledge. The final score mixes how
much of the *question* the phrasing covers (unmatched rare words, such as 开门 in "品博会几点
开门", pull it down) with how much of the *phrasing* the question covers and a character-level
fuzzy ratio, which gives a confidence that can be compared against fixed thresholds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from bot.text import BIGRAM_SEP, char_pinyin, features, is_cjk_token, segment_pinyin


@dataclass(frozen=True)
class Weights:
    """How the final score (0–100) is made; fitted in ``benchmarks/bench_external.py``."""

    question_cover: float = 0.30
    phrasing_cover: float = 0.30
    fuzzy: float = 0.40
    pair: float = 0.3  # weight of a character pair relative to a single character
    question_word: float = 4.5  # least weight of a question word (when, where, how many)
    answer_cover: float = 0.10  # share from the question's words found in the answer
    foreign: float = 0.3  # score lost by an entry that lacks a number or named thing asked about
    entry_cover: float = 0.30  # share from the question's words found anywhere in the entry
    k1: float = 1.2
    b: float = 0.75


@dataclass(frozen=True)
class Hit:
    doc: int
    key: int
    score: float
    question_cover: float
    phrasing_cover: float
    fuzzy: float


class Index:
    """Phrasings (token lists) → candidates for a question, each tagged with its owner ``key``."""

    def __init__(self, docs: Sequence[Sequence[str]], keys: Sequence[int],
                 weights: Weights | None = None, boost: frozenset[str] = frozenset()) -> None:
        self.weights = weights or Weights()
        self.keys = np.asarray(keys, dtype=np.int32)
        self.texts = [" ".join(tokens) for tokens in docs]
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths = np.zeros(len(docs), dtype=np.float32)
        for doc_id, tokens in enumerate(docs):
            counts: dict[str, int] = {}
            for term in features(tokens):
                counts[term] = counts.get(term, 0) + 1
            lengths[doc_id] = sum(counts.values())
            for term, tf in counts.items():
                postings[term].append((doc_id, tf))
        n = max(len(docs), 1)
        avgdl = float(lengths.mean()) if len(docs) else 1.0
        k1, b = self.weights.k1, self.weights.b
        norm = k1 * (1 - b + b * lengths / max(avgdl, 1e-9))
        self.term_ids: dict[str, int] = {}
        self.idf = np.zeros(len(postings), dtype=np.float32)
        self.df = np.zeros(len(postings), dtype=np.int32)
        self._docs: list[np.ndarray] = []
        self._tf: list[np.ndarray] = []
        doc_info = np.zeros(len(docs), dtype=np.float64)
        for term_id, (term, plist) in enumerate(postings.items()):
            self.term_ids[term] = term_id
            ids = np.fromiter((d for d, _ in plist), dtype=np.int32, count=len(plist))
            tfs = np.fromiter((t for _, t in plist), dtype=np.float32, count=len(plist))
            idf = math.log(1 + (n - len(plist) + 0.5) / (len(plist) + 0.5))
            if BIGRAM_SEP in term:
                idf *= self.weights.pair
            elif term in boost:  # frequent, yet it tells apart entries on one topic
                idf = max(idf, self.weights.question_word)
            self.idf[term_id] = idf
            self.df[term_id] = len(plist)
            self._docs.append(ids)
            self._tf.append((tfs * (k1 + 1) / (tfs + norm[ids])).astype(np.float32))
            np.add.at(doc_info, ids, idf)
        self.doc_info = doc_info
        self.unknown_idf = math.log(1 + (n + 0.5) / 0.5)
        self.size = len(docs)

    def information(self, terms: Sequence[str]) -> list[float]:
        """How much each term tells (IDF; an unknown term tells the most)."""
        out = []
        for term in terms:
            term_id = self.term_ids.get(term)
            if term_id is not None:
                out.append(float(self.idf[term_id]))
            else:
                out.append(self.unknown_idf * (self.weights.pair if BIGRAM_SEP in term else 1.0))
        return out

    def search(self, tokens: Sequence[str], limit: int = 30) -> list[Hit]:
        """The best phrasings for the question's tokens, best first."""
        if not tokens or not self.size:
            return []
        terms = list(dict.fromkeys(features(tokens)))
        known = [self.term_ids[t] for t in terms if t in self.term_ids]
        if not known:
            return []
        question_info = sum(self.information(terms))
        ids = np.concatenate([self._docs[k] for k in known])
        idf = np.concatenate([np.full(len(self._docs[k]), self.idf[k]) for k in known])
        tfpart = np.concatenate([self._tf[k] for k in known])
        bm25 = np.bincount(ids, weights=idf * tfpart, minlength=self.size)
        matched = np.bincount(ids, weights=idf, minlength=self.size)
        touched = np.flatnonzero(bm25)
        if len(touched) > limit:
            touched = touched[np.argpartition(-bm25[touched], limit)[:limit]]
        text = " ".join(tokens)
        w = self.weights
        hits = []
        for doc in touched.tolist():
            q_cover = min(matched[doc] / question_info, 1.0)
            p_cover = min(matched[doc] / max(self.doc_info[doc], 1e-9), 1.0)
            ratio = fuzz.token_sort_ratio(text, self.texts[doc]) / 100
            score = 100 * (w.question_cover * q_cover + w.phrasing_cover * p_cover
                           + w.fuzzy * ratio)
            hits.append(Hit(doc, int(self.keys[doc]), score, q_cover, p_cover, ratio))
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits


class Speller:
    """Fixes what people really type, using only words the knowledge itself contains.

    - a pinyin-IME homophone (品搏会, 质量越, 一站是, 五多金花): a pair of characters that the
      knowledge never uses but whose pinyin matches a pair it does use, differing in one place;
    - pinyin typed in Latin letters (pinbohui): split into syllables, each turned into the
      character the knowledge uses for it in that neighbourhood;
    - an English word the knowledge does not know: the closest word it knows (ratio ≥ 80).
    """

    def __init__(self, docs: Iterable[Sequence[str]]) -> None:
        counts: dict[str, int] = defaultdict(int)
        for tokens in docs:
            for term in set(features(tokens)):
                counts[term] += 1
        self._known = counts
        self._words = [t for t in counts if t.isascii() and t.isalpha() and len(t) > 1]
        self._pairs: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
        self._chars: dict[str, list[tuple[int, str]]] = {}

    def _phonetic_maps(self) -> None:
        """Pinyin of every known character and pair, built on the first question that needs it."""
        if self._chars:
            return
        pairs: dict[tuple[str, str], list[tuple[int, str, str]]] = defaultdict(list)
        chars: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for term, df in self._known.items():
            if BIGRAM_SEP in term:
                a, b = term.split(BIGRAM_SEP)
                if _phonetic(a) and _phonetic(b):
                    pairs[(char_pinyin(a), char_pinyin(b))].append((df, a, b))
            elif is_cjk_token(term):
                chars[char_pinyin(term)].append((df, term))
        for options in (*pairs.values(), *chars.values()):
            options.sort(reverse=True)
        self._pairs, self._chars = dict(pairs), dict(chars)

    def correct(self, tokens: Sequence[str]) -> tuple[list[str], bool]:
        """The repaired tokens, and whether any Latin word was read as pinyin."""
        out: list[str] = []
        pinyin = False
        for token in tokens:
            if token.isascii() and token.isalpha() and token not in self._known:
                fixed = self._latin(token)
                pinyin = pinyin or (fixed != [token] and is_cjk_token(fixed[0]))
                out.extend(fixed)
            else:
                out.append(token)
        return self._homophones(out), pinyin

    def _latin(self, word: str) -> list[str]:
        if len(word) >= 4 and self._words:
            found = process.extractOne(word, self._words, scorer=fuzz.ratio, score_cutoff=85)
            if found:
                return [found[0]]
        if len(word) < 2:
            return [word]
        self._phonetic_maps()
        syllables = segment_pinyin(word, set(self._chars))
        if syllables:
            return self._pinyin_to_chars(syllables)
        return [word]

    def _pinyin_to_chars(self, syllables: list[str]) -> list[str]:
        chars: list[str] = []
        for i, syllable in enumerate(syllables):
            prev = chars[-1] if chars else None
            nxt = syllables[i + 1] if i + 1 < len(syllables) else None
            choice = None
            if prev is not None:
                choice = next((b for _, a, b in self._pairs.get((char_pinyin(prev), syllable), [])
                               if a == prev), None)
            if choice is None and nxt is not None:
                pairs = self._pairs.get((syllable, nxt))
                choice = pairs[0][1] if pairs else None
            if choice is None:
                choice = self._chars[syllable][0][1]
            chars.append(choice)
        return chars

    def _homophones(self, tokens: list[str]) -> list[str]:
        """Swap one character of an unknown pair for a homophone that makes it known.

        The swap must also be confirmed by the character's other neighbour (or the character
        must be one the knowledge never uses), so that ordinary words the knowledge lacks
        (你好, 那个) are left alone.
        """
        known = self._known
        for i in range(len(tokens) - 1):
            a, b = tokens[i], tokens[i + 1]
            if not (_phonetic(a) and _phonetic(b)) or a + BIGRAM_SEP + b in known:
                continue
            self._phonetic_maps()
            for _, ka, kb in self._pairs.get((char_pinyin(a), char_pinyin(b)), []):
                if _same(a, ka) and self._confirmed(tokens, i + 1, kb, right=True):
                    tokens[i], tokens[i + 1] = ka, kb
                    break
                if _same(b, kb) and self._confirmed(tokens, i, ka, right=False):
                    tokens[i], tokens[i + 1] = ka, kb
                    break
        return tokens

    def _confirmed(self, tokens: list[str], at: int, new: str, right: bool) -> bool:
        if tokens[at] not in self._known:
            return True
        other = at + 1 if right else at - 1
        if not 0 <= other < len(tokens):
            return False
        pair = new + BIGRAM_SEP + tokens[other] if right else tokens[other] + BIGRAM_SEP + new
        return pair in self._known


def _phonetic(token: str) -> bool:
    return is_cjk_token(token) or (len(token) == 1 and token.isdigit())


def _same(a: str, b: str) -> bool:
    """Equal, or a Chinese numeral and the digit it reads as (五 and 5)."""
    return a == b or ((a.isdigit() or b.isdigit()) and char_pinyin(a) == char_pinyin(b))
