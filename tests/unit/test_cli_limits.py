"""tvm run --fuel / --timeout / --max-output: each limit ends the run with its
message and exit status (docs/limits.md); os.exit(n) exits with n."""

from __future__ import annotations

import io

import pytest

from tinyvm.cli.main import main
from tinyvm.cli.options import parse_duration, parse_size


def tvm(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


SPIN = 'print("start")\nvar i = 0\nwhile true { i = i + 1 }'


def test_fuel() -> None:
    assert tvm("run", "--fuel", "100000", "-e", SPIN) == (3, "start\n", "error: out of fuel: the program used its 100000 instructions\n")


def test_timeout() -> None:
    assert tvm("run", "--timeout=200ms", "-e", SPIN) == (4, "start\n", "error: timeout: the program ran longer than 200ms\n")
    assert tvm("run", "--timeout", "0.2", "-e", "sleep(60000)")[0] == 4


def test_max_output() -> None:
    code, out, err = tvm("run", "--max-output", "1K", "-e", 'while true { print("0123456789") }')
    assert (code, len(out), err) == (6, 1024, "error: output limit: the program wrote more than 1K bytes\n")


def test_os_exit_and_no_finally() -> None:
    assert tvm("run", "-e", 'import os\nprint("a")\ntry { os.exit(9) } finally { print("b") }') == (9, "a\n", "")


def test_a_limited_program_that_finishes_is_unaffected() -> None:
    assert tvm("run", "--fuel", "1000000", "--timeout", "5s", "--max-output", "1M", "-e", 'print("ok")') == (0, "ok\n", "")


@pytest.mark.parametrize("args", [["--fuel", "0"], ["--fuel", "x"], ["--timeout", "1h"], ["--timeout", "0"], ["--max-output", "1.5M"]])
def test_bad_values_are_usage_errors(args: list[str]) -> None:
    code, _, err = tvm("run", *args, "-e", 'print("x")')
    assert code == 64 and args[0] in err


def test_help_lists_the_limits() -> None:
    _, out, _ = tvm("run", "--help")
    for word in ("--fuel N", "--timeout DURATION", "--max-output SIZE", "3 out of fuel", "4 timeout", "6 output limit"):
        assert word in out


def test_parsers() -> None:
    assert [parse_duration("t", x) for x in ("2", "2s", "500ms", "1.5m")] == [2.0, 2.0, 0.5, 90.0]
    assert [parse_size("s", x) for x in ("1000", "64K", "1M", "2g")] == [1000, 65536, 1 << 20, 2 << 30]
