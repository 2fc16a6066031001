#!/usr/bin/env python3
"""Speed and memory of the engine as the knowledge grows: 1k, 10k and 100k question phrasings.

The knowledge for each size is, in order: the shipped entries' phrasings (``knowledge/``), the
Taipei municipal FAQ titles (traditional Chinese, ``../shared/bench-data/``), then generated
phrasings (seeded, deterministic: fragments of the real and FAQ phrasings recombined into
questions, or real phrasings with characters swapped), four phrasings per generated entry.

For each size, in a fresh process so that memory figures are its own: Engine construction
time, Engine.ask p50/p99 over a fixed list of ~300 mixed questions (paraphrases, typos,
English, FAQ titles with small edits, off-topic), the same figures for a plain rapidfuzz scan
(``process.extractOne(q, all_phrasings, scorer=fuzz.WRatio)``), peak RSS and tracemalloc's peak.
Then the wall clock of ``python run_bot.py ask "品博会什么时候举办"``.

Run from the repository root: ``.venv/bin/python benchmarks/bench_retrieval.py``.
This prints figures; it is not a test and never fails on a missed target.
"""

from __future__ import annotations

import gc
import html
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rapidfuzz import fuzz, process  # noqa: E402

from bot.engine import Engine, Status  # noqa: E402
from bot.kb import Bilingual, Entry, Knowledge, Questions, load_knowledge  # noqa: E402
from bot.text import char_pinyin, to_simplified  # noqa: E402

DATA = ROOT / ".." / "shared" / "bench-data"
FAQ_XML = DATA / "taipei-municipal-faq.xml"
SIZES = (1_000, 10_000, 100_000)
SEED = 20220901
TIMED_PASSES = 3  # Engine.ask passes over the question list (after one warm-up pass)
CLI_RUNS = 3
CLI_QUESTION = "品博会什么时候举办"

TARGET_P99_10K_MS = 2.0
TARGET_SPEEDUP_100K = 30.0
TARGET_BUILD_100K_S = 10.0
TARGET_MEMORY_100K_MB = 400.0
TARGET_CLI_S = 1.5

_CJK = re.compile(r"[\u3400-\u9fff]")
_CLAUSE_SPLIT = re.compile(r"[^\u3400-\u9fffA-Za-z0-9]+")


# --------------------------------------------------------------------------- source material


def faq_items() -> list[tuple[str, str]]:
    """(title, answer text) of every distinct Taipei FAQ question, in file order."""
    root = ET.parse(FAQ_XML).getroot()
    seen: set[str] = set()
    out = []
    for data in root.iter("data"):
        title = html.unescape((data.findtext("news_title") or "").strip())
        if not title or title in seen:
            continue
        seen.add(title)
        body = html.unescape(re.sub(r"<[^>]+>", " ", html.unescape(data.findtext("news_content") or "")))
        out.append((title, " ".join(body.split())[:300] or title))
    return out


def clauses(texts: list[str]) -> list[str]:
    """Runs of Chinese characters of at least 2, from simplified text."""
    out = []
    for text in texts:
        for part in _CLAUSE_SPLIT.split(to_simplified(text)):
            if len(part) >= 2 and all(_CJK.match(ch) for ch in part):
                out.append(part)
    return out


_LEADS = ["", "", "", "请问", "我想问一下", "想了解一下", "咨询一下", "你好，"]
_LINKS = ["", "", "的", "和", "在", "关于", "办理", "申请"]
_ENDINGS = ["是什么", "怎么办理", "吗", "有哪些", "需要什么材料", "在哪里办", "要多少钱",
            "什么时候开始", "如何申请", "由哪个部门负责", "有什么要求", "怎么查询", "需要多久",
            "可以网上办吗", "的流程是怎样的", "有补贴吗", "？", "的电话是多少", "截止到什么时候", "找谁"]


class Generator:
    """Deterministic Chinese-looking questions from fragments of real ones."""

    def __init__(self, sources: list[str], seed: int) -> None:
        self.rng = random.Random(seed)
        self.clauses = clauses(sources)
        self.sources = [to_simplified(s) for s in sources if _CJK.search(s)]
        counts = Counter(ch for c in self.clauses for ch in c)
        self.chars = list(counts)
        self.char_weights = list(counts.values())

    def fragment(self) -> str:
        clause = self.rng.choice(self.clauses)
        length = self.rng.randint(2, min(6, len(clause)))
        start = self.rng.randint(0, len(clause) - length)
        return clause[start:start + length]

    def question(self) -> str:
        rng = self.rng
        if rng.random() < 0.3:  # a real phrasing with one to three characters swapped
            text = list(rng.choice(self.sources))
            positions = [i for i, ch in enumerate(text) if _CJK.match(ch)]
            for i in rng.sample(positions, min(len(positions), rng.randint(1, 3))):
                text[i] = rng.choices(self.chars, self.char_weights)[0]
            return "".join(text)
        parts = [rng.choice(_LEADS), self.fragment()]
        if rng.random() < 0.7:
            parts += [rng.choice(_LINKS), self.fragment()]
        parts.append(rng.choice(_ENDINGS))
        return "".join(parts)

    def answer(self) -> str:
        pieces, total = [], 0
        target = self.rng.randint(40, 160)
        while total < target:
            piece = self.rng.choice(self.clauses)
            pieces.append(piece)
            total += len(piece)
        return "，".join(pieces) + "。"


def entry(number: int, phrasings: list[str], answer: str, categories: list[str]) -> Entry:
    zh = [p for p in phrasings if _CJK.search(p)]
    en = [p for p in phrasings if not _CJK.search(p)]
    return Entry.model_construct(
        id=f"bench-{number:06d}",
        category=categories[number % len(categories)],
        questions=Questions.model_construct(zh=zh, en=en),
        answer=Bilingual.model_construct(zh=answer, en=None),
        links=[], source="benchmark", dates=[], related=[])


def build_knowledge(size: int) -> Knowledge:
    """The shipped knowledge, then FAQ titles, then generated entries, to ``size`` phrasings."""
    real = load_knowledge(ROOT / "knowledge")
    entries = list(real.entries)
    categories = [c.id for c in real.categories]
    count = sum(len(e.questions.zh) + len(e.questions.en) for e in entries)
    seen = {p for e in entries for p in (*e.questions.zh, *e.questions.en)}
    faq = faq_items()
    for title, body in faq:
        if count >= size:
            break
        entries.append(entry(len(entries), [title], body, categories))
        seen.add(title)
        count += 1
    # sorted: a set's order changes with the interpreter's string hashing, and so did the phrasings
    gen = Generator([*sorted(seen), *(t for t, _ in faq)], SEED)
    while count < size:
        group: list[str] = []
        while len(group) < min(4, size - count):
            q = gen.question()
            if q not in seen:
                seen.add(q)
                group.append(q)
        entries.append(entry(len(entries), group, gen.answer(), categories))
        count += len(group)
    # the shipped synonyms, question words, fillers and small talk, with the grown entries
    return replace(real, entries=entries, version=f"bench-{size}", files=[])


# --------------------------------------------------------------------------- questions


_OFF_TOPIC = [
    "今天天气怎么样", "附近有什么好吃的", "明天股票会涨吗", "红烧肉怎么做", "世界杯谁夺冠了",
    "推荐一部好看的电影", "我的快递到哪了", "手机没信号怎么办", "北京到上海的高铁票多少钱",
    "怎么学习编程", "猫为什么喜欢睡觉",
    "宇宙有多大", "周末去哪里玩", "孩子发烧怎么办", "怎么减肥最快", "给我讲个笑话", "银行卡丢了怎么挂失",
    "离婚需要什么手续", "考研什么时候报名", "哪里可以买到便宜的机票",
    "how do I cook rice", "what's the weather like tomorrow", "who won the world cup",
    "tell me a joke", "best laptop for students", "how to learn guitar", "where can I buy cheap flights",
    "what time is it in London", "how tall is mount everest", "recommend a good book",
]


def _homophones(chars: list[str]) -> dict[str, list[str]]:
    by_sound: dict[str, list[str]] = {}
    for ch in chars:
        by_sound.setdefault(char_pinyin(ch), []).append(ch)
    return {ch: [o for o in by_sound[char_pinyin(ch)] if o != ch] for ch in chars}


def question_list() -> list[tuple[str, str]]:
    """(kind, question): ~300 questions, the same for every size."""
    rng = random.Random(SEED + 1)
    real = load_knowledge(ROOT / "knowledge")
    zh = [q for e in real.entries for q in e.questions.zh]
    en = [q for e in real.entries for q in e.questions.en]
    faq = [t for t, _ in faq_items()]
    out: list[tuple[str, str]] = []

    for q in rng.sample(zh, 100):  # paraphrase-like
        edit = rng.randrange(5)
        if edit == 0:
            q = rng.choice(["请问", "我想知道", "想问下", "你好，"]) + q
        elif edit == 1:
            q = q + rng.choice(["呢", "？", "啊", "吗"])
        elif edit == 2 and "什么" in q:
            q = q.replace("什么", "啥", 1)
        elif len(q) > 4:
            i = rng.randrange(len(q))
            q = q[:i] + q[i + 1:]
        out.append(("paraphrase", q))

    pool = sorted({ch for q in zh for ch in q if _CJK.match(ch)} | {
        ch for q in faq for ch in to_simplified(q) if _CJK.match(ch)})
    sounds = _homophones(pool)
    typos = 0
    for q in rng.sample(zh, len(zh)):  # homophone typos (pinyin IME)
        spots = [i for i, ch in enumerate(q) if sounds.get(ch)]
        if not spots:
            continue
        i = rng.choice(spots)
        out.append(("typo", q[:i] + rng.choice(sounds[q[i]]) + q[i + 1:]))
        typos += 1
        if typos == 40:
            break
    out += [("typo", q) for q in ("pinbohui shenme shihou", "pinbohui zai nali", "zhiliangyue",
                                  "品搏会几号开始", "质量越活动有哪些")]

    for q in rng.sample(en, 50):  # English
        edit = rng.randrange(4)
        words = q.split()
        if edit == 0:
            q = q.lower().rstrip("?")
        elif edit == 1 and len(words) > 4:
            del words[rng.randrange(1, len(words))]
            q = " ".join(words)
        elif edit == 2:
            long = [i for i, w in enumerate(words) if len(w) > 5 and w.isalpha()]
            if long:
                i = rng.choice(long)
                w = words[i]
                j = rng.randrange(1, len(w) - 2)
                words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
                q = " ".join(words)
        out.append(("english", q))

    for q in rng.sample(faq, 60):  # FAQ titles with small edits (traditional script)
        edit = rng.randrange(3)
        if edit == 0:
            q = "請問" + q
        elif edit == 1 and "如何" in q:
            q = q.replace("如何", "怎麼", 1)
        elif len(q) > 6:
            i = rng.randrange(len(q))
            q = q[:i] + q[i + 1:]
        out.append(("faq", q))

    off = list(_OFF_TOPIC)
    while len(off) < 50:
        q = rng.choice(_OFF_TOPIC)
        off.append(rng.choice(["请问", "我想问", "hey, ", "你好，"]) + q)
    out += [("off-topic", q) for q in off]
    return out


# --------------------------------------------------------------------------- one size


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def measure(size: int) -> dict[str, object]:
    questions = question_list()
    knowledge = build_knowledge(size)
    phrasings = [p for e in knowledge.entries for p in (*e.questions.zh, *e.questions.en)]
    gc.collect()
    rss_data = rss_mb()

    start = time.perf_counter()
    engine = Engine(knowledge)
    build_s = time.perf_counter() - start

    statuses: Counter[tuple[str, str]] = Counter()
    for kind, q in questions:  # warm-up, and what the questions get
        statuses[(kind, engine.ask(q).status.value)] += 1
    times: list[float] = []
    per_question = [float("inf")] * len(questions)
    gc_before = [g["collections"] for g in gc.get_stats()]
    for _ in range(TIMED_PASSES):
        for i, (_, q) in enumerate(questions):
            t0 = time.perf_counter_ns()
            engine.ask(q)
            elapsed = (time.perf_counter_ns() - t0) / 1e6
            times.append(elapsed)
            per_question[i] = min(per_question[i], elapsed)
    gc_runs = [g["collections"] - b for g, b in zip(gc.get_stats(), gc_before, strict=True)]

    for _, q in questions[:5]:
        process.extractOne(q, phrasings, scorer=fuzz.WRatio)
    scan = []
    for _, q in questions:
        t0 = time.perf_counter_ns()
        process.extractOne(q, phrasings, scorer=fuzz.WRatio)
        scan.append((time.perf_counter_ns() - t0) / 1e6)
    rss_peak = rss_mb()

    del engine
    gc.collect()
    tracemalloc.start()
    traced_engine = Engine(knowledge)
    build_peak = tracemalloc.get_traced_memory()[1]
    for _, q in questions:
        traced_engine.ask(q)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    return {
        "size": size, "phrasings": len(phrasings), "entries": len(knowledge.entries),
        "questions": len(questions), "build_s": build_s,
        "ask_p50": percentile(times, 50), "ask_p99": percentile(times, 99),
        "ask_max": max(times), "ask_mean": statistics.fmean(times),
        "best_p50": percentile(per_question, 50), "best_p99": percentile(per_question, 99),
        "gc_runs": gc_runs,
        "scan_p50": percentile(scan, 50), "scan_p99": percentile(scan, 99),
        "rss_data_mb": rss_data, "rss_peak_mb": rss_peak,
        "traced_build_mb": build_peak / 2**20, "traced_peak_mb": peak / 2**20,
        "traced_engine_mb": current / 2**20,
        "statuses": {f"{k}|{s}": n for (k, s), n in statuses.items()},
    }


def run_worker(size: int) -> dict[str, object]:
    """measure(size) in a fresh interpreter, so that its peak RSS is its own."""
    proc = subprocess.run([sys.executable, __file__, "--worker", str(size)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"worker for {size} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- the CLI


def time_cli() -> list[tuple[float, float]]:
    """(seconds to the first output, seconds to exit) of the one-shot CLI, shipped knowledge."""
    env = {k: v for k, v in os.environ.items() if k != "KNOWLEDGE_DIR"}
    runs = []
    for _ in range(CLI_RUNS):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "run_bot.py", "ask", CLI_QUESTION], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                bufsize=0)  # unbuffered: read(1) takes exactly one byte
        assert proc.stdout is not None
        first = proc.stdout.read(1)
        first_s = time.perf_counter() - start
        rest, err = proc.communicate()
        exit_s = time.perf_counter() - start
        if proc.returncode != 0 or not first:
            sys.stderr.write(err.decode(errors="replace"))
            print(f"  run_bot.py exited with {proc.returncode}")
        runs.append((first_s, exit_s))
        last_output = (first + rest).decode(errors="replace")
    print("  its answer: " + last_output.strip().splitlines()[0][:80])
    return runs


# --------------------------------------------------------------------------- report


def met(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


@dataclass
class Row:
    label: str
    key: str
    fmt: str


def main() -> None:
    started = time.perf_counter()
    print("bench_retrieval: engine speed and memory by knowledge size")
    print(f"  data: {DATA.resolve()}; python {sys.version.split()[0]}; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.2f} (other processes share these cores)")
    results = []
    for size in SIZES:
        t0 = time.perf_counter()
        r = run_worker(size)
        results.append(r)
        print(f"  measured {size:>7,} phrasings in {time.perf_counter() - t0:.1f} s")
    print()
    first = results[0]
    kinds = Counter(kind for kind, _ in question_list())
    print(f"questions: {first['questions']} ({', '.join(f'{n} {k}' for k, n in kinds.items())}); "
          f"Engine.ask timed {TIMED_PASSES}× each after a warm-up pass; scan timed once each")
    rows = [
        Row("phrasings", "phrasings", "{:,}"), Row("entries", "entries", "{:,}"),
        Row("index build, Engine() (s)", "build_s", "{:.2f}"),
        Row("Engine.ask p50 (ms)", "ask_p50", "{:.3f}"),
        Row("Engine.ask p99 (ms)", "ask_p99", "{:.3f}"),
        Row("Engine.ask max (ms)", "ask_max", "{:.3f}"),
        Row("  per-question best of 3, p50 (ms)", "best_p50", "{:.3f}"),
        Row("  per-question best of 3, p99 (ms)", "best_p99", "{:.3f}"),
        Row("scan WRatio p50 (ms)", "scan_p50", "{:.3f}"),
        Row("scan WRatio p99 (ms)", "scan_p99", "{:.3f}"),
        Row("RSS before build (MB)", "rss_data_mb", "{:.0f}"),
        Row("peak RSS, build+queries (MB)", "rss_peak_mb", "{:.0f}"),
        Row("tracemalloc peak, build (MB)", "traced_build_mb", "{:.0f}"),
        Row("tracemalloc peak, build+queries (MB)", "traced_peak_mb", "{:.0f}"),
        Row("tracemalloc, engine kept (MB)", "traced_engine_mb", "{:.0f}"),
    ]
    print(f"  {'':<38}" + "".join(f"{r['size']:>12,}" for r in results))
    for row in rows:
        print(f"  {row.label:<38}" + "".join(f"{row.fmt.format(r[row.key]):>12}" for r in results))
    print(f"  {'speed-up over the scan, p50':<38}" + "".join(
        f"{r['scan_p50'] / r['ask_p50']:>11.1f}×" for r in results))
    print(f"  {'speed-up over the scan, p99':<38}" + "".join(
        f"{r['scan_p99'] / r['ask_p99']:>11.1f}×" for r in results))
    print(f"  {'GC runs during timed asks (gen 0/1/2)':<38}" + "".join(
        f"{'/'.join(str(x) for x in r['gc_runs']):>12}" for r in results))
    print("  (RSS is the whole worker process: interpreter, libraries, generated knowledge, engine, "
          "scan list)")
    print()
    print("what the questions get (answer / clarify / fallback):")
    print(f"  {'':<12}" + "".join(f"{r['size']:>16,}" for r in results))
    for kind in ("paraphrase", "typo", "english", "faq", "off-topic"):
        cells = []
        for r in results:
            s = r["statuses"]
            counts = [s.get(f"{kind}|{st.value}", 0) for st in Status]
            cells.append("/".join(str(c) for c in counts))
        print(f"  {kind:<12}" + "".join(f"{c:>16}" for c in cells))
    print()

    print(f"CLI: python run_bot.py ask \"{CLI_QUESTION}\" ({CLI_RUNS} runs, shipped knowledge)")
    cli = time_cli()
    first_out = statistics.median(r[0] for r in cli)
    exits = statistics.median(r[1] for r in cli)
    print("  to first output: " + ", ".join(f"{r[0]:.2f}" for r in cli) + f" s (median {first_out:.2f})")
    print("  to exit:         " + ", ".join(f"{r[1]:.2f}" for r in cli) + f" s (median {exits:.2f})")
    print()

    by = {r["size"]: r for r in results}
    r10, r100 = by[10_000], by[100_000]
    s50 = r100["scan_p50"] / r100["ask_p50"]
    s99 = r100["scan_p99"] / r100["ask_p99"]
    print("Targets")
    print(f"  p99 under {TARGET_P99_10K_MS} ms at 10k: {r10['ask_p99']:.3f} ms -> "
          f"{met(r10['ask_p99'] < TARGET_P99_10K_MS)}")
    print(f"  ≥{TARGET_SPEEDUP_100K:.0f}× faster than the plain scan at 100k: p50 {s50:.0f}×, p99 "
          f"{s99:.0f}× -> {met(s50 >= TARGET_SPEEDUP_100K and s99 >= TARGET_SPEEDUP_100K)}")
    print(f"  index build under {TARGET_BUILD_100K_S:.0f} s at 100k: {r100['build_s']:.2f} s -> "
          f"{met(r100['build_s'] < TARGET_BUILD_100K_S)}")
    print(f"  memory under {TARGET_MEMORY_100K_MB:.0f} MB at 100k: peak RSS {r100['rss_peak_mb']:.0f} MB "
          f"(tracemalloc peak {r100['traced_peak_mb']:.0f} MB) -> "
          f"{met(r100['rss_peak_mb'] < TARGET_MEMORY_100K_MB)}")
    print(f"  CLI answer within {TARGET_CLI_S} s: median {first_out:.2f} s to first output -> "
          f"{met(first_out <= TARGET_CLI_S)}")
    print()
    print(f"total run time {time.perf_counter() - started:.0f} s; load average now "
          f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        main()
