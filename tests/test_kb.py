"""Validation: every staff mistake is reported with its file, line and field."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.kb import KnowledgeError, Problem, load_knowledge
from tests.paths import ROOT, SHARED, copy_knowledge

GOOD = """\
entries:
  - id: expo-date
    category: expo
    questions:
      zh: [品博会什么时候举办, 品博会哪天开, 品博会几月份]
      en: [When is the expo?]
    answer:
      zh: 品博会计划于2022年12月举办。
      en: The expo was planned for December 2022.
    links:
      - title: 青岛市人民政府
        url: https://www.qingdao.gov.cn/
    source: 品博会计划将于今年 12 月举办
    dates:
      - date: 2022-12
    related: [expo-theme]
  - id: expo-theme
    category: expo
    questions:
      zh: [品博会的主题是什么, 品博会主题, 品博会以什么为主题]
      en: [What is the theme of the expo?]
    answer:
      zh: 以“品质青岛 畅享全球”为主题。
    source: 以“品质青岛畅享全球”为主题
"""


def write(tmp_path: Path, text: str, name: str = "expo.yaml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def problems(tmp_path: Path, text: str) -> list[Problem]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(write(tmp_path, text))
    return caught.value.problems


def line_of(text: str, needle: str, nth: int = 1) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return lines[nth - 1]


def test_valid_file_loads(tmp_path: Path) -> None:
    knowledge = load_knowledge(write(tmp_path, GOOD))
    assert [e.id for e in knowledge.entries] == ["expo-date", "expo-theme"]
    assert knowledge.by_id["expo-date"].dates[0].date.precision == "month"


def test_wrong_type_names_file_line_and_field(tmp_path: Path) -> None:
    bad = GOOD.replace("      zh: [品博会的主题是什么, 品博会主题, 品博会以什么为主题]",
                       "      zh: 12")
    [p] = problems(tmp_path, bad)
    assert p.file.endswith("expo.yaml")
    assert p.line == line_of(bad, "zh: 12")
    assert "questions.zh" in p.where and "expo-theme" in p.where


def test_missing_chinese_answer(tmp_path: Path) -> None:
    bad = GOOD.replace("      zh: 品博会计划于2022年12月举办。\n", "")
    [p] = problems(tmp_path, bad)
    assert "answer.zh" in p.where and "required" in p.message
    assert p.line == line_of(bad, "answer:")


def test_empty_answer(tmp_path: Path) -> None:
    bad = GOOD.replace("      zh: 以“品质青岛 畅享全球”为主题。\n", "")
    [p] = problems(tmp_path, bad)
    assert "answer" in p.where and "answer is empty" in p.message


def test_duplicate_id_points_at_both(tmp_path: Path) -> None:
    bad = GOOD.replace("  - id: expo-theme", "  - id: expo-date").replace("[expo-theme]", "[]")
    found = problems(tmp_path, bad)
    assert any("duplicate id 'expo-date'" in p.message and p.line == line_of(bad, "- id: expo-date", 2)
               and f":{line_of(bad, '- id: expo-date')}" in p.message for p in found)


def test_same_question_under_two_entries(tmp_path: Path) -> None:
    bad = GOOD.replace("品博会主题,", "品博会 什么时候 举办？,")
    [p] = problems(tmp_path, bad)
    assert "also a question of 'expo-date'" in p.message
    assert p.line == line_of(bad, "品博会 什么时候 举办")


def test_related_id_that_does_not_exist(tmp_path: Path) -> None:
    bad = GOOD.replace("[expo-theme]", "[expo-theme, expo-venue]")
    [p] = problems(tmp_path, bad)
    assert "related[1]" in p.where and "expo-venue" in p.message


def test_non_https_link(tmp_path: Path) -> None:
    bad = GOOD.replace("https://www.qingdao.gov.cn/", "http://www.qingdao.gov.cn/")
    [p] = problems(tmp_path, bad)
    assert "links[0].url" in p.where and "https" in p.message
    assert p.line == line_of(bad, "url:")


def test_unparseable_date(tmp_path: Path) -> None:
    bad = GOOD.replace("date: 2022-12", "date: 十二月")
    [p] = problems(tmp_path, bad)
    assert "dates[0].date" in p.where and "not a date" in p.message
    assert p.line == line_of(bad, "date: 十二月")


def test_unknown_field_and_category(tmp_path: Path) -> None:
    bad = GOOD.replace("    category: expo\n    questions:\n      zh: [品博会的",
                       "    category: food\n    anwser: x\n    questions:\n      zh: [品博会的")
    found = problems(tmp_path, bad)
    messages = " ".join(p.message for p in found)
    assert "unknown category" in messages and "unknown field" in messages


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    bad = GOOD.replace("      zh: 品博会计划于2022年12月举办。", "      zh: \"品博会计划于2022年12月举办。")
    [p] = problems(tmp_path, bad)
    assert "YAML syntax error" in p.message and p.line >= line_of(bad, "品博会计划于2022年12月举办")


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    bad = GOOD.replace("https://", "http://").replace("date: 2022-12", "date: soon")
    bad += "    related: [nope]\n"
    assert len(problems(tmp_path, bad)) == 3


def test_validate_command_prints_problems_and_fails(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace("https://", "http://"))
    run = subprocess.run([sys.executable, "run_bot.py", "validate", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert re.search(r"expo\.yaml:\d+: .*links\[0\]\.url", run.stdout)


def test_validate_command_summarises_valid_knowledge() -> None:
    run = subprocess.run([sys.executable, "run_bot.py", "validate"], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
    assert re.search(r"OK: \d+ entries", run.stdout.splitlines()[-1])


# --- the shipped knowledge ----------------------------------------------------------------------


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_every_fact_traces_to_the_article(knowledge) -> None:  # noqa: ANN001
    article_path = SHARED / "seed" / "qingdao-quality-month-2022.txt"
    if not article_path.exists():
        pytest.skip("the source article is not beside the repository")
    article = _squash(article_path.read_text(encoding="utf-8"))
    missing = [(e.id, s) for e in knowledge.entries for s in e.sources if _squash(s) not in article]
    assert not missing


def test_shipped_knowledge_is_complete(knowledge) -> None:  # noqa: ANN001
    assert 60 <= len(knowledge.entries) <= 120
    for entry in knowledge.entries:
        assert len(entry.questions.zh) >= 3 and entry.questions.en and entry.answer.en, entry.id
    task_entries = [e for e in knowledge.entries if e.category == "tasks"]
    assert len(task_entries) >= 11  # an overview and one entry per key task


def test_links_are_official_sites_only(knowledge) -> None:  # noqa: ANN001
    hosts = {re.match(r"https://([^/]+)/", link.url).group(1)  # type: ignore[union-attr]
             for e in knowledge.entries for link in e.links}
    assert all(h.endswith((".gov.cn", "wipo.int", "qingdaonews.com")) for h in hosts), hosts


def test_a_copy_of_the_knowledge_can_be_pointed_at(tmp_path: Path) -> None:
    target = tmp_path / "kb"
    copy_knowledge(target)
    run = subprocess.run([sys.executable, "run_bot.py", "--knowledge", str(target), "ask", "--json",
                          "中国品牌日是哪天"], cwd=ROOT, capture_output=True, text=True)
    assert '"entry_id": "expo-china-brand-day"' in run.stdout


def test_the_menu_names_a_category_and_an_entry_that_exist(tmp_path: Path) -> None:
    """Telegram's topic button and /services point where smalltalk.yaml's menu says; a
    renamed entry or a category without entries is an error with its line, not a silently
    broken command."""
    menu = "menu:\n  topics: expo\n  services: expo-date\n"
    write(tmp_path, menu, "smalltalk.yaml")
    knowledge = load_knowledge(write(tmp_path, GOOD))
    assert (knowledge.smalltalk.menu.topics, knowledge.smalltalk.menu.services) == (
        "expo", "expo-date")
    write(tmp_path, "menu:\n  topics: nqi\n  services: nqi-services\n", "smalltalk.yaml")
    found = {p.where: p for p in problems(tmp_path, GOOD)}
    assert found["menu.topics"].line == 2 and "expo" in found["menu.topics"].message
    assert found["menu.services"].line == 3 and "nqi-services" in found["menu.services"].message


CATEGORIES = """\
categories:
  - {id: awards, zh: 质量奖, en: Quality awards}
  - {id: expo, zh: 品博会, en: The expo}
"""


def test_categories_are_declared_in_the_knowledge(tmp_path: Path) -> None:
    """Staff rename or reorder a topic in smalltalk.yaml: every channel's topic buttons follow
    (engine.topics), with no code change; an unused one is a warning with its line."""
    from bot.engine import Engine

    write(tmp_path, CATEGORIES, "smalltalk.yaml")
    knowledge = load_knowledge(write(tmp_path, GOOD))
    assert [c.id for c in knowledge.categories] == ["awards", "expo"]
    engine = Engine(knowledge)
    assert engine.topics("zh") == [("expo", "品博会")]
    assert engine.topics("en") == [("expo", "The expo")]
    [unused] = [w for w in knowledge.warnings if w.where.startswith("categories")]
    assert unused.file.endswith("smalltalk.yaml") and unused.line == 2
    assert "awards" in unused.where and "no entry" in unused.message


def test_an_undeclared_category_names_itself_and_the_declared_ones(tmp_path: Path) -> None:
    write(tmp_path, CATEGORIES, "smalltalk.yaml")
    bad = GOOD.replace("    category: expo\n    questions:\n      zh: [品博会的",
                       "    category: food\n    questions:\n      zh: [品博会的")
    [p] = problems(tmp_path, bad)
    assert p.file.endswith("expo.yaml") and p.line == line_of(bad, "category: food")
    assert "expo-theme" in p.where and "category" in p.where
    assert "'food'" in p.message and "awards, expo" in p.message
    write(tmp_path, CATEGORIES + "  - {id: expo, zh: 重复}\n", "smalltalk.yaml")
    [twice] = problems(tmp_path, GOOD)
    assert twice.line == 4 and "expo" in twice.message and "twice" in twice.message


def test_the_shipped_categories_keep_their_ids_names_and_order() -> None:
    from bot.engine import Engine

    engine = Engine(load_knowledge(ROOT / "knowledge"))
    assert engine.topics("zh") == [
        ("campaign", "质量月主题活动"), ("tasks", "十项重点工作"), ("nqi", "NQI一站式服务"),
        ("expo", "品博会与品牌日"), ("awards", "质量奖"), ("brands", "品牌成绩"),
        ("contest", "品质青岛故事大赛")]
    assert [name for _, name in engine.topics("en")][:2] == [
        "Quality Month ceremony", "The ten key tasks"]


def test_alike_phrasings_warn_unless_they_name_different_things() -> None:
    """Staff are warned of two entries' phrasings the matcher may confuse (省长 and 市长 differ
    by one character), not of "What is the open day?" beside "What is the expo?": each names
    what it asks of, which the bot tells apart."""
    from bot.kb import lint

    warned = [w.message for w in lint(load_knowledge(ROOT / "knowledge"))]
    assert any("'省长质量奖谁获得了'" in w and "award-mayor" in w for w in warned)
    assert not any("What is the open day?" in w for w in warned)
