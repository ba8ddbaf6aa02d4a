"""The example plugin (examples/passes) found through the `tinyvm.passes` entry
point and run by `tvm ir --passes default,+strength-reduce`.

Installing a package into a temporary environment would take a network-free
wheel build per test run; instead `importlib.metadata.entry_points` is
replaced by one that also returns the plugin's entry point, exactly as
pip-installing examples/passes would declare it."""

from __future__ import annotations

import importlib.metadata
import io

import pytest
from helpers import ROOT

from tinyvm.cli.main import main
from tinyvm.ir import passes

PLUGIN = ROOT / "examples" / "passes"


@pytest.fixture
def plugin(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGIN))
    real = importlib.metadata.entry_points
    ep = importlib.metadata.EntryPoint("strength-reduce", "tinyvm_strength:PASS", "tinyvm.passes")

    def entry_points(**kw):
        found = real(**kw)
        return [*found, ep] if kw.get("group") == "tinyvm.passes" else found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    monkeypatch.setattr(passes, "_loaded", False)
    yield
    passes.REGISTRY.pop("strength-reduce", None)


def tvm(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


SRC = "fn f(n: int) -> int {\n  return n * 8 + 8 * n + n * 6\n}\nprint(f(3))\n"


def test_the_plugin_pass_is_listed_and_runs(plugin) -> None:
    code, out, err = tvm(["ir", "--passes", "help"])
    assert (code, err) == (0, "") and "strength-reduce" in out
    code, out, err = tvm(["ir", "--passes", "default,+strength-reduce", "-e", SRC])
    assert (code, err) == (0, "")
    body = out.split("fn f(")[1]
    assert body.count("shl.checked") == 2 and "mul.checked" in body  # n * 6 stays a mul
    assert "const[3] : int" in body
    # Not in the default pipeline.
    assert "shl" not in tvm(["ir", "--passes", "default", "-e", SRC])[1]


def test_the_plugin_leaves_lox_alone(plugin) -> None:
    code, out, err = tvm(["ir", "--passes", "default,+strength-reduce", "--lang", "lox", "-e", "fun f(n) { return n * 8; }\nprint f(2);\n"])
    assert (code, err) == (0, "") and "shl" not in out


def test_a_broken_plugin_is_a_clear_error(monkeypatch) -> None:
    real = importlib.metadata.entry_points
    ep = importlib.metadata.EntryPoint("broken", "no_such_module_here:PASS", "tinyvm.passes")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: [*real(**kw), ep] if kw.get("group") == "tinyvm.passes" else real(**kw))
    monkeypatch.setattr(passes, "_loaded", False)
    code, out, err = tvm(["ir", "--passes", "default", "-e", SRC])
    assert (code, out) == (2, "") and "pass plugin 'broken'" in err and "Traceback" not in err
    monkeypatch.setattr(passes, "_loaded", False)  # (loads cleanly again once the plugin is gone)
