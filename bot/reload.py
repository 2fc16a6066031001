"""Live reload: edits under the knowledge folder take effect within seconds, safely.

Staff save files while the bot is serving. A change is picked up by polling (one ``stat`` per
file per second: no extra dependency, works on every file system, including network shares);
the new folder is loaded and indexed in a worker thread, and only a complete, valid engine
replaces the one being served. A broken edit leaves the last good knowledge in place, is
logged with file and line, and is reported once per broken version. Warnings of a good
reload (an answer saying 目前 with no year, a generic phrasing, an unconfirmed synonym …) are
told to the admins once each, with the reload message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.engine import Engine
from bot.kb import KnowledgeError, Problem, load_knowledge
from bot.messages import say

log = logging.getLogger("bot.reload")


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    version: str | None = None
    entries: int = 0
    problems: tuple[Problem, ...] = ()
    changed: bool = True
    warnings: tuple[Problem, ...] = ()  # new since the admins were last told

    def describe(self, lang: str = "zh") -> str:
        """One message for an admin."""
        if self.ok and not self.changed:
            return say("reload.unchanged", lang, version=self.version)
        if self.ok:
            text = say("reload.loaded", lang, entries=self.entries, version=self.version)
            if self.warnings:
                text += "\n" + say("reload.warnings", lang)
                text += "".join(f"\nwarning: {w}" for w in self.warnings[:10])
                if len(self.warnings) > 10:
                    text += f"\n… (+{len(self.warnings) - 10})"
            return text
        shown = [str(p) for p in self.problems[:10]]
        more = len(self.problems) - len(shown)
        if more > 0:
            shown.append(f"… (+{more})")
        return "\n".join([say("reload.broken", lang), *shown])


class KnowledgeWatcher:
    """Keeps ``on_loaded`` supplied with the engine of the folder's latest valid content."""

    def __init__(self, directory: Path, current_version: str,
                 on_loaded: Callable[[Engine], None],
                 on_broken: Callable[[ReloadResult], Awaitable[None]] | None = None,
                 build: Callable[[Path], Engine] | None = None,
                 interval: float = 1.0, current_warnings: Iterable[Problem] = ()) -> None:
        self.directory = directory
        self.version = current_version
        self._on_loaded = on_loaded
        self._on_broken = on_broken
        self._build = build or (lambda d: Engine(load_knowledge(d)))
        self.interval = interval
        self._stamp = self._fingerprint()
        self._reported: frozenset[Problem] | None = None
        # warnings the admins know of (those of the folder served at start are not news)
        self._warned = {(w.file, w.where, w.message) for w in current_warnings}
        self._lock = asyncio.Lock()

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        try:
            files = sorted(self.directory.glob("*.yaml"))
            return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        except OSError:
            return ()

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            stamp = self._fingerprint()
            if stamp != self._stamp:
                self._stamp = stamp
                await self.reload()

    async def reload(self) -> ReloadResult:
        """Load the folder now (also what the admin's /reload does)."""
        async with self._lock:
            self._stamp = self._fingerprint()
            try:
                engine = await asyncio.to_thread(self._build, self.directory)
            except KnowledgeError as exc:
                result = ReloadResult(False, self.version, problems=tuple(exc.problems))
                await self._broken(result)
                return result
            except Exception:  # a bug must not stop the watcher: keep serving
                log.exception("knowledge reload failed unexpectedly; still serving %s",
                              self.version)
                return ReloadResult(False, self.version)
            self._reported = None
            version = engine.knowledge.version
            changed = version != self.version
            fresh = self._new_warnings(engine.knowledge.warnings)
            result = ReloadResult(True, version, len(engine.knowledge.entries), changed=changed,
                                  warnings=fresh)
            if changed:
                self.version = version
                self._on_loaded(engine)
                log.info("knowledge reloaded: %d entries, version %s",
                         len(engine.knowledge.entries), version)
                for warning in fresh:
                    log.warning("knowledge: %s", warning)
                if fresh and self._on_broken is not None:
                    try:  # the same channel as errors: the admins, once per warning
                        await self._on_broken(result)
                    except Exception:
                        log.exception("could not tell the admins about the knowledge warnings")
            return result

    def _new_warnings(self, warnings: list[Problem]) -> tuple[Problem, ...]:
        """Warnings the admins have not been told yet (a line shift is not a new warning)."""
        fresh = tuple(w for w in warnings if (w.file, w.where, w.message) not in self._warned)
        self._warned |= {(w.file, w.where, w.message) for w in warnings}
        return fresh

    async def _broken(self, result: ReloadResult) -> None:
        for problem in result.problems:
            log.error("knowledge not reloaded: %s", problem)
        problems = frozenset(result.problems)
        if problems == self._reported:
            return  # already told the admins about exactly this
        self._reported = problems
        if self._on_broken is not None:
            try:
                await self._on_broken(result)
            except Exception:
                log.exception("could not report the broken knowledge")
