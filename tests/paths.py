"""Where things are, for tests: the repository and the shared folder beside it."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
