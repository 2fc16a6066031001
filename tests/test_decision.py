"""The fitted answer decision: shipped as data, reproducible from the repository, and what it
changes for a citizen."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

from bot import refit
from bot.decision import FEATURES, SHIPPED, Decision, Signals, fit_rule, fit_weights, load
from bot.engine import Engine
from bot.insights import labelled_from
from bot.kb import TZ, Knowledge
from bot.store import Miss
from tests.insights_helpers import run_cli
from tests.paths import ROOT


def _signals(**changes: float) -> Signals:
    base = dict(score=80.0, lead=20.0, explained=1.0, foreign=False, question_cover=1.0,
                phrasing_cover=1.0, fuzzy=0.9, asked=1, missing=0, unknown_words=0.0,
                unknown_pairs=0.0, tokens=6, explained_asked=1.0, explained_plain=1.0,
                subject_top=1.0)  # a plain question its entry wholly explains
    return Signals(**{**base, **changes})  # type: ignore[arg-type]


def test_the_shipped_decision_loads_and_is_what_the_engine_uses(engine: Engine) -> None:
    shipped = load()
    assert shipped is not None and engine.decision == shipped
    assert shipped.answers(_signals())
    assert not shipped.answers(_signals(missing=1))  # a detail asked that the entry lacks
    assert not shipped.answers(_signals(foreign=True))  # a number or name it never mentions
    # words the knowledge never uses count against an answer: a new word brings its new pairs
    # of characters or words with it, and neither signal may ever count for an answer
    base = shipped.probability(_signals())
    assert shipped.probability(_signals(unknown_words=0.6, unknown_pairs=0.6)) < base
    assert shipped.probability(_signals(unknown_words=0.6)) <= base
    assert shipped.probability(_signals(unknown_pairs=0.6)) < base


def test_a_fitted_weight_of_an_unknown_word_is_never_for_an_answer() -> None:
    """On data where unknown words come with answerable questions, the fit still gives them no
    weight for an answer (held at zero, the rest refitted)."""
    rng = np.random.default_rng(1)
    rows = [(_signals(score=float(rng.uniform(20, 95)), unknown_words=float(u)).vector(), u > 0.5)
            for u in rng.uniform(0, 1, 400)]
    x = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows], dtype=float)
    w = fit_weights(x, y, l2=0.1)
    assert w[FEATURES.index("unknown_words")] == 0.0
    assert fit_weights(x, 1 - y, l2=0.1)[FEATURES.index("unknown_words")] < 0


def test_refitting_from_the_repository_is_reproducible(knowledge: Knowledge) -> None:
    fitted, counts = refit.fit(knowledge)
    assert counts["citizen"] >= 150 and counts["generated negatives"] >= 100
    again, _ = refit.fit(knowledge)
    assert fitted == again  # seeded: the same knowledge gives the same decision
    shipped = load(SHIPPED)
    assert shipped is not None and shipped.kind == fitted.kind == "logistic"
    assert shipped == fitted  # bot/decision.json is what `python -m bot.refit --write` makes


def test_fit_rule_keeps_precision_on_what_it_is_fitted_on() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(300):
        s = _signals(score=float(rng.uniform(20, 95)), lead=float(rng.uniform(0, 30)))
        rows.append((s.vector(), s.score > 60 and s.lead > 8))
    x = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    rule = fit_rule(x, y, wrong_share=0.0)
    answered = np.array([rule.answers(_signals(score=v[FEATURES.index("score")] * 100,
                                               lead=v[FEATURES.index("lead")] * 100))
                         for v in x])
    assert not (answered & ~y).any() and (answered & y).sum() > 0.8 * y.sum()


def test_a_decision_survives_its_file(tmp_path) -> None:
    decision = Decision("logistic", weights=tuple(0.1 for _ in FEATURES), answer_at=0.7)
    decision.save(tmp_path / "d.json")
    assert load(tmp_path / "d.json") == decision
    data = json.loads((tmp_path / "d.json").read_text())
    data["features"] = ["something", "else"]
    (tmp_path / "d.json").write_text(json.dumps(data))
    assert load(tmp_path / "d.json") is None  # fitted on other features: not used


def test_ask_json_carries_the_honest_reply() -> None:
    out = subprocess.run([sys.executable, "run_bot.py", "ask", "--json", "品博会门票多少钱"],
                         cwd=ROOT, capture_output=True, timeout=60).stdout
    reply = json.loads(out)
    assert reply["status"] == "fallback" and reply["kind"] == "detail_not_in_source"
    assert reply["answer"].startswith("报道没有提到品博会") and reply["suggestions"]


EXPO = """entries:
  - id: expo-date
    category: expo
    questions:
      zh: [品博会什么时候举办, 品博会哪天开, 品博会几月份]
    answer:
      zh: 品博会计划于2022年12月举办，门票免费。
    source: 品博会计划将于今年 12 月举办
    aspects: [when, price]
"""


def test_validate_explain_shows_what_each_entry_tells(tmp_path: Path) -> None:
    (tmp_path / "expo.yaml").write_text(EXPO, encoding="utf-8")
    out = run_cli("validate", str(tmp_path), "--explain", data_dir=tmp_path / "data")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "expo-date tells (stated): when (stated in the YAML); price" in out.stdout
    shipped = run_cli("validate", "--explain", data_dir=tmp_path / "data").stdout
    assert "expo-date tells (derived): when (the answer)" in shipped


def test_validate_rejects_an_aspect_it_does_not_know(tmp_path: Path) -> None:
    (tmp_path / "expo.yaml").write_text(EXPO.replace("[when, price]", "[when, colour]"),
                                        encoding="utf-8")
    out = run_cli("validate", str(tmp_path), data_dir=tmp_path / "data")
    assert out.returncode == 1 and "unknown aspect(s) colour" in out.stdout
    assert "expo.yaml:" in out.stdout and "aspects" in out.stdout


def test_review_refit_shows_before_and_after_and_writes_only_when_accepted(tmp_path: Path) -> None:
    before = SHIPPED.read_bytes()
    out = run_cli("review", "--refit", data_dir=tmp_path / "data", stdin="n\n")
    assert out.returncode == 0, out.stderr
    assert "held back (citizen_held.yaml), now:" in out.stdout
    assert "held back (citizen_held.yaml), refit:" in out.stdout
    assert "nothing written" in out.stdout and SHIPPED.read_bytes() == before


def test_picks_and_downvotes_become_labelled_questions() -> None:
    at = datetime(2022, 10, 1, tzinfo=TZ)

    def miss(kind: str, question: str, entry: str | None, picked: str | None) -> Miss:
        return Miss(1, at, "2022-10-01", "web", kind, question, question, "", "zh", (), entry,
                    picked, None, None, None)

    labelled = labelled_from([miss("clarify", "品博会几月", None, "expo-date"),
                              miss("clarify", "品博会", None, "none"),
                              miss("downvote", "品博会门票", "expo-overview", None),
                              miss("fallback", "天气", None, None)])
    assert labelled == [("品博会几月", "expo-date"), ("品博会门票", None)]
