"""Normalisation: what people type becomes what the knowledge says."""

import pytest

from bot.text import (
    Normalizer,
    chinese_numerals_to_digits,
    clean,
    detect_language,
    mandarin,
    segment_pinyin,
    to_traditional,
)


@pytest.fixture
def norm() -> Normalizer:
    return Normalizer([["品博会", "青岛国际品质生活博览会"], ["国家质量基础设施", "NQI", "质量基础设施"]])


def test_full_width_case_and_punctuation_fold(norm: Normalizer) -> None:
    assert norm.tokens("ＮＱＩ　２０２２！") == norm.tokens("nqi 2022")


def test_spaces_between_characters_do_not_matter(norm: Normalizer) -> None:
    assert norm.tokens("品 博 会 什 么 时 候") == norm.tokens("品博会什么时候")


def test_traditional_reads_as_simplified(norm: Normalizer) -> None:
    assert norm.tokens("質量月的主題是什麼") == norm.tokens("质量月的主题是什么")


def test_synonyms_map_to_one_form_without_doubling(norm: Normalizer) -> None:
    canonical = norm.tokens("国家质量基础设施")
    assert norm.tokens("NQI") == canonical
    assert norm.tokens("质量基础设施") == canonical
    assert norm.tokens("青岛国际品质生活博览会") == norm.tokens("品博会")


@pytest.mark.parametrize(("text", "expected"), [
    ("第四十五个质量月", "第45个质量月"),
    ("十二月", "12月"),
    ("二〇二二年", "2022年"),
    ("第四届", "第4届"),
    ("一站式服务", "一站式服务"),
    ("一带一路", "一带一路"),
])
def test_chinese_numerals_where_they_matter(text: str, expected: str) -> None:
    assert chinese_numerals_to_digits(text) == expected


def test_control_characters_are_removed() -> None:
    assert clean("品博会\x00\x07什么\u200b时候\r\n") == "品博会 什么 时候"


def test_pinyin_in_latin_letters_is_segmented() -> None:
    assert segment_pinyin("pinbohui", {"pin", "bo", "hui", "pi", "bu"}) == ["pin", "bo", "hui"]
    assert segment_pinyin("expo", {"pin", "bo", "hui"}) is None


@pytest.mark.parametrize(("text", "lang"), [
    ("品博会什么时候", "zh"), ("品博會什麼時候", "zh-hant"), ("When is the expo?", "en"),
    ("NQI是什么", "zh"), ("👍", None), ("2022", None),
])
def test_language_detection(text: str, lang: str | None) -> None:
    assert detect_language(text) == lang


# --- synonym variants and fillers: never inside another word ----------------------------------


def test_a_name_missing_a_character_is_still_that_name() -> None:
    norm = Normalizer([["五朵金花", "golden flowers"]])
    assert norm.tokens("五朵金是哪几家")[:1] == norm.tokens("五朵金花")


def test_a_shortened_name_is_not_read_inside_a_longer_word() -> None:
    # 中国质量 is 中国质量奖 with 奖 missing, and also the start of 中国质量月
    norm = Normalizer([["中国质量奖", "china quality award"], ["质量月", "quality month"]])
    award, month = norm.tokens("中国质量奖")[0], norm.tokens("质量月")[0]
    tokens = norm.tokens("中国质量月是什么")
    assert award not in tokens and month in tokens


def test_a_shortened_name_the_knowledge_uses_as_a_word_of_its_own_is_not_a_variant() -> None:
    norm = Normalizer([["中国质量奖"]], corpus=["中国质量水平不断提高"])
    assert norm.tokens("中国质量水平")[0] == "中"


def test_a_one_character_filler_is_removed_only_at_the_end_of_a_clause() -> None:
    norm = Normalizer(fillers=["哈", "呀", "请问"])
    assert norm.tokens("哈尔滨在哪里呀")[:3] == ["哈", "尔", "滨"]
    assert norm.tokens("品博会在哪里呀，几点开门哈") == norm.tokens("品博会在哪里几点开门")
    assert norm.tokens("请问品博会") == norm.tokens("品博会")


@pytest.mark.parametrize(("cantonese", "read_as"), [
    ("主題活動喺邊度舉行？", "主題活動在哪裡舉行？"),
    ("青島而家有幾多個中國質量獎？", "青島現在有多少個中國質量獎？"),
    ("國家係邊年定咗中國品牌日㗎？", "國家是哪年定了中國品牌日？"),
    ("青島五朵金花係邊幾間公司？", "青島五朵金花是哪幾間公司？"),  # 係 and 邊 alone are Mandarin too
    ("品博會係咪免費？", "品博會是不是免費？"),
    ("質量提升密碼具體係點講嘅？", "質量提升密碼具體是怎麼講的？"),
    ("馳名商標有152件，啱唔啱？", "馳名商標有152件，對不對？"),
    ("青島有邊幾間攞到提名獎？", "青島有哪幾間拿到提名獎？"),
    ("佢擔任呢個職位做咗幾耐？", "他擔任這個職位做了多久？"),
])
def test_written_cantonese_reads_as_mandarin(cantonese: str, read_as: str) -> None:
    assert mandarin(cantonese) == read_as


@pytest.mark.parametrize("text", ["品博會幾時舉辦", "兩者關係係什麼", "周邊有哪些展館", "质量月是第几个"])
def test_mandarin_is_left_as_it_is(text: str) -> None:
    """係 and 邊 are Mandarin too: only a text with a word Mandarin never uses is changed,
    and 關係 or 周邊 never."""
    assert mandarin(text) == text
    assert mandarin("佢話關係好") == "他話關係好"


def test_a_spoken_opening_sound_is_no_word(norm: Normalizer) -> None:
    assert norm.tokens("嗯那个品博会") == norm.tokens("那个品博会")


def test_thanks_that_close_a_message_are_no_words() -> None:
    """Staff list 谢谢 as a filler: closing a message, it goes before spelling repair."""
    norm = Normalizer(fillers=["谢谢", "多谢", "感谢"])
    assert norm.base_tokens("品博会几月办？谢谢") == norm.base_tokens("品博会几月办？")
    assert norm.base_tokens("品博会几月办，多谢您") == norm.base_tokens("品博会几月办，")
    assert "谢" in norm.base_tokens("感谢信")  # a word, not a clause of thanks
    assert "谢" in Normalizer().base_tokens("品博会几月办？谢谢")  # not listed: kept


@pytest.mark.parametrize(("text", "expected"), [("老百姓", "老百姓"), ("几百家品牌", "几百家品牌"),
                                                ("三百家", "300家"), ("十项重点工作", "10项重点工作"),
                                                ("好几十个老字号", "好几十个老字号"), ("十几家", "十几家"),
                                                ("数十家", "数十家"), ("一部分", "一部分")])
def test_a_lone_hundred_is_a_word_not_a_figure(text: str, expected: str) -> None:
    """老百姓 holds no 100, and 几百家, 好几十个 or 十几家 is a rough size: read as figures, they
    made every entry look foreign to the question."""
    assert chinese_numerals_to_digits(text) == expected


def test_english_words_alone_name_no_thing() -> None:
    """[provide, give] is a synonym group, not a named thing as 品博会 or NQI is."""
    norm = Normalizer([["provide", "offer", "give"], ["品博会", "expo"]])
    give = norm.tokens("give")[0]
    expo = norm.tokens("expo")[0]
    assert give not in norm.named_tokens and expo in norm.named_tokens


def test_cantonese_which_with_a_count_reads_as_mandarin() -> None:
    """係邊五間公司 is 是哪五间公司: 邊 before a numeral asks which, as before 間 or 個."""
    assert mandarin("五朵金花係邊五間公司？") == "五朵金花是哪五間公司？"
    assert mandarin("周邊五間") == "周邊五間"  # no Cantonese word: left as written


def test_cantonese_is_before_an_ordinal_reads_as_mandarin() -> None:
    """今年質量月係第幾個 asks 是第几个; 聯係第一 is Mandarin and stays."""
    assert mandarin("今年質量月係第幾個呀？") == "今年質量月是第幾個呀？"
    assert mandarin("聯係第一線") == "聯係第一線"


def test_a_count_converted_to_traditional_keeps_its_measure_word() -> None:
    """OpenCC's phrase 个中 (箇中, "therein") made 3个中国质量奖 read 3箇中國質量獎."""
    assert to_traditional("斩获3个中国质量奖提名奖") == "斬獲3個中國質量獎提名獎"
    assert to_traditional("个中滋味") == "箇中滋味"  # the word itself is left as it is


def test_replies_in_traditional_use_the_forms_taiwan_and_hong_kong_read() -> None:
    """為, 裡, 著 and 才 — not OpenCC's plain 爲, 裏, 着 and 纔 (才有高质量发展 became 纔有)."""
    text = to_traditional("只有高标准，才有高质量发展，为此在平台里记着")
    assert "才有" in text and "為此" in text and "裡" in text and "著" in text
    assert not set("纔爲裏着") & set(text)


def test_spoken_english_is_read_as_written_not_as_pinyin() -> None:
    """"gonna" once read as the pinyin gong na (共拿); it is "going to"."""
    assert Normalizer.base("When is the expo gonna be held?") == "when is the expo going to be held"
    assert Normalizer.base("i wanna join") == "i want to join"
    assert Normalizer.base("Savanna") == "savanna"  # only the whole word
