"""One problem found in the knowledge folder: file, line, field and what is wrong.

Its own module because both the loader (:mod:`bot.kb`) and the checks it runs while loading
(:mod:`bot.factcheck`) report problems: neither needs to import the other back for it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    where: str
    message: str

    def __str__(self) -> str:
        where = f" {self.where}:" if self.where else ""
        return f"{self.file}:{self.line}:{where} {self.message}"
