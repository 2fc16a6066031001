"""The package as a user gets it: the wheel built from this checkout, installed (not editable)
into a fresh virtual environment, run from a folder that is not the checkout.

To stay fast, the new environment has no pip of its own and borrows the already installed
dependencies from the test environment through a ``.pth`` path line (such a line adds a folder to
``sys.path`` without running its ``.pth`` files, so the checkout's editable install stays out of
it); the wheel goes in with ``pip --python … install --no-deps``. ``bot`` must then come from
the new environment's ``site-packages`` and find its knowledge, static files and data folder
without the checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.paths import ROOT

_NOT_SHIPPED = shutil.ignore_patterns(".venv*", ".git", "data", "build", "dist", "*.egg-info",
                                      "__pycache__", ".pytest_cache", ".ruff_cache", "tests",
                                      "benchmarks", ".env")


@dataclass(frozen=True)
class Installed:
    venv: Path
    site_packages: Path
    elsewhere: Path  # the current folder of every command: not the checkout

    @property
    def script(self) -> Path:
        return self.venv / "bin" / "qingdao-bot"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run(self, *args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items()
                 if k not in ("KNOWLEDGE_DIR", "DATA_DIR", "PYTHONPATH", "VIRTUAL_ENV")}
        return subprocess.run([str(a) for a in args], cwd=self.elsewhere, capture_output=True,
                              text=True, env={**clean, **env}, timeout=120)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    if sys.platform == "win32":
        pytest.skip("the test lays out a POSIX virtual environment")
    work = tmp_path_factory.mktemp("install")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SHIPPED)  # never builds inside the checkout
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(work / "dist"), str(source)], capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = (work / "dist").glob("qingdao_quality_bot-*.whl")

    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    [packages] = (venv / "lib").glob("python3*/site-packages")
    (packages / "zz_test_dependencies.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                           "install", "--no-deps", "--no-index", "-q", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    yield Installed(venv, packages, elsewhere)


def test_the_installed_package_is_the_one_that_runs(installed: Installed) -> None:
    result = installed.run(installed.python, "-c", "import bot, bot.settings as s; "
                           "print(bot.__file__); print(s.DEFAULT_KNOWLEDGE)")
    assert result.returncode == 0, result.stderr
    module, knowledge = (Path(line) for line in result.stdout.splitlines())
    assert module.is_relative_to(installed.site_packages)
    assert knowledge == installed.site_packages / "bot" / "knowledge"
    assert len(list(knowledge.glob("*.yaml"))) == len(list((ROOT / "knowledge").glob("*.yaml")))


@pytest.mark.parametrize("command", [["qingdao-bot"], ["python", "-m", "bot"]],
                         ids=["console-script", "python-m-bot"])
def test_a_question_is_answered_from_another_folder(installed: Installed,
                                                    command: list[str]) -> None:
    program = [installed.script] if command == ["qingdao-bot"] else [installed.python, "-m", "bot"]
    result = installed.run(*program, "ask", "--json", "中国品牌日是哪天")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["status"] == "answer" and reply["entry_id"] == "expo-china-brand-day"
    assert "5月10日" in reply["answer"]

    helped = installed.run(*program, "--help")
    assert helped.stdout.startswith(f"usage: {' '.join(command)} ")
    broken = installed.run(*program, "ask", "x", KNOWLEDGE_DIR=str(installed.elsewhere / "none"))
    assert broken.returncode == 2 and "knowledge folder not found" in broken.stderr
    assert f"run {' '.join(command)} --knowledge" in broken.stderr
    assert "run_bot.py" not in broken.stderr + broken.stdout


def test_the_server_serves_the_page_and_keeps_its_data_in_the_current_folder(
        installed: Installed) -> None:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("KNOWLEDGE_DIR", "DATA_DIR", "PYTHONPATH", "TELEGRAM_BOT_TOKEN")}
    server = subprocess.Popen([installed.script], cwd=installed.elsewhere, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**clean, "PORT": "0", "HOST": "127.0.0.1"})
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("Serving web chat + API on http://127.0.0.1:"), \
            first + (server.stderr.read() if server.poll() is not None and server.stderr else "")
        base = re.search(r"http://127\.0\.0\.1:\d+", first).group(0)  # type: ignore[union-attr]
        with urllib.request.urlopen(base + "/", timeout=10) as page:
            assert "青岛质量月问答" in page.read().decode()
        request = urllib.request.Request(
            base + "/api/ask", data=json.dumps({"question": "品博会什么时候举办"}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["entry_id"] == "expo-date"
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert (installed.elsewhere / "data" / "bot.sqlite3").is_file()
    written = [p.name for p in (installed.site_packages / "bot").rglob("*")
               if p.suffix in (".sqlite3", ".salt") or p.name.startswith("bot.sqlite3")]
    assert not written, f"the server wrote into the installed package: {written}"
