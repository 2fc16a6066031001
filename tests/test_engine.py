"""The engine's decisions as a citizen would see them."""

import dataclasses
from datetime import datetime

import pytest

from bot import aspects
from bot.engine import Engine, Status, date_note
from bot.kb import TZ, EventDate, Knowledge, When

# --- the right fact, however it is typed ------------------------------------------------------


@pytest.mark.parametrize(("question", "entry_id"), [
    ("品博会什么时候举办", "expo-date"),
    ("品搏会什么时候举办", "expo-date"),          # IME homophone 搏
    ("品博汇什么时候举办", "expo-date"),          # IME homophone 汇
    ("质量越的主题是什么", "campaign-theme"),     # 越 for 月
    ("一站是服务平台能提供哪些服务", "nqi-services"),  # 是 for 式
    ("五多金花是哪几家", "brand-five-golden-flowers"),  # 多 for 朵
    ("品薄会什么时候开", "expo-date"),            # 薄 read bo, not its first reading bao
    ("中国品牌日是那天", "expo-china-brand-day"),  # 那 for 哪 (but 那个 stays "that")
    ("青岛的五朵金是哪几家", "brand-five-golden-flowers"),  # a missing character
    ("品博会会什么时候举办", "expo-date"),        # an extra character
    ("品 博 会 什 么 时 候 举 办", "expo-date"),  # spaces between characters
    ("質量月的主題是什麼", "campaign-theme"),     # traditional characters
    ("ＮＱＩ是什么意思", "nqi-what-is"),          # full-width letters
    ("NQI平台服务了多少企业", "nqi-enterprises"),  # mixed Chinese and English
    ("What is the theme of the Quality Month?", "campaign-theme"),
    ("pinbohui shenme shihou juban", "expo-date"),  # pinyin in Latin letters
    ("NQI zongbu jidi zai na li", "nqi-base-location"),  # one-syllable pinyin among pinyin
    ("wen is the quality life expo held", "expo-date"),  # among English words, a typo (not 文)
    ("品博会几月举办？谢谢", "expo-date"),        # thanks after the question
])
def test_typed_the_way_people_type(engine: Engine, question: str, entry_id: str) -> None:
    reply = engine.ask(question)
    assert reply.status is Status.ANSWER, (question, reply.status, reply.suggestions)
    assert reply.entry_id == entry_id


# --- three outcomes -------------------------------------------------------------------------


@pytest.mark.parametrize("question", [
    "明天青岛会下雨吗", "护照过期了去哪里换", "推荐一家好吃的海鲜馆", "红烧肉怎么做",
    "asdfghjkl", "👍👍👍", "？？？", "哈哈哈哈哈哈",
    "品博会几点开门", "品博会门票多少钱", "在一站式平台做一次检测收费多少",
])
def test_never_a_confident_guess(engine: Engine, question: str) -> None:
    assert engine.ask(question).status is not Status.ANSWER


def test_off_topic_falls_back_kindly_and_says_what_it_can_answer(engine: Engine) -> None:
    reply = engine.ask("明天青岛会下雨吗")
    assert reply.status is Status.FALLBACK
    assert "品博会" in reply.text and not reply.entry_id


def test_a_vague_question_gets_up_to_three_choices(engine: Engine) -> None:
    reply = engine.ask("品博会")
    assert reply.status is Status.CLARIFY
    assert 2 <= len(reply.suggestions) <= 3
    assert all(s.entry_id.startswith("expo") for s in reply.suggestions)


def test_a_picked_suggestion_is_answered(engine: Engine) -> None:
    picked = engine.ask("品博会").suggestions[0]
    reply = engine.answer_entry(picked.entry_id, "zh")
    assert reply is not None and reply.status is Status.ANSWER
    assert reply.entry_id == picked.entry_id


def test_an_answer_carries_its_links(engine: Engine, knowledge: Knowledge) -> None:
    reply = engine.ask("中国驰名商标有多少件")
    assert reply.entry_id == "brand-trademarks" and "152" in reply.text
    assert [link.url for link in reply.links] == [x.url for x in knowledge.by_id[reply.entry_id].links]


# --- language -------------------------------------------------------------------------------


def test_english_question_gets_english_answer(engine: Engine) -> None:
    reply = engine.ask("How many well-known trademarks does Qingdao have?")
    assert reply.status is Status.ANSWER and reply.lang == "en"
    assert "152" in reply.text and "驰名商标有" not in reply.text


def test_traditional_question_gets_traditional_answer(engine: Engine) -> None:
    reply = engine.ask("青島的五朵金花是哪幾家")
    assert reply.lang == "zh-hant"
    assert "海爾" in reply.text and "海尔" not in reply.text


def test_preference_decides_for_script_less_input(engine: Engine) -> None:
    assert engine.ask("👍", "en").lang == "en"
    assert engine.ask("👍", "zh").lang == "zh"


# --- small talk and bad input ----------------------------------------------------------------


@pytest.mark.parametrize(("question", "kind"), [
    ("你好", "greeting"), ("您好！", "greeting"), ("谢谢", "thanks"), ("thank you", "thanks"),
    ("你能做什么", "capabilities"), ("what can you do?", "capabilities"),
])
def test_small_talk_gets_its_own_short_reply(engine: Engine, question: str, kind: str) -> None:
    reply = engine.ask(question)
    assert reply.kind == kind and reply.entry_id is None


def test_greeting_in_front_of_a_question_does_not_hide_it(engine: Engine) -> None:
    assert engine.ask("你好，品博会什么时候举办").entry_id == "expo-date"


@pytest.mark.parametrize("question", ["", "   ", "\x00\x01", "问" * 100_000])
def test_bad_input_gets_a_clear_message(engine: Engine, question: str) -> None:
    reply = engine.ask(question)
    assert reply.status is Status.FALLBACK and reply.kind in ("empty", "too_long")
    assert reply.text


# --- dates said relative to now ---------------------------------------------------------------


def _when(text: str, precision: str, yearly: bool = False) -> When:
    return When(datetime.fromisoformat(text).replace(tzinfo=TZ), precision, yearly)  # type: ignore[arg-type]


NOW = datetime(2022, 9, 28, 15, 0, tzinfo=TZ)


@pytest.mark.parametrize(("when", "zh", "en"), [
    (_when("2022-09-28T09:00", "minute"), "就在今天", "today"),
    (_when("2022-04-01", "month"), "已过去", "already past"),
    (_when("2022-12-01", "month"), "还有64天", "in 64 days"),
    (_when("2022-09-01", "month"), "就在本月", "this month"),
    (_when("2017-05-10", "day", yearly=True), "下一次是2023年5月10日", "next on 10 May 2023"),
])
def test_date_wording(when: When, zh: str, en: str) -> None:
    assert zh in date_note(when, None, "zh", NOW)
    assert en in date_note(when, None, "en", NOW)


def test_answer_says_whether_the_event_is_past_or_coming(knowledge: Knowledge) -> None:
    before = Engine(knowledge, clock=lambda: datetime(2022, 9, 1, tzinfo=TZ))
    after = Engine(knowledge, clock=lambda: datetime(2023, 1, 5, tzinfo=TZ))
    assert "还有" in before.ask("品博会什么时候举办").text
    assert "已过去" in after.ask("品博会什么时候举办").text


def test_every_dated_event_is_listed_in_order(engine: Engine) -> None:
    events = engine.events("zh")
    assert len(events) >= 4
    assert any(entry_id == "campaign-date" for entry_id, _ in events)


def test_event_date_field_parses_all_precisions() -> None:
    for text in ("2022", "2022-12", "2022-12-01", "2022-09-28T09:00"):
        assert EventDate.model_validate({"date": text}).date.moment.year == 2022


# --- what is asked, and an honest "the report does not say" --------------------------------


@pytest.mark.parametrize(("question", "detail"), [
    ("品博会门票多少钱", "门票价格"),
    ("品博会12月几号开", "具体日期"),
    ("一站式平台的电话是多少", "电话"),
    ("品博会几点开门", "开放时间"),
])
def test_a_detail_the_article_lacks_gets_an_honest_reply(engine: Engine, question: str,
                                                         detail: str) -> None:
    reply = engine.ask(question)
    assert reply.status is Status.FALLBACK and reply.kind == "detail_not_in_source"
    assert reply.text.startswith("报道没有提到") and detail in reply.text
    assert "报道提到：" in reply.text and reply.suggestions  # what it does say, as a button


def test_the_honest_reply_names_the_subject_and_offers_its_question(engine: Engine) -> None:
    reply = engine.ask("品博会门票多少钱")
    assert reply.text.startswith("报道没有提到品博会的")
    assert reply.suggestions[0].entry_id == "expo-overview"
    picked = engine.answer_entry(reply.suggestions[0].entry_id, "zh")
    assert picked is not None and picked.status is Status.ANSWER


def test_the_honest_reply_in_english_and_traditional(engine: Engine) -> None:
    en = engine.ask("How much is a ticket to the Quality Life Expo?")
    assert en.kind == "detail_not_in_source" and en.lang == "en"
    assert en.text.startswith("The report does not give the price") and "报道" not in en.text
    hant = engine.ask("品博會門票多少錢")
    assert hant.kind == "detail_not_in_source" and hant.text.startswith("報道沒有提到品博會")


def test_a_person_named_nowhere_in_the_synonyms_is_still_the_subject(engine: Engine) -> None:
    reply = engine.ask("高善武多大年纪")
    assert reply.kind == "detail_not_in_source" and "高善武的年龄" in reply.text


def test_a_detail_the_entry_does_tell_is_answered(engine: Engine) -> None:
    reply = engine.ask("品博会在几月份")
    assert reply.status is Status.ANSWER and reply.entry_id == "expo-date"


def test_unknown_subject_is_no_honest_detail_reply(engine: Engine) -> None:
    reply = engine.ask("上海车展门票多少钱")
    assert reply.status is not Status.ANSWER and reply.kind != "detail_not_in_source"


def test_a_name_inside_another_name_is_not_that_name(engine: Engine) -> None:
    # 中国质量 (the first four characters of 中国质量月) is not 中国质量奖 with a character missing
    reply = engine.ask("中国质量月是什么")
    assert reply.entry_id is None or not reply.entry_id.startswith("award")


def test_a_word_the_knowledge_never_uses_counts_against_an_answer(engine: Engine) -> None:
    known = engine.read("品博会的主题是什么")
    unknown = engine.read("品博会的吉祥物是什么")  # 吉祥物: no entry speaks of a mascot
    assert engine.signals(known.ranked, known.tokens).unknown_words == 0
    assert engine.signals(unknown.ranked, unknown.tokens).unknown_words > 0.2
    assert engine.ask("品博会的主题是什么").status is Status.ANSWER
    assert engine.ask("品博会的吉祥物是什么").status is not Status.ANSWER


def test_everyday_words_weigh_less_in_what_an_answer_explains(engine: Engine) -> None:
    # 能不能…参加 is how a citizen asks, not what: words that many answers use weigh less
    # than the expo and 线上, which the format's answer speaks of
    read = engine.read("品博会能不能线上参加")
    signals = engine.signals(read.ranked, read.tokens, read.asked, read.asking)
    assert read.ranked[0].entry.id == "expo-format"
    assert signals.explained_plain > signals.explained


def test_a_homophone_repair_never_turns_that_into_which(engine: Engine) -> None:
    """那个基地 is "that base": read as 哪个基地 it would ask "which base"."""
    fixed, _ = engine.speller.correct(engine.normalizer.base_tokens("那个基地一期投了多少钱"))
    assert "哪" not in "".join(fixed)


def test_a_homophone_is_repaired_with_the_words_of_the_answers_too(engine: Engine) -> None:
    """标识 (zhi, a reading of 识) is the answers' 标志, not 标是."""
    fixed, _ = engine.speller.correct(engine.normalizer.base_tokens("地理标识保护产品有几个"))
    assert "标志" in "".join(fixed)


@pytest.mark.parametrize(("question", "entry_id"), [
    # who asks is context, not the question: 企业, 员工 must not pull it to the exhibitors
    ("我是一家企业的员工，品博会什么时候办", "expo-date"),
    # 一家 is "a company", not a figure the entry lacks; 在哪些方面 asks "which", not "where"
    ("我们是一家做家电的小公司，质量创新大赛鼓励员工在哪些方面创新？", "task-innovation-contest"),
])
def test_a_question_told_with_who_asks_is_answered(engine: Engine, question: str,
                                                   entry_id: str) -> None:
    reply = engine.ask(question)
    assert reply.status is Status.ANSWER, (reply.status, reply.suggestions)
    assert reply.entry_id == entry_id


@pytest.mark.parametrize(("scene", "question"), [
    # the scene's everyday words (班会课, 出租车) are not what is asked
    ("我下个月要给小学生上一堂班会课，打算讲讲家乡的品牌，", "青岛有多少个中华老字号？"),
    ("我是开出租车的，经常拉外地客人，", "品博会的全称是什么？"),
])
def test_a_question_after_a_scene_is_answered_as_the_bare_question(engine: Engine, scene: str,
                                                                   question: str) -> None:
    bare = engine.ask(question)
    assert bare.status is Status.ANSWER
    told = engine.ask(scene + question)
    assert (told.status, told.entry_id) == (bare.status, bare.entry_id)


def test_the_decision_weighs_the_asking_clause_and_the_scenes_named_things(
        engine: Engine) -> None:
    read = engine.read("我在外地读大学，寒假回家想带同学转转，品博会是在几月份办？")
    assert read.core is not None
    core = "".join(read.core)
    assert "寒" not in core and "假" not in core
    assert set(engine.normalizer.tokens("品博会")) <= set(read.core)
    assert engine.read("品博会是在几月份办？").core is None  # nothing to leave out


def test_a_list_of_another_thing_is_no_answer_to_which_ones(engine: Engine) -> None:
    """哪些行业 asks for industries: the platform's overview lists its services, not them."""
    question = "这个一站式平台主要给哪些行业的企业提供过服务？"
    read = engine.read(question)
    assert read.ranked[0].entry.id == "nqi-industries"
    platform = next(r for r in read.ranked if r.entry.id == "nqi-platform")
    assert "which" in platform.missing
    assert aspects.listed(question) == "行业"
    assert aspects.listed("签约的单位有哪些") is None  # who, not a thing listed


def test_what_the_asker_heard_is_part_of_the_question(engine: Engine) -> None:
    text = "我听说活动最后是青岛日报社的一位领导上台讲的，他叫什么？"
    assert engine.without_context(text) == text


def test_context_that_names_the_subject_is_kept(engine: Engine) -> None:
    assert engine.without_context("我想参加品博会，怎么报名") == "我想参加品博会，怎么报名"
    assert engine.without_context("我是一家企业的员工，品博会什么时候办") == "品博会什么时候办"


@pytest.mark.parametrize("question", [
    "济南2022年质量月主题活动的主题是什么",  # another city's campaign
    "第四届中国质量奖是哪一年评选的",  # 第四届 is an edition, not the year asked
    "去年青岛质量月活动的主题是什么",  # another year's campaign
    "What was the theme of Qingdao's Quality Month last year?",
    "下一届品博会在哪里办",
])
def test_alike_words_about_something_else_get_no_confident_answer(engine: Engine,
                                                                  question: str) -> None:
    assert engine.ask(question).status is not Status.ANSWER


def test_a_city_in_the_scene_is_where_the_asker_is_not_what_is_asked(engine: Engine) -> None:
    reply = engine.ask("我在济南上班，青岛的品博会几月办？")
    assert reply.status is Status.ANSWER
    assert reply.entry_id == "expo-date"


def test_a_time_offered_as_the_answer_is_no_other_time(engine: Engine) -> None:
    """到年底还是明年 guesses when the tasks end, which the report tells; 明年的品博会 is the
    next expo, which it does not."""
    reply = engine.ask("十大质量提升工作要干到啥时候结束 到年底还是明年")
    assert reply.status is Status.ANSWER and "2022年底" in reply.text
    assert engine.ask("明年的品博会在哪里办").status is not Status.ANSWER


def test_entries_without_english_answer_a_question_naming_another_city(
        knowledge: Knowledge) -> None:
    """Staff may leave ``answer.en`` out: a question naming another city must still get a
    reply, not a crash."""
    entries = [e.model_copy(update={"answer": e.answer.model_copy(update={"en": None})})
               for e in knowledge.entries]
    engine = Engine(dataclasses.replace(knowledge, entries=entries))
    assert engine.ask("济南2022年质量月主题活动的主题是什么").status is not Status.ANSWER
    assert engine.ask("What was the theme of the Quality Month in Shanghai?").text


def test_where_two_known_words_meet_is_no_unknown_word(engine: Engine) -> None:
    """老字号 + 有 is a seam; 一等奖's 等奖 is a word the knowledge never uses."""
    seams = engine._seams(engine.normalizer.tokens("咱青岛老字号有多少个"))
    assert any(pair.endswith("\x1f有") for pair in seams)
    assert not any("奖" in pair for pair in engine._seams(engine.normalizer.tokens("品博会一等奖奖金多少")))
    plain = engine.read("咱青岛老字号有多少个")
    signals = engine.signals(plain.ranked, plain.tokens, plain.asked, plain.asking)
    prize = engine.read("青岛老字号一等奖有多少个")
    odd = engine.signals(prize.ranked, prize.tokens, prize.asked, prize.asking)
    assert signals.unknown_pairs < odd.unknown_pairs


def test_who_won_the_award_is_not_answered_with_its_nominees(engine: Engine) -> None:
    """The report counts Qingdao's one China Quality Award but names only the nominees."""
    assert engine.ask("青岛那个中国质量奖是谁拿的").status is not Status.ANSWER
    nominated = engine.ask("青啤得了中国质量奖吗")  # yes: a nomination, and the answer says so
    assert nominated.status is Status.ANSWER and "提名奖" in nominated.text


@pytest.mark.parametrize("question", ["青岛现在有多少个中华老字号？", "青岛目前有多少件驰名商标"])
def test_now_is_how_a_citizen_asks_not_what(engine: Engine, question: str) -> None:
    """现在 / 目前 carry no meaning of their own; the answer says "as of the 2022 report"."""
    reply = engine.ask(question)
    assert reply.status is Status.ANSWER
    assert "截至2022年9月报道时" in reply.text


def test_a_scene_naming_a_topic_is_no_question_of_its_own(engine: Engine) -> None:
    """我孩子学校要做质量主题手抄报 says why a parent asks; 主题 there asks nothing, so the
    scene's everyday words (手抄报, 学校) are not weighed as unknown words of the question."""
    reply = engine.ask("我孩子学校要做质量主题手抄报，想问下青岛这次质量月活动的主题是什么？")
    assert reply.status is Status.ANSWER
    assert "推动质量创新变革" in reply.text


def test_a_scene_before_a_colon_is_read_as_a_scene(engine: Engine) -> None:
    core = engine.read("给孩子出算术题用：青岛一共有几个中国质量奖提名奖？").core
    assert core is not None and "算" not in core


def test_the_askers_story_runs_on_past_its_first_clause(engine: Engine) -> None:
    """经常拉外地客人 goes on telling of the taxi driver; 品博会 in a later clause is asked."""
    assert engine.without_context("我是开出租车的，经常拉外地客人，品博会的全称是什么？") == (
        "品博会的全称是什么？")
    # a clause that names one of the knowledge's things is kept, story or not
    kept = engine.without_context("我是开出租车的，常听客人说品博会，它的全称是什么？")
    assert "品博会" in kept


def test_a_reason_told_after_the_question_is_no_part_of_it(engine: Engine) -> None:
    """A clause after the one that asked tells why (我那天出摊没看新闻, "i want to take my
    students"), also when a space ends the asking clause; 线上还是线下 asks on."""
    assert engine.without_context("主题活动是几号办的 我那天出摊没看新闻") == "主题活动是几号办的，"
    core = engine.read("when is the quality life expo? i want to take my students", "en").core
    assert core is not None and "student" not in core
    assert engine.read("品博会啥时候办，线上还是线下").core is None  # both clauses ask
    reply = engine.ask("青岛质量月主题活动是几号办的 我那天出摊没看新闻")
    assert reply.status is Status.ANSWER and "28日" in reply.text
    # whoever the reason speaks of: 想带老婆孩子去逛逛 tells why, 门票多少钱 asks on
    assert engine.without_context("品博会几月办，想带老婆孩子去逛逛") == "品博会几月办，"
    assert "门票" in engine.without_context("品博会几月办，想带孩子去，门票多少钱？")
    # heard of after the question, it is a reason too (before it, it is what is asked of)
    assert engine.without_context("高善武是啥职务啊，新闻里老看到这名字") == "高善武是啥职务啊，"


@pytest.mark.parametrize(("question", "entries"), [
    ("品博会几时办？主题是啥？", {"expo-date", "expo-theme"}),
    ("How big will the international quality life expo be, and will it be online or in person?",
     {"expo-format", "expo-scale"}),
])
def test_a_question_of_two_parts_offers_both_entries(engine: Engine, question: str,
                                                     entries: set[str]) -> None:
    """Answering one part of two would read as a wrong answer: both entries are offered."""
    reply = engine.ask(question)
    assert reply.status is Status.CLARIFY
    assert {s.entry_id for s in reply.suggestions} == entries
    assert reply.text == engine.message("two_parts", reply.lang)


@pytest.mark.parametrize("question", ["品博会几月办？谢谢", "品博会是什么？什么时候办？"])
def test_one_entry_answering_every_part_is_answered(engine: Engine, question: str) -> None:
    """A thank-you after the question asks nothing; the overview gives the month too."""
    assert engine.ask(question).status is Status.ANSWER


@pytest.mark.parametrize(("question", "expected"), [
    ("國家係邊年定咗中國品牌日㗎？", "2017"), ("青島而家有幾多個中國質量獎？", "1個")])
def test_a_cantonese_question_is_answered(engine: Engine, question: str, expected: str) -> None:
    reply = engine.ask(question)
    assert reply.status is Status.ANSWER and expected in reply.text
    assert reply.lang == "zh-hant"


@pytest.mark.parametrize(("question", "fact"), [
    ("中国质量奖是2002年设立的吧？", "2012"),
    ("青岛有20个中国质量奖提名奖吗", "8个"),
    ("Does Qingdao have 20 time-honoured brands?", "19"),
])
def test_a_half_remembered_figure_gets_the_reports_figure(engine: Engine, question: str,
                                                          fact: str) -> None:
    """A citizen checking a figure they half remember is answered with the report's one;
    the wrong figure is no sign that they ask of something else."""
    reply = engine.ask(question)
    assert reply.status is Status.ANSWER and fact in reply.text


def test_a_later_year_or_edition_is_no_check(engine: Engine) -> None:
    assert aspects.checked("2023年还办品博会吗") == {}
    assert aspects.checked("第5届品博会在哪办吗") == {}
    assert aspects.checked("青岛有19个老字号") == {}  # no question of belief
    assert aspects.checked("请问本公司虽有94年7月1日前到职的旧制劳工，但后来都改选新制了，"
                           "还有需要足额提拨劳工退休准备金吗?") == {}  # a case told, no check
    assert engine.ask("2023年还办品博会吗").status is not Status.ANSWER


def test_what_a_thing_is_is_not_told_by_an_entry_that_only_mentions_it(engine: Engine) -> None:
    """The expo's overview mentions 好品山东 (the expo promotes it) but is no answer to what
    好品山东 is; 品博会是什么 still gets the overview."""
    assert engine.ask("好品山东是什么？").entry_id != "expo-overview"
    assert engine.ask("品博会是什么").entry_id == "expo-overview"



def test_a_question_of_more_than_a_name_may_name_a_thing_only_its_answer_mentions(
        engine: Engine) -> None:
    """What is said of a name only in an answer is no answer to what the name is; but a
    question that asks of something else, and names a thing in passing, gets the entry
    telling that (the honour 五朵金花 earned; the activities citizens may join, such as the
    open day)."""
    assert engine.ask("青岛靠五朵金花得了个什么美誉").entry_id == "brand-city-of-brands"
    reply = engine.ask("市民能参加啥质量活动 有没有开放日那种")
    assert reply.status is Status.ANSWER and "质量大讲堂" in reply.text

def test_an_article_a_citizen_says_is_no_checked_figure() -> None:
    """我听说…一位领导…吗: 一位 is how one speaks of a person, not a figure to check."""
    assert aspects.checked("我听说活动最后是一位领导上台讲的，是吗？") == {}


@pytest.mark.parametrize(("question", "fact"), [("青岛的中华老字号是20个吗？", "19个"),
                                                ("品博会是10月办的对吗？", "12月")])
def test_a_belief_check_is_read_as_the_question_it_stands_for(engine: Engine, question: str,
                                                              fact: str) -> None:
    """老字号是20个吗 asks how many there are: the answer gives the report's figure."""
    assert aspects.as_asked(question, aspects.checked(question)).startswith(
        ("青岛的中华老字号是几个", "品博会是几月办的"))
    reply = engine.ask(question)
    assert reply.status is Status.ANSWER and fact in reply.text


def test_a_question_with_words_of_its_own_is_not_sent_to_the_overview(engine: Engine) -> None:
    """办品博会是想把青岛打造成啥 asks what the expo is for, not what it is."""
    reply = engine.ask("办品博会是想把青岛打造成啥")
    first = reply.entry_id if reply.status is Status.ANSWER else reply.suggestions[0].entry_id
    assert first == "expo-ambition"
    assert engine.ask("品博会介绍一下").entry_id == "expo-overview" or \
        engine.ask("品博会介绍一下").suggestions[0].entry_id == "expo-overview"


def test_dates_an_answer_gives_of_other_things_tell_no_when(engine: Engine) -> None:
    """expo-role states its aspects: its 2017 and July 2021 date China Brand Day and a policy."""
    reply = engine.ask("品博会定在几月份办")
    assert reply.status is Status.ANSWER and reply.entry_id == "expo-date"


def test_how_a_quotation_goes_on_is_answered_by_the_entry_quoting_it(engine: Engine) -> None:
    """“只有高标准”后面那句, 质量强国后面四个字, 城阳先行前面: the words asked are quoted in one
    answer with more after (or before) them; the longest quotation wins over a commoner part
    of it (重视质量 is also in 高度重视质量工作). A quotation's end has nothing after it, and
    words that are no quotation are left to the decision."""
    cases = {"只有高标准 后面一句是什么": "才有高质量发展", "“人人重视质量”后面两句是啥": "人人关注质量",
             "推介片的口号质量强国后面四个字": "城阳先行", "城阳先行前面那半句是啥": "质量强国",
             "「速度有極限」下一句係乜？": "質量無止境", "「只有高標準」後面嗰句係咩": "有高質量發展"}
    for question, said in cases.items():
        reply = engine.ask(question)
        assert reply.status is Status.ANSWER and said in reply.text, question
    ranked = engine.read("城阳先行后面是什么").ranked
    assert engine.next_line("城阳先行后面是什么", ranked) is None
    ranked = engine.read("主题活动后面还有什么活动").ranked
    assert engine.next_line("主题活动后面还有什么活动", ranked) is None


def test_from_now_on_is_no_other_year_and_nationwide_is_the_countrys(engine: Engine) -> None:
    """以后年年办 is "every year from now on", not 后年 (the year after next); "nationwide" is
    what an answer saying 全国 speaks of."""
    reply = engine.ask("品博会以后年年都办吗")
    assert reply.status is Status.ANSWER and "一年一度" in reply.text
    assert engine.ask("品博会后年还办吗").status is not Status.ANSWER
    reply = engine.ask("how many one-stop service typical cases nationwide were selected?")
    assert reply.status is Status.ANSWER and "20" in reply.text


def test_the_words_of_a_name_are_known_words(engine: Engine) -> None:
    """Answers hold CosmoPlat's full English name as one token; a question saying only
    "research institute" uses no word the knowledge never does, and counts no such word
    against an answer — "hackathon" still is one."""
    def unknown(question: str) -> float:
        read = engine.read(question, "en")
        return engine.signals(read.ranked, read.tokens, read.asked, read.asking, read.core,
                              read.checked).unknown_words

    assert unknown("which research institute joined the industry cluster") == 0
    assert unknown("which research institute joined the hackathon") > 0


def test_a_name_spelt_in_spaced_pinyin_is_the_name(engine: Engine) -> None:
    """A visitor writing English spells 老字号 "lao zi hao", syllable by syllable."""
    reply = engine.ask("how many lao zi hao brands qingdao got")
    assert reply.status is Status.ANSWER and "19" in reply.text


def test_a_question_passed_on_is_read_without_who_asked_it(engine: Engine) -> None:
    """老伴儿问我… passes on the spouse's question; 请问我… and 我想问我们… are the asker's own."""
    reply = engine.ask("老伴儿问我今年这是第几个全国质量月了 我俩都记不清了 你给说说")
    assert reply.status is Status.ANSWER and "45" in reply.text
    assert engine.read("请问我能参加开放日吗").ranked[0].entry.id == "open-day"


def test_a_figure_guessed_after_an_english_question_is_no_foreign_figure(engine: Engine) -> None:
    """"… in qingdao? i think around 100?" guesses the count asked; the answer gives the
    report's 152."""
    reply = engine.ask("how many well-known trademark in qingdao? i think around 100?")
    assert reply.status is Status.ANSWER and "152" in reply.text
    assert engine.without_context("how many brands will the expo bring in? like 1000?") == \
        "how many brands will the expo bring in?"


def test_full_name_is_asked_with_either_word(engine: Engine) -> None:
    """全名 asks what 全称 does: the expo's full name."""
    reply = engine.ask("品博会全名叫什么")
    assert reply.status is Status.ANSWER and "青岛国际品质生活博览会" in reply.text
