"""``python run_bot.py`` as a citizen's Telegram would meet it: a real process, the fake Bot API.

It must answer /start, stop within 5 s of SIGTERM with exit code 0, and never print its token,
not even at LOG_LEVEL=DEBUG.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from tests.fake_bot_api import FakeBotApi
from tests.paths import ROOT

TOKEN = "123456:PROCESSsecretTOKEN_do-not-print"


async def test_run_bot_answers_stops_on_sigterm_and_never_prints_the_token(tmp_path: Path):
    async with FakeBotApi(token=TOKEN) as fake:
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url,
               "PORT": "0", "HOST": "127.0.0.1", "DATA_DIR": str(tmp_path / "data"),
               "LOG_LEVEL": "DEBUG", "PYTHONUNBUFFERED": "1"}
        env.pop("TELEGRAM_WEBHOOK_URL", None)
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "run_bot.py"), cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            await fake.command("/start")
            [welcome] = await fake.wait_sent(timeout=30)  # start-up loads the knowledge
            assert "质量月" in welcome.text
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=5)
            stopped_in = time.monotonic() - started
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    output = stdout.decode() + stderr.decode()
    assert process.returncode == 0, output[-2000:]
    assert stopped_in < 5
    assert TOKEN not in output and TOKEN.split(":")[1] not in output
    assert "Telegram bot stopped" in output  # the PTB lifecycle ran its shutdown
