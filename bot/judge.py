"""A learned second opinion on the engine's best candidates, fitted from labelled questions.

Why: fixed score thresholds cannot tell "呕血与咯血怎么治疗" (another question on the same
topic) from "呕血与咯血异同" (the same question in other words). Both leave a word or two of
the question and of the phrasing unmatched; what decides is *which* words differ. A pair model
fitted on labelled questions learns that 异同 standing where the phrasing has 区别 is harmless
and 治疗 standing there is not. A reranker then mixes its verdict with the engine's own signals
to reorder the best few entries, and a confidence model says whether the first is sure enough
to answer. ``benchmarks/bench_external.py`` fits it on the public FAQ training pairs and
measures it on the development pairs.

The shipped knowledge comes with no labelled questions to fit it on, so the engine runs
without a judge (its fixed thresholds) unless one is given: ``engine.judge = fit_judge(...)``.
Everything here is numpy and the standard library; fitting a few thousand questions takes
about a minute, judging one question well under a millisecond.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:  # the type only: the engine runs a judge it is given
    from bot.engine import Engine

DEPTH = 5  # entries the judge reorders: the right one is among the engine's first five ~90%
PAIR_FOLDS = 5


class Candidate(NamedTuple):
    """What the judge reads of one ranked entry."""

    key: int  # the entry's position in the knowledge
    score: float  # the engine's entry score, 0–100
    explained: float
    foreign: bool
    question_cover: float  # of its best phrasing (search.Hit)
    phrasing_cover: float
    fuzzy: float
    tokens: list[str]  # its best phrasing's tokens


@dataclass(frozen=True)
class Labelled:
    """A question and an entry; ``same``: the entry answers it (False: same topic, another
    question — a hard negative)."""

    text: str
    entry: int
    same: bool


Information = Callable[[Sequence[str]], list[float]]  # Index.information


# --------------------------------------------------------------------------- pair model


def differences(question: Sequence[str], phrasing: Sequence[str]) -> list[str]:
    """The sparse features of a pair: the tokens and token pairs on one side only, and each
    (question-only token, phrasing-only token) substitution."""
    q, p = set(question), set(phrasing)
    q_pairs = {a + b for a, b in zip(question, question[1:], strict=False)}
    p_pairs = {a + b for a, b in zip(phrasing, phrasing[1:], strict=False)}
    only_q, only_p = q - p, p - q
    out = ["bias"]
    out += ["q:" + t for t in only_q]
    out += ["p:" + t for t in only_p]
    out += ["qq:" + t for t in q_pairs - p_pairs]
    out += ["pp:" + t for t in p_pairs - q_pairs]
    out += ["s:" + a + "|" + b for a in only_q for b in only_p]
    return out


@dataclass
class PairModel:
    """Log-odds that a question and a phrasing ask the same thing, from how they differ."""

    weights: dict[str, float]

    def score(self, question: Sequence[str], phrasing: Sequence[str]) -> float:
        get = self.weights.get
        return sum(get(f, 0.0) for f in differences(question, phrasing))


def fit_pair_model(pairs: Sequence[tuple[Sequence[str], Sequence[str], bool]],
                   epochs: int = 10, rate: float = 0.2, l2: float = 1e-4) -> PairModel:
    """Logistic regression on :func:`differences` by AdaGrad: each feature's step shrinks with
    its own history, so rare substitutions learn from their few examples without the common
    ones running away."""
    examples = [(differences(q, p), float(same)) for q, p, same in pairs]
    weights: dict[str, float] = defaultdict(float)
    history: dict[str, float] = defaultdict(lambda: 1e-6)
    shuffle = random.Random(0).shuffle
    for _ in range(epochs):
        shuffle(examples)
        for features, y in examples:
            z = max(min(sum(weights[f] for f in features), 30.0), -30.0)
            error = 1.0 / (1.0 + math.exp(-z)) - y
            for f in features:
                g = error + l2 * weights[f]
                history[f] += g * g
                weights[f] -= rate * g / math.sqrt(history[f])
    return PairModel(dict(weights))


# --------------------------------------------------------------------------- linear models


@dataclass
class Linear:
    """Logistic regression over a few dense features, standardised."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # one per feature, then the intercept

    def probability(self, rows: np.ndarray) -> np.ndarray:
        z = ((rows - self.mean) / self.scale) @ self.coef[:-1] + self.coef[-1]
        return 1.0 / (1.0 + np.exp(-z))


def fit_linear(rows: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 30) -> Linear:
    """Newton's method (a few features: each step is a tiny linear solve)."""
    mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-9
    x = np.c_[(rows - mean) / scale, np.ones(len(rows))]
    coef = np.zeros(x.shape[1])
    ridge = l2 * np.eye(len(coef))
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ coef)))
        gradient = x.T @ (p - y) + l2 * coef
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge
        coef -= np.linalg.solve(hessian, gradient)
    return Linear(mean, scale, coef)


# --------------------------------------------------------------------------- the judge


def _unmatched(question: Sequence[str], c: Candidate, information: Information
               ) -> tuple[float, float, float, float]:
    """The most informative token on each side that the other lacks, and the share of each
    side's information left unmatched."""
    q, p = list(dict.fromkeys(question)), list(dict.fromkeys(c.tokens))
    qi, pi = information(q), information(p)
    ps, qs = set(p), set(q)
    q_out = [v for t, v in zip(q, qi, strict=True) if t not in ps]
    p_out = [v for t, v in zip(p, pi, strict=True) if t not in qs]
    return (max(q_out, default=0.0), max(p_out, default=0.0),
            sum(q_out) / (sum(qi) or 1.0), sum(p_out) / (sum(pi) or 1.0))


def _rerank_rows(question: Sequence[str], cands: Sequence[Candidate], pair: Sequence[float],
                 information: Information) -> np.ndarray:
    best = cands[0].score
    return np.array([[c.score, best - c.score, c.explained, float(c.foreign), c.question_cover,
                      c.phrasing_cover, c.fuzzy, *_unmatched(question, c, information), pair[j],
                      float(j)] for j, c in enumerate(cands)], dtype=np.float64)


def _confidence_row(question: Sequence[str], cands: Sequence[Candidate], pair: Sequence[float],
                    p: np.ndarray, order: np.ndarray, information: Information) -> np.ndarray:
    j = int(order[0])
    c = cands[j]
    others = [k for k in range(len(cands)) if k != j]
    return np.array([
        p[j], p[j] - (p[order[1]] if len(order) > 1 else 0.0), c.score,
        c.score - max((cands[k].score for k in others), default=0.0), c.explained,
        float(c.foreign), c.question_cover, c.phrasing_cover, c.fuzzy,
        *_unmatched(question, c, information), pair[j],
        max((pair[k] for k in others), default=-10.0), float(len(set(question))),
    ], dtype=np.float64)


@dataclass
class Judge:
    pair: PairModel
    rerank: Linear
    confidence: Linear
    threshold: float  # answer when the confidence reaches it
    depth: int = DEPTH

    def review(self, question: Sequence[str], cands: Sequence[Candidate],
               information: Information) -> tuple[list[int], float]:
        """The candidates' new order (positions in ``cands``) and the confidence that the
        first is the right answer."""
        pair = [self.pair.score(question, c.tokens) for c in cands]
        return self._review(question, cands, pair, information)

    def _review(self, question: Sequence[str], cands: Sequence[Candidate], pair: Sequence[float],
                information: Information) -> tuple[list[int], float]:
        p = self.rerank.probability(_rerank_rows(question, cands, pair, information))
        order = np.argsort(-p, kind="stable")
        row = _confidence_row(question, cands, pair, p, order, information)
        return order.tolist(), float(self.confidence.probability(row[None, :])[0])


@dataclass
class Example:
    """One labelled question as the engine saw it, while fitting."""

    tokens: list[str]
    cands: list[Candidate]
    gold: int
    same: bool
    gold_tokens: list[str]


def example_of(engine: Engine, labelled: Labelled, depth: int = DEPTH) -> Example:
    """A labelled question as ``engine`` sees it (judge aside), to fit a judge on. Benchmarks
    and tests only: nothing in the answer path fits a judge."""
    tokens, _ = engine.understand(labelled.text)
    cands = engine.candidates(engine.scored(tokens)[:depth])
    entry = engine.knowledge.entries[labelled.entry]
    gold = [c.tokens for c in cands if c.key == labelled.entry]
    gold_tokens = gold[0] if gold else engine.normalizer.tokens(entry.questions.zh[0])
    return Example(list(tokens), cands, labelled.entry, labelled.same, gold_tokens)


def fit_judge(examples: Sequence[Example], information: Information,
              min_precision: float = 0.955, max_hard: float = 0.10) -> Judge:
    """Fit the three parts on ``examples`` (see :meth:`bot.engine.Engine.example`).

    The pair model's verdicts that the reranker and the confidence model learn from are
    out-of-fold (folds by entry), so that they are as good as on questions never seen. The
    threshold is the lowest that keeps, on these examples, confident answers at least
    ``min_precision`` right and confident answers to hard negatives at most ``max_hard``.
    """
    entries = sorted({e.gold for e in examples})
    random.Random(1).shuffle(entries)
    fold_of = {key: i % PAIR_FOLDS for i, key in enumerate(entries)}
    pair_scores: list[list[float]] = [[] for _ in examples]
    for fold in range(PAIR_FOLDS):
        model = fit_pair_model(_pairs(e for e in examples if fold_of[e.gold] != fold))
        for i, e in enumerate(examples):
            if fold_of[e.gold] == fold:
                pair_scores[i] = [model.score(e.tokens, c.tokens) for c in e.cands]
    seen = [i for i, e in enumerate(examples) if e.cands]
    rows = [_rerank_rows(examples[i].tokens, examples[i].cands, pair_scores[i], information)
            for i in seen]
    wanted = [np.array([float(examples[i].same and c.key == examples[i].gold)
                        for c in examples[i].cands]) for i in seen]
    rerank = fit_linear(np.vstack(rows), np.concatenate(wanted))
    conf_rows, tops = [], []
    for i, r in zip(seen, rows, strict=True):
        p = rerank.probability(r)
        order = np.argsort(-p, kind="stable")
        conf_rows.append(_confidence_row(examples[i].tokens, examples[i].cands, pair_scores[i],
                                         p, order, information))
        tops.append(examples[i].cands[int(order[0])].key)
    right = np.array([examples[i].gold == top for i, top in zip(seen, tops, strict=True)])
    same = np.array([examples[i].same for i in seen])
    confidence = fit_linear(np.vstack(conf_rows), (right & same).astype(np.float64))
    sure = confidence.probability(np.vstack(conf_rows))
    n_hard = sum(not e.same for e in examples) or 1
    threshold = _threshold(sure, right, same, n_hard, min_precision, max_hard)
    return Judge(fit_pair_model(_pairs(examples)), rerank, confidence, threshold)


def _pairs(examples: Iterable[Example]) -> list[tuple[list[str], list[str], bool]]:
    """The labelled pair of each example, plus its first two candidates that are not its
    entry as pairs that ask different things."""
    out = []
    for e in examples:
        out.append((e.tokens, e.gold_tokens, e.same))
        out.extend((e.tokens, c.tokens, False) for c in e.cands[:2] if c.key != e.gold)
    return out


def _threshold(sure: np.ndarray, right: np.ndarray, same: np.ndarray, n_hard: int,
               min_precision: float, max_hard: float) -> float:
    """The threshold that answers the most labelled paraphrases within both constraints,
    walking down the confidences; of equal coverage, the highest (hard negatives that buy no
    coverage stay out), placed halfway (in log-odds) to the next confidence down, so that a
    question unlike any seen does not sit on the edge."""
    order = np.argsort(-sure, kind="stable")
    ranked = sure[order]
    answered_same = np.cumsum(same[order])
    right_same = np.cumsum((right & same)[order])
    hard = np.cumsum((right & ~same)[order])  # a hard negative answered with its own entry
    precision = right_same / np.maximum(answered_same, 1)
    ok = (precision >= min_precision) & (hard / n_hard <= max_hard) & (answered_same > 0)
    ok &= np.r_[ranked[1:] < ranked[:-1], True]  # cut only between different confidences
    if not ok.any():
        return 1.01  # never sure enough
    positions = np.flatnonzero(ok)
    best = int(positions[np.argmax(answered_same[positions])])  # the first of the most
    if best + 1 == len(ranked):
        return float(ranked[best])
    return float(_sigmoid((_logit(ranked[best]) + _logit(ranked[best + 1])) / 2))


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))
