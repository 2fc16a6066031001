"""``python -m bot``: the same commands as ``run_bot.py`` and the ``qingdao-bot`` script,
for an installed package (where ``run_bot.py`` is not)."""

import sys

from bot.channels.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m bot"))
