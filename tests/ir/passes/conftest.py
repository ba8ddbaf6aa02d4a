"""Let the pass tests import tests/ir's helpers (pytest puts only this folder on sys.path)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
