"""Adding a citizen's question as a phrasing of an entry, for ``run_bot.py review``.

The staff's YAML files are edited the way a careful person would: ruamel.yaml's round trip
keeps every comment, quote and line as it was and appends one line under the entry's
``questions.zh`` (or ``questions.en`` for an English question). The change is checked before
anyone can see it: the edited file is validated together with the rest of the folder in a
scratch copy, then written atomically (so the running bot's live reload never reads half a
file), then the folder is validated again and the file restored if it fails (someone else
may have saved a broken file in between). Nothing here decides *what* to add: a person does.
"""

from __future__ import annotations

import io
import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from bot.kb import KnowledgeError, Problem, lint, load_knowledge
from bot.text import Normalizer, detect_language

MAX_PHRASING_CHARS = 200
# (mapping, sequence, offset) indentations tried in turn: the first one that writes the
# unchanged file back byte for byte is the file's own style. The shipped files use the first.
_STYLES = [(2, 4, 2), *((m, s, o) for m, s, o in itertools.product((2, 4), (2, 4, 6), (0, 2, 4))
                        if (m, s, o) != (2, 4, 2) and (o <= s - 2 or (s, o) == (2, 0)))]


@dataclass(frozen=True)
class AddResult:
    ok: bool
    message: str  # one line for a person (English and Chinese)
    entry_id: str
    question: str
    file: Path | None = None
    field: str = ""  # questions.zh or questions.en
    problems: tuple[Problem, ...] = ()  # why the folder would not validate
    warnings: tuple[str, ...] = ()  # validate's advice that mentions the new phrasing


def clean_phrasing(question: str) -> str:
    """The question as it will be written: white space collapsed, nothing else changed."""
    return " ".join(question.split())


def phrasing_field(question: str, lang: str | None = None) -> str:
    """``en`` for an English question, ``zh`` for everything else (traditional included)."""
    return "en" if (lang or detect_language(question)) == "en" else "zh"


def find_entry(directory: Path, entry_id: str) -> Path | None:
    """The knowledge file that defines ``entry_id`` (files that do not parse are skipped)."""
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if entry_id not in text:
            continue
        try:
            data = YAML(typ="rt").load(text)
        except YAMLError:
            continue
        if _entry_in(data, entry_id) is not None:
            return path
    return None


def add_phrasing(directory: str | Path, entry_id: str, question: str,
                 lang: str | None = None) -> AddResult:
    """Append ``question`` to the phrasings of ``entry_id``; the folder must stay valid."""
    directory = Path(directory)
    question = clean_phrasing(question)
    key = phrasing_field(question, lang)
    field = f"questions.{key}"

    def fail(message: str, path: Path | None = None,
             problems: tuple[Problem, ...] = ()) -> AddResult:
        return AddResult(False, message, entry_id, question, path, field, problems)

    if not question:
        return fail("empty question / 问题为空")
    if len(question) > MAX_PHRASING_CHARS:
        return fail(f"a phrasing is at most {MAX_PHRASING_CHARS} characters / 问法太长")
    path = find_entry(directory, entry_id)
    if path is None:
        return fail(f"no entry '{entry_id}' in {directory} / 没有这个条目")
    original = path.read_bytes()
    try:
        edited = _edited(original.decode("utf-8"), entry_id, key, question)
    except _CannotAdd as exc:
        return fail(str(exc), path)

    # 1. Validate the edited file with the rest of the folder, where nobody else can see it.
    with tempfile.TemporaryDirectory(prefix="knowledge-check-") as scratch:
        for other in directory.glob("*.yaml"):
            shutil.copy2(other, Path(scratch) / other.name)
        (Path(scratch) / path.name).write_text(edited, encoding="utf-8")
        try:
            knowledge = load_knowledge(scratch)
        except KnowledgeError as exc:
            problems = tuple(_relocated(p, scratch, directory) for p in exc.problems)
            return fail(f"not added: the knowledge would not validate ({len(problems)} "
                        "problem(s)) / 未添加：修改后的知识库检查不通过", path, problems)
        warnings = tuple(str(w) for w in (*knowledge.warnings, *lint(knowledge))
                         if question in str(w))

    # 2. Write it, unless someone changed the file meanwhile.
    if path.read_bytes() != original:
        return fail(f"{path.name} changed while adding; try again / 文件刚被修改，请重试", path)
    _write_atomically(path, edited.encode("utf-8"))

    # 3. The live folder as a whole must still load; otherwise put the file back.
    try:
        load_knowledge(directory)
    except KnowledgeError as exc:
        if path.read_bytes() == edited.encode("utf-8"):
            _write_atomically(path, original)
        return fail(f"not added: the knowledge folder does not validate; {path.name} was "
                    "restored / 未添加：知识库检查不通过，文件已恢复", path, tuple(exc.problems))
    return AddResult(True, f"added to {path.name}, entry {entry_id}, {field} / 已添加", entry_id,
                     question, path, field, (), warnings)


# --------------------------------------------------------------------------- helpers

def _entry_in(data: Any, entry_id: str) -> CommentedMap | None:
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if isinstance(entry, dict) and str(entry.get("id")) == entry_id:
            return entry
    return None


def _yaml(style: tuple[int, int, int]) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1_000_000  # never fold the staff's long answer lines
    yaml.allow_unicode = True
    mapping, sequence, offset = style
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


class _CannotAdd(Exception):
    """Why the phrasing cannot be added to this file (a message for a person)."""


def _edited(text: str, entry_id: str, key: str, question: str) -> str:
    """The file's text with the phrasing appended; raises :class:`_CannotAdd`."""
    style = _STYLES[0]
    for candidate in _STYLES:  # the style that reproduces the file exactly, if any
        try:
            if _dump(_yaml(candidate), _yaml(candidate).load(text)) == text:
                style = candidate
                break
        except YAMLError:
            raise _CannotAdd("the file is not valid YAML; fix it first (run_bot.py validate) "
                             "/ 文件格式有误，请先修正") from None
    yaml = _yaml(style)
    data = yaml.load(text)
    entry = _entry_in(data, entry_id)
    if entry is None:
        raise _CannotAdd(f"no entry '{entry_id}' / 没有这个条目")
    questions = entry.get("questions")
    if not isinstance(questions, dict):
        raise _CannotAdd(f"entry '{entry_id}' has no 'questions' mapping")
    current = questions.get(key)
    wanted = Normalizer.base(question)
    for phrasings in questions.values():
        if isinstance(phrasings, list) and any(Normalizer.base(str(q)) == wanted
                                               for q in phrasings):
            raise _CannotAdd(f"'{question}' is already a phrasing of {entry_id} / 已经有这个问法")
    if current is None:
        questions[key] = CommentedSeq([question])
    elif isinstance(current, list):
        current.append(question)
    else:
        raise _CannotAdd(f"questions.{key} of '{entry_id}' is not a list")
    return _dump(yaml, data)


def _relocated(problem: Problem, scratch: str, directory: Path) -> Problem:
    """A problem found in the scratch copy, named as in the real folder."""
    return replace(problem, file=problem.file.replace(scratch, str(directory)),
                   message=problem.message.replace(scratch, str(directory)))


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` in one step (a reader sees the old file or the new one, never half):
    the temporary name does not end in .yaml, so the live reload ignores it."""
    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["MAX_PHRASING_CHARS", "AddResult", "add_phrasing", "clean_phrasing", "find_entry",
           "phrasing_field"]
