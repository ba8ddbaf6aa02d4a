"""``python -m benchmarks.awfy``: see benchmarks/awfy_harness.py."""

import sys

from benchmarks.awfy_harness import main

sys.exit(main())
