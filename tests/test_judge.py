"""The learned judge (bot/judge.py): fitted on labelled questions about some products, it must
carry over to products it never saw — answer a rewording, refuse another question."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.engine import Engine, Status
from bot.judge import Labelled, example_of, fit_judge
from bot.kb import load_knowledge

PRODUCTS = ["电饭煲", "空调", "冰箱", "洗衣机", "热水器", "吸尘器", "微波炉", "电风扇", "加湿器",
            "净水器", "烤箱", "电视机", "打印机", "路由器", "投影仪", "咖啡机", "榨汁机", "豆浆机",
            "电熨斗", "剃须刀", "吹风机", "电暖器", "油烟机", "洗碗机", "消毒柜", "电磁炉",
            "面包机", "扫地机", "按摩椅", "跑步机", "血压计", "体重秤", "台灯", "音箱"]
SEEN, UNSEEN = PRODUCTS[:26], PRODUCTS[26:]
REWORDINGS = ["{}的用途是什么", "{}有啥用处", "{}能干嘛用"]  # same question as 「{}有什么用」
OTHER_QUESTIONS = ["{}多少钱", "{}怎么保养", "{}在哪里买"]  # same topic, not answered


def _knowledge(tmp_path: Path) -> Engine:
    entries = [{
        "id": f"use-{i}", "category": "brands",
        "questions": {"zh": [f"{p}有什么用", f"{p}是干什么的", f"{p}的作用"],
                      "en": [f"What is the {i}th product for?"]},
        "answer": {"zh": f"{p}的用处（测试）", "en": "test"},
        "source": "test",
    } for i, p in enumerate(PRODUCTS)]
    (tmp_path / "products.yaml").write_text(
        yaml.safe_dump({"entries": entries}, allow_unicode=True), encoding="utf-8")
    return Engine(load_knowledge(tmp_path))


def test_judge_learns_which_differences_matter(tmp_path: Path) -> None:
    engine = _knowledge(tmp_path)
    labelled = [Labelled(t.format(p), i, same) for i, p in enumerate(SEEN)
                for templates, same in ((REWORDINGS, True), (OTHER_QUESTIONS, False))
                for t in templates]
    engine.judge = fit_judge([example_of(engine, x) for x in labelled], engine.index.information,
                             min_precision=0.9, max_hard=0.1)
    for i, product in enumerate(UNSEEN, start=len(SEEN)):
        for template in REWORDINGS:
            reply = engine.ask(template.format(product))
            assert (reply.status, reply.entry_id) == (Status.ANSWER, f"use-{i}"), template
        for template in OTHER_QUESTIONS:
            reply = engine.ask(template.format(product))
            assert reply.status is not Status.ANSWER, (template, reply.entry_id)


def test_engine_without_judge_keeps_thresholds(engine: Engine) -> None:
    """The shipped engine has no judge: its answers come from the fixed thresholds."""
    assert engine.judge is None
    reply = engine.ask("品博会什么时候举办")
    assert reply.status is Status.ANSWER and reply.entry_id == "expo-date"
