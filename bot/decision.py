"""The answer decision: a small logistic regression fitted on labelled questions.

Hand-moved thresholds did not generalise (unseen citizen questions: 80% answered, 9% of
unanswerable ones answered confidently). Here every signal the decision reads is in one place
(:class:`Signals`), the weights come from labelled questions (``python -m bot.refit``), and the
threshold is the lowest probability at which the fit data's confident answers stay precise.
The fitted parameters ship as ``bot/decision.json`` and are loaded at start-up.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SHIPPED = Path(__file__).with_name("decision.json")

# "score", "lead", "explained", "foreign", "missing" and "unknown_words" are read by name
# (the rule, benchmarks/bench_external.py): keep those names.
FEATURES = ("bias", "score", "lead", "lead_capped", "explained", "foreign", "missing",
            "unknown_words", "unknown_pairs", "told", "told_alone", "top_only", "runner_only",
            "subject_top", "subject_runner", "overview", "same_subject", "runner_explained",
            "runner_foreign", "length", "score_above_60", "explained_asked", "bare_name", "explained_plain")


@dataclass(frozen=True)
class Signals:
    """What the decision knows of a question and its best entry."""

    score: float  # 0–100, the engine's score of the best entry
    lead: float  # its lead over the next entry (0–100)
    explained: float  # share of the question's information the entry knows
    foreign: bool  # the question names a number or thing the entry never mentions
    question_cover: float  # of the best phrasing
    phrasing_cover: float
    fuzzy: float
    asked: int  # detail aspects the question asks (when, price, contact …)
    missing: int  # of those, how many the entry does not tell
    unknown_words: float  # share of the question's information in words the knowledge never uses
    unknown_pairs: float  # the same for adjacent pairs of words (一等奖 from known characters)
    tokens: int
    runner_missing: int = 0  # detail aspects asked that the next entry does not tell
    runner_explained: float = 0.0  # the next entry's share of the question's information
    runner_foreign: bool = False
    top_only: float = 0.0  # share of the question's information only the best entry knows
    runner_only: float = 0.0  # … only the next entry knows
    subject_top: float = 0.0  # share of the question's named things the best entry speaks of
    subject_runner: float = 0.0
    overview: bool = False  # "what is X" (nothing else), and the best entry is X's overview
    same_entry_family: bool = False  # both entries speak of every named thing asked
    explained_asked: float = 0.0  # explained, the words asking an aspect it tells counted known
    bare_name: bool = False  # the question is a name and nothing else (品博会, 质量奖)
    explained_plain: float = 0.0  # explained_asked, words weighed by their rarity in answers

    def vector(self) -> np.ndarray:
        """The features, in the order of FEATURES. Pairwise ones say whether the runner-up is
        a real alternative: what only it knows of the question, whether it speaks of the
        question's named things, whether it too tells the detail asked. A few bends (a capped
        lead, the score above 60) let a linear model say "a lead of 20 is as good as 40"."""
        told = float(self.asked > 0 and self.missing == 0)
        score, lead = self.score / 100, self.lead / 100
        return np.array([1.0, score, lead, min(lead, 0.25) * 4, self.explained,
                         float(self.foreign), float(self.missing > 0), self.unknown_words,
                         self.unknown_pairs, told, float(told > 0 and self.runner_missing > 0),
                         self.top_only * 3, self.runner_only * 3, self.subject_top,
                         self.subject_runner, float(self.overview),
                         float(self.same_entry_family), self.runner_explained,
                         float(self.runner_foreign), math.log1p(self.tokens) / 3,
                         max(score - 0.6, 0.0) * 3, self.explained_asked,
                         float(self.bare_name), self.explained_plain])


def wholly_told(signals: Signals) -> bool:
    """The question is wholly its best entry's: every word is its subject's or asks what the
    entry tells (五朵金花是哪几家, 品博会在几月份), the entry speaks of every named thing asked,
    and the runner-up is no real alternative — it speaks of none of them, or knows nothing
    of the question that the best entry does not. Then the lead does not matter: of the fit
    questions so, 113 citizen ones were right and 1 unanswerable, no generated negative; 164
    of 187 left-out phrasings (whose labels are noisy: a neighbour often tells the same)."""
    return (signals.subject_top >= 0.99 and signals.explained_asked >= 0.99
            and (signals.subject_runner == 0 or signals.runner_only < 0.01)
            and signals.score >= 40)


@dataclass(frozen=True)
class Decision:
    """When to answer: either a rule of four fitted thresholds (``kind="rule"``: the score,
    the lead, the share explained and the unknown words' share, and no detail asked that the
    entry lacks, no foreign number or name), or a logistic regression over every feature
    (``kind="logistic"``: weights and the probability from which to answer, behind the same
    gates, with :func:`wholly_told` beside it). ``bot.refit`` fits both and keeps the one
    that cross-validates better on the citizen questions."""

    kind: str = "rule"
    score: float = 48.0
    lead: float = 9.0
    explained: float = 0.5
    unknown: float = 1.01
    weights: tuple[float, ...] = ()
    answer_at: float = 0.5
    fitted_on: str = ""
    wholly_told: bool = False  # also answer when wholly_told() holds (logistic only)

    def probability(self, signals: Signals) -> float:
        z = float(np.dot(self.weights, signals.vector()))
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

    def answers(self, signals: Signals) -> bool:
        if self.kind == "logistic":
            # Gates before the model: of ~500 citizen questions, none whose best entry lacks
            # the detail asked was right, and 5 of 28 whose best entry lacks a number or thing
            # that the question names.
            # A bare name (品博会) asks nothing: the citizen picks among its questions.
            return (not signals.foreign and signals.missing == 0 and not signals.bare_name
                    and (self.probability(signals) >= self.answer_at
                         or (self.wholly_told and wholly_told(signals))))
        return (not signals.foreign and signals.missing == 0 and signals.score >= self.score
                and signals.lead >= self.lead and signals.explained >= self.explained
                and signals.unknown_words < self.unknown)

    def save(self, path: Path = SHIPPED) -> None:
        data = asdict(self)
        data["features"] = list(FEATURES)
        data["weights"] = [round(w, 6) for w in self.weights]
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def load(path: Path = SHIPPED) -> Decision | None:
    """The shipped decision, or None when there is none (or it was fitted on other features)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if tuple(data.pop("features", ())) != FEATURES:
        return None
    data["weights"] = tuple(float(w) for w in data.get("weights", ()))
    return Decision(**data)


# The lead starts at 5: below it two entries that look alike are a coin toss, whatever a
# few hundred labelled questions say (a bare 品博会 leads its siblings by 4).
_GRID = {"score": np.arange(36, 92, 2, dtype=float), "lead": np.arange(5, 16, dtype=float),
         "explained": np.arange(40, 85, 5) / 100, "unknown": np.array([0.05, 0.1, 0.2, 0.3, 0.5, 1.01])}


def fit_rule(x: np.ndarray, y: np.ndarray, wrong_share: float = 0.01,
             hard: tuple[np.ndarray, np.ndarray] | None = None,
             hard_share: float = 0.10) -> Decision:
    """The rule's thresholds: of all on the grid with at most ``wrong_share`` of their
    answers wrong, those with the most right answers (the strictest among equals); when
    none is that precise, the most precise one.

    ``hard`` (features, labels) are harder questions with noisier labels (left-out
    phrasings: a neighbouring entry often tells the same fact, yet counts as wrong); at most
    ``hard_share`` of their answers may be wrong. They keep the lead from being fitted away
    on a few hundred questions whose best entry is nearly always right."""
    if hard is not None and len(hard[1]):
        x = np.concatenate([x, hard[0]])
        y = np.concatenate([y, hard[1]])
        is_hard = np.arange(len(y)) >= len(y) - len(hard[1])
    else:
        is_hard = np.zeros(len(y), dtype=bool)
    col = {name: x[:, FEATURES.index(name)] for name in FEATURES}
    allowed = (col["foreign"] == 0) & (col["missing"] == 0)
    best: tuple[float, ...] = (-1.0,)
    chosen = Decision()
    closest: tuple[float, ...] = (-2.0,)  # (-wrong share, right answers) of the most precise
    fallback = Decision()
    for score in _GRID["score"]:
        a1 = allowed & (col["score"] * 100 >= score - 1e-9)
        for lead in _GRID["lead"]:
            a2 = a1 & (col["lead"] * 100 >= lead - 1e-9)
            for explained in _GRID["explained"]:
                a3 = a2 & (col["explained"] >= explained - 1e-9)
                for unknown in _GRID["unknown"]:
                    a = a3 & (col["unknown_words"] < unknown)
                    h = a & is_hard
                    if int((h & ~y).sum()) > hard_share * max(int(h.sum()), 1):
                        continue
                    a &= ~is_hard
                    ok, bad = int((a & y).sum()), int((a & ~y).sum())
                    if bad > wrong_share * max(ok + bad, 1):
                        near = (-bad / max(ok + bad, 1), ok)
                        if ok and near > closest:
                            closest = near
                            fallback = Decision("rule", float(score), float(lead),
                                                float(explained), float(unknown))
                        continue
                    key = (ok, -bad, score, lead, explained, -unknown)
                    if key > best:
                        best = key
                        chosen = Decision("rule", float(score), float(lead), float(explained),
                                          float(unknown))
    return chosen if best[0] >= 0 else fallback


# Signals that may only count against an answer: a word the knowledge never uses is never
# evidence that the entry answers (the rule; a fit that made one count *for* an answer
# learnt that colloquial words come with answerable questions, which no citizen's next
# unknown word should inherit).
NON_POSITIVE = ("unknown_words", "unknown_pairs")


def fit_weights(x: np.ndarray, y: np.ndarray, l2: float = 0.1, rounds: int = 50,
                weight: np.ndarray | None = None) -> np.ndarray:
    """Logistic regression by Newton's method (iteratively reweighted least squares), with an
    L2 penalty on every weight but the bias; the classes are weighted to count alike, each
    question by ``weight`` (how much its kind of label is trusted). A signal of
    :data:`NON_POSITIVE` whose weight comes out above zero is held at zero and the rest refitted."""
    weight = np.ones(len(y)) if weight is None else weight
    free = np.ones(x.shape[1], dtype=bool)
    capped = [FEATURES.index(name) for name in NON_POSITIVE if x.shape[1] == len(FEATURES)]
    while True:
        w = np.zeros(x.shape[1])
        w[free] = _newton(x[:, free], y, l2, rounds, weight)
        above = [i for i in capped if free[i] and w[i] > 0]
        if not above:
            return w
        free[above] = False


def _newton(x: np.ndarray, y: np.ndarray, l2: float, rounds: int,
            weight: np.ndarray) -> np.ndarray:
    """:func:`fit_weights` on the columns left free (the first is the bias)."""
    w = np.zeros(x.shape[1])
    positive = max(float((weight * y).sum() / weight.sum()), 1e-9)
    sample = weight * np.where(y > 0, 0.5 / positive, 0.5 / max(1 - positive, 1e-9))
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(rounds):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -40, 40)))
        gradient = x.T @ (sample * (p - y)) + penalty * w
        hessian = (x * (sample * p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w


def choose_threshold(p: np.ndarray, right: np.ndarray, wrong_share: float = 0.005,
                     floor: float = 0.5, weight: np.ndarray | None = None) -> float:
    """The lowest probability (≥ ``floor``) at which at most ``wrong_share`` of the answers
    given would be wrong: most questions answered, at the precision asked for. (Not the first
    probability, going down, where a wrong answer appears: one unlucky question near the top
    would then stop every threshold below it.)"""
    order = np.argsort(-p, kind="stable")
    weight = np.ones(len(p)) if weight is None else weight
    wrong = np.cumsum(weight[order] * ~right[order])
    answered = np.cumsum(weight[order])
    ok = (wrong <= wrong_share * answered) & (p[order] >= floor)
    # a threshold answers every question of its probability: only where the next one is lower
    ok[:-1] &= p[order][1:] < p[order][:-1]
    return float(p[order][np.flatnonzero(ok)[-1]]) if ok.any() else 1.0


__all__ = ["FEATURES", "SHIPPED", "Decision", "Signals", "choose_threshold", "fit_rule",
           "fit_weights", "load", "wholly_told"]
