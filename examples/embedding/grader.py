"""A grader: runs each submission (TinyLang source) in a fresh VM with a fuel
budget and a timeout of its own, calls its `solve` on the test cases, and
reports one verdict per submission.

    python examples/embedding/grader.py

Verdicts: accepted, wrong answer, compile error, runtime error, out of fuel,
time limit, output limit. Fuel is counted in instructions, so "out of fuel"
is the same on every machine; the timeout covers what fuel does not count
(sleeping, waiting).
"""

from __future__ import annotations

import io
import sys

from tinyvm import VM, DeadlineExceeded, GuestException, OutOfFuel, OutputLimitExceeded
from tinyvm.lang.diagnostics import CompileError

# The task: solve(n) returns the sum of the squares of 1..n.
CASES = [(1, 1), (3, 14), (10, 385), (1000, 333833500)]

SUBMISSIONS = {
    "ada": "fn solve(n: int) -> int {\n  var s = 0\n  for i in 1..=n { s += i * i }\n  return s\n}\n",
    "bob": "fn solve(n: int) -> int { return n * (n + 1) * (2 * n + 1) / 6 }\n",
    "cy": "fn solve(n: int) -> int { return n * n }\n",
    "dee": "fn solve(n: int) -> int {\n  while true {}\n  return 0\n}\n",
    "eve": "fn solve(n: int) -> int {\n  sleep(5000)  // milliseconds\n  return n\n}\n",
    "fay": "fn solve(n: int) -> int { return 1 / (n - 1) }\n",
    "gus": "fn solve(n: int) -> int { return n +* 2 }\n",
    "hal": 'fn solve(n: int) -> int {\n  while true { print("spam") }\n  return 0\n}\n',
}

FUEL = 200_000  # instructions per submission, all cases together
TIMEOUT = 0.5  # seconds per call
MAX_OUTPUT = 1000  # bytes per call


def grade(source: str) -> str:
    vm = VM(fuel=FUEL, timeout=TIMEOUT, max_output=MAX_OUTPUT, stdout=io.StringIO())
    try:
        vm.run_source(source, path="submission.tl")
        for n, want in CASES:
            got = vm.call("solve", n)
            if got != want:
                return f"wrong answer (solve({n}) = {got!r}, expected {want})"
    except CompileError as e:
        return f"compile error ({e.diagnostics[0].message})"
    except OutOfFuel:
        return f"out of fuel (more than {FUEL} instructions)"
    except DeadlineExceeded:
        return f"time limit ({TIMEOUT}s per call)"
    except OutputLimitExceeded:
        return f"output limit ({MAX_OUTPUT} bytes)"
    except GuestException as e:
        return f"runtime error ({e.class_name}: {e.message})"
    return f"accepted ({FUEL - vm.fuel} instructions)"


def main() -> int:
    for who, source in SUBMISSIONS.items():
        print(f"{who}: {grade(source)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
