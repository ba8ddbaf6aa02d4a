"""Without llvmlite (the `native` extra) the native modes fail with one clear line.

Runs whether or not llvmlite is installed: its absence is simulated by making
`import llvmlite` fail (a None entry in sys.modules), and nothing else may
change: the other modes still run.
"""

from __future__ import annotations

import sys

import pytest

from native_helpers import cli
from tinyvm.api import VM
from tinyvm.jit.native import MISSING, NativeUnavailable

SRC = "fn f(n: int) -> int { return n + 1 }\nprint(f(1))\n"


@pytest.fixture
def no_llvmlite(monkeypatch):
    for name in ("llvmlite", "llvmlite.binding"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize("mode", ["native", "native-eager"])
def test_cli_says_the_extra_is_missing(no_llvmlite, mode) -> None:
    code, out, err = cli(["run", f"--jit={mode}", "-e", SRC])
    assert code == 64 and out == ""
    assert err.splitlines()[0] == f"tvm: {MISSING}" and "Traceback" not in err


def test_tvm_jit_environment_variable_says_it_too(no_llvmlite, monkeypatch) -> None:
    monkeypatch.setenv("TVM_JIT", "native-eager")
    code, _, err = cli(["run", "-e", SRC])
    assert code == 64 and MISSING in err and "Traceback" not in err


def test_jit_dump_native_says_it_too(no_llvmlite) -> None:
    code, _, err = cli(["jit-dump", "--native", "-e", SRC])
    assert code == 64 and MISSING in err
    code, out, err = cli(["jit-dump", "--native", "--run", "-e", SRC])  # (before running anything)
    assert code == 64 and MISSING in err and out == ""


def test_the_api_raises_native_unavailable(no_llvmlite) -> None:
    with pytest.raises(NativeUnavailable, match="pip install 'tinyvm\\[native\\]'"):
        VM(jit="native")


def test_other_modes_still_run_without_it(no_llvmlite) -> None:
    for mode in ("off", "on", "eager"):
        assert cli(["run", f"--jit={mode}", "-e", SRC]) == (0, "2\n", "")
