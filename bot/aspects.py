"""What a question asks for, and what an entry tells.

A question is read as a subject (the entry's topic) and an aspect (when, where, who, how
many, …). Two entries on one subject differ by the aspect they tell, and a question whose
aspect no entry of its subject tells (the expo's ticket price, the platform's phone number)
must not get the subject's description as if it answered it: it gets an honest "the report
does not say". The patterns read the normalised base text (:meth:`Normalizer.base`: simplified
script, lower case, Chinese numerals as digits), so traditional and simplified questions are
read alike; English has patterns of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.messages import say
from bot.text import Normalizer, char_pinyin

# Aspect names, as staff write them in an entry's optional ``aspects:`` field.
ASPECTS = ("when", "day", "hours", "where", "who", "how_many", "which", "what", "why", "join",
           "contact", "price", "eligibility", "age", "founded", "hometown", "full_list",
           "duration", "ranking", "career", "business", "in_force", "area", "amount",
           "affiliation", "ordinal", "frequency", "said")

# The aspects that name a precise detail: asked and not told by the subject's entries, the
# reply says the report does not give it (never the subject's description as if it did).
DETAILS = frozenset({"when", "day", "hours", "where", "who", "how_many", "which", "join",
                     "contact", "price", "eligibility", "age", "founded", "hometown",
                     "full_list", "duration", "ranking", "career", "business", "in_force",
                     "area", "amount", "affiliation", "ordinal", "frequency", "said"})

_M = "个家件部幅次项条亿万名位届批款种朵期所座回趟遍间"  # measure words counted with 几
A_FEW_AFTER = "带约叫找陪"  # 带几个朋友, 约几个人: 几 after these says "a few", it asks nothing
_FOUND = r"(?:成立|创立|创办|建立|组建|始建|创建|设立|建厂|开工|动工|建成|落成|竣工|启用|投用|上线)"
_WHEN_Q = r"(?:哪年|哪一年|什么时候|何时|啥时候|几几年|哪个年代|多少年)"
_ZH: dict[str, str] = {
    # The year a company or body was set up: the article gives it for the China Quality Award
    # only, and a "when" of the entry (2022) must not answer it.
    "founded": rf"{_WHEN_Q}\S{{0,4}}{_FOUND}|{_FOUND}(?:于|在)?{_WHEN_Q}|{_FOUND}(?:时间|年份|多久)|"
               r"多少年(?:的)?历史|历史有多",
    "hometown": r"哪里人|哪儿人|哪的人|什么地方的?人|籍贯|老家|出生地|出生在哪|在哪出生|哪里出生",
    # The whole list, when the answer's list may end in 等 ("新前湾港公司、雷神公司等10家").
    # 都有哪些 is how "which ones" is said: a full list only when a count is stated (7个…都是啥)
    # 完整职务 asks a person's whole title, 完整是怎么说的 a whole quotation: not a list
    "full_list": r"完整(?=的?(?:名单|列表|清单|榜单|名录))|完整地?列|列完整|全部|"
                 r"所有的?(?:企业|品牌|单位|名单|获奖)|全都|一一|名单是什么|"
                 r"具体是哪[\d两几]+|名单(?:能|可以|可不可以)?(?:给|发|提供|列)|哪[两\d]+[个家件项条所位名款种]|列一下|列举(?![的了])|罗列|列个|列出来|"
                 r"除了.{1,20}还有(?:谁|哪|什么|别的|其他)|除了.{1,20}其[他余]\S{0,12}(?:谁|哪|什么)",
    # when it ended is how long it lasted: an answer giving the start only tells neither
    "duration": r"几天|多少天|多长时间|为期多|持续多|天数|办多久|开多久|有效期|合作期|"
                r"(?:几点|什么时候|何时|啥时候)\S{0,2}(?:结[束速]|闭幕|散会|散场)|结束时间|闭幕时间",
    # what a person did before, what a company makes, when a law takes effect: the article
    # gives posts, names and plans, none of these
    "career": r"(?:之前|以前|曾经|过去|原来|此前)\S{0,6}(?:工作|任职|担任|在哪|干什么|做什么|干过)|"
              r"(?:哪年|哪一年|什么时候|何时|啥时候)\S{0,3}(?:当上|当选|担任|上任|就任|出任)|"
              r"履历|简历|工作经历",
    "business": r"(?:做|生产|卖|经营)(?:什么|啥|哪些)(?:产品|东西)|主营|主要产品|主打产品|旗下|"
                r"(?:公司|企业|集团|厂)是?(?:做|干)(?:什么|啥)的|"
                r"属于哪个(?:集团|公司)",
    "in_force": r"(?:什么时候|何时|哪天|哪年|啥时候|几时)\S{0,4}(?:正式)?"
                r"(?:实施|施行|生效|落地|颁布|通过|印发|出台)|"
                r"实施时间|施行日期|生效日期|生效时间",
    "area": r"面积|占地|多少平方|几平方|平方米|多少亩|几亩|多少公顷",
    # a sum of money (an agreement's value, an investment): an answer without one does not tell it
    "amount": r"金额|总额|签约额|合同额|投资额|总投资|资金|投资了?多少|投了多少|花了多少|多少亿",
    # whom a person works for (黄克兴是哪家企业的): the article names some people only
    "affiliation": r"(?:是|在)?哪(?:家|个|间|一家|一个)(?:企业|公司|单位|部门|机构|学校)的|"
                   r"在哪(?:家|个)?(?:企业|公司|单位)(?:工作|上班|任职)|(?:什么|哪个)单位的|"
                   r"(?:工作|任职|所在)单位",
    # who came first, the prize ranks, the outcome of an evaluation: the article counts the
    # winners and names the tasks, it ranks no one
    "ranking": r"[一二三特\d]等奖|金奖|银奖|铜奖|冠军|亚军|季军|第[一二三\d]名|前[三五十\d]名|前几名|"
               r"排(?:在|名)?第[一二三\d]|排(?:在|名)?第几名|第几名|"
               r"名次|排名|评选结果|测评结果|比赛结果|结果是什么|结果如何|什么结果|结果怎么样|"
               r"(?:公布|揭晓|出)\S{0,2}结果|结果\S{0,2}(?:公布|出来|揭晓)",
    "price": r"(?:门票|票|入场|参观|参展|展位|报名|服务|检测|认证).{0,4}多少钱|门票|票价|费用|收费|"
             r"价格|价钱|免费|花钱|要钱|几块钱|几元|奖金|学费|报酬|预算|交费|缴费|付费|交钱",
    "contact": r"电话|热线|联系方式|联系人|怎么联系|如何联系|联系谁|网址|网站|官网|网页|链接|"
               r"哪条[路街](?:\S{0,2}几号)?|哪个(?:街道|社区|镇|村)|[路街道]\d*几号|门牌|几号楼|地址|邮箱|邮件|微信|公众号|二维码|(?<![a-z])app(?![a-z])",
    "hours": r"几点|营业时间|开放时间|开门|关门|闭馆|开馆|闭幕时间|开幕时间|上午|下午|晚上",
    "day": r"几号|哪天|哪一天|哪日|哪一日|几月几|具体日期|具体哪|具体时间|星期几|周几|礼拜几",
    "when": r"(?:在|于)?(?:什么时候|啥时候|何时|几时|多会|哪年|哪一年|几月份?|哪个月份?|哪月)|"
            r"时间|日期|年份|"
            # 截至目前 ("so far") asks no date
            r"月份|什么时间|多久|哪个时候|截[止至](?!目前|现在|今天|当前)|期限",
    "age": r"多大(?:年纪|岁数|了|岁)|年纪|年龄|几岁|多少岁|岁数|属什么|(?:哪年|哪一年|几几年|什么时候)出生|"
           r"出生(?:年|日期|于哪)|(?:哪年|哪一年|几几年)生的|生日",
    "eligibility": r"条件|资格|门槛|谁可以|谁能|什么人可以|哪些人可以|能不能参加|可以参加吗|"
                   r"能参加吗|有什么要求|要求是什么|适合谁|面向谁|面向哪些|怎么认定|如何认定|认定标准|认定条件",
    "join": r"(?:怎么|怎样|如何|咋|哪里|在哪|去哪|从哪|通过什么)\S{0,4}"
            r"(?:报名|申报|预约|参加|参与|参赛|投稿|申请|提交|报送|加入|登记)|"
            r"报名|申报流程|申报方式|预约方式|参赛方式|投稿方式|入口",
    # 在哪些方面 asks which, 在哪个月 when
    # Cantonese written forms too (边度, 边个, 几多, 系咩: a Hong Kong visitor's traditional text)
    "where": r"哪里|哪儿|在哪(?!些|几|个方面|方面|个月|一年|年|天|一天|个时候|个领域|个行业|个方向)|"
             r"边度|喺边(?![几啲个位间])|"
             r"什么地方|何地|何处|地点|场馆|具体位置|位置在哪|"
             r"哪个区|哪座|去哪",
    "who": r"谁|哪位|哪些人|什么人|啥人|边个|边位|哪个人|哪家|哪几家|哪些企业|哪些单位|哪些公司|哪个单位|"
           r"哪个部门|哪个企业|哪个公司|哪个机构|哪些机构|什么单位|什么机构|什么部门|主办方|承办方",
    # 那几个“人人”是什么 points at the few the report names: which, not how many; 带几个朋友
    # is "a few friends" (A_FEW_AFTER)
    "how_many": rf"多少|几多|(?<![哪那举列{A_FEW_AFTER}])几[{_M}]|数量|有几|多大规模|规模|总数|百分之几|"
                r"百分比|几成",
    # 第几届, 全国第几家: a place in an order, told by 第45个 or 首个, not by any figure
    "ordinal": r"第几(?!名)",
    # what someone said or shared (青岛啤酒分享的质量提升密码具体讲了啥): an answer that only
    # says they spoke does not tell it
    "said": r"(?:讲|说|分享|谈|提)(?:了|的)(?:些)?(?:啥|什么)|具体(?:讲|说|分享|谈)(?:了|的)|"
            r"(?:讲|说|分享|谈)的(?:内容|是什么|是啥)|怎么(?:说|讲)的|(?:发言|讲话|演讲|分享)(?:的)?内容|"
            r"密码\S{0,3}是(?:什么|啥|哪)",
    # 多久办一次 asks how often, not when: told by 一年一度 or 每年, not by a date
    "frequency": r"(?:多久|多长时间|隔多久)\S{0,3}[1一][次届回]|几年[1一][次届回]|[1一]年(?:几|多少)[次届回]|"
                 r"每年都|年年都|是不是每年|是否每年|每年(?:办|举办|举行|开|搞|有)吗|[1一]年[1一]度(?:吗|的吗|嘛)",
    "which": rf"哪些|哪几|有什么|有哪|包括|包含|列出|全部|名单|清单|都有|分别|哪方面|边几|边啲|那几[{_M}]|"
             # 除了开放日还有啥专题活动: the others of a list
             r"还有(?:啥|别的|其他|其它)|"
             # 那2个中国世界名牌产品是啥产品 asks which products; 那7个…是啥 which seven
             r"是(?:啥|什么|哪些|哪几)(?=产品|企业|品牌|公司|单位|项目|作品)|"
             rf"那[\d两几]+[{_M}]\S{{0,14}}是(?:啥|什么|哪些)|"
             # 具体是几点 asks the hour, not a list
             r"具体是(?!\s|几|多少|谁|哪天|哪一天|哪年|哪一年|哪个月|什么时候|何时|哪里|哪儿|在哪)|"
             r"都是(?:啥|什么|哪|谁)|"
             r"哪[个一](?:单位|企业|公司|机构|部门|行业|产业|类|项)|"
             # 是哪五家 (Cantonese 係邊五間): the numeral stays a character after 哪
             r"哪[三四五六七八九十]+[个家间位种款所](?![字词句])",
    "why": r"为什么|为啥|为何|作用|意义|目的|有啥用|有什么用|干什么用|干嘛|用途|好处|意图|初衷",
    "what": r"是什么|是啥|是个啥|什么是|啥是|系咩|系乜|咩嘢|乜嘢|什么意思|啥意思|指什么|指的是|简称|"
            r"全称|全名|缩写|代表什么|叫什么名|叫啥名|"
            r"含义|意思|介绍|怎么回事|是个什么|内容|主题",
}
_EN: dict[str, str] = {
    "founded": r"\b(?:founded|established|when was \w+(?: \w+){0,4} set up|year of founding)\b",
    "hometown": r"\b(?:hometown|home town|birthplace|where (?:is|was) \w+(?: \w+){0,2} from)\b",
    "full_list": r"\b(?:full list|complete list|list all|name all|all (?:of )?the \d+|every one|"
                 r"list of (?:the |all (?:the )?)?\d+|"
                 r"which (?:two|three|four|five|six|seven|eight|nine|ten|\d+))\b",
    "duration": r"\b(?:how many days|how long (?:does|will|did|is|was) (?:it|the \w+) (?:last|run)|"
                r"duration)\b",
    "career": r"\b(?:work(?:ed)? before|previous (?:job|post|position)|career|used to work)\b",
    "business": r"\b(?:what does \w+(?: \w+){0,3} (?:make|produce|sell)|main products?|"
                r"line of business)\b",
    "in_force": r"\b(?:take effect|takes effect|come into force|comes into force|in force|"
                r"effective date)\b",
    "area": r"\b(?:floor area|land area|square met(?:er|re)s?|acres?|hectares?|how big is)\b",
    "affiliation": r"\b(?:which (?:company|organi[sz]ation|firm|employer) (?:is|was|does|did) "
                   r"\w+(?: \w+)? (?:from|work for|work at|belong to)|"
                   r"who does \w+(?: \w+)? work for|(?:his|her) (?:company|employer))\b",
    "amount": r"\b(?:how much money|amount of money|investment|invested|worth|"
              r"value of the (?:deal|agreement|contract)s?)\b",
    # "the top prize for quality" says what the award is; "the top three" ranks
    "ranking": r"\b(?:first|second|third|grand) (?:prize|place)|\btop (?:three|five|ten|\d\d?)\b|"
               r"\bgold medal|\bchampion|"
               r"\branked (?:first|second|third|top|\d+)|"
               r"\branking|\bresults? of\b|\bwhat were the results\b",
    # "the base cost 600 million yuan" states an investment, not what a visitor pays
    "price": r"\b(?:price|prices|ticket|tickets|costs?(?!\s+(?:about |around |over |nearly )?\d)|"
             r"fee|fees|free of charge|charge|budget|"
             r"prize money|cash prize|reward|what (?:is|are) the prizes?|prizes? for (?:the )?winn\w*|"
             r"how much (?:is|are|does|do) (?:it|the|a|an|entry|admission)|admission)\b",
    "contact": r"\b(?:(?:phone|telephone|contact) number|phone|telephone|hotline|contact|"
               r"website|web site|url|e-?mail|address|wechat|homepage)\b",
    "hours": r"\b(?:opening hours|open hours|what time|when does it (?:open|close)|open until|"
             r"closing time|opening time)\b",
    "day": r"\b(?:which day|what day|exact date|what date|which date|on what day)\b",
    "when": r"\b(?:when|wen|what year|which year|what month|which month|how long|deadline|"
            r"time ?frame|timeline|until when|by when|dates?(?=\s*\?*\s*$))\b",
    "age": r"\b(?:how old|age|born)\b",
    "eligibility": r"\b(?:eligible|eligibility|who can|who may|requirements?|qualif\w*|criteria)\b",
    "join": r"\b(?:how (?:can|do|does|to|should) (?:i|we|one|you|a company|companies)?\s*"
            r"(?:join|apply|enter|take part|register|sign up|participate|submit|book)|"
            r"sign up|sign-up|registration form|apply for|how to apply|how to register)\b",
    # "which city bureaus" asks which bureaus
    "where": r"\b(?:where|venue|location|which district|what place|which city(?! (?:bureau|"
             r"department|government|agenc|office|official|leader|level|authorit|organ)))\b",
    "who": r"\b(?:who|whom|whose|which compan\w*|which organi[sz]ations?|which firms?|"
           r"which institutions?|which departments?|by whom)\b",
    "how_many": r"\b(?:how many|how much|number of|how large|how big|what rank|percentage|per ?cent|"
                r"exact (?:\w+ )?rate)\b",
    # "which district is it in" asks one thing, not a list
    "which": r"\b(?:which(?! (?:district|city|province|country|year|month|day|date|place|venue|"
             r"location|school|award|prize|one|edition|round|time|research institute|institute|"
             r"bureau|agency|platform|event|law|regulation|person)\b)|list|what are the|"
             r"what were the|name the|all the)\b",
    "why": r"\b(?:why|purpose|what for|role|aim|goal|point of|significance)\b",
    # "which edition is it", "what number": a place in an order (第几), told by 第45个
    "ordinal": r"\b(?:(?:which|what) (?:edition|number|session)|how manyth)\b",
    "said": r"\b(?:what (?:exactly )?did \w+(?: \w+){0,4} (?:say|share|tell|talk about)|what (?:was|were) "
            r"(?:said|shared)|content of (?:his|her|their|the) (?:speech|talk|presentation|sharing))\b",
    # not "the 2021 annual list": only an event said to recur
    "frequency": r"\b(?:how often|how frequently|once a year|(?:every|each) year\?|yearly|"
                 r"(?:held|happen\w*|take place|run) (?:every|each) year|held annually|"
                 r"annual(?= event| fixture| expo|\?))",
    "what": r"\b(?:what is|what's|what was|what does|stand for|meaning|mean|short for|"
            r"full name|abbreviation|about|name(?=\s*\?*\s*$))\b",
}
_ZH_RE = {k: re.compile(v) for k, v in _ZH.items()}
_EN_RE = {k: re.compile(v) for k, v in _EN.items()}
# Every English pattern needs a Latin letter to match, and every Chinese one a Chinese
# character, but for these (contact's "app"): a question in one script skips the other
# script's patterns, which changes nothing found and spares half the searches
# (tests/test_aspects.py checks both claims on the patterns' syntax).
_ZH_WITHOUT_CJK = frozenset({"contact"})
_HAS_CJK = re.compile("[\u3400-\u9fff]")
_HAS_LATIN = re.compile("[a-z]")
# Matched first and blanked out, so that 多少钱 is not also "how many", 开放时间 not "when",
# and 哪里报名 not "where".
_FIRST = ("founded", "hometown", "frequency", "said", "duration", "ranking", "career", "business",
          "in_force", "area", "amount", "affiliation", "ordinal",
          "price", "contact", "hours", "day", "age", "eligibility", "join", "why")


@lru_cache(maxsize=64)
def asked(text: str) -> frozenset[str]:
    """The aspects a question asks for, from its text as typed (any script). The last few
    are kept: one question's clauses are read several times (without_context, the scene,
    the ranking); a repeated question from another citizen is not what this is for."""
    base = Normalizer.base(text)
    found: set[str] = set()
    zh, en = base, base
    zh_res, en_res = _patterns(base)
    for name in _FIRST:
        n = m = 0
        if name in zh_res:
            zh, n = zh_res[name].subn(" ", zh)
        if name in en_res:
            en, m = en_res[name].subn(" ", en)
        if n or m:
            found.add(name)
    for name in ASPECTS:
        if name in found or name in _FIRST:
            continue
        if (name in zh_res and zh_res[name].search(zh)) or \
                (name in en_res and en_res[name].search(en)):
            found.add(name)
    if "day" in found or "hours" in found:
        found.add("when")
    if "full_list" in found:
        found.add("which")
    return frozenset(found)


def spans(text: str) -> dict[str, str]:
    """The words of a question that say what it asks, by aspect (when: 在几月份, 哪个月): an
    entry that tells that aspect accounts for them, though its phrasings word it otherwise."""
    base = Normalizer.base(text)
    out: dict[str, str] = {}
    by_script = _SPANS[(_HAS_CJK.search(base) is not None, _HAS_LATIN.search(base) is not None)]
    for name, patterns in by_script:
        # findall gives the whole matches: the patterns have no capturing groups
        found = [m for pattern in patterns for m in pattern.findall(base)]
        if found:
            out[name] = " ".join(found)
    return out


_NO_PATTERNS: dict[str, re.Pattern[str]] = {}
_ZH_LATIN_RE = {k: v for k, v in _ZH_RE.items() if k in _ZH_WITHOUT_CJK}


def _patterns(base: str) -> tuple[dict[str, re.Pattern[str]], dict[str, re.Pattern[str]]]:
    """The Chinese and English patterns that can match ``base``, by its scripts."""
    zh = _ZH_RE if _HAS_CJK.search(base) else _ZH_LATIN_RE
    en = _EN_RE if _HAS_LATIN.search(base) else _NO_PATTERNS
    return zh, en


def asks_detail(text: str) -> bool:
    """Whether a clause asks any aspect but "what": :func:`asked`'s answer minus "what" is
    not empty exactly when one of those patterns matches, so one search of them all tells
    it (the engine asks this of every clause of a long message)."""
    base = Normalizer.base(text)
    return _ANY_BUT_WHAT[(_HAS_CJK.search(base) is not None,
                          _HAS_LATIN.search(base) is not None)].search(base) is not None


# spans(): per (has Chinese, has Latin letters), each aspect's patterns that can match, in
# the order of ASPECTS, Chinese before English.
_SPANS = {(cjk, latin): [(name, tuple(p for p in ((_ZH_RE if cjk else _ZH_LATIN_RE).get(name),
                                                 (_EN_RE if latin else _NO_PATTERNS).get(name))
                                      if p is not None)) for name in ASPECTS]
          for cjk in (False, True) for latin in (False, True)}


# asks_detail(): per (has Chinese, has Latin letters), every pattern but "what"'s as one
_ANY_BUT_WHAT = {key: re.compile("|".join(f"(?:{p.pattern})" for name, ps in by_name
                                          if name != "what" for p in ps))
                 for key, by_name in _SPANS.items()}


@dataclass(frozen=True)
class Told:
    """What an entry tells, and where that came from (for ``validate --explain``)."""

    aspects: frozenset[str]
    stated: bool  # the staff's ``aspects:`` field, not derived
    why: dict[str, str]


_STAMP_RE = re.compile(r"(?:截至|据|按)?\s*20\d\d\s*年\s*(?:\d+\s*月)?\s*(?:的)?\s*报道(?:时|称|中|的安排)?|"
                       r"20\d\d\s*年\s*质量月")
_DAY_RE = re.compile(r"\d+月\d+日|\d+日|\d+号")
# 届 is an edition (第四届), not a date: it tells no "when"
_YEAR_RE = re.compile(r"(?:19|20)\d\d年|\d+月|今年|去年|明年")
_NUMBER_RE = re.compile(r"\d|首[个家批届次]|第一|唯一|两[个家项]")
_LIST_RE = re.compile(r"、|；|和|与|及|联合|会同|：.+，|\d+\s*(?:个|家|项|件|条)[^。]*：")
# a body or a post that names who: not 企业/单位 (品牌企业400家 names no one), nor 部/所/院
# inside other words (全部, 所有, 国际消费中心)
_WHO_RE = re.compile(r"局|公司|集团|(?<!消费)中心|委员会|研究院|学校|中学|大学|协会|政府|市长|书记|"
                     r"局长|主任|厅|记者|媒体|报社|报业|[一-鿿]{2}(?:部门|院|所)(?![有以])")
_WHERE_RE = re.compile(r"在[^，。]{0,12}(?:区|市|省|县|馆|中心|广场|基地|园|路|大厦|酒店|会场|现场)")
_PRICE_RE = re.compile(r"\d+\s*元|免费|门票|票价|收费")
_CONTACT_RE = re.compile(r"https?://|电话|热线|\d{3,4}-\d{7,8}|@|邮箱|地址[:：]|网址")
_HOURS_RE = re.compile(r"\d+[:：]\d\d|\d+时|\d+点")
# How to take part, as instructions: "历经组织报名" or "注册申请量" tell no way to sign up.
_JOIN_RE = re.compile(r"(?:可|请|即可|可以|欢迎)(?:在|通过|于|登录|扫码)?[^。，]{0,12}"
                      r"(?:报名|申报|预约|投稿|申请|参加|参与)|报名方式|报名入口|报名渠道|申报方式|"
                      r"申报渠道|预约方式|扫码|登录")
_WHY_RE = re.compile(r"为了|旨在|目的|意义|作用|助力|推动|促进|以便|从而|帮助")
_ELIGIBLE_RE = re.compile(r"条件|资格|面向|适用|凡是|均可")
_AGE_RE = re.compile(r"\d+\s*岁")
# 2017年成立, and 2017年，国家确定…为 (a few words between the year and the verb)
_FOUNDED_RE = re.compile(r"(?:成立|创立|创办|设立|组建|始建|创建|建立|建成|落成|启用)于\s*\d{4}|"
                         r"\d{4}\s*年，?[^，。；]{0,8}?(?:成立|创立|创办|设立|组建|始建|创建|确定|"
                         r"建成|落成|启用|开工)")
_HOMETOWN_RE = re.compile(r"籍贯|人氏|出生于|生于|老家")
_RANKING_RE = re.compile(r"[一二三特\d]等奖|金奖|银奖|铜奖|冠军|第[一二三\d]名|排名第|名列|名次|"
                         r"评选结果|测评结果")
# what was said: a quotation, or a verb of saying with its content
_SAID_RE = re.compile(r"表示|指出|强调|认为|提出|说|称|写道|“[^”]{4,}”|介绍(?:了|说)?[^。]{12,}")
_FREQUENCY_RE = re.compile(r"每(?:年|天|日|周|星期|月|季度|小时|隔|[两\d]+(?:年|天|日|周|个月|小时))|"
                           r"[1一]年[1一]度|(?:年|天|日|周|月)[1-9一两二三]次|[1-9一两二三]次/")
_ORDINAL_RE = re.compile(r"第\s*\d+|首[个家批届次座位]|首届|唯一|全国首|第一")
_CAREER_RE = re.compile(r"曾任|历任|此前任|原任|曾在")
_BUSINESS_RE = re.compile(r"主营|主要产品|专注于|从事\S{0,8}(?:生产|制造|研发)|生产\S{0,6}(?:产品|设备)")
_IN_FORCE_RE = re.compile(r"(?:起|正式)(?:实施|施行|生效)|自\S{0,12}起施行|"
                          r"\d\s*[年月日]\S{0,12}(?:印发|出台|颁布)")
_AMOUNT_RE = re.compile(r"\d\s*(?:万|亿)*\s*(?:元|美元)")
_AREA_RE = re.compile(r"\d\s*(?:万)?(?:平方米|平方公里|亩|公顷)|占地")
_DURATION_RE = re.compile(r"\d+\s*天|为期|\d+\s*日至\s*\d+\s*日|\d+日[-—~～到]\d+日")
# A list that ends in 等 ("A、B等10家") does not name them all.
_CUT_LIST_RE = re.compile(r"、[^、。，；]{1,20}等")
# The aspects a phrasing's wording may lend its entry: the precise details (day, hours, price,
# contact, age) must be in the answer itself, since staff write 哪天 loosely for "when".
_FROM_PHRASINGS = frozenset({"when", "where", "who", "how_many", "which", "what", "why", "join",
                             "eligibility"})


def derive(phrasings: list[str], answer: str, dated: list[str], stated: list[str] | None) -> Told:
    """What an entry tells: from its answer (dates, numbers, names, lists), its dates
    (``dated``: each date's precision) and what its phrasings ask; or, when staff stated
    them, exactly the stated aspects."""
    if stated is not None:
        return Told(frozenset(stated), True, {a: "stated in the YAML" for a in stated})
    why: dict[str, str] = {}
    # "截至2022年9月报道时" dates the report, not the thing told, and "2022年质量月" is a name:
    # neither says when the Madrid award was given or the brand law takes effect.
    base = _STAMP_RE.sub(" ", Normalizer.base(answer))
    checks = (("when", bool(dated) or bool(_YEAR_RE.search(base))),
              ("day", any(p in ("day", "minute") for p in dated) or bool(_DAY_RE.search(base))),
              ("hours", "minute" in dated or bool(_HOURS_RE.search(base))),
              ("how_many", bool(_NUMBER_RE.search(base))),
              ("which", bool(_LIST_RE.search(answer))),
              ("who", bool(_WHO_RE.search(base))),
              ("where", bool(_WHERE_RE.search(base))),
              ("price", bool(_PRICE_RE.search(base))),
              ("contact", bool(_CONTACT_RE.search(answer))),
              ("join", bool(_JOIN_RE.search(base))),
              ("why", bool(_WHY_RE.search(base))),
              ("eligibility", bool(_ELIGIBLE_RE.search(base))),
              ("age", bool(_AGE_RE.search(base))),
              ("founded", bool(_FOUNDED_RE.search(base))),
              ("hometown", bool(_HOMETOWN_RE.search(base))),
              ("duration", bool(_DURATION_RE.search(base))),
              ("ranking", bool(_RANKING_RE.search(base))),
              ("career", bool(_CAREER_RE.search(base))),
              ("business", bool(_BUSINESS_RE.search(base))),
              ("in_force", bool(_IN_FORCE_RE.search(base))),
              ("area", bool(_AREA_RE.search(base))),
              ("amount", bool(_AMOUNT_RE.search(base))),
              ("affiliation", bool(_WHO_RE.search(base))),
              ("ordinal", bool(_ORDINAL_RE.search(base))),
              ("frequency", bool(_FREQUENCY_RE.search(base))),
              ("said", bool(_SAID_RE.search(base))),
              ("full_list", bool(_LIST_RE.search(answer)) and not _CUT_LIST_RE.search(answer)))
    for name, found in checks:
        if found:
            why[name] = "the answer"
    why.setdefault("what", "every answer describes its subject")
    for question in phrasings:
        for name in asked(question) & _FROM_PHRASINGS:
            why.setdefault(name, f"the phrasing '{question}'")
    return Told(frozenset(why), False, why)


_COUNTED_RE = re.compile(rf"(?:多少|几多|几)[{_M}]?([\u4e00-\u9fff]{{2}})")
# 多少次服务: the measure word a counted noun comes with
_UNIT_OF_RE = re.compile(rf"(?:多少|几多|几)([{_M}])([\u4e00-\u9fff]{{2}})")
_NOT_NOUNS = frozenset({"参加", "参与", "获得", "入选", "获奖", "左右", "以上", "方面", "时间", "时候",
                        "年度", "月份", "问题", "呢呢", "来着", "比例", "比重", "钱呢", "一共", "总共",
                        "真的", "真假", "听说", "据说", "好像", "是吗", "对吗", "还是"})


_VERBS = "获得有是在被为让给去来到参入"
_PARTICLES = frozenset("啊呀呢吧啦哦嘛哈")


def counted(text: str) -> str | None:
    """What a "how many" question counts (多少名员工 → 员工, 几个作品 → 作品), or None: an
    entry that never names it tells a number of something else (总部基地 staff, not its
    investment). ``text`` is best the question after spelling repair (服物 → 服务)."""
    found = counted_all(text)
    return found[0] if found else None


def counted_all(text: str) -> list[str]:
    """Every thing a question counts: 入驻多少服务机构，服务多少企业 asks two numbers, and an
    entry giving one of them answers half the question."""
    base = Normalizer.base(text)
    if _PEOPLE_RE.search(base) or _PEOPLE_EN_RE.search(base):
        return ["人"]
    # each clause on its own: 多少幅，主要是些什么 counts no "主要"
    base = " ".join(Normalizer.base(part) for part in _CLAUSE_SPLIT_RE.split(text))
    # 第几回 asks which edition, not a number of things; 举几个例子 asks for some
    return [m.group(1) for m in _COUNTED_RE.finditer(base)
            if base[m.start() - 1:m.start()] not in ("第", "举", "列") and m.group(1) not in _NOT_NOUNS
            and m.group(1)[0] not in _VERBS + _M + "多十百千不" and not _PARTICLES & set(m.group(1))]


def counted_en(text: str) -> list[str]:
    """The things an English question counts, when it counts two or more ("how many service
    institutions …, and how many enterprise users …"): the last word before the verb or
    preposition that follows, singular. One count is left to the other signals: English
    names a thing in more ways (companies, firms, enterprises) than this could match."""
    found = []
    for m in _EN_COUNTED_RE.finditer(text.lower()):
        words = [w for w in m.group(1).split() if w not in _EN_NOT_NOUNS]
        if words:
            found.append(_singular(words[-1]))
    return found if len(found) >= 2 else []


def counts_en(noun: str, answer: str) -> bool:
    """Whether an English answer gives a number of ``noun`` (a figure near it)."""
    text = answer.lower()
    return any(_DIGIT_RE.search(text, max(m.start() - 30, 0), m.end() + 30)
               for m in re.finditer(re.escape(noun), text))


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


_EN_COUNTED_RE = re.compile(
    r"\bhow many ((?:[a-z-]+ ){0,2}?[a-z-]+?)"
    r"(?= (?:are|is|do|does|did|were|was|has|have|had|will|would|can|could|in|on|at|of|for|"
    r"there|it|they|we|you|got|won|get|win)\b|\s*[?,.;]|\s+and\b|$)")
_EN_NOT_NOUNS = frozenset({"the", "of", "more", "total", "different", "kinds", "types"})
_CLAUSE_SPLIT_RE = re.compile(r"[，,。！!；;？?、：:\s]")
_PEOPLE_RE = re.compile(r"(?:多少|几)[名位个]?人(?!民|才|员)")
_PEOPLE_EN_RE = re.compile(r"\bhow many (?:people|persons|visitors|attendees|participants|guests)\b")
_PEOPLE_COUNT_RE = re.compile(r"\d[\d.]*\s*[万亿余多]*\s*[名位个]?\s*(?:人(?!民)|名)")


def listed(text: str) -> str | None:
    """What a "which ones" question lists (哪些行业 → 行业, 哪几类作品 → 作品), or None when it
    names no particular thing (哪些方面, 哪些东西) or an asker of "who" (企业, 单位: answers say
    企业 as often as 公司). An entry that never names the thing lists something else: the
    platform's services, not the industries it served."""
    base = Normalizer.base(text)
    match = _LISTED_RE.search(base) or _LISTED_BEFORE_RE.search(base)
    if match is None:
        return None
    thing = match.group(1)
    # 哪几家一块推进的, 一起建的: together, not a thing
    # 哪几家 我就记得…: the asker goes on (我, 比如), no thing is named; 哪些市里的部门: a level
    if thing in _GENERIC_LISTS or thing[0] in _VERBS + _M + "方一共联合我你他她咱俺您比例譬像" \
            or thing[0] in _PARTICLES or thing[1] in _PARTICLES | {"的"} \
            or thing[1] in "级还也都又说讲直属里":
        return None  # 哪几家啊我…: a particle; 哪些市级 / 市直部门: a level; 哪几方: parties
    return thing


def checked(text: str) -> dict[str, str]:
    """The figures a citizen checks (老字号是20个吗, 中国质量奖是2002年设立的吧, "Does Qingdao
    have 20 time-honoured brands?"), each with its unit ("" in English): a figure the entry
    gives otherwise is what they half remember, and the entry's figure is the answer, not a
    sign of another subject. A later year (2023年还办吗) or an ordinal (第5届) is no check,
    unless it is said to be this one (今年是第40个…吧)."""
    if len(text) > (_BELIEF_UP_TO if _HAS_CJK.search(text) else _BELIEF_UP_TO * 2):
        return {}  # a long message tells a case around its question, it checks no figure
    base = Normalizer.base(text)
    # 征文类获奖的有81部？: a statement asked back is a check too, when nothing in it asks
    stated = text.rstrip().endswith(("?", "？")) and not _ASKS_RE.search(base)
    if not stated and not _BELIEF_RE.search(base):
        return {}
    found = {}
    for m in _CHECKED_RE.finditer(base):
        number, unit = m.group(1), m.group(2) or ""
        if base[max(m.start() - 1, 0):m.start()] == "第" and base[max(m.start() - 2, 0)] not in "是到经":
            continue  # 第5届 is another edition; 今年是第40个, 办到第3届了吧 check which one this is
        if unit == "年" and number.isdigit() and int(number) > 2022:
            continue
        if number == "1":
            continue  # 一位领导, 一个意见: the article a citizen says, not a figure
        found[number] = unit
    return found


def as_asked(text: str, figures: dict[str, str]) -> str:
    """A Chinese belief check read as the question it stands for: 老字号是20个吗 → 老字号是几个,
    中国质量奖是2002年设立的吧 → 哪年设立的; the answer is the report's figure either way,
    and so worded the question meets the entries' phrasings."""
    out = Normalizer.base(text)
    for number, unit in figures.items():
        if not unit:
            continue
        asked_for = "哪" if unit == "年" else "几"
        out = re.sub(rf"(?<![\d.]){re.escape(number)}\s*(?:[多余]\s*)?(?:个\s*)?{re.escape(unit)}",
                     asked_for + unit, out)
    heard = _HEARD_RE.match(out)
    if heard is not None and not _ASKS_RE.search(heard.group(0)):
        out = out[heard.end():]  # not …有几个听说…: that prefix asks
    return _BELIEF_TAIL_RE.sub("", out)


def as_stated(text: str, figures: dict[str, str] | None = None) -> str:
    """An English check without its hearsay and its tag, its figures asked for ("i heard the
    essay category has 80 winners, true?" → "the essay category has how many winners"):
    "heard" and "true" are no words of what is checked, a tag clause of its own ("true?") was
    weighed as the question, and the figure doubted is what is asked, as in Chinese."""
    out = _EN_TAG_RE.sub("", _EN_HEARD_RE.sub("", text, count=1))
    if len(out.split()) < 3:
        return text
    for number in figures or ():
        year = number.isdigit() and 1900 < int(number) < 2100
        out = re.sub(rf"\b{_EN_MONTH}\s+{re.escape(number)}\b", "which day", out, count=1,
                     flags=re.IGNORECASE)  # "may 20" doubts the day
        out = re.sub(rf"(?<![\d.,]){re.escape(number)}(?:st|nd|rd|th)\b", "which number", out,
                     count=1)  # "the 40th" doubts which one this is
        # "top 500" is a name, not the figure doubted
        out = re.sub(rf"(?<![\d.,])(?<!top ){re.escape(number)}(?![\d.,]*\d|st|nd|rd|th)",
                     "which year" if year else "how many", out, count=1)
    return out


_EN_HEARD_RE = re.compile(
    r"^\s*(?:(?:i|we)\s+(?:heard|read|think|thought|remember|was told|saw)|someone\s+(?:told me|said)|"
    r"(?:my\s+\w+|people|they)\s+(?:said|say|told me)|is it (?:true|correct|right))(?:\s+that)?[,\s]+",
    re.IGNORECASE)
_EN_TAG_RE = re.compile(
    r"[,\s]*(?:(?:(?:is|was)\s+(?:it|that|this)\s+|am i\s+)?(?:right|true|correct|really|yes|"
    r"isn'?t it|aren'?t they|or not|is true|no)|(?:or\s+)?(?:is|was) it (?:about |around )?[\d,.]+)"
    r"\s*[?!.]*\s*$", re.IGNORECASE)
_EN_MONTH = "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"


# 我看朋友圈说…, 听人说…: where the asker heard it is no part of what is checked; nor who
# asked the asker (我儿子作业问…是吧)
_HEARD_RE = re.compile(r"^(?:\S{0,8}?(?:听说|听人说|据说|记得|印象中)|\S{1,12}?[说问](?![明法服题]))"
                       r"(?=\S{4})")


_BELIEF_UP_TO = 40  # characters of Chinese; English takes about twice as many
_BELIEF_TAIL_RE = re.compile(r"(?:是不是真的?|是真的吗|真的吗|真的假的|对吗|对吧|是吗|是吧|没错吧|没记错吧|"
                             r"对不对|对不|[对是]把|是不是|真不真|是这个数字?吗|吗|吧)[啊呀呢哈嘛]?\s*$|是不是")
# 18部还是28部: two figures to choose from check both
_BELIEF_RE = re.compile(r"吗|吧|对不对|对不\s*$|[对是]把\s*$|是不是|真的假的|真假|真不真|没错|没记错|好像|"
                        r"听说|记得|\d\S{0,3}还是\d|"
                        r"是否|有没有|"
                        r"^(?:is|are|does|do|did|was|were|has|have)\b|\b(?:is|was) it (?:about |around )?\d|"
                        r"\b(?:right|correct|true|isn't it|aren't they)\b\s*$")
# 60个亿 checks 亿, not a count in 个
# 20多个 checks 个 (a rough figure still names the count it doubts); "is it 1000?" ends a check
_CHECKED_RE = re.compile(rf"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:[多余]\s*)?(?:个\s*(?=[亿万]))?"
                         rf"([{_M}年月日号次]|(?=\s*[a-z])|(?=\s*[?？]?\s*$))")
_ASKS_RE = re.compile(r"[哪谁几啥咋]|什么|多少|怎|为何|\b(?:why|what|who|which|how|where|when)\b")


def names(thing: str, plain: str) -> bool:
    """Whether an entry's text names the kind of thing a list asks for: 市局 is how
    citizens say 市科技局、市工业和信息化局…, the bodies' names between its two characters."""
    if thing in plain:
        return True
    if thing in _BODY_KINDS:  # 哪些市直部门: 市科技局、市工业和信息化局… are departments
        return re.search(_BODY_KINDS[thing], plain) is not None
    if _BODIES_RE.fullmatch(thing):
        return re.search(re.escape(thing[0]) + r"[^，。、；\s]{1,8}?" + re.escape(thing[1]),
                         plain) is not None
    return False


_BODIES_RE = re.compile("[市省区县][局委办厅]")
_BODY_KINDS = {"部门": "[局委厅]", "单位": "[局委厅院]|公司|企业|政府|中心|学校|协会|集团",
               "机构": "[局委厅院]|中心|机构|协会"}


def office(text: str) -> str | None:
    """The office a "who" question asks the holder of (青岛日报社的社长是谁 → 社长), or None."""
    match = _OFFICE_RE.search(Normalizer.base(text))
    return (match.group(1) or match.group(2)) if match else None


def holds(title: str, plain: str) -> bool:
    """Whether an entry's text names the office ``title`` as one held (局长), not as part of
    a prize's name (市长质量奖 names no mayor)."""
    return any(not plain.startswith(("质量奖", "奖"), m.end())
               for m in re.finditer(re.escape(title), plain))


_OFFICES = ("市长|区长|省长|局长|社长|书记|主任|董事长|总经理|校长|院长|部长|主席|厅长|处长|总裁|"
            "会长|所长|组长|秘书长|负责人")
_OFFICE_RE = re.compile(rf"({_OFFICES})(?:是谁|是哪位|叫什么|叫啥)|谁是\S{{0,8}}?({_OFFICES})")


def tallies(answer: str) -> tuple[str, ...]:
    """The items of an answer's lists of counts (世界品牌500强企业2家、…、中华老字号19个、…),
    in base form: a thing among them is counted, and none of its kind is named."""
    out: list[str] = []
    for clause in re.split(r"[。；;，,：:\n]", answer):
        items = [Normalizer.base(i) for i in clause.split("、")]  # base drops the 、
        if len(items) >= 3 and all(_DIGIT_RE.search(i) for i in items):
            out.extend(items)
    return tuple(out)


_LISTED_RE = re.compile(rf"(?:哪些|哪几[{_M}类]?|都有什么)([\u4e00-\u9fff]{{2}})")
# 老字号有哪些, 五朵金花都是啥: the thing listed stands before the question word
_LISTED_BEFORE_RE = re.compile(rf"([\u4e00-\u9fff]{{2}})(?:都|具体|分别|主要)?(?:是|有|包括|包含)"
                               rf"(?:哪些|哪几[{_M}类]?|啥|什么)")
_GENERIC_LISTS = frozenset({
    "方面", "东西", "内容", "事情", "方式", "措施", "工作", "项目", "环节", "问题", "地方", "类型",
    "形式", "类别",
    "种类", "情况", "活动", "举措", "做法", "单位", "企业", "公司", "机构", "部门", "组织", "人呢",
    "领导", "嘉宾", "代表", "人员", "人物", "名字", "呢呢", "来着", "亮点", "成果", "成绩", "特点",
    "要求", "条件", "重点", "任务", "领域", "标题", "名称", "题目", "厂子", "厂家", "工厂", "厂商"})


def units(text: str) -> dict[str, str]:
    """The measure word each counted noun comes with (多少次服务 → 服务: 次)."""
    return {m.group(2): m.group(1) for m in _UNIT_OF_RE.finditer(Normalizer.base(text))}


def counts(noun: str, plain: str, unit: str | None = None) -> bool:
    """Whether an entry's text (``plain``, base form, best :func:`without_years`) gives a
    number of ``noun`` (:func:`counted`): for people, a number of people (2022年 is not one).
    With the question's measure word, a figure counted in it anywhere in the noun's sentence
    does (…知识产权服务及开展质量诊断、质量提升10万余次)."""
    if noun == "人":
        return bool(_PEOPLE_COUNT_RE.search(plain))
    if unit is not None and noun in plain and any(
            noun in sentence and re.search(rf"\d\s*[万亿余多]*\s*{unit}", sentence)
            for sentence in re.split(r"[。；;]", plain)):
        return True
    if noun in plain:
        # a number near it (10家企业, 企业400家左右): "企业代表" with no figure counts nothing,
        # nor does a place in order (第1批…品牌企业名单)
        return any(_COUNT_DIGIT_RE.search(plain, max(m.start() - 8, 0), m.end() + 8)
                   for m in re.finditer(re.escape(noun), plain))
    # a homophone typo the spelling repair left (服物 for 服务, 产直 for 产值): only where one
    # of its characters stands is the other one's sound compared
    first, second = char_pinyin(noun[0]), char_pinyin(noun[1])
    i = plain.find(noun[0])
    while i >= 0:
        if i + 1 < len(plain) and char_pinyin(plain[i + 1]) == second:
            return True
        i = plain.find(noun[0], i + 1)
    i = plain.find(noun[1], 1)
    while i >= 0:
        if char_pinyin(plain[i - 1]) == first:
            return True
        i = plain.find(noun[1], i + 1)
    return False


def measure(text: str) -> str | None:
    """The measure word a "how many" question counts with, when it is a particular one (多少家,
    几部): 个 and 次 count anything."""
    m = _MEASURED_RE.search(Normalizer.base(text))
    return m.group(1) if m else None


def counts_measure(word: str, plain: str) -> bool:
    """Whether an entry's text gives a figure with that measure word (or the generic 个): 三大榜单
    counts lists, not the 家 of companies on them."""
    units = word + "个" + ("大" if word in _ITEMS else "")  # 十大质量提升工作 counts its items
    return re.search(rf"\d\s*[万亿余多]*\s*[{units}]", plain) is not None


_ITEMS = "项条种"  # abstract items, counted by 十大 too (a list of companies is not: 家)


_MEASURED_RE = re.compile(r"(?:多少|几)([家件部幅项条名位所款种朵批座届])")


def without_years(plain: str) -> str:
    """An entry's base text with its years blanked: 2021年度…认证企业名单 gives no number of
    companies, so a year must not count as a figure near a noun (:func:`counts`)."""
    return _COUNT_YEAR_RE.sub(lambda m: "年" * len(m.group(0)), plain)


_DIGIT_RE = re.compile(r"\d")
_COUNT_DIGIT_RE = re.compile(r"(?<![第\d])\d")
_COUNT_YEAR_RE = re.compile(r"(?:19|20)\d\d\s*年")
_STATED_COUNT_RE = re.compile(r"(?<![第\d])(\d+)\s*[余多]?\s*[个家件项条所位名款种部幅朵]")


def stated_count(text: str) -> int:
    """The count a "which ones" question states (26家品牌都有哪些, 哪24条 → 26, 24), or 0."""
    base = Normalizer.base(text)
    found = [int(n) for n in _STATED_COUNT_RE.findall(base) if n.isdigit()]
    found += [_EN_NUMBERS.get(n, 0) if not n.isdigit() else int(n)
              for n in _EN_STATED_RE.findall(base)]  # "which two companies"
    found += [_ZH_NUMBERS.get(n, 0) for n in _WHICH_N_RE.findall(base)]  # 哪两家 (两 stays)
    return max(found, default=0)


_EN_NUMBERS = {w: i for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"])}
_ZH_NUMBERS = {w: i for i, w in enumerate("零一两三四五六七八九十") if i} | {"二": 2}
_WHICH_N_RE = re.compile(r"哪([两二三四五六七八九十])\s*[个家件项条所位名款种部幅朵]")
_EN_STATED_RE = re.compile(r"\b(?:which |(?:which|what) (?:are|were) the |"
                           r"(?:list|names?) of (?:the |all (?:the )?)?|all (?:of )?the )"
                           r"(two|three|four|five|six|seven|eight|nine|ten|\d+)\b")


def longest_list(answer: str) -> int:
    """How many items the longest list of an answer has: A、B、C in one clause, or items on
    lines of their own (1. … / （一）… / - …)."""
    inline = max((_inline_items(part) for part in re.split(r"[。；;，,：:\n]", answer)),
                 default=0)
    lines = len(_ITEM_RE.findall(answer))
    # "A；B；C" is a list; one semicolon between two sentences is not, but one after a colon
    # is (做两件事：编制…；启动…)
    semicolons = answer.count("；")
    introduced = max((s.split("：", 1)[1].count("；") + 1 for s in answer.split("。") if "：" in s),
                     default=1)
    return max(inline, lines, semicolons + 1 if semicolons >= 2 else 1, introduced)


def _inline_items(clause: str) -> int:
    """Items of a clause's list: A、B、C, and A、B和C (the last joined by 和, 与 or 及)."""
    if "、" not in clause:  # 原国家工商总局和世界知识产权组织: two
        return 2 if _LAST_JOIN_RE.search(clause) else 1
    last = clause.rsplit("、", 1)[1]
    return clause.count("、") + 1 + (1 if _LAST_JOIN_RE.search(last) else 0)


_LAST_JOIN_RE = re.compile(r"[^、]{2,}(?:[和与及]|联合|会同)[^、]{2,}")


_ITEM_RE = re.compile(r"^\s*(?:\d+[.、)）]|[（(][一二三四五六七八九十\d]+[)）]|[-*•])", re.MULTILINE)


def label(aspect: str, lang: str) -> str:
    """How the honest reply names the aspect (the catalogue's ``aspect.*``)."""
    return say(f"aspect.{aspect}", lang)


__all__ = ["ASPECTS", "DETAILS", "Told", "asked", "counted", "counts",
           "derive", "label", "longest_list", "spans", "stated_count"]
