#!/usr/bin/env python3
"""The one entry point: ``python run_bot.py --help`` lists the commands."""

import sys

from bot.channels.cli import main

if __name__ == "__main__":
    sys.exit(main())
