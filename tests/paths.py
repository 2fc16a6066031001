"""Where things are, for tests: the repository and the shared folder beside it."""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def copy_knowledge(target: Path) -> Path:
    """Copy the shipped knowledge to ``target``, still pointing at the article.

    glossary.yaml names the article relative to the knowledge folder (the checkout's
    ../shared/seed/); a copy elsewhere gets the absolute path so its checks still run.
    """
    shutil.copytree(ROOT / "knowledge", target)
    glossary = target / "glossary.yaml"
    article = (ROOT / "knowledge" / ARTICLE_FROM_KNOWLEDGE).resolve()
    glossary.write_text(glossary.read_text(encoding="utf-8").replace(
        f"article: {ARTICLE_FROM_KNOWLEDGE}", f"article: {article}"), encoding="utf-8")
    return target


ARTICLE_FROM_KNOWLEDGE = "../../shared/seed/qingdao-quality-month-2022.txt"
