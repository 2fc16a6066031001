"""The retrieval's building blocks answer a question the same whether or not they have just
answered a related one (the engine asks again within one question, and the second answer
comes from what the first computed)."""

import numpy as np

from bot.search import Index, TermSets


def _sets() -> TermSets:
    sets = TermSets(4)
    sets.add(np.array([0, 0, 1, 2, 3]), np.array([5, 7, 5, 9, 1]))
    return sets.seal()


def test_held_after_a_wider_question_gives_what_a_fresh_one_does() -> None:
    warm = _sets()
    warm.held([0, 1, 2, 3], [5, 7, 9, 1, -1])
    for owners, terms in (([2, 0], [9, 5, 5]), ([3], [1]), ([1], [7, -1]), ([0], [8]), ([1], [])):
        assert np.array_equal(warm.held(owners, terms), _sets().held(owners, terms))
    assert warm.held([2, 0], [9, 5]).tolist() == [[True, False], [False, True]]


def test_a_query_is_looked_up_again_for_other_tokens() -> None:
    index = Index([["品", "博", "会"], ["质", "量", "月"]], [0, 1])
    first = index.query(["品", "博"])
    assert index.query(["品", "博"]) == first
    other = index.query(["质", "量"])
    assert other.text == "质 量" and other.terms[:2] == ["质", "量"]
    assert [h.key for h in index.search(["质", "量"])][:1] == [1]
