"""What a question asks for, in simplified and traditional Chinese and in English, and what an
entry tells (derived, or stated by staff)."""

import pytest

from bot.aspects import asked, derive

# (aspect, simplified, traditional, English): each reads as asking that aspect.
CASES = [
    ("when", "品博会在几月份举办", "品博會在幾月份舉辦", "When is the expo held?"),
    ("when", "质量月是哪一年开始的", "質量月是哪一年開始的", "Which year did it start?"),
    ("day", "品博会具体是哪一天", "品博會具體是哪一天", "On which day exactly is the expo?"),
    ("hours", "品博会几点开门", "品博會幾點開門", "What are the opening hours of the expo?"),
    ("where", "质量月活动在哪里举行", "質量月活動在哪裡舉行", "Where was the ceremony held?"),
    ("who", "谁在会上介绍的品博会", "誰在會上介紹的品博會", "Who presented the expo?"),
    ("how_many", "演讲类有几个作品获奖", "演講類有幾個作品獲獎", "How many works won prizes?"),
    ("how_many", "征文类获奖多少部", "徵文類獲獎多少部", "What is the number of winners?"),
    ("which", "五朵金花是哪几家", "五朵金花是哪幾家", "Which brands are the five golden flowers?"),
    ("what", "NQI是什么的缩写", "NQI是什麼的縮寫", "What does NQI stand for?"),
    ("why", "品博会有啥用", "品博會有啥用", "What is the purpose of the expo?"),
    ("join", "怎么报名参加故事大赛", "怎麼報名參加故事大賽", "How do I sign up for the story contest?"),
    ("contact", "一站式平台的电话是多少", "一站式平台的電話是多少",
     "What is the phone number of the platform?"),
    ("contact", "平台的网址", "平台的網址", "What is the website of the platform?"),
    ("price", "品博会门票多少钱", "品博會門票多少錢", "How much is a ticket to the expo?"),
    ("eligibility", "参加故事大赛需要什么条件", "參加故事大賽需要什麼條件",
     "Who is eligible for the contest?"),
    ("age", "高善武多大年纪", "高善武多大年紀", "How old is Gao Shanwu?"),
]


@pytest.mark.parametrize(("aspect", "zh", "hant", "en"), CASES)
def test_each_aspect_is_read_in_every_script(aspect: str, zh: str, hant: str, en: str) -> None:
    for question in (zh, hant, en):
        assert aspect in asked(question), question


def test_a_money_figure_is_a_number_not_a_ticket_price() -> None:
    assert "price" not in asked("总部基地投资了多少钱")
    assert "how_many" in asked("总部基地投资了多少钱")


def test_where_to_sign_up_is_how_to_take_part_not_a_place() -> None:
    found = asked("在哪里报名参加开放日")
    assert "join" in found and "where" not in found


def test_a_measure_word_after_which_is_a_list_not_a_count() -> None:
    found = asked("五朵金花是哪几家")
    assert "how_many" not in found and "which" in found


def test_an_entry_tells_what_its_answer_gives() -> None:
    told = derive(["品博会什么时候举办"], "品博会计划于2022年12月举办，规划引入400家左右企业。",
                  ["month"], None)
    assert {"when", "how_many"} <= told.aspects
    assert "day" not in told.aspects  # a month is not an exact day
    assert "price" not in told.aspects and "contact" not in told.aspects


def test_a_phrasing_lends_only_loose_aspects() -> None:
    told = derive(["品博会哪天举行"], "计划于2022年12月举办。", ["month"], None)
    assert "when" in told.aspects and "day" not in told.aspects


def test_staff_can_state_what_an_entry_tells() -> None:
    told = derive(["品博会门票"], "免费参观。", [], ["price"])
    assert told.aspects == {"price"} and told.stated
