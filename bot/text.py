"""Normalising Chinese and English text so that what people type meets what staff wrote.

Everything the matcher compares goes through :class:`Normalizer` — the knowledge when it is
loaded, the question when it is asked — so both sides are treated exactly alike.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Container, Iterable, Sequence
from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
_LATIN_RE = re.compile(r"[a-z]")
# A synonym group is one character of the private-use area, so a long name ("国家质量基础设施")
# weighs as much as its abbreviation ("NQI") and English meets Chinese.
_GROUP_BASE = 0xE000
# A token is one Chinese character, one synonym group, one Latin word or one number.
_TOKEN_RE = re.compile(f"[{_CJK}]|[\ue000-\uf8ff]|[a-z]+|[0-9]+(?:\\.[0-9]+)?")
_CJK_GAP = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
# Everything but letters, digits and spaces: ``\w`` is exactly ``str.isalnum`` plus "_", and one
# regex pass is several times faster than testing every character in Python.
_NOT_ALNUM_RE = re.compile(r"[^\w ]|_")
# Text whose tokens join back into the very same text (Chinese characters and numbers only), so
# that the tokens → text round trip of spelling repair can be skipped.
_ROUND_TRIP_SAFE = re.compile(f"[{_CJK}0-9]*")
# A Latin word that stem() may change: four letters or more, ending in s, or an irregular verb.
_MAY_STEM = re.compile(r"[a-z]{3}s(?![a-z])|\b(?:has|had|got|gets|gotten)\b")
# "how many trademarks has qingdao got" is asked with the words of "does qingdao have": the
# forms of have and get are one word each (be and do as one word cost answers: see README)
_IRREGULAR = {"has": "have", "had": "have", "got": "get", "gets": "get", "gotten": "get"}

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
           "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000, "亿": 100000000}
_NUMERAL_RUN = re.compile("[零〇一二两三四五六七八九十百千]+")
# A lone numeral is a number only before a measure word or after 第 ("五朵", "第四届"):
# converting every 一 would turn 一站式 into 1站式.
_MEASURE = set("月日号个届项条家件年次名位批款部幅大种朵期")
_DIGIT_READING = ["ling", "yi", "er", "san", "si", "wu", "liu", "qi", "ba", "jiu"]

BIGRAM_SEP = "\x1f"


def group_token(number: int) -> str:
    """The one token that stands for synonym group ``number`` (in the staff's order)."""
    return chr(_GROUP_BASE + number)


def is_group_token(token: str) -> bool:
    """Whether a token stands for a synonym group or a question word (see group_token)."""
    return "\ue000" <= token[0] <= "\uf8ff"


def has_cjk(text: str) -> bool:
    return bool(_CJK_RE.search(text))


def is_cjk_token(token: str) -> bool:
    # _CJK's three ranges compared directly: spelling repair asks this of every token
    return len(token) == 1 and ("\u4e00" <= token <= "\u9fff" or "\u3400" <= token <= "\u4dbf"
                                or "\uf900" <= token <= "\ufaff")


@lru_cache(maxsize=32)  # a question is converted up to three times (its script, its base form)
def to_simplified(text: str) -> str:
    return _T2S.convert(text)


@lru_cache(maxsize=1)
def _s2t() -> opencc.OpenCC:
    # loaded on first use: most questions never need it. Taiwan's standard forms (為, 裡, 著,
    # 才), which Hong Kong readers use too: OpenCC's plain s2t writes 爲, 裏, 着 and turns
    # 才有 into 纔有, which neither reads as current script
    return opencc.OpenCC("s2tw")


def to_traditional(text: str) -> str:
    # OpenCC reads 3个中国 as 3 + 个中 (箇中, "therein"): after a number 个 counts (個)
    return _COUNTED_GE_RE.sub(r"\1個", _s2t().convert(text))


_COUNTED_GE_RE = re.compile(r"([\d一二兩三四五六七八九十百千萬幾多])箇")


def is_traditional(text: str) -> bool:
    """True when the text holds characters that only traditional script uses."""
    return has_cjk(text) and to_simplified(text) != text


def clean(text: str) -> str:
    """Make any user input safe to process: NFKC, no control characters, single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL_RE.sub(" ", text)
    return " ".join(text.split())


def mandarin(text: str) -> str:
    """Written Cantonese (a Hong Kong or Macau visitor's 主題活動喺邊度舉行) with its function
    words in Mandarin (主題活動在哪裡舉行), so that it meets the knowledge's words; the
    particles that carry nothing (㗎, 咗) no longer count as words the knowledge never uses.
    Only a text with a word Mandarin does not use is changed: 係 and 邊 are Mandarin too."""
    if not _CANTONESE_MARK.search(text):
        return text
    return _CANTONESE_RE.sub(lambda m: _CANTONESE[m.group(0)], text)


# Cantonese words, each with the Mandarin it reads as (in the asker's traditional script)
_CANTONESE = {"係唔係": "是不是", "係咪": "是不是",
              "乜嘢": "什麼", "咩嘢": "什麼", "咩": "什麼", "而家": "現在", "點樣": "怎樣",
              "點講": "怎麼講", "點說": "怎麼說", "啱唔啱": "對不對", "啱": "對", "攞": "拿",
              "點解": "為什麼", "幾多": "多少", "幾耐": "多久", "呢個": "這個",
              "邊度": "哪裡", "邊個": "誰", "邊位": "哪位",
              "邊": "哪", "嘅": "的", "咗": "了", "喺": "在", "啲": "些", "係": "是", "冇": "沒有",
              "嚟": "來", "佢": "他", "睇": "看", "唔": "不", "一齊": "一起", "㗎": "", "喎": "",
              "嘞": "", "啩": "", "聽講": "聽說"}
# 係 and 邊 are Mandarin too, but not 係邊幾間 (是哪几家), 係幾月 (是几月) or 係第幾屆 (是第几届)
_CANTONESE_MARK = re.compile("[嘅咗喺啲咩冇嚟㗎佢睇唔喎嘞啩啱攞]|乜嘢|而家|聽講(?![座課])|點樣|點講|"
                             "點解|幾多|幾耐|邊度|邊個|係[邊咪幾乜點]|係第[幾几]|邊[幾間]")
# 邊 as "which" only before what it asks of (not 周邊, 旁邊); 係 not in 關係; 聽講 not 聽講座
_CANTONESE_RE = re.compile("啱唔啱|係唔係|係咪|聽講(?![座課])|乜嘢|咩嘢|而家|點樣|點講|點說|點解|幾多|"
                           "幾耐|呢個|邊度|邊個|邊位|一齊|"
                           "(?<![周旁身左右前後])邊(?=[個度位間啲幾年日天處家一兩二三四五六七八九十])|(?<![關聯联])係|"
                           "[咩嘅咗喺啲冇嚟佢睇唔㗎喎嘞啩啱攞]")


def chinese_numerals_to_digits(text: str) -> str:
    """四十五 → 45, 十二月 → 12月, 第四届 → 第4届; leaves 一站式 and 一带一路 alone."""

    def convert(match: re.Match[str]) -> str:
        run = match.group(0)
        before = text[match.start() - 1] if match.start() > 0 else ""
        after = text[match.end()] if match.end() < len(text) else ""
        has_unit = any(ch in "十百千" for ch in run)
        counted = (after in _MEASURE and (before == "" or before not in "哪几每")) or before == "第"
        if run == "一" and text.startswith(("部分", "部份"), match.end()):
            return run  # 一部分 is "a part", not one film
        if (before and before in "几幾数數") or (after and after in "几幾"):
            return run  # 几十个, 十几家, 数百: a rough size, not a figure the report must give
        if run in ("百", "千") and not counted:
            return run  # 老百姓, 几百家, 千家万户: words, or a rough size, not a figure
        if not has_unit and not counted and not (len(run) >= 3 and (after == "年" or "〇" in run)):
            return run  # 一站式, 一带一路, 九分之一一…: words, not numbers
        value = _numeral_value(run)
        return run if value is None else str(value)

    return _NUMERAL_RUN.sub(convert, text)


def _numeral_value(run: str) -> int | None:
    if all(ch in _DIGITS for ch in run):  # 二〇二二
        return int("".join(str(_DIGITS[ch]) for ch in run))
    total, current = 0, 0
    for ch in run:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        elif ch in _UNITS:
            total += (current or 1) * _UNITS[ch]
            current = 0
        else:
            return None
    return total + current


@lru_cache(maxsize=65536)
def char_pinyin(token: str) -> str:
    """Toneless pinyin of one character (or the reading of a one-digit number).

    Fuzzy pairs that many speakers merge (zh/z, ch/c, sh/s, -ng/-n) are folded together so
    near-homophone typos meet the right character.
    """
    if token.isdigit():
        syllable = _DIGIT_READING[int(token)] if len(token) == 1 else token
    else:
        # Only single characters are looked up, and their pinyin does not depend on pypinyin's
        # phrase dictionary (checked over every CJK character): not loading it saves ~40 MB
        # and most of the import's half second.
        os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
        os.environ.setdefault("PYPINYIN_NO_DICT_COPY", "1")
        from pypinyin import Style, lazy_pinyin  # imported only when a typo needs it

        syllable = lazy_pinyin(token, style=Style.NORMAL, errors="default")[0]
    return fold_syllable(syllable)


@lru_cache(maxsize=1 << 16)
def char_readings(token: str) -> tuple[str, ...]:
    """Every toneless reading of one character, folded as :func:`char_pinyin` folds (薄 is
    bao and bo, 识 shi and zhi): a citizen's IME typed the reading they meant, which need not
    be the first one."""
    if token.isdigit() or len(token) != 1:
        return (char_pinyin(token),)
    from pypinyin import Style, pinyin

    found = [fold_syllable(s) for s in pinyin(token, style=Style.NORMAL, heteronym=True,
                                              errors="default")[0]]
    first = char_pinyin(token)
    return (first, *sorted(set(found) - {first}))


def fold_syllable(syllable: str) -> str:
    s = syllable.lower().replace("v", "u").replace("ü", "u")
    for hard, soft in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if s.startswith(hard):
            s = soft + s[2:]
    if s.endswith("ng") and len(s) > 2:
        s = s[:-1]
    return s


def segment_pinyin(word: str, syllables: Container[str], longest: int = 6) -> list[str] | None:
    """Split Latin letters typed as pinyin ("pinbohui") into known syllables, or None."""
    n = len(word)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for i in range(n):
        if best[i] is None:
            continue
        for j in range(i + 1, min(n, i + longest) + 1):
            piece = fold_syllable(word[i:j])
            if piece in syllables:
                candidate = best[i] + [piece]  # type: ignore[operator]
                if best[j] is None or len(candidate) < len(best[j]):  # type: ignore[arg-type]
                    best[j] = candidate
    return best[n]


def stem(word: str) -> str:
    """A deliberately tiny English stemmer: plurals (services → service, cities → city) and
    the forms of have and get.

    Verb endings are left alone: stripping them maps "organized" and "organize" apart.
    """
    irregular = _IRREGULAR.get(word)
    if irregular is not None:
        return irregular
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s"):
        return word[:-1]
    return word


class Normalizer:
    """Turns text into matching tokens, applying the staff's synonym table.

    Every variant of a synonym group becomes the group's one token, longest variant first, so
    "青岛国际品质生活博览会", "品质生活博览会", "expo" and "品博会" are all the same word.
    """

    def __init__(self, synonym_groups: Iterable[Sequence[str]] = (),
                 question_groups: Iterable[Sequence[str]] = (),
                 fillers: Iterable[str] = (), corpus: Iterable[str] = ()) -> None:
        mapping: dict[str, str] = {}
        ends: list[str] = []
        fillers = list(fillers)
        for filler in fillers:  # words that carry no meaning here: 请问, 我想知道, please
            key = self.base(filler)
            if len(key) == 1 and _CJK_RE.match(key):
                ends.append(key)  # 呀, 哈: only at the end of a clause, never inside 哈尔滨
            elif key:
                mapping[key] = " "
        self._end_fillers = (re.compile(f"[{''.join(map(re.escape, ends))}]+(?=[\\W_]|$)")
                             if ends else None)
        thanks = sorted({f for f in fillers if f in _THANKS}, key=len, reverse=True)
        self._courtesy = re.compile(  # 谢谢 closing a message: see strip_fillers
            "(?:^|(?<=[\\W_]))(?:" + "|".join(thanks) + ")[你您啦了哈呀啊]*(?=[\\W_]|$)"
        ) if thanks else None
        self.variants: list[str] = []
        groups, asked = list(synonym_groups), list(question_groups)
        self.question_tokens = frozenset(chr(_GROUP_BASE + len(groups) + i) for i in range(len(asked)))
        # Named things (品博会, NQI, 五朵金花…): groups with a variant of 3+ characters or letters,
        # not the colloquial ones (啥, 咋), not question words, and not English words alone
        # ([provide, give]: "give me the list" names nothing).
        self.named_tokens = frozenset(
            chr(_GROUP_BASE + i) for i, group in enumerate(groups)
            if any(len(self.base(v)) >= 3 for v in group) and not any(
                len(self.base(v)) == 1 for v in group) and any(has_cjk(v) for v in group))
        groups.extend(asked)
        for number, group in enumerate(groups):
            token = chr(_GROUP_BASE + number)
            for variant in group:
                key = self.base(variant)
                if key and key not in mapping:
                    mapping[key] = f" {token} "
                    self.variants.append(key)
        # A name of four or more characters is still recognised with one character missing
        # (五朵金 → 五朵金花); shorter ones would collide with ordinary words (质量月 → 质量).
        # Not when the shortened form is also a part of other words of the knowledge or of
        # other names: 中国质量 (in 中国质量月) is not 中国质量奖.
        long = [k for k in self.variants
                if len(k) >= 4 and all(_CJK_RE.match(ch) or ch.isdigit() for ch in k)]
        text = "\n".join(self.base(t) for t in corpus) if long else ""
        loose: dict[str, str] = {}  # names with one character missing, matched after whole ones
        for key in long:
            rest = text.replace(key, "\n")  # the knowledge's text but this name
            for i in range(len(key)):
                short = key[:i] + key[i + 1:]
                if short not in mapping and not self._collides(short, key, rest):
                    loose.setdefault(short, mapping[key])
        self._mapping = mapping
        self._pattern = self._compile(mapping)
        # A second pass, so that a whole name wins over a shortened one overlapping it:
        # 中国质量月 is 中国 + 质量月, not 中国质量(奖) + 月.
        self._loose, self._loose_pattern = loose, self._compile(loose)

    def _collides(self, short: str, key: str, rest: str) -> bool:
        """Whether ``short`` (``key`` with a character left out) is a part of another name or
        occurs in ``rest`` (the knowledge's text with ``key`` taken out)."""
        return short in rest or any(short in v and key not in v for v in self.variants)

    def strip_fillers(self, text: str) -> str:
        """Single-character fillers (呀, 哈, 呢) removed where they end a clause (before
        punctuation, a space or the end), never inside a word (哈尔滨); a spoken 嗯 or 呃
        where it opens one (voice input: 嗯那个品博会…); a clause of thanks that staff list as a
        filler (谢谢), before spelling repair reads its doubled 谢 as a key typed twice and its
        homophones (协) as words. (Only when listed: a knowledge whose own phrasings say 谢谢 —
        the public FAQ of ``bench_external`` — matches on it.)"""
        text = _OPENING_SOUNDS.sub("", text)
        if self._courtesy is not None:
            text = self._courtesy.sub("", text)
        if self._end_fillers is None:
            return text
        return self._end_fillers.sub("", text)

    @staticmethod
    def _compile(mapping: dict[str, str]) -> re.Pattern[str] | None:
        """One regex that finds, at each place, the longest key of ``mapping``.

        A flat alternation of some 500 keys tried every key at every character and made
        loading 100k phrasings take seconds; as a trie (keys sharing a first character share a
        branch) behind a lookahead on the possible first characters, most places are rejected
        by one set lookup. It matches exactly what the flat, longest-first alternation did.
        """
        if not mapping:
            return None
        firsts = "".join(sorted({re.escape(key[0]) for key in mapping}))
        return re.compile(f"(?=[{firsts}])(?:{_trie(list(mapping), 0)})")

    @staticmethod
    def base(text: str) -> str:
        """Script- and width-independent lower-case form: punctuation turned into spaces,
        possessive 's dropped, Chinese numerals as digits."""
        return _base(text)

    def canonical(self, base_text: str) -> str:
        if self._pattern is not None:
            base_text = self._pattern.sub(lambda m: self._mapping[m.group(0)], base_text)
        if self._loose_pattern is not None:
            base_text = self._loose_pattern.sub(lambda m: self._loose[m.group(0)], base_text)
        return base_text

    def tokens(self, text: str) -> list[str]:
        return tokenize(self.canonical(self.base(self.strip_fillers(text))))

    def base_tokens(self, text: str) -> list[str]:
        """Tokens before synonyms: what spelling repair compares against."""
        return tokenize(self.base(self.strip_fillers(text)))

    def tokens_from_base(self, tokens: Sequence[str]) -> list[str]:
        return tokenize(self.canonical(detokenize(tokens)))

    def both_tokens(self, text: str) -> tuple[list[str], list[str]]:
        """``base_tokens(text)`` and ``tokens_from_base`` of them, normalising the text once.

        Loading the knowledge needs both for every phrasing; most Chinese phrasings join back
        into their base text unchanged, which spares the tokens → text round trip.
        """
        base = self.base(self.strip_fillers(text))
        base_tokens = tokenize(base)
        joined = base if _ROUND_TRIP_SAFE.fullmatch(base) else detokenize(base_tokens)
        return base_tokens, tokenize(self.canonical(joined))


# the sounds a speaker opens with: no Chinese word starts with them
_OPENING_SOUNDS = re.compile(r"(?:^|(?<=[\W_]))[嗯呃]+")
# words of thanks (…全称叫啥？谢谢) that staff may list as fillers
_THANKS = frozenset({"谢谢", "多谢", "谢啦", "感谢", "謝謝", "多謝"})


# spoken English as written (when is the expo gonna be held): read as pinyin, "gonna" was 共拿
_SPOKEN = {"gonna": "going to", "wanna": "want to", "gotta": "got to"}
_SPOKEN_RE = re.compile(r"\b(?:gonna|wanna|gotta)\b")


# A few recent texts: answering one question reads its base form four or five times
# (small talk, aspects asked, the words asking them, what is counted). Too few to remember
# questions from one to the next.
@lru_cache(maxsize=32)
def _base(text: str) -> str:
    """:meth:`Normalizer.base`."""
    text = to_simplified(clean(text).lower()).replace("'s ", " ").replace("’s ", " ")
    if "nna" in text or "tta" in text:  # the cheap test first: most text has neither
        text = _SPOKEN_RE.sub(lambda m: _SPOKEN[m.group(0)], text)
    text = _NOT_ALNUM_RE.sub(" ", text)
    text = _CJK_GAP.sub("", " ".join(text.split()))  # 品 博 会 → 品博会
    return chinese_numerals_to_digits(text)


def _trie(keys: list[str], depth: int) -> str:
    """Regex alternatives for ``keys`` (which share their first ``depth`` characters): longer
    keys before the one that ends here, so the longest key wins as in a longest-first list.

    A key starting or ending with a Latin letter or digit matches only as a whole word.
    """
    branches: dict[str, list[str]] = {}
    ends_here = False
    for key in keys:
        if len(key) == depth:
            ends_here = True
        else:
            branches.setdefault(key[depth], []).append(key)
    options = []
    for char, group in branches.items():
        start = r"(?<![a-z0-9])" if depth == 0 and _is_word_char(char) else ""
        options.append(start + re.escape(char) + _trie(group, depth + 1))
    if ends_here:
        options.append(r"(?![a-z0-9])" if _is_word_char(keys[0][depth - 1]) else "")
    if len(options) == 1 and not ends_here:
        return options[0]
    return "(?:" + "|".join(options) + ")"


def _is_word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


def detokenize(tokens: Sequence[str]) -> str:
    """Tokens back to text: Chinese characters joined, words separated by spaces."""
    out: list[str] = []
    for token in tokens:
        if out and out[-1][-1].isascii() and token[0].isascii():
            out.append(" ")  # two words, or a word and a number
        out.append(token)
    return "".join(out)


def tokenize(normalised: str) -> list[str]:
    tokens = _TOKEN_RE.findall(normalised)
    if _MAY_STEM.search(normalised) is None:  # nothing to stem: most text, and far faster
        return tokens
    return [stem(tok) if tok[0].isascii() and tok[0].isalpha() else tok for tok in tokens]


def features(tokens: Sequence[str]) -> list[str]:
    """Index terms: every token and every adjacent pair of tokens."""
    out = list(tokens)
    out.extend(a + BIGRAM_SEP + b for a, b in zip(tokens, tokens[1:], strict=False))
    return out


def detect_language(text: str) -> str | None:
    """'zh', 'zh-hant' or 'en' from the script the question is written in; None if unknown."""
    cleaned = clean(text)
    if has_cjk(cleaned):
        return "zh-hant" if is_traditional(cleaned) else "zh"
    if _LATIN_RE.search(cleaned.lower()):
        return "en"
    return None
