"""Source checks: every answer says exactly what the report says.

A bureau bot that states a wrong figure publicly is worse than no bot, and staff will edit the
knowledge for years. So ``validate`` (and every live reload) compares each answer with the
article sentences quoted in its ``source``:

- every number with its unit (26家, 10万余次, 120亿元), date (2022年4月), quoted title (《…》, “…”)
  and glossary name (people, organisations) of the Chinese answer appears in the source, unless
  the entry lists it under ``not_in_source`` (staff-supplied facts such as open-day sessions);
- the English answer has the same numbers as the Chinese one, and every Chinese name it quotes
  is in the Chinese answer (or the source);
- a Chinese name of ``glossary.yaml`` is rendered with the glossary's one English name;
- time words (目前, 今年, currently, to date …) without a year in the same sentence, and
  phrasings asking about today (现在, 还能 …) of dated entries, are warnings;
- phrasings made only of question words and generic nouns (哪些部门参与, What is the deadline?)
  are warnings naming the other entries they would also fit;
- synonym members found nowhere in the article are warnings unless the group is
  ``confirmed: true`` by staff.

The article is "the report of 29 September 2022": 今年 in a source means its year, and a date in an
answer that is the report's own date (截至2022年9月报道时) needs no source sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.problems import Problem

if TYPE_CHECKING:  # the type only: bot.kb runs these checks while it loads
    from bot.kb import Entry

Line = Callable[..., int]  # (entry id, *path inside the entry) -> line

_SPACE = re.compile(r"\s+")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_ZH_NUMBER = re.compile(
    r"(\d+(?:\.\d+)?)(余)?(万|亿)?(余)?(亿元|万元|元|家|个|件|部|幅|次|条|项|届|批|名|位|种|强)")
_ZH_DATE = re.compile(r"(\d{4})年(?:(\d{1,2})月(?:份)?(?:(\d{1,2})日)?)?|(\d{1,2})月(?:份)?(?:(\d{1,2})日)?")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_QUOTED = re.compile(r"《([^》]+)》|“([^”]+)”")
_SENTENCE = re.compile(r"[^。；;！？!?\n]+")
_EN_SENTENCE = re.compile(r"[^.;!?\n]+(?:\.\d[^.;!?\n]*)*")
_YEAR_ZH = re.compile(r"(19|20)\d\d")


def _words(text: str) -> list[str]:
    return text.split()


_EN_MULT = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
_EN_WORDS = {w: i for i, w in enumerate(_words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"))}
_EN_ORDINALS = {w: i for i, w in enumerate(
    _words("zeroth first second third fourth fifth sixth seventh eighth ninth tenth"))}
_MONTHS = {m: i for i, m in enumerate(
    _words("january february march april may june july august september october november december"), 1)}
_ZH_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
                "九": 9, "十": 10}
_ZH_NUMERAL_WORD = re.compile(r"第?([一二两三四五六七八九十]+)(?=[个大届项朵家件批类种条位名次期])")
_LIST_NUMBER = re.compile(r"^\s*\d+[.、)]\s*", re.MULTILINE)
_EN_CHINESE = re.compile(rf"\(([^()]*[{_CJK}][^()]*)\)|“([^”]*[{_CJK}][^”]*)”")

# A person's name follows a post (局长高善武) or comes before 同志; the characters that may
# follow a two-character name tell where it ends.
_POSTS = ("局长", "主任", "总经理", "副书记", "书记", "记者", "院长", "董事长", "市长", "省长")
_AFTER_NAME = set("发现在介说等、，。：；和与及同为是的")

# Time words that, in the article, mean "September 2022" and so need a year beside them.
TIME_WORDS_ZH = ("截至目前", "目前", "今年", "现在", "如今", "最近", "至今")
TIME_WORDS_EN = ("currently", "to date", "this year", "at present", "nowadays", "now",
                 "so far", "recently")
# Phrasings asking about today: the knowledge only knows 2022.
TODAY_ZH = ("现在", "目前", "今年", "如今", "还能", "还在", "还可以", "还办", "还有没有", "最新")
TODAY_EN = ("now", "currently", "this year", "today", "still", "these days")


# The report's date when glossary.yaml does not give one: the article says the 28 September 2022
# event was held "yesterday" (昨日).
REPORT_DATE = date(2022, 9, 29)


@dataclass
class Glossary:
    """``glossary.yaml``: one English name per Chinese name, words that are not a subject, the
    report's date and where the article is."""

    names: dict[str, str] = field(default_factory=dict)
    generic_zh: list[str] = field(default_factory=list)
    generic_en: list[str] = field(default_factory=list)
    report_date: date | None = REPORT_DATE
    article: str | None = None


def squash(text: str) -> str:
    """Without whitespace, so that the article's line breaks and spaces never matter."""
    return _SPACE.sub("", text)


def _with_report_year(source: str, glossary: Glossary) -> str:
    """In the article 今年 is the report's year; say it so the answer's 2022年 matches."""
    if glossary.report_date is None:
        return source
    return source.replace("今年", f"{glossary.report_date.year}年")


def _zh_value(number: str, wan: str | None, yi: str | None = None) -> float:
    value = float(number.replace(",", ""))
    if wan == "万":
        value *= 1e4
    elif wan == "亿":
        value *= 1e8
    return value


def zh_numbers(text: str) -> tuple[set[float], set[float]]:
    """(values written in digits, values written as Chinese numerals) of a Chinese text."""
    digits: set[float] = set()
    text = _LIST_NUMBER.sub("", text)
    for m in re.finditer(r"(\d+(?:\.\d+)?)(余)?(万|亿)?", text):
        digits.add(_zh_value(m.group(1), m.group(3)))
    words = set()
    for m in _ZH_NUMERAL_WORD.finditer(text):
        run = m.group(1)
        if len(run) == 1:
            words.add(float(_ZH_NUMERALS[run]))
        elif run.startswith("十"):
            words.add(10.0 + _ZH_NUMERALS.get(run[1:], 0))
    return digits, words


def en_numbers(text: str) -> tuple[set[float], set[float]]:
    """(values written in digits, values written as words or month names) of an English text."""
    digits: set[float] = set()
    lowered = _EN_CHINESE.sub(" ", _LIST_NUMBER.sub("", text)).lower()
    for m in re.finditer(r"(\d[\d,]*(?:\.\d+)?)\+?(?:\s*(thousand|million|billion)\b)?", lowered):
        raw = m.group(1).rstrip(",")
        if re.fullmatch(r"\d{1,3}(,\d{3})+|\d+(\.\d+)?", raw) is None:
            raw = raw.split(",")[0]
        value = float(raw.replace(",", ""))
        if m.group(2):
            value *= _EN_MULT[m.group(2)]
        digits.add(value)
    words = {float(v) for w, v in {**_EN_WORDS, **_EN_ORDINALS, **_MONTHS}.items()
             if re.search(rf"\b{w}\b", lowered)}
    return digits, words


def _fmt(value: float) -> str:
    if value != int(value):
        return f"{value:g}"
    return f"{value:.0f}" if value < 10000 else f"{value:,.0f}"


def _date_parts_ok(m: re.Match[str], source: str, glossary: Glossary) -> bool:
    year, month, day = (m.group(1), m.group(2), m.group(3)) if m.group(1) else \
        (None, m.group(4), m.group(5))
    report = glossary.report_date
    if report is not None and (year is None or int(year) == report.year) \
            and (month is None or int(month) == report.month) \
            and (day is None or int(day) == report.day):
        return True  # the report's own date: "截至2022年9月报道时"
    if year and f"{year}年" not in source and not (month is None and year in source):
        return False
    if month and f"{int(month)}月" not in source:
        return False
    return not (day and f"{int(day)}日" not in source)


def _allowed(token: str, entry: Entry) -> bool:
    return any(squash(token) in squash(x) or squash(x) in squash(token)
               for x in getattr(entry, "not_in_source", []) or [])


def _sentences_without_year(text: str, words: Iterable[str], english: bool) -> list[str]:
    found = []
    pattern = _EN_SENTENCE if english else _SENTENCE
    for sentence in pattern.findall(text):
        if _YEAR_ZH.search(sentence):
            continue
        low = sentence.lower()
        for word in words:
            hit = re.search(rf"\b{re.escape(word)}\b", low) if english else word in sentence
            if hit:
                found.append(word)
                break
    return found


def check_entry(entry: Entry, glossary: Glossary, line: Line, file: str,
                errors: list[Problem], warnings: list[Problem]) -> None:
    """Every figure, date, title and name of one entry's answers against its source."""
    label = entry.id
    source = squash(_with_report_year("\n".join(entry.sources), glossary))
    zh = squash(_LIST_NUMBER.sub("", entry.answer.zh))
    zh_line = line(entry.id, "answer", "zh")

    def error(token: str, message: str, at: int = zh_line, where: str = "answer.zh") -> None:
        errors.append(Problem(file, at, f"{label} {where}", f"'{token}': {message}"))

    reported = set()
    for m in _ZH_DATE.finditer(zh):
        if not _date_parts_ok(m, source, glossary) and not _allowed(m.group(0), entry):
            reported.add(m.group(0))
            error(m.group(0), "this date is not in the entry's source sentences; check the "
                  "article, or list it under not_in_source if staff supplied it")
    source_digits, _ = zh_numbers(source)
    for m in _ZH_NUMBER.finditer(zh):
        token = m.group(0)
        plain = re.sub(r"余", "", token)
        if token in source or plain in source or _allowed(token, entry):
            continue
        if any(token in d or d in token for d in reported):
            continue
        error(token, "this figure is not in the entry's source sentences (changed or mistyped?)")
        reported.add(token)
    report_numbers = set()
    if glossary.report_date is not None:
        d = glossary.report_date
        report_numbers = {float(d.year), float(d.month), float(d.day)}
    answer_digits, answer_words = zh_numbers(zh)
    for value in sorted(answer_digits - source_digits - report_numbers):
        token = _fmt(value).replace(",", "")
        if any(token in r for r in reported) or _allowed(token, entry):
            continue
        if not any(re.search(rf"(?<!\d){re.escape(token)}(?!\d)", r) for r in reported):
            error(token, "this number is not in the entry's source sentences")
    for m in _QUOTED.finditer(zh):
        title = m.group(1) or m.group(2)
        if squash(title) not in source and not _allowed(title, entry):
            error(m.group(0), "this quoted title is not in the entry's source sentences")
    for name in glossary.names:
        if name in zh and not _name_in(name, source) and not _allowed(name, entry):
            error(name, "this name is not in the entry's source sentences")
    for person in _persons(zh):
        if person not in source and not _allowed(person, entry):
            error(person, "this person, with this post, is not in the entry's source sentences")

    en = entry.answer.en
    if en:
        en_line = line(entry.id, "answer", "en")
        en_digits, en_words = en_numbers(en)
        for value in sorted(en_digits - answer_digits - answer_words):
            error(_fmt(value), "this number of the English answer is not in the Chinese answer",
                  en_line, "answer.en")
        for value in sorted(answer_digits - en_digits - en_words):
            error(_fmt(value), "this number of the Chinese answer is missing from the English "
                  "answer", en_line, "answer.en")
        zh_plain = re.sub(r"[“”《》‘’\"]", "", zh)
        for groups in _EN_CHINESE.findall(en):
            run = groups[0] or groups[1]
            for part in re.split(r"[/、，,;；]", re.sub(r"[“”《》‘’\"]", "", run)):
                part = squash(part)
                if re.search(f"[{_CJK}]", part) and part not in zh_plain and part not in source \
                        and not _allowed(part, entry):
                    error(part, "this Chinese name in the English answer is not in the Chinese "
                          "answer", en_line, "answer.en")
        lowered = en.lower()
        for name, english in glossary.names.items():
            if name in zh and english.lower() not in lowered:
                error(name, f"the glossary's English name is '{english}'; the English answer "
                      "translates it another way (or leaves it out)", en_line, "answer.en")
        by_english: dict[str, list[str]] = {}
        for name, english in glossary.names.items():
            by_english.setdefault(english.lower(), []).append(name)
        for english, names in by_english.items():
            rest = lowered
            for longer in by_english:  # "Qingdao Daily" inside "Qingdao Daily Newspaper Group"
                if english in longer and longer != english:
                    rest = rest.replace(longer, " ")
            if re.search(rf"\b{re.escape(english)}\b", rest) \
                    and not any(_short(n) in zh for n in names):
                error(english, f"the English answer names {' / '.join(names)}, which the Chinese "
                      "answer does not", en_line, "answer.en")

    for lang, text, english in (("zh", entry.answer.zh, False), ("en", en or "", True)):
        for word in _sentences_without_year(text, TIME_WORDS_EN if english else TIME_WORDS_ZH,
                                            english):
            warnings.append(Problem(
                file, line(entry.id, "answer", lang), f"{label} answer.{lang}",
                f"'{word}' without a year: in the report it means September 2022; write e.g. "
                + ("'as of the September 2022 report'" if english else "“截至2022年9月报道时”")))
    dated = bool(entry.dates) or bool(_YEAR_ZH.search(entry.answer.zh))
    if dated:
        for lang, words in (("zh", TODAY_ZH), ("en", TODAY_EN)):
            for i, question in enumerate(getattr(entry.questions, lang)):
                low = question.lower()
                for word in words:
                    hit = re.search(rf"\b{word}\b", low) if lang == "en" else word in question
                    if hit:
                        warnings.append(Problem(
                            file, line(entry.id, "questions", lang, i),
                            f"{label} questions.{lang}[{i}]",
                            f"'{question}' asks about today ('{word}'); the answer only knows "
                            "2022: ask about 2022 instead"))
                        break


def _short(name: str) -> str:
    """The name without the prefixes Chinese answers often drop (质量基础设施一站式服务平台)."""
    for prefix in ("质量基础设施", "青岛市", "青岛"):
        if name.startswith(prefix) and len(name) > len(prefix) + 2:
            return name[len(prefix):]
    return name


def _persons(text: str) -> list[str]:
    """Names after a post (局长高善武) or before 同志 (黄克兴同志), as the article writes them."""
    found = []
    for post in _POSTS:
        for m in re.finditer(re.escape(post) + rf"([{_CJK}]{{2,3}})", text):
            name = m.group(1)
            if len(name) == 3 and name[2] in _AFTER_NAME:
                name = name[:2]
            found.append(post + name)
    found += [m.group(0) for m in re.finditer(rf"[{_CJK}]{{2,3}}同志", text)]
    return found


def _name_in(name: str, source: str) -> bool:
    """A name is in the source as written, or without the city prefix (市市场监督管理局)."""
    if name in source:
        return True
    for prefix in ("青岛市", "青岛"):
        if name.startswith(prefix) and len(name) > len(prefix) + 2 \
                and name[len(prefix):] in source:
            return True
    return False


_EN_STOP = set(_words("""a an the is are was were be been do does did of in on at to for by with and or
it its this that these those there their what which who whom whose when where why how many much
about tell me please give i can could you we qingdao qingdao's s 's"""))


_ZH_STOP = ("哪些", "哪个", "哪几个", "哪几家", "哪家", "哪几", "什么", "是谁", "谁", "怎么", "怎样",
            "如何", "是", "的", "有", "吗", "呢", "了", "都", "到", "要", "能", "可以", "啥", "哪",
            "这个", "这些", "那个", "一下", "具体", "多久")


def _content(question: str, generic: list[str], question_words: list[str]) -> tuple[str, list[str]]:
    """What is left of a phrasing once question words and generic nouns are taken out, and which
    generic words it used."""
    used = []
    if re.search(f"[{_CJK}]", question):
        rest = question
        for word in sorted(set(generic) | set(question_words) | set(_ZH_STOP), key=len,
                           reverse=True):
            if word in rest:
                if word in generic:
                    used.append(word)
                rest = rest.replace(word, " ")
        return re.sub(rf"[^{_CJK}A-Za-z0-9]", "", rest), used
    words = re.findall(r"[a-z0-9']+", question.lower())
    low = " ".join(words)
    for word in sorted(generic, key=len, reverse=True):
        if re.search(rf"\b{re.escape(word)}\b", low):
            used.append(word)
            low = re.sub(rf"\b{re.escape(word)}\b", " ", low)
    rest = [w for w in low.split() if w not in _EN_STOP and w not in question_words]
    return " ".join(rest), used


def _topic_text(entry: Entry) -> str:
    return " ".join([entry.answer.zh, entry.answer.en or "", *entry.questions.zh,
                     *entry.questions.en]).lower()


def check_phrasings(entries: list[Entry], glossary: Glossary, question_words: list[str],
                    line: Line, files: dict[str, str], warnings: list[Problem]) -> None:
    """A phrasing with no word of its entry's subject would also catch other topics."""
    for entry in entries:
        for lang in ("zh", "en"):
            generic = glossary.generic_zh if lang == "zh" else glossary.generic_en
            for i, question in enumerate(getattr(entry.questions, lang)):
                rest, used = _content(question, generic, question_words)
                if rest:
                    continue
                others = [e.id for e in entries if e.id != entry.id and used and any(
                    w.lower() in _topic_text(e) for w in used)]
                also = (f"; it would also fit {', '.join(others[:5])}"
                        + (f" (+{len(others) - 5})" if len(others) > 5 else "")) if others else ""
                warnings.append(Problem(
                    files[entry.id], line(entry.id, "questions", lang, i),
                    f"{entry.id} questions.{lang}[{i}]",
                    f"'{question}' has no word of this entry's subject, only question words and "
                    f"generic words{also}; name the subject (e.g. 十大质量提升工作, the expo)"))


def check_synonyms(groups: list[tuple[list[str], bool, int]], article: str | None, file: str,
                   warnings: list[Problem]) -> None:
    """Members of synonym groups found nowhere in the article, unless staff confirmed them."""
    if article is None:
        return
    text = re.sub(r"[“”\"]", "", squash(article))
    for members, confirmed, at in groups:
        if confirmed:
            continue
        missing = [m for m in members if re.search(f"[{_CJK}]", m) and squash(m) not in text]
        if missing:
            warnings.append(Problem(
                file, at, "synonyms", f"{', '.join(missing)} not found in the article: if it is "
                "a common abbreviation of the same thing, write the group as "
                "'{words: [...], confirmed: true}'; if it is a different thing, remove it"))


def load_glossary(data: Any, line: Callable[..., int], file: str, directory: Path,
                  errors: list[Problem]) -> tuple[Glossary, str | None]:
    """Read glossary.yaml (already parsed); returns the glossary and the article's text."""
    glossary = Glossary()
    if data is None:
        return glossary, None
    if not isinstance(data, dict):
        errors.append(Problem(file, 1, "", "the file must have 'names:', 'generic_words:' and "
                              "'report:'"))
        return glossary, None
    for key in data:
        if key not in ("names", "generic_words", "report"):
            errors.append(Problem(file, line(key), str(key),
                                  "unknown field (a typo?); use names, generic_words, report"))
    names = data.get("names") or {}
    if not isinstance(names, dict):
        errors.append(Problem(file, line("names"), "names",
                              "must map each Chinese name to its one English name"))
        names = {}
    for zh, en in names.items():
        if not isinstance(en, str) or not en.strip():
            errors.append(Problem(file, line("names", zh), f"names.{zh}",
                                  "give one English name, e.g. 青岛报业传媒集团: Qingdao Newspaper "
                                  "Media Group"))
        else:
            glossary.names[str(zh).strip()] = en.strip()
    generic = data.get("generic_words") or {}
    if isinstance(generic, dict):
        glossary.generic_zh = [str(w) for w in generic.get("zh") or []]
        glossary.generic_en = [str(w).lower() for w in generic.get("en") or []]
    report = data.get("report") or {}
    article_text = None
    if isinstance(report, dict):
        when = report.get("date")
        if isinstance(when, date):
            glossary.report_date = when
        elif when is not None:
            errors.append(Problem(file, line("report", "date"), "report.date",
                                  "write the report's date as YYYY-MM-DD, e.g. 2022-09-29"))
        path = report.get("article")
        if path:
            article = Path(str(path))
            article = article if article.is_absolute() else directory / article
            glossary.article = str(article)
            try:
                article_text = article.read_text(encoding="utf-8")
            except OSError:
                article_text = None
    return glossary, article_text
