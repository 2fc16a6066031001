"""Retrieval: an inverted index over characters and character pairs, then rapidfuzz to rank.

Why this shape (measured in ``benchmarks/``): BM25 over single characters and pairs finds the
right phrasing among the top candidates far more often than a plain fuzzy scan, and costs a
few array operations per query whatever the size of the knowledge. The final score mixes how
much of the *question* the phrasing covers (unmatched rare words, such as 开门 in "品博会几点
开门", pull it down) with how much of the *phrasing* the question covers and a character-level
fuzzy ratio, which gives a confidence that can be compared against fixed thresholds.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import product
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz, process

from bot.text import BIGRAM_SEP, char_pinyin, char_readings, features, is_cjk_token, segment_pinyin


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


class Query(NamedTuple):
    text: str  # the tokens, space-separated, for the fuzzy ratio
    terms: list[str]  # distinct features: the distinct tokens first, then the pairs
    ids: list[int]  # each term's number in the index, -1 if it has none
    info: list[float]  # how much each term tells (Index.information)
    words: int  # how many of the terms are tokens


class Hit(NamedTuple):  # a tuple: 30 of them per question, built several times faster
    doc: int
    key: int
    score: float
    question_cover: float
    phrasing_cover: float
    fuzzy: float


_SLICE_DOCS = 16_384  # phrasings handled at a time while building the index
SEED_POSTINGS = 4  # × limit: postings of the rarest terms that set the search's floor


@dataclass
class Features:
    """``features()`` of many token lists, as integers: no string per pair, no list per doc.

    Term numbers follow first occurrence, exactly as handing them out while walking
    ``features(doc)`` doc after doc would. Building 100k phrasings' features as strings took
    seconds and hundreds of megabytes.
    """

    tokens: list[str]  # distinct tokens, by number (first occurrence)
    terms: list[str]  # distinct terms (tokens and pairs), by number
    token_term: np.ndarray  # (tokens,) the term number of each token
    token: np.ndarray  # token number of every token occurrence, doc after doc
    term: np.ndarray  # term number of every feature occurrence: all tokens', then all pairs'
    doc: np.ndarray  # the doc of each of those feature occurrences
    token_counts: np.ndarray  # (docs,) tokens per doc
    term_counts: np.ndarray  # (docs,) features per doc


def count_features(docs: Iterable[Sequence[str]]) -> Features:
    """The features of ``docs`` as integers (see :class:`Features`)."""
    tokens, token, token_counts = _number_tokens(docs)
    base = len(tokens)  # a pair (a, b) is the integer a × base + b
    pair_counts = np.maximum(token_counts - 1, 0)
    token_doc, pair_doc = _owners(token_counts), _owners(pair_counts)
    pair_values, pair_number, pair_first = _number_by_value(_pair_codes(token, token_counts, base))
    order = _by_first_occurrence(token, token_doc, pair_first, pair_doc)
    renumber = np.empty(len(order), dtype=np.int32)  # tokens, then pairs → term number
    renumber[order] = np.arange(len(order), dtype=np.int32)
    terms = [tokens[i] if i < base else _pair(tokens, divmod(int(pair_values[i - base]), base))
             for i in order.tolist()]
    token_term = renumber[:base]
    term = np.concatenate((token_term[token], renumber[base:][pair_number]))
    return Features(tokens, terms, token_term, token, term, np.concatenate((token_doc, pair_doc)),
                    token_counts, token_counts + pair_counts)


def _number_tokens(docs: Iterable[Sequence[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Distinct tokens by first occurrence, the number of every token, tokens per doc."""
    flat: list[str] = []
    counts: list[int] = []
    for tokens in docs:
        flat.extend(tokens)
        counts.append(len(tokens))
    numbers = {t: i for i, t in enumerate(dict.fromkeys(flat))}
    token = np.fromiter(map(numbers.__getitem__, flat), dtype=np.int32, count=len(flat))
    return list(numbers), token, np.asarray(counts, dtype=np.int64)


def _owners(counts: np.ndarray) -> np.ndarray:
    """The doc of each item, when doc ``i`` has ``counts[i]`` items in a row."""
    return np.arange(len(counts), dtype=np.int32).repeat(counts)


def _pair_codes(token: np.ndarray, token_counts: np.ndarray, base: int) -> np.ndarray:
    """a × base + b for every two adjacent tokens (a, b) of one doc, doc after doc."""
    followed = np.ones(len(token), dtype=bool)  # the token has a successor in its doc
    followed[np.cumsum(token_counts)[token_counts > 0] - 1] = False
    at = np.flatnonzero(followed)
    return token[at].astype(np.int64) * base + token[at + 1]


def _by_first_occurrence(token: np.ndarray, token_doc: np.ndarray, pair_first: np.ndarray,
                         pair_doc: np.ndarray) -> np.ndarray:
    """Tokens (numbered by first occurrence) and pairs (first occurring at ``pair_first``)
    in the order features() first lists them: doc by doc, a doc's tokens before its pairs."""
    running = np.maximum.accumulate(token)  # a token first occurs where this grows
    grows = np.ones(len(token), dtype=bool)
    grows[1:] = running[1:] > running[:-1]
    token_first = np.flatnonzero(grows)
    return np.lexsort((np.concatenate((token_first, pair_first)),
                       np.repeat([0, 1], [len(token_first), len(pair_first)]),
                       np.concatenate((token_doc[token_first], pair_doc[pair_first]))))


def term_postings(docs: Sequence[Sequence[str]], numbers: dict[str, int], chunk: int = 16_384
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What each doc holds: its distinct terms (by doc, then term) with how often each
    occurs, where each doc's terms start (CSR), and each doc's number of features.

    ``numbers`` gives terms their numbers and receives new ones by first occurrence (as
    walking features() doc after doc would). Docs are read a slice at a time, so that the
    integers of all their features never exist at once (at 100k phrasings that peak was
    most of the build's memory).
    """
    terms, counts, held, lengths = [], [], [], []
    number = numbers.setdefault
    for first in range(0, len(docs), chunk):
        table = count_features(docs[first:first + chunk])
        global_ = np.fromiter((number(t, len(numbers)) for t in table.terms), dtype=np.int64,
                              count=len(table.terms))
        n = len(numbers)
        once, how_often = _sorted_counts(table.doc.astype(np.int64) * n + global_[table.term])
        terms.append((once % n).astype(np.int32))
        counts.append(how_often)
        held.append(np.bincount(once // n, minlength=len(table.term_counts)))
        lengths.append(table.term_counts)
    if not terms:
        return (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32),
                np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64))
    start = np.concatenate(([0], np.cumsum(np.concatenate(held), dtype=np.int64)))
    return _join(terms), _join(counts), start, _join(lengths)


def _join(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate, emptying ``parts`` first, so that the parts are freed as soon as joined."""
    pieces = parts[:]
    parts.clear()
    return np.concatenate(pieces)


def _joined(docs: Sequence[Sequence[str]]) -> tuple[str, np.ndarray]:
    """All docs' tokens, space-separated, in one string, and where each doc's text starts."""
    texts = [" ".join(tokens) for tokens in docs]
    start = np.concatenate(([0], np.cumsum([len(t) for t in texts], dtype=np.int64)))
    return "".join(texts), start


def doc_frequencies(docs: Iterable[Sequence[str]], chunk: int = 16_384) -> dict[str, int]:
    """In how many docs each term occurs, terms by first occurrence; a slice at a time."""
    known: dict[str, int] = {}
    docs = iter(docs)
    while part := list(itertools.islice(docs, chunk)):
        table = count_features(part)
        n = max(len(table.terms), 1)
        once = distinct(table.doc.astype(np.int64) * n + table.term)
        for term, count in zip(table.terms, np.bincount(once % n, minlength=len(table.terms))
                               .tolist(), strict=True):
            known[term] = known.get(term, 0) + count
    return known


def _number_by_value(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct values (sorted), each value's number among them, and where each distinct
    value first occurs."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.ones(len(ordered), dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    number = np.empty(len(values), dtype=np.int32)
    number[order] = np.cumsum(new, dtype=np.int32) - 1
    return ordered[new], number, order[new]


def _sorted_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and how often each occurs; sorts ``values`` in place."""
    values.sort()
    new = np.ones(len(values), dtype=bool)
    new[1:] = values[1:] != values[:-1]
    starts = np.flatnonzero(new)
    del new
    counts = np.diff(starts, append=len(values)).astype(np.int32)
    return values[starts], counts


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values. np.unique's hash table took seconds on millions of integers
    with many distinct values; a sort takes milliseconds."""
    ordered = np.sort(values)
    keep = np.ones(len(ordered), dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def _pair(tokens: list[str], ab: tuple[int, int]) -> str:
    return sys.intern(tokens[ab[0]] + BIGRAM_SEP + tokens[ab[1]])


class Index:
    """Phrasings (token lists) → candidates for a question, each tagged with its owner ``key``.

    The (term, phrasing) pairs are stored flat (CSR), twice: by term, the postings (the
    phrasings of term ``t`` are ``_docs[_start[t]:_start[t + 1]]``, their BM25 contributions,
    idf × tf part as the same float32 product as always, in ``_w``); and by phrasing, the
    terms each holds (``_doc_terms[_doc_start[d]:_doc_start[d + 1]]``). One numpy array per
    term and a list of strings per phrasing cost most of the memory at 100k phrasings.
    """

    # Up to this many phrasings every phrasing a question touches is ranked (argpartition over
    # all of them, so results are exactly what they always were, ties included); above it, a
    # threshold found among the phrasings of the question's rarest terms skips most of them.
    exhaustive_up_to: int = 20_000

    def __init__(self, docs: Sequence[Sequence[str]], keys: Sequence[int],
                 weights: Weights | None = None, boost: frozenset[str] = frozenset()) -> None:
        self.weights = weights or Weights()
        self.keys = np.asarray(keys, dtype=np.int32)
        self.size = len(docs)
        n = max(self.size, 1)
        self._texts, self._text_start = _joined(docs)
        # The same texts with each phrasing's tokens sorted (same lengths, so the same
        # starts): token_sort_ratio is ratio over sorted tokens, and sorting 30 phrasings per
        # question was half the cost of the fuzzy scores.
        self._sorted_texts = "".join(" ".join(sorted(tokens)) for tokens in docs)
        self.term_ids: dict[str, int] = {}
        # What each phrasing holds (term, how often), phrasing after phrasing ...
        self._doc_terms, counts, self._doc_start, lengths = term_postings(docs, self.term_ids)
        self.df = np.bincount(self._doc_terms, minlength=len(self.term_ids)).astype(np.int32)
        self._start = np.concatenate(([0], np.cumsum(self.df, dtype=np.int64)))
        idfs = self._idf(list(self.term_ids), n, boost)
        self.idf = idfs.astype(np.float32)
        # ... and the same by term: the postings, with their BM25 contributions.
        self._docs, self._w = self._by_term(self._contributions(counts, lengths.astype(np.float32)))
        del counts
        self.doc_info = self._doc_information(idfs)
        self.unknown_idf = math.log(1 + (n + 0.5) / 0.5)
        self._single: np.ndarray | None = None  # which terms are single tokens, when needed
        # The last question looked up: the engine asks for the same question's Query when
        # ranking and again when reading its signals. One entry, swapped whole (never a stale
        # half), so that it only ever saves work within one question.
        self._last_query: tuple[tuple[str, ...], Query] | None = None

    def docs_with(self, term: str) -> np.ndarray:
        """The phrasings that hold ``term`` (its postings)."""
        at = self.term_ids.get(term)
        if at is None:
            return np.zeros(0, dtype=np.int32)
        return self._docs[self._start[at]:self._start[at + 1]]

    def texts_of(self, docs: np.ndarray) -> list[str]:
        """The phrasings' tokens, space-separated (all kept in one string: 100k small strings
        cost twice the memory)."""
        starts, ends = self._text_start[docs].tolist(), self._text_start[docs + 1].tolist()
        return [self._texts[a:e] for a, e in zip(starts, ends, strict=True)]

    def _sorted_texts_of(self, docs: np.ndarray) -> list[str]:
        """:meth:`texts_of`, each phrasing's tokens sorted."""
        starts, ends = self._text_start[docs].tolist(), self._text_start[docs + 1].tolist()
        return [self._sorted_texts[a:e] for a, e in zip(starts, ends, strict=True)]

    def _by_term(self, contributions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The phrasing and BM25 contribution of every posting, by term, then phrasing (a
        stable sort keeps the phrasing order)."""
        order = np.argsort(self._doc_terms, kind="stable").astype(np.int32)
        docs = np.repeat(np.arange(self.size, dtype=np.int32), np.diff(self._doc_start))[order]
        return docs, contributions[order]

    def _contributions(self, counts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """BM25 contribution (idf × tf part, in float32 as always) of each term of each
        phrasing; a slice of phrasings at a time, since each temporary would be the size of
        all postings."""
        avgdl = float(lengths.mean()) if self.size else 1.0
        k1, b = self.weights.k1, self.weights.b
        norm = k1 * (1 - b + b * lengths / max(avgdl, 1e-9))
        out = np.empty(len(self._doc_terms), dtype=np.float32)
        for first in range(0, self.size, _SLICE_DOCS):
            end = min(first + _SLICE_DOCS, self.size)
            lo, hi = int(self._doc_start[first]), int(self._doc_start[end])
            w = counts[lo:hi].astype(np.float32)
            denominator = np.repeat(norm[first:end], np.diff(self._doc_start[first:end + 1]))
            denominator += w
            w *= k1 + 1
            w /= denominator
            w *= self.idf[self._doc_terms[lo:hi]]
            out[lo:hi] = w
        return out

    def _doc_information(self, idfs: np.ndarray) -> np.ndarray:
        """Sum of the idf of each phrasing's terms, added in term order (as always), a slice
        of phrasings at a time."""
        out = np.empty(self.size, dtype=np.float64)
        for first in range(0, self.size, _SLICE_DOCS):
            end = min(first + _SLICE_DOCS, self.size)
            lo, hi = int(self._doc_start[first]), int(self._doc_start[end])
            row = np.repeat(np.arange(end - first), np.diff(self._doc_start[first:end + 1]))
            out[first:end] = np.bincount(row, weights=idfs[self._doc_terms[lo:hi]],
                                         minlength=end - first)
        return out

    def held_tokens(self, first: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """(key, term) for every single-token term of phrasings ``first`` to ``end - 1``."""
        if self._single is None:
            self._single = np.fromiter((BIGRAM_SEP not in t for t in self.term_ids),
                                       dtype=bool, count=len(self.term_ids))
        lo, hi = int(self._doc_start[first]), int(self._doc_start[end])
        terms = self._doc_terms[lo:hi]
        doc_of = np.repeat(np.arange(first, end, dtype=np.int32),
                           np.diff(self._doc_start[first:end + 1]))
        keep = self._single[terms]
        return self.keys[doc_of[keep]], terms[keep]

    def _idf(self, terms: list[str], n: int, boost: frozenset[str]) -> np.ndarray:
        """Each term's weight: BM25's idf, scaled down for pairs, raised for question words."""
        # math.log, not np.log: numpy's vectorised log may differ in the last bit
        idfs = np.fromiter((math.log(1 + (n - d + 0.5) / (d + 0.5)) for d in self.df.tolist()),
                           dtype=np.float64, count=len(terms))
        for term_id, term in enumerate(terms):
            if BIGRAM_SEP in term:
                idfs[term_id] *= self.weights.pair
            elif term in boost:  # frequent, yet it tells apart entries on one topic
                idfs[term_id] = max(idfs[term_id], self.weights.question_word)
        return idfs

    def information(self, terms: Sequence[str]) -> list[float]:
        """How much each term tells (IDF; an unknown term tells the most)."""
        return self._information(terms, [self.term_ids.get(term, -1) for term in terms])

    def _information(self, terms: Sequence[str], ids: list[int]) -> list[float]:
        # one lookup for all (numpy scalars one by one are slow); -1 reads a value not used
        idf = self.idf[ids].tolist() if len(self.idf) else [0.0] * len(ids)
        unknown, pair = self.unknown_idf, self.weights.pair
        return [value if term_id >= 0 else unknown * (pair if BIGRAM_SEP in term else 1.0)
                for term, term_id, value in zip(terms, ids, idf, strict=True)]

    def query(self, tokens: Sequence[str]) -> Query:
        """The question's terms, looked up once for the search and for the engine's ranking."""
        key = tuple(tokens)
        last = self._last_query
        if last is not None and last[0] == key:
            return last[1]
        terms = list(dict.fromkeys(features(tokens)))
        ids = [self.term_ids.get(term, -1) for term in terms]
        query = Query(" ".join(tokens), terms, ids, self._information(terms, ids),
                      len(set(tokens)))
        self._last_query = (key, query)
        return query

    def search(self, tokens: Sequence[str], limit: int = 30) -> list[Hit]:
        """The best phrasings for the question's tokens, best first."""
        return self.search_query(self.query(tokens), limit)

    def search_query(self, query: Query, limit: int = 30) -> list[Hit]:
        """:meth:`search` for a question already looked up with :meth:`query`."""
        found = [term_id for term_id in query.ids if term_id >= 0]
        if not found or not self.size:
            return []
        known = np.array(found, dtype=np.intp)  # converted once, for the several gathers below
        question_info = sum(query.info)
        if self.size > self.exhaustive_up_to:
            docs, matched = self._best_above_floor(known, limit)
        else:
            docs, matched = self._best_exhaustive(known, limit)
        w = self.weights
        # the same float operations, in the same order, as one Python expression per hit
        q_cover = np.minimum(matched / question_info, 1.0)
        p_cover = np.minimum(matched / np.maximum(self.doc_info[docs], 1e-9), 1.0)
        # fuzz.token_sort_ratio(query.text, text), with both sides' tokens sorted beforehand
        ratio = process.cdist([" ".join(sorted(query.text.split()))], self._sorted_texts_of(docs),
                              scorer=fuzz.ratio, dtype=np.float64)[0] / 100
        score = 100 * (w.question_cover * q_cover + w.phrasing_cover * p_cover + w.fuzzy * ratio)
        order = (-score).argsort(kind="stable")  # best first, ties in found order
        columns = (docs, self.keys[docs], score, q_cover, p_cover, ratio)
        return list(map(Hit, *(c[order].tolist() for c in columns)))

    def _postings(self, known: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Phrasings of the known terms, in the question's order, their BM25 contributions and
        how many there are of each term."""
        starts, ends = self._start[known], self._start[known + 1]
        counts = ends - starts
        at = _ranges(starts, counts)  # one gather, not a slice per term (long questions: 100+)
        return self._docs.take(at), self._w.take(at), counts  # take: 2-3× faster than [at]

    def _best_exhaustive(self, known: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``limit`` phrasings with the highest BM25 among all touched, and the information
        of the question each matches."""
        ids, contributions, counts = self._postings(known)
        bm25 = np.bincount(ids, weights=contributions, minlength=self.size)
        matched = np.bincount(ids, weights=self.idf[known].repeat(counts), minlength=self.size)
        touched = np.flatnonzero(bm25 > 0)  # on a boolean mask: several times faster
        if len(touched) > limit:
            touched = touched[np.argpartition(-bm25.take(touched), limit)[:limit]]
        return touched, matched[touched]

    def _best_above_floor(self, known: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """The same ``limit`` phrasings (ties at the limit going to the earlier phrasing),
        without ranking every touched one.

        At 100k phrasings a question's common characters touch tens of thousands of
        phrasings, and argpartition over all of them dominated the query. A floor that the
        ``limit``-th best surely reaches (:meth:`_floor`) leaves a few dozen to rank, and the
        matched information is then summed for those only.

        (Skipping the postings of common terms whose bounds stay under the floor, MaxScore
        style, was tried: scoring the remaining candidates from what each holds cost more
        than it saved at 100k phrasings.)
        """
        ids, contributions, _ = self._postings(known)
        bm25 = np.bincount(ids, weights=contributions, minlength=self.size)
        floor = self._floor(bm25, np.asarray(known), limit)
        touched = np.flatnonzero(bm25 >= floor) if floor > 0 else np.flatnonzero(bm25 > 0)
        touched = _best_of(touched, bm25[touched], limit)
        return touched, self._matched(touched, known)

    def _floor(self, bm25: np.ndarray, wanted: np.ndarray, limit: int) -> float:
        """The ``limit``-th best BM25 among the phrasings of the question's rarest terms (at
        least ``SEED_POSTINGS × limit`` postings): a lower bound of the ``limit``-th best
        overall, and a close one, since phrasings sharing rare terms with the question score
        high. 0 when those phrasings are fewer than ``limit``."""
        df = self.df[wanted]
        order = df.argsort(kind="stable")
        enough = int(df[order].cumsum().searchsorted(SEED_POSTINGS * limit)) + 1
        rarest = wanted[order[:enough]]
        starts = self._start[rarest]
        seeds = self._docs[_ranges(starts, self._start[rarest + 1] - starts)]
        if enough > 1:  # one term's phrasings are distinct already
            seeds = distinct(seeds)
        if len(seeds) < limit:
            return 0.0
        scores = bm25[seeds]
        scores.partition(len(scores) - limit)
        return float(scores[len(scores) - limit])

    def _matched(self, docs: np.ndarray, known: np.ndarray) -> np.ndarray:
        """For a few phrasings, the information of the question each matches (the idf of the
        known terms it holds), from what each phrasing holds rather than every posting."""
        starts = self._doc_start[docs]
        lengths = self._doc_start[docs + 1] - starts
        terms = self._doc_terms[_ranges(starts, lengths)]
        found = _positions(known, terms)[1]
        row = np.arange(len(docs)).repeat(lengths)[found]
        return np.bincount(row, weights=self.idf[terms[found]], minlength=len(docs))


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Positions start..start+length-1 of several slices, concatenated (a CSR gather)."""
    offsets = (starts - lengths.cumsum() + lengths).repeat(lengths)
    offsets += np.arange(len(offsets))
    return offsets


def _best_of(docs: np.ndarray, scores: np.ndarray, limit: int) -> np.ndarray:
    """The ``limit`` docs with the highest scores; ties at the limit go to the earlier doc."""
    if len(docs) <= limit:
        return docs
    kth = np.partition(scores, len(scores) - limit)[len(scores) - limit]
    above = docs[scores > kth]
    return np.concatenate([above, docs[scores == kth][:limit - len(above)]])


class TermSets:
    """One sorted set of term numbers per owner (an entry), stored flat (CSR).

    Which of a few entries hold which of a question's terms is then a handful of numpy
    operations, and the sets of 100k phrasings' entries take tens of megabytes, where Python
    frozensets of strings took most of a gigabyte. Filled part by part (:meth:`add`), so that
    the (owner, term) pairs of all answers never exist at once.
    """

    def __init__(self, size: int) -> None:
        self._parts: list[np.ndarray] = []
        self._counts = np.zeros(size, dtype=np.int64)
        self._terms = np.zeros(0, dtype=np.int32)
        self._start = np.zeros(size + 1, dtype=np.int64)
        # The last answer of held(), with where each owner and term is in it: the engine asks
        # again, for the best two entries, about terms it asked of every candidate entry.
        self._last: tuple[dict[int, int], dict[int, int], np.ndarray] | None = None

    def add(self, owner: np.ndarray, term: np.ndarray) -> None:
        """Add (owner, term) pairs; owners must come after those of earlier calls."""
        once = distinct(owner.astype(np.int64) << 32 | term.astype(np.int64))
        self._parts.append((once & 0xFFFFFFFF).astype(np.int32))
        self._counts += np.bincount(once >> 32, minlength=len(self._counts))

    def seal(self) -> TermSets:
        """Join the parts: call once, after the last :meth:`add`."""
        if self._parts:
            self._terms = np.concatenate(self._parts)
        self._start[1:] = np.cumsum(self._counts)
        self._parts = []
        return self

    def held(self, owners: Sequence[int], terms: Sequence[int]) -> np.ndarray:
        """``held[i, j]``: whether ``owners[j]`` holds ``terms[i]`` (-1: a term nobody holds).

        The owners' rows, each sorted, become one sorted array once each row is lifted by
        its position (× 2³²); every (owner, term) question is then one sorted searchsorted.
        """
        last = self._last
        if last is not None and len(terms) and len(owners):
            cols, rows, table = last
            if all(o in cols for o in owners) and all(t in rows for t in terms):
                return table.take([rows[t] for t in terms], axis=0).take(
                    [cols[o] for o in owners], axis=1)
        out = self._held(owners, terms)
        self._last = (dict(zip(owners, itertools.count())), dict(zip(terms, itertools.count())),
                      out)
        return out

    def _held(self, owners: Sequence[int], terms: Sequence[int]) -> np.ndarray:
        """:meth:`held`, computed."""
        out = np.zeros((len(terms), len(owners)), dtype=bool)
        if not len(terms) or not len(owners):
            return out
        at = np.asarray(owners)
        starts = self._start[at]
        lengths = self._start[at + 1] - starts
        lift = np.arange(len(owners), dtype=np.int64) << 32
        values = self._terms.take(_ranges(starts, lengths)).astype(np.int64)
        values += lift.repeat(lengths)
        wanted = np.asarray(terms, dtype=np.int64)
        order = wanted.argsort()
        asked = (lift[:, None] + wanted[order]).ravel()  # sorted: owner by owner, terms sorted
        if len(values):
            at = values.searchsorted(asked)
            np.minimum(at, len(values) - 1, out=at)
            out[order] = (values.take(at) == asked).reshape(len(owners), len(terms)).T
        return out


def _positions(wanted: Sequence[int], values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each value, its position in ``wanted`` (distinct numbers) and whether it is there."""
    wanted_ = np.asarray(wanted)
    order = wanted_.argsort()
    ordered = wanted_[order]
    at = ordered.searchsorted(values)
    np.minimum(at, len(ordered) - 1, out=at)
    return order[at], ordered[at] == values


class Speller:
    """Fixes what people really type, using only words the knowledge itself contains.

    - a pinyin-IME homophone (品搏会, 质量越, 一站是, 五多金花): a pair of characters that the
      knowledge never uses but whose pinyin matches a pair it does use, differing in one place;
    - pinyin typed in Latin letters (pinbohui): split into syllables, each turned into the
      character the knowledge uses for it in that neighbourhood;
    - an English word the knowledge does not know: the closest word it knows (ratio ≥ 80);
    - a character typed twice where the knowledge never doubles it (品博会会).
    """

    def __init__(self, docs: Iterable[Sequence[str]],
                 names: Iterable[Sequence[str]] = ()) -> None:
        self._known = doc_frequencies(docs)
        # adjacent pairs of the staff's names (品博, 博会): the only pairs a character's other
        # reading may repair to (品薄会 → 品博会); every other repair goes by first readings
        self._name_pairs = frozenset(a + BIGRAM_SEP + b for name in names
                                     for a, b in zip(name, name[1:], strict=False))
        self._words = [t for t in self._known if t.isascii() and t.isalpha() and len(t) > 1]
        # pinyin of a pair → the known pairs (terms) that sound so; of a character → the known
        # characters; most frequent first. Terms rather than (df, a, b) tuples: a third of
        # the memory at 100k phrasings.
        self._pairs: dict[tuple[str, str], list[str]] = {}
        self._chars: dict[str, list[str]] = {}

    def _phonetic_maps(self) -> None:
        """Pinyin of every known character and pair, built on the first question that needs it."""
        if self._chars:
            return
        pairs: dict[tuple[str, str], list[str]] = defaultdict(list)
        chars: dict[str, list[str]] = defaultdict(list)
        for term in self._known:
            if BIGRAM_SEP in term:
                a, b = term.split(BIGRAM_SEP)
                if _phonetic(a) and _phonetic(b):
                    pairs[(char_pinyin(a), char_pinyin(b))].append(term)
            elif is_cjk_token(term):
                chars[char_pinyin(term)].append(term)
        # by frequency, then by character(s): a pair term is "a␟b" with a and b one character
        # each, so comparing terms compares (a, b)
        known = self._known
        for options in (*pairs.values(), *chars.values()):
            options.sort(key=lambda term: (known[term], term), reverse=True)
        self._pairs, self._chars = dict(pairs), dict(chars)

    def _pair_options(self, sounds: tuple[str, str]) -> Iterator[tuple[str, str]]:
        """The known pairs (a, b) that sound so, most frequent first."""
        for term in self._pairs.get(sounds, ()):
            a, b = term.split(BIGRAM_SEP)
            yield a, b

    def correct(self, tokens: Sequence[str]) -> tuple[list[str], bool]:
        """The repaired tokens, and whether any Latin word was read as pinyin."""
        out: list[str] = []
        pinyin = False
        for token in tokens:
            if token.isascii() and token.isalpha() and token not in self._known:
                fixed = self._latin(token, tokens)
                pinyin = pinyin or (fixed != [token] and is_cjk_token(fixed[0]))
                out.extend(fixed)
            elif out and token == out[-1] and is_cjk_token(token) and \
                    token not in _DOUBLED and token + BIGRAM_SEP + token not in self._known:
                continue  # a character typed twice (品博会会): the knowledge never doubles it
            else:
                out.append(token)
        return self._homophones(out), pinyin

    def _english(self, tokens: Sequence[str]) -> bool:
        """Whether a message is English, so that one syllable in it is a typo (wen is the brand
        expo), not pinyin (文): two words the knowledge uses that are no pinyin (is, the), no
        Chinese, and no other word that reads as pinyin of two syllables or more (zongbu)."""
        latin = [t for t in tokens if t.isascii() and t.isalpha()]
        if len(latin) < 3 or len(latin) < len(tokens):
            return False
        self._phonetic_maps()
        english = 0
        for t in latin:
            read = segment_pinyin(t, self._chars)  # the syllables, keys of the pinyin map
            if t in self._known:
                english += read is None
            elif read is not None and len(read) >= 2:
                return False
        return english >= 2

    def _latin(self, word: str, message: Sequence[str] = ()) -> list[str]:
        if len(word) >= 4 and self._words:
            found = process.extractOne(word, self._words, scorer=fuzz.ratio, score_cutoff=85)
            if found:
                return [found[0]]
        if len(word) < 2:
            return [word]
        self._phonetic_maps()
        syllables = segment_pinyin(word, self._chars)
        if syllables and not (len(syllables) == 1 and self._english(message)):
            return self._pinyin_to_chars(syllables)
        return [word]

    def _pinyin_to_chars(self, syllables: list[str]) -> list[str]:
        chars: list[str] = []
        for i, syllable in enumerate(syllables):
            prev = chars[-1] if chars else None
            nxt = syllables[i + 1] if i + 1 < len(syllables) else None
            choice = None
            if prev is not None:
                choice = next((b for a, b in self._pair_options((char_pinyin(prev), syllable))
                               if a == prev), None)
            if choice is None and nxt is not None:
                first = next(self._pair_options((syllable, nxt)), None)
                choice = first[0] if first else None
            if choice is None:
                choice = self._chars[syllable][0]
            chars.append(choice)
        return chars

    def _homophones(self, tokens: list[str]) -> list[str]:
        """Swap one character of an unknown pair for a homophone that makes it known.

        The swap must also be confirmed by the character's other neighbour (or the character
        must be one the knowledge never uses), so that ordinary words the knowledge lacks
        (你好, 那个) are left alone.
        """
        known = self._known
        # once per token, not twice: a swap puts in characters of known pairs, phonetic too
        phonetic = [_phonetic(t) for t in tokens]
        for i in range(len(tokens) - 1):
            a, b = tokens[i], tokens[i + 1]
            if not (phonetic[i] and phonetic[i + 1]) or a + BIGRAM_SEP + b in known:
                continue
            self._phonetic_maps()
            for ka, kb in self._homophone_pairs(a, b):
                if (ka, kb) in _NEVER_FOR:
                    continue
                if _same(a, ka) and self._confirmed(tokens, i + 1, kb, right=True):
                    tokens[i], tokens[i + 1] = ka, kb
                    break
                if _same(b, kb) and self._confirmed(tokens, i, ka, right=False):
                    tokens[i], tokens[i + 1] = ka, kb
                    break
        return tokens

    def _homophone_pairs(self, a: str, b: str) -> Iterator[tuple[str, str]]:
        """Known pairs sounding like ``a b``: first the pairs of the synonym table's names in
        any reading of the typed characters (薄 is bao and bo: 品薄会 → 品博会, not 品包 of
        产品包括), then every known pair by first readings. Other readings anywhere but names
        made swaps the public FAQ benchmark showed wrong."""
        first = (char_pinyin(a), char_pinyin(b))
        later: list[tuple[str, str]] = []
        for sound in product(char_readings(a), char_readings(b)):
            for pair in self._pair_options(sound):
                if pair[0] + BIGRAM_SEP + pair[1] in self._name_pairs:
                    yield pair
                elif sound == first:
                    later.append(pair)
        yield from later

    def _confirmed(self, tokens: list[str], at: int, new: str, right: bool) -> bool:
        if tokens[at] not in self._known:
            return True
        other = at + 1 if right else at - 1
        if not 0 <= other < len(tokens):
            return False
        pair = new + BIGRAM_SEP + tokens[other] if right else tokens[other] + BIGRAM_SEP + new
        return pair in self._known


# Pairs a homophone swap never makes: 那个基地 is "that base", and read as 哪个基地 it would
# ask "which base" (中国品牌日是那天 is still read 哪天).
_NEVER_FOR = frozenset({("哪", "个"), ("哪", "些"), ("哪", "位"), ("哪", "家")})


def _phonetic(token: str) -> bool:
    return is_cjk_token(token) or (len(token) == 1 and token.isdigit())


# Characters Chinese doubles in everyday words (谢谢, 看看, 问问, 说说): not a key typed twice
_DOUBLED = frozenset("谢看问查试说想听聊讲找")


def _same(a: str, b: str) -> bool:
    """Equal, or a Chinese numeral and the digit it reads as (五 and 5)."""
    return a == b or ((a.isdigit() or b.isdigit()) and char_pinyin(a) == char_pinyin(b))
