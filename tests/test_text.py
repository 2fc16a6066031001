"""Normalisation: what people type becomes what the knowledge says."""

import pytest

from bot.text import (
    Normalizer,
    chinese_numerals_to_digits,
    clean,
    detect_language,
    segment_pinyin,
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
