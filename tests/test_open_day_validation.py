"""open_day.yaml is validated like all knowledge: every problem with file, line and field."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot.dialogue import open_day_of
from bot.kb import SESSION_ID_MAX, TZ, Knowledge, KnowledgeError, load_knowledge
from tests.open_day_helpers import knowledge_copy
from tests.paths import ROOT

SHIPPED = (ROOT / "knowledge" / "open_day.yaml").read_text(encoding="utf-8")


def problems_of(tmp_path: Path, text: str) -> list[str]:
    directory = knowledge_copy(tmp_path, lambda _: text)
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(directory)
    return [str(p) for p in caught.value.problems]


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[nth - 1]


def test_the_shipped_sessions_are_valid_future_examples(knowledge: Knowledge) -> None:
    open_day = open_day_of(knowledge)
    assert len(open_day.sessions) >= 2
    today = datetime(2026, 11, 24, tzinfo=TZ)
    for session in open_day.sessions:
        assert session.start > today and session.start.year == 2027
        assert session.notes is not None and "示例" in session.notes.zh
        assert session.notes.en and "Example" in session.notes.en
        assert "示例" in session.institution.zh and "示例" in session.address.zh
    assert "EXAMPLE" in SHIPPED and "示例" in SHIPPED.split("sessions:")[0]
    assert {"open-day", "task-quality-literacy", "nqi-services"} <= set(open_day.invite.entries)
    assert {"检验检测", "开放日", "lab", "open day"} <= set(open_day.invite.words)


def test_capacity_zero_names_file_line_and_field(tmp_path: Path) -> None:
    text = SHIPPED.replace("capacity: 20", "capacity: 0", 1)
    [problem] = problems_of(tmp_path, text)
    assert problem.endswith(f"open_day.yaml:{line_of(text, 'capacity: 0')}: "
                            "sessions[0] (example-a-2027-03-16) capacity: must be at least 1 "
                            "(the number of visitors), not 0")


def test_end_before_start_names_file_line_and_field(tmp_path: Path) -> None:
    text = SHIPPED.replace("end: 2027-04-13T16:00", "end: 2027-04-13T13:00", 1)
    [problem] = problems_of(tmp_path, text)
    assert problem.endswith(f"open_day.yaml:{line_of(text, 'end: 2027-04-13T13:00')}: "
                            "sessions[1] (example-b-2027-04-13) end: the end (2027-04-13 13:00) "
                            "must be after the start (2027-04-13 14:00)")


def test_duplicate_id_names_both_places(tmp_path: Path) -> None:
    text = SHIPPED.replace("id: example-c-2027-05-18", "id: example-a-2027-03-16", 1)
    [problem] = problems_of(tmp_path, text)
    first, second = (line_of(text, "id: example-a-2027-03-16", n) for n in (1, 2))
    assert f"open_day.yaml:{second}: sessions[2] (example-a-2027-03-16) id: duplicate session " \
        f"id 'example-a-2027-03-16' (first used at " in problem
    assert problem.endswith(f"open_day.yaml:{first})")


@pytest.mark.parametrize(("old", "new", "field", "message"), [
    ("start: 2027-03-16T09:30", "start: 2027-03-16", "sessions[0] (example-a-2027-03-16) start",
     "has no time"),
    ("start: 2027-03-16T09:30", "start: next tuesday", "start", "not a date"),
    ("capacity: 20", "capacity: many", "capacity", "whole number"),
    ("capacity: 20", "capacity: 2.5", "capacity", "whole number"),
    ("    min_age: 12", "    min_age: 12\n    colour: red", "colour", "unknown field"),
    ("  - id: example-a-2027-03-16", "  - id: Example A", "sessions[0] (Example A) id", "pattern"),
    ("  - id: example-a-2027-03-16", "  - id: " + "a" * (SESSION_ID_MAX + 1), "id", "at most"),
    ("invite:", "invites:", "invites", "unknown field"),
    ("[open-day, task", "[no-such-entry, open-day, task", "invite.entries[0]",
     "no entry has the id 'no-such-entry'"),
])
def test_other_mistakes_are_reported_where_they_are(tmp_path: Path, old: str, new: str,
                                                    field: str, message: str) -> None:
    assert old in SHIPPED
    text = SHIPPED.replace(old, new, 1)
    problems = problems_of(tmp_path, text)
    line = line_of(text, new.splitlines()[-1].strip())
    assert any(f"open_day.yaml:{line}: " in p and f"{field}: " in p and message in p
               for p in problems), problems


def test_times_with_seconds_or_a_space_and_no_file_at_all(tmp_path: Path) -> None:
    text = SHIPPED.replace("start: 2027-03-16T09:30", "start: 2027-03-16 09:30:00", 1)
    knowledge = load_knowledge(knowledge_copy(tmp_path, lambda _: text))
    session = open_day_of(knowledge).sessions[0]
    assert session.start == datetime(2027, 3, 16, 9, 30, tzinfo=TZ)
    (tmp_path / "knowledge" / "open_day.yaml").unlink()
    assert open_day_of(load_knowledge(tmp_path / "knowledge")).sessions == []


def test_validate_command_reports_open_day_errors(tmp_path: Path) -> None:
    import subprocess
    import sys

    directory = knowledge_copy(tmp_path, lambda t: t.replace("capacity: 20", "capacity: 0", 1))
    result = subprocess.run([sys.executable, "run_bot.py", "validate", str(directory)], cwd=ROOT,
                            capture_output=True, timeout=60)
    out = result.stdout.decode()
    assert result.returncode == 1 and "open_day.yaml" in out and "capacity" in out
